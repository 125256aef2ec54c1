/**
 * A detached container is started confined by its monitor itself (native/nsnet-monitor.c
 * confined_exec: what unshare, setpriv and chroot/nsenter do, without exec'ing them); a
 * foreground one by those programs. Whatever the path, the container's process must end up the
 * same: the same capabilities (bounding, permitted, effective, none inheritable or ambient),
 * no_new_privs, PID 1 of its own PID namespace with its own /proc, its hostname, and in an
 * image's root filesystem the same user, groups and working directory. Compared here option set
 * by option set, against the real kernel in a sandbox.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { busyboxSpec, dockerArchive, writeArchive } from '../helpers/image-fixtures.js';

/**
 * What the container's own process says about itself (a shell that is PID 1, or its child). The
 * working directory only in an image's root: without one a foreground run keeps the caller's.
 */
const probe = (inImage: boolean): string => [
  'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status',
  'echo "pid=$$ host=$(hostname)"',
  // The /proc on top: mounted for this PID namespace (one process and its children in it).
  'echo "proc=$(grep -c "^proc /proc proc" /proc/mounts) pids=$(ls /proc | grep -c "^1$")"',
  `echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)${inImage ? ' pwd=$(pwd)' : ''}"`,
].join('; ');

requiredSuite('confined start by the monitor: the same process as unshare and setpriv make', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let dir: string;

  before(async () => {
    sb = await createSandbox('mc');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-test-confined-'));
    ok(await sb.nsnet(['image', 'load', '-i', writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()]))]));
  });

  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  /** The probe's words from a foreground run, and from a detached one's log (same options). */
  async function both(name: string, options: string[]): Promise<{ foreground: string; detached: string }> {
    const PROBE = probe(options.includes('--image'));
    const foreground = ok(await sb.nsnet(['run', '--rm', '--name', `${sb.prefix}${name}f`, '--hostname', 'probe', ...options, '--', 'sh', '-c', PROBE])).stdout;
    const detachedName = `${sb.prefix}${name}d`;
    ok(await sb.nsnet(['run', '-d', '--name', detachedName, '--hostname', 'probe', ...options, '--', 'sh', '-c', PROBE]));
    assert.equal(ok(await sb.nsnet(['wait', detachedName], { timeoutMs: 20_000 })).stdout.trim(), '0');
    const detached = ok(await sb.nsnet(['logs', detachedName])).stdout;
    ok(await sb.nsnet(['rm', detachedName]));
    return { foreground, detached };
  }

  const cases: Array<[string, string[]]> = [
    ['default', []],
    ['caps', ['--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '--cap-drop', 'KILL']],
    ['nocaps', ['--cap-drop', 'ALL']],
    ['priv', ['--privileged']],
    ['image', ['--image', 'busybox']],
    ['user', ['--image', 'busybox', '-u', '1000:1001', '-w', '/var/spool']],
    ['uidonly', ['--image', 'busybox', '-u', '1000', '-w', '/tmp']],
  ];
  for (const [name, options] of cases) {
    it(`${name}: ${options.join(' ') || 'no options'}`, async () => {
      const { foreground, detached } = await both(name, options);
      assert.match(foreground, /pid=1 host=probe/);
      assert.match(foreground, /proc=[1-9]/);
      assert.equal(detached, foreground);
    });
  }

  it('a command that cannot be executed: the same error and exit code as a foreground run', async () => {
    const fg = await sb.nsnet(['run', '--rm', '--name', `${sb.prefix}nf`, '--', 'no-such-command']);
    const bg = await sb.nsnet(['run', '-d', '--name', `${sb.prefix}nd`, '--', 'no-such-command']);
    assert.equal(fg.code, 127);
    assert.equal(bg.code, 127);
    assert.match(bg.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
    ok(await sb.nsnet(['rm', '-f', `${sb.prefix}nd`]));
  });
});
