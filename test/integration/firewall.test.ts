/**
 * nsnet's firewall against the real kernel (nftables driver), issue 3: isolation between networks,
 * --internal, ICC off, routed (masquerade off) networks, anti-spoofing, coexistence with foreign
 * nft tables and iptables chains, rule growth, and zero residue after `system reset --force`.
 *
 * Every describe block has its own sandbox (a throwaway "host" namespace where nsnet runs and a
 * "world" namespace holding 203.0.113.8); nothing here touches the machine's own network. Probes
 * run in parallel inside the containers (one `nsnet exec` per source probing all its targets), each
 * ping/TCP connect with a 1 s timeout. A probe expected to connect that fails is tried once more
 * with 2 s, so a loaded machine cannot turn an allowed pair into a false "blocked".
 *
 * The firewall driver is forced to nftables (NSNET_FIREWALL_DRIVER), inherited by every nsnet
 * command the sandbox runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import {
  HOST_UPLINK_IP,
  WORLD_IP,
  createSandbox,
  describeResult,
  type RunResult,
  type Sandbox,
} from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { PROBE, SEND, UDP_LISTENER } from '../helpers/probes.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

process.env['NSNET_FIREWALL_DRIVER'] = 'nftables';

// ---------------------------------------------------------------------------------------------
// Helpers

function json<T = unknown>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    assert.fail(`stdout is not JSON (${(err as Error).message})\n${describeResult(r)}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cleanup(sb: Sandbox | undefined): Promise<void> {
  const report = await sb?.destroy();
  if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
}

const TCP_PORT = 7000;
/**
 * A container's command: a TCP server answering "ok" on 7000; "listening" in its log once up. A
 * client that resets the connection must not crash it (an unhandled socket 'error' would kill the
 * container's init, and with it every process in its PID namespace).
 */
