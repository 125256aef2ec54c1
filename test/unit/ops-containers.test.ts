/**
 * Container operations (run, start, stop, rm) on a fake machine: what each makes, and that a
 * failure at any step (undone in process) or a crash after any step (undone or finished by the
 * next process's recovery) leaves the records and the machine consistent. No root, no kernel.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { remove, run, start, stop } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import { openMemoryStore, openStore, type ContainerRecord } from '../../src/store/index.js';
import { FakeHost, type FakeSnapshot } from '../helpers/fake-host.js';
import {
  assertKept,
  assertRecoveredAsBefore,
  assertSameState,
  assertUndone,
  codeOf,
  contextOn,
  crashAndRecover,
  crashEachStep,
  failEachStep,
  fixture,
  runInput,
  stateAfter,
  type Fixture,
  type MachineState,
  type Op,
} from '../helpers/ops-fixture.js';

const study = (ctx: Parameters<Op>[0]) => createNetwork(ctx, { name: 'ut-study', subnet: '10.0.0.0/24' });
const lab = (ctx: Parameters<Op>[0]) => createNetwork(ctx, { name: 'ut-lab', subnet: '10.1.0.0/24' });
const runRed = (input: Partial<Parameters<typeof runInput>[0]> = {}): Op => (ctx) => run(ctx, runInput({ name: 'ut-red', ...input }));

const container = (fx: Fixture, name: string): ContainerRecord => fx.store.containers.resolve(name);

/**
 * A reboot: the machine comes back without namespaces, bridges, firewall or processes; the
 * records stay. ip_forward comes back on (sysctl.conf), so "as before" after an undo is exact.
 */
function rebooted(fx: Fixture, ipForward: '0' | '1' = '1'): Fixture {
  return fixture({ host: new FakeHost({ ipForward }), store: openMemoryStore(fx.store.serialize()), root: fx.root });
}

