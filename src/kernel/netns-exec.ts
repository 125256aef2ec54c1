/**
 * A program of the host run inside one network namespace only (`nsenter --net=PATH`), with the
 * caller's stdio: the host's filesystem and privileges, the container's interfaces. `nsnet
 * capture` runs tcpdump this way, so it writes its pcap where the user is and sees the
 * container's eth0. Never through a shell: the argv goes to nsenter as it is.
 */
import { spawn } from 'node:child_process';
import { spawned, waitChild } from './process.js';
import { whichPath } from './which.js';

/** Its exit code (128 + the signal number when killed, as shells report it). */
export async function runInNetns(netnsPath: string, argv: readonly string[]): Promise<number> {
  const child = spawn(whichPath('nsenter') ?? 'nsenter', [`--net=${netnsPath}`, '--', ...argv], { stdio: 'inherit' });
  await spawned(child);
  return waitChild(child);
}
