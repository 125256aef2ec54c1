/**
 * Container capabilities: --cap-add/--cap-drop/--privileged as Docker parses and combines them,
 * and the setpriv/chroot/unshare command lines that apply them (run, exec and --dry-run alike).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  capabilityOptions,
  parseCapability,
  privilegesOf,
  type Capability,
  type Privileges,
} from '../../src/core/capabilities.js';
import { NsnetError } from '../../src/core/errors.js';
import { confinedArgv, setprivArgs, unshareArgs, type Confinement } from '../../src/core/unshare.js';
import { containerView } from '../../src/engine/inspect.js';
import type { Host, LaunchSpec } from '../../src/host/port.js';
import { hashOf, parseLab } from '../../src/lab/spec.js';
import { up } from '../../src/lab/up.js';
import { exec, run, start, stop } from '../../src/ops/containers.js';
import { liveState } from '../../src/ops/liveness.js';
import { contextOn, fixture, ROOTFS, runInput, type Fixture } from '../helpers/ops-fixture.js';

const caps = (p: Privileges): readonly Capability[] => {
  assert.equal(p.privileged, false);
  return p.privileged ? [] : p.capabilities;
};
/** The bit mask of a set, as /proc/PID/status prints CapEff (16 hex digits). */
function capabilityMask(list: readonly Capability[]): string {
  let mask = 0n;
  for (const c of list) mask |= 1n << BigInt(ALL_CAPABILITIES.indexOf(c));
  return mask.toString(16).padStart(16, '0');
}

const without = (list: readonly Capability[], ...gone: Capability[]): Capability[] => list.filter((c) => !gone.includes(c));

test("Docker's default set is its CapEff mask 00000000a80425fb, and the kernel's numbering is right", () => {
  assert.equal(capabilityMask(DEFAULT_CAPABILITIES), '00000000a80425fb');
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.equal(ALL_CAPABILITIES.length, 41);
  // A few fixed points of linux/capability.h.
  assert.equal(ALL_CAPABILITIES.indexOf('CAP_NET_ADMIN'), 12);
  assert.equal(ALL_CAPABILITIES.indexOf('CAP_SYS_ADMIN'), 21);
  assert.equal(ALL_CAPABILITIES.indexOf('CAP_SETFCAP'), 31);
  assert.equal(ALL_CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE'), 40);
  assert.equal(capabilityMask(ALL_CAPABILITIES), '000001ffffffffff');
});

test('a capability name: any case, CAP_ optional, ALL; anything else is refused with the valid names', () => {
  for (const given of ['NET_ADMIN', 'net_admin', 'CAP_NET_ADMIN', 'cap_net_admin', 'Net_Admin', ' net_admin ']) {
    assert.equal(parseCapability('--cap-add', given), 'CAP_NET_ADMIN', given);
  }
  assert.equal(parseCapability('--cap-drop', 'all'), 'ALL');
  for (const bad of ['', 'NET_ADMINS', 'CAP_', 'cap_all', 'SYS ADMIN', '12']) {
    assert.throws(
      () => parseCapability('--cap-add', bad),
      (err: unknown) => {
        assert.ok(err instanceof NsnetError);
        assert.equal(err.code, 'INVALID_VALUE');
        assert.ok(err.message.startsWith(`invalid --cap-add ${JSON.stringify(bad)}: not a capability name (valid: ALL, CHOWN, DAC_OVERRIDE,`), err.message);
        assert.match(err.message, /NET_ADMIN, NET_RAW,.* CHECKPOINT_RESTORE\)$/);
        return true;
      },
      bad,
    );
  }
});

test('--cap-add/--cap-drop are stored as Docker stores them: CAP_ names sorted once, ALL alone, an added capability never dropped', () => {
  assert.deepEqual(capabilityOptions(['net_raw', 'NET_ADMIN', 'cap_net_admin'], ['mknod'], false), {
    capAdd: ['CAP_NET_ADMIN', 'CAP_NET_RAW'],
    capDrop: ['CAP_MKNOD'],
    privileged: false,
  });
  assert.deepEqual(capabilityOptions(['net_admin', 'all'], [], false).capAdd, ['ALL']);
  assert.deepEqual(capabilityOptions([], ['ALL', 'chown'], false).capDrop, ['ALL']);
  // Added and dropped: added (Docker's CLI drops it from CapDrop).
  assert.deepEqual(capabilityOptions(['NET_RAW'], ['net_raw', 'kill'], false), { capAdd: ['CAP_NET_RAW'], capDrop: ['CAP_KILL'], privileged: false });
  assert.deepEqual(capabilityOptions(['ALL'], ['ALL'], false), { capAdd: ['ALL'], capDrop: [], privileged: false });
  assert.throws(() => capabilityOptions([], ['nope'], false), /invalid --cap-drop "nope"/);
});

