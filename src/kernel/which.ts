import fs from 'node:fs';
import path from 'node:path';

const searchDirs = (): string[] => (process.env['PATH'] ?? '').split(':').filter((d) => d !== '').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);

const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** True when an executable of that name is on PATH (or in the sbin directories root uses). */
export function onPath(cmd: string): boolean {
  return whichPath(cmd) !== undefined;
}

/** The absolute path of a program on nsnet's own PATH (not a container's), or undefined. */
export function whichPath(cmd: string): string | undefined {
  return searchDirs().map((d) => path.join(d, cmd)).find(executable);
}
