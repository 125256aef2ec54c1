/**
 * The run flags beyond the article: several networks, hostname, environment, MAC, a root
 * filesystem, logs, stop/start, connect/disconnect with the default route handed over, and a
 * command that cannot start.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite, requiredTest } from '../helpers/requirements.js';

requiredSuite('run options', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let rootfs: string | undefined;
  before(async () => {
    sb = await createSandbox('ro');
  });
  after(async () => {
    if (rootfs !== undefined) fs.rmSync(rootfs, { recursive: true, force: true });
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('several networks: eth0, eth1 in order, the default route via the first that leads outside', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const [inner, outer, c] = [`${sb.prefix}in`, `${sb.prefix}out`, `${sb.prefix}multi`];
    ok(await sb.nsnet(['network', 'create', inner, '--subnet', '10.91.0.0/24', '--internal']));
    ok(await sb.nsnet(['network', 'create', outer, '--subnet', '10.92.0.0/24']));
    ok(
      await sb.nsnet([
        'run', '-d', '--name', c, '--network', inner, '--network', outer, '--hostname', 'box',
        '--mac-address', '02:11:22:33:44:55', '-e', 'GREETING=hello there', '--',
        'sh', '-c', 'echo "$GREETING from $(hostname)"; sleep 1000',
      ]),
    );
    const addrs = ok(await sb.nsnet(['exec', c, 'ip', '-4', '-o', 'addr'])).stdout;
    assert.match(addrs, /eth0\s+inet 10\.91\.0\.2\/24/);
    assert.match(addrs, /eth1\s+inet 10\.92\.0\.2\/24/);
    const link = ok(await sb.nsnet(['exec', c, 'ip', '-o', 'link', 'show', 'eth0'])).stdout;
    assert.match(link, /02:11:22:33:44:55/);
    assert.match(ok(await sb.nsnet(['exec', c, 'ip', 'route'])).stdout, /^default via 10\.92\.0\.1 dev eth1/m);
    assert.equal(ok(await sb.nsnet(['exec', c, 'hostname'])).stdout.trim(), 'box');
    assert.equal(ok(await sb.nsnet(['logs', c])).stdout.trim(), 'hello there from box');

    // Disconnecting the network that carries the default route leaves the container without
    // a way out (the other one is internal); connecting a new outside network brings one back.
    ok(await sb.nsnet(['network', 'disconnect', outer, c]));
    assert.doesNotMatch(ok(await sb.nsnet(['exec', c, 'ip', 'route'])).stdout, /^default/m);
    ok(await sb.nsnet(['network', 'connect', '--ip', '10.92.0.77', outer, c]));
    const routes = ok(await sb.nsnet(['exec', c, 'ip', 'route'])).stdout;
    assert.match(routes, /^default via 10\.92\.0\.1 dev eth1/m);
    ok(await sb.nsnet(['exec', c, 'ping', '-c1', '-W2', '203.0.113.8']));

    ok(await sb.nsnet(['rm', '-f', c]));
    ok(await sb.nsnet(['network', 'rm', inner, outer]));
  });

  test('stop keeps the address; start brings the container back on it', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    const c = `${sb.prefix}ss`;
    ok(await sb.nsnet(['run', '-d', '--name', c, '--', 'sleep', '1000']));
    const ip = (JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ NetworkSettings: { IPAddress: string } }>)[0]!
      .NetworkSettings.IPAddress;
    ok(await sb.nsnet(['stop', '-t', '0', c]));
    const stopped = JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ State: { Status: string; ExitCode: number } }>;
    assert.equal(stopped[0]!.State.Status, 'exited');
    assert.equal(stopped[0]!.State.ExitCode, 137);
    ok(await sb.nsnet(['start', c]));
    const started = JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ State: { Running: boolean }; NetworkSettings: { IPAddress: string } }>;
    assert.equal(started[0]!.State.Running, true);
    assert.equal(started[0]!.NetworkSettings.IPAddress, ip);
    ok(sb.inHost(['ping', '-c1', '-W2', ip]));
    ok(await sb.nsnet(['rm', '-f', c]));
  });

  test('a detached command that finishes at once is a container that exited, not a failure', async () => {
    assert.ok(sb, 'before() made the sandbox');
    for (let i = 0; i < 5; i++) {
      const c = `${sb.prefix}quick${i}`;
      ok(await sb.nsnet(['run', '-d', '--name', c, '--', 'true']));
      const view = JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ State: { Status: string; ExitCode: number } }>;
      assert.equal(view[0]!.State.Status, 'exited');
      assert.equal(view[0]!.State.ExitCode, 0);
      ok(await sb.nsnet(['rm', c]));
    }
    // And in the foreground the exit code is always the command's, however short it runs.
    for (let i = 0; i < 5; i++) {
      const r: RunResult = await sb.nsnet(['run', '--rm', '--name', `${sb.prefix}fg${i}`, '--', 'sh', '-c', 'exit 7']);
      assert.equal(r.code, 7, describeResult(r));
    }
  });

  test('a command that cannot be executed fails run -d and leaves nothing', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const c = `${sb.prefix}bad`;
    const linksBefore = sb.inHost(['ip', '-o', 'link']).stdout;
    const r = await sb.nsnet(['run', '-d', '--name', c, '--', 'no-such-command-here']);
    assert.equal(r.code, 127, describeResult(r));
    assert.match(r.stderr, /no-such-command-here/);
    assert.equal(sb.netnsInode(c), undefined);
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
    // The default network may have been created by this run; no container veth is left.
    const extra = sb.inHost(['ip', '-o', 'link']).stdout.split('\n').filter((l) => !linksBefore.includes(l) && / nsv/.test(l));
    assert.deepEqual(extra, []);
  });

  requiredTest('--rootfs runs the command chrooted, with its own /proc', { needs: [needs.busybox] }, async () => {
    assert.ok(sb, 'before() made the sandbox');
    rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-test-rootfs-'));
    for (const d of ['bin', 'proc', 'etc']) fs.mkdirSync(path.join(rootfs, d));
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'ls', 'ps', 'ip', 'sleep', 'cat']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
    const c = `${sb.prefix}rfs`;
    const r = ok(await sb.nsnet(['run', '--rm', '--rootfs', rootfs, '--name', c, '--', 'sh', '-c', 'ls /; ps; ip -4 -o addr show eth0']));
    assert.deepEqual(r.stdout.split('\n').slice(0, 3), ['bin', 'etc', 'proc']);
    assert.match(r.stdout, /^\s+1 \S+\s+sh -c/m, 'the command is PID 1 of its own PID namespace');
    assert.match(r.stdout, /eth0\s+inet /);
  });
});