test('the set a container gets: the default, plus what is added, minus what is dropped; ALL either way; --privileged is everything', () => {
  const set = (add: string[], drop: string[], privileged = false): Privileges => privilegesOf(capabilityOptions(add, drop, privileged));
  assert.deepEqual(caps(set([], [])), DEFAULT_CAPABILITIES);
  assert.deepEqual(DEFAULT_CAPABILITIES, ALL_CAPABILITIES.filter((c) => DEFAULT_CAPABILITIES.includes(c)), 'in the kernel\'s order');
  assert.ok(caps(set(['NET_ADMIN'], [])).includes('CAP_NET_ADMIN'));
  assert.equal(capabilityMask(caps(set(['NET_ADMIN'], []))), '00000000a80435fb');
  assert.deepEqual(caps(set([], ['NET_RAW', 'mknod'])), without(caps(set([], [])), 'CAP_NET_RAW', 'CAP_MKNOD'));
  assert.deepEqual(caps(set(['ALL'], [])), ALL_CAPABILITIES);
  assert.deepEqual(caps(set(['ALL'], ['SYS_ADMIN'])), without(ALL_CAPABILITIES, 'CAP_SYS_ADMIN'));
  assert.deepEqual(caps(set([], ['ALL'])), []);
  assert.deepEqual(caps(set(['NET_BIND_SERVICE'], ['ALL'])), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(set([], ['ALL'], true), { privileged: true });
  assert.deepEqual(set(['NET_ADMIN'], [], true), { privileged: true });
});

test('setpriv: the bounding set dropped to the capabilities (which gives root its permitted and effective sets), no inheritable ones, no_new_privs', () => {
  assert.deepEqual(setprivArgs(['CAP_NET_RAW', 'CAP_CHOWN']), [
    '--bounding-set=-all,+net_raw,+chown',
    '--inh-caps=-all',
    '--no-new-privs',
  ]);
  assert.deepEqual(setprivArgs([]), ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs']);
  assert.equal(setprivArgs(['CAP_CHECKPOINT_RESTORE'])[0], '--bounding-set=-all,+checkpoint_restore');
});

test('what runs last before the command: setpriv, then chroot into the root filesystem; --privileged skips setpriv', () => {
  const confined = { privileged: false, capabilities: ['CAP_KILL'] } as const;
  assert.deepEqual(confinedArgv({ privileges: confined, argv: ['sleep', '1'] }), [
    'setpriv', '--bounding-set=-all,+kill', '--inh-caps=-all', '--no-new-privs', '--', 'sleep', '1',
  ]);
  assert.deepEqual(confinedArgv({ privileges: confined, rootfs: '/srv/r', argv: ['sh'] }), [
    'setpriv', '--bounding-set=-all,+kill', '--inh-caps=-all', '--no-new-privs', '--', 'chroot', '/srv/r', 'sh',
  ]);
  assert.deepEqual(confinedArgv({ privileges: { privileged: true }, argv: ['sh'] }), ['sh']);
  assert.deepEqual(confinedArgv({ privileges: { privileged: true }, rootfs: '/srv/r', argv: ['sh'] }), ['chroot', '/srv/r', 'sh']);
  // Without privileges given: Docker's default set, never everything.
  assert.equal(confinedArgv({ argv: ['sh'] })[1], '--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap');
});

test('unshare mounts /proc (it needs CAP_SYS_ADMIN) before setpriv runs; with --rootfs, the root filesystem\'s /proc', () => {
  const args = unshareArgs({ argv: ['sleep', '1'] });
  assert.deepEqual(args.slice(0, args.indexOf('--') + 2), ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--propagation', 'slave', '--', 'setpriv']);
  const rooted = unshareArgs({ argv: ['sh'], rootfs: '/srv/r/', privileges: { privileged: true } });
  assert.deepEqual(rooted, ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc=/srv/r/proc', '--propagation', 'slave', '--', 'chroot', '/srv/r/', 'sh']);
  assert.ok(!rooted.includes('--root'), 'no chroot by unshare: setpriv (from the host) comes first');
});

// ---------------------------------------------------------------------------------------------
// run, start, exec, inspect and labs on a fake machine: the settings are stored, launched with,
// shown, and kept.

/** Every launch's and exec's confinement on this fixture's host, in order. */
function recordLaunches(fx: Fixture): { launched: LaunchSpec[]; execed: Confinement[] } {
  const seen = { launched: [] as LaunchSpec[], execed: [] as Confinement[] };
  const { launchDetached, launchForeground } = fx.host;
  fx.host.launchDetached = (spec, logPath) => (seen.launched.push(spec), launchDetached(spec, logPath));
  fx.host.launchForeground = (spec) => (seen.launched.push(spec), launchForeground(spec));
  const host: Pick<Host, 'execInContainer'> = fx.host;
  host.execInContainer = async (_pid, _argv, _env, confinement) => (seen.execed.push(confinement), 0);
  return seen;
}

/** The HostConfig keys these tests are about (inspect-shape.test.ts covers the others). */
const viewOf = (fx: Fixture, name: string): { HostConfig: Record<string, unknown> } => {
  const c = fx.store.containers.resolve(name);
  const { HostConfig: h } = containerView(c, liveState(fx.host, c), []) as // (no networks: NetworkMode none)
 { HostConfig: Record<string, unknown> };
  return { HostConfig: { NetworkMode: h['NetworkMode'], CapAdd: h['CapAdd'], CapDrop: h['CapDrop'], Privileged: h['Privileged'] } };
};

describe('run --cap-add/--cap-drop/--privileged', () => {
  test('stored normalised, launched with, exec gets the same, inspect shows them as Docker does, start keeps them', async () => {
    const fx = fixture();
    const seen = recordLaunches(fx);
    await run(fx.ctx, runInput({ name: 'ut-router', rootfs: undefined, capAdd: ['net_admin', 'CAP_SYS_PTRACE'], capDrop: ['mknod', 'NET_ADMIN'] }));
    const c = fx.store.containers.resolve('ut-router');
    assert.deepEqual([c.capAdd, c.capDrop, c.privileged], [['CAP_NET_ADMIN', 'CAP_SYS_PTRACE'], ['CAP_MKNOD'], false]);
    const expected = without([...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE'], 'CAP_MKNOD').sort((a, b) => ALL_CAPABILITIES.indexOf(a) - ALL_CAPABILITIES.indexOf(b));
    assert.deepEqual(seen.launched[0]?.privileges, { privileged: false, capabilities: expected });
    assert.equal(await exec(fx.ctx, 'ut-router', ['ip', 'addr']), 0);
    assert.deepEqual(seen.execed, [{ privileges: { privileged: false, capabilities: expected }, rootfs: undefined }]);
    assert.deepEqual(viewOf(fx, 'ut-router').HostConfig, { NetworkMode: 'none', CapAdd: ['CAP_NET_ADMIN', 'CAP_SYS_PTRACE'], CapDrop: ['CAP_MKNOD'], Privileged: false });

    stop(fx.ctx, ['ut-router'], 0);
    await start(fx.ctx, ['ut-router']);
    assert.deepEqual(seen.launched[1]?.privileges, seen.launched[0]?.privileges, 'start launches with the same capabilities');
    fx.close();
  });

  test('without flags: the default set, inspect shows CapAdd/CapDrop null; --privileged: every capability, exec too', async () => {
    const fx = fixture();
    const seen = recordLaunches(fx);
    await run(fx.ctx, runInput({ name: 'ut-plain' }));
    assert.deepEqual(seen.launched[0]?.privileges, { privileged: false, capabilities: DEFAULT_CAPABILITIES });
    assert.deepEqual(viewOf(fx, 'ut-plain').HostConfig, { NetworkMode: 'none', CapAdd: null, CapDrop: null, Privileged: false });
    await run(fx.ctx, runInput({ name: 'ut-priv', privileged: true }));
    assert.deepEqual(seen.launched[1]?.privileges, { privileged: true });
    await exec(fx.ctx, 'ut-priv', ['true']);
    assert.deepEqual(seen.execed[0], { privileges: { privileged: true }, rootfs: ROOTFS });
    assert.equal(viewOf(fx, 'ut-priv').HostConfig['Privileged'], true);
    fx.close();
  });

  test('refused before anything is made: a name that is not a capability; dropping SYS_CHROOT with --rootfs', async () => {
    const fx = fixture();
    const before = fx.state();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-bad', capAdd: ['NET_ADMN'] })), /invalid --cap-add "NET_ADMN": not a capability name \(valid: ALL, CHOWN/);
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-bad', capDrop: ['ALL'] })), (err: unknown) => {
      assert.ok(err instanceof NsnetError);
      assert.equal(err.code, 'INVALID_VALUE');
      assert.match(err.message, /invalid --cap-drop ALL with --rootfs: .*chroot\(8\) .*needs CAP_SYS_CHROOT/);
      assert.match(err.hint ?? '', /--cap-add SYS_CHROOT/);
      return true;
    });
    // Fine with SYS_CHROOT given back, or without --rootfs.
    await run(fx.ctx, runInput({ name: 'ut-min', capDrop: ['ALL'], capAdd: ['SYS_CHROOT'] }));
    await run(fx.ctx, runInput({ name: 'ut-none', capDrop: ['ALL'], rootfs: undefined }));
    assert.deepEqual(before.store.containers, []);
    fx.close();
  });

  test('--dry-run prints a runnable start: hostname set before unshare, setpriv after it, chroot last', async () => {
    const fx = fixture();
    const ctx = contextOn(fx.host, fx.store, fx.root, { dryRun: true });
    await run(ctx, runInput({ name: 'ut-dry', capAdd: ['NET_ADMIN'] }));
    const line = ctx.planned.find((l) => l.includes('unshare'));
    assert.equal(
      line,
      `ip netns exec ut-dry unshare --uts --ipc sh -c 'hostname "$0" && exec "$@"' ut-dry unshare --pid --fork --kill-child --mount --mount-proc=${ROOTFS}/proc --propagation slave -- ` +
        `setpriv --bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_admin,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap --inh-caps=-all --no-new-privs -- ` +
        `chroot ${ROOTFS} sleep 1000 </dev/null >/dev/null 2>&1 &`,
    );
    fx.close();
  });
});

describe('lab containers: cap_add, cap_drop, privileged', () => {
  const file = (extra: string): string => `networks: { n: }\ncontainers:\n  r:\n    command: [sleep, infinity]\n    networks: [n]\n${extra}`;

  test('parsed as run takes them; an undeclared one leaves the declaration hash as it was', () => {
    const spec = parseLab(file('    cap_add: [net_admin, SYS_PTRACE]\n    cap_drop: [CAP_MKNOD]\n'), 'lab.yaml', 'demo');
    assert.deepEqual(spec.containers[0] && [spec.containers[0].capAdd, spec.containers[0].capDrop, spec.containers[0].privileged], [['CAP_NET_ADMIN', 'CAP_SYS_PTRACE'], ['CAP_MKNOD'], false]);
    assert.equal(parseLab(file('    privileged: true\n'), 'lab.yaml', 'demo').containers[0]?.privileged, true);
    const plain = parseLab(file(''), 'lab.yaml', 'demo').containers[0]!;
    // The hash of a container declared before capabilities existed: the same file keeps its containers.
    const { command, hostname, env, ports, rootfs, sysctls, routes } = plain;
    const networks = plain.networks.map((a) => ({ name: a.name, ip: a.ip, aliases: a.aliases }));
    assert.equal(plain.hash, hashOf({ command, networks, hostname, env, ports, rootfs, sysctls, routes }));
    assert.equal(parseLab(file('    cap_add: []\n    privileged: false\n'), 'lab.yaml', 'demo').containers[0]?.hash, plain.hash);
    assert.notEqual(spec.containers[0]?.hash, plain.hash, 'a changed capability makes the container again');
  });

  test('a name that is not a capability is refused at its line and column', () => {
    assert.throws(() => parseLab(file('    cap_add: [NET_ADMIN, routing]\n'), 'lab.yaml', 'demo'), (err: unknown) => {
      assert.ok(err instanceof NsnetError);
      assert.match(err.message, /^lab\.yaml:6:26: invalid containers\.r\.cap_add "routing": not a capability name \(valid: ALL, /m);
      return true;
    });
  });

  test('lab up starts the container with them', async () => {
    const fx = fixture();
    const seen = recordLaunches(fx);
    await up(fx.ctx, parseLab(file('    cap_add: [NET_ADMIN]\n'), 'lab.yaml', 'demo'));
    assert.ok(seen.launched[0]?.privileges?.privileged === false && seen.launched[0].privileges.capabilities.includes('CAP_NET_ADMIN'));
    assert.deepEqual(fx.store.containers.resolve('demo-r').capAdd, ['CAP_NET_ADMIN']);
    fx.close();
  });
});
