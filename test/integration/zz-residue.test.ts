/**
 * Runs last (test files run in alphabetical order with --test-concurrency=1): nothing the
 * integration suite made may be left on the machine. Read-only: it looks, it never cleans up, so
 * a leak in some other test shows up here as a failure instead of being hidden.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  NETNS_DIR,
  NS_PREFIX,
  REGISTRY_PREFIX,
  STATE_DIR_PREFIX,
  allPids,
  liveSandboxesOfOtherProcesses,
  ownerIsLive,
  pidCmdline,
  pidParent,
  pidStartTime,
  readMachineForward,
  runSync,
} from '../helpers/sandbox.js';
import { forwardChange, recordRunBaseline } from '../helpers/run-baseline.js';
import { needs, requiredTest } from '../helpers/requirements.js';

/**
 * Another test run may be going on at the same time on this machine (its sandboxes are registered
 * by a live test process): what belongs to those is not residue of this run. Anything registered
 * by a process that has exited is.
 */
const others = liveSandboxesOfOtherProcesses();
const foreignNs = (name: string): boolean => others.some((o) => name.startsWith(o.nsPrefix));
const foreignRoot = (text: string): boolean => others.some((o) => text.includes(o.root));

requiredTest('no /run/netns entries from the suite (nst*)', { needs: [needs.integration] }, () => {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(NETNS_DIR);
  } catch {
    entries = [];
  }
  assert.deepEqual(entries.filter((e) => e.startsWith(NS_PREFIX) && !foreignNs(e)), []);
});

requiredTest('no /etc/netns files nsnet wrote for a test state (a sandbox root, or a unit test\'s in-memory store)', { needs: [needs.integration] }, () => {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/etc/netns');
  } catch {
    entries = [];
  }
  const testStates = [path.join(os.tmpdir(), STATE_DIR_PREFIX), '(state .)'];
  const left = entries.filter((name) => {
    let header = '';
    try {
      header = fs.readFileSync(path.join('/etc/netns', name, 'resolv.conf'), 'utf8').split('\n')[0] ?? '';
    } catch {
      return false;
    }
    return header.startsWith('# written by nsnet') && testStates.some((t) => header.includes(t)) && !foreignRoot(header) && !foreignNs(name);
  });
  assert.deepEqual(left, []);
});

