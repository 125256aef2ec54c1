/**
 * Containers from images and Docker's created state (issue 18), on the fake machine: create records
 * a container with its addresses and nothing in the kernel; connect/disconnect of a created one only
 * record; start wires it; an image's container gets its overlay root and bind mounts as steps (and
 * loses them at stop and rm); the image config is honoured as Docker does; a failure at any step and
 * a crash after any step leave the records, the machine and its mounts as before. No root.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { confinedArgv, unshareArgs } from '../../src/core/unshare.js';
import { containerView } from '../../src/engine/inspect-container.js';
import { decideImageConfig, rootfsDirs, useImageResolver, type ResolvedImage } from '../../src/ops/container-image.js';
import { create, remove, run, start, stop } from '../../src/ops/containers.js';
import { loadView } from '../../src/dns/load.js';
import { liveState } from '../../src/ops/liveness.js';
import { connect, createNetwork, disconnect } from '../../src/ops/networks.js';
import { reset } from '../../src/ops/system.js';
import { firewallState } from '../../src/ops/specs.js';
import { renderStep } from '../../src/plan/render.js';
import {
  assertFinishedAs,
  assertKept,
  assertRecoveredAsBefore,
  crashAndRecover,
  stateAfter,
  assertSameState,
  assertUndone,
  contextOn,
  crashEachStep,
  failEachStep,
  fixture,
  runInput,
  type Fixture,
  type Op,
} from '../helpers/ops-fixture.js';

const layersDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-unit-layers-'));
after(() => fs.rmSync(layersDir, { recursive: true, force: true }));

const BUSYBOX: ResolvedImage = {
  id: `sha256:${'b'.repeat(64)}`,
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'COLOR=blue'], Cmd: ['sh'], WorkingDir: '/srv', ExposedPorts: { '80/tcp': {} }, Labels: { from: 'image' } },
  layers: [path.join(layersDir, 'top'), path.join(layersDir, 'bottom')],
};
useImageResolver((_root, _store, ref) => {
  if (ref === 'busybox') return BUSYBOX;
  throw Object.assign(new Error(`No such image: ${ref}`), { code: 'NOT_FOUND' });
});
after(() => useImageResolver(undefined));

const study = (ctx: Parameters<Op>[0]) => createNetwork(ctx, { name: 'ut-study', subnet: '10.0.0.0/24' });
const lab = (ctx: Parameters<Op>[0]) => createNetwork(ctx, { name: 'ut-lab', subnet: '10.1.0.0/24' });
/** An image's container: no --rootfs (the image gives the root). */
const imageInput = (over: Parameters<typeof runInput>[0]) => runInput({ rootfs: undefined, image: 'busybox', argv: ['sleep', '1000'], ...over });
const runImage = (over: Partial<Parameters<typeof runInput>[0]> = {}): Op => (ctx) => run(ctx, imageInput({ name: 'ut-img', networks: ['ut-study'], ...over }));

const mountsOf = (fx: Fixture): string[] => fx.host.snapshot().mounts.map((m) => m.split(':')[0]!);

