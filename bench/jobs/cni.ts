/** cni {n}: nsnet-cni against the reference bridge plugin (host-local IPAM), ADD and DEL. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { now } from '../common.js';
import { saveLines } from './counts.js';
import { daemonsWithRoot } from './daemons.js';
import type { Job } from './job.js';
import { netFor } from './net.js';
import { shellFor } from './shell.js';

/** The reference plugins (Debian's containernetworking-plugins). */
const CNI_PLUGIN_DIR = '/usr/lib/cni';

interface CniPlugin {
  label: 'nsnet-cni' | 'bridge';
  /** The job's state root (nsnet-cni's NSNET_ROOT). */
  root: string;
  exe: string;
  /** The network configuration, on stdin for every call. */
  conf: string;
}

/** The environment a runtime gives a plugin; the same for both (the bridge plugin ignores NSNET_ROOT). */
function cniEnv(root: string, extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', NSNET_ROOT: root, CNI_PATH: CNI_PLUGIN_DIR, ...extra };
}

/** Spawn to exit of one process, from this worker (already in the sandbox host namespace): no nsenter in the time. */
function timedSpawn(exe: string, input: string, e: Record<string, string>): { ms: number; r: SpawnSyncReturns<string> } {
  const t0 = now();
  const r = spawnSync(exe, [], { input, env: e, encoding: 'utf8' });
  return { ms: now() - t0, r };
}

/** One plugin call; a failed call (or an ADD result without an address) fails the job. */
function cniCall(p: CniPlugin, command: string, id?: string, netns?: string): number {
  const extra: Record<string, string> = { CNI_COMMAND: command };
  if (id !== undefined) Object.assign(extra, { CNI_CONTAINERID: id, CNI_IFNAME: 'eth0' });
  if (netns !== undefined) extra['CNI_NETNS'] = `/run/netns/${netns}`;
  const { ms, r } = timedSpawn(p.exe, p.conf, cniEnv(p.root, extra));
  if (r.status !== 0) throw new Error(`${p.label} ${command} ${id ?? ''} → ${r.status ?? r.signal ?? r.error?.message}: ${`${r.stdout ?? ''} ${r.stderr ?? ''}`.trim().slice(0, 500)}`);
  if (command === 'ADD') {
    let address: string | undefined;
    try {
      address = (JSON.parse(r.stdout) as { ips?: Array<{ address?: string }> }).ips?.[0]?.address;
    } catch {
      /* reported below */
    }
    if (address === undefined) throw new Error(`${p.label} ADD ${id ?? ''}: no address in the result: ${r.stdout.slice(0, 300)}`);
  }
  return ms;
}

/** The service's own handling time per call, from its log (`... ADD <id> eth0 → 0 in 4.5 ms`). */
function serviceLog(file: string): { byCall: Map<string, number>; version: number[]; lines: number } {
  const byCall = new Map<string, number>();
  const version: number[] = [];
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { byCall, version, lines: 0 };
  }
  let lines = 0;
  for (const line of text.split('\n')) {
    const m = /\s([A-Z]+) (\S*) (\S*) → (-?\d+) in ([\d.]+) ms\s*$/.exec(line);
    if (m === null) continue;
    lines++;
    if (m[1] === 'VERSION') version.push(Number(m[5]));
    else byCall.set(`${m[1]} ${m[2]}`, Number(m[5]));
  }
  return { byCall, version, lines };
}

/** This job's daemons (the CNI service, the DNS responder), as the report names them. */
function rootDaemons(root: string): Array<{ pid: number; argv: string }> {
  return daemonsWithRoot(root).map((p) => ({ pid: p.pid, argv: p.argv.join(' ').replaceAll(root, 'ROOT') }));
}

/**
 * nsnet-cni and the bridge plugin, each ADD and DEL of N containers, interleaved: ADD i of both
 * (the order alternating per i), then DEL i of both likewise, so the two share the machine's noise
 * and see the same number of attached containers. Each container gets a namespace made up front.
 * Before the loop, one cold ADD each: nsnet-cni with no service yet (the C client falls back to
 * the Node plugin, which creates the network, starts the DNS responder and then the service),
 * the bridge plugin's first (creates its bridge and NAT chain). Per iteration also: /bin/true
 * (the process floor) and a VERSION call of each plugin (process start + for nsnet-cni the
 * socket round trip to the service, which answers at once).
 */
