/**
 * The article's container network, end to end, against the real kernel. Every describe block gets
 * its own sandbox (a throwaway "host" namespace where nsnet runs, plus a "world" namespace holding
 * the stand-in internet address 203.0.113.8); nothing here touches the machine's own network.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  HOST_UPLINK_IP,
  UPLINK_IF,
  WORLD_IP,
  createSandbox,
  describeResult,
  mountPoints,
  netnsEntries,
  netnsInode,
  pidAlive,
  pidNetnsInode,
  pidsInNetns,
  runSync,
  type RunResult,
  type Sandbox,
} from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

// ---------------------------------------------------------------------------------------------
// Small helpers

function json<T = unknown>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    assert.fail(`stdout is not JSON (${(err as Error).message})\n${describeResult(r)}`);
  }
}

const ipToInt = (ip: string): number => {
  const parts = ip.split('.').map(Number);
  assert.equal(parts.length, 4, `not an IPv4 address: ${ip}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
};

function inSubnet(ip: string, cidr: string): boolean {
  const [net, lenText] = cidr.split('/');
  const len = Number(lenText);
  const size = 2 ** (32 - len);
  const base = Math.floor(ipToInt(net!) / size) * size;
  const n = ipToInt(ip);
  return n >= base && n < base + size;
}

interface HostLink {
  ifname: string;
  kind: string | undefined;
  master: string | undefined;
}

function hostLinks(sb: Sandbox): HostLink[] {
  const r = ok(sb.inHost(['ip', '-d', '-j', 'link', 'show']), 'ip -d -j link show');
  const links = json<Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }>>(r);
  return links
    .map((l) => ({ ifname: l.ifname, kind: l.linkinfo?.info_kind, master: l.master }))
    .sort((a, b) => a.ifname.localeCompare(b.ifname));
}

function linksOfMaster(sb: Sandbox, master: string): HostLink[] {
  return hostLinks(sb).filter((l) => l.master === master);
}

function ipv4Of(sb: Sandbox, ns: 'host' | string, dev: string): Array<{ local: string; prefixlen: number }> {
  const argv = ['ip', '-j', 'addr', 'show', 'dev', dev];
  const r = ns === 'host' ? sb.inHost(argv) : runSync(['ip', '-n', ns, ...argv.slice(1)]);
  ok(r, `ip addr show ${dev}`);
  const info = json<Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(r);
  return (info[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ local: a.local, prefixlen: a.prefixlen }));
}

/** Mount points under /run/netns whose name starts with prefix. */
function netnsMounts(prefix: string): string[] {
  return mountPoints()
    .filter((m) => m.startsWith(`/run/netns/${prefix}`))
    .sort();
}

function nftRuleset(sb: Sandbox): string {
  return ok(sb.inHost(['nft', 'list', 'ruleset']), 'nft list ruleset').stdout;
}

function hasNsnetTable(sb: Sandbox): boolean {
  const r = ok(sb.inHost(['nft', 'list', 'tables']), 'nft list tables');
  return /^table\s+\S+\s+nsnet\s*$/m.test(r.stdout);
}

interface PsEntry {
  Id: string;
  Name: string;
  State?: { Status?: string; Running?: boolean; Pid?: number };
}

async function psAll(sb: Sandbox): Promise<PsEntry[]> {
  return json<PsEntry[]>(ok(await sb.nsnet(['ps', '-a', '--format', 'json']), 'nsnet ps -a --format json'));
}

/** Docker's predefined networks, which network ls always lists (no records, no kernel objects). */
const PREDEFINED = ['host', 'none'];

/** The networks nsnet made: network ls without the predefined ones. */
async function networkLs(sb: Sandbox): Promise<Array<{ Name: string }>> {
  const all = json<Array<{ Name: string }>>(ok(await sb.nsnet(['network', 'ls', '--format', 'json']), 'nsnet network ls --format json'));
  return all.filter((n) => !PREDEFINED.includes(n.Name));
}

/** Rows in every table of the state database (absent database = no records). */
function stateRecords(root: string): Record<string, number> {
  const out: Record<string, number> = {};
  const files = fs.readdirSync(root).filter((f) => f.endsWith('.db'));
  for (const f of files) {
    const db = new Database(path.join(root, f), { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
        .all() as Array<{ name: string }>;
      for (const { name } of tables) {
        const row = db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number };
        out[`${f}:${name}`] = row.n;
      }
    } finally {
      db.close();
    }
  }
  return out;
}

interface Snapshot {
  links: string[];
  netns: string[];
  mounts: string[];
  nft: string;
  ps: string[];
  networks: string[];
}

/**
 * A JSON listing for snapshots: parsed when the output is JSON, else the raw output (so a broken
 * --format json still lets before/after comparisons run; dedicated tests assert the JSON itself).
 */
async function listing(sb: Sandbox, args: string[], key: (e: Record<string, any>) => string): Promise<string[]> {
  const r = ok(await sb.nsnet(args), `nsnet ${args.join(' ')}`);
  try {
    return (JSON.parse(r.stdout) as Array<Record<string, any>>).map(key).sort();
  } catch {
    return [`(not JSON) ${r.stdout.trim()}`];
  }
}

