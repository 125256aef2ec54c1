/**
 * What root inside a container may do (issue 14, item 1), in a sandbox: Docker's default
 * capability set and no_new_privs for the container's process and for `nsnet exec`, and
 * --cap-add, --cap-drop and --privileged as Docker spells them.
 *
 * With the default set, from inside a container: entering another network namespace, mounting,
 * and changing the container's own addresses, routes and MAC fail (EPERM); its CapEff is Docker's
 * mask; ping still works (NET_RAW is kept). The controls show each probe can succeed: the same
 * command in a container given the capability (--cap-add NET_ADMIN, --privileged).
 *
 * On the code before this hardening every container had every capability (CapEff
 * 000001fffeffffff on the test machine): each probe succeeded, and the flags did not exist.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite, requiredTest } from '../helpers/requirements.js';
import { createSandbox, describeResult, type RunResult, type Sandbox } from '../helpers/sandbox.js';

/** Docker's default set (CHOWN ... AUDIT_WRITE, SETFCAP) as /proc/PID/status prints it. */
const DOCKER_DEFAULT = '00000000a80425fb';
/** The same plus NET_ADMIN (bit 12). */
const WITH_NET_ADMIN = '00000000a80435fb';
const SUBNET = '10.97.0';

/** The capability lines and NoNewPrivs of a /proc/PID/status text. */
function privilegesIn(status: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of status.matchAll(/^(Cap\w+|NoNewPrivs):\s+(\S+)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** A failure the kernel refused for lack of a capability: non-zero exit, EPERM in the words of the tool. */
function refused(r: RunResult, what: string): void {
  assert.notEqual(r.code, 0, `${what} should fail\n${describeResult(r)}`);
  assert.match(r.stderr, /Operation not permitted|permission denied|are you root/i, `${what} fails for lack of permission\n${describeResult(r)}`);
}

requiredSuite('container capabilities (Docker default set, --cap-add, --cap-drop, --privileged)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let scratch: string | undefined;
  const names = { plain: '', admin: '', priv: '', net: '' };
  const sandbox = (): Sandbox => {
    assert.ok(sb, 'before() made the sandbox');
    return sb;
  };
  const exec = (c: string, argv: readonly string[]): Promise<RunResult> => sandbox().nsnet(['exec', c, ...argv]);
  const hostPidOf = async (c: string): Promise<number> =>
    (JSON.parse(ok(await sandbox().nsnet(['inspect', c])).stdout) as Array<{ State: { Pid: number } }>)[0]!.State.Pid;

  before(async () => {
    sb = await createSandbox('cap');
    // Inside the sandbox's own directory: it goes with the sandbox, and a concurrent run's residue
    // check (which ignores live sandboxes) does not take it for a leak.
    scratch = fs.mkdtempSync(path.join(sb.root, 'caps-scratch-'));
    const p = sb.prefix;
    Object.assign(names, { plain: `${p}plain`, admin: `${p}admin`, priv: `${p}priv`, net: `${p}n` });
    ok(await sb.nsnet(['network', 'create', names.net, '--subnet', `${SUBNET}.0/24`]));
    ok(await sb.nsnet(['run', '-d', '--name', names.plain, '--network', names.net, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', names.admin, '--network', names.net, '--cap-add', 'net_admin', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', names.priv, '--network', names.net, '--privileged', '--', 'sleep', '1000']));
  });
  after(async () => {
    if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test("the container's process and exec's have Docker's default set as bounding, permitted and effective sets, none inheritable, and no_new_privs", async () => {
    const expected = { CapInh: '0000000000000000', CapPrm: DOCKER_DEFAULT, CapEff: DOCKER_DEFAULT, CapBnd: DOCKER_DEFAULT, CapAmb: '0000000000000000', NoNewPrivs: '1' };
    // The container's PID 1, as the host sees it.
    assert.deepEqual(privilegesIn(fs.readFileSync(`/proc/${await hostPidOf(names.plain)}/status`, 'utf8')), expected);
    assert.deepEqual(privilegesIn(ok(await exec(names.plain, ['cat', '/proc/self/status'])).stdout), expected, 'nsnet exec');
  });

  test('with the default set, entering a network namespace fails; --privileged: it works (the probe is right); no other namespace is in sight', async () => {
    // setns needs CAP_SYS_ADMIN whichever namespace it enters; PID 1's is one every container can name.
    const own = '/proc/1/ns/net';
    refused(await exec(names.plain, ['nsenter', `--net=${own}`, 'ip', '-o', 'link']), 'nsenter into a network namespace');
    refused(await exec(names.admin, ['nsenter', `--net=${own}`, 'ip', '-o', 'link']), 'nsenter with NET_ADMIN only');
    assert.match(ok(await exec(names.priv, ['nsenter', `--net=${own}`, 'ip', '-o', 'link'])).stdout, /\beth0@/, 'a privileged container enters it');
    // The host's /run/netns handles (the world's, the other containers') are not there to be named:
    // the monitor gives each container an empty /run/netns, as a Docker container has none.
    for (const name of [names.plain, names.priv]) {
      assert.equal(ok(await exec(name, ['ls', '-A', '/run/netns'])).stdout, '', `${name}: /run/netns is empty`);
      const r = await exec(name, ['nsenter', `--net=/run/netns/${sandbox().worldNs}`, 'true']);
      assert.notEqual(r.code, 0, `${name} cannot name the world's namespace`);
    }
  });

  test('with the default set, mounting fails; --privileged: it works', async () => {
    // In the container's own mount namespace (a slave of the host's): nothing reaches the host.
    refused(await exec(names.plain, ['mount', '-t', 'tmpfs', 'none', scratch!]), 'mount');
    ok(await exec(names.priv, ['mount', '-t', 'tmpfs', 'none', scratch!]), 'mount in a privileged container');
    assert.ok(!fs.readFileSync('/proc/self/mounts', 'utf8').includes(scratch!), "the container's mount stays in the container");
  });

  test("with the default set, the container cannot change its own addresses, routes or MAC; with --cap-add NET_ADMIN it can", async () => {
    const probes = (n: number): string[][] => [
      ['ip', 'addr', 'add', `${SUBNET}.${n}/32`, 'dev', 'eth0'],
      ['ip', 'route', 'add', '10.98.0.0/24', 'via', `${SUBNET}.1`],
      ['ip', 'link', 'set', 'eth0', 'address', `02:42:0a:61:00:${n.toString(16)}`],
    ];
    for (const argv of probes(200)) refused(await exec(names.plain, argv), argv.join(' '));
    assert.doesNotMatch(ok(await exec(names.plain, ['ip', '-o', 'addr', 'show', 'eth0'])).stdout, /10\.97\.0\.200/);
    assert.doesNotMatch(ok(await exec(names.plain, ['ip', 'route'])).stdout, /10\.98\.0\.0/);

    for (const argv of probes(201)) ok(await exec(names.admin, argv), `${argv.join(' ')} with NET_ADMIN`);
    assert.match(ok(await exec(names.admin, ['ip', '-o', 'addr', 'show', 'eth0'])).stdout, /10\.97\.0\.201\/32/);
    assert.match(ok(await exec(names.admin, ['ip', '-o', 'link', 'show', 'eth0'])).stdout, /02:42:0a:61:00:c9/);
  });

  test('the container still works: ping (NET_RAW is kept) to its gateway and a neighbour', async () => {
    ok(await exec(names.plain, ['ping', '-c1', '-W2', `${SUBNET}.1`]), 'ping the gateway');
    const neighbour = Object.values((JSON.parse(ok(await sandbox().nsnet(['inspect', names.priv])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>)[0]!.NetworkSettings.Networks)[0]!.IPAddress;
    ok(await exec(names.plain, ['ping', '-c1', '-W2', neighbour]), 'ping a neighbour');
  });

  test('--cap-add NET_ADMIN and --privileged: the process and exec get them; inspect shows them as Docker does; start keeps them', async () => {
    const sb = sandbox();
    assert.equal(privilegesIn(fs.readFileSync(`/proc/${await hostPidOf(names.admin)}/status`, 'utf8'))['CapEff'], WITH_NET_ADMIN);
    assert.equal(privilegesIn(ok(await exec(names.admin, ['cat', '/proc/self/status'])).stdout)['CapEff'], WITH_NET_ADMIN);
    // Privileged: every capability nsnet itself has, and no no_new_privs.
    const mine = privilegesIn(fs.readFileSync('/proc/self/status', 'utf8'));
    const priv = privilegesIn(ok(await exec(names.priv, ['cat', '/proc/self/status'])).stdout);
    assert.deepEqual([priv['CapEff'], priv['CapBnd'], priv['NoNewPrivs']], [mine['CapEff'], mine['CapBnd'], '0']);

    type View = Array<{ HostConfig: { NetworkMode: string; CapAdd: string[] | null; CapDrop: string[] | null; Privileged: boolean } }>;
    const hostConfig = async (c: string): Promise<View[number]['HostConfig']> => {
      const { NetworkMode, CapAdd, CapDrop, Privileged } = (JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as View)[0]!.HostConfig;
      return { NetworkMode, CapAdd, CapDrop, Privileged };
    };
    assert.deepEqual(await hostConfig(names.admin), { NetworkMode: names.net, CapAdd: ['CAP_NET_ADMIN'], CapDrop: null, Privileged: false });
    assert.deepEqual(await hostConfig(names.plain), { NetworkMode: names.net, CapAdd: null, CapDrop: null, Privileged: false });
    assert.equal((await hostConfig(names.priv)).Privileged, true);

    ok(await sb.nsnet(['stop', '-t', '0', names.admin]));
    ok(await sb.nsnet(['start', names.admin]));
    assert.equal(privilegesIn(fs.readFileSync(`/proc/${await hostPidOf(names.admin)}/status`, 'utf8'))['CapEff'], WITH_NET_ADMIN, 'after start');
  });

  test('--cap-drop takes a capability away (chown without CHOWN fails, with the default set it works); a name that is not a capability is refused with the valid ones', async () => {
    const sb = sandbox();
    const c = `${sb.prefix}drop`;
    ok(await sb.nsnet(['run', '-d', '--name', c, '--network', names.net, '--cap-drop', 'CAP_CHOWN', '--cap-drop', 'kill', '--', 'sleep', '1000']));
    const expected = (BigInt(`0x${DOCKER_DEFAULT}`) & ~((1n << 0n) | (1n << 5n))).toString(16).padStart(16, '0');
    assert.equal(privilegesIn(ok(await exec(c, ['cat', '/proc/self/status'])).stdout)['CapEff'], expected);
    const file = path.join(scratch!, 'owned');
    fs.writeFileSync(file, '');
    refused(await exec(c, ['chown', '65534', file]), 'chown without CHOWN');
    ok(await exec(names.plain, ['chown', '65534', file]), 'chown with the default set');
    assert.equal(fs.statSync(file).uid, 65534);
    ok(await sb.nsnet(['rm', '-f', c]));

    const bad = await sb.nsnet(['run', '-d', '--name', `${sb.prefix}bad`, '--cap-add', 'NET_ADMINS', '--', 'sleep', '1']);
    assert.equal(bad.code, 125, describeResult(bad));
    assert.match(bad.stderr, /invalid --cap-add "NET_ADMINS": not a capability name \(valid: ALL, CHOWN, .*NET_ADMIN, /);
    assert.equal(sb.netnsInode(`${sb.prefix}bad`), undefined, 'nothing made');
  });

  describe('with --rootfs', () => {
    let rootfs: string | undefined;
    after(() => {
      if (rootfs !== undefined) fs.rmSync(rootfs, { recursive: true, force: true });
    });

    requiredTest('mount fails with the default set and works privileged; mknod needs MKNOD (kept by default, as in Docker); exec runs in the root filesystem with the same set', { needs: [needs.busybox] }, async () => {
      const sb = sandbox();
      rootfs = fs.mkdtempSync(path.join(sb.root, 'rootfs-'));
      for (const d of ['bin', 'proc', 'etc', 'mnt', 'tmp']) fs.mkdirSync(path.join(rootfs, d));
      fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
      fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
      for (const a of ['sh', 'ls', 'cat', 'mount', 'mknod', 'sleep', 'nsenter', 'ip', 'rm']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
      const [plain, nomknod, priv] = [`${sb.prefix}rfs`, `${sb.prefix}rfsnm`, `${sb.prefix}rfsp`];
      ok(await sb.nsnet(['run', '-d', '--rootfs', rootfs, '--name', plain, '--network', names.net, '--', 'sleep', '1000']));
      ok(await sb.nsnet(['run', '-d', '--rootfs', rootfs, '--name', nomknod, '--network', names.net, '--cap-drop', 'MKNOD', '--', 'sleep', '1000']));
      ok(await sb.nsnet(['run', '-d', '--rootfs', rootfs, '--name', priv, '--network', names.net, '--privileged', '--', 'sleep', '1000']));

      assert.deepEqual(ok(await exec(plain, ['ls', '/'])).stdout.split('\n').filter(Boolean), ['bin', 'etc', 'mnt', 'proc', 'tmp'], 'exec is in the root filesystem');
      const status = privilegesIn(ok(await exec(plain, ['cat', '/proc/self/status'])).stdout);
      assert.deepEqual([status['CapEff'], status['CapBnd'], status['NoNewPrivs']], [DOCKER_DEFAULT, DOCKER_DEFAULT, '1']);
      assert.equal(privilegesIn(fs.readFileSync(`/proc/${await hostPidOf(plain)}/status`, 'utf8'))['CapEff'], DOCKER_DEFAULT);

      refused(await exec(plain, ['mount', '-t', 'tmpfs', 'none', '/mnt']), 'mount in a --rootfs container');
      ok(await exec(priv, ['mount', '-t', 'tmpfs', 'none', '/mnt']), 'mount in a privileged --rootfs container');
      refused(await exec(plain, ['nsenter', `--net=/proc/1/ns/net`, 'true']), 'nsenter in a --rootfs container');

      refused(await exec(nomknod, ['mknod', '/tmp/null', 'c', '1', '3']), 'mknod without MKNOD');
      // Docker keeps MKNOD by default (its device cgroup then refuses opening most devices;
      // nsnet has no device cgroup: see the README's note on --rootfs).
      ok(await exec(plain, ['mknod', '/tmp/null', 'c', '1', '3']), 'mknod with the default set');
      ok(await exec(plain, ['rm', '/tmp/null']));
      for (const c of [plain, nomknod, priv]) ok(await sb.nsnet(['rm', '-f', c]));
    });
  });
});
