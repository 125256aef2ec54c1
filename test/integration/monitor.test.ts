/**
 * The per-container monitor (native/nsnet-monitor.c) against the real kernel, in a sandbox: exit
 * codes of detached containers, wait, logs with times, restart policies, system boot after a
 * simulated reboot, a monitor killed with -9, and run -d --rm (the monitor has the container
 * removed), through the service, in-process, and for the Docker API with nsnet serve gone.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createSandbox, describeResult, pidAlive, pidState, runAsync, runSync, type RunOptions, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { closeApiSandbox, DOCKER_CLIS, executable, openApiSandbox, type ApiSandbox } from '../helpers/api-server.js';
import { busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface View {
  Id: string;
  LogPath: string;
  State: { Status: string; Running: boolean; Restarting: boolean; Pid: number; ExitCode: number; Error: string; StartedAt: string; FinishedAt: string };
  RestartCount: number;
  HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } };
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** A process that runs: a zombie has ended (an orphan waits for init, which may reap it late). */
const running = (pid: number): boolean => pidAlive(pid) && pidState(pid) !== 'Z';

requiredSuite('per-container monitor: exit codes, wait, logs, restart policies, boot', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let p: string;

  const inspect = async (name: string): Promise<View> => (JSON.parse(ok(await sb.nsnet(['inspect', name])).stdout) as View[])[0]!;
  const wait = async (name: string): Promise<RunResult> => ok(await sb.nsnet(['wait', name], { timeoutMs: 20_000 }));
  /** Poll inspect until `test` holds (the monitor acts on its own time); fails with the last view. */
  async function until(name: string, what: string, test: (v: View) => boolean, timeoutMs = 10_000): Promise<View> {
    const deadline = Date.now() + timeoutMs;
    let v = await inspect(name);
    while (!test(v)) {
      if (Date.now() > deadline) assert.fail(`${name}: ${what} did not happen; last state ${JSON.stringify(v.State)} RestartCount ${v.RestartCount}`);
      await sleep(50);
      v = await inspect(name);
    }
    return v;
  }
  /** Poll ps -a until no container is named `name` (its monitor removes it on its own time). */
  async function untilGone(name: string, o: RunOptions = {}, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const listed = async (): Promise<string> => ok(await sb.nsnet(['ps', '-a', '--format', '{{.Names}} {{.Status}}', '-f', `name=^${name}$`], o)).stdout;
    let left = await listed();
    while (left !== '') {
      if (Date.now() > deadline) assert.fail(`${name} was not removed: ps -a says ${left}`);
      await sleep(50);
      left = await listed();
    }
  }
  const serviceLog = (): string => fs.readFileSync(path.join(sb.root, 'service', 'service.log'), { encoding: 'utf8', flag: 'a+' });
  /** What a container leaves in the sandbox's host: links, addresses, firewall rules. */
  const hostFacts = (): { links: string; addresses: string; ruleset: string } => ({
    // Names only: a bridge's carrier follows its last port with the kernel's linkwatch delay.
    links: ok(sb.inHost(['ip', '-o', 'link', 'show'])).stdout.replace(/^\d+: (\S+): .*$/gm, '$1'),
    addresses: ok(sb.inHost(['ip', '-o', '-4', 'addr', 'show'])).stdout,
    ruleset: ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout,
  });
  /** What the container's monitor last wrote (its own PID among it). */
  const monitorOf = (v: View): { monitorPid: number } => JSON.parse(fs.readFileSync(v.LogPath.replace(/[^/]+$/, 'state.json'), 'utf8')) as { monitorPid: number };

  before(async () => {
    sb = await createSandbox('mo');
    p = sb.prefix;
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  it('exit codes of detached containers: 0, 1, a command that ends at once, 137 after kill -9', async () => {
    ok(await sb.nsnet(['run', '-d', '--name', `${p}z`, '--network', 'none', '--', 'sh', '-c', 'sleep 0.2; exit 0']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}o`, '--network', 'none', '--', 'sh', '-c', 'sleep 0.2; exit 1']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}q`, '--network', 'none', '--', 'true']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}k`, '--network', 'none', '--', 'sleep', '1000']));
    const k = await inspect(`${p}k`);
    assert.equal(k.State.Status, 'running');
    assert.ok(k.State.Pid > 0);
    process.kill(k.State.Pid, 'SIGKILL');
    assert.equal((await wait(`${p}z`)).stdout.trim(), '0');
    assert.equal((await wait(`${p}o`)).stdout.trim(), '1');
    assert.equal((await wait(`${p}q`)).stdout.trim(), '0');
    assert.equal((await wait(`${p}k`)).stdout.trim(), '137');
    const v = await inspect(`${p}k`);
    assert.equal(v.State.Status, 'exited');
    assert.equal(v.State.ExitCode, 137);
    assert.match(v.State.FinishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.ok(Date.parse(v.State.FinishedAt) >= Date.parse(v.State.StartedAt), JSON.stringify(v.State));
    const ps = ok(await sb.nsnet(['ps', '-a', '--format', '{{.Names}} {{.Status}}']));
    assert.match(ps.stdout, new RegExp(`^${p}k Exited \\(137\\) .* ago$`, 'm'), ps.stdout);
    assert.match(ps.stdout, new RegExp(`^${p}o Exited \\(1\\) .* ago$`, 'm'), ps.stdout);
    assert.doesNotMatch(ps.stdout, /unknown/);
    ok(await sb.nsnet(['rm', `${p}z`, `${p}o`, `${p}q`, `${p}k`]));
  });

  it('wait: several names in order; an unknown one is an error (exit 1) and the others are still waited for', async () => {
    ok(await sb.nsnet(['run', '-d', '--name', `${p}w`, '--network', 'none', '--', 'sh', '-c', 'exit 3']));
    const r = await sb.nsnet(['wait', `${p}nope`, `${p}w`]);
    assert.equal(r.code, 1, describeResult(r));
    assert.equal(r.stdout.trim(), '3');
    assert.match(r.stderr, new RegExp(`no such container: ${p}nope`));
    ok(await sb.nsnet(['rm', `${p}w`]));
  });

  it('stop records the exit code the monitor saw (137: sleep as PID 1 ignores SIGTERM)', async () => {
    ok(await sb.nsnet(['run', '-d', '--name', `${p}s`, '--network', 'none', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['stop', '-t', '0', `${p}s`]));
    const v = await inspect(`${p}s`);
    assert.equal(v.State.Status, 'exited');
    assert.equal(v.State.ExitCode, 137);
    ok(await sb.nsnet(['rm', `${p}s`]));
  });

  it('logs: plain, -t with RFC 3339 nano times, --tail, --since, stderr on stderr, and -f reads lines written later', async () => {
    // The container writes "four" only when the test says so (it shares the host's files: no --rootfs).
    const go = `${sb.root}/go-four`;
    // The monitor reads stdout and stderr through two pipes: their relative order holds for lines written apart in time.
    const script = `echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; while [ ! -e ${go} ]; do sleep 0.05; done; echo four; sleep 1000`;
    ok(await sb.nsnet(['run', '-d', '--name', `${p}l`, '--network', 'none', '--', 'sh', '-c', script]));
    const deadline = Date.now() + 5000;
    let all = await sb.nsnet(['logs', `${p}l`]);
    while (!all.stdout.includes('three') && Date.now() < deadline) {
      await sleep(50);
      all = await sb.nsnet(['logs', `${p}l`]);
    }
    assert.equal(all.stdout, 'one\nthree\n', describeResult(all));
    assert.equal(all.stderr, 'two\n');
    const t = ok(await sb.nsnet(['logs', '-t', `${p}l`]));
    assert.match(t.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/);
    // --tail counts the lines of both streams, as Docker's.
    assert.equal(ok(await sb.nsnet(['logs', '--tail', '1', `${p}l`])).stdout, 'three\n');
    const two = ok(await sb.nsnet(['logs', '-n', '2', `${p}l`]));
    assert.deepEqual([two.stdout, two.stderr], ['three\n', 'two\n']);
    assert.equal(ok(await sb.nsnet(['logs', '--tail', '0', `${p}l`])).stdout, '');
    assert.equal(ok(await sb.nsnet(['logs', '--since', new Date(Date.now() + 3_600_000).toISOString(), `${p}l`])).stdout, '');
    assert.equal(ok(await sb.nsnet(['logs', '--since', '1h', `${p}l`])).stdout, 'one\nthree\n');
    assert.equal(ok(await sb.nsnet(['logs', '--until', '1h', `${p}l`])).stdout, '');
    for (const [flag, value] of [['--since', 'yesterday-ish'], ['--tail', 'some']] as const) {
      const bad = await sb.nsnet(['logs', flag, value, `${p}l`]);
      assert.notEqual(bad.code, 0, describeResult(bad));
      assert.match(bad.stderr, new RegExp(`invalid ${flag} "${value}"`));
    }
    // -f prints what is there, then "four" once the container writes it, and ends when it stops.
    const [program, ...args] = sb.nsnetArgv(['logs', '-f', `${p}l`]);
    const follow = spawn(program!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    const ended = new Promise<number | null>((resolve) => follow.once('exit', (code) => resolve(code)));
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    try {
      const shown = Date.now() + 10_000;
      while (!followed.includes('three') && Date.now() < shown) await sleep(20);
      assert.equal(followed, 'one\nthree\n');
      fs.writeFileSync(go, '');
      const appended = Date.now() + 10_000;
      while (!followed.includes('four') && Date.now() < appended) await sleep(20);
      assert.equal(followed, 'one\nthree\nfour\n');
      ok(await sb.nsnet(['stop', '-t', '0', `${p}l`]));
      assert.equal(await ended, 0);
    } finally {
      follow.kill('SIGKILL');
    }
    ok(await sb.nsnet(['rm', `${p}l`]));
  });

  it('the monitor killed with -9: the container runs on, and ps and inspect say its monitor is gone', async () => {
    ok(await sb.nsnet(['run', '-d', '--name', `${p}m`, '--network', 'none', '--', 'sleep', '1000']));
    const v = await inspect(`${p}m`);
    const state = monitorOf(v);
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${state.monitorPid}/status`, 'utf8'))?.[1];
    console.log(`# monitor VmRSS ${rss} kB`);
    assert.ok(Number(rss) < 1024, `the monitor's resident memory is ${rss} kB`);
    process.kill(state.monitorPid, 'SIGKILL');
    const gone = Date.now() + 3000;
    while (running(state.monitorPid) && Date.now() < gone) await sleep(10);
    assert.ok(running(v.State.Pid), 'the container survives its monitor');
    const after = await sb.nsnet(['inspect', `${p}m`]);
    ok(after);
    const w = (JSON.parse(after.stdout) as View[])[0]!;
    assert.equal(w.State.Status, 'running');
    assert.match(w.State.Error, /monitor is gone/);
    assert.match(after.stderr, /its monitor \(pid \d+\) is gone/);
    const ps = ok(await sb.nsnet(['ps']));
    assert.match(ps.stderr, new RegExp(`container ${p}m: its monitor`));
    assert.match(ps.stdout, new RegExp(`Up .* ${p}m`));
    // Its end is not guessed: exited, exit code unknown.
    process.kill(v.State.Pid, 'SIGKILL');
    const dead = Date.now() + 3000;
    while (running(v.State.Pid) && Date.now() < dead) await sleep(10);
    const ps2 = ok(await sb.nsnet(['ps', '-a', '--format', '{{.Names}} {{.Status}}']));
    assert.match(ps2.stdout, new RegExp(`^${p}m Exited \\(unknown\\)`, 'm'), ps2.stdout);
    ok(await sb.nsnet(['rm', `${p}m`]));
  });

  it('--restart on-failure:3 gives exactly 3 restarts, then Exited with RestartCount 3', async () => {
    ok(await sb.nsnet(['run', '-d', '--restart', 'on-failure:3', '--name', `${p}f`, '--network', 'none', '--', 'sh', '-c', 'echo run; exit 2']));
    try {
      const v = await until(`${p}f`, 'the end after 3 restarts', (x) => x.State.Status === 'exited');
      assert.equal(v.RestartCount, 3);
      assert.equal(v.State.ExitCode, 2);
      assert.deepEqual(v.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
      assert.equal(ok(await sb.nsnet(['logs', `${p}f`])).stdout, 'run\nrun\nrun\nrun\n');
    } finally {
      ok(await sb.nsnet(['rm', '-f', `${p}f`]));
    }
  });

  it('--restart always restarts after kill -9 of the container; stop ends the loop', async () => {
    ok(await sb.nsnet(['run', '-d', '--restart', 'always', '--name', `${p}a`, '--network', 'none', '--', 'sleep', '1000']));
    const first = await inspect(`${p}a`);
    process.kill(first.State.Pid, 'SIGKILL');
    const again = await until(`${p}a`, 'a restart', (x) => x.RestartCount === 1 && x.State.Status === 'running' && x.State.Pid > 0 && x.State.Pid !== first.State.Pid);
    assert.ok(running(again.State.Pid));
    ok(await sb.nsnet(['exec', `${p}a`, 'true']));
    ok(await sb.nsnet(['stop', '-t', '0', `${p}a`]));
    await sleep(400); // longer than the first back-off: nothing comes back
    const stopped = await inspect(`${p}a`);
    assert.equal(stopped.State.Status, 'exited');
    assert.equal(stopped.State.ExitCode, 137);
    assert.ok(!running(again.State.Pid));
    ok(await sb.nsnet(['rm', `${p}a`]));
  });

  it('--restart is checked as Docker checks it', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--restart', 'sometimes'], /invalid restart policy 'sometimes'/],
      [['--restart', 'always:3'], /maximum retry count cannot be used with restart policy 'always'/],
      [['--restart', 'on-failure:x'], /maximum retry count must be an integer/],
      [['--restart', 'always', '--rm'], /Conflicting options: --restart and --rm/],
      [['--rm', '--restart', 'on-failure:2'], /Conflicting options: --restart and --rm/],
    ];
    for (const [flags, message] of cases) {
      const r = await sb.nsnet(['run', '-d', ...flags, '--name', `${p}x`, '--network', 'none', '--', 'true']);
      assert.equal(r.code, 125, describeResult(r));
      assert.match(r.stderr, message);
    }
    // create records --rm as AutoRemove: the same conflict (Docker's create refuses it too).
    const created = await sb.nsnet(['create', '--rm', '--restart', 'always', '--name', `${p}x`, '--network', 'none', '--', 'true']);
    assert.notEqual(created.code, 0, describeResult(created));
    assert.match(created.stderr, /Conflicting options: --restart and --rm/);
    assert.equal(ok(await sb.nsnet(['ps', '-a', '-q', '-f', `name=${p}x`])).stdout, '', 'nothing was made');
  });

  for (const [mode, tag, env] of [
    ['through the service', 's', {}],
    ['NSNET_SERVICE=off', 'i', { NSNET_SERVICE: 'off' }],
  ] as const) {
    it(`run -d --rm (${mode}): an ended container is removed by its monitor and leaves nothing; a stopped one goes too`, async () => {
      const o: RunOptions = { env: { ...process.env, ...env } };
      const net = `${p}rn${tag}`;
      const ip = tag === 's' ? '10.231.1.5' : '10.231.2.5';
      const port = tag === 's' ? '18431' : '18432';
      ok(await sb.nsnet(['network', 'create', '--subnet', tag === 's' ? '10.231.1.0/24' : '10.231.2.0/24', net], o));
      try {
        const before = hostFacts();
        const ended = `${p}re${tag}`;
        ok(await sb.nsnet(['run', '-d', '--rm', '--name', ended, '--network', net, '--ip', ip, '-p', `${port}:80`, '--', 'sh', '-c', 'sleep 0.3; exit 3'], o));
        assert.ok(sb.netnsInode(ended) !== undefined);
        assert.ok(hostFacts().ruleset.includes(`tcp . ${port} : ${ip} . 80`), 'published while it runs');
        await untilGone(ended, o);
        assert.equal(sb.netnsInode(ended), undefined, 'its namespace is gone');
        assert.deepEqual(hostFacts(), before, 'its veth, addresses and firewall rules are gone');
        // Its address and host port are free again: a new container gets them; stop removes that one.
        const stopped = `${p}rs${tag}`;
        ok(await sb.nsnet(['run', '-d', '--rm', '--name', stopped, '--network', net, '--ip', ip, '-p', `${port}:80`, '--', 'sleep', '1000'], o));
        const pid = (await inspect(stopped)).State.Pid;
        assert.equal(ok(await sb.nsnet(['stop', '-t', '0', stopped], o)).stdout, `${stopped}\n`);
        assert.ok(!running(pid));
        await untilGone(stopped, o);
        assert.equal(sb.netnsInode(stopped), undefined);
        assert.deepEqual(hostFacts(), before);
        assert.doesNotMatch(serviceLog(), /removing container/, 'no removal failed or warned');
      } finally {
        await sb.nsnet(['rm', '-f', `${p}re${tag}`, `${p}rs${tag}`]);
        ok(await sb.nsnet(['network', 'rm', net]));
      }
    });
  }

  it('run -d --rm: a removal that fails is told in the service log, and the container stays for rm', async () => {
    const name = `${p}rl`;
    // In-process, with a short lock wait: the test holds the host lock while the monitor's rm runs.
    const o: RunOptions = { env: { ...process.env, NSNET_SERVICE: 'off', NSNET_LOCK_TIMEOUT_MS: '200' } };
    ok(await sb.nsnet(['run', '-d', '--rm', '--name', name, '--network', 'none', '--', 'sh', '-c', 'sleep 0.5; exit 4'], o));
    const id = (await inspect(name)).Id;
    // -o: flock holds the lock itself, not its sleep, so killing it releases the lock.
    const holder = spawn('flock', ['-o', path.join(sb.root, 'lock'), 'sleep', '60'], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 15_000;
      while (!serviceLog().includes(id) && Date.now() < deadline) await sleep(50);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => (holder.exitCode === null ? holder.once('exit', resolve) : resolve(undefined)));
    }
    const line = serviceLog().split('\n').find((l) => l.includes(id)) ?? '';
    assert.match(line, new RegExp(`^\\d{4}-.*Z nsnet-monitor: removing container ${id} \\(--rm\\): .*/bin/nsnet rm failed \\(exit code 1\\): .*another nsnet command holds the lock`), serviceLog());
    const ps = ok(await sb.nsnet(['ps', '-a', '--format', '{{.Names}} {{.Status}}', '-f', `name=^${name}$`]));
    assert.match(ps.stdout, new RegExp(`^${name} Exited \\(4\\) `), 'still there, its exit recorded');
    ok(await sb.nsnet(['rm', name]));
  });

  it('unless-stopped after a simulated reboot: system boot brings it back, not the one the user stopped', async () => {
    const up = `${p}u`;
    const down = `${p}d`;
    ok(await sb.nsnet(['run', '-d', '--restart', 'unless-stopped', '--name', up, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--restart', 'unless-stopped', '--name', down, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['stop', '-t', '0', down]));
    // The reboot: the monitor and the container die, the namespace goes.
    const v = await inspect(up);
    const state = monitorOf(v);
    process.kill(state.monitorPid, 'SIGKILL');
    process.kill(v.State.Pid, 'SIGKILL');
    const dead = Date.now() + 3000;
    while ((running(v.State.Pid) || running(state.monitorPid)) && Date.now() < dead) await sleep(10);
    ok(runSync(['ip', 'netns', 'del', up]));
    const boot = ok(await sb.nsnet(['system', 'boot']));
    assert.deepEqual(boot.stdout.trim().split('\n').filter((n) => n.startsWith(p)), [up]);
    const back = await inspect(up);
    assert.equal(back.State.Status, 'running');
    assert.ok(running(back.State.Pid));
    ok(await sb.nsnet(['exec', up, 'ip', 'addr', 'show', 'eth0']));
    assert.equal((await inspect(down)).State.Status, 'exited');
    ok(await sb.nsnet(['rm', '-f', up, down]));
  });

  it('system reset ends the monitors first: nothing is started again, nothing is left', async () => {
    ok(await sb.nsnet(['run', '-d', '--restart', 'always', '--name', `${p}r`, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--restart', 'always', '--name', `${p}h`, '--network', 'host', '--', 'sleep', '1000']));
    const views = await Promise.all([`${p}r`, `${p}h`].map(inspect));
    const monitors = views.map((v) => monitorOf(v).monitorPid);
    ok(await sb.nsnet(['system', 'reset', '--force']));
    await sleep(300); // longer than the first back-off: a monitor left alive would have started its container again
    for (const pid of [...monitors, ...views.map((v) => v.State.Pid)]) assert.ok(!running(pid), `process ${pid} is gone`);
    assert.equal(ok(await sb.nsnet(['ps', '-a', '-q'])).stdout, '');
  });
});

// Docker's AutoRemove through the API: nsnet serve starts the container, its monitor removes it —
// also when it ends after nsnet serve has gone, which then removes nothing itself.
const DOCKER = DOCKER_CLIS[0]!;
requiredSuite(
  'per-container monitor: docker run -d --rm through nsnet serve',
  { needs: [needs.integration, needs.busybox, executable(DOCKER.path, 'the docker run -d --rm test', DOCKER.install)], concurrency: false, timeout: 120_000 },
  () => {
    let box: ApiSandbox | undefined;
    const docker = (args: readonly string[]): Promise<RunResult> => runAsync([DOCKER.path, ...args], { env: box!.api.env, timeoutMs: 30_000 });
    const names = async (prefix: string): Promise<string> => ok(await box!.sb.nsnet(['ps', '-a', '--format', '{{.Names}}', '-f', `name=^${prefix}`])).stdout;
    async function untilNone(prefix: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      let left = await names(prefix);
      while (left !== '' && Date.now() < deadline) {
        await sleep(50);
        left = await names(prefix);
      }
      assert.equal(left, '', `removed by their monitors; nsnet serve said:\n${box!.api.log().slice(-2000)}`);
    }

    before(async () => {
      box = await openApiSandbox('mr');
      const archive = path.join(box.dir, 'busybox.tar');
      fs.writeFileSync(archive, dockerArchive([busyboxSpec()]));
      ok(await box.sb.nsnet(['image', 'load', '-i', archive]));
    });
    after(() => closeApiSandbox(box));

    it('docker run -d --rm busybox true disappears; one that ends after nsnet serve has stopped goes too', async () => {
      const p = `${box!.sb.prefix}d`;
      const r = await docker(['run', '-d', '--rm', '--name', `${p}t`, 'busybox', 'true']);
      assert.equal(r.code, 0, describeResult(r));
      const later = await docker(['run', '-d', '--rm', '--name', `${p}l`, 'busybox', 'sleep', '1000']);
      assert.equal(later.code, 0, describeResult(later));
      await untilNone(`${p}t`);
      const pid = (JSON.parse(ok(await box!.sb.nsnet(['inspect', `${p}l`])).stdout) as View[])[0]!.State.Pid;
      await box!.api.stop();
      process.kill(pid, 'SIGKILL');
      await untilNone(`${p}l`);
      // The monitors removed both: nsnet serve's own AutoRemove left them alone, and nothing failed.
      assert.doesNotMatch(box!.api.log(), /auto-remove/);
      assert.equal(box!.sb.netnsInode(`${p}l`), undefined);
    });
  },
);