describe('create: the created state', () => {
  test('records the container and its address; nothing in the kernel; ps says created', async () => {
    const fx = await fixture().setUp(study);
    const before = fx.host.snapshot();
    const c = await create(fx.ctx, runInput({ name: 'ut-new', networks: ['ut-study'], detach: false }));
    assert.deepEqual(fx.host.snapshot(), before, 'create changes nothing on the machine');
    assert.equal(c.status, 'created');
    assert.equal(liveState(fx.host, c).status, 'created');
    const eps = fx.store.endpoints.forContainer(c.id);
    assert.equal(eps.length, 1);
    assert.equal(eps[0]!.ip, '10.0.0.2', 'the address is allocated at create');
    assert.equal(fx.store.journal.list().length, 0);
    const view = containerView(c, liveState(fx.host, c), []) as { State: { Status: string } };
    assert.equal(view.State.Status, 'created');
    fx.close();
  });

  test('a created container\'s published port is in no firewall regeneration until it starts', async () => {
    const fx = await fixture().setUp(study);
    await create(fx.ctx, runInput({ name: 'ut-port', networks: ['ut-study'], publish: ['8080:80'] }));
    assert.equal(fx.store.ports.list().length, 1, 'the host port is taken at create');
    assert.deepEqual(firewallState(fx.store).mappings, []);
    assert.deepEqual(firewallState(fx.store).ports, []);
    await start(fx.ctx, ['ut-port']);
    assert.equal((firewallState(fx.store).mappings ?? []).length, 1);
    fx.close();
  });

  test('create --rm is recorded as AutoRemove; a create of a taken name is refused', async () => {
    const fx = await fixture().setUp(study);
    const c = await create(fx.ctx, runInput({ name: 'ut-auto', remove: true, detach: false }));
    assert.equal(fx.store.containers.get(c.id)!.autoRemove, true);
    assert.equal(((containerView(c, liveState(fx.host, c), []) as { HostConfig: { AutoRemove: boolean } }).HostConfig.AutoRemove), true);
    await assert.rejects(() => create(fx.ctx, runInput({ name: 'ut-auto' })), /ut-auto/);
    fx.close();
  });

  test('connect and disconnect of a created container only record; start wires both networks', async () => {
    const fx = await fixture().setUp(study, lab);
    await create(fx.ctx, runInput({ name: 'ut-two', networks: ['ut-study'] }));
    const before = fx.host.snapshot();
    connect(fx.ctx, 'ut-lab', 'ut-two', {});
    assert.deepEqual(fx.host.snapshot(), before, 'connect of a created container changes nothing on the machine');
    assert.deepEqual(fx.store.endpoints.forContainer(fx.store.containers.resolve('ut-two').id).map((e) => e.ifName).sort(), ['eth0', 'eth1']);
    await start(fx.ctx, ['ut-two']);
    assert.ok(fx.host.netnsExists('ut-two'));
    assert.deepEqual(fx.host.links('ut-two').map((l) => l.name).filter((n) => n.startsWith('eth')).sort(), ['eth0', 'eth1']);
    assert.equal(liveState(fx.host, fx.store.containers.resolve('ut-two')).status, 'running');
    fx.close();
  });

  test('disconnect of a created container forgets the endpoint; rm of a created one removes only records', async () => {
    const fx = await fixture().setUp(study, lab);
    await create(fx.ctx, runInput({ name: 'ut-gone', networks: ['ut-study', 'ut-lab'] }));
    const before = fx.host.snapshot();
    disconnect(fx.ctx, 'ut-lab', 'ut-gone');
    assert.equal(fx.store.endpoints.forContainer(fx.store.containers.resolve('ut-gone').id).length, 1);
    assert.deepEqual(stop(fx.ctx, ['ut-gone'], 10), ['ut-gone'], 'stop of a created container is a no-op, as Docker\'s');
    remove(fx.ctx, ['ut-gone'], { force: false });
    assert.equal(fx.store.containers.byIdOrName('ut-gone'), undefined);
    assert.deepEqual(fx.host.snapshot(), before);
    fx.close();
  });
});

describe('aliases per network (run --network-alias, the API\'s EndpointsConfig Aliases, connect --alias)', () => {
  /** The names each network's DNS answers with the container's address there. */
  const namesOn = (fx: Fixture, gateway: string): string[] => [...(loadView(fx.store, () => true, []).byGateway.get(gateway)?.names.keys() ?? [])].sort();
  const aliasesOf = (fx: Fixture, name: string): Record<string, string[]> => {
    const c = fx.store.containers.resolve(name);
    return Object.fromEntries(fx.store.endpoints.forContainer(c.id).map((e) => [fx.store.networks.get(e.networkId)!.name, e.aliases ?? []]));
  };

  test('created with one network\'s aliases, connected to another with its own (compose): each only on its network', async () => {
    const fx = await fixture().setUp(study, lab);
    await create(fx.ctx, runInput({ name: 'ut-api', networks: ['ut-study'], networkAliases: { 'ut-study': ['api-front'] } }));
    connect(fx.ctx, 'ut-lab', 'ut-api', { aliases: ['api-back'] });
    assert.deepEqual(aliasesOf(fx, 'ut-api'), { 'ut-study': ['api-front'], 'ut-lab': ['api-back'] });
    await start(fx.ctx, ['ut-api']);
    const front = namesOn(fx, '10.0.0.1');
    const back = namesOn(fx, '10.1.0.1');
    assert.ok(front.includes('api-front') && !front.includes('api-back'), front.join(' '));
    assert.ok(back.includes('api-back') && !back.includes('api-front'), back.join(' '));
    assert.ok(front.includes('ut-api') && back.includes('ut-api'), 'the name is on both');
    fx.close();
  });

  test('run on two networks: each gets its own; an alias for a network it does not join is refused, nothing changed', async () => {
    const fx = await fixture().setUp(study, lab);
    await run(fx.ctx, runInput({ name: 'ut-two', networks: ['ut-study', 'ut-lab'], networkAliases: { 'ut-study': ['x'], 'ut-lab': ['y'] } }));
    assert.deepEqual(aliasesOf(fx, 'ut-two'), { 'ut-study': ['x'], 'ut-lab': ['y'] });
    const before = fx.host.snapshot();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-stray', networks: ['ut-study'], networkAliases: { 'ut-lab': ['z'] } })), /network aliases for ut-lab, which is not one of the container's networks \(ut-study\)/);
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-bad', networks: ['ut-study'], networkAliases: { 'ut-study': ['-x'] } })), /invalid --network-alias "-x"/);
    assert.equal(fx.store.containers.byIdOrName('ut-stray') ?? fx.store.containers.byIdOrName('ut-bad'), undefined);
    assert.deepEqual(fx.host.snapshot(), before);
    fx.close();
  });
});

