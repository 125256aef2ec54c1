/** dns: the DNS responder's peak RSS (VmHWM) after containers were started and it answered queries. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { daemonsWithRoot } from './daemons.js';
import type { Job } from './job.js';
import { cliNetwork, netFor } from './net.js';
import { shellFor } from './shell.js';

/** A DNS query for NAME/A, as bytes. */
function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const q = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // recursion desired
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, q]);
}

function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmHWM|VmRSS|VmSize|Threads):\s+(\d+)/.exec(line);
    if (m !== null) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Sends the queries from inside a container, 8 in flight; prints {sent, got, ms, medianMs}. */
const QUERY_SCRIPT = `
  const dgram = require('node:dgram');
  const qs = JSON.parse(process.argv[1]);
  const s = dgram.createSocket('udp4');
  let got = 0, sent = 0; const t0 = Date.now();
  const lat = [];
  const sentAt = new Map();
  s.on('message', (m) => { const id = m.readUInt16BE(0); const a = sentAt.get(id); if (a !== undefined) { lat.push(Number(process.hrtime.bigint() - a) / 1e6); sentAt.delete(id); } got++; next(); });
  function next() {
    if (sent >= qs.length) { if (got >= qs.length || Date.now() - t0 > 20000) done(); return; }
    const q = Buffer.from(qs[sent], 'base64'); sentAt.set(q.readUInt16BE(0), process.hrtime.bigint()); sent++;
    s.send(q, 53, process.argv[2]);
  }
  function done() { lat.sort((a, b) => a - b); console.log(JSON.stringify({ sent, got, ms: Date.now() - t0, medianMs: lat[Math.floor(lat.length / 2)] ?? null })); process.exit(0); }
  setTimeout(done, 25000);
  for (let i = 0; i < 8; i++) next();
`;

export async function dnsJob(job: Job): Promise<Record<string, unknown>> {
  const shell = shellFor(job);
  const { nsnet, env, sh } = shell;
  const k = job.n ?? 20;
  const queries = job.reps ?? 2000;
  const net = netFor(job.prefix, job.octet, 'd');
  const names = Array.from({ length: k }, (_, i) => `${job.prefix}s${i}`);
  const made: string[] = [];
  const out: Record<string, unknown> = { job: 'dns', containers: k, queries };
  const responder = (): number | undefined => daemonsWithRoot(job.root).find((p) => p.argv.includes('dns-serve'))?.pid;
  let pid: number | undefined;
  try {
    // Upstream: the sandbox's "world" address, so a forwarded query can never leave our namespaces.
    cliNetwork(shell, net, '-o', 'nsnet.dns.servers=203.0.113.8');
    for (const name of names) {
      sh([nsnet, 'run', '-d', '--name', name, '--network', net.name, '--', 'sleep', '1000']);
      made.push(name);
    }
    for (let i = 0; i < 100 && (pid = responder()) === undefined; i++) spawnSync('sleep', ['0.05']);
    if (pid === undefined) {
      out['running'] = false;
      out['reason'] = 'no dns-serve process appeared in the sandbox after run -d';
      return out;
    }
    out['running'] = true;
    out['pid'] = pid;
    out['idle'] = procStatus(pid);
    // Queries from a container: its own names and the other containers' names (answered locally).
    const qs = Array.from({ length: queries }, (_, i) => dnsQuery(i & 0xffff, names[i % names.length]!).toString('base64'));
    const r = spawnSync('nsenter', [`--net=/run/netns/${names[0]}`, process.execPath, '-e', QUERY_SCRIPT, JSON.stringify(qs), net.gateway], { encoding: 'utf8', timeout: 60_000 });
    try {
      out['load'] = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
    } catch {
      out['load'] = { error: (r.stderr || r.stdout || String(r.error)).slice(0, 300) };
    }
    out['afterQueries'] = procStatus(pid);
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
    out['command'] = cmd.map((c) => c.replace(job.root, 'ROOT')).join(' ');
  } finally {
    for (const name of made) spawnSync(nsnet, ['rm', '-f', name], { env });
    spawnSync(nsnet, ['network', 'rm', net.name], { env });
    for (let i = 0; i < 40 && pid !== undefined && fs.existsSync(`/proc/${pid}`); i++) spawnSync('sleep', ['0.05']);
    if (pid !== undefined && fs.existsSync(`/proc/${pid}`)) {
      out['leftRunning'] = true; // the orchestrator kills it (by PID, it is in the sandbox namespace)
    }
  }
  return out;
}
