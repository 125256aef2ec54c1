/**
 * The fake machine's own tests: if it does not behave like the kernel where nsnet depends on it,
 * every operation test built on it proves nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KernelError, NsnetError } from '../../src/core/errors.js';
import { planCreateContainer, planCreateNetwork, planRemoveContainer, type EndpointSpec, type NetworkSpec } from '../../src/engine/plans.js';
import { iptablesDriver } from '../../src/firewall/iptables-driver.js';
import { EMPTY_FIREWALL, type FirewallMapping, type FirewallState } from '../../src/firewall/model.js';
import { nftablesDriver } from '../../src/firewall/nftables-driver.js';
import { addPortsScript, removePortsScript, replaceScript } from '../../src/firewall/nftables.js';
import { EADDRNOTAVAIL, EEXIST, ENETUNREACH, ENOBUFS, ENOENT } from '../../src/kernel/libc.js';
import { applyPlan, PlanError, undoAll } from '../../src/plan/executor.js';
import type { Step } from '../../src/plan/steps.js';
import { FakeHost, FakeUnsupported, SimulatedCrash } from '../helpers/fake-host.js';
import { redOn, STUDY } from '../helpers/plan-fixtures.js';

const study: NetworkSpec = { ...STUDY, icc: false };
const red: EndpointSpec = redOn(study);
const web: FirewallMapping = { hostIp: undefined, hostPort: 8080, proto: 'tcp', containerIp: '10.0.0.1', containerPort: 80, container: 'red' };
const withStudy: FirewallState = { networks: [study], ports: [], mappings: [] };

const nft = nftablesDriver();
const ipt = iptablesDriver(() => ({ iptables: true, ebtables: 'ok' }));

/** A network and a container on it, with a published port: every common step kind. */
function wholePlan(fw = nft): Step[] {
  return [...planCreateNetwork(study, EMPTY_FIREWALL, fw), ...planCreateContainer('red', [red], fw, [web])];
}

/** ip_forward on from the start: undo never turns it off, so only then is "as before" exact. */
const fresh = (): FakeHost => {
  const host = new FakeHost({ ipForward: '1' });
  host.facts.iptables = true;
  host.facts.ebtables = 'ok';
  return host;
};

const errnoOf = (fn: () => void): number => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof KernelError, `expected a KernelError, got ${String(err)}`);
    return err.errno;
  }
  assert.fail('expected an error');
};

