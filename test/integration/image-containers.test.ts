/**
 * Containers from images on the real kernel (issue 18): the fixture busybox image loaded into the
 * sandbox's store, run -d from it, its overlay root with /etc/hosts, /etc/resolv.conf and
 * /etc/hostname as Docker presents them, names resolved between containers, each container's
 * writes its own, the image config honoured (Entrypoint, Cmd, Env, WorkingDir, ExposedPorts), a
 * layered image's whiteouts, and nothing mounted or left after rm; create → connect → start.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createSandbox, mountPoints, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { busyboxLayer, busyboxSpec, dockerArchive, layeredSpec, writeArchive } from '../helpers/image-fixtures.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

requiredSuite('containers from images', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let dir: string | undefined;
  const mountsUnderRoot = (): string[] => mountPoints().filter((m) => sb !== undefined && m.startsWith(sb.root + path.sep));

  before(async () => {
    sb = await createSandbox('img');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-img-'));
    const web = { layers: [busyboxLayer()], repoTags: ['web:1'], entrypoint: ['sh', '-c'], cmd: ['echo "$GREETING in $(pwd)"; exec sleep 1000'], env: [PATH, 'GREETING=hello from the image'], workingDir: '/tmp', exposedPorts: ['80/tcp'] };
    const archive = writeArchive(dir, 'images.tar', dockerArchive([busyboxSpec(), layeredSpec(), web]));
    ok(await sb.nsnet(['image', 'load', '-i', archive]));
  });
  after(async () => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('run -d from an image: eth0, /etc files as Docker presents them, names resolve, writes stay in their container, rm leaves nothing', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const [net, a, b] = [`${sb.prefix}net`, `${sb.prefix}a`, `${sb.prefix}b`];
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.93.0.0/24']));
    const idA = ok(await sb.nsnet(['run', '-d', '--name', a, '--network', net, '--image', 'busybox', '--', 'sleep', '1000'])).stdout.trim();
    ok(await sb.nsnet(['run', '-d', '--name', b, '--network', net, '--image', 'busybox', '--', 'sleep', '1000']));

    assert.match(ok(await sb.nsnet(['exec', a, 'ip', 'addr', 'show', 'eth0'])).stdout, /inet 10\.93\.0\.2\/24/);
    assert.equal(ok(await sb.nsnet(['exec', a, 'cat', '/etc/hostname'])).stdout, `${a}\n`);
    assert.match(ok(await sb.nsnet(['exec', a, 'cat', '/etc/resolv.conf'])).stdout, /^nameserver /m);
    assert.match(ok(await sb.nsnet(['exec', a, 'cat', '/etc/hosts'])).stdout, new RegExp(`^10\\.93\\.0\\.2\\s.*${a}`, 'm'));
    // The image's own files, and busybox's ping by name through nsnet's DNS.
    assert.equal(ok(await sb.nsnet(['exec', a, 'cat', '/etc/motd'])).stdout, 'busybox fixture\n');
    ok(await sb.nsnet(['exec', a, 'ping', '-c', '1', '-W', '2', b]));
    ok(await sb.nsnet(['exec', a, 'sh', '-c', 'echo mine > /tmp/only-in-a && test -c /dev/null && echo > /dev/null && test -c /dev/urandom']));
    assert.equal(ok(await sb.nsnet(['exec', a, 'cat', '/tmp/only-in-a'])).stdout, 'mine\n');
    // Docker's /dev/pts (a devpts instance of its own, /dev/ptmx -> pts/ptmx) and a 64 MB /dev/shm.
    const mounts = ok(await sb.nsnet(['exec', a, 'cat', '/proc/mounts'])).stdout;
    assert.match(mounts, /^devpts \/dev\/pts devpts rw,nosuid,noexec,\S*gid=5,mode=620,ptmxmode=666\b/m);
    assert.match(mounts, /^shm \/dev\/shm tmpfs rw,nosuid,nodev,noexec,\S*size=65536k\b/m);
    assert.equal(ok(await sb.nsnet(['exec', a, 'sh', '-c', 'readlink /dev/ptmx; echo x > /dev/shm/f && cat /dev/shm/f; ls /dev/pts'])).stdout, 'pts/ptmx\nx\nptmx\n');
    assert.notEqual((await sb.nsnet(['exec', b, 'cat', '/tmp/only-in-a'])).code, 0, 'b does not see a\'s file');

    // The records and the kernel agree (nothing about the mounts confuses system check).
    ok(await sb.nsnet(['system', 'check']));
    const inspect = JSON.parse(ok(await sb.nsnet(['inspect', a])).stdout) as Array<Record<string, any>>;
    assert.equal(inspect[0]!['Config'].Image, 'busybox');
    assert.match(inspect[0]!['Image'], /^sha256:[0-9a-f]{64}$/);
    assert.equal(inspect[0]!['GraphDriver'].Name, 'overlay2');
    assert.ok(mountsUnderRoot().some((m) => m.endsWith(`${idA}/merged`)), 'the overlay is mounted while it runs');

    // stop unmounts, start mounts again; the upper layer keeps what the container wrote.
    ok(await sb.nsnet(['stop', '-t', '0', a]));
    assert.equal(mountsUnderRoot().filter((m) => m.includes(idA)).length, 0, 'stop unmounts');
    ok(await sb.nsnet(['start', a]));
    assert.equal(ok(await sb.nsnet(['exec', a, 'cat', '/tmp/only-in-a'])).stdout, 'mine\n');

    // Docker's sharing: a joiner has the joined container's files, a host container the host's.
    const joiner = ok(await sb.nsnet(['run', '--rm', '--name', `${sb.prefix}j`, '--network', `container:${a}`, '--image', 'busybox', '--', 'cat', '/etc/hosts'])).stdout;
    assert.match(joiner, new RegExp(`^10\\.93\\.0\\.2\\s.*${a}`, 'm'));
    if (fs.existsSync('/etc/resolv.conf')) {
      const host = ok(await sb.nsnet(['run', '--rm', '--name', `${sb.prefix}h`, '--network', 'host', '--image', 'busybox', '--', 'cat', '/etc/resolv.conf'])).stdout;
      assert.equal(host, fs.readFileSync('/etc/resolv.conf', 'utf8'));
    }

    ok(await sb.nsnet(['rm', '-f', a, b]));
    assert.deepEqual(mountsUnderRoot(), []);
    assert.equal(fs.existsSync(path.join(sb.root, 'containers', idA)), false, 'the container directory goes');
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  test('the image config: Entrypoint + Cmd, Env under -e, WorkingDir; -w, --entrypoint; -P publishes ExposedPorts', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const [w, x] = [`${sb.prefix}web`, `${sb.prefix}x`];
    ok(await sb.nsnet(['run', '-d', '--name', w, '-P', '--image', 'web:1']));
    // The command's first line is written once it runs: read the log until it is there.
    let logs = '';
    for (let i = 0; i < 100 && logs === ''; i++) {
      logs = ok(await sb.nsnet(['logs', w])).stdout;
      if (logs === '') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(logs, 'hello from the image in /tmp\n');
    assert.equal(ok(await sb.nsnet(['exec', w, 'sh', '-c', 'pwd'])).stdout, '/tmp\n', 'exec starts in the WorkingDir too');
    assert.match(ok(await sb.nsnet(['port', w])).stdout, /^80\/tcp -> 0\.0\.0\.0:\d+/m);
    ok(await sb.nsnet(['rm', '-f', w]));

    const r = ok(await sb.nsnet(['run', '--rm', '--name', x, '-e', 'GREETING=from -e', '-w', '/etc', '--entrypoint', 'sh', '--image', 'web:1', '--', '-c', 'echo "$GREETING in $(pwd)"']));
    assert.equal(r.stdout, 'from -e in /etc\n');
    assert.match(ok(await sb.nsnet(['run', '--rm', '--name', x, '-u', '1000:1000', '--image', 'busybox', '--', 'id'])).stdout, /^uid=1000 gid=1000\b/);
    // -u by name: looked up in the image's /etc/passwd and /etc/group at start, as Docker does.
    assert.match(ok(await sb.nsnet(['run', '--rm', '--name', x, '-u', 'nobody', '--image', 'busybox', '--', 'id'])).stdout, /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    assert.match(ok(await sb.nsnet(['run', '--rm', '--name', x, '-u', 'nobody:root', '--image', 'busybox', '--', 'id'])).stdout, /^uid=65534\(nobody\) gid=0\(root\)/);
    // A WorkingDir the image lacks is made before the process starts (0755, root's, as dockerd makes it).
    const made = ok(await sb.nsnet(['run', '--rm', '--name', x, '-u', 'nobody', '-w', '/made/here', '--image', 'busybox', '--', 'sh', '-c', 'pwd; stat -c "%u %a" .']));
    assert.equal(made.stdout, '/made/here\n0 755\n');
    const unknown = await sb.nsnet(['run', '--rm', '--name', x, '-u', 'nosuch', '--image', 'busybox', '--', 'id']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unable to find user nosuch: no matching entries in passwd file/);
    assert.equal(ok(await sb.nsnet(['ps', '-a', '-q', '--filter', `name=${x}`])).stdout, '', 'a failed start of run --rm leaves no container');
    const layered = ok(await sb.nsnet(['run', '--rm', '--name', x, '--image', 'layered', '--', 'sh', '-c', 'cat /etc/added; ls /opt/old; test -e /etc/motd || echo no motd']));
    assert.equal(layered.stdout, 'from the second layer\nb\nno motd\n');
    assert.deepEqual(mountsUnderRoot(), []);
  });

  test('killed after any step of run -d --image: the next command unmounts and forgets it', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const c = `${sb.prefix}crash`;
    const args = ['run', '-d', '--name', c, '--image', 'busybox', '--', 'sleep', '1000'];
    let killed = 0;
    for (let i = 0; ; i++) {
      assert.ok(i < 60, 'run never ran to the end');
      const r = await sb.nsnet(args, { env: { ...process.env, NSNET_TEST_FAULTS: '1', NSNET_FAULT: `${i}:kill` } });
      if (r.signal !== 'SIGKILL') {
        ok(r);
        break;
      }
      killed++;
      const ps = ok(await sb.nsnet(['ps', '-a', '-q']));
      assert.match(ps.stderr, /recovered an interrupted "run"/, `killed after point ${i}`);
      assert.equal(ps.stdout, '', `killed after point ${i}: the container is forgotten`);
      assert.deepEqual(mountsUnderRoot(), [], `killed after point ${i}: its mounts are gone`);
      assert.deepEqual(fs.existsSync(path.join(sb.root, 'containers')) ? fs.readdirSync(path.join(sb.root, 'containers')) : [], [], `killed after point ${i}: its directory is gone`);
      ok(await sb.nsnet(['system', 'check']));
    }
    assert.ok(killed >= 10, `${killed} kill points`);
    ok(await sb.nsnet(['rm', '-f', c]));
    assert.deepEqual(mountsUnderRoot(), []);
  });

  test('create → network connect → start: the container has both networks', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const [n1, n2, c] = [`${sb.prefix}one`, `${sb.prefix}two`, `${sb.prefix}made`];
    ok(await sb.nsnet(['network', 'create', n1, '--subnet', '10.94.0.0/24']));
    ok(await sb.nsnet(['network', 'create', n2, '--subnet', '10.95.0.0/24']));
    ok(await sb.nsnet(['create', '--name', c, '--network', n1, '-p', '8089:80', '--image', 'busybox', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['system', 'check']), 'a created container has nothing in the kernel, and nothing is missing there');
    assert.match(ok(await sb.nsnet(['ps', '-a', '--filter', `name=${c}`])).stdout, /\bCreated\b/);
    assert.equal(JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout)[0].State.Status, 'created');
    assert.equal(sb.inHost(['ip', 'netns', 'list']).stdout.includes(c), false, 'create makes no namespace');
    ok(await sb.nsnet(['network', 'connect', n2, c]));
    ok(await sb.nsnet(['start', c]));
    const addrs = ok(await sb.nsnet(['exec', c, 'ip', '-4', '-o', 'addr'])).stdout;
    assert.match(addrs, /eth0\s+inet 10\.94\.0\.2\/24/);
    assert.match(addrs, /eth1\s+inet 10\.95\.0\.2\/24/);
    ok(await sb.nsnet(['rm', '-f', c]));
    // A created container that never starts is removed with nothing to undo.
    ok(await sb.nsnet(['create', '--name', c, '--image', 'busybox']));
    ok(await sb.nsnet(['rm', c]));
    ok(await sb.nsnet(['network', 'rm', n1, n2]));
    assert.deepEqual(mountsUnderRoot(), []);
  });
});
