/** Background processes nsnet starts for itself (the DNS responder): detached, own session, output to a log file. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsnetError } from '../core/errors.js';

/** Start `node SCRIPT ARGS...` in its own session; returns its PID. It inherits this thread's namespaces. */
export function spawnNodeDaemon(script: string, args: readonly string[], logPath: string): number {
  const log = fs.openSync(logPath, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: ['ignore', log, log], cwd: '/', env: { ...process.env } });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new NsnetError('PROCESS', `start ${script}: no process`);
    return child.pid;
  } finally {
    fs.closeSync(log);
  }
}

/**
 * The CLI entry nsnet starts its own background processes with: bin/nsnet.mjs of this checkout,
 * the Node launcher (bin/nsnet itself is the compiled client, native/nsnet-client.c).
 */
export function nsnetCli(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const bin = path.join(dir, 'bin', 'nsnet.mjs');
    if (fs.existsSync(bin)) return bin;
    dir = path.dirname(dir);
  }
  throw new NsnetError('STATE', `cannot find bin/nsnet.mjs above ${fileURLToPath(import.meta.url)} to start a background process with`);
}