describe('run', () => {
  test('detached on a fresh state: the default network is made on first use and the container wired into it', async () => {
    const fx = fixture({ host: new FakeHost({ ipForward: '0' }) });
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-red' }));
    const bridge = fx.store.networks.byName('bridge');
    assert.ok(bridge?.isDefault);
    assert.equal(bridge.bridge, 'nsnet0');
    assert.equal(container(fx, 'ut-red').status, 'running');
    const [ep] = fx.store.endpoints.forContainer(c.id);
    assert.equal(ep?.ifName, 'eth0');
    // The machine: bridge up with the gateway, the veth enslaved, the address and route inside.
    const host = fx.host;
    assert.equal(host.link('nsnet0')?.kind, 'bridge');
    assert.equal(host.link('nsnet0')?.up, true);
    assert.ok(host.addresses().some((a) => a.address === bridge.gateway && a.prefixLen === 16));
    assert.equal(host.link(ep.hostIf)?.masterIndex, host.link('nsnet0')?.index);
    assert.ok(host.addresses('ut-red').some((a) => a.address === ep.ip));
    assert.ok(host.routes('ut-red').some((r) => r.dst === undefined && r.gateway === bridge.gateway));
    assert.equal(host.sysctl('net.ipv4.ip_forward'), '1');
    assert.equal(host.sysctl('net.ipv4.conf.nsnet0.route_localnet'), '1');
    assert.match(host.nftTable('inet', 'nsnet') ?? '', /set bridges \{[^}]*elements = \{ "nsnet0" \}/);
    assert.match(host.nftTable('bridge', 'nsnet') ?? '', new RegExp(`set ports \\{[^}]*elements = \\{ "${ep.hostIf}" \\}`));
    assert.deepEqual(host.snapshot().processes, ['container in ut-red as ut-red: sleep 1000']);
    assert.deepEqual(fx.store.journal.list(), []);
  });

  test('with -p 127.0.0.1:8080:80: the port is recorded and its map element added', async () => {
    const fx = await fixture().setUp(study);
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-red', networks: ['ut-study'], publish: ['127.0.0.1:8080:80', '53/udp'] }));
    const ports = fx.store.ports.forContainer(c.id);
    assert.deepEqual(
      ports.map((p) => `${p.hostIp ?? '*'}:${p.hostPort}->${p.containerPort}/${p.proto}`).sort(),
      [`*:${ports.find((p) => p.proto === 'udp')!.hostPort}->53/udp`, '127.0.0.1:8080->80/tcp'],
    );
    const table = fx.host.nftTable('inet', 'nsnet') ?? '';
    assert.match(table, /elements = \{ 127\.0\.0\.1 \. tcp \. 8080 : 10\.0\.0\.2 \. 80 \}/);
    assert.match(table, /map published_any \{[^}]*elements = \{ udp \. \d+ : 10\.0\.0\.2 \. 53 \}/);
  });

  test('with two networks: eth0 on the first (and its default route), eth1 on the second', async () => {
    const fx = await fixture().setUp(study, lab);
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-red', networks: ['ut-study', 'ut-lab'] }));
    const eps = fx.store.endpoints.forContainer(c.id);
    assert.deepEqual(eps.map((e) => `${e.ifName} ${e.ip}`), ['eth0 10.0.0.2', 'eth1 10.1.0.2']);
    const addrs = fx.host.addresses('ut-red').map((a) => a.address);
    assert.ok(addrs.includes('10.0.0.2') && addrs.includes('10.1.0.2'));
    const routes = fx.host.routes('ut-red').filter((r) => r.dst === undefined);
    assert.deepEqual(routes.map((r) => r.gateway), ['10.0.0.1']);
    assert.equal(routes[0]!.oif, fx.host.link('eth0', 'ut-red')?.index);
  });

  test('in the foreground with --rm: its exit code is returned and recorded, then it is removed', async () => {
    const fx = await fixture().setUp(study);
    const networkOnly = fx.state();
    let settled = false;
    const running = run(fx.ctx, runInput({ name: 'ut-red', networks: ['ut-study'], detach: false, remove: true })).finally(() => (settled = true));
    // The command runs (and is recorded running) until the test ends it.
    const runningPid = (): number | null | undefined => fx.store.containers.byIdOrName('ut-red')?.pid;
    while (typeof runningPid() !== 'number' && !settled) await new Promise((resolve) => setImmediate(resolve));
    if (settled) assert.fail(`the run ended before its command did: ${String(await running.catch((e: unknown) => e))}`);
    assert.equal(fx.host.procs.get(runningPid()!)?.kind, 'foreground');
    fx.host.exitProcess(runningPid()!, 3);
    assert.equal((await running).exitCode, 3);
    assertSameState(fx.state(), networkOnly, 'after the run with --rm', { ignoreCursors: true });
  });

  test('a command that ends before it is seen running (run -d true) is recorded as exited, with its code', async () => {
    const fx = await fixture().setUp(study);
    fx.host.procs.finishNextLaunch(0);
    await run(fx.ctx, runInput({ name: 'ut-red', networks: ['ut-study'], argv: ['true'] }));
    const c = container(fx, 'ut-red');
    assert.deepEqual([c.status, c.exitCode, c.pid], ['exited', 0, null]);
    assert.equal(fx.host.netnsExists('ut-red'), true, 'wired, to be started again');
  });

  describe('failure at every step leaves the records and the machine as before', () => {
    test('on a fresh state (the default network made on first use)', async () => {
      const n = await failEachStep(fixture(), runRed(), assertUndone);
      assert.ok(n >= 10, `${n} steps`);
    });
    test('with -p, on an existing network', async () => {
      await failEachStep(await fixture().setUp(study), runRed({ networks: ['ut-study'], publish: ['127.0.0.1:8080:80'] }), assertUndone);
    });
    test('with two networks, next to a running container', async () => {
      const base = await fixture().setUp(study, lab, runRed({ name: 'ut-blue', networks: ['ut-lab'] }));
      await failEachStep(base, runRed({ networks: ['ut-study', 'ut-lab'] }), assertUndone);
    });
  });

  describe('crash after every step: the next process undoes it', () => {
    test('on a fresh state', async () => {
      await crashEachStep(fixture(), runRed(), assertRecoveredAsBefore('run'));
    });
    test('with -p, on an existing network', async () => {
      await crashEachStep(await fixture().setUp(study), runRed({ networks: ['ut-study'], publish: ['127.0.0.1:8080:80'] }), assertRecoveredAsBefore('run'));
    });
    test('with two networks, next to a running container', async () => {
      const base = await fixture().setUp(study, lab, runRed({ name: 'ut-blue', networks: ['ut-lab'] }));
      await crashEachStep(base, runRed({ networks: ['ut-study', 'ut-lab'] }), assertRecoveredAsBefore('run'));
    });
  });

  test('the process does not start: the wiring is undone and the records forgotten (PROCESS)', async () => {
    const fx = fixture();
    const before = fx.state();
    fx.host.procs.failNextLaunch();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-red', publish: ['8080:80'] })), (e: unknown) => codeOf(e) === 'PROCESS');
    assertSameState(fx.state(), before, 'after a failed launch');
    // And the next run works.
    await run(fx.ctx, runInput({ name: 'ut-red' }));
    assert.equal(container(fx, 'ut-red').status, 'running');
  });

  test('crash right after the process started: the next process kills it, undoes the wiring, forgets the records', async () => {
    const r = await crashAndRecover(await fixture().setUp(study), runRed({ networks: ['ut-study'], publish: ['8080:80'] }), (host, atCrash) =>
      host.crashAtNextLaunch(atCrash),
    );
    assert.ok(r.crashed.host.procs.state.processes.some((p) => p.netns === 'ut-red'), 'the process had started');
    assertRecoveredAsBefore('run')(r);
  });
});

