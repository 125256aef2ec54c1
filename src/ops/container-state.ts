/**
 * A container's directory under the state root (ROOT/containers/ID): its log, and the marker
 * naming the namespace nsnet makes for it, so `system check` knows an orphaned namespace as
 * nsnet's even after the records are gone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';

export const NETNS_MARKER = 'netns';

export const stateDirOf = (root: string, id: string): string => path.join(root, 'containers', id);

/** Before the first kernel step of a container: note which namespace nsnet makes for it. */
export function markNamespace(ctx: Context, c: ContainerRecord): void {
  if (ctx.dryRun) return;
  const dir = path.dirname(c.logPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, NETNS_MARKER), c.name, { mode: 0o600 });
}
