/**
 * A lab's `netem:` on the fake machine: checked with the file (a bad value named with its line
 * and column), made by `up` after the containers, converged alone (a changed delay changes only
 * the qdisc: no container made again, the same process), taken off when the file drops it, and
 * shown by --dry-run as tc lines.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { up } from '../../src/lab/up.js';
import { parseLab } from '../../src/lab/spec.js';
import { PlanningContext } from '../../src/lab/planning.js';
import { fixture, ROOTFS } from '../helpers/ops-fixture.js';

const lab = (netem: string): string => `
name: utnet
networks:
  wan: { subnet: 10.63.0.0/24 }
containers:
  a:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks:
      wan: { ip: 10.63.0.10${netem === '' ? '' : `, netem: ${netem}`} }
  b:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks: [wan]
`;

const spec = (netem: string) => parseLab(lab(netem), 'lab.yaml', 'x');

describe('lab netem', () => {
  test('bad values are refused with their place in the file', () => {
    assert.throws(() => spec('{ loss: 150% }'), /lab\.yaml:10:\d+: containers\.a\.networks\.wan\.netem: invalid loss "150%": more than 100%/);
    assert.throws(() => spec('{ rate: fast }'), /invalid rate "fast"/);
    assert.throws(() => spec('{ jitter: 5ms }'), /jitter varies a delay/);
    assert.throws(() => spec('{ latency: 5ms }'), /unknown property "latency"/);
  });

  test('up makes it; a changed delay changes only the qdisc; dropping it clears it', async () => {
    const fx = fixture();
    await up(fx.ctx, spec('{ delay: 40ms, rate: 10mbit }'), { parallel: 1 });
    const eth0 = () => fx.host.net.link('utnet-a', 'eth0');
    assert.deepEqual(eth0()?.netem, { delayUs: 40_000, rateBit: 10_000_000 });
    const pid = fx.store.containers.resolve('utnet-a').pid;
    const applied = fx.host.log.length;
    const r = await up(fx.ctx, spec('{ delay: 80ms, rate: 10mbit }'), { parallel: 1 });
    assert.equal(r.noop, false);
    assert.deepEqual(fx.host.log.slice(applied), ['apply qdisc-netem'], 'one step: the qdisc');
    assert.equal(fx.store.containers.resolve('utnet-a').pid, pid, 'the same process');
    assert.deepEqual(eth0()?.netem, { delayUs: 80_000, rateBit: 10_000_000 });
    assert.equal((await up(fx.ctx, spec('{ delay: 80ms, rate: 10mbit }'), { parallel: 1 })).noop, true, 'nothing to do the second time');
    await up(fx.ctx, spec(''), { parallel: 1 });
    assert.equal(eth0()?.netem, undefined);
    assert.equal(fx.store.containers.resolve('utnet-a').pid, pid);
    fx.close();
  });

  test('--dry-run prints the tc line after the container', async () => {
    const fx = fixture();
    const plan = new PlanningContext({ host: fx.host, runner: fx.host, store: fx.store, root: fx.root });
    await up(plan, spec('{ delay: 40ms, loss: 2% }'), { parallel: 1 });
    const lines = plan.planned.join('\n').split('\n');
    assert.ok(lines.includes('ip netns exec utnet-a tc qdisc add dev eth0 root netem delay 40ms loss 2%'), lines.join('\n'));
    fx.close();
  });
});

describe('lab netem on a point-to-point link', () => {
  const linked = (netem: string): string => `
name: utlnk
networks:
  lan: { subnet: 10.64.0.0/24 }
containers:
  r1: { command: [sleep, infinity], rootfs: ${ROOTFS}, networks: [lan] }
  r2: { command: [sleep, infinity], rootfs: ${ROOTFS}, networks: [lan] }
links:
  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.1/30, 10.0.12.2/30]${netem === '' ? '' : `, netem: ${netem}`} }
`;

  test('one impairment for both ends, or one per end; a bad one is refused at its place', async () => {
    const fx = fixture();
    await up(fx.ctx, parseLab(linked('{ rate: 1mbit }'), 'lab.yaml', 'x'), { parallel: 1 });
    assert.deepEqual(fx.host.net.link('utlnk-r1', 'eth1')?.netem, { rateBit: 1_000_000 });
    assert.deepEqual(fx.host.net.link('utlnk-r2', 'eth1')?.netem, { rateBit: 1_000_000 });
    await up(fx.ctx, parseLab(linked('[{ delay: 5ms }, null]'), 'lab.yaml', 'x'), { parallel: 1 });
    assert.deepEqual(fx.host.net.link('utlnk-r1', 'eth1')?.netem, { delayUs: 5_000 });
    assert.equal(fx.host.net.link('utlnk-r2', 'eth1')?.netem, undefined);
    assert.throws(() => parseLab(linked('[null, { loss: 101% }]'), 'lab.yaml', 'x'), /links\.0\.netem\.1: invalid loss "101%"/);
    fx.close();
  });
});