describe('fake host: steps apply and undo like the kernel runner', () => {
  for (const [name, fw] of [
    ['nftables', nft],
    ['iptables', ipt],
  ] as const) {
    test(`a whole plan (${name} driver) applies, and undone in reverse leaves the machine exactly as before`, () => {
      const host = fresh();
      const before = host.snapshot();
      const plan = wholePlan(fw);
      applyPlan(plan, host);
      const after = host.snapshot();
      assert.notDeepEqual(after, before);
      assert.deepEqual(undoAll(plan, host), []);
      assert.deepEqual(host.snapshot(), before);
    });
  }

  test('what a plan makes is visible through the Host port', () => {
    const host = fresh();
    applyPlan(wholePlan(), host);
    const bridge = host.link('br-study');
    assert.equal(bridge?.kind, 'bridge');
    assert.equal(bridge?.up, true);
    assert.equal(bridge?.mac, study.bridgeMac);
    assert.equal(host.link(red.hostIf)?.masterIndex, bridge?.index);
    const eth0 = host.link('eth0', 'red');
    assert.equal(eth0?.mac, red.mac);
    // Loopback coming up gets 127.0.0.1/8 from the kernel.
    assert.deepEqual(
      host.addresses('red').map((a) => `${a.address}/${a.prefixLen}`),
      ['127.0.0.1/8', '10.0.0.1/24'],
    );
    const routes = host.routes('red').map((r) => `${r.dst ?? 'default'}/${r.dstLen} via ${r.gateway ?? '-'}`);
    assert.deepEqual(routes, ['10.0.0.0/24 via -', 'default/0 via 10.0.0.254']);
    assert.equal(host.sysctl('net.ipv4.conf.br-study.route_localnet'), '1');
    assert.equal(host.netnsExists('red'), true);
    assert.equal(host.isMountedNetns('red'), true);
    assert.match(host.nftTable('inet', 'nsnet') ?? '', /elements = \{ tcp \. 8080 : 10\.0\.0\.1 \. 80 \}/);
    assert.match(host.nftTable('bridge', 'nsnet') ?? '', /elements = \{ "nsv000000000001" \}/);
  });

  test('removing a container undoes what creating it did (netns-del takes the veth with it)', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    const networkOnly = host.snapshot();
    applyPlan(planCreateContainer('red', [red], nft, [web]), host);
    applyPlan(planRemoveContainer('red', [red], nft, [web]), host);
    assert.deepEqual(host.snapshot(), networkOnly);
  });

  test('lab steps: route-to applies and undoes; netns-sysctl stays until its namespace goes', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    applyPlan(planCreateContainer('router', [red], nft), host);
    const before = host.snapshot();
    const route: Step = { kind: 'route-to', ns: 'router', dst: '10.9.0.0/16', via: '10.0.0.254' };
    host.apply(route);
    assert.ok(host.routes('router').some((r) => r.dst === '10.9.0.0' && r.dstLen === 16 && r.gateway === '10.0.0.254'));
    host.undo(route);
    assert.deepEqual(host.snapshot(), before);
    const forward: Step = { kind: 'netns-sysctl', ns: 'router', key: 'net.ipv4.ip_forward', value: '1' };
    host.apply(forward);
    host.undo(forward);
    assert.equal(host.sysctl('net.ipv4.ip_forward', 'router'), '1');
    host.apply({ kind: 'netns-del', name: 'router' });
    assert.deepEqual(undoAll([forward, route], host), [], 'undo in a namespace that went counts as done');
  });

  test('the iptables driver writes its chains and jumps, and removing the last network removes them', () => {
    const host = fresh();
    applyPlan(wholePlan(ipt), host);
    const xt = host.snapshot().xtables;
    assert.deepEqual(xt['iptables filter']!['FORWARD'], ['-A FORWARD -j NSNET-FORWARD']);
    assert.ok(xt['iptables nat']!['NSNET-DNAT']!.some((r) => r.includes('--to-destination 10.0.0.1:80')));
    assert.ok(xt['ebtables nat']!['NSNET-PORTS']!.some((r) => r.includes(`-i ${red.hostIf}`)));
    assert.deepEqual(xt['ebtables filter']!['NSNET-BRIDGED'], [`-A NSNET-BRIDGED -i ${red.hostIf} -j DROP`]);
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD'), true);
    applyPlan(planRemoveContainer('red', [red], ipt, [web]), host);
    applyPlan(ipt.replace(withStudy, EMPTY_FIREWALL, 'reset'), host);
    assert.deepEqual(host.snapshot().xtables, {});
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD'), false);
  });
});