describe('run --image: the root filesystem as steps', () => {
  test('the overlay and the bind mounts are steps; --dry-run prints them', async () => {
    const fx = await fixture().setUp(study);
    const plan = contextOn(fx.host, fx.store, fx.root, { dryRun: true });
    await run(plan, imageInput({ name: 'ut-img', networks: ['ut-study'] }));
    const text = plan.planned.join('\n');
    assert.match(text, /mount -t overlay overlay -o '?lowerdir=[^ ]*top:[^ ]*bottom,upperdir=[^ ]*\/upper,workdir=[^ ]*\/work'? [^ ]*\/merged/);
    assert.match(text, /mount --bind \/etc\/netns\/ut-img\/hosts [^ ]*\/merged\/etc\/hosts/);
    assert.match(text, /mount --bind [^ ]*\/hostname [^ ]*\/merged\/etc\/hostname/);
    assert.match(text, /mknod -m 666 [^ ]*\/merged\/dev\/null c 1 3/);
    // The process: setpriv, then nsenter enters the root and the image's WorkingDir.
    assert.match(text, /setpriv [^\n]* -- nsenter --root=\S*\/merged --wdns=\/srv -- sleep 1000/);
    fx.close();
  });

  test('run mounts, stop unmounts, start mounts again, rm unmounts', async () => {
    const fx = await fixture().setUp(study);
    const c = (await run(fx.ctx, imageInput({ name: 'ut-img', networks: ['ut-study'] }))).container;
    const merged = rootfsDirs(fx.root, c.id).merged;
    assert.ok(mountsOf(fx).includes(merged));
    assert.ok(mountsOf(fx).includes(`${merged}/etc/resolv.conf`));
    assert.equal(fs.readFileSync(path.join(path.dirname(merged), 'hostname'), 'utf8'), 'ut-img\n');
    stop(fx.ctx, ['ut-img'], 0);
    assert.deepEqual(mountsOf(fx), []);
    await start(fx.ctx, ['ut-img']);
    assert.ok(mountsOf(fx).includes(merged));
    remove(fx.ctx, ['ut-img'], { force: true });
    assert.deepEqual(mountsOf(fx), []);
    assert.equal(fs.existsSync(path.dirname(merged)), false, 'the container directory goes');
    fx.close();
  });

  test('the image config: Env under -e, Cmd replaced, WorkingDir, ExposedPorts published by -P, inspect', async () => {
    const fx = await fixture().setUp(study);
    const { container: c } = await run(fx.ctx, imageInput({ name: 'ut-img', networks: ['ut-study'], env: { COLOR: 'red' }, publishAll: true, labels: { mine: '1' } }));
    const saved = fx.store.containers.get(c.id)!;
    assert.equal(saved.env['COLOR'], 'red');
    assert.equal(saved.env['PATH'], '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.deepEqual(saved.command, ['sleep', '1000']);
    assert.equal(fx.store.ports.list().filter((p) => p.containerPort === 80).length > 0, true, '-P publishes the image\'s 80/tcp');
    const view = containerView(saved, liveState(fx.host, saved), []) as Record<string, any>;
    assert.equal(view['Image'], BUSYBOX.id);
    assert.equal(view['Config'].Image, 'busybox');
    assert.equal(view['Config'].WorkingDir, '/srv');
    assert.deepEqual(view['Config'].ExposedPorts, { '80/tcp': {} });
    assert.deepEqual(view['Config'].Labels, { from: 'image', mine: '1' });
    assert.equal(view['GraphDriver'].Name, 'overlay2');
    assert.equal(view['GraphDriver'].Data.LowerDir, BUSYBOX.layers.join(':'));
    assert.equal(view['Path'], 'sleep');
    fx.close();
  });

  test('a missing image, --rootfs with --image, -w without --image: refused, nothing changed', async () => {
    const fx = await fixture().setUp(study);
    const before = fx.state();
    await assert.rejects(() => run(fx.ctx, imageInput({ name: 'ut-x', image: 'nosuch' })), /No such image: nosuch/);
    await assert.rejects(() => run(fx.ctx, imageInput({ name: 'ut-x', rootfs: '/srv/root' })), /--rootfs \/srv\/root and --image busybox/);
    await assert.rejects(() => run(fx.ctx, runInput({ name: 'ut-x', workdir: '/tmp' })), /--workdir needs --image/);
    await assert.rejects(() => run(fx.ctx, imageInput({ name: 'ut-x', user: 'a:b:c' })), /invalid user "a:b:c": give USER, UID, USER:GROUP or UID:GID/);
    // A name is looked up in the image's /etc/passwd at start (this image has none): the start fails and is undone.
    await assert.rejects(() => run(fx.ctx, imageInput({ name: 'ut-x', user: 'nobody' })), /unable to find user nobody: no matching entries in passwd file/);
    await assert.rejects(() => run(fx.ctx, imageInput({ name: 'ut-x', workdir: 'rel' })), /needs to be an absolute path/);
    assertSameState(fx.state(), before, 'after the refusals');
    fx.close();
  });

  test('a failure at every step of run --image is undone, mounts included', async () => {
    const n = await failEachStep(await fixture().setUp(study), runImage(), assertUndone);
    assert.ok(n >= 5, `${n} steps`);
  });

  test('a crash after every step of run --image is undone by the next process, mounts included', async () => {
    await crashEachStep(await fixture().setUp(study), runImage(), assertRecoveredAsBefore('run'));
  });

  test('a crash right after the process started: the next process kills it and unmounts its root', async () => {
    const r = await crashAndRecover(await fixture().setUp(study), runImage(), (host, atCrash) => host.crashAtNextLaunch(atCrash));
    assertRecoveredAsBefore('run')(r);
    r.crashed.close();
    r.fx.close();
  });

  test('a failure at every step of rm of an image container is reported; rm again finishes it', async () => {
    const base = await fixture().setUp(study, runImage());
    const removed = await stateAfter(base, (ctx) => remove(ctx, ['ut-img'], { force: true }));
    assert.deepEqual(removed.host.mounts, []);
    await failEachStep(base, (ctx) => remove(ctx, ['ut-img'], { force: true }), assertKept('rm ut-img', { op: (ctx) => remove(ctx, ['ut-img'], { force: true }), removed }));
  });

  test('a crash after every step of rm of an image container is finished by the next process', async () => {
    const base = await fixture().setUp(study, runImage());
    const removed = await stateAfter(base, (ctx) => remove(ctx, ['ut-img'], { force: true }));
    await crashEachStep(base, (ctx) => remove(ctx, ['ut-img'], { force: true }), assertFinishedAs('rm ut-img', removed));
  });

  test('a failure at every step of start of a created image container leaves it unmounted and unwired', async () => {
    const base = await fixture().setUp(study, (ctx) => create(ctx, imageInput({ name: 'ut-img', networks: ['ut-study'] })));
    await failEachStep(base, (ctx) => start(ctx, ['ut-img']), ({ fx, i }) => {
      assert.deepEqual(mountsOf(fx), [], `failure at step ${i}`);
      assert.equal(fx.host.netnsExists('ut-img'), false);
      assert.equal(fx.store.containers.resolve('ut-img').status, 'created', 'a created container that fails to start stays created');
    });
  });

  test('system reset detaches every mount under the state root, a crash\'s leftovers too', async () => {
    const fx = await fixture().setUp(study, runImage());
    fx.host.mounts.overlay(path.join(fx.root, 'containers', 'orphan', 'merged'), ['/x'], '/u', '/w');
    reset(fx.ctx);
    assert.deepEqual(mountsOf(fx), []);
    fx.close();
  });
});

describe('the image config, as Docker applies it', () => {
  const image: ResolvedImage = { id: 'sha256:x', layers: ['/l'], config: { Entrypoint: ['/entry'], Cmd: ['serve'], Env: ['A=1', 'B=2'], User: '1000:1000' } };
  const base = { argv: [] as string[], env: {}, expose: [] as string[] };

  test('Entrypoint + Cmd; a command replaces Cmd; --entrypoint drops Cmd; "" clears it', () => {
    assert.deepEqual([decideImageConfig(image, base).entrypoint, decideImageConfig(image, base).command], [['/entry'], ['serve']]);
    assert.deepEqual(decideImageConfig(image, { ...base, argv: ['other'] }).command, ['other']);
    const replaced = decideImageConfig(image, { ...base, entrypoint: ['/bin/true'] });
    assert.deepEqual([replaced.entrypoint, replaced.command], [['/bin/true'], []]);
    const cleared = decideImageConfig(image, { ...base, entrypoint: [''], argv: ['ls'] });
    assert.deepEqual([cleared.entrypoint, cleared.command], [null, ['ls']]);
    assert.throws(() => decideImageConfig(image, { ...base, entrypoint: [''] }), /No command specified/);
  });

  test('Env under -e; User, -u over it', () => {
    const d = decideImageConfig(image, { ...base, env: { B: 'mine' }, user: '7' });
    assert.deepEqual(d.env, { A: '1', B: 'mine' });
    assert.equal(d.user, '7');
    assert.equal(decideImageConfig(image, base).user, '1000:1000');
  });

  test('the launch: chroot without a working directory or user, nsenter with them', () => {
    assert.deepEqual(confinedArgv({ rootfs: '/r', privileges: { privileged: true }, argv: ['ls'] }), ['chroot', '/r', 'ls']);
    assert.deepEqual(confinedArgv({ rootfs: '/r', workdir: '/w', user: '7', privileges: { privileged: true }, argv: ['ls'] }), ['nsenter', '--root=/r', '--wdns=/w', '-S', '7', '-G', '0', '--', 'ls']);
    assert.ok(unshareArgs({ rootfs: '/r/', argv: ['ls'] }).includes('--mount-proc=/r/proc'));
  });

  test('the by-hand commands of the mount steps', () => {
    assert.equal(renderStep({ kind: 'unmount', target: '/s/m' }), 'umount --lazy /s/m');
    assert.equal(renderStep({ kind: 'bind-mount', source: '/dev/null', root: '/s/m', path: 'dev/null' }), 'touch /s/m/dev/null && mount --bind /dev/null /s/m/dev/null');
    assert.equal(
      renderStep({ kind: 'overlay-mount', target: '/s/m', lower: ['/l2', '/l1'], upper: '/s/u', work: '/s/w' }),
      'mkdir -p /s/u /s/w /s/m && mount -t overlay overlay -o lowerdir=/l2:/l1,upperdir=/s/u,workdir=/s/w /s/m && mkdir -p /s/m/proc /s/m/dev /s/m/etc' +
        ' && mknod -m 666 /s/m/dev/null c 1 3 && mknod -m 666 /s/m/dev/zero c 1 5 && mknod -m 666 /s/m/dev/full c 1 7 && mknod -m 666 /s/m/dev/random c 1 8' +
        ' && mknod -m 666 /s/m/dev/urandom c 1 9 && mknod -m 666 /s/m/dev/tty c 5 0 && ln -sfn pts/ptmx /s/m/dev/ptmx',
    );
    assert.equal(
      renderStep({ kind: 'fs-mount', fstype: 'devpts', root: '/s/m', path: 'dev/pts', flags: ['nosuid', 'noexec'], options: 'newinstance,ptmxmode=0666,mode=0620,gid=5' }),
      'mkdir -p /s/m/dev/pts && mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /s/m/dev/pts',
    );
    assert.equal(
      renderStep({ kind: 'fs-mount', fstype: 'tmpfs', root: '/s/m', path: 'dev/shm', flags: ['nosuid', 'nodev', 'noexec'], options: 'mode=1777,size=65536k' }),
      'mkdir -p /s/m/dev/shm && mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm /s/m/dev/shm',
    );
    // A WorkingDir: made inside the root (the kernel follows a link in it inside the root only).
    assert.match(renderStep({ kind: 'overlay-mount', target: '/s/m', lower: ['/l'], upper: '/s/u', work: '/s/w', workingDir: '/srv/app' }), / && mkdir -p -m 755 \/s\/m\/srv\/app$/);
  });
});