describe('start', () => {
  const stopped = async (): Promise<Fixture> => fixture().setUp(study, runRed({ networks: ['ut-study'], publish: ['127.0.0.1:8080:80'] }), (ctx) => stop(ctx, ['ut-red'], 10));

  test('after stop: the namespace is still there, so only the process starts again', async () => {
    const fx = await stopped();
    const applies = fx.host.applyCount;
    const old = container(fx, 'ut-red');
    assert.deepEqual(await start(fx.ctx, ['ut-red']), ['ut-red']);
    const c = container(fx, 'ut-red');
    assert.equal(c.status, 'running');
    assert.notEqual(c.pid, old.pid);
    assert.equal(fx.host.applyCount, applies, 'no kernel step');
    // Starting a running container does nothing.
    await start(fx.ctx, ['ut-red']);
    assert.equal(container(fx, 'ut-red').pid, c.pid);
  });

  test('after stop, the process does not start: the container stays, exited (PROCESS)', async () => {
    const fx = await stopped();
    const before = fx.state();
    fx.host.procs.failNextLaunch();
    await assert.rejects(start(fx.ctx, ['ut-red']), (e: unknown) => codeOf(e) === 'PROCESS');
    assertExitedAsBefore(fx.state(), before, 'ut-red', 'after a failed start');
  });

  test('after stop, crash right after the process started: the next process kills it; the container stays, exited', async () => {
    const r = await crashAndRecover(await stopped(), (ctx) => start(ctx, ['ut-red']), (host, atCrash) => host.crashAtNextLaunch(atCrash));
    assert.match(r.fx.recovered.join('\n'), /recovered an interrupted "start" .*: undid it$/);
    assertExitedAsBefore(r.fx.state(), r.before, 'ut-red', 'after recovery');
  });

  test('after a reboot: namespace, bridge (with route_localnet), firewall and process are rebuilt from the records', async () => {
    const up = await fixture().setUp(study, lab, runRed({ networks: ['ut-study', 'ut-lab'], publish: ['127.0.0.1:8080:80'] }));
    const wired = up.host.snapshot();
    const fx = rebooted(up, '0');
    assert.equal(fx.host.link('nsnet0'), undefined);
    await start(fx.ctx, ['ut-red']);
    assert.equal(container(fx, 'ut-red').status, 'running');
    // The same machine as before the reboot (the veths' own MACs aside: the kernel picks them).
    const sameButMacs = (s: typeof wired) => JSON.parse(JSON.stringify(s.network).replace(/02:fa:ce:[0-9a-f:]{8}/g, 'MAC')) as unknown;
    assert.deepEqual(sameButMacs(fx.host.snapshot()), sameButMacs(wired));
    assert.deepEqual(fx.host.snapshot().nft, wired.nft);
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward'), '1');
  });

  /**
   * A start after a reboot also regenerates the firewall from the records (restoreSteps). Undone
   * in process, that step puts back what it was planned over — the firewall the records give — and
   * recovery regenerates the firewall from the records too: so after a failed start the firewall
   * is either as before (the failure came before that step) or as the records give (as before the
   * reboot), never anything else. Links, namespaces and processes are exactly as before.
   */
  const afterReboot = async (): Promise<{ base: Fixture; recordsFirewall: FakeSnapshot['nft'] }> => {
    const up = await fixture().setUp(study, lab, runRed({ networks: ['ut-study', 'ut-lab'], publish: ['127.0.0.1:8080:80'] }));
    return { base: rebooted(up), recordsFirewall: up.host.snapshot().nft };
  };
  const withFirewall = (s: MachineState, nft: FakeSnapshot['nft']): MachineState => ({ ...s, host: { ...s.host, nft } });

  test('after a reboot, failure at every step: the machine as before, the container kept, exited', async () => {
    const { base, recordsFirewall } = await afterReboot();
    await failEachStep(base, (ctx) => start(ctx, ['ut-red']), ({ i, fx, before, error }) => {
      assert.equal(codeOf(error), 'KERNEL', `step ${i}`);
      const nft = fx.host.snapshot().nft;
      assert.ok(Object.keys(nft).length === 0 || isDeepStrictEqual(nft, recordsFirewall), `step ${i}: a firewall neither absent nor the records'`);
      assertExitedAsBefore(fx.state(), withFirewall(before, nft), 'ut-red', `failure at step ${i}`);
    });
  });

  test('after a reboot, crash after every step: the next process undoes it; the container kept, exited', async () => {
    const { base, recordsFirewall } = await afterReboot();
    await crashEachStep(base, (ctx) => start(ctx, ['ut-red']), ({ i, fx, before }) => {
      assert.match(fx.recovered.join('\n'), /recovered an interrupted "start" .*: undid it$/);
      assertExitedAsBefore(fx.state(), withFirewall(before, recordsFirewall), 'ut-red', `crash after step ${i}`);
    });
  });
});