describe('fake host: errors like the kernel', () => {
  test('a taken name is EEXIST: bridge, namespace, veth end, address', () => {
    const host = fresh();
    applyPlan(wholePlan(), host);
    assert.equal(errnoOf(() => host.apply({ kind: 'bridge-add', name: 'br-study', mac: '02:00:00:00:00:01' })), EEXIST);
    assert.equal(errnoOf(() => host.apply({ kind: 'netns-add', name: 'red' })), EEXIST);
    assert.equal(errnoOf(() => host.apply({ kind: 'addr-add', dev: 'br-study', address: '10.0.0.254', prefixLen: 24 })), EEXIST);
    const veth = { kind: 'veth-add', hostIf: red.hostIf, master: 'br-study', peerNs: 'red', peerIf: 'eth9', peerMac: '02:00:00:00:00:02' } as const;
    assert.equal(errnoOf(() => host.apply(veth)), EEXIST);
    assert.equal(errnoOf(() => host.apply({ ...veth, hostIf: 'nsv000000000009', peerIf: 'eth0' })), EEXIST);
    assert.equal(host.link('nsv000000000009'), undefined, 'a refused pair leaves no half behind');
  });

  test('a missing namespace is ENOENT; a missing link is the runner\'s "not found"; deleting what is gone is fine', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    const veth = { kind: 'veth-add', hostIf: 'nsv1', master: 'br-study', peerNs: 'nowhere', peerIf: 'eth0', peerMac: '02:00:00:00:00:02' } as const;
    assert.equal(errnoOf(() => host.apply(veth)), ENOENT);
    assert.equal(host.link('nsv1'), undefined);
    assert.throws(() => host.apply({ ...veth, master: 'br-none' }), (e: unknown) => e instanceof NsnetError && e.code === 'KERNEL' && /link br-none not found/.test(e.message));
    assert.throws(() => host.apply({ kind: 'link-up', ns: 'red', dev: 'eth0' }), (e: unknown) => e instanceof KernelError && e.errno === ENOENT);
    host.apply({ kind: 'link-del', dev: 'no-such-link' });
    host.apply({ kind: 'netns-del', name: 'no-such-namespace' });
    assert.throws(() => host.link('x', 'no-such-namespace'), (e: unknown) => e instanceof KernelError && e.errno === ENOENT);
  });

  test('a default route needs its gateway reachable on an up link (ENETUNREACH), once (EEXIST)', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    const steps = planCreateContainer('red', [red], nft);
    const route = steps.find((s) => s.kind === 'route-add')!;
    const upEth0 = steps.findIndex((s) => s.kind === 'link-up' && s.dev === 'eth0');
    applyPlan(steps.slice(0, upEth0), host);
    assert.equal(errnoOf(() => host.apply(route)), ENETUNREACH, 'eth0 still down: no connected route');
    host.apply(steps[upEth0]!);
    host.apply(route);
    assert.equal(errnoOf(() => host.apply(route)), EEXIST);
    host.undo(steps[upEth0]!);
    assert.deepEqual(host.routes('red'), [], 'a link going down takes its routes');
    host.undo(route); // ESRCH: already gone counts as undone
  });

  test('sysctls: a missing key is ENOENT; a per-bridge key lives and dies with the bridge', () => {
    const host = fresh();
    const key = 'net.ipv4.conf.br-study.route_localnet';
    assert.equal(errnoOf(() => host.apply({ kind: 'sysctl', key, value: '1' })), ENOENT);
    host.apply({ kind: 'bridge-add', name: 'br-study', mac: study.bridgeMac });
    assert.equal(host.sysctl(key), '0');
    host.apply({ kind: 'sysctl', key, value: '1' });
    host.apply({ kind: 'link-del', dev: 'br-study' });
    assert.equal(host.sysctl(key), undefined);
  });

  test('every link has net.ipv6.conf.IF.disable_ipv6 (0) in its namespace; sysctl -e ignores a key there is not', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    applyPlan(planCreateContainer('red', [red], nft), host);
    assert.equal(host.sysctl('net.ipv6.conf.lo.disable_ipv6', 'red'), '0');
    assert.equal(host.sysctl('net.ipv6.conf.br-study.disable_ipv6'), '1', 'planBridge turns IPv6 off');
    assert.equal(host.sysctl('net.ipv6.conf.eth0.disable_ipv6', 'red'), '1', 'planAttach turns IPv6 off');
    assert.equal(host.sysctl(`net.ipv6.conf.${red.hostIf}.disable_ipv6`), '0');
    const missing = { kind: 'sysctl', key: 'net.ipv6.conf.nothere.disable_ipv6', value: '1' } as const;
    assert.equal(errnoOf(() => host.apply(missing)), ENOENT);
    host.apply({ ...missing, ignoreUnknown: true });
    host.apply({ kind: 'link-del', ns: 'red', dev: 'eth0' });
    assert.equal(host.sysctl('net.ipv6.conf.eth0.disable_ipv6', 'red'), undefined, 'the key goes with the link');
  });

  test('undo of addr-add ignores an address already gone; of netns-add deletes the namespace', () => {
    const host = fresh();
    host.apply({ kind: 'netns-add', name: 'red' });
    host.undo({ kind: 'addr-add', ns: 'red', dev: 'lo', address: '10.1.1.1', prefixLen: 8 });
    assert.equal(errnoOf(() => host.net.delAddr('red', 'lo', '10.1.1.1', 8)), EADDRNOTAVAIL);
    host.undo({ kind: 'netns-add', name: 'red' });
    assert.equal(host.netnsExists('red'), false);
  });
});