const TCP_SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end('ok'); }).listen(${TCP_PORT}, '0.0.0.0', () => console.log('listening'))`;

interface Target {
  ip: string;
  port?: number;
  /** Expected to connect: a failure is tried once more with 2 s (load must not fake a block). */
  retry?: boolean;
}
interface ProbeResult {
  ip: string;
  ping: boolean;
  tcp: boolean | null;
}

function parseProbe(r: RunResult): Map<string, ProbeResult> {
  ok(r, 'probe');
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let arr: ProbeResult[];
  try {
    arr = JSON.parse(line) as ProbeResult[];
  } catch {
    assert.fail(`probe printed no JSON\n${describeResult(r)}`);
  }
  return new Map(arr.map((x) => [x.ip, x]));
}

/** Probe targets from inside a container (nsnet exec). */
async function probeFrom(sb: Sandbox, container: string, targets: readonly Target[]): Promise<Map<string, ProbeResult>> {
  const r = await sb.nsnet(['exec', container, 'node', '-e', PROBE, JSON.stringify(targets)], { timeoutMs: 30_000 });
  if (r.code !== 0) {
    // Say whether the container itself is still there (a dead one makes exec fail, not the firewall).
    const ps = await sb.nsnet(['ps', '-a']);
    r.stderr += `\n[nsnet ps -a after the failed probe]\n${ps.stdout}${ps.stderr}`;
  }
  return parseProbe(r);
}

async function probeFromWorld(sb: Sandbox, targets: readonly Target[]): Promise<Map<string, ProbeResult>> {
  return parseProbe(await sb.inWorldAsync(['node', '-e', PROBE, JSON.stringify(targets)]));
}

async function probeFromHost(sb: Sandbox, targets: readonly Target[]): Promise<Map<string, ProbeResult>> {
  return parseProbe(await sb.inHostAsync(['node', '-e', PROBE, JSON.stringify(targets)]));
}

/** Start detached containers running the TCP server and wait until each is listening. */
async function runServers(sb: Sandbox, specs: ReadonlyArray<{ name: string; networks: readonly string[]; capAdd?: string }>): Promise<void> {
  await Promise.all(
    specs.map(async (s) => {
      const nets = s.networks.flatMap((n) => ['--network', n]);
      const caps = s.capAdd === undefined ? [] : ['--cap-add', s.capAdd];
      ok(await sb.nsnet(['run', '-d', '--name', s.name, ...nets, ...caps, '--', 'node', '-e', TCP_SERVER]), `run -d --name ${s.name}`);
      await waitForLog(sb, s.name, /listening/);
    }),
  );
}

async function waitForLog(sb: Sandbox, name: string, re: RegExp, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last: RunResult | undefined;
  while (Date.now() < deadline) {
    last = await sb.nsnet(['logs', name]);
    if (re.test(last.stdout)) return last.stdout;
    await sleep(200);
  }
  assert.fail(`${name}: log never matched ${re}\n${last ? describeResult(last) : ''}`);
}

interface Inspected {
  Name: string;
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Gateway: string; MacAddress: string }> };
}

/** name → network → address. */
async function addresses(sb: Sandbox, names: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const arr = json<Inspected[]>(ok(await sb.nsnet(['inspect', ...names]), 'inspect'));
  const out: Record<string, Record<string, string>> = {};
  for (const c of arr) {
    const nets: Record<string, string> = {};
    for (const [net, ep] of Object.entries(c.NetworkSettings.Networks)) nets[net] = ep.IPAddress;
    out[c.Name.replace(/^\//, '')] = nets;
  }
  return out;
}

/** A process in the world namespace printing one line per event; ready once it printed "listening". */
interface WorldListener {
  lines: string[];
  proc: ChildProcess;
  stop(): void;
}

async function worldListener(sb: Sandbox, script: string): Promise<WorldListener> {
  const proc = sb.spawnInWorld(['node', '-e', script]);
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const deadline = Date.now() + 10_000;
  while (!lines.includes('listening')) {
    if (Date.now() > deadline || proc.exitCode !== null) assert.fail(`world listener did not start: ${stderr}`);
    await sleep(50);
  }
  return {
    lines,
    proc,
    stop: () => {
      if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
    },
  };
}

/** World TCP server on port: answers "ok", prints "conn <remote address>" per connection. */
const worldTcp = (sb: Sandbox, port: number): Promise<WorldListener> =>
  worldListener(
    sb,
    `require('net').createServer((s) => { s.on('error', () => {}); console.log('conn ' + s.remoteAddress); s.end('ok'); }).listen(${port}, '0.0.0.0', () => console.log('listening'))`,
  );

async function sendUdp(sb: Sandbox, container: string, src: string, dst: string, port: number, msg: string): Promise<void> {
  ok(await sb.nsnet(['exec', container, 'node', '-e', SEND, src, dst, String(port), msg]), `send ${msg} from ${container}`);
}

/** Lines of `nft -a list table` output carrying a rule/set/chain handle, for both nsnet tables. */
function nsnetHandleLines(sb: Sandbox): string[] {
  const out: string[] = [];
  for (const family of ['inet', 'bridge']) {
    const r = ok(sb.inHost(['nft', '-a', 'list', 'table', family, 'nsnet']), `nft -a list table ${family} nsnet`);
    out.push(...r.stdout.split('\n').filter((l) => l.includes('# handle')));
  }
  return out;
}

function nftTables(sb: Sandbox): string[] {
  return ok(sb.inHost(['nft', 'list', 'tables']), 'nft list tables')
    .stdout.split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

/** Zero residue of nsnet in the sandbox host: no nsnet table, no link but lo/uplink, no container namespace. */
function assertNoResidue(sb: Sandbox, expectedTables: readonly string[]): void {
  const tables = nftTables(sb);
  assert.deepEqual(tables.filter((t) => /\bnsnet\b/.test(t)), [], `nsnet tables left: ${tables.join(', ')}`);
  assert.deepEqual(tables, [...expectedTables].sort(), 'exactly the tables that were there before nsnet ran');
  const links = json<Array<{ ifname: string }>>(ok(sb.inHost(['ip', '-j', 'link', 'show']), 'ip link')).map((l) => l.ifname);
  assert.deepEqual(links.sort(), ['lo', 'uplink'], `links left in the host namespace: ${links.join(', ')}`);
  const netns = ok(sb.inHost(['ip', 'netns', 'list']), 'ip netns list')
    .stdout.split('\n')
    .filter((l) => l.startsWith(sb.prefix));
  assert.deepEqual(netns, [], 'container namespaces left');
}

/**
 * One suite at a time, each in its own sandbox. (Running them side by side was slower on a
 * two-CPU machine: nearly all the time is node start-ups and nsnet's lock.)
 */
requiredSuite('nsnet firewall (nftables driver, real kernel)', { needs: [needs.integration], concurrency: false }, () => {
  // ---------------------------------------------------------------------------------------------
  // 1. Reachability matrix

  describe('reachability matrix: networks A, B, C with two containers each, D on A and B', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    const net = (x: string): string => `${p}n${x}`;
    let addr: Record<string, Record<string, string>> = {};
    let world: WorldListener | undefined;
    const containers = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2', 'd'];

    before(async () => {
      sb = await createSandbox('mx');
      p = sb.prefix;
    });
    after(async () => {
      world?.stop();
      await cleanup(sb);
    });

    it('creates the networks and containers, each running a TCP server', async () => {
      ok(await sb.nsnet(['network', 'create', net('a'), '--subnet', '10.81.0.0/24']));
      ok(await sb.nsnet(['network', 'create', net('b'), '--subnet', '10.82.0.0/24']));
      ok(await sb.nsnet(['network', 'create', net('c'), '--subnet', '10.83.0.0/24']));
      const specs = containers.map((c) => ({
        name: `${p}${c}`,
        networks: c === 'd' ? [net('a'), net('b')] : [net(c[0]!)],
      }));
      await runServers(sb, specs);
      addr = await addresses(sb, specs.map((s) => s.name));
      assert.equal(Object.keys(addr[`${p}d`] ?? {}).length, 2, 'D has an address on A and on B');
      world = await worldTcp(sb, TCP_PORT);
    });

    it('exactly the allowed ordered pairs connect, by ping and by TCP', async () => {
      assert.ok(Object.keys(addr).length === containers.length, 'setup ran');
      // Every (container, network, address) as a destination.
      const dests = Object.entries(addr).flatMap(([owner, nets]) => Object.entries(nets).map(([n, ip]) => ({ owner, net: n, ip })));
      assert.equal(dests.length, 8);
      const results = await Promise.all(
        Object.keys(addr).map(async (src) => {
          const targets = dests
            .filter((d) => d.owner !== src)
            .map((d) => ({ ip: d.ip, port: TCP_PORT, retry: Object.keys(addr[src]!).includes(d.net) }));
          return [src, await probeFrom(sb, src, targets)] as const;
        }),
      );
      const wrong: string[] = [];
      const table: string[] = [];
      for (const [src, res] of results) {
        const srcNets = Object.keys(addr[src]!);
        for (const d of dests.filter((x) => x.owner !== src)) {
          const allowed = srcNets.includes(d.net);
          const r = res.get(d.ip);
          const line = `${src.slice(p.length)} -> ${d.owner.slice(p.length)}@${d.net.slice(p.length)} (${d.ip}): ping ${r?.ping} tcp ${r?.tcp}, expected ${allowed}`;
          table.push(line);
          if (r?.ping !== allowed || r?.tcp !== allowed) wrong.push(line);
        }
      }
      assert.equal(table.length, 48, 'seven sources, eight addresses, minus each container to itself');
      assert.deepEqual(wrong, [], `pairs that disagree with the isolation rule:\n${wrong.join('\n')}\n\nfull matrix:\n${table.join('\n')}`);
    });

    it('the sandbox host reaches every container address (ping and TCP)', async () => {
      const ips = Object.values(addr).flatMap((nets) => Object.values(nets));
      const res = await probeFromHost(sb, ips.map((ip) => ({ ip, port: TCP_PORT, retry: true })));
      const bad = ips.filter((ip) => res.get(ip)?.ping !== true || res.get(ip)?.tcp !== true);
      assert.deepEqual(bad, [], `host cannot reach: ${bad.map((ip) => JSON.stringify(res.get(ip))).join(', ')}`);
    });

    it(`every container reaches ${WORLD_IP} (ping and TCP), masqueraded behind the host uplink`, async () => {
      assert.ok(world, 'world listener running');
      const before = world.lines.filter((l) => l.startsWith('conn ')).length;
      const results = await Promise.all(
        Object.keys(addr).map(async (src) => [src, (await probeFrom(sb, src, [{ ip: WORLD_IP, port: TCP_PORT, retry: true }])).get(WORLD_IP)] as const),
      );
      const bad = results.filter(([, r]) => r?.ping !== true || r?.tcp !== true).map(([s, r]) => `${s}: ${JSON.stringify(r)}`);
      assert.deepEqual(bad, [], 'containers that cannot reach the world');
      const conns = world.lines.filter((l) => l.startsWith('conn ')).slice(before);
      assert.ok(conns.length >= containers.length, `world saw ${conns.length} connections`);
      for (const c of conns) assert.equal(c, `conn ${HOST_UPLINK_IP}`, 'the world sees only the host uplink address (NAT)');
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 2. --internal

  describe('--internal network: in-network traffic works, nothing gets out', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    const SUBNET = '10.84.0.0/24';
    const GATEWAY = '10.84.0.1';
    const WORLD_PORT = 7100;
    let world: WorldListener | undefined;
    let i1 = '';
    let i2 = '';
    let ip1 = '';
    let ip2 = '';

    before(async () => {
      sb = await createSandbox('in');
      p = sb.prefix;
      i1 = `${p}i1`;
      i2 = `${p}i2`;
    });
    after(async () => {
      world?.stop();
      await cleanup(sb);
    });

    it('creates the internal network with two containers; the world gets a route back to it and a capture', async () => {
      ok(await sb.nsnet(['network', 'create', `${p}int`, '--internal', '--subnet', SUBNET, '--gateway', GATEWAY]));
      await runServers(sb, [
        // NET_ADMIN: i1 later adds a default route itself.
        { name: i1, networks: [`${p}int`], capAdd: 'NET_ADMIN' },
        { name: i2, networks: [`${p}int`] },
      ]);
      const a = await addresses(sb, [i1, i2]);
      ip1 = a[i1]![`${p}int`]!;
      ip2 = a[i2]![`${p}int`]!;
      // Were anything forwarded, the world could answer it directly: a failure below is the firewall's.
      ok(sb.inWorld(['ip', 'route', 'add', SUBNET, 'via', HOST_UPLINK_IP]), 'world route back');
      ok(
        sb.inWorld(['nft', '-f', '-'], {
          input: `table ip capture {\n\tchain pre {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t\tip saddr ${SUBNET} counter\n\t}\n}\n`,
        }),
        'world capture counter',
      );
      world = await worldTcp(sb, WORLD_PORT);
    });

    it('has no default route', () => {
      for (const c of [i1, i2]) {
        const r = ok(sb.inHost(['ip', '-n', c, 'route', 'show', 'default']));
        assert.equal(r.stdout.trim(), '', `${c} has a default route on an internal network`);
      }
    });

    it('its containers reach each other (ping and TCP)', async () => {
      const [r1, r2] = await Promise.all([probeFrom(sb, i1, [{ ip: ip2, port: TCP_PORT, retry: true }]),
        probeFrom(sb, i2, [{ ip: ip1, port: TCP_PORT, retry: true }]),
      ]);
      assert.deepEqual([r1.get(ip2), r2.get(ip1)], [
        { ip: ip2, ping: true, tcp: true },
        { ip: ip1, ping: true, tcp: true },
      ]);
    });

    it('nothing reaches the world, even after a container adds a default route itself', async () => {
      ok(await sb.nsnet(['exec', i1, 'ip', 'route', 'add', 'default', 'via', GATEWAY]), 'container adds its own default route');
      const [r1, r2] = await Promise.all([
        probeFrom(sb, i1, [{ ip: WORLD_IP, port: WORLD_PORT }, { ip: '198.51.100.1', port: WORLD_PORT }]),
        probeFrom(sb, i2, [{ ip: WORLD_IP, port: WORLD_PORT }]),
      ]);
      assert.deepEqual(r1.get(WORLD_IP), { ip: WORLD_IP, ping: false, tcp: false }, 'i1 (own default route) → world');
      assert.deepEqual(r1.get('198.51.100.1'), { ip: '198.51.100.1', ping: false, tcp: false }, 'i1 → world uplink');
      assert.deepEqual(r2.get(WORLD_IP), { ip: WORLD_IP, ping: false, tcp: false }, 'i2 → world');
      assert.deepEqual(world?.lines.filter((l) => l.startsWith('conn ')), [], 'the world listener saw no connection');
      const cap = ok(sb.inWorld(['nft', 'list', 'table', 'ip', 'capture'])).stdout;
      assert.match(cap, /counter packets 0 bytes 0/, `the world saw packets from ${SUBNET}:\n${cap}`);
    });

    it('the world cannot reach into it either (even with a route)', async () => {
      const res = await probeFromWorld(sb, [{ ip: ip1, port: TCP_PORT }]);
      assert.deepEqual(res.get(ip1), { ip: ip1, ping: false, tcp: false });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 3. ICC off

  describe('com.docker.network.bridge.enable_icc=false: no container-to-container traffic, outbound works', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    const GATEWAY = '10.85.0.1';
    let world: WorldListener | undefined;
    let ips: Record<string, string> = {};

    before(async () => {
      sb = await createSandbox('ic');
      p = sb.prefix;
    });
    after(async () => {
      world?.stop();
      await cleanup(sb);
    });

    it('creates the network with ICC off and two containers', async () => {
      const n = `${p}icc`;
      ok(await sb.nsnet(['network', 'create', n, '--subnet', '10.85.0.0/24', '--gateway', GATEWAY, '-o', 'com.docker.network.bridge.enable_icc=false']));
      await runServers(sb, [
        { name: `${p}k1`, networks: [n] },
        { name: `${p}k2`, networks: [n] },
      ]);
      const a = await addresses(sb, [`${p}k1`, `${p}k2`]);
      ips = { [`${p}k1`]: a[`${p}k1`]![n]!, [`${p}k2`]: a[`${p}k2`]![n]! };
      world = await worldTcp(sb, TCP_PORT);
    });

    it('the two containers cannot ping or connect to each other; both reach the gateway and the world', async () => {
      const k1 = `${p}k1`;
      const k2 = `${p}k2`;
      const targets = (other: string): Target[] => [
        { ip: ips[other]!, port: TCP_PORT },
        { ip: GATEWAY, retry: true },
        { ip: WORLD_IP, port: TCP_PORT, retry: true },
      ];
      const [r1, r2] = await Promise.all([probeFrom(sb, k1, targets(k2)), probeFrom(sb, k2, targets(k1))]);
      assert.deepEqual(
        {
          k1_to_k2: r1.get(ips[k2]!),
          k2_to_k1: r2.get(ips[k1]!),
          k1_to_gateway: r1.get(GATEWAY)?.ping,
          k2_to_gateway: r2.get(GATEWAY)?.ping,
          k1_to_world: r1.get(WORLD_IP),
          k2_to_world: r2.get(WORLD_IP),
        },
        {
          k1_to_k2: { ip: ips[k2], ping: false, tcp: false },
          k2_to_k1: { ip: ips[k1], ping: false, tcp: false },
          k1_to_gateway: true,
          k2_to_gateway: true,
          k1_to_world: { ip: WORLD_IP, ping: true, tcp: true },
          k2_to_world: { ip: WORLD_IP, ping: true, tcp: true },
        },
      );
    });

    it('the sandbox host still reaches both containers', async () => {
      const res = await probeFromHost(sb, Object.values(ips).map((ip) => ({ ip, port: TCP_PORT, retry: true })));
      for (const ip of Object.values(ips)) assert.deepEqual(res.get(ip), { ip, ping: true, tcp: true });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 4. Masquerade off (routed) versus NAT

  describe('com.docker.network.bridge.enable_ip_masquerade=false: routed, not NATed; a NAT network stays closed', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    const ROUTED = '10.86.0.0/24';
    const NATED = '10.87.0.0/24';
    const WORLD_PORT = 7200;
    let world: WorldListener | undefined;
    let routedIp = '';
    let natIp = '';

    before(async () => {
      sb = await createSandbox('ms');
      p = sb.prefix;
    });
    after(async () => {
      world?.stop();
      await cleanup(sb);
    });

    it('creates a routed and a NAT network with a container each; the world routes both subnets to the host', async () => {
      ok(await sb.nsnet(['network', 'create', `${p}rt`, '--subnet', ROUTED, '-o', 'com.docker.network.bridge.enable_ip_masquerade=false']));
      ok(await sb.nsnet(['network', 'create', `${p}nat`, '--subnet', NATED]));
      await runServers(sb, [
        { name: `${p}r1`, networks: [`${p}rt`] },
        { name: `${p}n1`, networks: [`${p}nat`] },
      ]);
      const a = await addresses(sb, [`${p}r1`, `${p}n1`]);
      routedIp = a[`${p}r1`]![`${p}rt`]!;
      natIp = a[`${p}n1`]![`${p}nat`]!;
      ok(sb.inWorld(['ip', 'route', 'add', ROUTED, 'via', HOST_UPLINK_IP]), 'world route to the routed subnet');
      ok(sb.inWorld(['ip', 'route', 'add', NATED, 'via', HOST_UPLINK_IP]), 'world route to the NAT subnet');
      world = await worldTcp(sb, WORLD_PORT);
    });

    it("routed: the world sees the container's own address as source", async () => {
      const res = await probeFrom(sb, `${p}r1`, [{ ip: WORLD_IP, port: WORLD_PORT, retry: true }]);
      assert.deepEqual(res.get(WORLD_IP), { ip: WORLD_IP, ping: true, tcp: true });
      const conns = [...new Set(world?.lines.filter((l) => l.startsWith('conn ')))];
      assert.deepEqual(conns, [`conn ${routedIp}`], 'source address seen by the world');
    });

    it('routed: the world reaches the container (ping and TCP)', async () => {
      const res = await probeFromWorld(sb, [{ ip: routedIp, port: TCP_PORT, retry: true }]);
      assert.deepEqual(res.get(routedIp), { ip: routedIp, ping: true, tcp: true });
    });

    it('NAT: outbound works behind the host uplink address', async () => {
      world!.lines.length = 0;
      const res = await probeFrom(sb, `${p}n1`, [{ ip: WORLD_IP, port: WORLD_PORT, retry: true }]);
      assert.deepEqual(res.get(WORLD_IP), { ip: WORLD_IP, ping: true, tcp: true });
      const conns = [...new Set(world?.lines.filter((l) => l.startsWith('conn ')))];
      assert.deepEqual(conns, [`conn ${HOST_UPLINK_IP}`], 'source address seen by the world');
    });

    it('NAT: the world cannot open a connection to the container, even with a route to its subnet', async () => {
      const res = await probeFromWorld(sb, [{ ip: natIp, port: TCP_PORT }]);
      assert.deepEqual(res.get(natIp), { ip: natIp, ping: false, tcp: false });
    });

    it('NAT: outbound still works after the blocked attempt', async () => {
      const res = await probeFrom(sb, `${p}n1`, [{ ip: WORLD_IP, port: WORLD_PORT, retry: true }]);
      assert.deepEqual(res.get(WORLD_IP), { ip: WORLD_IP, ping: true, tcp: true });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 5. Anti-spoofing

  describe('anti-spoofing: forged source addresses, MACs and ARP answers never leave the port', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    const UDP_PORT = 9000;
    const WORLD_UDP_PORT = 9100;
    let world: WorldListener | undefined;

    interface Outcome {
      victimLog: string[];
      worldLines: string[];
      arpUnusedFromHost: boolean;
      /** Packets the sandbox host received with a forged source address / the forged MAC. */
      hostSawForgedIp: number;
      hostSawForgedMac: number;
      attackerIp: string;
      otherIp: string;
      unused: string;
    }

    /**
     * One network (anti-spoofing on or off) with a victim (UDP listener), an attacker and an
     * "other" container whose address the attacker forges; returns what the victim, the world and
     * the host saw. The same sequence on both networks: the control proves the test can fail.
     */
    async function attack(tag: string, subnet: string, antiSpoofing: boolean): Promise<Outcome> {
      const n = `${p}${tag}`;
      const opts = antiSpoofing ? [] : ['-o', 'nsnet.bridge.anti_spoofing=false'];
      ok(await sb.nsnet(['network', 'create', n, '--subnet', subnet, ...opts]));
      const victim = `${p}${tag}v`;
      const attacker = `${p}${tag}x`;
      const other = `${p}${tag}o`;
      ok(await sb.nsnet(['run', '-d', '--name', victim, '--network', n, '--', 'node', '-e', UDP_LISTENER(UDP_PORT)]));
      // NET_ADMIN: the attacker forges addresses and its MAC (without it, it cannot even try).
      ok(await sb.nsnet(['run', '-d', '--name', attacker, '--network', n, '--cap-add', 'NET_ADMIN', '--', 'sleep', '1000']));
      ok(await sb.nsnet(['run', '-d', '--name', other, '--network', n, '--', 'sleep', '1000']));
      await waitForLog(sb, victim, /listening/);
      const a = await addresses(sb, [victim, attacker, other]);
      const victimIp = a[victim]![n]!;
      const attackerIp = a[attacker]![n]!;
      const otherIp = a[other]![n]!;
      const unused = subnet.replace(/0\/24$/, '200');
      const forgedMac = antiSpoofing ? '02:42:de:ad:be:ef' : '02:42:de:ad:be:f0';
      // The host's own capture: counters in the sandbox host, before anything else sees a packet.
      ok(sb.inHost(['nft', 'add', 'rule', 'inet', 'fwcapture', 'pre', 'ip', 'saddr', `{ ${otherIp}, ${unused} }`, 'counter', 'comment', `"${tag}-ip"`]));
      ok(sb.inHost(['nft', 'add', 'rule', 'inet', 'fwcapture', 'pre', 'ether', 'saddr', forgedMac, 'counter', 'comment', `"${tag}-mac"`]));

      // The attacker's own traffic flows (and primes its neighbour entries).
      await sendUdp(sb, attacker, attackerIp, victimIp, UDP_PORT, `${tag}-own`);
      await sendUdp(sb, attacker, attackerIp, WORLD_IP, WORLD_UDP_PORT, `${tag}-own-world`);
      // Forged source addresses: another container's, and an unused one.
      ok(await sb.nsnet(['exec', attacker, 'ip', 'addr', 'add', `${otherIp}/32`, 'dev', 'eth0']), 'attacker adds the other container address');
      ok(await sb.nsnet(['exec', attacker, 'ip', 'addr', 'add', `${unused}/32`, 'dev', 'eth0']), 'attacker adds an unused address');
      await sendUdp(sb, attacker, otherIp, victimIp, UDP_PORT, `${tag}-forged-other`);
      await sendUdp(sb, attacker, unused, victimIp, UDP_PORT, `${tag}-forged-unused`);
      await sendUdp(sb, attacker, unused, WORLD_IP, WORLD_UDP_PORT, `${tag}-forged-world`);
      // Its own address still works while it holds the forged ones.
      await sendUdp(sb, attacker, attackerIp, victimIp, UDP_PORT, `${tag}-own-again`);
      // ARP: only the attacker holds `unused`; its answer to the host must not get through.
      const arp = (await probeFromHost(sb, [{ ip: unused, retry: !antiSpoofing }])).get(unused)?.ping ?? false;
      // Forged MAC, own address.
      ok(await sb.nsnet(['exec', attacker, 'ip', 'link', 'set', 'eth0', 'address', forgedMac]), 'attacker changes its MAC');
      await sendUdp(sb, attacker, attackerIp, victimIp, UDP_PORT, `${tag}-forged-mac`);
      await sendUdp(sb, attacker, attackerIp, WORLD_IP, WORLD_UDP_PORT, `${tag}-forged-mac-world`);
      await sleep(300);
      const log = ok(await sb.nsnet(['logs', victim])).stdout;
      const capture = ok(sb.inHost(['nft', 'list', 'chain', 'inet', 'fwcapture', 'pre'])).stdout;
      const counted = (c: string): number => {
        const m = new RegExp(`counter packets (\\d+) bytes \\d+ comment "${c}"`).exec(capture);
        assert.ok(m, `no counter ${c} in\n${capture}`);
        return Number(m[1]);
      };
      return {
        hostSawForgedIp: counted(`${tag}-ip`),
        hostSawForgedMac: counted(`${tag}-mac`),
        victimLog: [...new Set(log.split('\n').filter((l) => l && l !== 'listening'))].sort(),
        worldLines: [...new Set(world!.lines.filter((l) => l.split(' ')[1]?.startsWith(`${tag}-`)))].sort(),
        arpUnusedFromHost: arp,
        attackerIp,
        otherIp,
        unused,
      };
    }

    let on: Outcome | undefined;
    let off: Outcome | undefined;

    before(async () => {
      sb = await createSandbox('sp');
      p = sb.prefix;
    });
    after(async () => {
      world?.stop();
      await cleanup(sb);
    });

    it('runs the same attack on a default network and on one with nsnet.bridge.anti_spoofing=false', async () => {
      world = await worldListener(sb, UDP_LISTENER(WORLD_UDP_PORT));
      ok(
        sb.inHost(['nft', '-f', '-'], {
          input: 'table inet fwcapture {\n\tchain pre {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t}\n}\n',
        }),
        'host capture table',
      );
      [on, off] = await Promise.all([attack('on', '10.88.0.0/24', true), attack('off', '10.90.0.0/24', false)]);
    });

    it("default network: the victim gets the attacker's own datagram and none of the forged ones", () => {
      assert.ok(on, 'attack ran');
      assert.deepEqual(on.victimLog, [`${on.attackerIp} on-own`, `${on.attackerIp} on-own-again`]);
    });

    it('default network: the world sees only the own datagram (masqueraded), nothing forged', () => {
      assert.ok(on, 'attack ran');
      assert.deepEqual(on.worldLines, [`${HOST_UPLINK_IP} on-own-world`]);
    });

    it("default network: the attacker's ARP answer for an address it was not given is dropped", () => {
      assert.ok(on, 'attack ran');
      assert.equal(on.arpUnusedFromHost, false, `the host got a ping reply from ${on.unused}, held only by the attacker`);
    });

    it('default network: the sandbox host never receives a packet with a forged address or MAC', () => {
      assert.ok(on, 'attack ran');
      assert.deepEqual({ forgedIp: on.hostSawForgedIp, forgedMac: on.hostSawForgedMac }, { forgedIp: 0, forgedMac: 0 });
    });

    it('control (anti-spoofing off): the same forged datagrams and the ARP answer DO get through', () => {
      assert.ok(off, 'attack ran');
      assert.deepEqual(off.victimLog, [
        `${off.attackerIp} off-forged-mac`,
        `${off.attackerIp} off-own`,
        `${off.attackerIp} off-own-again`,
        `${off.otherIp} off-forged-other`,
        `${off.unused} off-forged-unused`,
      ].sort());
      assert.deepEqual(off.worldLines, [
        `${HOST_UPLINK_IP} off-forged-mac-world`,
        `${HOST_UPLINK_IP} off-forged-world`,
        `${HOST_UPLINK_IP} off-own-world`,
      ]);
      assert.equal(off.arpUnusedFromHost, true);
      assert.ok(off.hostSawForgedIp > 0 && off.hostSawForgedMac > 0, `host capture: ${JSON.stringify(off)}`);
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 6 + 8. Coexistence and zero residue

  requiredSuite('coexistence: foreign nft tables and a foreign iptables chain are untouched; zero residue after reset', { needs: [needs.iptables], concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    let tablesBefore: string[] = [];
    let snapshotBefore = '';

    const FOREIGN_NFT = [
      'table inet foreign {',
      '\tchain input {',
      '\t\ttype filter hook input priority 0; policy accept;',
      '\t\ttcp dport 9999 counter drop',
      '\t}',
      '}',
      'table ip foreign2 {',
      '\tset blocked {',
      '\t\ttype ipv4_addr',
      '\t\telements = { 192.0.2.1, 192.0.2.2 }',
      '\t}',
      '\tchain output {',
      '\t\ttype filter hook output priority 0; policy accept;',
      '\t\tip daddr @blocked counter drop',
      '\t}',
      '}',
      '',
    ].join('\n');

    /** What must not change: both foreign tables, and the FOREIGN chain's iptables-save lines. */
    function snapshot(): string {
      const parts = [
        ok(sb.inHost(['nft', 'list', 'table', 'inet', 'foreign']), 'nft list table inet foreign').stdout,
        ok(sb.inHost(['nft', 'list', 'table', 'ip', 'foreign2']), 'nft list table ip foreign2').stdout,
      ];
      const save = ok(sb.inHost(['iptables-save', '-t', 'filter']), 'iptables-save -t filter').stdout;
      parts.push(save.split('\n').filter((l) => /\bFOREIGN\b/.test(l)).join('\n'));
      return parts.join('\n---\n');
    }

    before(async () => {
      sb = await createSandbox('co');
      p = sb.prefix;
    });
    after(async () => {
      await cleanup(sb);
    });

    it('sets up the foreign nft tables and iptables chain before nsnet runs', () => {
      ok(sb.inHost(['nft', '-f', '-'], { input: FOREIGN_NFT }), 'load foreign nft tables');
      ok(sb.inHost(['iptables', '-w', '-N', 'FOREIGN']));
      ok(sb.inHost(['iptables', '-w', '-A', 'FOREIGN', '-p', 'tcp', '--dport', '9999', '-j', 'DROP']));
      ok(sb.inHost(['iptables', '-w', '-A', 'FORWARD', '-j', 'FOREIGN']));
      tablesBefore = nftTables(sb);
      snapshotBefore = snapshot();
      assert.match(snapshotBefore, /tcp dport 9999 counter packets 0 bytes 0 drop/);
      assert.match(snapshotBefore, /192\.0\.2\.1, 192\.0\.2\.2/);
      assert.match(snapshotBefore, /-A FOREIGN -p tcp -m tcp --dport 9999 -j DROP/);
    });

    it('they read byte-identical after every command of a create/run/rm/network rm/reset cycle', async () => {
      assert.ok(snapshotBefore !== '', 'setup ran');
      const n1 = `${p}c1`;
      const n2 = `${p}c2`;
      const steps: string[][] = [
        ['network', 'create', n1, '--subnet', '10.91.0.0/24'],
        ['network', 'create', n2, '--subnet', '10.92.0.0/24', '--internal'],
        ['network', 'create', `${p}c3`, '--subnet', '10.93.0.0/24', '-o', 'com.docker.network.bridge.enable_icc=false', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false'],
        ['run', '-d', '--name', `${p}x1`, '--network', n1, '--', 'sleep', '1000'],
        ['run', '-d', '--name', `${p}x2`, '--network', n1, '--network', n2, '--', 'sleep', '1000'],
        ['run', '-d', '--name', `${p}x3`, '--network', `${p}c3`, '--', 'sleep', '1000'],
        ['exec', `${p}x1`, 'ping', '-c1', '-W1', WORLD_IP],
        ['network', 'disconnect', n2, `${p}x2`],
        ['network', 'connect', n2, `${p}x2`],
        ['stop', '-t', '1', `${p}x3`],
        ['rm', '-f', `${p}x1`, `${p}x3`],
        ['rm', '-f', `${p}x2`],
        ['network', 'rm', `${p}c3`],
        ['network', 'rm', n2],
        ['run', '-d', '--name', `${p}x4`, '--network', n1, '--', 'sleep', '1000'],
        ['run', '-d', '--name', `${p}x5`, '--', 'sleep', '1000'],
        ['system', 'prune'],
        ['system', 'reset', '--force'],
      ];
      for (const args of steps) {
        ok(await sb.nsnet(args), `nsnet ${args.join(' ')}`);
        assert.equal(snapshot(), snapshotBefore, `foreign rules changed after: nsnet ${args.join(' ')}`);
      }
    });

    it('zero residue after system reset --force: no nsnet tables or links, foreign tables intact', () => {
      assert.ok(tablesBefore.length > 0, 'setup ran');
      assertNoResidue(sb, tablesBefore);
      assert.equal(snapshot(), snapshotBefore);
      const save = ok(sb.inHost(['iptables-save'])).stdout;
      assert.deepEqual(save.split('\n').filter((l) => /nsnet/i.test(l)), [], 'nsnet iptables rules or chains left');
      assert.match(save, /^-A FORWARD -j FOREIGN$/m, "the foreign jump in FORWARD is still there");
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 7 + 8. Rule growth

  describe('rule growth: 100 containers on one network need no more rules than 1', { concurrency: false }, () => {
    let sb: Sandbox;
    let p = '';
    let tablesBefore: string[] = [];

    before(async () => {
      sb = await createSandbox('rg');
      p = sb.prefix;
      tablesBefore = nftTables(sb);
    });
    after(async () => {
      await cleanup(sb);
    });

    it('the handle count of the nsnet tables is the same after 1 and after 100 containers', async () => {
      const n = `${p}big`;
      ok(await sb.nsnet(['network', 'create', n, '--subnet', '10.89.0.0/24']));
      const names = Array.from({ length: 100 }, (_, i) => `${p}g${i}`);
      ok(await sb.nsnet(['run', '-d', '--name', names[0]!, '--network', n, '--', 'sleep', '1000']));
      const one = nsnetHandleLines(sb);
      for (let i = 1; i < names.length; i += 10) {
        const batch = names.slice(i, i + 10);
        const rs = await Promise.all(batch.map((c) => sb.nsnet(['run', '-d', '--name', c, '--network', n, '--', 'sleep', '1000'], { timeoutMs: 60_000 })));
        for (const r of rs) ok(r, 'run -d');
      }
      const hundred = nsnetHandleLines(sb);
      assert.equal(hundred.length, one.length, `rules after 1 container:\n${one.join('\n')}\n\nafter 100:\n${hundred.join('\n')}`);
      // The containers are there: 100 elements in the address set.
      const elements = ok(sb.inHost(['nft', 'list', 'set', 'bridge', 'nsnet', 'port_addrs'])).stdout.match(/10\.89\.0\.\d+/g) ?? [];
      assert.equal(new Set(elements).size, 100, 'port_addrs holds one element per container');
    });

    it('zero residue after system reset --force', async () => {
      ok(await sb.nsnet(['system', 'reset', '--force'], { timeoutMs: 60_000 }));
      assertNoResidue(sb, tablesBefore);
    });
  });
});
