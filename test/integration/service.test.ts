/**
 * The nsnet service behind bin/nsnet (src/cli/service.ts, native/nsnet-client.c) against the
 * real kernel in a sandbox: the same output and exit codes as the in-process CLI
 * (NSNET_SERVICE=off), the root-only socket, malformed requests, 32 clients at once, clients
 * that do not read their output (they block nobody else), the service killed in the middle of a
 * command, and its restart after a rebuild, idle exit and `system reset`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cmdline, createSandbox, describeResult, NSNET_BIN, pidStartTime, pidState, REPO, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const OFF = { ...process.env, NSNET_SERVICE: 'off' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

requiredSuite('nsnet service (bin/nsnet client)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  const dir = (): string => path.join(sb!.root, 'service');
  const socket = (): string => path.join(dir(), `net-${sb!.netnsInode(sb!.hostNs)}.sock`);
  const record = (): { pid: number; start: string } | undefined => {
    try {
      return JSON.parse(fs.readFileSync(socket().replace(/\.sock$/, '.pid'), 'utf8')) as { pid: number; start: string };
    } catch {
      return undefined;
    }
  };
  const alive = (r: { pid: number; start: string }): boolean => pidStartTime(r.pid) === r.start && pidState(r.pid) !== 'Z';
  const log = (): string => fs.readFileSync(path.join(dir(), 'service.log'), 'utf8');
  /** A service is up (the first command started it if none was), and its record. */
  const serviceUp = async (env: NodeJS.ProcessEnv = process.env): Promise<{ pid: number; start: string }> => {
    const r0 = record();
    if (r0 === undefined || !alive(r0)) ok(await sb!.nsnet(['ps'], { env }), 'ps (starts the service)');
    for (let i = 0; i < 200; i++) {
      const r = record();
      if (r !== undefined && alive(r) && fs.existsSync(socket())) return r;
      await sleep(50);
    }
    assert.fail(`no service came up (${socket()})`);
  };
  const gone = async (r: { pid: number; start: string }): Promise<boolean> => {
    for (let i = 0; i < 200 && alive(r); i++) await sleep(50);
    return !alive(r);
  };

  before(async () => {
    sb = await createSandbox('svc');
  });

  after(async () => {
    if (sb === undefined) return;
    const r = record();
    const report = await sb.destroy();
    assert.deepEqual(report.problems, [], report.problems.join('\n'));
    if (r !== undefined) assert.equal(alive(r), false, 'system reset stopped the service');
  });

  test('the socket is root\'s, mode 0600, in a directory only root can enter', async () => {
    await serviceUp();
    const st = fs.statSync(socket());
    assert.ok(st.isSocket());
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir()).mode & 0o777, 0o700);
  });

  /** Ids, names and durations differ between two runs of the same command; the rest must not. */
  const normal = (text: string, names: Record<string, string>): string => {
    let t = text;
    for (const [from, to] of Object.entries(names)) t = t.split(from).join(to);
    const ids = new Map<string, string>();
    t = t.replace(/\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b/g, (id) => {
      const key = id.slice(0, 12);
      if (!ids.has(key)) ids.set(key, `ID${ids.size}`);
      return id.length === 64 ? `${ids.get(key)}-long` : ids.get(key)!;
    });
    // Durations differ, and with them the width of table columns.
    return t
      .replace(/Less than a second|About a minute|\d+ seconds?|\d+ minutes?/g, 'DURATION')
      .replace(/"20\d\d-[^"]+"/g, '"TIME"')
      .replace(/\bnsv[0-9a-f]{12}\b/g, 'VETH')
      .replace(/ {2,}/g, '  ');
  };
  const same = (a: RunResult, b: RunResult, names: Record<string, string> = {}): void => {
    const what = `through the service:\n${describeResult(a)}\nin-process:\n${describeResult(b)}`;
    assert.equal(a.code, b.code, `exit codes differ\n${what}`);
    assert.equal(normal(a.stdout, names), normal(b.stdout, names), `stdout differs\n${what}`);
    assert.equal(normal(a.stderr, names), normal(b.stderr, names), `stderr differs\n${what}`);
  };

  test('output and exit codes through the service are the in-process CLI\'s', async () => {
    const p = sb!.prefix;
    const r = await serviceUp();
    const before = log();
    // Commands that change something: one name through the service, another in-process.
    const pairs: Array<(x: string) => string[]> = [
      (x) => ['network', 'create', '--subnet', x === 's' ? '10.70.0.0/24' : '10.71.0.0/24', `${p}n${x}`],
      (x) => ['run', '-d', '--name', `${p}c${x}`, '--network', `${p}n${x}`, '-p', x === 's' ? '8080:80' : '8081:80', '--', 'sleep', '1000'],
      (x) => ['run', '-d', '--name', `${p}d${x}`, '--', 'sleep', '1000'],
      (x) => ['network', 'connect', `${p}n${x}`, `${p}d${x}`],
      (x) => ['network', 'disconnect', `${p}n${x}`, `${p}d${x}`],
      (x) => ['run', '-d', '--name', `${p}c${x}`, '--', 'sleep', '1'], // name in use: 125
      (x) => ['run', '-d', '--name', `${p}e${x}`, '--', 'no-such-command'], // 127
      (x) => ['network', 'create', '--subnet', '10.70.0.0/24', `${p}o${x}`], // overlap: 1
    ];
    for (const args of pairs) {
      const s = await sb!.nsnet(args('s'));
      const o = await sb!.nsnet(args('o'), { env: OFF });
      same(s, o, { [`${p}ns`]: 'NET', [`${p}no`]: 'NET', [`${p}cs`]: 'C', [`${p}co`]: 'C', [`${p}ds`]: 'D', [`${p}do`]: 'D', [`${p}es`]: 'E', [`${p}eo`]: 'E', [`${p}os`]: 'O', [`${p}oo`]: 'O', '10.71.0.': '10.70.0.', '8081': '8080' });
    }
    // Reading the same state: byte for byte.
    const reads: string[][] = [
      ['ps'],
      ['ps', '-a', '--no-trunc'],
      ['ps', '--format', 'json'],
      ['ps', '--format', '{{.Names}} {{.Ports}} {{.Networks}}'],
      ['inspect', `${p}cs`],
      ['inspect', '-f', `{{.NetworkSettings.Networks.${p}ns.IPAddress}}`, `${p}cs`],
      ['network', 'ls'],
      ['network', 'inspect', `${p}ns`],
      ['port', `${p}cs`],
      ['port', `${p}cs`, '80'],
      ['port', `${p}cs`, '81'], // not published: 1
      ['network', 'inspect', `${p}nosuch`], // 1
      ['inspect', `${p}nosuch`], // 1
      ['rm', `${p}nosuch`], // 1
      ['bogus'], // 2
      ['ps', '--bogus'], // 2
      ['run', '-d', '--bogus'], // 125
      ['network', 'create', '--subnet', '10.0.0.0/99', `${p}bad`], // 1
      ['--help'],
      ['network', 'create', '--help'],
      ['--format', 'json', 'network', 'inspect', `${p}nosuch`],
      ['run', '-d', '--dry-run', '--name', `${p}dry`, '--', 'sleep', '1'],
    ];
    for (const args of reads) same(await sb!.nsnet(args), await sb!.nsnet(args, { env: OFF }));
    const served = log().slice(before.length);
    assert.equal(record()?.pid, r.pid, 'the same service served them all');
    assert.match(served, /network connect.*→ D0/, `the service served them:\n${served}`);
    const names = { [`${p}ns`]: 'NET', [`${p}no`]: 'NET', [`${p}cs`]: 'C', [`${p}co`]: 'C', [`${p}ds`]: 'D', [`${p}do`]: 'D', [`${p}es`]: 'E', [`${p}eo`]: 'E' };
    for (const x of ['c', 'd', 'e']) same(await sb!.nsnet(['rm', '-f', `${p}${x}s`]), await sb!.nsnet(['rm', '-f', `${p}${x}o`], { env: OFF }), names);
    same(await sb!.nsnet(['network', 'rm', `${p}ns`]), await sb!.nsnet(['network', 'rm', `${p}no`], { env: OFF }), names);
  });

  test('a container started through the service or in-process holds no descriptor of nsnet\'s', async () => {
    const p = sb!.prefix;
    await serviceUp();
    for (const [name, env] of [[`${p}fds`, undefined], [`${p}fdo`, OFF]] as const) {
      // ls's own: 0-2 and the directory it reads (3); anything more came from the service or the monitor.
      ok(await sb!.nsnet(['run', '-d', '--name', name, '--', 'sh', '-c', 'ls /proc/self/fd; sleep 1000'], env === undefined ? {} : { env }));
      let out = '';
      for (let i = 0; i < 50 && out === ''; i++) {
        out = ok(await sb!.nsnet(['logs', name])).stdout;
        if (out === '') await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(out.split('\n').filter((l) => l !== ''), ['0', '1', '2', '3'], name);
      ok(await sb!.nsnet(['rm', '-f', name]));
    }
  });

  test('a client that is not root is refused by the service, with the reason', async () => {
    const r = await serviceUp();
    // nobody, with CAP_DAC_OVERRIDE so that the 0600 socket does not stop it first: SO_PEERCRED does.
    const argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_override', '--ambient-caps=+dac_override', NSNET_BIN, '--root', sb!.root, 'ps'];
    const refused = sb!.inHost(argv);
    assert.equal(refused.code, 1, describeResult(refused));
    assert.match(refused.stderr, /the nsnet service serves root only \(this client runs as uid 65534\)/);
    assert.match(log(), /refused a cli request from uid 65534/);
    // Without the capability the socket itself keeps it out, and the CLI in its own process refuses to change anything.
    const plain = sb!.inHost(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', NSNET_BIN, '--root', sb!.root, 'network', 'create', `${sb!.prefix}nobody`]);
    assert.notEqual(plain.code, 0, describeResult(plain));
    assert.equal(record()?.pid, r.pid);
    ok(await sb!.nsnet(['ps']), 'the service still serves root');
  });

  /** Send raw bytes to the service; its whole answer. */
  const raw = (chunks: Buffer[], opts: { onF?: string } = {}): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = net.createConnection(socket());
      let got = '';
      c.on('data', (d) => {
        got += d.toString('latin1');
        if (got === 'F' && opts.onF === 'hang-up') c.destroy();
        else if (got === 'F' && opts.onF !== undefined) c.write(opts.onF);
      });
      c.on('error', reject);
      c.on('close', () => resolve(got));
      c.on('connect', () => {
        for (const chunk of chunks) c.write(chunk);
        if (opts.onF === undefined) c.end();
      });
      setTimeout(() => c.destroy(), 15_000).unref();
    });
  const header = (len: number): Buffer => {
    const b = Buffer.alloc(12);
    b.write('NSNETCL1', 0, 'latin1');
    b.writeUInt32LE(len, 8);
    return b;
  };

  test('malformed, oversized and truncated requests get an error; the service keeps serving', async () => {
    const r = await serviceUp();
    const junk = Buffer.from('\x01\x02arg\0only-a-key\0\xff');
    assert.match(await raw([header(junk.length), junk]), /^Emalformed request/);
    assert.match(await raw([header(64 << 20)]), /^Erequest too large/);
    assert.match(await raw([header(100), Buffer.alloc(50, 'a')]), /^Etruncated request/);
    assert.match(await raw([Buffer.from('NSNETXXX')]), /^Emalformed request: it starts with neither/);
    const tooMuch = Buffer.alloc((1 << 20) + 64, 'x');
    assert.match(await raw([tooMuch]), /request too large/, 'a CNI request over the limit');
    // Random bytes (not starting with N): a CNI call that does not parse, answered as CNI answers it.
    const random = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) % 256));
    random[0] = 0x43;
    assert.match(await raw([random]), /^1\n\{"cniVersion"/);
    // A valid request whose client answers 'F' without its descriptors, or hangs up instead.
    const valid = Buffer.from(['cwd', '/', 'umask', '22', 'tty', '', 'arg', 'ps'].map((s) => `${s}\0`).join(''));
    assert.match(await raw([header(valid.length), valid], { onF: 'x' }), /^FEmalformed request: expected 3 descriptors with one byte, got 0 with 1/);
    assert.equal(await raw([header(valid.length), valid], { onF: 'hang-up' }), 'F');
    ok(await sb!.nsnet(['ps']), 'still serving');
    assert.equal(record()?.pid, r.pid, 'the same service, never crashed');
  });

  test('32 clients at once: each container gets its own address', async () => {
    const p = sb!.prefix;
    await serviceUp();
    ok(await sb!.nsnet(['network', 'create', '--subnet', '10.72.0.0/24', `${p}many`]));
    const names = Array.from({ length: 32 }, (_, i) => `${p}m${i}`);
    const results = await Promise.all(names.map((n) => sb!.nsnet(['run', '-d', '--name', n, '--network', `${p}many`, '--', 'sleep', '1000'], { timeoutMs: 120_000 })));
    for (const res of results) ok(res);
    const addrs = ok(await sb!.nsnet(['inspect', '-f', `{{.NetworkSettings.Networks.${p}many.IPAddress}}`, ...names])).stdout.trim().split('\n');
    assert.equal(new Set(addrs).size, 32, `distinct addresses: ${addrs.join(' ')}`);
    ok(await sb!.nsnet(['rm', '-f', ...names], { timeoutMs: 120_000 }));
    ok(await sb!.nsnet(['network', 'rm', `${p}many`]));
  });

  /**
   * A client whose stdout is a FIFO that nobody reads until drain() (the test holds its read
   * end, non-blocking): `nsnet ... | sleep 100` with a reader that wakes up later.
   */
  const unreadClient = (args: readonly string[]): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string; drain: () => Promise<string>; closeReader: () => void; cleanup: () => void } => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-unread-'));
    const fifo = path.join(dir, 'stdout');
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0, `mkfifo: ${String(made.stderr)}`);
    let reader: number | undefined = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writer = fs.openSync(fifo, 'w');
    const [file, ...rest] = sb!.nsnetArgv(args);
    const child = spawn(file!, rest, { stdio: ['ignore', writer, 'pipe'] });
    fs.closeSync(writer);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const closeReader = (): void => {
      if (reader !== undefined) fs.closeSync(reader);
      reader = undefined;
    };
    return {
      child,
      exited,
      stderr: () => stderr,
      /** Read everything, until every writer (the client, the service) closed it. */
      drain: async () => {
        const chunks: Buffer[] = [];
        const buf = Buffer.alloc(1 << 16);
        for (let i = 0; i < 3000; i++) {
          let n: number;
          try {
            n = fs.readSync(reader!, buf);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
            await sleep(10);
            continue;
          }
          if (n === 0) return Buffer.concat(chunks).toString('utf8');
          chunks.push(Buffer.from(buf.subarray(0, n)));
        }
        assert.fail('the FIFO was not closed by its writers within 30 s');
      },
      closeReader,
      cleanup: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        closeReader();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  };
  /**
   * The service has the unread client's output and the pipe is full: a thread of it blocked
   * writing into a pipe (a service that writes to the client itself), or a memory file of a
   * client's output of more than a pipe holds (one that copies from it).
   */
  const stuckOnPipe = (pid: number): boolean => {
    try {
      if (fs.readdirSync(`/proc/${pid}/task`).some((t) => /pipe_write/.test(fs.readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8')))) return true;
      return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
        const f = `/proc/${pid}/fd/${fd}`;
        return fs.readlinkSync(f).startsWith('/memfd:nsnet-client-output') && fs.statSync(f).size > 150_000;
      });
    } catch {
      return false;
    }
  };
  const waitFor = async (what: string, cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 300 && !cond(); i++) await sleep(50);
    assert.ok(cond(), `timed out waiting: ${what}\n${log().slice(-2000)}`);
  };
  /** More output than a pipe holds (64 KiB): two rows (host, none) of 100 kB each. */
  const BIG = ['network', 'ls', '--format', `${'x'.repeat(100_000)} {{.Name}}`];

  test('a client that does not read its output blocks nobody: another is served meanwhile, and it gets all of its output later', async () => {
    const svc = await serviceUp();
    const stuck = unreadClient(BIG);
    try {
      await waitFor('the service writes into the unread pipe', () => stuckOnPipe(svc.pid));
      const before = log();
      // Generous: served at all while the other client reads nothing (the old service waited forever).
      const other = await sb!.nsnet(['network', 'ls'], { timeoutMs: 20_000 });
      assert.equal(other.timedOut, undefined, `another client was blocked by the one that does not read\n${describeResult(other)}`);
      ok(other);
      assert.match(log().slice(before.length), /network ls → D0/, 'the service served it');
      assert.equal(record()?.pid, svc.pid, 'the same service');
      assert.equal(stuck.child.exitCode, null, 'the client that does not read is still waiting for its output');
      const out = await stuck.drain();
      const code = await stuck.exited;
      // The in-process CLI's, into a file: to a pipe or a socket Node writes what does not fit
      // asynchronously, and the CLI's process.exit cuts a large output short (65536 of 200 kB).
      const file = path.join(sb!.root, 'in-process.out');
      const reference = spawnSync('sh', ['-c', `${cmdline(sb!.nsnetArgv(BIG))} > ${file}`], { env: OFF, encoding: 'utf8' });
      const expected = fs.readFileSync(file, 'utf8');
      fs.rmSync(file);
      assert.equal(code, reference.status, stuck.stderr());
      assert.equal(out.length, expected.length, 'all of its output');
      assert.ok(out === expected, 'byte for byte the in-process output');
      assert.equal(stuck.stderr(), reference.stderr);
      assert.match(log(), /network ls --format → D0/);
    } finally {
      // On failure the service may still wait on the pipe: read it, so it can go on.
      if (stuck.child.exitCode === null) await stuck.drain().catch(() => '');
      stuck.cleanup();
    }
  });

  test('the in-process CLI writes all of a large output into a pipe its reader empties late (it exited with the rest unwritten)', async () => {
    const file = path.join(sb!.root, 'in-process.out');
    spawnSync('sh', ['-c', `${cmdline(sb!.nsnetArgv(BIG))} > ${file}`], { env: OFF, encoding: 'utf8' });
    const expected = fs.statSync(file).size;
    fs.rmSync(file);
    assert.ok(expected > 200_000, `a reference of more than three pipes' worth: ${expected} bytes`);
    const late = await sb!.inHostAsync(['sh', '-c', `${cmdline(sb!.nsnetArgv(BIG))} | (sleep 1; wc -c)`], { env: OFF });
    assert.equal(late.stdout.trim(), String(expected), `all of it, not one pipe's worth\n${describeResult(late)}`);
  });

  test('stdout and stderr on one pipe keep the order the command wrote them in', async () => {
    const p = sb!.prefix;
    await serviceUp();
    const combined = (args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> =>
      sb!.inHostAsync(['sh', '-c', `${cmdline([NSNET_BIN, '--root', sb!.root, ...args])} 2>&1`], env === undefined ? {} : { env });
    const before = log();
    const names = { [`${p}ords`]: 'C', [`${p}ordo`]: 'C' };
    // A warning (stderr) then the id (stdout); then a name (stdout) then an error (stderr).
    const run = (x: string): string[] => ['run', '-d', '--network', 'none', '-p', '8080:80', '--name', `${p}ord${x}`, '--', 'sleep', '1000'];
    const s1 = await combined(run('s'));
    const o1 = await combined(run('o'), OFF);
    assert.match(o1.stdout, /warning[^\n]*\n[0-9a-f]{64}\n$/, `in-process: the warning first, then the id\n${describeResult(o1)}`);
    same(s1, o1, names);
    const stop = (x: string): string[] => ['stop', '-t', '0', `${p}ord${x}`, `${p}nosuch`];
    const s2 = await combined(stop('s'));
    const o2 = await combined(stop('o'), OFF);
    assert.match(o2.stdout, new RegExp(`^${p}ordo\n[^\n]*nosuch`), `in-process: the name first, then the error\n${describeResult(o2)}`);
    same(s2, o2, names);
    assert.match(log().slice(before.length), /run -d --network → D0[\s\S]*stop -t 0 → D1/, 'the service served both');
    for (const x of ['s', 'o']) await sb!.nsnet(['rm', '-f', `${p}ord${x}`]);
  });

  test('a client killed while its output is pending: the service goes on serving and keeps no descriptor of it', async () => {
    const svc = await serviceUp();
    ok(await sb!.nsnet(['network', 'ls']));
    /** What the service's descriptors are (not their numbers: memory files made ahead may take others). */
    const fds = (): string[] =>
      fs.readdirSync(`/proc/${svc.pid}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${svc.pid}/fd/${fd}`);
        } catch {
          return 'gone';
        }
      });
    const before = fds();
    const stuck = unreadClient(BIG);
    try {
      await waitFor('the service writes into the unread pipe', () => stuckOnPipe(svc.pid));
      assert.ok(fds().length > before.length, 'the service holds the client\'s descriptors meanwhile');
      stuck.child.kill('SIGKILL');
      await stuck.exited;
      const mark = log();
      ok(await sb!.nsnet(['network', 'ls'], { timeoutMs: 20_000 }), 'served while the dead client\'s pipe is full');
      assert.match(log().slice(mark.length), /network ls → D0/);
      // Its reader goes away too: the write fails (EPIPE), quietly, and everything of it is closed.
      stuck.closeReader();
      const leftOver = (): string[] => {
        const rest = [...before];
        return fds().filter((fd) => {
          const i = rest.indexOf(fd);
          if (i >= 0) rest.splice(i, 1);
          return i < 0;
        });
      };
      await waitFor('the service closes the dead client\'s descriptors', () => leftOver().length === 0);
      assert.deepEqual(leftOver(), []);
      assert.equal(record()?.pid, svc.pid, 'the same service, never crashed');
      ok(await sb!.nsnet(['ps']), 'still serving');
    } finally {
      stuck.cleanup();
    }
  });

  test('exec and a foreground run from a terminal run in the caller\'s process: the terminal is theirs, so is the exit code', async () => {
    const p = sb!.prefix;
    await serviceUp();
    ok(await sb!.nsnet(['run', '-d', '--name', `${p}tty`, '--', 'sleep', '1000']));
    const inTerminal = (args: string[]): RunResult => sb!.inHost(['script', '-qec', cmdline([NSNET_BIN, '--root', sb!.root, ...args]), '/dev/null']);
    const e = inTerminal(['exec', `${p}tty`, 'sh', '-c', 'test -t 0 && test -t 1 && echo exec-on-a-terminal; exit 3']);
    assert.equal(e.code, 3, describeResult(e));
    assert.match(e.stdout, /exec-on-a-terminal/);
    const f = inTerminal(['run', '--rm', '--name', `${p}fg`, '--', 'sh', '-c', 'test -t 1 && echo run-on-a-terminal; exit 4']);
    assert.equal(f.code, 4, describeResult(f));
    assert.match(f.stdout, /run-on-a-terminal/);
    assert.doesNotMatch(log(), /(exec|run --rm).*→/, 'the service served neither');
    ok(await sb!.nsnet(['rm', '-f', `${p}tty`]));
  });

  test('the service killed in the middle of a command: the client says so, the next command recovers, nothing half-made', async () => {
    const p = sb!.prefix;
    const r0 = record();
    if (r0 !== undefined && alive(r0)) {
      process.kill(r0.pid, 'SIGTERM');
      assert.ok(await gone(r0));
    }
    // The service inherits the fault switch from the in-process command that starts it, and
    // serves only requests with the same switch: it dies after the third step of the next one.
    const faults = { ...process.env, NSNET_TEST_FAULTS: '1', NSNET_FAULT: '2:kill' };
    const svc = await serviceUp(faults);
    const killed = await sb!.nsnet(['network', 'create', '--subnet', '10.73.0.0/24', `${p}half`], { env: faults });
    assert.equal(killed.code, 1, describeResult(killed));
    assert.match(killed.stderr, /the nsnet service \(.*\) went away while it ran this command; the next nsnet command recovers what it left unfinished/);
    assert.ok(await gone(svc), 'the fault switch killed the service');
    const next = ok(await sb!.nsnet(['network', 'ls']));
    assert.match(next.stderr, /recover|rolled back|undid/i, `the next command recovered:\n${describeResult(next)}`);
    assert.doesNotMatch(next.stdout, new RegExp(`${p}half`));
    ok(await sb!.nsnet(['system', 'check']), 'nothing half-made');
    assert.equal(sb!.inHost(['ip', '-br', 'addr']).stdout.includes('10.73.0.1'), false, 'no gateway address left');
  });

  test('a rebuilt nsnet: the old service answers "in-process" and exits, the next command starts the new one', async () => {
    const old = await serviceUp();
    const bundle = path.join(REPO, 'dist', 'nsnet.mjs');
    const now = new Date();
    fs.utimesSync(bundle, now, now);
    const main = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
    if (fs.existsSync(main)) fs.utimesSync(main, now, now);
    const r = ok(await sb!.nsnet(['ps']));
    assert.match(r.stdout, /^CONTAINER ID/);
    assert.ok(await gone(old), 'the old service exited');
    assert.match(log(), /stopping: nsnet was rebuilt or upgraded/);
    const fresh = await serviceUp();
    assert.notEqual(fresh.pid, old.pid);
  });

  test('an idle service exits; system reset stops a running one', async () => {
    // No service may be running when the one with the short idle time starts: a command of an
    // earlier test can still be starting one (with the default idle time), which the record would
    // then name. So stop whatever runs, start ours, and check by its log line that it is ours.
    const stopAll = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const r = record();
        if (r === undefined || !alive(r)) {
          await sleep(300);
          const again = record();
          if (again === undefined || !alive(again)) return;
          continue;
        }
        process.kill(r.pid, 'SIGTERM');
        await gone(r);
      }
    };
    let idle: { pid: number; start: string } | undefined;
    for (let attempt = 0; attempt < 5 && idle === undefined; attempt++) {
      await stopAll();
      const up = await serviceUp({ ...process.env, NSNET_SERVICE_IDLE_MS: '300' });
      if (log().includes(`(pid ${up.pid}; exits after 300 ms idle)`) || !alive(up)) idle = up;
    }
    assert.ok(idle !== undefined, `a service with a 300 ms idle time came up:\n${log()}`);
    assert.ok(await gone(idle), `the idle service exited:\n${log()}`);
    assert.match(log(), /stopping: idle for 300 ms/);
    assert.equal(fs.existsSync(socket()), false, 'and removed its socket');
    const running = await serviceUp();
    ok(await sb!.nsnet(['system', 'reset', '--force']));
    assert.ok(await gone(running), 'system reset stopped the service');
  });
});