/** Everything a command could leave behind, for before/after comparisons. */
async function snapshot(sb: Sandbox): Promise<Snapshot> {
  return {
    links: hostLinks(sb).map((l) => `${l.ifname} kind=${l.kind ?? '-'} master=${l.master ?? '-'}`),
    netns: netnsEntries(sb.prefix),
    mounts: netnsMounts(sb.prefix),
    nft: nftRuleset(sb),
    ps: await listing(sb, ['ps', '-a', '--format', 'json'], (c) => `${c.Name} ${c.Id} ${c.State?.Status ?? '?'}`),
    networks: await listing(sb, ['network', 'ls', '--format', 'json'], (n) => `${n.Name} ${n.Subnet} containers=${n.Containers}`),
  };
}

/** The by-hand command lines of a --dry-run output, without nft heredoc bodies. */
function commandLines(stdout: string): string[] {
  const out: string[] = [];
  let inHeredoc = false;
  for (const line of stdout.split('\n')) {
    if (inHeredoc) {
      if (line === 'EOF') inHeredoc = false;
      continue;
    }
    if (line.trim() === '') continue;
    out.push(line);
    if (/<<\s*'?EOF'?\s*$/.test(line)) inHeredoc = true;
  }
  return out;
}

/** A process's container-visible facts before removal, to prove it is gone afterwards. */
interface ContainerFacts {
  name: string;
  pid: number;
  netnsInode: number;
  hostIfs: string[];
}

async function containerFacts(sb: Sandbox, name: string): Promise<ContainerFacts> {
  const [c] = json<Array<{ State: { Pid: number }; NetworkSettings: { Networks: Record<string, { HostInterface?: string; EndpointID: string }> } }>>(
    ok(await sb.nsnet(['inspect', name]), `inspect ${name}`),
  );
  assert.ok(c, `inspect ${name} returned an empty array`);
  const ino = netnsInode(name);
  assert.ok(ino !== undefined, `/run/netns/${name} should be a mounted namespace`);
  // The host-side veths are the links in the sandbox host whose peer lives in this namespace.
  const hostIfs: string[] = [];
  const r = ok(sb.inHost(['ip', '-j', 'link', 'show', 'type', 'veth']));
  const veths = json<Array<{ ifname: string; link_netnsid?: number }>>(r);
  const peerIdx = json<Array<{ link_index?: number; ifname: string }>>(ok(runSync(['ip', '-n', name, '-j', 'link', 'show', 'type', 'veth'])));
  const hostIdx = new Set(peerIdx.map((p) => p.link_index));
  const all = json<Array<{ ifindex: number; ifname: string }>>(ok(sb.inHost(['ip', '-j', 'link', 'show'])));
  for (const v of veths) {
    const idx = all.find((a) => a.ifname === v.ifname)?.ifindex;
    if (idx !== undefined && hostIdx.has(idx)) hostIfs.push(v.ifname);
  }
  return { name, pid: c.State.Pid, netnsInode: ino, hostIfs };
}

/**
 * The kernel tears a deleted namespace down asynchronously, so its veths (and their host peers)
 * can outlive `ip netns del` by some milliseconds. assertContainerGone waits up to settleMs for
 * the host veths; the dedicated "gone when rm returns" test checks with no wait at all.
 */
