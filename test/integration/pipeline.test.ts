/**
 * The two bugs that made the one commit pipeline necessary, on the real kernel:
 *
 * 1. A failed `run` left the network record behind: run journalled one forget list and its
 *    in-process failure path used another, so when the first `run` on a fresh state failed at
 *    its veth the default network's bridge and firewall were undone but its record stayed, and
 *    every later `run` failed with nft "No such file or directory". The same for `network
 *    connect`. Now the forget list is derived from the decision's own writes.
 * 2. `start` after a reboot (and `system check --fix`) rebuilt a bridge from a copy of the recipe
 *    that lacked route_localnet, so `-p 127.0.0.1:PORT` stopped working and `system check` saw
 *    no difference. Now both re-plan with planBridge, and check compares its sysctls.
 *
 * The failure is made with the test-only switch NSNET_TEST_FAULTS=1 NSNET_FAULT=veth-add:fail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { createSandbox, describeResult, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const failAt = (kind: string): { env: NodeJS.ProcessEnv } => ({ env: { ...process.env, NSNET_TEST_FAULTS: '1', NSNET_FAULT: `${kind}:fail` } });

interface Difference {
  object: string;
  problem: string;
  fix?: string;
  fixed?: boolean;
}

requiredSuite('one commit pipeline: a failed make forgets everything it made; restart re-plans the whole bridge', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;

  before(async () => {
    sb = await createSandbox('pl');
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  const networkNames = async (): Promise<string[]> => {
    const r = ok(await sb.nsnet(['network', 'ls', '--format', 'json']));
    // Without Docker's predefined host and none, which network ls always lists.
    return (JSON.parse(r.stdout) as Array<{ Name: string }>).map((n) => n.Name).filter((n) => n !== 'host' && n !== 'none');
  };
  const hostLinks = (): string[] => sb.inHost(['ip', '-o', 'link', 'show']).stdout.split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n !== '');
  const nftTables = (): string => sb.inHost(['nft', 'list', 'tables']).stdout.trim();

  it('the first run fails at its veth: no network record, no bridge, no nft table are left, and the next run works', async () => {
    const name = `${sb.prefix}a`;
    const failed = await sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000'], failAt('veth-add'));
    assert.equal(failed.code, 125, describeResult(failed));
    assert.match(failed.stderr, /create veth pair .*injected failure/);
    // Before the pipeline, the default network's record stayed here.
    assert.deepEqual(await networkNames(), []);
    assert.ok(!hostLinks().includes('nsnet0'), `nsnet0 left behind: ${hostLinks().join(' ')}`);
    assert.equal(nftTables(), '');
    const ps = ok(await sb.nsnet(['ps', '-a', '--format', 'json']));
    assert.deepEqual(JSON.parse(ps.stdout), []);
    // The control: the same command without the fault works (it failed with nft ENOENT before).
    ok(await sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000']));
    assert.deepEqual(await networkNames(), ['bridge']);
    ok(await sb.nsnet(['rm', '-f', name]));
  });

  it('network connect that makes the default network and fails at its veth forgets the network too', async () => {
    const net = `${sb.prefix}n`;
    const name = `${sb.prefix}c`;
    ok(await sb.nsnet(['system', 'reset', '--force'])); // no default network yet
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.97.0.0/24']));
    ok(await sb.nsnet(['run', '-d', '--name', name, '--network', net, '--', 'sleep', '1000']));
    const failed = await sb.nsnet(['network', 'connect', 'bridge', name], failAt('veth-add'));
    assert.equal(failed.code, 1, describeResult(failed));
    assert.deepEqual(await networkNames(), [net]);
    assert.ok(!hostLinks().includes('nsnet0'));
    ok(await sb.nsnet(['network', 'connect', 'bridge', name]));
    assert.deepEqual((await networkNames()).sort(), ['bridge', net].sort());
    ok(await sb.nsnet(['rm', '-f', name]));
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  it('start after a reboot rebuilds the bridge with route_localnet, and check reports its drift', async () => {
    const net = `${sb.prefix}r`;
    const bridge = `${sb.prefix}rb`;
    const name = `${sb.prefix}w`;
    const key = `net.ipv4.conf.${bridge}.route_localnet`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.96.0.0/24', '-o', `com.docker.network.bridge.name=${bridge}`]));
    ok(await sb.nsnet(['run', '-d', '--name', name, '--network', net, '-p', '127.0.0.1:8080:80', '--', 'sleep', '1000']));
    assert.equal(sb.inHost(['sysctl', '-n', key]).stdout.trim(), '1');
    // A reboot, by hand: the process, the namespace, the bridge and nsnet's tables are gone.
    ok(await sb.nsnet(['stop', '-t', '0', name]));
    ok(sb.inHost(['ip', 'netns', 'del', name]));
    ok(sb.inHost(['ip', 'link', 'del', bridge]));
    ok(sb.inHost(['nft', 'delete', 'table', 'inet', 'nsnet']));
    ok(sb.inHost(['nft', 'delete', 'table', 'bridge', 'nsnet']));
    ok(await sb.nsnet(['start', name]));
    // Before the pipeline, start's copy of the recipe left this at 0.
    assert.equal(sb.inHost(['sysctl', '-n', key]).stdout.trim(), '1');
    const clean = await check();
    assert.deepEqual(clean.diffs, [], describeResult(clean.r));
    // Drift: check now sees it, names it, and --fix sets it back.
    ok(sb.inHost(['sysctl', '-w', `${key}=0`]));
    const drift = await check();
    assert.equal(drift.r.code, 1, describeResult(drift.r));
    assert.ok(drift.diffs.some((d) => d.object === `network ${net}` && /route_localnet is 0, not 1/.test(d.problem)), JSON.stringify(drift.diffs));
    const fixed = await check('--fix');
    assert.ok(fixed.diffs.every((d) => d.fixed === true), JSON.stringify(fixed.diffs));
    assert.equal(sb.inHost(['sysctl', '-n', key]).stdout.trim(), '1');
    assert.deepEqual((await check()).diffs, []);
    ok(await sb.nsnet(['rm', '-f', name]));
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  it('a run whose program cannot start leaves no record, no state directory and no /etc/netns files', async () => {
    const name = `${sb.prefix}x`;
    const r = await sb.nsnet(['run', '-d', '--name', name, '--', '/nonexistent/bin']);
    assert.equal(r.code, 127, describeResult(r));
    assert.match(r.stderr, /start container .*\/nonexistent\/bin/);
    assert.deepEqual(fs.readdirSync(path.join(sb.root, 'containers')), []);
    assert.equal(fs.existsSync(`/etc/netns/${name}`), false);
    assert.equal(sb.netnsInode(name), undefined);
  });

  it('rm killed at each of its first points: recovery leaves no /etc/netns files; check reports and removes a leftover', async () => {
    // Every fault point of rm in turn, until it runs to its end.
    for (let i = 0, finished = false; !finished; i++) {
      assert.ok(i < 10, 'rm never ran to its end');
      const name = `${sb.prefix}k${i}`;
      ok(await sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000']));
      assert.ok(fs.existsSync(`/etc/netns/${name}/resolv.conf`), 'run writes the files');
      const r = await sb.nsnet(['rm', '-f', name], { env: { ...process.env, NSNET_TEST_FAULTS: '1', NSNET_FAULT: `${i}:kill` } });
      finished = r.code === 0;
      ok(await sb.nsnet(['ps', '-a'])); // recovers what the killed rm left
      assert.equal(fs.existsSync(`/etc/netns/${name}`), false, `/etc/netns/${name} left after rm killed at point ${i}`);
    }
    // A leftover made as a crash between writing the files and recording the container would leave it.
    const ghost = `${sb.prefix}g`;
    ok(await sb.nsnet(['run', '-d', '--name', ghost, '--', 'sleep', '1000']));
    const saved = fs.readFileSync(`/etc/netns/${ghost}/resolv.conf`);
    ok(await sb.nsnet(['rm', '-f', ghost]));
    fs.mkdirSync(`/etc/netns/${ghost}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${ghost}/resolv.conf`, saved);
    const found = await check();
    assert.ok(found.diffs.some((d) => d.object === `files /etc/netns/${ghost}`), JSON.stringify(found.diffs));
    await check('--fix');
    assert.equal(fs.existsSync(`/etc/netns/${ghost}`), false);
    assert.deepEqual((await check()).diffs, []);
  });

  async function check(...extra: string[]): Promise<{ r: RunResult; diffs: Difference[] }> {
    const r = await sb.nsnet(['system', 'check', ...extra, '--format', 'json']);
    assert.ok(r.code === 0 || r.code === 1, describeResult(r));
    return { r, diffs: (JSON.parse(r.stdout) as { differences: Difference[] }).differences };
  }
});
