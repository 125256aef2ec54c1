/**
 * What an integration suite needs from the machine, and the one thing that happens when it is
 * missing. Every integration suite declares its needs this way:
 *
 *   import { before, it } from 'node:test';
 *   import { needs, requiredSuite, requiredTest } from '../helpers/requirements.js';
 *
 *   requiredSuite('published ports (iptables driver)', { needs: [needs.integration, needs.iptables], concurrency: false }, () => {
 *     before(async () => { ... });
 *     it('...', async () => { ... });
 *   });
 *
 *   // A suite that is one test (the options are node:test's, plus `needs`):
 *   requiredTest('podman run on an nsnet-cni network', { needs: [needs.podman], timeout: 180_000 }, async (t) => { ... });
 *
 * Both may be nested in a describe, e.g. for the one test of a suite that needs busybox. A need
 * is a function returning why the suite cannot run on this machine, or undefined when it can;
 * `needs` below has the common ones (write your own as `(): string | undefined => ...`). The
 * first need that answers decides:
 *
 *   - outside CI the suite is skipped with that reason (node:test prints `# SKIP <reason>`);
 *   - with CI=true it FAILS instead: a single failing test named after the suite, whose error
 *     names the suite, its file and the reason. So CI can never go green by skipping a suite.
 *
 * Never skip from inside a test (t.skip(), an early return, `if (tool missing) ...`): that is a
 * silent pass under CI. Declare the need instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type SuiteFn, type TestFn, type TestOptions } from 'node:test';
import { cniDriverSkipReason } from './cni-driver.js';
import { podmanSkipReason } from './podman.js';
import { recordRunBaseline } from './run-baseline.js';
import { onPath } from '../../src/kernel/which.js';
import { integrationSkipReason, REPO } from './sandbox.js';

// Every integration file loads this module before it declares its suites: the first one of a test
// run notes the machine's state for the end-of-run checks (zz-residue).
recordRunBaseline();

/** Why a suite cannot run here, or undefined when it can. */
export type Need = () => string | undefined;

export interface RequiredOptions extends TestOptions {
  /** Checked in order; the first reason is the one reported. */
  needs: readonly Need[];
}

/** CI sets CI=true (GitHub, GitLab, .ci/run); then a suite that cannot run fails instead of skipping. */
export function inCi(): boolean {
  return /^(true|1|yes)$/i.test(process.env['CI'] ?? '');
}

/** The first unmet need's reason, or undefined when every need is met. */
export function unmetNeed(list: readonly Need[]): string | undefined {
  for (const need of list) {
    const reason = need();
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** A need for commands on PATH (and /usr/sbin, /sbin); `what` says who needs them. */
export function tools(what: string, names: readonly string[], install: string): Need {
  return () => {
    const missing = names.filter((n) => !onPath(n));
    return missing.length === 0 ? undefined : `${what} need ${missing.join(', ')}, not found in PATH (${install})`;
  };
}

export const needs = {
  /** Linux and root: tests that make namespaces themselves, without nsnet's CLI. */
  root: (): string | undefined => {
    if (process.platform !== 'linux') return 'integration tests need Linux';
    if (process.getuid?.() !== 0) return 'integration tests need root (they make network namespaces)';
    return undefined;
  },
  /** Linux, root, ip/nft/ping/nsenter/unshare and the built CLI: every suite that runs nsnet in a sandbox. */
  integration: integrationSkipReason,
  /** iptables and ebtables with their save/restore tools: the iptables driver, coexistence with iptables rules. */
  iptables: tools(
    'the iptables tests',
    ['iptables', 'iptables-save', 'iptables-restore', 'ebtables', 'ebtables-save', 'ebtables-restore'],
    'apt-get install iptables ebtables',
  ),
  /** Podman 4.x with its CNI backend, runc, conmon, a static busybox and overlayfs. */
  podman: podmanSkipReason,
  /** Go and Debian's libcni sources, to build the libcni driver (test/cni-driver). */
  cniDriver: cniDriverSkipReason,
  /** Graphviz, for graph --format svg. */
  graphviz: tools('graph --format svg tests', ['dot'], 'apt-get install graphviz'),
  /** A static busybox, for a tiny root filesystem. */
  busybox: (): string | undefined => (fs.existsSync('/bin/busybox') ? undefined : 'the --rootfs test needs /bin/busybox (apt-get install busybox-static)'),
};

/** The test file that declared the suite (the first stack frame outside this module), relative to the checkout. */
function declaringFile(): string {
  const self = new URL(import.meta.url).pathname;
  for (const line of (new Error().stack ?? '').split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?(\/[^():]+):\d+:\d+\)?$/.exec(line.trim());
    if (m !== null && m[1] !== self) return path.relative(REPO, m[1]!);
  }
  return 'an integration test file';
}

/** With CI=true: the suite is replaced by one failing test that says why it could not run. */
function refuse(name: string, reason: string, file: string): void {
  void test(name, () => {
    throw new Error(
      `integration suite "${name}" (${file}) cannot run on this machine: ${reason}. ` +
        'CI=true forbids skipping it: install what it needs (bash scripts/setup.sh), or run without CI=true to skip it.',
    );
  });
}

/** Declare with node:test's `declare` when every need is met; otherwise skip with the reason, or fail under CI=true. */
function declareIfMet<F>(declare: (name: string, options: TestOptions, fn: F) => void, name: string, options: RequiredOptions, fn: F): void {
  const { needs: list, ...rest } = options;
  const reason = unmetNeed(list);
  if (reason === undefined) declare(name, rest, fn);
  else if (inCi()) refuse(name, reason, declaringFile());
  else declare(name, { ...rest, skip: reason }, fn);
}

/** node:test's describe, run when every need is met; otherwise skipped with the reason, or failed under CI=true. */
export function requiredSuite(name: string, options: RequiredOptions, fn: SuiteFn): void {
  declareIfMet((n, o, f: SuiteFn) => void describe(n, o, f), name, options, fn);
}

/** node:test's test, for a suite that is a single test: run, skipped with the reason, or failed under CI=true. */
export function requiredTest(name: string, options: RequiredOptions, fn: TestFn): void {
  declareIfMet((n, o, f: TestFn) => void test(n, o, f), name, options, fn);
}