describe('fake host: deletion cascades', () => {
  test('deleting a namespace deletes its links and the host ends of its veths, and nothing else', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    applyPlan(planCreateContainer('red', [red], nft), host);
    applyPlan(planCreateContainer('blue', [{ ...red, hostIf: 'nsv000000000002', ip: '10.0.0.2', ip6: null, mac: '02:42:0a:00:00:02' }], nft), host);
    host.net.deleteNetns('red');
    assert.equal(host.link(red.hostIf), undefined);
    assert.notEqual(host.link('nsv000000000002'), undefined);
    assert.equal(host.link('br-study')?.up, true);
  });

  test('deleting either end of a veth deletes the pair; deleting a bridge frees its ports', () => {
    const host = fresh();
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    applyPlan(planCreateContainer('red', [red], nft), host);
    host.apply({ kind: 'link-del', ns: 'red', dev: 'eth0' });
    assert.equal(host.link(red.hostIf), undefined);
    assert.deepEqual(host.addresses('red').map((a) => a.address), ['127.0.0.1'], "eth0's address went with it");
    host.apply({ kind: 'veth-add', hostIf: red.hostIf, master: 'br-study', peerNs: 'red', peerIf: 'eth0', peerMac: red.mac });
    host.apply({ kind: 'link-del', dev: 'br-study' });
    assert.equal(host.link(red.hostIf)?.masterIndex, undefined);
    assert.notEqual(host.link('eth0', 'red'), undefined);
  });

  test('a runtime\'s namespace (a path) is used but never made or deleted by nsnet', () => {
    const host = fresh();
    host.net.addRuntimeNetns('/var/run/netns/cni-1234');
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    host.apply({ kind: 'veth-add', hostIf: 'nsv1', master: 'br-study', peerNs: '/var/run/netns/cni-1234', peerIf: 'eth0', peerMac: red.mac });
    assert.equal(host.link('eth0', '/var/run/netns/cni-1234')?.kind, 'veth');
    assert.throws(() => host.apply({ kind: 'netns-del', name: '/var/run/netns/cni-1234' }), (e: unknown) => e instanceof NsnetError && e.code === 'STATE');
    host.net.removeRuntimeNetns('/var/run/netns/cni-1234');
    assert.equal(host.link('nsv1'), undefined);
  });
});