/**
 * What a failed start leaves: `before`, but the container recorded as exited (a start that fails
 * keeps it, to be started again). Its finishedAt is the time of the failure: not compared.
 */
function assertExitedAsBefore(actual: MachineState, before: MachineState, name: string, what: string): void {
  const patch = (s: MachineState, status?: string): MachineState => {
    const containers = s.store.containers.map((c) => {
      const rec = c as ContainerRecord;
      return rec.name === name ? { ...rec, status: status ?? rec.status, finishedAt: null } : rec;
    });
    return { ...s, store: { ...s.store, containers } };
  };
  assertSameState(patch(actual), patch(before, 'exited'), what);
}

describe('stop', () => {
  test('SIGTERM ends it: exited 143; the namespace and its wiring stay for a start', async () => {
    const fx = await fixture().setUp(study, runRed({ networks: ['ut-study'] }));
    const wired = fx.host.snapshot().network;
    assert.deepEqual(stop(fx.ctx, ['ut-red'], 10), ['ut-red']);
    const c = container(fx, 'ut-red');
    assert.equal(c.status, 'exited');
    assert.equal(c.exitCode, 143);
    assert.deepEqual(fx.host.snapshot().processes, []);
    assert.deepEqual(fx.host.snapshot().network, wired);
  });

  test('a process that ignores SIGTERM is killed: 137', async () => {
    const fx = await fixture().setUp(study, runRed({ networks: ['ut-study'] }));
    fx.host.procs.get(container(fx, 'ut-red').pid!)!.ignoresTerm = true;
    stop(fx.ctx, ['ut-red'], 10);
    assert.equal(container(fx, 'ut-red').exitCode, 137);
  });

  test('a process that already ended, and an unknown name (NOT_FOUND)', async () => {
    const fx = await fixture().setUp(study, runRed({ networks: ['ut-study'] }));
    fx.host.exitProcess(container(fx, 'ut-red').pid!, 3);
    stop(fx.ctx, ['ut-red'], 10);
    assert.equal(container(fx, 'ut-red').status, 'exited');
    const before = fx.state();
    assert.throws(() => stop(fx.ctx, ['ut-nobody'], 10), (e: unknown) => codeOf(e) === 'NOT_FOUND');
    assertSameState(fx.state(), before, 'after stopping an unknown container');
  });
});

