/**
 * The per-container monitor (native/nsnet-monitor.c) against the real kernel, in a sandbox: exit
 * codes of detached containers, wait, logs with times, restart policies, system boot after a
 * simulated reboot, and a monitor killed with -9.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createSandbox, describeResult, pidAlive, pidState, runSync, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
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
    ];
    for (const [flags, message] of cases) {
      const r = await sb.nsnet(['run', '-d', ...flags, '--name', `${p}x`, '--network', 'none', '--', 'true']);
      assert.equal(r.code, 125, describeResult(r));
      assert.match(r.stderr, message);
    }
    assert.equal(ok(await sb.nsnet(['ps', '-a', '-q', '-f', `name=${p}x`])).stdout, '', 'nothing was made');
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
