/**
 * Docker's exec below the API, on the real kernel in a sandbox: a process started in a running
 * container's namespaces (kernel/container-exec.ts with core/exec-spec.ts's argv) with a
 * pseudo-terminal (kernel/pty.ts) — `tty` names a /dev/pts device, `stty size` says the size
 * set, a resize reaches it, the shell has its terminal as controlling terminal — or with pipes:
 * stdout and stderr apart, stdin to its end, the exit code; a user and a working directory in a
 * --rootfs container.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { startExec, type ExecProcess } from '../../src/kernel/container-exec.js';
import type { ExecSpec } from '../../src/core/exec-spec.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

function collect(stream: Readable | undefined): Promise<string> {
  return new Promise((resolve) => {
    if (stream === undefined) return resolve('');
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
    stream.once('close', () => resolve(text));
    stream.once('end', () => resolve(text));
  });
}

/** The terminal's output until `done` matches it (or the terminal closes). */
function terminalUntil(p: ExecProcess, done: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    p.terminal!.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (done.test(text)) resolve(text);
    });
    p.terminal!.once('close', () => resolve(text));
  });
}

requiredSuite('exec in a running container: terminal and pipes', { needs: [needs.integration, needs.busybox], concurrency: false }, () => {
  let sb: Sandbox;
  let plainPid = 0;
  let rootfsPid = 0;
  let rootfs = '';

  const pidOf = async (name: string): Promise<number> => (JSON.parse(ok(await sb.nsnet(['inspect', name])).stdout) as Array<{ State: { Pid: number } }>)[0]!.State.Pid;

  before(async () => {
    sb = await createSandbox('ex');
    rootfs = fs.mkdtempSync(path.join(sb.root, 'rootfs-'));
    fs.chmodSync(rootfs, 0o755); // mkdtemp's 0700 would keep a non-root user out of the container's /
    for (const d of ['bin', 'proc', 'etc', 'tmp', 'work', 'dev']) fs.mkdirSync(path.join(rootfs, d));
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'id', 'pwd', 'cat', 'sleep']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
    fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n');
    fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nwww:x:33:\nstaff:x:50:www\n');
    ok(await sb.nsnet(['run', '-d', '--name', `${sb.prefix}p`, '--network', 'none', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', `${sb.prefix}r`, '--rootfs', rootfs, '--network', 'none', '--', 'sleep', '1000']));
    plainPid = await pidOf(`${sb.prefix}p`);
    rootfsPid = await pidOf(`${sb.prefix}r`);
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  const spec = (argv: string[], more: Partial<ExecSpec> = {}): ExecSpec => ({ pid: plainPid, argv, tty: false, ...more });

  it('a terminal: tty names /dev/pts/N, stty size is the size given, the shell owns its terminal, then a resize', async () => {
    const p = await startExec(spec(['sh', '-c', 'tty; stty size; ps -o pid,tpgid,stat -p $$ | tail -1; read line; stty size; exit 7'], { tty: true }), ENV, { tty: true, size: { rows: 33, cols: 101 } });
    const first = await terminalUntil(p, /33 101\r\n.*\r\n/s);
    const lines = first.split('\r\n');
    assert.match(lines[0]!, /^\/dev\/pts\/\d+$/, first);
    assert.equal(lines[1], '33 101', first);
    // ps: the shell's pid is its terminal's foreground process group: it is the session leader with job control.
    const [pid, tpgid, stat] = lines[2]!.trim().split(/\s+/);
    assert.equal(pid, tpgid, `the shell is the terminal's foreground group: ${lines[2]}`);
    assert.match(stat!, /s/, `the shell leads its session: ${lines[2]}`);
    p.resize({ rows: 50, cols: 132 });
    const rest = terminalUntil(p, /50 132/);
    p.terminal!.write('go\n');
    assert.match(await rest, /50 132/);
    assert.equal(await p.exit, 7);
  });

  it('pipes: stdout and stderr apart, the exit code, no stdin unless asked (/dev/null)', async () => {
    const p = await startExec(spec(['sh', '-c', 'echo out; echo err >&2; cat; exit 3']), ENV, { tty: false, stdin: false });
    const [out, err, code] = await Promise.all([collect(p.stdout), collect(p.stderr), p.exit]);
    assert.deepEqual([out, err, code], ['out\n', 'err\n', 3]);
    assert.equal(p.stdin, undefined);
  });

  it('stdin to its end: cat copies it and ends when it closes', async () => {
    const p = await startExec(spec(['cat']), ENV, { tty: false, stdin: true });
    const out = collect(p.stdout);
    p.stdin!.write('hello\n');
    p.stdin!.end('world\n');
    assert.equal(await out, 'hello\nworld\n');
    assert.equal(await p.exit, 0);
  });

  it('a working directory in a container on the host root filesystem', async () => {
    const p = await startExec(spec(['pwd'], { workdir: '/tmp' }), ENV, { tty: false, stdin: false });
    assert.equal(await collect(p.stdout), '/tmp\n');
  });

  it('the container namespaces: its hostname and its own PID namespace', async () => {
    const p = await startExec(spec(['sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "']), ENV, { tty: false, stdin: false });
    const out = await collect(p.stdout);
    await p.exit;
    assert.equal(out, `${sb.prefix}p\nsleep 1000 `);
  });

  it('a missing command is exit 127 with the launcher saying so', async () => {
    const p = await startExec(spec(['no-such-command-here']), ENV, { tty: false, stdin: false });
    const [err, code] = await Promise.all([collect(p.stderr), p.exit]);
    assert.equal(code, 127, err);
    assert.match(err, /no-such-command-here/);
  });

  it('--rootfs: a user by ids, a working directory, a missing directory fails', async () => {
    const r = (argv: string[], more: Partial<ExecSpec>): ExecSpec => ({ pid: rootfsPid, rootfs, argv, tty: false, ...more });
    const p = await startExec(r(['sh', '-c', 'id; pwd'], { user: '33:33', workdir: '/work' }), ENV, { tty: false, stdin: false });
    const [out, code] = await Promise.all([collect(p.stdout), p.exit]);
    assert.equal(code, 0);
    assert.equal(out, 'uid=33(www) gid=33(www)\n/work\n');
    const q = await startExec(r(['pwd'], { workdir: '/nope' }), ENV, { tty: false, stdin: false });
    const [said, failed] = await Promise.all([collect(q.stderr), q.exit]);
    assert.notEqual(failed, 0);
    assert.match(said, /working directory|\/nope/);
    const root = await startExec(r(['id'], {}), ENV, { tty: false, stdin: false });
    assert.match(await collect(root.stdout), /^uid=0\(root\) gid=0\(root\)/);
  });

  it('--rootfs with a terminal: the program has it although the root filesystem has no /dev/pts', async () => {
    const p = await startExec({ pid: rootfsPid, rootfs, argv: ['sh', '-c', 'stty size; exit 5'], tty: true }, ENV, { tty: true, size: { rows: 24, cols: 80 } });
    const out = await terminalUntil(p, /24 80/);
    assert.match(out, /24 80/);
    assert.equal(await p.exit, 5);
  });
});