describe('fake host: fault injection', () => {
  test('failAt(i) fails the i-th apply before it changes anything; applies are counted', () => {
    const host = fresh();
    host.failAt(2);
    assert.throws(() => applyPlan(wholePlan(), host), (e: unknown) => e instanceof PlanError && /ENOBUFS/.test(e.message) && e.undoFailures.length === 0);
    assert.equal(host.applyCount, 3);
    assert.deepEqual(host.log, ['apply bridge-add', 'apply sysctl', 'undo sysctl', 'undo bridge-add']);
  });

  test('failure at every step of a whole plan: after the undo the machine is exactly as before', () => {
    const count = wholePlan().length;
    for (let i = 0; i < count; i++) {
      const host = fresh();
      const before = host.snapshot();
      host.failAt(i);
      assert.throws(() => applyPlan(wholePlan(), host), PlanError, `step ${i}`);
      assert.deepEqual(host.snapshot(), before, `fail at step ${i} (${wholePlan()[i]!.kind})`);
    }
  });

  test('failWhen matches steps; the errno can be chosen', () => {
    const host = fresh();
    host.failWhen((s) => s.kind === 'veth-add', EEXIST);
    assert.throws(() => applyPlan(wholePlan(), host), (e: unknown) => e instanceof PlanError && /EEXIST/.test(e.message));
    const plain = fresh();
    plain.failWhen((s) => s.kind === 'nft');
    assert.throws(() => plain.apply({ kind: 'nft', script: '', undoScript: '', summary: '' }), (e: unknown) => e instanceof KernelError && e.errno === ENOBUFS);
  });

  test('crashAfter(i): the step takes effect, then nothing runs (no undo, no process control) until revive', async () => {
    const host = fresh();
    const lock = host.acquire('/x/lock', { timeoutMs: 0 });
    let seen: string | undefined;
    host.crashAfter(0, () => (seen = host.link('br-study')?.name));
    assert.throws(() => applyPlan(wholePlan(), host), PlanError);
    assert.equal(seen, 'br-study', 'atCrash runs once the step took effect');
    assert.equal(host.crashed, true);
    assert.notEqual(host.link('br-study'), undefined, 'the bridge stays: the process died before undoing');
    assert.throws(() => host.undo({ kind: 'bridge-add', name: 'br-study', mac: study.bridgeMac }), SimulatedCrash);
    assert.throws(() => host.killNetnsProcesses('red'), SimulatedCrash);
    await assert.rejects(host.launchDetached({ netns: 'red', hostname: 'red', argv: ['true'], env: {} }, '/tmp/log'), SimulatedCrash);
    assert.equal(host.lockHeld('/x/lock'), false, 'the lock died with its holder');
    host.revive();
    const next = host.acquire('/x/lock', { timeoutMs: 0 });
    lock.release(); // the dead process's handle: must not free the new holder's lock
    assert.equal(host.lockHeld('/x/lock'), true);
    next.release();
    host.undo({ kind: 'bridge-add', name: 'br-study', mac: study.bridgeMac });
    assert.equal(host.link('br-study'), undefined);
  });

  test('failUndoWhen: the undo failure is reported and the other undos still run', () => {
    const host = fresh();
    const before = host.snapshot();
    host.failUndoWhen((s) => s.kind === 'addr-add');
    host.failWhen((s) => s.kind === 'nft');
    assert.throws(() => applyPlan(wholePlan(), host), (e: unknown) => e instanceof PlanError && e.undoFailures.length === 1);
    assert.deepEqual(host.snapshot(), before, 'the bridge went, and its address with it');
  });
});