export async function cniJob(job: Job): Promise<Record<string, unknown>> {
  const { nsnet: nsnetCli, env, sh } = shellFor(job);
  const n = job.n ?? 40;
  const client = path.join(job.repo, 'bin', 'nsnet-cni');
  const missing = [client, path.join(CNI_PLUGIN_DIR, 'bridge'), path.join(CNI_PLUGIN_DIR, 'host-local')].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) return { job: 'cni', available: false, reason: `missing: ${missing.join(', ')}` };
  const varLibCniBefore = fs.existsSync('/var/lib/cni');
  const nsNet = netFor(job.prefix, job.octet, 'c');
  const refNet = netFor(job.prefix, job.octet + 1, 'r');
  const nsnet: CniPlugin = {
    label: 'nsnet-cni',
    root: job.root,
    exe: client,
    conf: JSON.stringify({ cniVersion: '1.0.0', name: nsNet.name, type: 'nsnet-cni', bridge: nsNet.bridge, subnet: nsNet.subnet }),
  };
  const bridge: CniPlugin = {
    label: 'bridge',
    root: job.root,
    exe: path.join(CNI_PLUGIN_DIR, 'bridge'),
    conf: JSON.stringify({
      cniVersion: '1.0.0',
      name: refNet.name,
      type: 'bridge',
      bridge: refNet.bridge,
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', subnet: refNet.subnet, dataDir: path.join(job.root, 'host-local') },
    }),
  };
  const tag = (p: CniPlugin): string => (p === nsnet ? 'n' : 'r');
  const netnsOf = (p: CniPlugin, i: number | 'cold'): string => `${job.prefix}${tag(p)}${i === 'cold' ? 'x' : i}`;
  const idOf = (p: CniPlugin, i: number | 'cold'): string => `bench-${job.prefix}-${tag(p)}${i === 'cold' ? 'cold' : i}`;
  const samples: Record<string, number[]> = {
    'nsnet-cni ADD': [],
    'bridge ADD': [],
    'nsnet-cni DEL': [],
    'bridge DEL': [],
    'spawn /bin/true': [],
    'nsnet-cni VERSION': [],
    'bridge VERSION': [],
  };
  const cold: Record<string, number> = {};
  const notes: string[] = [];
  const namespaces: string[] = [];
  const attached = new Map<string, [CniPlugin, string]>(); // id → plugin, namespace
  const socket = path.join(job.root, 'service', `net-${fs.statSync('/proc/self/ns/net').ino}.sock`);
  const out: Record<string, unknown> = {
    job: 'cni',
    available: true,
    n,
    configs: { 'nsnet-cni': nsnet.conf, bridge: bridge.conf.replaceAll(job.root, 'ROOT') },
    timing: 'spawnSync of the plugin executable from the benchmark worker, which already runs in the sandbox host namespace (no nsenter in the time); the same for both plugins',
  };
  const add = (p: CniPlugin, i: number | 'cold'): number => {
    const ms = cniCall(p, 'ADD', idOf(p, i), netnsOf(p, i));
    attached.set(idOf(p, i), [p, netnsOf(p, i)]);
    return ms;
  };
  const del = (p: CniPlugin, i: number | 'cold'): number => {
    const ms = cniCall(p, 'DEL', idOf(p, i), netnsOf(p, i));
    attached.delete(idOf(p, i));
    return ms;
  };
  try {
    for (const p of [nsnet, bridge]) {
      for (const i of ['cold' as const, ...Array.from({ length: n }, (_, k) => k)]) {
        sh(['ip', 'netns', 'add', netnsOf(p, i)]);
        namespaces.push(netnsOf(p, i));
      }
    }
    if (fs.existsSync(socket)) notes.push('a CNI service socket existed before the cold call');
    cold['bridge ADD, first call (creates the bridge and its NAT chain)'] = add(bridge, 'cold');
    cold['nsnet-cni ADD, first call (no service yet: the Node plugin creates the network, starts the DNS responder and the service)'] = add(nsnet, 'cold');
    // The service starts in the background after the cold call: wait for it (its pid file is written after listen).
    const t0 = now();
    while (!fs.existsSync(socket.replace(/\.sock$/, '.pid')) && now() - t0 < 10_000) spawnSync('sleep', ['0.01']);
    if (!fs.existsSync(socket.replace(/\.sock$/, '.pid'))) throw new Error(`the nsnet CNI service did not come up within 10 s after the cold call (no ${socket.replace(job.root, 'ROOT').replace(/\.sock$/, '.pid')})`);
    out['serviceUpAfterColdMs'] = now() - t0;
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? [nsnet, bridge] : [bridge, nsnet];
      for (const p of order) samples[`${p.label} ADD`]!.push(add(p, i));
      samples['spawn /bin/true']!.push(timedSpawn('/bin/true', '', cniEnv(job.root, {})).ms);
      for (const p of order) samples[`${p.label} VERSION`]!.push(cniCall(p, 'VERSION'));
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? [nsnet, bridge] : [bridge, nsnet];
      for (const p of order) samples[`${p.label} DEL`]!.push(del(p, i));
    }
    cold['nsnet-cni DEL of the first container (through the service)'] = del(nsnet, 'cold');
    cold['bridge DEL of the first container'] = del(bridge, 'cold');
  } finally {
    // The service's own times, before the reset removes ROOT/cni with its log.
    const log = serviceLog(path.join(job.root, 'service', 'service.log'));
    const ids = Array.from({ length: samples['nsnet-cni ADD']!.length }, (_, i) => idOf(nsnet, i));
    out['service'] = {
      logLines: log.lines,
      'ADD': ids.map((id) => log.byCall.get(`ADD ${id}`) ?? null),
      'DEL': ids.slice(0, samples['nsnet-cni DEL']!.length).map((id) => log.byCall.get(`DEL ${id}`) ?? null),
      'VERSION': log.version,
    };
    // Whatever a failure left attached (untimed), then the reset that stops the service and the responder.
    for (const [id, [p, ns]] of [...attached.entries()].reverse()) {
      try {
        cniCall(p, 'DEL', id, ns);
      } catch (err) {
        notes.push(`cleanup DEL ${id}: ${(err as Error).message}`);
      }
    }
    const reset = spawnSync(nsnetCli, ['--root', job.root, 'system', 'reset', '--force'], { encoding: 'utf8', env });
    out['reset'] = reset.status === 0 ? 'ok' : `exit ${reset.status ?? reset.signal}: ${(reset.stderr ?? '').trim().slice(0, 300)}`;
    spawnSync('ip', ['link', 'del', refNet.bridge]);
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    let left = rootDaemons(job.root);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      spawnSync('sleep', ['0.05']);
      left = rootDaemons(job.root);
    }
    out['leftRunning'] = left; // the orchestrator kills them (by PID, in the sandbox namespace)
    out['iptablesRulesAfter'] = saveLines('iptables-nft-save') + saveLines('iptables-legacy-save');
    out['varLibCni'] = { before: varLibCniBefore, after: fs.existsSync('/var/lib/cni') };
  }
  out['samples'] = samples;
  out['cold'] = cold;
  out['notes'] = notes;
  return out;
}
