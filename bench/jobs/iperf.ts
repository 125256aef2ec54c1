/**
 * iperf: container-to-container TCP throughput, nsnet containers (anti-spoofing on and off) vs
 * by-hand namespaces on a by-hand bridge; and over IPv6, nsnet containers of a dual-stack network
 * (anti-spoofing on: IPv6 frames take the bridge table's from_port6 chain) vs the same by-hand
 * bridge with IPv6 addresses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createNetwork, remove, removeNetwork, run } from '../../src/index.js';
import type { Job } from './job.js';
import { benchContext } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { shellFor } from './shell.js';

/** Gbit/s from `clientNs` to an iperf3 server in `serverNs` (started for this one test). */
function iperfPair(serverNs: string, clientNs: string, serverIp: string, seconds: number): number {
  const server: ChildProcess = spawn('nsenter', [`--net=/run/netns/${serverNs}`, 'iperf3', '-s', '-1', '-B', serverIp], { stdio: 'ignore' });
  try {
    let last = 'no result';
    for (let attempt = 0; attempt < 50; attempt++) {
      const r = spawnSync('nsenter', [`--net=/run/netns/${clientNs}`, 'iperf3', '-c', serverIp, '-t', String(seconds), '-J'], { encoding: 'utf8' });
      let doc: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
      try {
        doc = JSON.parse(r.stdout) as typeof doc;
      } catch {
        doc = { error: (r.stderr || r.stdout).trim() };
      }
      const bps = doc.end?.sum_received?.bits_per_second;
      if (bps !== undefined && doc.error === undefined) return bps / 1e9;
      last = doc.error ?? 'no result';
      if (!/connect/i.test(last)) break; // the server is not listening yet: try again
      spawnSync('sleep', ['0.1']);
    }
    throw new Error(`iperf3 ${clientNs} → ${serverIp}: ${last}`);
  } finally {
    if (server.exitCode === null && server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

export async function iperfJob(job: Job): Promise<Record<string, unknown>> {
  const { sh } = shellFor(job);
  const seconds = job.seconds ?? 4;
  const netOn = netFor(job.prefix, job.octet, 'i');
  const netOff = netFor(job.prefix, job.octet + 1, 'o');
  const netB = netFor(job.prefix, job.octet + 2, 'h');
  const net6 = netFor(job.prefix, job.octet + 3, 's');
  // ULA /64s for the IPv6 rows, one per network, from the job's octet.
  const ula = (octet: number, host: number): string => `fd00:${octet.toString(16)}::${host.toString(16)}`;
  const ctx = benchContext(job);
  const onNames = [`${job.prefix}i0`, `${job.prefix}i1`];
  const offNames = [`${job.prefix}o0`, `${job.prefix}o1`];
  const handNames = [`${job.prefix}h0`, `${job.prefix}h1`];
  const v6Names = [`${job.prefix}s0`, `${job.prefix}s1`];
  const handHost = `${job.prefix}hb`;
  const result: Record<string, number[]> = {};
  const made: string[] = [];
  const nets: string[] = [];
  try {
    // Anti-spoofing is on unless the network option says "false".
    createNetwork(ctx, { name: netOff.name, subnet: netOff.subnet, gateway: netOff.gateway, options: { 'com.docker.network.bridge.name': netOff.bridge, 'nsnet.bridge.anti_spoofing': 'false' } });
    nets.push(netOff.name);
    nsnetNetwork(ctx, netOn);
    nets.push(netOn.name);
    const pairs: Array<[string, string[], string]> = [
      ['nsnet, anti-spoofing on', onNames, netOn.name],
      ['nsnet, anti-spoofing off', offNames, netOff.name],
    ];
    createNetwork(ctx, {
      name: net6.name,
      subnet: [net6.subnet, `${ula(job.octet + 3, 0)}/64`],
      gateway: [net6.gateway, ula(job.octet + 3, 1)],
      ipv6: true,
      options: { 'com.docker.network.bridge.name': net6.bridge },
    });
    nets.push(net6.name);
    pairs.push(['nsnet IPv6, anti-spoofing on', v6Names, net6.name]);
    const ips: Record<string, string> = {};
    for (const [label, names, netName] of pairs) {
      for (const name of names) {
        await run(ctx, { name, networks: [netName], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
        made.push(name);
      }
      const ep = ctx.store.endpoints.forContainer(ctx.store.containers.resolve(names[0]!).id)[0]!;
      ips[label] = (label.includes('IPv6') ? ep.ip6 : ep.ip)!;
    }
    // The by-hand bridge gets a "host" namespace of its own, as on a machine without nsnet: here,
    // nsnet's tables (and the conntrack their NAT chains turn on) would see its traffic too, since
    // br_netfilter hands switched IPv4 frames to the IP hooks when it is loaded.
    sh(['ip', 'netns', 'add', handHost]);
    sh(['ip', '-n', handHost, '-batch', '-'], `link set lo up\nlink add ${netB.bridge} type bridge\naddr add ${netB.gateway}/${netB.prefixLen} dev ${netB.bridge}\nlink set ${netB.bridge} up\n`);
    handNames.forEach((name, i) => {
      const hostIf = `${job.prefix}v${i}`;
      sh(['ip', 'netns', 'add', name]);
      sh(['ip', '-n', handHost, 'link', 'add', hostIf, 'master', netB.bridge, 'up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      sh(['ip', '-n', name, '-batch', '-'], `link set lo up\naddr add ${netB.ip(i)}/16 dev eth0\naddr add ${ula(job.octet + 2, 10 + i)}/64 dev eth0 nodad\nlink set eth0 up\nroute add default via ${netB.gateway}\n`);
    });
    // Every round measures each configuration once; the order rotates so none always goes first.
    const configs: Array<[string, string, string, string]> = [
      ...pairs.map(([label, names]): [string, string, string, string] => [label, names[0]!, names[1]!, ips[label]!]),
      ['by-hand bridge', handNames[0]!, handNames[1]!, netB.ip(0)],
      ['by-hand bridge IPv6', handNames[0]!, handNames[1]!, ula(job.octet + 2, 10)],
    ];
    for (let round = 0; round < (job.rounds ?? 3); round++) {
      for (let j = 0; j < configs.length; j++) {
        const [label, a, b, ip] = configs[(j + round) % configs.length]!;
        (result[label] ??= []).push(iperfPair(a, b, ip, seconds));
      }
    }
  } finally {
    for (const name of made) {
      try {
        remove(ctx, [name], { force: true });
      } catch {
        /* not made */
      }
    }
    for (const n of nets) {
      try {
        removeNetwork(ctx, n);
      } catch {
        /* not made */
      }
    }
    ctx.close();
    for (const name of handNames) spawnSync('ip', ['netns', 'del', name]);
    spawnSync('ip', ['netns', 'del', handHost]);
  }
  const bridgeNf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  return { job: 'iperf', gbps: result, seconds, rounds: job.rounds ?? 3, antiSpoofing: 'built', byHandHost: 'own namespace (no ruleset)', brNetfilter: fs.existsSync(bridgeNf) ? fs.readFileSync(bridgeNf, 'utf8').trim() : 'not loaded' };
}
