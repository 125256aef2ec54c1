import fs from 'node:fs';
import path from 'node:path';

/** True when an executable of that name is on PATH (or in the sbin directories root uses). */
export function onPath(cmd: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