describe('fake host: nftables', () => {
  const port = { hostIf: red.hostIf, mac: red.mac, ip: red.ip, ip6: null, network: study };

  test('set elements are added and deleted; deleting a missing one fails the whole transaction', () => {
    const host = fresh();
    host.nft.run(replaceScript(withStudy));
    host.nft.run(addPortsScript([port]));
    assert.match(host.nftTable('bridge', 'nsnet')!, /set ports \{\n\t\ttype ifname\n\t\telements = \{ "nsv000000000001" \}/);
    host.nft.run(removePortsScript([port]));
    host.nft.run(removePortsScript([port])); // idempotent by construction (add, then delete)
    const before = host.snapshot().nft;
    const broken = `${addPortsScript([port])}delete element bridge nsnet ports { "nsv999" }\n`;
    assert.throws(() => host.nft.run(broken), (e: unknown) => e instanceof NsnetError && e.code === 'FIREWALL' && /No such file or directory/.test(e.message));
    assert.deepEqual(host.snapshot().nft, before, 'nothing of a failed transaction stays');
  });

  test('a map key with other data is EEXIST; a missing table is ENOENT', () => {
    const host = fresh();
    host.nft.run(replaceScript(withStudy));
    host.nft.run('add element inet nsnet published_any { tcp . 8080 : 10.0.0.1 . 80 }\n');
    host.nft.run('add element inet nsnet published_any { tcp . 8080 : 10.0.0.1 . 80 }\n');
    assert.throws(() => host.nft.run('add element inet nsnet published_any { tcp . 8080 : 10.0.0.2 . 80 }\n'), /File exists/);
    assert.throws(() => host.nft.run('delete table ip nat\n'), /No such file or directory/);
    assert.equal(host.nftTable('ip', 'nat'), undefined);
  });

  test('every script the nftables driver writes is understood, and each undo script restores', () => {
    const variants: NetworkSpec[] = [
      { ...study, internal: true, name: 'sealed', bridge: 'br-sealed', subnet: '10.1.0.0/24', gateway: '10.1.0.1' },
      { ...study, masquerade: false, icc: true, antiSpoofing: false, name: 'routed', bridge: 'br-routed', subnet: '10.2.0.0/24', gateway: '10.2.0.1' },
    ];
    const state: FirewallState = { networks: [study, ...variants], ports: [port, { ...port, hostIf: 'nsv3', network: variants[1]! }], mappings: [] };
    const host = fresh();
    const steps = [
      ...nft.replace(EMPTY_FIREWALL, state, 'networks'),
      ...nft.addMappings([web, { ...web, hostIp: '127.0.0.1', hostPort: 8081 }, { ...web, proto: 'udp' }], 'publish'),
      ...nft.removeMappings([web], 'withdraw'),
      ...nft.removePorts([port], 'forget'),
      ...nft.replace(state, { ...state, networks: [study] }, 'remove two'),
    ];
    const before = host.snapshot();
    applyPlan(steps.slice(0, -1), host);
    assert.match(host.nftTable('inet', 'nsnet')!, /elements = \{ 127\.0\.0\.1 \. tcp \. 8081 : 10\.0\.0\.1 \. 80 \}/);
    applyPlan(steps.slice(-1), host);
    assert.deepEqual(undoAll(steps, host), []);
    assert.deepEqual(host.snapshot(), before);
  });

  test('without the tool, a firewall step fails as the real run does', () => {
    const host = fresh();
    host.facts.nftUsable = false;
    assert.throws(() => host.apply(wholePlan().find((s) => s.kind === 'nft')!), (e: unknown) => e instanceof NsnetError && e.code === 'FIREWALL');
    host.facts.iptables = false;
    const xt = wholePlan(ipt).find((s) => s.kind === 'xtables-restore')!;
    assert.throws(() => host.apply(xt), (e: unknown) => e instanceof NsnetError && e.code === 'FIREWALL' && /iptables-save/.test(e.message));
  });

  test('a line the fake does not model throws FakeUnsupported', () => {
    const host = fresh();
    assert.throws(() => host.nft.run('flush ruleset\n'), FakeUnsupported);
    assert.throws(() => host.nftOutput(['list', 'tables']), FakeUnsupported);
  });

  test('renderNftTables gives what nftTable lists after the same changes, whatever their order', () => {
    const host = fresh();
    const blue = { ...port, hostIf: 'nsv000000000002', ip: '10.0.0.2', ip6: null, mac: '02:42:0a:00:00:02' };
    host.nft.run(replaceScript(withStudy));
    host.nft.run(addPortsScript([blue]));
    host.nft.run(addPortsScript([port]));
    const live = ['inet', 'bridge'].map((f) => host.nftTable(f, 'nsnet')!.trim()).join('\n');
    const tables = [
      { family: 'inet', name: 'nsnet' },
      { family: 'bridge', name: 'nsnet' },
    ];
    assert.equal(host.renderNftTables([replaceScript({ ...withStudy, ports: [port, blue] })], tables), live);
    assert.equal(host.renderNftTables([replaceScript(EMPTY_FIREWALL)], tables), '');
  });

  test('doctor\'s view: base chains as nft -j list chains gives them, foreign tables included', () => {
    const host = fresh();
    host.nft.run('table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n');
    const parsed = JSON.parse(host.nftOutput(['-j', 'list', 'chains'])) as { nftables: Array<{ chain?: { table: string; hook?: string; policy?: string } }> };
    const chains = parsed.nftables.flatMap((e) => (e.chain === undefined ? [] : [e.chain]));
    assert.deepEqual(chains.map((c) => [c.table, c.hook, c.policy]), [['filter', 'forward', 'drop']]);
  });
});

describe('fake host: processes, sockets, lock', () => {
  const spec = { netns: 'red', hostname: 'red', argv: ['sleep', '1000'], env: {} };

  test('a launched process lives in its namespace until stopped or killed with it', async () => {
    const host = fresh();
    await assert.rejects(host.launchDetached(spec, '/tmp/log'), /did not start/);
    host.apply({ kind: 'netns-add', name: 'red' });
    const started = await host.launchDetached(spec, '/tmp/log');
    assert.ok('pid' in started);
    assert.equal(host.isAlive(started.pid, started.startTime), true);
    assert.equal(host.isAlive(started.pid, 'another start'), false);
    assert.deepEqual(host.snapshot().processes, ['container in red as red: sleep 1000']);
    assert.deepEqual(host.killNetnsProcesses('red'), [started.pid]);
    assert.equal(host.startTime(started.pid), undefined);
    assert.equal(host.stopProcess(started.pid, started.startTime, 1000), 'gone');
  });

  test('stop: SIGTERM when it ends on it, SIGKILL when ignored or without grace', async () => {
    const host = fresh();
    host.apply({ kind: 'netns-add', name: 'red' });
    const a = (await host.launchDetached(spec, '/tmp/log')) as { pid: number; startTime: string };
    assert.equal(host.stopProcess(a.pid, a.startTime, 1000), 'term');
    const b = host.procs.start({ netns: 'red', argv: ['init'], ignoresTerm: true });
    assert.equal(host.stopProcess(b.pid, b.startTime, 1000), 'kill');
    const c = (await host.launchDetached(spec, '/tmp/log')) as { pid: number; startTime: string };
    assert.equal(host.stopProcess(c.pid, c.startTime, 0), 'kill');
  });

  test('foreground: exit resolves with the code a test gives; a launch can fail or finish at once', async () => {
    const host = fresh();
    host.apply({ kind: 'netns-add', name: 'red' });
    const { started, exit } = await host.launchForeground(spec);
    assert.ok(started !== undefined);
    host.exitProcess(started.pid, 3);
    assert.equal(await exit, 3);
    host.procs.finishNextLaunch(0);
    assert.deepEqual(await host.launchDetached(spec, '/tmp/log'), { exitCode: 0 });
    host.procs.failNextLaunch();
    await assert.rejects(host.launchForeground(spec), (e: unknown) => e instanceof NsnetError && e.code === 'PROCESS');
  });

  test('listeners with their holders; daemons are recorded', () => {
    const host = fresh();
    const holder = host.procs.start({ argv: ['nginx'] });
    const l = host.procs.addListener({ proto: 'tcp', port: 8080 }, { pid: holder.pid, command: 'nginx' });
    assert.deepEqual(host.listeners(), [{ proto: 'tcp', address: undefined, port: 8080, inode: l.inode }]);
    assert.deepEqual(host.socketHolder(l.inode), { pid: holder.pid, command: 'nginx' });
    const pid = host.spawnDaemon('/opt/nsnet/dist/src/dns/server.js', ['--root', '/x'], '/x/dns.log');
    assert.deepEqual(host.daemons, [{ pid, script: '/opt/nsnet/dist/src/dns/server.js', args: ['--root', '/x'], logPath: '/x/dns.log' }]);
    assert.notEqual(host.startTime(pid), undefined);
  });

  test('the lock: a second acquire while held times out like the real one; release frees it', () => {
    const host = fresh();
    const lock = host.acquire('/x/lock', { timeoutMs: 0 });
    assert.throws(() => host.acquire('/x/lock', { timeoutMs: 0 }), (e: unknown) => e instanceof NsnetError && e.code === 'LOCK_TIMEOUT');
    let waited = false;
    assert.throws(() => host.acquire('/x/lock', { timeoutMs: 5000, onWait: () => (waited = true) }));
    assert.equal(waited, true);
    lock.release();
    lock.release();
    host.acquire('/x/lock', { timeoutMs: 0 }).release();
    assert.equal(host.lockHeld('/x/lock'), false);
  });

  test('clone is independent; snapshot is JSON and deterministic', () => {
    const host = fresh();
    applyPlan(wholePlan(), host);
    const copy = host.clone();
    assert.deepEqual(copy.snapshot(), host.snapshot());
    copy.apply({ kind: 'link-del', dev: 'br-study' });
    assert.notDeepEqual(copy.snapshot(), host.snapshot());
    assert.deepEqual(JSON.parse(JSON.stringify(host.snapshot())), host.snapshot());
  });
});
