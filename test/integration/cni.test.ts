/**
 * nsnet-cni against the real kernel in a sandbox: the executable runtimes call (bin/nsnet-cni,
 * the C client), its first call handled by the Node plugin and the rest by the service it
 * starts; attachments of runtime-owned namespaces sharing the store with CLI containers; the
 * spec's error paths; IPv6 (a dual-stack conflist: both addresses, the world and a published
 * port over both families, CHECK, DEL; an IPv6-only conflist); and a driver built on the
 * reference CNI library (libcni) doing what a runtime does: ADD, CHECK (also after the interface
 * was broken on purpose), DEL twice, GC, and ADD/CHECK/DEL with a dual-stack conflist.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildCniDriver, type CniDriverBuild } from '../helpers/cni-driver.js';
import { client, SERVER } from '../helpers/probes.js';
import { ok } from '../helpers/assert.js';
import {
  createSandbox,
  describeResult,
  HOST_UPLINK_IP,
  HOST_UPLINK_IP6,
  NSNET_BIN,
  pidStartTime,
  pidState,
  REPO,
  runSync,
  WORLD_IP,
  WORLD_IP6,
  WORLD_UPLINK_IP,
  WORLD_UPLINK_IP6,
  type RunResult,
  type Sandbox,
} from '../helpers/sandbox.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const CNI_BIN = path.join(REPO, 'bin', 'nsnet-cni');

/** node -e DNS_QUERY SERVER NAME: one A query over UDP; prints the addresses, or exits 1. */
const DNS_QUERY = `
const dns = require(${JSON.stringify(path.join(REPO, 'node_modules', 'dns-packet'))});
const [server, name] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m) => { const p = dns.decode(m); console.log(p.answers.map((a) => a.data).join(' ')); process.exit(p.rcode === 'NOERROR' ? 0 : 1); });
s.send(dns.encode({ id: 1, type: 'query', flags: dns.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
setTimeout(() => process.exit(1), 3000);
`;
const SUBNET = '10.61.0.0/24';
const GATEWAY = '10.61.0.1';

/** How many containers (CNI ones included) the sandbox's store has. */
async function containerCount(sb: Sandbox): Promise<number> {
  return (JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as unknown[]).length;
}

/** The IPAM part of a dual-stack conflist, as Podman writes it for the bridge plugin. */
const dualIpam = (v4: string, v6: string): Record<string, unknown> => ({
  type: 'host-local',
  routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  ranges: [[{ subnet: v4 }], [{ subnet: v6 }]],
});

/** Addresses of an interface in a namespace (global scope), as `ip -o addr` prints them. */
function addressesIn(netns: string, family: '-4' | '-6'): string[] {
  const r = runSync(['nsenter', `--net=${netns}`, 'ip', '-o', family, 'addr', 'show', 'dev', 'eth0', 'scope', 'global']);
  return r.code !== 0 ? [] : r.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3]!);
}

interface Reply {
  r: RunResult;
  json: Record<string, unknown> | undefined;
}