async function assertContainerGone(sb: Sandbox, f: ContainerFacts, settleMs = 2000): Promise<void> {
  const deadline = Date.now() + settleMs;
  let links = hostLinks(sb).map((l) => l.ifname);
  while (f.hostIfs.some((i) => links.includes(i)) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 20));
    links = hostLinks(sb).map((l) => l.ifname);
  }
  for (const ifname of f.hostIfs) assert.ok(!links.includes(ifname), `${f.name}: host veth ${ifname} is still there after ${settleMs} ms`);
  assert.ok(!fs.existsSync(`/run/netns/${f.name}`), `${f.name}: /run/netns/${f.name} still exists`);
  assert.ok(!mountPoints().includes(`/run/netns/${f.name}`), `${f.name}: /run/netns/${f.name} is still mounted`);
  const inNs = pidsInNetns(new Set([f.netnsInode]));
  assert.deepEqual(inNs, [], `${f.name}: processes still in its network namespace`);
  if (pidAlive(f.pid)) {
    assert.notEqual(pidNetnsInode(f.pid), f.netnsInode, `${f.name}: its process ${f.pid} is still alive`);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The article's Docker transcript on the default network

requiredSuite('article transcript: three containers on the default network', { needs: [needs.integration] }, () => {
  let sb: Sandbox;
  let p: string;
  const names = (): Record<'blue' | 'green' | 'red', string> => ({ blue: `${p}blue`, green: `${p}green`, red: `${p}red` });
  let subnet = '';
  let gateway = '';
  const ipOf: Record<string, string> = {};

  before(async () => {
    sb = await createSandbox('a');
    p = sb.prefix;
  });
  after(async () => {
    const report = await sb?.destroy();
    if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
  });

  it('nsnet run -d --name blue|green|red -- sleep 1000 each exit 0', async () => {
    for (const name of Object.values(names())) {
      const r = await sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000']);
      ok(r, `run -d --name ${name}`);
      assert.ok(!r.stdioHeldOpen, `run -d must not leave the caller's stdout/stderr held open\n${describeResult(r)}`);
    }
  });

  it('ip link show master nsnet0 lists three veths on the nsnet0 bridge', () => {
    const bridge = hostLinks(sb).find((l) => l.ifname === 'nsnet0');
    assert.ok(bridge, 'the default bridge nsnet0 exists in the host namespace');
    assert.equal(bridge.kind, 'bridge');
    const r = ok(sb.inHost(['ip', '-j', 'link', 'show', 'master', 'nsnet0']), 'ip -j link show master nsnet0');
    const enslaved = json<Array<{ ifname: string }>>(r);
    assert.equal(enslaved.length, 3, `three links enslaved to nsnet0: ${r.stdout}`);
    const kinds = linksOfMaster(sb, 'nsnet0').map((l) => l.kind);
    assert.deepEqual(kinds, ['veth', 'veth', 'veth']);
  });

  it('network inspect bridge: Docker-shaped JSON with the three containers', async () => {
    const r = ok(await sb.nsnet(['network', 'inspect', 'bridge']), 'network inspect bridge');
    const arr = json<Array<Record<string, any>>>(r);
    assert.equal(arr.length, 1);
    const n = arr[0]!;
    assert.equal(n.Name, 'bridge');
    assert.match(String(n.Id), /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(String(n.Created))), `Created is a date: ${n.Created}`);
    assert.match(String(n.Created), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.equal(n.Scope, 'local');
    assert.equal(n.Driver, 'bridge');
    assert.equal(n.EnableIPv6, false);
    assert.equal(n.Internal, false);
    assert.equal(n.IPAM?.Driver, 'default');
    subnet = String(n.IPAM?.Config?.[0]?.Subnet);
    gateway = String(n.IPAM?.Config?.[0]?.Gateway);
    assert.match(subnet, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    assert.ok(inSubnet(gateway, subnet), `gateway ${gateway} inside ${subnet}`);
    assert.equal(n.Options?.['com.docker.network.bridge.name'], 'nsnet0');
    assert.deepEqual(
      ipv4Of(sb, 'host', 'nsnet0'),
      [{ local: gateway, prefixlen: Number(subnet.split('/')[1]) }],
      'the bridge holds the gateway address',
    );
    const containers = Object.entries(n.Containers as Record<string, Record<string, string>>);
    assert.equal(containers.length, 3, `three containers attached: ${JSON.stringify(n.Containers)}`);
    const seen = new Set<string>();
    for (const [id, c] of containers) {
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.ok(Object.values(names()).includes(c.Name!), `unexpected container ${c.Name}`);
      assert.match(String(c.EndpointID), /^[0-9a-f]{64}$/);
      assert.match(String(c.MacAddress), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(String(c.IPv4Address));
      assert.ok(m, `IPv4Address is a.b.c.d/len: ${c.IPv4Address}`);
      assert.ok(inSubnet(m[1]!, subnet), `${c.IPv4Address} inside ${subnet}`);
      assert.equal(m[2], subnet.split('/')[1]);
      assert.notEqual(m[1], gateway);
      assert.ok(!seen.has(m[1]!), `address ${m[1]} handed out twice`);
      seen.add(m[1]!);
      ipOf[c.Name!] = m[1]!;
    }
  });

  it('nsnet exec NAME ip addr show eth0: each container has its address on eth0', async () => {
    assert.ok(subnet, 'needs the subnet from network inspect');
    for (const name of Object.values(names())) {
      const r = ok(await sb.nsnet(['exec', name, 'ip', '-j', 'addr', 'show', 'eth0']), `exec ${name} ip addr show eth0`);
      const [eth0] = json<Array<{ ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(r);
      assert.equal(eth0?.ifname, 'eth0');
      const v4 = eth0.addr_info.filter((a) => a.family === 'inet');
      assert.equal(v4.length, 1, `one IPv4 address on eth0: ${r.stdout}`);
      assert.ok(inSubnet(v4[0]!.local, subnet), `${v4[0]!.local} inside ${subnet}`);
      assert.equal(v4[0]!.local, ipOf[name], 'eth0 address matches network inspect');
    }
  });

  it('nsnet exec NAME ip addr show eth0 says nothing on stderr (no "Peer netns reference is invalid")', async () => {
    // blue started first: the namespaces of green and red were mounted after its mount
    // namespace was made, and ip looks up eth0's link-netnsid through every /run/netns entry.
    for (const name of Object.values(names())) {
      const r = ok(await sb.nsnet(['exec', name, 'ip', 'addr', 'show', 'eth0']), `exec ${name} ip addr show eth0`);
      assert.match(r.stdout, /eth0@if\d+:/);
      assert.equal(r.stderr, '', `exec ${name} ip addr show eth0 wrote to stderr\n${describeResult(r)}`);
    }
  });

  it('ip netns exec red ip route: default via the gateway', () => {
    const r = ok(runSync(['ip', 'netns', 'exec', names().red, 'ip', 'route']), 'ip netns exec red ip route');
    assert.match(r.stdout, new RegExp(`^default via ${gateway.replace(/\./g, '\\.')} dev eth0`, 'm'));
  });

  it('containers reach each other: exec red ping blue', async () => {
    const blueIp = ipOf[names().blue];
    assert.ok(blueIp);
    ok(await sb.nsnet(['exec', names().red, 'ping', '-c', '1', '-W', '2', blueIp]), `red ping blue (${blueIp})`);
    ok(await sb.nsnet(['exec', names().blue, 'ping', '-c', '1', '-W', '2', ipOf[names().green]!]), 'blue ping green');
  });

  it('a container reaches the outside world: exec green ping 203.0.113.8', async () => {
    // Sanity: the world has no route back to the container subnet, only NAT can make this work.
    const routes = ok(sb.inWorld(['ip', 'route'])).stdout;
    assert.doesNotMatch(routes, /default/);
    assert.ok(!routes.includes(subnet.split('/')[0]!), `world must not route ${subnet}: ${routes}`);
    ok(await sb.nsnet(['exec', names().green, 'ping', '-c', '1', '-W', '2', WORLD_IP]), `green ping ${WORLD_IP}`);
  });

  it('masquerade: the world sees the host uplink address, not the container', async () => {
    const port = 18080;
    const server =
      `const net=require('net');` +
      `const s=net.createServer(c=>{console.log('FROM '+c.remoteAddress);c.end(c.remoteAddress+'\\n');});` +
      `s.listen(${port},'${WORLD_IP}',()=>console.log('READY'));` +
      `setTimeout(()=>process.exit(0),20000);`;
    const child = sb.spawnInWorld([process.execPath, '-e', server]);
    let out = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`world listener did not start: ${out}`)), 10_000);
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('READY')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`world listener exited: ${out}`)));
    });
    try {
      await ready;
      const client =
        `const s=require('net').connect(${port},'${WORLD_IP}');let d='';` +
        `s.setEncoding('utf8');s.on('data',x=>d+=x);s.on('end',()=>{process.stdout.write('SEEN '+d);process.exit(0);});` +
        `s.on('error',e=>{console.error(e.message);process.exit(3);});setTimeout(()=>{console.error('timeout');process.exit(4);},5000).unref();`;
      const r = ok(await sb.nsnet(['exec', names().green, process.execPath, '-e', client]), 'exec green node (TCP client to the world)');
      assert.match(r.stdout, /^SEEN (\S+)/);
      const seenByClient = /^SEEN (\S+)/.exec(r.stdout)![1]!.replace(/^::ffff:/, '');
      // Give the server's own log line a moment to arrive.
      for (let i = 0; i < 20 && !out.includes('FROM '); i++) await new Promise((res) => setTimeout(res, 50));
      const m = /FROM (\S+)/.exec(out);
      assert.ok(m, `the world listener saw a connection: ${out}`);
      const seen = m[1]!.replace(/^::ffff:/, '');
      assert.equal(seen, HOST_UPLINK_IP, 'source address seen by the world is the host uplink (masquerade)');
      assert.equal(seenByClient, HOST_UPLINK_IP);
      assert.notEqual(seen, ipOf[names().green]);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    }
  });

  it('nsnet inspect red: NetworkSettings and State in Docker shape', async () => {
    const red = names().red;
    const [c] = json<Array<Record<string, any>>>(ok(await sb.nsnet(['inspect', red]), 'inspect red'));
    assert.ok(c);
    assert.match(String(c.Id), /^[0-9a-f]{64}$/);
    const net = c.NetworkSettings?.Networks?.bridge;
    assert.ok(net, `NetworkSettings.Networks.bridge: ${JSON.stringify(c.NetworkSettings)}`);
    assert.equal(net.IPAddress, ipOf[red]);
    assert.equal(net.IPPrefixLen, Number(subnet.split('/')[1]));
    assert.equal(net.Gateway, gateway);
    assert.match(String(net.MacAddress), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.match(String(net.EndpointID), /^[0-9a-f]{64}$/);
    assert.equal(c.State?.Status, 'running');
    assert.equal(c.State?.Running, true);
    assert.ok(Number(c.State?.Pid) > 0);
    assert.equal(pidNetnsInode(Number(c.State.Pid)), netnsInode(red), 'State.Pid lives in /run/netns/red');
  });

  it('system reset --force with running containers leaves zero residue', async () => {
    const facts: ContainerFacts[] = [];
    for (const name of Object.values(names())) facts.push(await containerFacts(sb, name));
    const r = ok(await sb.nsnet(['system', 'reset', '--force']), 'system reset --force');
    void r;
    assert.equal(hasNsnetTable(sb), false, `no nsnet nft table left:\n${nftRuleset(sb)}`);
    for (const f of facts) await assertContainerGone(sb, f);
    assert.deepEqual(
      hostLinks(sb).map((l) => l.ifname),
      [UPLINK_IF, 'lo'].sort((a, b) => a.localeCompare(b)),
      'only lo and the uplink are left in the host namespace',
    );
    assert.deepEqual(netnsEntries(p), [], 'no /run/netns entries left');
    assert.deepEqual(netnsMounts(p), [], 'no /run/netns mounts left');
    assert.deepEqual(await psAll(sb), []);
    assert.deepEqual(await networkLs(sb), [], 'no network records left');
    const records = stateRecords(sb.root);
    assert.deepEqual(
      Object.entries(records).filter(([, n]) => n > 0),
      [],
      `state database has no records: ${JSON.stringify(records)}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The article's by-hand topology, with flags

requiredSuite('by-hand topology: study network, red 10.0.0.1 and blue 10.0.0.2', { needs: [needs.integration] }, () => {
  let sb: Sandbox;
  let p: string;
  let study: string;
  let br: string;
  let red: string;
  let blue: string;

  before(async () => {
    sb = await createSandbox('b');
    p = sb.prefix;
    study = `${p}study`;
    br = `${p}br`;
    red = `${p}red`;
    blue = `${p}blue`;
  });
  after(async () => {
    const report = await sb?.destroy();
    if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
  });

  it('network create --subnet 10.0.0.0/24 --gateway 10.0.0.254 -o bridge.name makes the bridge, NAT and forwarding', async () => {
    assert.ok(Buffer.byteLength(br) <= 15);
    ok(
      await sb.nsnet([
        'network', 'create', study,
        '--subnet', '10.0.0.0/24',
        '--gateway', '10.0.0.254',
        '-o', `com.docker.network.bridge.name=${br}`,
      ]),
      'network create study',
    );
    const link = hostLinks(sb).find((l) => l.ifname === br);
    assert.ok(link, `bridge ${br} exists`);
    assert.equal(link.kind, 'bridge');
    assert.deepEqual(ipv4Of(sb, 'host', br), [{ local: '10.0.0.254', prefixlen: 24 }]);
    const fwd = ok(sb.inHost(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim();
    assert.equal(fwd, '1', 'ip_forward is on in the (sandbox) host namespace');
    const rules = nftRuleset(sb);
    assert.match(rules, /table inet nsnet/);
    assert.match(rules, new RegExp(`ip saddr 10\\.0\\.0\\.0/24 oifname != "${br}" masquerade`));
    const [n] = json<Array<Record<string, any>>>(ok(await sb.nsnet(['network', 'inspect', study])));
    assert.equal(n?.IPAM?.Config?.[0]?.Subnet, '10.0.0.0/24');
    assert.equal(n?.IPAM?.Config?.[0]?.Gateway, '10.0.0.254');
    assert.equal(n?.Options?.['com.docker.network.bridge.name'], br);
  });

  it('run red --ip 10.0.0.1 and blue --ip 10.0.0.2 on the study network', async () => {
    ok(await sb.nsnet(['run', '-d', '--name', red, '--network', study, '--ip', '10.0.0.1', '--', 'sleep', '1000']), 'run red');
    ok(await sb.nsnet(['run', '-d', '--name', blue, '--network', study, '--ip', '10.0.0.2', '--', 'sleep', '1000']), 'run blue');
    assert.deepEqual(linksOfMaster(sb, br).map((l) => l.kind), ['veth', 'veth'], 'two veths on the study bridge');
    assert.deepEqual(ipv4Of(sb, red, 'eth0'), [{ local: '10.0.0.1', prefixlen: 24 }]);
    assert.deepEqual(ipv4Of(sb, blue, 'eth0'), [{ local: '10.0.0.2', prefixlen: 24 }]);
  });

  it('red and blue ping each other', async () => {
    ok(await sb.nsnet(['exec', red, 'ping', '-c', '1', '-W', '2', '10.0.0.2']), 'red ping 10.0.0.2');
    ok(await sb.nsnet(['exec', blue, 'ping', '-c', '1', '-W', '2', '10.0.0.1']), 'blue ping 10.0.0.1');
  });

  it('ip netns exec red|blue ip route: default via 10.0.0.254', () => {
    for (const name of [red, blue]) {
      const r = ok(runSync(['ip', 'netns', 'exec', name, 'ip', 'route']), `ip netns exec ${name} ip route`);
      assert.match(r.stdout, /^default via 10\.0\.0\.254 dev eth0/m);
      assert.match(r.stdout, /^10\.0\.0\.0\/24 dev eth0 proto kernel scope link src 10\.0\.0\.\d/m);
    }
  });

  it('the study network reaches the world through NAT', async () => {
    ok(await sb.nsnet(['exec', red, 'ping', '-c', '1', '-W', '2', WORLD_IP]), `red ping ${WORLD_IP}`);
  });

  it('hostname inside the container is its name', async () => {
    const r = ok(await sb.nsnet(['exec', red, 'hostname']), 'exec red hostname');
    assert.equal(r.stdout.trim(), red);
  });

  it('inspect red: Networks[study] has 10.0.0.1/24 via 10.0.0.254, MAC, endpoint; State running with a Pid', async () => {
    const [c] = json<Array<Record<string, any>>>(ok(await sb.nsnet(['inspect', red]), 'inspect red'));
    assert.ok(c);
    const n = c.NetworkSettings?.Networks?.[study];
    assert.ok(n, `NetworkSettings.Networks[${study}]: ${JSON.stringify(c.NetworkSettings)}`);
    assert.equal(n.IPAddress, '10.0.0.1');
    assert.equal(n.IPPrefixLen, 24);
    assert.equal(n.Gateway, '10.0.0.254');
    assert.match(String(n.MacAddress), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.match(String(n.EndpointID), /^[0-9a-f]{64}$/);
    const eth0 = json<Array<{ address: string }>>(ok(runSync(['ip', '-n', red, '-j', 'link', 'show', 'eth0'])));
    assert.equal(eth0[0]?.address, n.MacAddress, 'MacAddress is eth0s address');
    assert.equal(c.State?.Running, true);
    assert.equal(c.State?.Status, 'running');
    assert.ok(Number(c.State?.Pid) > 0, `State.Pid > 0: ${JSON.stringify(c.State)}`);
    assert.equal(pidNetnsInode(Number(c.State.Pid)), netnsInode(red));
  });

  it('a failed run (address 10.0.0.1 already taken) exits 125 and leaves nothing behind', async () => {
    const before = await snapshot(sb);
    const dup = `${p}dup`;
    const r = await sb.nsnet(['run', '-d', '--name', dup, '--network', study, '--ip', '10.0.0.1', '--', 'sleep', '1000']);
    assert.equal(r.code, 125, describeResult(r));
    assert.match(r.stderr, /ADDRESS_IN_USE|in use|already (allocated|taken|assigned)/i, describeResult(r));
    assert.ok(!fs.existsSync(`/run/netns/${dup}`), `/run/netns/${dup} must not exist`);
    assert.deepEqual(await snapshot(sb), before);
  });

  it('a second container with a taken name exits 125 and leaves nothing behind', async () => {
    const before = await snapshot(sb);
    const r = await sb.nsnet(['run', '-d', '--name', red, '--network', study, '--', 'sleep', '1000']);
    assert.equal(r.code, 125, describeResult(r));
    assert.match(r.stderr, /NAME_IN_USE|in use|already exists|taken/i, describeResult(r));
    assert.deepEqual(await snapshot(sb), before);
  });

  it('exec returns the command exit code', async () => {
    const r = await sb.nsnet(['exec', red, 'sh', '-c', 'exit 5']);
    assert.equal(r.code, 5, describeResult(r));
  });

  it('run --rm in the foreground returns the exit code, shows the output and leaves nothing', async () => {
    const before = await snapshot(sb);
    const fg = `${p}fg`;
    const r = await sb.nsnet(['run', '--rm', '--name', fg, '--network', study, '--', 'sh', '-c', 'ip -4 -o addr show eth0; exit 7']);
    assert.equal(r.code, 7, describeResult(r));
    assert.match(r.stdout, /inet 10\.0\.0\.\d+\/24/, describeResult(r));
    assert.ok(!fs.existsSync(`/run/netns/${fg}`), `/run/netns/${fg} removed`);
    // The host veth of the removed namespace may take a few ms to go (asynchronous netns teardown).
    const deadline = Date.now() + 2000;
    let now = await snapshot(sb);
    while (JSON.stringify(now) !== JSON.stringify(before) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      now = await snapshot(sb);
    }
    assert.deepEqual(now, before);
  });

  it('network rm refuses while containers are attached, naming them', async () => {
    const r = await sb.nsnet(['network', 'rm', study]);
    assert.equal(r.code, 1, describeResult(r));
    assert.ok(r.stderr.includes(red) && r.stderr.includes(blue), `names the attached containers\n${describeResult(r)}`);
    assert.ok(hostLinks(sb).some((l) => l.ifname === br), 'the bridge is still there');
  });

  let rmFacts: ContainerFacts[] = [];
  it('rm -f red blue exits 0, and their host veths are gone when it returns', async () => {
    rmFacts = [await containerFacts(sb, red), await containerFacts(sb, blue)];
    assert.equal(rmFacts.every((f) => f.hostIfs.length === 1), true, `each container has one host veth: ${JSON.stringify(rmFacts)}`);
    ok(await sb.nsnet(['rm', '-f', red, blue]), 'rm -f red blue');
    const links = hostLinks(sb).map((l) => l.ifname);
    const left = rmFacts.flatMap((f) => f.hostIfs).filter((i) => links.includes(i));
    assert.deepEqual(left, [], 'host-side veths still present right after `nsnet rm -f` returned');
  });

  it('after rm -f and network rm study: zero residue', async () => {
    assert.equal(rmFacts.length, 2, 'needs the previous test');
    for (const f of rmFacts) await assertContainerGone(sb, f);
    assert.deepEqual(await psAll(sb), [], 'no container records');
    ok(await sb.nsnet(['network', 'rm', study]), 'network rm study');
    assert.ok(!hostLinks(sb).some((l) => l.ifname === br), `bridge ${br} removed`);
    assert.deepEqual(
      hostLinks(sb).map((l) => l.ifname),
      [UPLINK_IF, 'lo'].sort((a, b) => a.localeCompare(b)),
      'only lo and the uplink are left in the host namespace',
    );
    assert.deepEqual(netnsEntries(p), []);
    assert.deepEqual(netnsMounts(p), []);
    assert.deepEqual(await networkLs(sb), [], 'no network records');
    assert.equal(hasNsnetTable(sb), false, `no nsnet nft table once no network is left:\n${nftRuleset(sb)}`);
    const records = stateRecords(sb.root);
    assert.deepEqual(Object.entries(records).filter(([, n]) => n > 0), [], `no records: ${JSON.stringify(records)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. --dry-run prints the by-hand commands and changes nothing

requiredSuite('--dry-run prints ip/nft/sysctl commands and changes nothing', { needs: [needs.integration] }, () => {
  let sb: Sandbox;
  let p: string;

  before(async () => {
    sb = await createSandbox('d');
    p = sb.prefix;
  });
  after(async () => {
    const report = await sb?.destroy();
    if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
  });

  const assertOnlyCommands = (r: RunResult): string[] => {
    const lines = commandLines(r.stdout);
    assert.ok(lines.length > 0, `dry-run printed commands\n${describeResult(r)}`);
    for (const l of lines) assert.match(l, /^(ip|nft|sysctl|bridge) /, `every line is an ip/bridge/nft/sysctl command\n${describeResult(r)}`);
    return lines;
  };

  it('on an empty state, ps -a --format json prints [] and network ls --format json only the predefined host and none', async () => {
    const ps = ok(await sb.nsnet(['ps', '-a', '--format', 'json']));
    assert.deepEqual(json(ps), [], `empty listing is []\n${describeResult(ps)}`);
    const ls = ok(await sb.nsnet(['network', 'ls', '--format', 'json']));
    assert.deepEqual(json<Array<{ Name: string }>>(ls).map((n) => n.Name), PREDEFINED, describeResult(ls));
  });

  it('network create --dry-run', async () => {
    const before = await snapshot(sb);
    const forwardBefore = ok(sb.inHost(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim();
    const net = `${p}dn`;
    const br = `${p}dbr`;
    const r = ok(
      await sb.nsnet(['network', 'create', '--dry-run', net, '--subnet', '10.5.0.0/24', '-o', `com.docker.network.bridge.name=${br}`]),
      'network create --dry-run',
    );
    const lines = assertOnlyCommands(r);
    const iBridge = lines.findIndex((l) => new RegExp(`^ip link add ${br}\\b.*type bridge`).test(l));
    const iAddr = lines.findIndex((l) => new RegExp(`^ip addr add 10\\.5\\.0\\.1/24\\b.*dev ${br}`).test(l));
    const iUp = lines.findIndex((l) => new RegExp(`^ip link set ${br} up`).test(l));
    assert.ok(iBridge >= 0, `creates the bridge\n${r.stdout}`);
    assert.ok(iAddr > iBridge, `then sets the gateway address\n${r.stdout}`);
    assert.ok(iUp > iBridge, `and brings it up\n${r.stdout}`);
    assert.ok(lines.some((l) => /^sysctl -w net\.ipv4\.ip_forward=1$/.test(l)), `enables forwarding\n${r.stdout}`);
    assert.ok(lines.some((l) => /^nft /.test(l)), `an nft transaction\n${r.stdout}`);
    assert.match(r.stdout, /masquerade/);
    assert.deepEqual(await snapshot(sb), before, 'nothing changed');
    assert.equal(ok(sb.inHost(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), forwardBefore, 'ip_forward untouched');
  });

  it('run --dry-run (default network not created yet)', async () => {
    const before = await snapshot(sb);
    const name = `${p}dry`;
    const r = ok(await sb.nsnet(['run', '--dry-run', '-d', '--name', name, '--', 'sleep', '1000']), 'run --dry-run');
    const lines = assertOnlyCommands(r);
    assert.ok(lines.some((l) => /^ip link add nsnet0\b.*type bridge/.test(l)), `creates the default bridge\n${r.stdout}`);
    assert.ok(lines.includes(`ip netns add ${name}`), `adds the namespace\n${r.stdout}`);
    assert.ok(lines.some((l) => /^ip link add \S+.*master nsnet0.*type veth.*peer name eth0 netns /.test(l) && l.includes(name)), `veth into it\n${r.stdout}`);
    assert.ok(lines.some((l) => new RegExp(`^ip (-n ${name}|netns exec ${name} ip) addr add \\d+\\.\\d+\\.\\d+\\.\\d+/\\d+`).test(l)), `addresses eth0\n${r.stdout}`);
    assert.ok(lines.some((l) => new RegExp(`^ip (-n ${name}|netns exec ${name} ip) route add default via `).test(l)), `default route\n${r.stdout}`);
    assert.ok(!fs.existsSync(`/run/netns/${name}`), 'no namespace made');
    assert.deepEqual(await snapshot(sb), before, 'nothing changed');
  });

  it('run --dry-run on an existing network shows the requested address and gateway', async () => {
    const net = `${p}dn2`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.6.0.0/24', '-o', `com.docker.network.bridge.name=${p}dbr2`]));
    const before = await snapshot(sb);
    const name = `${p}dry2`;
    const r = ok(await sb.nsnet(['--dry-run', 'run', '-d', '--name', name, '--network', net, '--ip', '10.6.0.7', '--', 'sleep', '1000']), 'global --dry-run run');
    const lines = assertOnlyCommands(r);
    assert.ok(lines.some((l) => /addr add 10\.6\.0\.7\/24\b/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /route add default via 10\.6\.0\.1\b/.test(l)), r.stdout);
    assert.ok(!lines.some((l) => /type bridge/.test(l)), `does not recreate the bridge\n${r.stdout}`);
    assert.deepEqual(await snapshot(sb), before, 'nothing changed');
    ok(await sb.nsnet(['network', 'rm', net]));
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Bad input and usage errors

requiredSuite('errors: bad input exits 1, usage errors exit 2, nothing left behind', { needs: [needs.integration] }, () => {
  let sb: Sandbox;
  let p: string;
  let net: string;
  let initial: Snapshot;

  before(async () => {
    sb = await createSandbox('e');
    p = sb.prefix;
    net = `${p}en`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.7.0.0/24', '-o', `com.docker.network.bridge.name=${p}ebr`]));
    initial = await snapshot(sb);
  });
  after(async () => {
    const report = await sb?.destroy();
    if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
  });

  const expectExit = async (args: string[], code: number, stderr?: RegExp): Promise<RunResult> => {
    const r = await sb.nsnet(args);
    assert.equal(r.code, code, describeResult(r));
    assert.ok(r.stderr.trim().length > 0, `an error message on stderr\n${describeResult(r)}`);
    if (stderr) assert.match(r.stderr, stderr, describeResult(r));
    return r;
  };

  it('network create --subnet 10.0.0.0/33 exits 1', async () => {
    await expectExit(['network', 'create', `${p}bad`, '--subnet', '10.0.0.0/33'], 1);
  });

  it('network create with a gateway outside the subnet exits 1', async () => {
    await expectExit(['network', 'create', `${p}bad`, '--subnet', '10.8.0.0/24', '--gateway', '10.9.0.1'], 1);
  });

  it('network create with an overlapping subnet exits 1', async () => {
    await expectExit(['network', 'create', `${p}bad`, '--subnet', '10.7.0.128/25'], 1);
  });

  it('run --ip 999.1.1.1 exits 125', async () => {
    await expectExit(['run', '-d', '--name', `${p}x`, '--network', net, '--ip', '999.1.1.1', '--', 'sleep', '1'], 125);
  });

  it('run --ip outside the subnet, the gateway, the network or broadcast address exits 125', async () => {
    for (const ip of ['10.8.0.5', '10.7.0.1', '10.7.0.0', '10.7.0.255']) {
      await expectExit(['run', '-d', '--name', `${p}x`, '--network', net, '--ip', ip, '--', 'sleep', '1'], 125);
    }
  });

  it('run --network nosuch exits 125', async () => {
    await expectExit(['run', '-d', '--name', `${p}x`, '--network', `${p}nosuch`, '--', 'sleep', '1'], 125);
  });

  it('exec / inspect / rm of an unknown container exit 1; rm -f ignores it (exit 0), as Docker 20.10', async () => {
    await expectExit(['exec', `${p}nosuch`, 'true'], 1);
    await expectExit(['inspect', `${p}nosuch`], 1);
    await expectExit(['rm', `${p}nosuch`], 1);
    // -f ignores a missing container silently, as Docker 20.10 does: exit 0, nothing said.
    const forced = await sb.nsnet(['rm', '-f', `${p}nosuch`]);
    assert.equal(forced.code, 0, describeResult(forced));
    assert.equal(forced.stderr, '', describeResult(forced));
  });

  it('usage errors exit 2 (125 for run, as Docker): unknown flag, unknown command, missing argument', async () => {
    await expectExit(['run', '--no-such-flag', '--name', `${p}x`, '--', 'true'], 125);
    await expectExit(['network', 'create', '--no-such-flag', `${p}x`], 2);
    await expectExit(['frobnicate'], 2);
    await expectExit(['network', 'create'], 2);
  });

  it('a name that ip netns already has (not nsnet\'s) is refused and left alone', async () => {
    const alien = `${p}alien`;
    ok(runSync(['ip', 'netns', 'add', alien]), 'ip netns add alien');
    const ino = netnsInode(alien);
    await expectExit(['run', '-d', '--name', alien, '--network', net, '--', 'sleep', '1000'], 125);
    assert.equal(netnsInode(alien), ino, 'the foreign namespace is untouched');
    assert.deepEqual(pidsInNetns(new Set([ino!])), [], 'no process started in it');
    ok(runSync(['ip', 'netns', 'del', alien]));
  });

  it('a bridge name already used by another link is refused and that link left alone', async () => {
    const taken = `${p}tk`;
    ok(sb.inHost(['ip', 'link', 'add', taken, 'type', 'veth', 'peer', 'name', `${p}tkp`]), 'ip link add (a veth pair, not a bridge)');
    try {
      const before = await snapshot(sb);
      await expectExit(['network', 'create', `${p}clash`, '--subnet', '10.9.0.0/24', '-o', `com.docker.network.bridge.name=${taken}`], 1);
      assert.deepEqual(await snapshot(sb), before, 'nothing changed (the foreign link is still there, no record, same nft)');
      assert.equal(hostLinks(sb).find((l) => l.ifname === taken)?.kind, 'veth');
    } finally {
      sb.inHost(['ip', 'link', 'del', taken]);
    }
  });

  it('run with a MAC address the kernel refuses (multicast) exits 125 and leaves nothing', async () => {
    await expectExit(['run', '-d', '--name', `${p}mc`, '--network', net, '--mac-address', '01:00:5e:00:00:01', '--', 'sleep', '1000'], 125);
    assert.ok(!fs.existsSync(`/run/netns/${p}mc`));
  });

  it('after all these errors nothing changed', async () => {
    assert.deepEqual(await snapshot(sb), initial);
    assert.deepEqual(netnsEntries(p), []);
  });
});
