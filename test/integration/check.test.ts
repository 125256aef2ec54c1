/**
 * `nsnet system check [--fix]`: things broken by hand in the sandbox are each reported, --fix
 * repairs them, the next check is clean and the containers work again.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, it } from 'node:test';
import { createSandbox, describeResult, runSync, WORLD_IP, WORLD_IP6, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface Difference {
  object: string;
  problem: string;
  fix?: string;
  fixed?: boolean;
  error?: string;
}

requiredSuite('system check compares the records with the kernel; --fix repairs', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let p: string;
  const names = () => ({ net: `${p}n`, bridge: `${p}b`, x: `${p}x`, y: `${p}y`, z: `${p}z`, net6: `${p}n6`, bridge6: `${p}b6`, w: `${p}w` });

  async function check(...extra: string[]): Promise<{ r: RunResult; diffs: Difference[] }> {
    const r = await sb.nsnet(['system', 'check', ...extra, '--format', 'json']);
    assert.ok(r.code === 0 || r.code === 1, describeResult(r));
    return { r, diffs: (JSON.parse(r.stdout) as { differences: Difference[] }).differences };
  }

  /** The store's word on a container's host veth (the CLI does not print it). */
  function hostIfOf(container: string): string {
    const db = new Database(path.join(sb.root, 'nsnet.db'), { readonly: true });
    try {
      const row = db
        .prepare('SELECT e.host_if AS h FROM endpoints e JOIN containers c ON c.id = e.container_id WHERE c.name = ?')
        .get(container) as { h: string } | undefined;
      assert.ok(row, `no endpoint for ${container}`);
      return row.h;
    } finally {
      db.close();
    }
  }

  const ping = async (from: string, to: string): Promise<RunResult> => sb.nsnet(['exec', from, 'ping', '-c', '1', '-W', '2', to]);

  before(async () => {
    sb = await createSandbox('ck');
    p = sb.prefix;
    const { net, bridge, x, y } = names();
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.95.0.0/24', '-o', `com.docker.network.bridge.name=${bridge}`]));
    ok(await sb.nsnet(['run', '-d', '--name', x, '--network', net, '--ip', '10.95.0.10', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', y, '--network', net, '--ip', '10.95.0.11', '--', 'sleep', '1000']));
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  it('a healthy host: no differences, exit 0', async () => {
    const { r, diffs } = await check();
    assert.equal(r.code, 0, describeResult(r));
    assert.deepEqual(diffs, []);
    const text = ok(await sb.nsnet(['system', 'check']));
    assert.match(text.stdout, /no differences/);
  });

  it('a deleted veth, a deleted bridge, a flushed nft table and a stray nsv link: each reported, exit 1', async () => {
    const { bridge, x, y, net } = names();
    ok(sb.inHost(['ip', 'link', 'del', hostIfOf(x)]));
    ok(sb.inHost(['ip', 'link', 'del', bridge]));
    ok(sb.inHost(['nft', 'flush', 'table', 'inet', 'nsnet']));
    ok(sb.inHost(['ip', 'link', 'add', 'nsv000000000000', 'type', 'bridge']));
    const { r, diffs } = await check();
    assert.equal(r.code, 1, describeResult(r));
    const about = (object: string, problem: RegExp): void =>
      assert.ok(
        diffs.some((d) => d.object === object && problem.test(d.problem) && d.fix !== undefined),
        `no fixable difference for ${object} matching ${problem}:\n${JSON.stringify(diffs, null, 2)}`,
      );
    about(`network ${net}`, /bridge .* is missing/);
    about(`container ${x}`, new RegExp(`host veth ${hostIfOf(x)} is missing`));
    about(`container ${y}`, /not enslaved/);
    about('link nsv000000000000', /no record owns it/);
    about('firewall', /differ|missing/);
    // Text output says the same, one line each, and what --fix would do.
    const text = await sb.nsnet(['system', 'check']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /nsv000000000000/);
    assert.match(text.stdout, /--fix would/);
  });

  it('--fix repairs them all and says what it did; the next check is clean; the containers work', async () => {
    const { x, y } = names();
    const { r, diffs } = await check('--fix');
    assert.equal(r.code, 0, describeResult(r));
    assert.ok(diffs.length >= 5);
    for (const d of diffs) assert.equal(d.fixed, true, JSON.stringify(d));
    const again = await check();
    assert.equal(again.r.code, 0, JSON.stringify(again.diffs, null, 2));
    assert.equal(sb.inHost(['ip', 'link', 'show', 'nsv000000000000']).code === 0, false, 'the stray link is gone');
    const yIp = '10.95.0.11';
    assert.equal((await ping(x, yIp)).code, 0, 'x pings y');
    assert.equal((await ping(y, '10.95.0.10')).code, 0, 'y pings x');
    // Forwarding and masquerade are back: the world answers.
    const world = await ping(x, WORLD_IP);
    assert.equal(world.code, 0, describeResult(world));
  });

  it('a container whose process died, and a namespace whose record was lost: reported and fixed', async () => {
    const { x, y, z, net } = names();
    ok(await sb.nsnet(['run', '-d', '--name', z, '--network', net, '--', 'sleep', '1000']));
    const zVeth = hostIfOf(z);
    // y's process dies behind nsnet's back (our own container process, by PID).
    const [info] = JSON.parse(ok(await sb.nsnet(['inspect', y])).stdout) as Array<{ State: { Pid: number } }>;
    process.kill(info!.State.Pid, 'SIGKILL');
    // z's records vanish (as if written by a process that died before the journal existed).
    const db = new Database(path.join(sb.root, 'nsnet.db'));
    try {
      db.prepare('DELETE FROM containers WHERE name = ?').run(z);
    } finally {
      db.close();
    }
    await new Promise((res) => setTimeout(res, 100));
    const { r, diffs } = await check();
    assert.equal(r.code, 1);
    assert.ok(diffs.some((d) => d.object === `container ${y}` && /has exited/.test(d.problem)), JSON.stringify(diffs, null, 2));
    assert.ok(diffs.some((d) => d.object === `namespace ${z}`), JSON.stringify(diffs, null, 2));
    assert.ok(diffs.some((d) => d.object === `link ${zVeth}`), JSON.stringify(diffs, null, 2));
    const fixed = await check('--fix');
    assert.equal(fixed.r.code, 0, JSON.stringify(fixed.diffs, null, 2));
    assert.equal((await check()).r.code, 0);
    assert.equal(sb.netnsInode(z), undefined, `${z}'s namespace is gone`);
    const ps = JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as Array<{ Name: string; State: { Status: string } }>;
    assert.deepEqual(ps.map((c) => `${c.Name} ${c.State.Status}`).sort(), [`/${x} running`, `/${y} exited`]);
    // A restarted y works again.
    ok(await sb.nsnet(['start', y]));
    assert.equal((await ping(x, '10.95.0.11')).code, 0);
  });

  it('IPv6: a lost bridge gateway, accept_ra changed on the bridge and in a container, missing nft elements, a lost address and route: each reported and fixed', async () => {
    const { net6, bridge6, w } = names();
    ok(await sb.nsnet(['network', 'create', net6, '--ipv6', '--subnet', '10.97.0.0/24', '--subnet', '2001:db8:97::/64', '-o', `com.docker.network.bridge.name=${bridge6}`]));
    ok(await sb.nsnet(['run', '-d', '--name', w, '--network', net6, '--ip6', '2001:db8:97::10', '-p', '8080:80', '--', 'sleep', '1000']));
    assert.equal((await check()).r.code, 0);
    const inW = (...argv: string[]): RunResult => ok(runSync(['nsenter', `--net=/run/netns/${w}`, ...argv]));
    const mac = (JSON.parse(inW('ip', '-j', 'link', 'show', 'eth0').stdout) as Array<{ address: string }>)[0]!.address;
    ok(sb.inHost(['ip', '-6', 'addr', 'del', '2001:db8:97::1/64', 'dev', bridge6]));
    ok(sb.inHost(['sysctl', '-w', `net.ipv6.conf.${bridge6}.accept_ra=1`]));
    ok(sb.inHost(['nft', 'delete', 'element', 'inet', 'nsnet', 'published6_any', '{ tcp . 8080 }']));
    ok(sb.inHost(['nft', 'delete', 'element', 'bridge', 'nsnet', 'port_addrs6', `{ "${hostIfOf(w)}" . ${mac} . 2001:db8:97::10 }`]));
    inW('sysctl', '-w', 'net.ipv6.conf.eth0.accept_ra=1');
    inW('ip', '-6', 'route', 'del', 'default');
    inW('ip', '-6', 'addr', 'del', '2001:db8:97::10/64', 'dev', 'eth0');
    const { r, diffs } = await check();
    assert.equal(r.code, 1, describeResult(r));
    const about = (object: string, problem: RegExp): void =>
      assert.ok(diffs.some((d) => d.object === object && problem.test(d.problem) && d.fix !== undefined), `no fixable difference for ${object} matching ${problem}:\n${JSON.stringify(diffs, null, 2)}`);
    about(`network ${net6}`, /lacks the gateway address 2001:db8:97::1\/64/);
    about(`network ${net6}`, new RegExp(`net\\.ipv6\\.conf\\.${bridge6}\\.accept_ra is 1, not 0`));
    about(`container ${w}`, /eth0 lacks its address 2001:db8:97::10\/64/);
    about(`container ${w}`, /net\.ipv6\.conf\.eth0\.accept_ra is 1 in its namespace, not 0/);
    about(`container ${w}`, /default route via 2001:db8:97::1/);
    about('firewall', /differ/);
    const fixed = await check('--fix');
    assert.equal(fixed.r.code, 0, JSON.stringify(fixed.diffs, null, 2));
    assert.equal((await check()).r.code, 0);
    assert.match(inW('sysctl', '-n', 'net.ipv6.conf.eth0.accept_ra').stdout, /^0/);
    const nft = ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout;
    assert.match(nft, /tcp \. 8080 : 2001:db8:97::10 \. 80/);
    assert.match(nft, /\. 2001:db8:97::10 }|\. 2001:db8:97::10,/);
    // The anti-spoofing element is back: w reaches its gateway and the world over IPv6.
    const world = await sb.nsnet(['exec', w, 'ping', '-6', '-c', '1', '-W', '2', WORLD_IP6]);
    assert.equal(world.code, 0, describeResult(world));
  });
});
