/**
 * Partitions on the real kernel, in a sandbox, with each firewall driver: {a,b} | {c} on one
 * network (switched: the bridge's forward hook; containers on two networks never reach each other
 * through the host, nsnet isolates them). a↔b works, a↔c and b↔c fail both ways, heal restores all; --one-way drops only what the first group sends (the other side's requests
 * still arrive: the receiver's ICMP counters show it); a removed member leaves the partition
 * (its pairs out of the firewall, its address free for the next container). On a dual-stack
 * network the same over IPv6 (`ping -6`): the IPv6 pairs are partitioned too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const ping = (ns: string, ip: string): Promise<RunResult> => runAsync(['ip', 'netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 10_000 });
const ping6 = (ns: string, ip: string): Promise<RunResult> => runAsync(['ip', 'netns', 'exec', ns, 'ping', '-6', '-c', '1', '-W', '2', ip], { timeoutMs: 10_000 });

/** Echo requests a namespace has received (its own /proc/net/snmp: the counters are per namespace). */
async function inEchos(ns: string): Promise<number> {
  const r = await runAsync(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp'], { timeoutMs: 10_000 });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf('InEchos')]);
}

for (const driver of ['nftables', 'iptables'] as const) {
  const requirements = driver === 'iptables' ? [needs.integration, needs.iptables] : [needs.integration];
  requiredSuite(`partitions (${driver} driver)`, { needs: requirements, concurrency: false }, () => {
    let sb: Sandbox;
    const env = { ...process.env, NSNET_FIREWALL_DRIVER: driver };
    const nsnet = (args: string[]): Promise<RunResult> => sb.nsnet(args, { env, timeoutMs: 60_000 });
    let a: string, b: string, c: string;
    const ip: Record<string, string> = {};

    before(async () => {
      sb = await createSandbox(driver === 'nftables' ? 'pnf' : 'pip');
      [a, b, c] = ['a', 'b', 'c'].map((n) => `${sb.prefix}${n}`) as [string, string, string];
      ok(await nsnet(['network', 'create', '--subnet', '10.61.0.0/24', `${sb.prefix}n1`]));
      ok(await nsnet(['run', '-d', '--name', a, '--network', `${sb.prefix}n1`, '--ip', '10.61.0.10', '--', 'sleep', '1000']));
      ok(await nsnet(['run', '-d', '--name', b, '--network', `${sb.prefix}n1`, '--ip', '10.61.0.12', '--', 'sleep', '1000']));
      ok(await nsnet(['run', '-d', '--name', c, '--network', `${sb.prefix}n1`, '--ip', '10.61.0.11', '--', 'sleep', '1000']));
      Object.assign(ip, { [a]: '10.61.0.10', [b]: '10.61.0.12', [c]: '10.61.0.11' });
    });
    after(async () => {
      const report = await sb?.destroy();
      assert.deepEqual(report?.problems ?? [], []);
    });

    /** Which of the six directions answer. */
    async function matrix(): Promise<string[]> {
      const out: string[] = [];
      for (const [from, to] of [[a, b], [b, a], [a, c], [c, a], [b, c], [c, b]] as const) {
        if ((await ping(from, ip[to]!)).code === 0) out.push(`${from.slice(-1)}->${to.slice(-1)}`);
      }
      return out;
    }

    test('{a,b} | {c}: a↔b works, a↔c and b↔c fail both ways; heal restores all', async () => {
      assert.deepEqual(await matrix(), ['a->b', 'b->a', 'a->c', 'c->a', 'b->c', 'c->b'], 'all reach each other before');
      const dry = ok(await nsnet(['partition', 'create', 'split', '--between', `${a},${b}`, '--and', c, '--dry-run'])).stdout;
      assert.match(dry, driver === 'nftables' ? /add element inet nsnet partitioned \{ / : /-A NSNET-PARTITIONS -s 10\.61\.0\.10\/32 -d 10\.61\.0\.11\/32/);
      assert.deepEqual(JSON.parse(ok(await nsnet(['partition', 'ls', '--format', 'json'])).stdout), [], '--dry-run made nothing');
      ok(await nsnet(['partition', 'create', 'split', '--between', `${a},${b}`, '--and', c]));
      assert.deepEqual(await matrix(), ['a->b', 'b->a']);
      const ls = JSON.parse(ok(await nsnet(['partition', 'ls', '--format', 'json'])).stdout) as Array<{ name: string; groups: string[][] }>;
      assert.deepEqual(ls.map((p) => [p.name, p.groups]), [['split', [[a, b], [c]]]]);
      const check = await nsnet(['system', 'check']);
      assert.equal(check.code, 0, describeResult(check));
      // Refused, nothing changed.
      for (const [argv, message] of [
        [['partition', 'create', 'split', '--between', a, '--and', c], /partition split already exists/],
        [['partition', 'create', 'x', '--between', `${a},${a}`, '--and', c], /named twice/],
        [['partition', 'create', 'x', '--between', a, '--and', `${sb.prefix}nope`], /no container named/],
        [['partition', 'create', 'x', '--between', a], /two or more groups/],
      ] as const) {
        const r = await nsnet([...argv]);
        assert.notEqual(r.code, 0, argv.join(' '));
        assert.match(r.stderr, message);
      }
      assert.deepEqual(ok(await nsnet(['partition', 'heal', 'split'])).stdout.trim(), 'split');
      assert.deepEqual(await matrix(), ['a->b', 'b->a', 'a->c', 'c->a', 'b->c', 'c->b'], 'heal restores all');
    });

    test('--one-way {a} → {c}: what a sends is dropped; what c sends still arrives at a', async () => {
      ok(await nsnet(['partition', 'create', 'ow', '--between', a, '--and', c, '--one-way']));
      const cBefore = await inEchos(c);
      assert.notEqual((await ping(a, ip[c]!)).code, 0, 'a → c is dropped');
      assert.equal(await inEchos(c), cBefore, "a's request never reached c");
      const aBefore = await inEchos(a);
      assert.notEqual((await ping(c, ip[a]!)).code, 0, "c → a: a's answer is dropped");
      assert.equal(await inEchos(a), aBefore + 1, "c's request reached a");
      assert.equal((await ping(a, ip[b]!)).code, 0, 'a → b untouched');
      ok(await nsnet(['partition', 'heal']));
      assert.equal((await ping(a, ip[c]!)).code, 0);
    });

    test('a removed member leaves the partition; its address is free of it for the next container', async () => {
      ok(await nsnet(['partition', 'create', 'split', '--between', `${a},${b}`, '--and', c]));
      ok(await nsnet(['rm', '-f', c]));
      const ls = JSON.parse(ok(await nsnet(['partition', 'ls', '--format', 'json'])).stdout) as Array<{ groups: string[][] }>;
      assert.deepEqual(ls[0]?.groups, [[a, b]], "c's group went with it");
      ok(await nsnet(['run', '-d', '--name', c, '--network', `${sb.prefix}n1`, '--ip', '10.61.0.11', '--', 'sleep', '1000']));
      assert.deepEqual(await matrix(), ['a->b', 'b->a', 'a->c', 'c->a', 'b->c', 'c->b'], 'the new c is not partitioned');
      ok(await nsnet(['partition', 'heal']));
      const r = await nsnet(['system', 'check']);
      assert.equal(r.code, 0, describeResult(r));
    });

    test('dual-stack {a6,b6} | {c6}: over IPv6 too, a6↔b6 works, a6↔c6 and b6↔c6 fail both ways; heal restores all', async () => {
      const net = `${sb.prefix}n6`;
      ok(await nsnet(['network', 'create', '--ipv6', '--subnet', '10.62.0.0/24', '--subnet', '2001:db8:62::/64', net]));
      const six: Record<string, string> = {};
      for (const [n, host] of [['a6', 10], ['b6', 12], ['c6', 11]] as const) {
        const name = `${sb.prefix}${n}`;
        ok(await nsnet(['run', '-d', '--name', name, '--network', net, '--ip', `10.62.0.${host}`, '--ip6', `2001:db8:62::${host}`, '--', 'sleep', '1000']));
        six[n] = name;
      }
      const addr6 = (n: string): string => `2001:db8:62::${n === 'a6' ? 10 : n === 'b6' ? 12 : 11}`;
      const matrix6 = async (): Promise<string[]> => {
        const out: string[] = [];
        for (const [from, to] of [['a6', 'b6'], ['b6', 'a6'], ['a6', 'c6'], ['c6', 'a6'], ['b6', 'c6'], ['c6', 'b6']] as const) {
          if ((await ping6(six[from]!, addr6(to))).code === 0) out.push(`${from}->${to}`);
        }
        return out;
      };
      const all = ['a6->b6', 'b6->a6', 'a6->c6', 'c6->a6', 'b6->c6', 'c6->b6'];
      assert.deepEqual(await matrix6(), all, 'all reach each other over IPv6 before');
      const dry = ok(await nsnet(['partition', 'create', 'split6', '--between', `${six.a6},${six.b6}`, '--and', six.c6!, '--dry-run'])).stdout;
      assert.match(dry, driver === 'nftables' ? /add element inet nsnet partitioned6 \{ / : /-A NSNET-PARTITIONS -s 2001:db8:62::10\/128 -d 2001:db8:62::11\/128/);
      ok(await nsnet(['partition', 'create', 'split6', '--between', `${six.a6},${six.b6}`, '--and', six.c6!]));
      assert.deepEqual(await matrix6(), ['a6->b6', 'b6->a6']);
      assert.notEqual((await ping(six.a6!, '10.62.0.11')).code, 0, 'and over IPv4');
      const check = await nsnet(['system', 'check']);
      assert.equal(check.code, 0, describeResult(check));
      ok(await nsnet(['partition', 'heal', 'split6']));
      assert.deepEqual(await matrix6(), all, 'heal restores all');
      ok(await nsnet(['rm', '-f', six.a6!, six.b6!, six.c6!]));
      ok(await nsnet(['network', 'rm', net]));
    });
  });
}