describe('rm', () => {
  const wired = async (): Promise<{ fx: Fixture; networkOnly: MachineState }> => {
    const fx = await fixture().setUp(study);
    const networkOnly = fx.state();
    await runRed({ networks: ['ut-study'], publish: ['127.0.0.1:8080:80'] })(fx.ctx);
    return { fx, networkOnly };
  };
  const rmRed: Op = (ctx) => remove(ctx, ['ut-red'], { force: true });

  test('one (running, -f): the records go, and the machine is as it was before the run', async () => {
    const { fx, networkOnly } = await wired();
    assert.deepEqual(remove(fx.ctx, ['ut-red'], { force: true }), ['ut-red']);
    assertSameState(fx.state(), networkOnly, 'after rm', { ignoreCursors: true });
  });

  test('running, without -f: IN_USE, nothing changes', async () => {
    const { fx } = await wired();
    const before = fx.state();
    assert.throws(() => remove(fx.ctx, ['ut-red'], { force: false }), (e: unknown) => codeOf(e) === 'IN_USE');
    assertSameState(fx.state(), before, 'after a refused rm');
  });

  test('failure at every step: teardown goes on, the records stay, the error names the failing step; rm again finishes', async () => {
    const { fx: base } = await wired();
    const removed = await stateAfter(base, rmRed);
    const keptThenRetried = assertKept('rm ut-red', { op: rmRed, removed });
    await failEachStep(base, rmRed, async (r) => {
      // Later steps still ran: the namespace went unless its own step failed.
      assert.equal(r.fx.host.netnsExists('ut-red'), r.fx.host.log.every((l) => l !== 'apply netns-del'), `step ${r.i}`);
      await keptThenRetried(r);
    });
  });

  test('crash after every step: the next process finishes the removal', async () => {
    const { fx: base } = await wired();
    const removed = await stateAfter(base, rmRed);
    await crashEachStep(base, rmRed, ({ i, fx }) => {
      assert.match(fx.recovered.join('\n'), /recovered an interrupted "rm ut-red" .*: finished it$/);
      assertSameState(fx.state(), removed, `crash after step ${i}`);
    });
  });

  test('several, with failures: the others go, and each failure keeps its own code', async () => {
    const fx = await fixture().setUp(
      study,
      ...['ut-a', 'ut-b', 'ut-d'].map((name) => runRed({ name, networks: ['ut-study'] })),
      (ctx) => stop(ctx, ['ut-a', 'ut-d'], 0),
    );
    fx.host.failWhen((step) => step.kind === 'netns-del' && step.name === 'ut-d');
    let error: unknown;
    try {
      remove(fx.ctx, ['ut-a', 'ut-b', 'ut-c', 'ut-d'], { force: false });
    } catch (err) {
      error = err;
    }
    const errors = (error as { errors?: unknown[] } | undefined)?.errors;
    assert.ok(Array.isArray(errors), `expected several errors, got ${String(error)}`);
    // ut-b runs (no -f), ut-c does not exist, ut-d's namespace could not be deleted.
    assert.deepEqual(errors.map(codeOf), ['IN_USE', 'NOT_FOUND', 'KERNEL']);
    assert.equal(codeOf(error), 'IN_USE');
    assert.deepEqual(fx.store.containers.list().map((c) => c.name).sort(), ['ut-b', 'ut-d']);
    assert.equal(fx.host.netnsExists('ut-a'), false);
    assert.deepEqual(fx.store.journal.list(), []);
  });
});

describe('issue 13, bug 1: a failed run left its network record behind', () => {
  // The old run journalled forget = {containers, networks: madeNetworks}, but its in-process
  // failure path deleted only the container: the default network's bridge and firewall were
  // undone while its record stayed, and every later run failed (nft: "No such file or
  // directory") until `system check --fix`.
  test('the first run on a fresh state fails at the veth step: no network record, machine unchanged, the next run works', async () => {
    const fx = fixture();
    const before = fx.state();
    fx.host.failWhen((step) => step.kind === 'veth-add');
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-red' })), (e: unknown) => codeOf(e) === 'KERNEL');
    assert.deepEqual(fx.store.networks.list(), []);
    assertSameState(fx.state(), before, 'after the failed run');
    fx.host.clearFaults();
    await run(fx.ctx, runInput({ name: 'ut-red' }));
    assert.equal(container(fx, 'ut-red').status, 'running');
    assert.equal(fx.store.networks.byName('bridge')?.bridge, 'nsnet0');
  });
});

