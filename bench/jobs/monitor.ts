/**
 * monitor: the memory of the per-container monitors (bin/nsnet-monitor, one per detached
 * container): after `nsnet run -d` of n containers (`--network none`: the monitor is what is
 * measured, not the wiring), each monitor's VmRSS and VmHWM, and its Pss from
 * /proc/PID/smaps_rollup — its share of the pages the monitors have in common (the static
 * binary's text), so n × Pss is what n monitors really take.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from './job.js';
import { shellFor } from './shell.js';

/** KiB figures of /proc/PID/status and smaps_rollup. */
function memoryOf(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  const read = (file: string, keys: RegExp): void => {
    for (const line of fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n')) {
      const m = keys.exec(line);
      if (m !== null) out[m[1]!] = Number(m[2]);
    }
  };
  read('status', /^(VmHWM|VmRSS):\s+(\d+) kB/);
  read('smaps_rollup', /^(Pss|Private_Clean|Private_Dirty):\s+(\d+) kB/);
  return out;
}

export async function monitorJob(job: Job): Promise<Record<string, unknown>> {
  const { nsnet, env, sh } = shellFor(job);
  const n = job.n ?? 20;
  const names = Array.from({ length: n }, (_, i) => `${job.prefix}m${i}`);
  const made: string[] = [];
  const monitors: Array<Record<string, number>> = [];
  try {
    for (const name of names) {
      sh([nsnet, 'run', '-d', '--name', name, '--network', 'none', '--', 'sleep', '1000']);
      made.push(name);
    }
    for (const name of names) {
      const logPath = sh([nsnet, 'inspect', '-f', '{{.LogPath}}', name]).stdout.trim();
      const state = JSON.parse(fs.readFileSync(path.join(path.dirname(logPath), 'state.json'), 'utf8')) as { monitorPid: number };
      monitors.push(memoryOf(state.monitorPid));
    }
    return { job: 'monitor', n, monitors, binaryBytes: fs.statSync(path.join(job.repo, 'bin', 'nsnet-monitor')).size };
  } finally {
    for (const name of made) spawnSync(nsnet, ['rm', '-f', name], { env });
  }
}