requiredTest('no /run/netns mounts from the suite', { needs: [needs.integration] }, () => {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${NETNS_DIR}/${NS_PREFIX}`) && !foreignNs(m.slice(NETNS_DIR.length + 1)));
  assert.deepEqual(mounts, []);
});

requiredTest('no mounts under a test state directory (a container\'s root from an image)', { needs: [needs.integration] }, () => {
  const stateDirs = path.join(os.tmpdir(), STATE_DIR_PREFIX);
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(stateDirs) && !foreignRoot(m));
  assert.deepEqual(mounts, []);
});

requiredTest('no processes referencing a test state directory', { needs: [needs.integration] }, () => {
  const needle = path.join(os.tmpdir(), STATE_DIR_PREFIX);
  const found: string[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const c = pidCmdline(pid);
    if (c !== undefined && c.includes(needle) && !foreignRoot(c)) found.push(`${pid}: ${c}`);
  }
  assert.deepEqual(found, []);
});

/**
 * When the test runner (this file's parent process) started: a directory older than that was
 * left by an earlier, interrupted run, not by this one.
 */
function runnerStartMs(): number {
  try {
    return fs.statSync(`/proc/${process.ppid}`).ctimeMs - 1000;
  } catch {
    return 0;
  }
}

requiredTest('no nsnet-test- state directories left in the temp dir', { needs: [needs.integration] }, () => {
  const since = runnerStartMs();
  assert.deepEqual(
    fs
      .readdirSync(os.tmpdir())
      .filter((d) => d.startsWith(STATE_DIR_PREFIX) && !foreignRoot(path.join(os.tmpdir(), d)))
      .filter((d) => fs.statSync(path.join(os.tmpdir(), d)).ctimeMs >= since),
    [],
  );
});

/** Files under dir (recursively) changed since the runner started: CNI state the suite must keep in its temp dirs. */
function changedSince(dir: string, since: number): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return changedSince(p, since);
    return fs.lstatSync(p).ctimeMs >= since ? [p] : [];
  });
}

requiredTest('no CNI state written outside the tests\' temp dirs (libcni cache, host-local leases)', { needs: [needs.integration] }, () => {
  assert.deepEqual(changedSince('/var/lib/cni', runnerStartMs()), []);
});

requiredTest('no sandbox registry files left by finished test processes', { needs: [needs.integration] }, () => {
  const live = new Set(others.map((o) => o.nsPrefix));
  const left = fs
    .readdirSync(os.tmpdir())
    .filter((f) => f.startsWith(REGISTRY_PREFIX))
    .filter((f) => !live.has(`${NS_PREFIX}${f.slice(REGISTRY_PREFIX.length).replace(/\.json$/, '')}`));
  assert.deepEqual(left, []);
});

requiredTest("the sandboxes ignored above as another run's belong to a test process that still runs and is not of this run", { needs: [needs.integration] }, (t) => {
  for (const o of others) {
    t.diagnostic(`ignoring live sandbox ${o.nsPrefix} of test process ${o.pid}`);
    assert.ok(ownerIsLive(o), `${o.nsPrefix}: test process ${o.pid} has exited since, so what it left is residue, not another run's`);
    // Files run one at a time: when this last one runs, every other test process of this run has exited.
    assert.notEqual(pidParent(o.pid), process.ppid, `${o.nsPrefix}: test process ${o.pid} is of this run and still runs after its file finished`);
  }
  // Control: "live" means the same pid AND the same start time, so a reused pid never passes a
  // leaked sandbox off as another run's.
  const me = { pid: process.pid, start: pidStartTime(process.pid) ?? '' };
  assert.equal(ownerIsLive(me), true, 'a running process is live');
  assert.equal(ownerIsLive({ ...me, start: `${me.start}0` }), false, 'the same pid with another start time is not');
});

requiredTest("the machine's own namespace has no nsnet links", { needs: [needs.integration] }, () => {
  const r = runSync(['ip', '-j', 'link', 'show']);
  assert.equal(r.code, 0, r.stderr);
  const names = (JSON.parse(r.stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
  assert.deepEqual(names.filter((n) => /^(nsnet|nsv|br-)/.test(n)), []);
});

requiredTest("the machine's own namespace has no nsnet nft table", { needs: [needs.integration] }, () => {
  const r = runSync(['nft', 'list', 'tables']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /^table\s+\S+\s+nsnet\s*$/m);
});

requiredTest("the machine's ip_forward is what it was when the test run began", { needs: [needs.integration] }, (t) => {
  // Read only: the machine's own namespace is never written. Each sandbox also compares the value
  // at its end with its start; this catches changes between sandboxes and by tests without one.
  const baseline = recordRunBaseline();
  const now = readMachineForward();
  t.diagnostic(`machine net.ipv4.ip_forward = ${now}; ${baseline.ipForward} when test process ${baseline.recordedBy} began the run`);
  assert.match(now, /^[01]$/);
  const change = forwardChange(baseline, now);
  assert.ok(change === undefined, change);
  // Control: a namespace whose ip_forward differs reads differently and would be reported. The
  // namespace is a throwaway one (unshare --net), gone with the command.
  const flipped = now === '1' ? '0' : '1';
  const other = runSync(['unshare', '--net', 'sh', '-c', `echo ${flipped} > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward`]);
  assert.equal(other.code, 0, other.stderr);
  assert.equal(other.stdout.trim(), flipped);
  assert.match(forwardChange(baseline, other.stdout.trim()) ?? '', new RegExp(`ip_forward is ${flipped}, but it was ${now}`));
  assert.equal(readMachineForward(), now, "the control left the machine's own value alone");
});
