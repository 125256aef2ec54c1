/**
 * Point-to-point links on the real kernel, in a sandbox: the ring lab (examples/ring: three
 * routers joined by /30 links, static routes) comes up, a host reaches the host behind the next
 * router across two hops (ttl 62), the links are veth pairs between the routers' namespaces with
 * nothing of them in the host, `down` leaves nothing; and live `nsnet link add/ls/rm` between two
 * containers, its refusals (nothing changed), and rm of a container taking its links.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, netnsEntries, REPO, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const inNs = (ns: string, argv: string[]): Promise<RunResult> =>
  runAsync(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: 15_000 });

requiredSuite('point-to-point links: the ring lab and nsnet link', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox('lnk');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('ring: up, two hops across the links (ttl 62), the links are veth pairs between routers, down leaves nothing', async () => {
    const lab = `${sb.prefix}ring`;
    const dir = fs.mkdtempSync(path.join(sb.root, 'lab-'));
    const file = path.join(dir, 'lab.yaml');
    try {
      fs.writeFileSync(file, fs.readFileSync(path.join(REPO, 'examples', 'ring', 'lab.yaml')));
      const hostLinksBefore = ok(sb.inHost(['ip', '-br', 'link'])).stdout;
      const upped = ok(await sb.nsnet(['up', '-f', file, '--name', lab], { timeoutMs: 120_000 }));
      assert.match(upped.stderr, /create link .*-r1:eth1-.*-r2:eth1/);
      // h1 → r1 → r2 → h2: two routers; the reply comes back with 64 - 2.
      const two = await inNs(`${lab}-h1`, ['ping', '-c', '1', '-W', '2', '10.2.0.10']);
      assert.match(two.stdout, /ttl=62/, describeResult(two));
      const three = await inNs(`${lab}-h1`, ['ping', '-c', '1', '-W', '2', '10.3.0.10']);
      assert.match(three.stdout, /ttl=62/, describeResult(three));
      // Across one link, router to router, by the link's own addresses.
      const direct = await inNs(`${lab}-r2`, ['ping', '-c', '1', '-W', '2', '10.0.23.2']);
      assert.match(direct.stdout, /ttl=64/, describeResult(direct));
      // The links: veths with their peer in the other router's namespace, nothing in the host.
      const r1 = ok(sb.inHost(['ip', '-n', `${lab}-r1`, '-d', '-o', 'link', 'show', 'eth1'])).stdout;
      assert.match(r1, /veth/);
      assert.match(ok(sb.inHost(['ip', '-n', `${lab}-r1`, '-br', 'addr', 'show', 'eth1'])).stdout, /10\.0\.12\.1\/30/);
      const hostLinks = ok(sb.inHost(['ip', '-br', 'link'])).stdout.split('\n').length;
      // Three LAN bridges and six host veth ends (one per container), none for the links.
      assert.equal(hostLinks, hostLinksBefore.split('\n').length + 3 + 6);
      const ls = JSON.parse(ok(await sb.nsnet(['link', 'ls', '--format', 'json'])).stdout) as Array<{ a: { container: string; ifName: string; ip: string } }>;
      assert.deepEqual(ls.map((l) => `${l.a.container}:${l.a.ifName} ${l.a.ip}`).sort(), [`${lab}-r1:eth1 10.0.12.1/30`, `${lab}-r1:eth2 10.0.13.1/30`, `${lab}-r2:eth2 10.0.23.1/30`]);
      // system check finds the links as recorded.
      const checked = await sb.nsnet(['system', 'check']);
      assert.equal(checked.code, 0, describeResult(checked));
      // graph draws the ring: each link between its two routers.
      const graph = ok(await sb.nsnet(['graph', '-f', file, '--name', lab])).stdout;
      for (const [x, y] of [['r1:eth1', 'r2:eth1'], ['r1:eth2', 'r3:eth1'], ['r2:eth2', 'r3:eth2']]) {
        assert.match(graph, new RegExp(`${lab}-${x} \\S+\\s+<-veth->\\s+${lab}-${y} `), graph);
      }
      const dot = ok(await sb.nsnet(['graph', '-f', file, '--name', lab, '--format', 'dot'])).stdout;
      assert.equal(dot.match(/\[style=bold, label="p2p/g)?.length, 3, dot);
      // up again: nothing to do.
      assert.match(ok(await sb.nsnet(['up', '-f', file, '--name', lab], { timeoutMs: 120_000 })).stdout, /is up to date/);
      ok(await sb.nsnet(['down', '-f', file, '--name', lab], { timeoutMs: 120_000 }));
      assert.deepEqual(netnsEntries(`${lab}-`), []);
      assert.deepEqual(JSON.parse(ok(await sb.nsnet(['link', 'ls', '--format', 'json'])).stdout), []);
      assert.equal(ok(sb.inHost(['ip', '-br', 'link'])).stdout, hostLinksBefore);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('link add/ls/rm between two containers; refusals change nothing; rm of a container takes its links', async () => {
    const a = `${sb.prefix}la`;
    const b = `${sb.prefix}lb`;
    const c = `${sb.prefix}lc`;
    for (const n of [a, b, c]) ok(await sb.nsnet(['run', '-d', '--name', n, '--', 'sleep', '1000']));
    const dry = ok(await sb.nsnet(['link', 'add', `${a}:p0`, `${b}:p0`, '--ip', '10.0.99.0/31', '--ip', '10.0.99.1/31', '--dry-run'])).stdout;
    assert.match(dry, new RegExp(`^ip link add p0 netns ${a} type veth peer name p0 netns ${b}$`, 'm'));
    assert.equal((await sb.nsnet(['link', 'ls', '--format', 'json'])).stdout.trim(), '[]', '--dry-run changed nothing');
    ok(await sb.nsnet(['link', 'add', `${a}:p0`, `${b}:p0`, '--ip', '10.0.99.0/31', '--ip', '10.0.99.1/31']));
    const ping = await inNs(a, ['ping', '-c', '1', '-W', '2', '10.0.99.1']);
    assert.equal(ping.code, 0, describeResult(ping));

    const refused: Array<[string[], RegExp]> = [
      [['link', 'add', `${a}:p0`, `${c}:p0`], /already linked/],
      [['link', 'add', `${a}:eth0`, `${c}:p0`], /eth0 is container .*'s interface on network bridge/],
      [['link', 'add', `${a}:p1`, `${a}:p2`], /both ends are in container/],
      [['link', 'add', `${a}:p1`, `${sb.prefix}nope:p1`], /no container named/],
      [['link', 'add', `${a}:p1`, `${c}:p1`, '--ip', '10.0.98.1/30', '--ip', '10.0.98.2/31'], /different prefix lengths/],
      [['link', 'add', `${a}:p1`, `${c}:p1`, '--ip', '10.0.98.0/30', '--ip', '10.0.98.2/30'], /network address of 10\.0\.98\.0\/30/],
      [['link', 'add', `${a}:p1234567890123456`, `${c}:p1`], /expected 1 to 15 bytes/],
    ];
    const linksBefore = ok(sb.inHost(['ip', '-n', c, '-br', 'link'])).stdout;
    for (const [argv, message] of refused) {
      const r = await sb.nsnet(argv);
      assert.equal(r.code, 1, `${argv.join(' ')}\n${describeResult(r)}`);
      assert.match(r.stderr, message);
    }
    assert.equal(ok(sb.inHost(['ip', '-n', c, '-br', 'link'])).stdout, linksBefore, 'nothing made in the refused cases');

    // rm by the other end, then again: not found.
    ok(await sb.nsnet(['link', 'rm', `${b}:p0`]));
    assert.equal(sb.inHost(['ip', '-n', a, 'link', 'show', 'p0']).code !== 0, true);
    assert.equal((await sb.nsnet(['link', 'rm', `${b}:p0`])).code, 1);

    // rm of a container: its link's other end and record go with it.
    ok(await sb.nsnet(['link', 'add', `${a}:p0`, `${c}:p0`]));
    ok(await sb.nsnet(['rm', '-f', c]));
    assert.notEqual(sb.inHost(['ip', '-n', a, 'link', 'show', 'p0']).code, 0, 'the peer end went with the namespace');
    assert.equal(ok(await sb.nsnet(['link', 'ls', '--format', 'json'])).stdout.trim(), '[]');
    ok(await sb.nsnet(['rm', '-f', a, b]));
  });
});
