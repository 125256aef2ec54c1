/** connect: CLI start-up (`node -e 0` vs `nsnet network connect`, --version, ps -q), peak RSS, strace and CPU profile. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { now } from '../common.js';
import { profileCli } from './cpu-profile.js';
import type { Job } from './job.js';
import { benchContext } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { shellFor } from './shell.js';

/** Wall time and peak RSS (KiB, /usr/bin/time -f %M) of one command. */
function peakRss(argv: readonly string[], env: NodeJS.ProcessEnv): { ms: number; kb: number } {
  const t0 = now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8', env });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { ms, kb: Number(lines[lines.length - 1]) };
}

export async function connectJob(job: Job): Promise<Record<string, unknown>> {
  const { nsnet, env, sh } = shellFor(job);
  const reps = job.reps ?? 20;
  const net1 = netFor(job.prefix, job.octet, 'a');
  const net2 = netFor(job.prefix, job.octet + 1, 'b');
  const names = Array.from({ length: reps }, (_, i) => `${job.prefix}k${i}`);
  const out: Record<string, number[]> = { 'node -e 0': [], 'nsnet network connect': [], 'nsnet --version': [], 'nsnet ps -q': [], 'rss run -d (KiB)': [], 'rss rm -f (KiB)': [], 'rss network connect (KiB)': [] };
  const ctx = benchContext(job);
  nsnetNetwork(ctx, net1);
  nsnetNetwork(ctx, net2);
  ctx.close(); // the CLI works on the same root from here on
  const made: string[] = [];
  let straceConnect = '';
  const profiles: Record<string, unknown> = {};
  try {
    for (const name of names) {
      sh([nsnet, 'run', '-d', '--name', name, '--network', net1.name, '--', 'sleep', '1000']);
      made.push(name);
    }
    for (let i = 0; i < reps; i++) {
      out['node -e 0']!.push(sh([process.execPath, '-e', '0']).ms);
      out['nsnet network connect']!.push(sh([nsnet, 'network', 'connect', net2.name, names[i]!]).ms);
      out['nsnet --version']!.push(sh([nsnet, '--version']).ms);
      out['nsnet ps -q']!.push(sh([nsnet, 'ps', '-q']).ms);
    }
    if (fs.existsSync('/usr/bin/time')) {
      for (let i = 0; i < 5; i++) {
        const name = `${job.prefix}r${i}`;
        out['rss run -d (KiB)']!.push(peakRss([nsnet, 'run', '-d', '--name', name, '--network', net1.name, '--', 'sleep', '1000'], env).kb);
        made.push(name);
        out['rss network connect (KiB)']!.push(peakRss([nsnet, 'network', 'connect', net2.name, name], env).kb);
        out['rss rm -f (KiB)']!.push(peakRss([nsnet, 'rm', '-f', name], env).kb);
        made.pop();
      }
    }
    if (spawnSync('which', ['strace']).status === 0 && names[0] !== undefined) {
      const file = path.join(job.root, 'connect.strace');
      spawnSync('strace', ['-f', '-c', '-S', 'time', '-o', file, nsnet, 'network', 'disconnect', net2.name, names[0]], { env });
      spawnSync('strace', ['-f', '-c', '-S', 'time', '-o', file, nsnet, 'network', 'connect', net2.name, names[0]], { env });
      straceConnect = fs.readFileSync(file, 'utf8').split('\n').slice(0, 14).join('\n');
    }
    if (names[0] !== undefined) {
      profiles['nsnet --version'] = profileCli(nsnet, ['--version'], env, job.root);
      spawnSync(nsnet, ['network', 'disconnect', net2.name, names[0]], { env });
      profiles['nsnet network connect'] = profileCli(nsnet, ['network', 'connect', net2.name, names[0]], env, job.root);
    }
  } finally {
    for (const name of made) spawnSync(nsnet, ['rm', '-f', name], { env });
    spawnSync(nsnet, ['network', 'rm', net1.name, net2.name], { env });
  }
  return { job: 'connect', samples: out, straceConnect, profiles, rssMethod: fs.existsSync('/usr/bin/time') ? '/usr/bin/time -f %M' : 'none' };
}