requiredSuite('nsnet-cni', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let conf: Record<string, unknown> = {};
  const made: string[] = [];

  before(async () => {
    sb = await createSandbox('cni');
    conf = { cniVersion: '1.0.0', name: `${sb.prefix}net`, type: 'nsnet-cni', bridge: `${sb.prefix}br`, subnet: SUBNET };
  });
  after(async () => {
    for (const ns of made) runSync(['ip', 'netns', 'del', ns]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  /** A namespace as a runtime makes it (nsnet is only told its path). */
  function runtimeNetns(name: string): string {
    const full = `${sb!.prefix}${name}`;
    ok(runSync(['ip', 'netns', 'add', full]));
    made.push(full);
    return `/run/netns/${full}`;
  }

  function call(env: Record<string, string>, stdin: unknown, bin = [CNI_BIN]): Reply {
    const r = sb!.inHost(bin, {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb!.root, CNI_PATH: path.dirname(CNI_BIN), ...env },
      input: typeof stdin === 'string' ? stdin : JSON.stringify(stdin),
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as Record<string, unknown>);
    } catch {
      assert.fail(`stdout is not JSON:\n${describeResult(r)}`);
    }
    return { r, json };
  }

  const add = (id: string, netns: string, extra: Record<string, string> = {}, c: Record<string, unknown> = conf): Reply =>
    call({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', ...extra }, c);
  const del = (id: string, netns: string, ifName = 'eth0'): Reply => call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: ifName }, conf);

  function succeeded(reply: Reply, what: string): Record<string, unknown> {
    assert.equal(reply.r.code, 0, `${what} should succeed\n${describeResult(reply.r)}`);
    return reply.json ?? {};
  }

  function failedWith(reply: Reply, code: number, message: RegExp): void {
    assert.equal(reply.r.code, 1, `should fail\n${describeResult(reply.r)}`);
    assert.equal(reply.json?.['code'], code, describeResult(reply.r));
    assert.match(String(reply.json?.['msg']), message);
  }

  const inNs = (netns: string, argv: string[]): RunResult => runSync(['nsenter', `--net=${netns}`, ...argv]);
  const ping = (netns: string, ip: string): RunResult => inNs(netns, ['ping', '-c1', '-W2', ip]);
  const services = (): string[] => (fs.existsSync(path.join(sb!.root, 'service')) ? fs.readdirSync(path.join(sb!.root, 'service')).filter((f) => f.endsWith('.sock')) : []);

  /** The world's answer from a published port (retried: the listener in the namespace starts in the background). */
  async function fromWorld(host: string, port: number): Promise<string> {
    let answer: RunResult | undefined;
    for (let i = 0; i < 20; i++) {
      answer = sb!.inWorld(client('tcp', host, port));
      if (answer.code === 0) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    return ok(answer!, `the world connects to ${host} port ${port}`).stdout.trim();
  }

  test('ADD wires a runtime namespace: result, address from the shared store, routes, NAT; the service takes over after the first call', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const a = runtimeNetns('rta');
    const b = runtimeNetns('rtb');
    assert.deepEqual(services(), [], 'no service before the first call');
    const first = succeeded(add('aaaa000000000001', a), 'first ADD (in-process)');
    assert.equal(first['cniVersion'], '1.0.0');
    assert.deepEqual(first['ips'], [{ address: '10.61.0.2/24', gateway: GATEWAY, interface: 2 }]);
    assert.deepEqual(first['routes'], [{ dst: '0.0.0.0/0', gw: GATEWAY }]);
    const ifaces = first['interfaces'] as Array<{ name: string; mac?: string; sandbox?: string }>;
    assert.equal(ifaces[0]!.name, `${sb.prefix}br`);
    assert.deepEqual(ifaces[2], { name: 'eth0', mac: '02:42:0a:3d:00:02', sandbox: a });
    // The first call started the service; wait for its socket, then the next call goes there.
    for (let i = 0; i < 100 && services().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(services().length, 1, 'the first call starts the service');
    const second = succeeded(add('bbbb000000000002', b), 'second ADD (through the service)');
    assert.deepEqual(second['ips'], [{ address: '10.61.0.3/24', gateway: GATEWAY, interface: 2 }]);
    const log = fs.readFileSync(path.join(sb.root, 'service', 'service.log'), 'utf8');
    assert.match(log, /ADD bbbb000000000002 eth0 → 0 in/, 'the service answered the second ADD');

    // A CLI container on the same network gets the next address, never one CNI handed out.
    const cli = `${sb.prefix}cli`;
    ok(await sb.nsnet(['run', '-d', '--name', cli, '--network', String(conf['name']), '--', 'sleep', '1000']));
    const cliIp = Object.values((JSON.parse(ok(await sb.nsnet(['inspect', cli])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>)[0]!.NetworkSettings.Networks)[0]!.IPAddress;
    assert.equal(cliIp, '10.61.0.4');

    ok(ping(a, GATEWAY), 'runtime container → gateway');
    ok(ping(a, '10.61.0.3'), 'runtime container → sibling');
    ok(ping(a, cliIp), 'runtime container → CLI container');
    ok(ping(a, WORLD_IP), 'runtime container → world through NAT');

    // ps and inspect show whose containers they are.
    const ps = ok(await sb.nsnet(['ps', '--format', '{{.Names}} {{.Command}} {{.Status}} {{.Networks}}'])).stdout;
    assert.match(ps, new RegExp(`^cni-aaaa00000000 "\\S+ aaaa00000000" Attached \\(\\S+\\) ${String(conf['name'])}$`, 'm'));
    assert.equal(ok(await sb.nsnet(['inspect', '-f', `{{.NetworkSettings.Networks.${String(conf['name'])}.IPAddress}}`, 'cni-aaaa00000000'])).stdout, '10.61.0.2\n');
    const inspect = JSON.parse(ok(await sb.nsnet(['inspect', 'cni-bbbb00000000'])).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual((inspect[0]!['Runtime'] as Record<string, unknown>)['ContainerID'], 'bbbb000000000002');
    assert.equal((inspect[0]!['NetworkSettings'] as Record<string, unknown>)['SandboxKey'], b);
    const net = JSON.parse(ok(await sb.nsnet(['network', 'inspect', String(conf['name'])])).stdout) as Array<{ Containers: Record<string, { Name: string }> }>;
    assert.deepEqual(Object.values(net[0]!.Containers).map((c) => c.Name).sort(), ['cni-aaaa00000000', 'cni-bbbb00000000', cli].sort());
    // nsnet leaves a runtime's container to the runtime.
    const refused = await sb.nsnet(['stop', 'cni-aaaa00000000']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /runs it \(CNI container aaaa000000000001\)/);
    const rm = await sb.nsnet(['rm', 'cni-aaaa00000000']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /attached through CNI/);
    ok(await sb.nsnet(['system', 'check']), 'system check covers CNI attachments');

    for (const [id, ns] of [['aaaa000000000001', a], ['bbbb000000000002', b]] as const) succeeded(del(id, ns), 'DEL');
    ok(await sb.nsnet(['rm', '-f', cli]));
    assert.equal(inNs(a, ['ip', 'link', 'show', 'eth0']).code, 1, 'DEL takes the interface away');
    assert.equal(runSync(['ip', 'netns', 'list']).stdout.includes(`${sb.prefix}rta`), true, 'the runtime namespace stays');
  });

  test('--ip/--mac-address (CNI_ARGS) and published ports (portMappings) work; the world reaches the port', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const ns = runtimeNetns('rtp');
    const withPorts = { ...conf, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 7000, protocol: 'tcp' }] } };
    const res = succeeded(add('pppp000000000001', ns, { CNI_ARGS: 'IgnoreUnknown=1;IP=10.61.0.50;MAC=02:00:00:00:00:50;K8S_POD_NAME=web' }, withPorts), 'ADD with IP, MAC, port');
    assert.deepEqual(res['ips'], [{ address: '10.61.0.50/24', gateway: GATEWAY, interface: 2 }]);
    assert.match(inNs(ns, ['ip', 'link', 'show', 'eth0']).stdout, /02:00:00:00:00:50/);
    assert.match(ok(await sb.nsnet(['port', 'cni-pppp00000000'])).stdout, /7000\/tcp -> 0\.0\.0\.0:8080/);
    const server = runSync(['sh', '-c', `nsenter --net=${ns} node -e "$0" >/dev/null 2>&1 & echo $!`, SERVER]);
    const pid = Number(server.stdout.trim());
    try {
      assert.equal(await fromWorld(HOST_UPLINK_IP, 8080), `tcp 7000 ${WORLD_UPLINK_IP}`);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    // The address is taken: another ADD asking for it is refused, naming it.
    const again = add('qqqq000000000001', runtimeNetns('rtq'), { CNI_ARGS: 'IP=10.61.0.50' });
    failedWith(again, 101, /10\.61\.0\.50/);
    succeeded(del('pppp000000000001', ns), 'DEL');
    // DEL frees the host port: a CLI container can publish it now.
    const next = `${sb.prefix}next`;
    ok(await sb.nsnet(['run', '-d', '--name', next, '-p', '8080:7000', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['rm', '-f', next]));
  });

  test('a network made with the CLI serves CNI too; the aliases capability, K8S_POD_NAME and the container name resolve in nsnet\'s DNS', async () => {
    assert.ok(sb, 'before() made the sandbox');
    // Forwarded queries go to the world's stand-in address (nothing answers there), never to a real resolver.
    const name = `${sb.prefix}dnet`;
    ok(await sb.nsnet(['network', 'create', '--subnet', '10.67.0.0/24', '-o', `nsnet.dns.servers=${WORLD_IP}`, name]));
    const ns = runtimeNetns('rtn');
    const dnsConf = { cniVersion: '1.0.0', name, type: 'nsnet-cni', capabilities: { aliases: true }, runtimeConfig: { aliases: { [name]: ['webalias'] } } };
    const res = succeeded(add('nnnn000000000001', ns, { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=webpod' }, dnsConf), 'ADD to the CLI-made network');
    assert.deepEqual(res['dns'], { nameservers: ['10.67.0.1'] });
    // The responder re-reads the store a moment after it changes.
    const query = async (qname: string): Promise<RunResult> => {
      let r = inNs(ns, [process.execPath, '-e', DNS_QUERY, '10.67.0.1', qname]);
      for (let i = 0; i < 10 && r.code !== 0; i++) {
        await new Promise((done) => setTimeout(done, 200));
        r = inNs(ns, [process.execPath, '-e', DNS_QUERY, '10.67.0.1', qname]);
      }
      return r;
    };
    assert.equal(ok(await query('webalias')).stdout.trim(), '10.67.0.2');
    assert.equal(ok(await query('cni-nnnn00000000')).stdout.trim(), '10.67.0.2');
    assert.equal(ok(await query('webpod')).stdout.trim(), '10.67.0.2', "the runtime's name for it (K8S_POD_NAME)");
    // A configuration contradicting the CLI-made network is refused, naming both values.
    failedWith(add('nnnn000000000002', runtimeNetns('rto'), {}, { ...dnsConf, subnet: '10.68.0.0/24' }), 7, /subnet is 10\.67\.0\.0\/24, the configuration says 10\.68\.0\.0\/24/);
    succeeded(call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'nnnn000000000001', CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, dnsConf), 'DEL');
  });

  test('each accepted configuration version gets its result in that version', async () => {
    assert.ok(sb, 'before() made the sandbox');
    for (const [i, version] of ['0.4.0', '1.0.0', '1.1.0'].entries()) {
      const ns = runtimeNetns(`rv${i}`);
      const id = `vvvv0000000${i}`;
      const res = succeeded(add(id, ns, {}, { ...conf, cniVersion: version }), `ADD ${version}`);
      assert.equal(res['cniVersion'], version);
      const ip = (res['ips'] as Array<Record<string, unknown>>)[0]!;
      assert.equal(ip['version'], version === '0.4.0' ? '4' : undefined, `${version}: the address ${version === '0.4.0' ? 'carries' : 'has no'} an IP version`);
      succeeded(call({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, { ...conf, cniVersion: version, prevResult: res }), `CHECK ${version}`);
      succeeded(call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, { ...conf, cniVersion: version, prevResult: res }), `DEL ${version}`);
    }
  });

  test('DEL is idempotent: twice, without ADD, with an empty CNI_NETNS, after the runtime deleted its namespace', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const ns = runtimeNetns('rtd');
    succeeded(add('dddd000000000001', ns), 'ADD');
    succeeded(del('dddd000000000001', ns), 'DEL');
    assert.equal(del('dddd000000000001', ns).r.stdout, '', 'a second DEL succeeds silently');
    succeeded(del('never-added', ns), 'DEL without ADD');
    succeeded(add('dddd000000000002', ns), 'ADD');
    // containerd's ctr: DEL with CNI_NETNS empty.
    succeeded(call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'dddd000000000002', CNI_NETNS: '', CNI_IFNAME: 'eth0' }, conf), 'DEL without netns');
    succeeded(add('dddd000000000003', ns), 'ADD');
    runSync(['ip', 'netns', 'del', `${sb.prefix}rtd`]);
    succeeded(del('dddd000000000003', ns), 'DEL after the namespace is gone');
    assert.equal(await containerCount(sb), 0, 'nothing left in the store');
    ok(await sb.nsnet(['system', 'check']));
  });

  test('CHECK passes on a healthy attachment and names what is missing after breaking it', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const ns = runtimeNetns('rtc');
    const prev = succeeded(add('cccc000000000001', ns), 'ADD');
    const env = { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'cccc000000000001', CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    succeeded(call(env, { ...conf, prevResult: prev }), 'CHECK');
    ok(inNs(ns, ['ip', 'link', 'set', 'eth0', 'down']));
    failedWith(call(env, { ...conf, prevResult: prev }), 100, /eth0 is down.*no default route/);
    failedWith(call({ ...env, CNI_CONTAINERID: 'unknown1' }, { ...conf, prevResult: prev }), 3, /unknown1 has no eth0 attachment/);
    failedWith(call(env, conf), 7, /CHECK needs prevResult/);
    succeeded(del('cccc000000000001', ns), 'DEL');
  });

  test('GC releases what the runtime no longer lists; STATUS reports an exhausted pool', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const keep = runtimeNetns('rtk');
    const drop = runtimeNetns('rtx');
    succeeded(add('keep00000001', keep), 'ADD keep');
    succeeded(add('drop00000001', drop), 'ADD drop');
    const cli = `${sb.prefix}gccli`;
    ok(await sb.nsnet(['run', '-d', '--name', cli, '--network', String(conf['name']), '--', 'sleep', '1000']));
    const gc = { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep00000001', ifname: 'eth0' }] };
    succeeded(call({ CNI_COMMAND: 'GC' }, gc), 'GC');
    assert.equal(inNs(drop, ['ip', 'link', 'show', 'eth0']).code, 1, 'GC took the stale interface away');
    ok(inNs(keep, ['ip', 'link', 'show', 'eth0']));
    assert.match(ok(await sb.nsnet(['ps'])).stdout, new RegExp(cli), 'GC leaves containers nsnet runs itself alone');
    ok(await sb.nsnet(['rm', '-f', cli]));
    succeeded(del('keep00000001', keep), 'DEL keep');

    const tiny = { cniVersion: '1.1.0', name: `${sb.prefix}tiny`, type: 'nsnet-cni', bridge: `${sb.prefix}bt`, subnet: '10.62.0.0/30' };
    succeeded(call({ CNI_COMMAND: 'STATUS' }, tiny), 'STATUS of a network not made yet');
    succeeded(add('tiny00000001', keep, {}, tiny), 'ADD the only address');
    failedWith(call({ CNI_COMMAND: 'STATUS' }, tiny), 50, /no free address/);
    failedWith(add('tiny00000002', drop, {}, tiny), 101, /no free address|exhausted/);
    succeeded(call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'tiny00000001', CNI_NETNS: keep, CNI_IFNAME: 'eth0' }, tiny), 'DEL');
    succeeded(call({ CNI_COMMAND: 'STATUS' }, tiny), 'STATUS with a free address');
  });

  test('system check finds an attachment whose namespace the runtime deleted without DEL, and --fix releases it', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const ns = runtimeNetns('rtg');
    succeeded(add('gone00000001', ns), 'ADD');
    ok(runSync(['ip', 'netns', 'del', `${sb.prefix}rtg`]));
    const check = await sb.nsnet(['system', 'check']);
    assert.equal(check.code, 1, describeResult(check));
    assert.match(check.stdout + check.stderr, /removed its namespace .*rtg without a CNI DEL/);
    assert.match(ok(await sb.nsnet(['ps', '-a'])).stdout, /Gone \(/);
    ok(await sb.nsnet(['system', 'check', '--fix']));
    ok(await sb.nsnet(['system', 'check']), 'nothing left to fix');
    assert.equal(await containerCount(sb), 0);
  });

  test('concurrent ADDs (some in-process, some through the service) and CLI runs never share an address', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = { ...conf, name: `${sb.prefix}cc`, bridge: `${sb.prefix}bcc`, subnet: '10.69.0.0/24' };
    const spaces = Array.from({ length: 12 }, (_, i) => runtimeNetns(`cc${i}`));
    const env = (i: number): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NSNET_ROOT: sb!.root,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: `conc000000${String(i).padStart(2, '0')}`,
      CNI_NETNS: spaces[i]!,
      CNI_IFNAME: 'eth0',
      CNI_PATH: path.dirname(CNI_BIN),
    });
    ok(await sb.nsnet(['network', 'create', '--subnet', net.subnet, '-o', `com.docker.network.bridge.name=${net.bridge}`, net.name]));
    // Half through nsnet-cni (the service), half the Node plugin in its own process (the fallback).
    const adds = spaces.map((_, i) =>
      sb!.inHostAsync(i % 2 === 0 ? [CNI_BIN] : [NSNET_BIN, 'cni-plugin'], { env: { ...env(i), NSNET_CNI_SERVICE: 'off' }, input: JSON.stringify(net), timeoutMs: 60_000 }),
    );
    const runs = [0, 1, 2, 3].map((i) => sb!.nsnet(['run', '-d', '--name', `${sb!.prefix}ccr${i}`, '--network', net.name, '--', 'sleep', '1000'], { timeoutMs: 60_000 }));
    const added = await Promise.all(adds);
    for (const r of [...added, ...(await Promise.all(runs))]) ok(r);
    const ips = (JSON.parse(ok(await sb.nsnet(['network', 'inspect', net.name])).stdout) as Array<{ Containers: Record<string, { IPv4Address: string }> }>)[0]!.Containers;
    const addresses = Object.values(ips).map((c) => c.IPv4Address);
    assert.equal(addresses.length, 16);
    assert.equal(new Set(addresses).size, 16, `every address once: ${addresses.join(', ')}`);
    for (const [i, ns] of spaces.entries()) succeeded(call({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: `conc000000${String(i).padStart(2, '0')}`, CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, net), 'DEL');
    ok(await sb.nsnet(['rm', '-f', ...[0, 1, 2, 3].map((i) => `${sb!.prefix}ccr${i}`)]));
  });

  test('cni-plugin --dry-run prints the by-hand commands of an ADD, changes nothing, and the script does the job', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const ns = runtimeNetns('rtdry');
    const dry = { cniVersion: '1.0.0', name: `${sb.prefix}dry`, type: 'nsnet-cni', bridge: `${sb.prefix}bd`, subnet: '10.75.0.0/24' };
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'dry000000001', CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    const r = sb.inHost([NSNET_BIN, 'cni-plugin', '--dry-run'], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb.root, ...env },
      input: JSON.stringify(dry),
    });
    ok(r, 'cni-plugin --dry-run');
    assert.match(r.stdout, new RegExp(`nsenter --net=${ns} ip link add eth0 address 02:42:0a:4b:00:02 type veth peer name nsv[0-9a-f]{12} netns \\$\\$`));
    assert.equal(sb.inHost(['ip', 'link', 'show', `${sb.prefix}bd`]).code, 1, 'no bridge made');
    assert.equal(inNs(ns, ['ip', 'link', 'show', 'eth0']).code, 1, 'no interface made');
    assert.doesNotMatch(ok(await sb.nsnet(['network', 'ls'])).stdout, new RegExp(`${sb.prefix}dry`), 'no network recorded');
    // The script, run by hand in the host namespace, wires the runtime's namespace the same way.
    ok(sb.inHost(['bash', '-e', '-c', r.stdout]), 'the by-hand script');
    assert.match(inNs(ns, ['ip', '-br', 'addr', 'show', 'eth0']).stdout, /10\.75\.0\.2\/24/);
    ok(ping(ns, '10.75.0.1'), 'the by-hand wiring reaches the gateway');
    // Not nsnet's (nothing recorded): the links go by hand, and nsnet puts its firewall back to
    // what its records say (the script's nft transaction named the unrecorded network too).
    ok(inNs(ns, ['ip', 'link', 'del', 'eth0']));
    ok(sb.inHost(['ip', 'link', 'del', `${sb.prefix}bd`]));
    ok(await sb.nsnet(['system', 'check', '--fix']));
    ok(await sb.nsnet(['system', 'check']));
  });

  test('a dual-stack conflist: both addresses and default routes, the world over IPv6 and IPv4, a port on both families, CHECK, DEL releases both', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const conf = { cniVersion: '1.0.0', name: `${sb.prefix}dual`, type: 'nsnet-cni', bridge: `${sb.prefix}d6`, ipam: dualIpam('10.70.0.0/24', 'fd00:70::/64') };
    const ns = runtimeNetns('rd');
    const id = 'dual00000001';
    const env = { CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    const withPort = { ...conf, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 8086, containerPort: 7000, protocol: 'tcp' }] } };
    const res = succeeded(call({ ...env, CNI_COMMAND: 'ADD' }, withPort), 'ADD');
    assert.deepEqual(res['ips'], [
      { address: '10.70.0.2/24', gateway: '10.70.0.1', interface: 2 },
      { address: 'fd00:70::2/64', gateway: 'fd00:70::1', interface: 2 },
    ]);
    assert.deepEqual(res['routes'], [{ dst: '0.0.0.0/0', gw: '10.70.0.1' }, { dst: '::/0', gw: 'fd00:70::1' }]);
    assert.deepEqual(addressesIn(ns, '-4'), ['10.70.0.2/24']);
    assert.deepEqual(addressesIn(ns, '-6'), ['fd00:70::2/64']);
    assert.doesNotMatch(inNs(ns, ['ip', '-6', 'addr', 'show', 'dev', 'eth0']).stdout, /tentative/, 'usable at once: no duplicate address detection window');
    assert.match(inNs(ns, ['ip', '-6', 'route', 'show', 'default']).stdout, /default via fd00:70::1 dev eth0/);

    ok(ping(ns, 'fd00:70::1'), 'the IPv6 gateway');
    ok(ping(ns, WORLD_IP6), 'the world over IPv6');
    ok(ping(ns, WORLD_IP), 'the world over IPv4');

    // The port has no host address: published on 0.0.0.0 and [::], the client's address kept.
    assert.match(ok(await sb.nsnet(['port', 'cni-dual00000001'])).stdout, /7000\/tcp -> \[::\]:8086/);
    const server = runSync(['sh', '-c', `nsenter --net=${ns} node -e "$0" >/dev/null 2>&1 & echo $!`, SERVER]);
    const pid = Number(server.stdout.trim());
    try {
      assert.equal(await fromWorld(HOST_UPLINK_IP6, 8086), `tcp 7000 ${WORLD_UPLINK_IP6}`);
      assert.equal(await fromWorld(HOST_UPLINK_IP, 8086), `tcp 7000 ${WORLD_UPLINK_IP}`);
    } finally {
      process.kill(pid, 'SIGKILL');
    }

    succeeded(call({ ...env, CNI_COMMAND: 'CHECK' }, { ...conf, prevResult: res }), 'CHECK');
    ok(runSync(['ip', '-n', `${sb.prefix}rd`, '-6', 'addr', 'del', 'fd00:70::2/64', 'dev', 'eth0']));
    const broken = call({ ...env, CNI_COMMAND: 'CHECK' }, { ...conf, prevResult: res });
    assert.equal(broken.r.code, 1, describeResult(broken.r));
    assert.match(String(broken.json?.['msg']), /lacks its address fd00:70::2\/64/);

    succeeded(call({ ...env, CNI_COMMAND: 'DEL' }, conf), 'DEL');
    assert.equal(inNs(ns, ['ip', 'link', 'show', 'eth0']).code, 1, 'DEL takes the interface away');
    // Both addresses are free: the next ADD may ask for them (IP= with one of each family, as Podman's --ip and --ip6).
    const again = succeeded(call({ ...env, CNI_COMMAND: 'ADD', CNI_ARGS: 'IP=10.70.0.2,fd00:70::2' }, conf), 'ADD of the released addresses');
    assert.deepEqual((again['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.70.0.2/24', 'fd00:70::2/64']);
    succeeded(call({ ...env, CNI_COMMAND: 'DEL' }, conf), 'DEL');
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
    assert.doesNotMatch(sb.inHost(['nft', 'list', 'ruleset']).stdout, /8086/, 'the port withdrawn');
  });

  test('an IPv6-only conflist: one IPv6 address, the ::/0 route, the IPv6 gateway as nameserver; the world over IPv6', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const conf = { cniVersion: '1.0.0', name: `${sb.prefix}only6`, type: 'nsnet-cni', bridge: `${sb.prefix}o6`, ipam: { ranges: [[{ subnet: 'fd00:63::/64', gateway: 'fd00:63::fe' }]] } };
    const ns = runtimeNetns('ro');
    const env = { CNI_CONTAINERID: 'only60000001', CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    const res = succeeded(call({ ...env, CNI_COMMAND: 'ADD' }, conf), 'ADD');
    assert.deepEqual(res['ips'], [{ address: 'fd00:63::1/64', gateway: 'fd00:63::fe', interface: 2 }], 'the first address: the gateway is ::fe');
    assert.deepEqual(res['routes'], [{ dst: '::/0', gw: 'fd00:63::fe' }]);
    assert.deepEqual((res['dns'] as { nameservers?: string[] } | undefined)?.nameservers, ['fd00:63::fe'], 'the nameserver is the IPv6 gateway');
    assert.deepEqual(addressesIn(ns, '-4'), []);
    ok(ping(ns, WORLD_IP6), 'the world over IPv6');
    const net = JSON.parse(ok(await sb.nsnet(['network', 'inspect', String(conf.name)])).stdout) as Array<{ EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string }> } }>;
    assert.equal(net[0]!.EnableIPv6, true);
    assert.deepEqual(net[0]!.IPAM.Config.map((c) => c.Subnet), ['fd00:63::/64']);
    succeeded(call({ ...env, CNI_COMMAND: 'CHECK' }, { ...conf, prevResult: res }), 'CHECK');
    succeeded(call({ ...env, CNI_COMMAND: 'DEL' }, conf), 'DEL');
  });

  test('conformance: every well-known error path gives its code and message, through the service and in-process alike', async () => {
    assert.ok(sb, 'before() made the sandbox');
    // The network exists (earlier tests made it; alone, this one makes it) for the contradiction case.
    if ((await sb.nsnet(['network', 'inspect', String(conf['name'])])).code !== 0) {
      ok(await sb.nsnet(['network', 'create', '--subnet', SUBNET, '-o', `com.docker.network.bridge.name=${String(conf['bridge'])}`, String(conf['name'])]));
    }
    const ns = runtimeNetns('rte');
    const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'eeee00000001', CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    const cases: Array<{ what: string; env: Record<string, string>; stdin: unknown; code: number; msg: RegExp }> = [
      { what: 'unsupported version', env: addEnv, stdin: { ...conf, cniVersion: '0.3.1' }, code: 1, msg: /incompatible CNI version "0\.3\.1"/ },
      { what: 'unsupported field', env: addEnv, stdin: { ...conf, hairpinMode: true }, code: 2, msg: /unsupported field\(s\) hairpinMode/ },
      { what: 'unknown container on CHECK', env: { ...addEnv, CNI_COMMAND: 'CHECK' }, stdin: { ...conf, prevResult: { cniVersion: '1.0.0' } }, code: 3, msg: /no eth0 attachment/ },
      { what: 'missing CNI_COMMAND', env: {}, stdin: conf, code: 4, msg: /CNI_COMMAND is not set/ },
      { what: 'unknown CNI_COMMAND', env: { CNI_COMMAND: 'FROB' }, stdin: conf, code: 4, msg: /unknown CNI_COMMAND "FROB"/ },
      { what: 'ADD without CNI_NETNS', env: { ...addEnv, CNI_NETNS: '' }, stdin: conf, code: 4, msg: /ADD needs CNI_NETNS/ },
      { what: 'bad JSON', env: addEnv, stdin: '{"cniVersion": ', code: 6, msg: /not valid JSON/ },
      { what: 'invalid config', env: addEnv, stdin: { ...conf, subnet: '10.61.0.0/99' }, code: 7, msg: /10\.61\.0\.0\/99/ },
      { what: 'config contradicting the network', env: addEnv, stdin: { ...conf, subnet: '10.63.0.0/24' }, code: 7, msg: /its subnet is 10\.61\.0\.0\/24, the configuration says 10\.63\.0\.0\/24/ },
      { what: 'namespace that does not exist', env: { ...addEnv, CNI_NETNS: `/run/netns/${sb.prefix}nothere` }, stdin: conf, code: 100, msg: /nothere/ },
    ];
    for (const bin of [[CNI_BIN], [NSNET_BIN, 'cni-plugin']]) {
      for (const c of cases) {
        const reply = call(c.env, c.stdin, bin);
        assert.equal(reply.r.code, 1, `${c.what} (${bin.join(' ')})\n${describeResult(reply.r)}`);
        assert.equal(reply.json?.['code'], c.code, `${c.what} (${bin.join(' ')})\n${describeResult(reply.r)}`);
        assert.match(String(reply.json?.['msg']), c.msg, c.what);
      }
      // DEL without ADD is no error; VERSION lists the versions.
      assert.equal(succeeded(call({ ...addEnv, CNI_COMMAND: 'DEL' }, conf, bin), 'DEL without ADD') !== undefined, true);
      assert.deepEqual(succeeded(call({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.1.0' }, bin), 'VERSION'), { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    }
    // Installed by copying (into a runtime's plugin directory), it still finds this nsnet.
    const installed = path.join(sb.root, 'opt-cni-bin', 'nsnet-cni');
    fs.mkdirSync(path.dirname(installed));
    fs.copyFileSync(CNI_BIN, installed);
    fs.chmodSync(installed, 0o755);
    const copied = succeeded(call(addEnv, conf, [installed]), 'ADD through a copied nsnet-cni');
    assert.deepEqual((copied['ips'] as Array<{ address: string }>)[0]!.address.endsWith('/24'), true);
    succeeded(call({ ...addEnv, CNI_COMMAND: 'DEL' }, conf, [installed]), 'DEL through a copied nsnet-cni');
    // Runtimes may call plugins with nothing but the CNI variables (no PATH): the Node fallback still runs.
    const bare = runSync([fs.realpathSync('/usr/bin/nsenter'), `--net=/run/netns/${sb.hostNs}`, NSNET_BIN.replace(/nsnet$/, 'nsnet-cni')], {
      env: { NSNET_ROOT: sb.root, NSNET_CNI_SERVICE: 'off', CNI_COMMAND: 'VERSION' },
      input: '{"cniVersion":"1.0.0"}',
    });
    assert.equal(bare.code, 0, describeResult(bare));
    // Nothing the failed calls touched was left behind.
    assert.equal(inNs(ns, ['ip', 'link', 'show', 'eth0']).code, 1);
    assert.equal(await containerCount(sb), 0);
  });
});

requiredSuite('nsnet-cni driven by the reference CNI library (libcni)', { needs: [needs.integration, needs.cniDriver], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let driver: CniDriverBuild | undefined;
  before(async () => {
    sb = await createSandbox('lcni');
    driver = await buildCniDriver();
  });
  after(async () => {
    driver?.cleanup();
    for (const name of ['rt', 'rt6']) if (sb !== undefined) runSync(['ip', 'netns', 'del', `${sb.prefix}${name}`]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('ADD (two chained entries: attach, then publish), CHECK, CHECK after breaking the interface, DEL twice, GC', async () => {
    assert.ok(sb !== undefined && driver !== undefined, 'before() made the sandbox and built the driver');
    const name = `${sb.prefix}lnet`;
    const plugin = { type: 'nsnet-cni', bridge: `${sb.prefix}lb`, subnet: '10.64.0.0/24', capabilities: { mac: true } };
    const dir = fs.mkdtempSync(path.join(sb.root, 'conf-'));
    const list = (version: string): string => {
      const file = path.join(dir, `${version}.conflist`);
      // Chained: the second entry publishes the ports on the first's attachment (portmap's place).
      fs.writeFileSync(file, JSON.stringify({ cniVersion: version, name, plugins: [plugin, { type: 'nsnet-cni', capabilities: { portMappings: true } }] }));
      return file;
    };
    const ns = `/run/netns/${sb.prefix}rt`;
    ok(runSync(['ip', 'netns', 'add', `${sb.prefix}rt`]));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb.root };
    const drive = (verb: string, args: string[], conflist = list('1.0.0')): RunResult =>
      sb!.inHost([driver!.bin, verb, '--conflist', conflist, '--plugin-dir', path.dirname(CNI_BIN), '--cache-dir', path.join(dir, 'cache'), ...args], { env });
    const target = ['--netns', ns, '--id', 'libcni00000001', '--ifname', 'eth0'];

    const caps = JSON.stringify({ mac: '02:00:00:00:64:07', portMappings: [{ hostPort: 8081, containerPort: 80, protocol: 'tcp' }] });
    const added = JSON.parse(ok(drive('add', [...target, '--cap', caps])).stdout) as { ips: Array<{ address: string }>; interfaces: Array<{ mac?: string }> };
    assert.equal(added.ips[0]!.address, '10.64.0.2/24');
    assert.equal(added.interfaces[2]!.mac, '02:00:00:00:64:07');
    assert.match(ok(await sb.nsnet(['port', 'cni-libcni000000'])).stdout, /80\/tcp -> 0\.0\.0\.0:8081/, 'the chained entry published the port');
    ok(drive('check', target), 'CHECK on a healthy attachment');
    ok(runSync(['ip', '-n', `${sb.prefix}rt`, 'addr', 'flush', 'dev', 'eth0']));
    const broken = drive('check', target);
    assert.equal(broken.code, 1, `CHECK must fail once the address is gone\n${describeResult(broken)}`);
    assert.match(broken.stderr, /lacks its address 10\.64\.0\.2\/24/);
    ok(drive('del', target), 'first DEL');
    ok(drive('del', target), 'second DEL');
    assert.equal(runSync(['ip', '-n', `${sb.prefix}rt`, 'link', 'show', 'eth0']).code, 1);

    // GC: an attachment the runtime forgot (ADD through the driver, then its cache dropped).
    ok(drive('add', target));
    fs.rmSync(path.join(dir, 'cache'), { recursive: true, force: true });
    ok(drive('gc', ['--valid', 'someone-else/eth0', '--skip-stale-del'], list('1.1.0')), 'GC');
    assert.equal(runSync(['ip', '-n', `${sb.prefix}rt`, 'link', 'show', 'eth0']).code, 1, 'GC released the forgotten attachment');
    assert.equal(await containerCount(sb), 0);
    ok(drive('status', [], list('1.1.0')), 'STATUS');
  });

  test('a dual-stack conflist (0.4.0 and 1.0.0): ADD gives both addresses, the world answers over both families, CHECK passes, DEL releases both', async () => {
    assert.ok(sb !== undefined && driver !== undefined, 'before() made the sandbox and built the driver');
    const name = `${sb.prefix}lnet6`;
    const dir = fs.mkdtempSync(path.join(sb.root, 'conf-'));
    const plugin = { type: 'nsnet-cni', bridge: `${sb.prefix}l6`, ipam: dualIpam('10.65.0.0/24', 'fd00:65::/64'), capabilities: { ips: true } };
    const list = (version: string): string => {
      const file = path.join(dir, `${version}.conflist`);
      fs.writeFileSync(file, JSON.stringify({ cniVersion: version, name, plugins: [plugin] }));
      return file;
    };
    const rt = `${sb.prefix}rt6`;
    const ns = `/run/netns/${rt}`;
    ok(runSync(['ip', 'netns', 'add', rt]));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb.root };
    const drive = (verb: string, args: string[], conflist: string): RunResult =>
      sb!.inHost([driver!.bin, verb, '--conflist', conflist, '--plugin-dir', path.dirname(CNI_BIN), '--cache-dir', path.join(dir, 'cache'), ...args], { env });
    const target = ['--netns', ns, '--id', 'libcni60000001', '--ifname', 'eth0'];
    const inRt = (argv: string[]): RunResult => runSync(['nsenter', `--net=${ns}`, ...argv]);

    for (const version of ['0.4.0', '1.0.0']) {
      const conflist = list(version);
      const caps = JSON.stringify({ ips: ['10.65.0.7/24', 'fd00:65::7/64'] });
      const added = JSON.parse(ok(drive('add', [...target, '--cap', caps], conflist), `ADD (${version})`).stdout) as { ips: Array<{ address: string; version?: string }> };
      assert.deepEqual(added.ips.map((ip) => ip.address), ['10.65.0.7/24', 'fd00:65::7/64'], version);
      if (version === '0.4.0') assert.deepEqual(added.ips.map((ip) => ip.version), ['4', '6']);
      assert.deepEqual(addressesIn(ns, '-6'), ['fd00:65::7/64']);
      ok(inRt(['ping', '-c1', '-W2', WORLD_IP6]), `the world over IPv6 (${version})`);
      ok(inRt(['ping', '-c1', '-W2', WORLD_IP]), `the world over IPv4 (${version})`);
      ok(drive('check', target, conflist), `CHECK (${version})`);
      ok(drive('del', target, conflist), `DEL (${version})`);
      assert.equal(inRt(['ip', 'link', 'show', 'eth0']).code, 1, 'DEL took the interface away');
    }
    // Both addresses went back to the pool: the next ADD without a request gets the first of each.
    const conflist = list('1.0.0');
    const fresh = JSON.parse(ok(drive('add', target, conflist)).stdout) as { ips: Array<{ address: string }> };
    assert.deepEqual(fresh.ips.map((ip) => ip.address), ['10.65.0.2/24', 'fd00:65::2/64']);
    ok(drive('del', target, conflist));
    assert.equal(await containerCount(sb), 0);
  });
});

requiredSuite('nsnet-cni crash safety', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('ccni');
  });
  after(async () => {
    for (const name of ['rt', 'rg', 'rs']) if (sb !== undefined) runSync(['ip', 'netns', 'del', `${sb.prefix}${name}`]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  /**
   * The plugin killed after each step of an ADD (network made on the way) and of a DEL: the next
   * nsnet command recovers, and the host and the store are as before the ADD / after the DEL.
   */
  test('a plugin killed after any step of ADD or DEL leaves nothing half-made once nsnet recovers', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    ok(runSync(['ip', 'netns', 'add', `${sb.prefix}rt`]));
    const ns = `/run/netns/${sb.prefix}rt`;
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: `${sb.prefix}knet`, type: 'nsnet-cni', bridge: `${sb.prefix}kb`, subnet: '10.65.0.0/24' });
    // In-process every time (no service): the killed process is the plugin the runtime called.
    const env = (command: string, fault?: number): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NSNET_ROOT: sb!.root,
      NSNET_CNI_SERVICE: 'off',
      // The service the CLI's commands (system check) start is not asked either.
      NSNET_SERVICE: 'off',
      CNI_COMMAND: command,
      CNI_CONTAINERID: 'crash0000001',
      CNI_NETNS: ns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: path.dirname(CNI_BIN),
      ...(fault === undefined ? {} : { NSNET_TEST_FAULTS: '1', NSNET_FAULT: `${fault}:kill` }),
    });
    const settled = async (what: string): Promise<void> => {
      const check = await sb!.nsnet(['system', 'check']);
      assert.equal(check.code, 0, `${what}: after recovery the kernel matches the store\n${describeResult(check)}`);
    };
    const attached = (): boolean => runSync(['ip', '-n', `${sb!.prefix}rt`, 'link', 'show', 'eth0']).code === 0;

    let kills = 0;
    for (let i = 0; ; i++) {
      const r: RunResult = sb.inHost([CNI_BIN], { env: env('ADD', i), input: conf });
      if (r.code === 0) break;
      assert.equal(r.signal, 'SIGKILL', `ADD with fault ${i} should die or succeed\n${describeResult(r)}`);
      kills++;
      await settled(`ADD killed after step ${i}`);
      assert.equal(attached(), false, `ADD killed after step ${i}: the interface was rolled back`);
      assert.equal(await containerCount(sb!), 0, `ADD killed after step ${i}: no record left`);
    }
    t.diagnostic(`ADD: ${kills} fault points`);
    assert.ok(kills >= 8, `the ADD passed ${kills} fault points (network and attachment steps)`);
    ok(sb.inHost([CNI_BIN], { env: env('DEL'), input: conf }));

    kills = 0;
    for (let i = 0; ; i++) {
      ok(sb.inHost([CNI_BIN], { env: env('ADD'), input: conf }), 'ADD');
      const r: RunResult = sb.inHost([CNI_BIN], { env: env('DEL', i), input: conf });
      if (r.code === 0) break;
      assert.equal(r.signal, 'SIGKILL', `DEL with fault ${i}\n${describeResult(r)}`);
      kills++;
      await settled(`DEL killed after step ${i}`);
      assert.equal(attached(), false, `DEL killed after step ${i}: finished by recovery`);
      assert.equal(await containerCount(sb!), 0, `DEL killed after step ${i}: the record is gone`);
    }
    t.diagnostic(`DEL: ${kills} fault points`);
    assert.ok(kills >= 2, `the DEL passed ${kills} fault points`);
  });

  /** The ADD of the tests below: the crash-safety network, in the runtime namespace NAME. */
  function serviceCase(name: string, id: string): { env: NodeJS.ProcessEnv; conf: string } {
    ok(runSync(['ip', 'netns', 'add', `${sb!.prefix}${name}`]));
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: `${sb!.prefix}knet`, type: 'nsnet-cni', bridge: `${sb!.prefix}kb`, subnet: '10.65.0.0/24' });
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NSNET_ROOT: sb!.root,
      CNI_PATH: path.dirname(CNI_BIN),
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: id,
      CNI_NETNS: `/run/netns/${sb!.prefix}${name}`,
      CNI_IFNAME: 'eth0',
    };
    return { env, conf };
  }
  /** Where nsnet-cni looks for the service of the sandbox's host namespace. */
  const serviceSocket = (): string => path.join(sb!.root, 'service', `net-${sb!.netnsInode(sb!.hostNs)}.sock`);
  /** The nsnet service the CLI's commands started (it serves CNI calls too) stopped, for a test that needs none. */
  const stopService = async (): Promise<void> => {
    let r: { pid: number; start: string };
    try {
      r = JSON.parse(fs.readFileSync(serviceSocket().replace(/\.sock$/, '.pid'), 'utf8')) as { pid: number; start: string };
    } catch {
      return;
    }
    if (pidStartTime(r.pid) !== r.start) return;
    process.kill(r.pid, 'SIGTERM');
    for (let i = 0; i < 100 && pidStartTime(r.pid) === r.start && pidState(r.pid) !== 'Z'; i++) await new Promise((res) => setTimeout(res, 50));
  };

  test('a service that takes a call and goes away without answering: the client does the call itself, never "try again later"', async () => {
    assert.ok(sb, 'before() made the sandbox');
    // What a caller can meet while a service dies (a dying process closes its sockets one by one,
    // so its listener still accepts after it dropped an earlier caller) or stops: a listener
    // that accepts and closes. No service is started afterwards (NSNET_CNI_SERVICE=off).
    const { env, conf } = serviceCase('rg', 'gone00000001');
    const callEnv = { ...env, NSNET_CNI_SERVICE: 'off' };
    await stopService();
    fs.mkdirSync(path.dirname(serviceSocket()), { recursive: true, mode: 0o700 });
    let taken = 0;
    const going = net.createServer((conn) => {
      taken++;
      conn.destroy();
    });
    await new Promise<void>((listening) => going.listen(serviceSocket(), listening));
    try {
      const added = await sb.inHostAsync([CNI_BIN], { env: callEnv, input: conf });
      assert.equal(added.code, 0, describeResult(added));
      assert.match(added.stdout, /"address":"10\.65\.0\.\d+\/24"/);
      assert.equal(taken, 1, 'the client went to the service first');
      ok(await sb.inHostAsync([CNI_BIN], { env: { ...callEnv, CNI_COMMAND: 'DEL' }, input: conf }), 'DEL');
      assert.equal(taken, 2);
    } finally {
      await new Promise<void>((closed) => going.close(() => closed()));
    }
    // In-process: a service it started would still be starting when the next test wants none running.
    ok(await sb.nsnet(['system', 'check'], { env: { ...process.env, NSNET_SERVICE: 'off' } }));
  });

  test('the service killed in the middle of an ADD: the call still succeeds (the client rolls the half-made ADD back and makes it whole)', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const { env, conf } = serviceCase('rs', 'svckill00001');
    await stopService();
    // STATUS passes no fault point; the service it starts inherits the fault switch and dies
    // after the third step of the next call it serves. It is up once it wrote its record, which
    // it does after it listens.
    ok(sb.inHost([CNI_BIN], { env: { ...env, CNI_COMMAND: 'STATUS', NSNET_TEST_FAULTS: '1', NSNET_FAULT: '2:kill' }, input: conf }));
    const recordFile = serviceSocket().replace(/\.sock$/, '.pid');
    for (let i = 0; i < 200 && !fs.existsSync(recordFile); i++) await new Promise((r) => setTimeout(r, 50));
    const service = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { pid: number; start: string };

    const added = sb.inHost([CNI_BIN], { env, input: conf });
    assert.equal(added.code, 0, describeResult(added));
    assert.match(added.stdout, /"address":"10\.65\.0\.\d+\/24"/);
    // The service took the call and died in it, without answering.
    const alive = (): boolean => pidStartTime(service.pid) === service.start && pidState(service.pid) !== 'Z';
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(), false, `the service (pid ${service.pid}) was killed by the fault switch:\n${fs.readFileSync(path.join(sb.root, 'service', 'service.log'), 'utf8')}`);
    assert.doesNotMatch(fs.readFileSync(path.join(sb.root, 'service', 'service.log'), 'utf8'), /ADD svckill00001/, 'the killed service never answered');
    ok(await sb.nsnet(['system', 'check']));
    assert.equal(await containerCount(sb), 1);
    ok(sb.inHost([CNI_BIN], { env: { ...env, CNI_COMMAND: 'DEL' }, input: conf }));
  });
});
