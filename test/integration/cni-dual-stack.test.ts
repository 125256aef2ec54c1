/**
 * nsnet-cni with IPv6, against the real kernel in a sandbox: a dual-stack conflist (host-local
 * style ranges, one IPv4 and one IPv6 set, as `podman network create --ipv6` writes them) gives
 * the runtime's namespace both addresses and both default routes; the container reaches the
 * world over IPv6 (2001:db8:8::8) and IPv4; a port published without a host address answers on
 * both families; CHECK passes; DEL releases both. An IPv6-only conflist, and the same
 * dual-stack conflist driven by the reference CNI library (libcni) as a runtime drives it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
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

requiredSuite('nsnet-cni with IPv6', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  const made: string[] = [];

  before(async () => {
    sb = await createSandbox('cni6');
  });
  after(async () => {
    for (const ns of made) runSync(['ip', 'netns', 'del', ns]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  function runtimeNetns(name: string): string {
    const full = `${sb!.prefix}${name}`;
    ok(runSync(['ip', 'netns', 'add', full]));
    made.push(full);
    return `/run/netns/${full}`;
  }

  function call(env: Record<string, string>, stdin: unknown): { r: RunResult; json: Record<string, unknown> } {
    const r = sb!.inHost([CNI_BIN], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb!.root, CNI_PATH: path.dirname(CNI_BIN), CNI_IFNAME: 'eth0', ...env },
      input: JSON.stringify(stdin),
    });
    const json = r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
    return { r, json };
  }
  function succeeded(reply: { r: RunResult; json: Record<string, unknown> }, what: string): Record<string, unknown> {
    assert.equal(reply.r.code, 0, `${what} should succeed\n${describeResult(reply.r)}`);
    return reply.json;
  }
  const inNs = (netns: string, argv: string[]): RunResult => runSync(['nsenter', `--net=${netns}`, ...argv]);
  const ping = (netns: string, ip: string): RunResult => inNs(netns, ['ping', '-c1', '-W2', ip]);

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

  test('a dual-stack conflist: both addresses and default routes, the world over IPv6 and IPv4, a port on both families, CHECK, DEL releases both', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const conf = { cniVersion: '1.0.0', name: `${sb.prefix}dual`, type: 'nsnet-cni', bridge: `${sb.prefix}d6`, ipam: dualIpam('10.62.0.0/24', 'fd00:62::/64') };
    const ns = runtimeNetns('rd');
    const id = 'dual00000001';
    const env = { CNI_CONTAINERID: id, CNI_NETNS: ns };
    const withPort = { ...conf, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 8086, containerPort: 7000, protocol: 'tcp' }] } };
    const res = succeeded(call({ ...env, CNI_COMMAND: 'ADD' }, withPort), 'ADD');
    assert.deepEqual(res['ips'], [
      { address: '10.62.0.2/24', gateway: '10.62.0.1', interface: 2 },
      { address: 'fd00:62::2/64', gateway: 'fd00:62::1', interface: 2 },
    ]);
    assert.deepEqual(res['routes'], [{ dst: '0.0.0.0/0', gw: '10.62.0.1' }, { dst: '::/0', gw: 'fd00:62::1' }]);
    assert.deepEqual(addressesIn(ns, '-4'), ['10.62.0.2/24']);
    assert.deepEqual(addressesIn(ns, '-6'), ['fd00:62::2/64']);
    assert.doesNotMatch(inNs(ns, ['ip', '-6', 'addr', 'show', 'dev', 'eth0']).stdout, /tentative/, 'usable at once: no duplicate address detection window');
    assert.match(inNs(ns, ['ip', '-6', 'route', 'show', 'default']).stdout, /default via fd00:62::1 dev eth0/);

    ok(ping(ns, 'fd00:62::1'), 'the IPv6 gateway');
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
    ok(runSync(['ip', '-n', `${sb.prefix}rd`, '-6', 'addr', 'del', 'fd00:62::2/64', 'dev', 'eth0']));
    const broken = call({ ...env, CNI_COMMAND: 'CHECK' }, { ...conf, prevResult: res });
    assert.equal(broken.r.code, 1, describeResult(broken.r));
    assert.match(String(broken.json['msg']), /lacks its address fd00:62::2\/64/);

    succeeded(call({ ...env, CNI_COMMAND: 'DEL' }, conf), 'DEL');
    assert.equal(inNs(ns, ['ip', 'link', 'show', 'eth0']).code, 1, 'DEL takes the interface away');
    // Both addresses are free: the next ADD may ask for them (IP= with one of each family, as Podman's --ip and --ip6).
    const again = succeeded(call({ ...env, CNI_COMMAND: 'ADD', CNI_ARGS: 'IP=10.62.0.2,fd00:62::2' }, conf), 'ADD of the released addresses');
    assert.deepEqual((again['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.62.0.2/24', 'fd00:62::2/64']);
    succeeded(call({ ...env, CNI_COMMAND: 'DEL' }, conf), 'DEL');
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
    assert.doesNotMatch(sb.inHost(['nft', 'list', 'ruleset']).stdout, /8086/, 'the port withdrawn');
  });

  test('an IPv6-only conflist: one IPv6 address, the ::/0 route, the IPv6 gateway as nameserver; the world over IPv6', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const conf = { cniVersion: '1.0.0', name: `${sb.prefix}only6`, type: 'nsnet-cni', bridge: `${sb.prefix}o6`, ipam: { ranges: [[{ subnet: 'fd00:63::/64', gateway: 'fd00:63::fe' }]] } };
    const ns = runtimeNetns('ro');
    const env = { CNI_CONTAINERID: 'only60000001', CNI_NETNS: ns };
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
});

requiredSuite('nsnet-cni with IPv6, driven by the reference CNI library (libcni)', { needs: [needs.integration, needs.cniDriver], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let driver: CniDriverBuild | undefined;
  before(async () => {
    sb = await createSandbox('lc6');
    driver = await buildCniDriver();
  });
  after(async () => {
    driver?.cleanup();
    if (sb !== undefined) runSync(['ip', 'netns', 'del', `${sb.prefix}rt`]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
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
    const rt = `${sb.prefix}rt`;
    const ns = `/run/netns/${rt}`;
    ok(runSync(['ip', 'netns', 'add', rt]));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb.root };
    const drive = (verb: string, args: string[], conflist: string): RunResult =>
      sb!.inHost([driver!.bin, verb, '--conflist', conflist, '--plugin-dir', path.dirname(CNI_BIN), '--cache-dir', path.join(dir, 'cache'), ...args], { env });
    const target = ['--netns', ns, '--id', 'libcni60000001', '--ifname', 'eth0'];

    for (const version of ['0.4.0', '1.0.0']) {
      const conflist = list(version);
      const caps = JSON.stringify({ ips: ['10.65.0.7/24', 'fd00:65::7/64'] });
      const added = JSON.parse(ok(drive('add', [...target, '--cap', caps], conflist), `ADD (${version})`).stdout) as { ips: Array<{ address: string; version?: string }> };
      assert.deepEqual(added.ips.map((ip) => ip.address), ['10.65.0.7/24', 'fd00:65::7/64'], version);
      if (version === '0.4.0') assert.deepEqual(added.ips.map((ip) => ip.version), ['4', '6']);
      assert.deepEqual(addressesIn(ns, '-6'), ['fd00:65::7/64']);
      ok(runSync(['nsenter', `--net=${ns}`, 'ping', '-c1', '-W2', WORLD_IP6]), `the world over IPv6 (${version})`);
      ok(runSync(['nsenter', `--net=${ns}`, 'ping', '-c1', '-W2', WORLD_IP]), `the world over IPv4 (${version})`);
      ok(drive('check', target, conflist), `CHECK (${version})`);
      ok(drive('del', target, conflist), `DEL (${version})`);
      assert.equal(runSync(['ip', '-n', rt, 'link', 'show', 'eth0']).code, 1, 'DEL took the interface away');
    }
    // Both addresses went back to the pool: the next ADD without a request gets the first of each.
    const conflist = list('1.0.0');
    const fresh = JSON.parse(ok(drive('add', target, conflist)).stdout) as { ips: Array<{ address: string }> };
    assert.deepEqual(fresh.ips.map((ip) => ip.address), ['10.65.0.2/24', 'fd00:65::2/64']);
    ok(drive('del', target, conflist));
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
  });
});
