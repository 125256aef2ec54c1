/** Graphviz's `dot` (Debian package graphviz): renders a dot graph as SVG, no browser needed. */
import { spawnSync } from 'node:child_process';
import { NsnetError } from '../core/errors.js';
import { onPath } from './which.js';

export function dotToSvg(dot: string): string {
  if (!onPath('dot')) {
    throw new NsnetError('NOT_FOUND', 'rendering SVG needs Graphviz (the dot command), which is not installed', {
      hint: 'apt-get install graphviz, or use --format dot and render it elsewhere',
    });
  }
  const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw new NsnetError('STATE', `dot -Tsvg: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new NsnetError('STATE', `dot -Tsvg failed (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}
