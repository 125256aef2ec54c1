/**
 * `system reset` on an in-memory machine (FakeHost) and store: everything nsnet made goes — its
 * containers' processes and namespaces, bridges, veths in a runtime's namespace, generated links
 * a crash left, its firewall tables, every record and lab record — and nothing else; a reset whose
 * steps fail reports each failure with its own code and keeps the records, so reset again
 * finishes; a reset that dies half-way is finished by the next.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetConf } from '../../src/cni/config.js';
import { NsnetErrors } from '../../src/core/errors.js';
import { up } from '../../src/lab/up.js';
import { parseLab } from '../../src/lab/spec.js';
import { cniAdd } from '../../src/ops/cni.js';
import { run } from '../../src/ops/containers.js';
import type { Context } from '../../src/ops/context.js';
import { createNetwork } from '../../src/ops/networks.js';
import { reset } from '../../src/ops/system.js';
import { assertSameState, codeOf, crashEachStep, dumpStore, failEachStep, fixture, ROOTFS, runInput, type Fixture, type MachineState } from '../helpers/ops-fixture.js';

const RUNTIME_NS = '/run/user/0/netns/cni-reset';

const LAB_YAML = `
name: utreset
networks:
  net: { subnet: 10.66.0.0/24 }
containers:
  box:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks: [net]
`;

/**
 * A machine with some of everything: a network with two containers (one publishing a port), the
 * default network's container, a runtime's container attached through CNI, a lab, and a link
 * with a generated name that a crash left behind. Returns it and its state before any of that.
 */
async function populated(): Promise<{ base: Fixture; pristine: MachineState }> {
  const base = fixture();
  base.host.net.addRuntimeNetns(RUNTIME_NS);
  const pristine = base.state();
  await base.setUp(
    (ctx) => createNetwork(ctx, { name: 'ut-reset', subnet: '10.65.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-reset-a', networks: ['ut-reset'], publish: ['8080:80'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-reset-b', networks: ['ut-reset'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-reset-c' })),
    (ctx) => cniAdd(ctx, {
      conf: parseNetConf({ cniVersion: '1.0.0', name: 'ut-cni', type: 'nsnet-cni', subnet: '10.67.0.0/24' }),
      containerId: 'feedface', netns: RUNTIME_NS, ifName: 'eth0', ports: ['9090:90'], aliases: [], runtime: 'podman',
    }),
    (ctx) => up(ctx, parseLab(LAB_YAML, 'lab.yaml', 'x')),
  );
  // What a crash between a veth's creation and its record leaves.
  base.host.net.addBridge('nsnet-0badc0de', '02:00:00:00:00:01', undefined);
  return { base, pristine };
}

/** Every code a reset's error carries. */
function codesOf(err: unknown): string[] {
  return err instanceof NsnetErrors ? err.errors.map(codeOf) : [codeOf(err)];
}

const resetOp = (ctx: Context): string[] => reset(ctx);

describe('system reset', () => {
  test('success: everything nsnet made is gone, from the store and the machine; the runtime\'s namespace and the host stay', async () => {
    const { base, pristine } = await populated();
    assert.ok(base.store.settings.keys('lab:').length > 0, 'the lab has its record');
    assert.ok(base.host.procs.snapshot().length === 4, base.host.procs.snapshot().join('\n'));
    const gone = reset(base.ctx);
    assert.deepEqual(gone.sort(), [
      'container cni-feedface',
      'container ut-reset-a',
      'container ut-reset-b',
      'container ut-reset-c',
      'container utreset-box',
      'network bridge',
      'network ut-cni',
      'network ut-reset',
      'network utreset-net',
    ]);
    assertSameState(base.state(), pristine, 'after reset');
    assert.deepEqual(base.store.settings.keys(''), [], 'no setting left, lab:* included');
    assert.ok(base.host.netnsExists(RUNTIME_NS), 'the runtime keeps its namespace');
    assert.deepEqual(reset(base.ctx), [], 'reset again: nothing left to do');
  });

  test('failure at every step: each failure reported with its code; the records stay; reset again finishes', async () => {
    const { base, pristine } = await populated();
    const n = await failEachStep(base, resetOp, ({ fx, before, error, i }) => {
      assert.deepEqual(codesOf(error), ['KERNEL'], `step ${i}: ${String(error)}`);
      assert.match(String(error), /injected failure/);
      assert.deepEqual(dumpStore(fx.store), before.store, `step ${i}: a reset that could not remove everything keeps the records`);
      fx.host.clearFaults();
      reset(fx.ctx);
      assertSameState(fx.state(), pristine, `reset again after a failure at step ${i}`);
    });
    assert.ok(n >= 8, `${n} steps`);
  });

  test('every failure keeps its own code: kernel steps and the firewall', async () => {
    const { base } = await populated();
    base.host.failWhen((s) => s.kind === 'netns-del' || (s.kind === 'link-del' && s.dev.startsWith('nsnet-')));
    base.host.facts.nftUsable = false;
    assert.throws(
      () => reset(base.ctx),
      (error: unknown) => {
        assert.ok(error instanceof NsnetErrors, String(error));
        // Four namespaces, three generated bridge names and the leftover one (nsnet0 is not one); then the firewall.
        assert.deepEqual(codesOf(error), [...Array<string>(8).fill('KERNEL'), 'FIREWALL'], error.message);
        return true;
      },
    );
    assert.ok(base.store.networks.list().length > 0 && base.store.containers.list().length > 0, 'the records stay');
  });

  test('crash at every step: the next process\'s recovery finishes the reset', async () => {
    const { base, pristine } = await populated();
    await crashEachStep(base, resetOp, ({ fx, i }) => {
      assert.match(fx.recovered.join('\n'), /recovered an interrupted "system reset"/);
      assertSameState(fx.state(), pristine, `recovery after a crash after step ${i}`);
      assert.deepEqual(reset(fx.ctx), [], 'reset again: nothing left');
    });
  });
});
