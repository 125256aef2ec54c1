/**
 * Processes living in a named network namespace, found the only reliable way: a process is in
 * /run/netns/NAME when its /proc/PID/ns/net is the same nsfs object (device and inode) as the
 * namespace mounted there. Used by crash recovery to stop what a half-made container left running,
 * and by `system check` to find a container's processes; nothing else is ever signalled.
 */
import fs from 'node:fs';
import { sleepSync } from './libc.js';
import { netnsPath } from './netns.js';

interface NsId {
  dev: number;
  ino: number;
}

function nsIdOf(path: string): NsId | undefined {
  try {
    const st = fs.statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Running (not zombie) processes; a zombie is already dead and only waits to be reaped. */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true; // gone
  }
}

/** PIDs whose network namespace is the one mounted at /run/netns/NAME (never this process). */
export function pidsInNetns(name: string): number[] {
  const target = nsIdOf(netnsPath(name));
  if (target === undefined) return [];
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const id = nsIdOf(`/proc/${pid}/ns/net`);
    if (id !== undefined && id.dev === target.dev && id.ino === target.ino && !isZombie(pid)) out.push(pid);
  }
  return out;
}

/**
 * SIGKILL every process in the namespace and wait (up to timeoutMs) until none is left.
 * Returns the PIDs signalled.
 */
export function killNetnsProcesses(name: string, timeoutMs = 3000): number[] {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = pidsInNetns(name);
    if (pids.length === 0 || Date.now() >= deadline) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* already gone */
      }
    }
    sleepSync(5);
  }
  return [...killed];
}