describe('issue 13, bug 2: start after a reboot rebuilt the bridge without route_localnet', () => {
  // The old start rebuilt a lost bridge from check.ts's own copy of the recipe (bridgeSteps),
  // which set ip_forward but not net.ipv4.conf.BRIDGE.route_localnet: after a reboot, ports
  // published on 127.0.0.1 stopped working.
  test('the rebuilt bridge has route_localnet=1', async () => {
    const up = await fixture().setUp(study, runRed({ networks: ['ut-study'], publish: ['127.0.0.1:8080:80'] }));
    const bridge = up.store.networks.byName('ut-study')!.bridge;
    const fx = rebooted(up);
    assert.equal(fx.host.sysctl(`net.ipv4.conf.${bridge}.route_localnet`), undefined);
    await start(fx.ctx, ['ut-red']);
    assert.equal(fx.host.sysctl(`net.ipv4.conf.${bridge}.route_localnet`), '1');
    assert.match(fx.host.nftTable('inet', 'nsnet') ?? '', /127\.0\.0\.1 \. tcp \. 8080 : 10\.0\.0\.2 \. 80/);
  });
});

describe('concurrent decisions', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('two processes on one store file and one machine, runs interleaved: never the same address', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-unit-concurrent-'));
    dirs.push(root);
    const host = new FakeHost({ ipForward: '1' });
    const a = fixture({ host, store: openStore(root), root });
    const b = fixture({ host, store: openStore(root), root });
    study(a.ctx);
    for (let k = 0; k < 4; k++) {
      await run(a.ctx, runInput({ name: `ut-a${k}`, networks: ['ut-study'] }));
      await run(b.ctx, runInput({ name: `ut-b${k}`, networks: ['ut-study'] }));
    }
    const ips = a.store.networks.list().flatMap((n) => a.store.endpoints.forNetwork(n.id).map((e) => e.ip));
    assert.equal(ips.length, 8);
    assert.equal(new Set(ips).size, 8, ips.join(' '));
    assert.deepEqual(dumpNames(b), dumpNames(a), 'both processes see the same records');
    a.close();
    b.close();
  });

  test('a decision while another process holds the lock times out as the lock says, and leaves nothing', async () => {
    const a = await fixture().setUp(study);
    let waited = 0;
    const b = contextOn(a.host, a.store, a.root, { lockTimeoutMs: 1000, onLockWait: () => waited++, firewallDriver: 'nftables' });
    const release = a.ctx.lock();
    const before = a.state();
    await assert.rejects(run(b, runInput({ name: 'ut-red', networks: ['ut-study'] })), (e: unknown) => codeOf(e) === 'LOCK_TIMEOUT');
    assert.equal(waited, 1, 'told once that it waits');
    assertSameState(a.state(), before, 'after the refused run');
    release();
    await run(b, runInput({ name: 'ut-red', networks: ['ut-study'] }));
    assert.equal(container(a, 'ut-red').status, 'running');
  });

  test('two runs started together: the second finds the lock held while the first launches; the first completes', async () => {
    const a = await fixture().setUp(study);
    const b = fixture({ host: a.host, store: a.store, root: a.root });
    const [first, second] = await Promise.allSettled([
      run(a.ctx, runInput({ name: 'ut-red', networks: ['ut-study'] })),
      run(b.ctx, runInput({ name: 'ut-blue', networks: ['ut-study'] })),
    ]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status, 'rejected');
    assert.equal(codeOf((second as PromiseRejectedResult).reason), 'LOCK_TIMEOUT');
    assert.deepEqual(a.store.containers.list().map((c) => c.name), ['ut-red']);
    assert.equal(a.host.netnsExists('ut-blue'), false);
  });
});

const dumpNames = (fx: Fixture): string[] => fx.store.containers.list().map((c) => c.name).sort();
