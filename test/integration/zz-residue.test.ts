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
  pidCmdline,
  runSync,
} from '../helpers/sandbox.js';
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

requiredTest('no /run/netns mounts from the suite', { needs: [needs.integration] }, () => {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${NETNS_DIR}/${NS_PREFIX}`) && !foreignNs(m.slice(NETNS_DIR.length + 1)));
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

requiredTest('diagnostics: concurrent test runs seen', { needs: [needs.integration] }, (t) => {
  for (const o of others) t.diagnostic(`ignoring live sandbox ${o.nsPrefix} of test process ${o.pid}`);
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

requiredTest("the machine's ip_forward is unchanged", { needs: [needs.integration] }, (t) => {
  // Read only. Every sandbox compares the machine's value at destroy() with the value it saw at
  // creation (a mismatch fails that test file); across files, CI may pin the expected value with
  // NSNET_TEST_IP_FORWARD.
  const now = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  t.diagnostic(`machine net.ipv4.ip_forward = ${now}`);
  assert.match(now, /^[01]$/);
  const expected = process.env.NSNET_TEST_IP_FORWARD;
  if (expected !== undefined) assert.equal(now, expected, 'ip_forward differs from NSNET_TEST_IP_FORWARD');
});
