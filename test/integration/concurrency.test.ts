/**
 * Concurrent nsnet processes: the host-wide lock and the store's transactions must hand out
 * distinct addresses, names and subnets, lose no record, and leave nothing half-made behind
 * when some of them fail.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type Sandbox } from '../helpers/sandbox.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface InspectedNetwork {
  IPAM: { Config: Array<{ Subnet: string }> };
  Containers: Record<string, { Name: string; IPv4Address: string }>;
}

requiredSuite('concurrent nsnet processes', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('cc');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('ten parallel runs on one network get ten distinct addresses', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}par`;
    const created = await sb.nsnet(['network', 'create', net, '--subnet', '10.77.0.0/24']);
    assert.equal(created.code, 0, describeResult(created));
    const names = Array.from({ length: 10 }, (_, i) => `${sb!.prefix}p${i}`);
    const results = await Promise.all(names.map((n) => sb!.nsnet(['run', '-d', '--name', n, '--network', net, '--', 'sleep', '1000'])));
    for (const r of results) assert.equal(r.code, 0, describeResult(r));

    const inspect = await sb.nsnet(['network', 'inspect', net]);
    const view = (JSON.parse(inspect.stdout) as InspectedNetwork[])[0]!;
    const addresses = Object.values(view.Containers).map((c) => c.IPv4Address);
    assert.equal(addresses.length, 10);
    assert.equal(new Set(addresses).size, 10, `duplicate addresses: ${addresses.join(', ')}`);
    // The kernel agrees with the store: each namespace holds the address inspect reports.
    for (const c of Object.values(view.Containers)) {
      const shown = sb.inHost(['ip', '-n', c.Name, '-4', '-o', 'addr', 'show', 'eth0']);
      assert.match(shown.stdout, new RegExp(` ${c.IPv4Address.replace(/\./g, '\\.')} `));
    }
    const rm = await sb.nsnet(['rm', '-f', ...names]);
    assert.equal(rm.code, 0, describeResult(rm));
  });

  test('parallel runs beyond the pool: the losers fail cleanly and leave nothing behind', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}tiny`;
    // A /29 has six host addresses; the gateway takes one, leaving five for containers.
    const created = await sb.nsnet(['network', 'create', net, '--subnet', '10.78.0.0/29']);
    assert.equal(created.code, 0, describeResult(created));
    const linksBefore = sb.inHost(['ip', '-o', 'link']).stdout.split('\n').length;
    const names = Array.from({ length: 8 }, (_, i) => `${sb!.prefix}t${i}`);
    const results = await Promise.all(names.map((n) => sb!.nsnet(['run', '-d', '--name', n, '--network', net, '--', 'sleep', '1000'])));
    const won = names.filter((_, i) => results[i]!.code === 0);
    const lost = results.filter((r) => r.code !== 0);
    assert.equal(won.length, 5, results.map(describeResult).join('\n'));
    for (const r of lost) {
      assert.equal(r.code, 125, describeResult(r));
      assert.match(r.stderr, /no free address/);
    }
    const ps = JSON.parse((await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as Array<{ Name: string }>;
    assert.deepEqual(ps.map((c) => c.Name.slice(1)).sort(), [...won].sort());
    // Five veths more than before, nothing for the losers; no namespace for them either.
    assert.equal(sb.inHost(['ip', '-o', 'link']).stdout.split('\n').length, linksBefore + 5);
    for (const n of names.filter((x) => !won.includes(x))) assert.equal(sb.netnsInode(n), undefined, `${n} left a namespace`);
    const rm = await sb.nsnet(['rm', '-f', ...won]);
    assert.equal(rm.code, 0, describeResult(rm));
  });

  test('parallel network creates without --subnet get distinct subnets', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const names = Array.from({ length: 4 }, (_, i) => `${sb!.prefix}n${i}`);
    const results = await Promise.all(names.map((n) => sb!.nsnet(['network', 'create', n])));
    for (const r of results) assert.equal(r.code, 0, describeResult(r));
    const views = JSON.parse((await sb.nsnet(['network', 'inspect', ...names])).stdout) as InspectedNetwork[];
    const subnets = views.map((v) => v.IPAM.Config[0]!.Subnet);
    assert.equal(new Set(subnets).size, 4, subnets.join(', '));
    const rm = await sb.nsnet(['network', 'rm', ...names]);
    assert.equal(rm.code, 0, describeResult(rm));
  });
});
