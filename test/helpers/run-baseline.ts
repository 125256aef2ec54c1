/**
 * The machine's state when this test run began, for the end-of-run checks (zz-residue): every
 * sandbox compares the machine's ip_forward at its end with its start, but only a baseline from
 * the start of the whole run also catches a change made between sandboxes or by a test without
 * one.
 *
 * `node --test` runs each test file in a child process (NODE_TEST_CONTEXT is set there), so "this
 * run" is the runner, the parent process, told apart from a later process with the same pid by
 * its start time. The first test process of a run to call recordRunBaseline() writes
 * os.tmpdir()/nsnet-run-RUNNER.json; later ones, and zz-residue at the end, read it. Records of
 * runners that have exited are removed then. A file run directly (`node x.test.js`) is its own
 * run, recorded in memory only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidStartTime, readMachineForward } from './sandbox.js';

export const RUN_RECORD_PREFIX = 'nsnet-run-';

export interface RunBaseline {
  /** The test runner's pid and start time (this process when run directly). */
  runner: number;
  runnerStart: string;
  /** The machine's net.ipv4.ip_forward when the run's first test process looked. */
  ipForward: string;
  /** The test process that recorded it. */
  recordedBy: number;
}

const underTestRunner = (): boolean => process.env['NODE_TEST_CONTEXT'] !== undefined;

function fresh(runner: number): RunBaseline {
  return { runner, runnerStart: pidStartTime(runner) ?? '', ipForward: readMachineForward(), recordedBy: process.pid };
}

function read(file: string): RunBaseline | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RunBaseline;
    return typeof r.runner === 'number' && typeof r.ipForward === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

function sweepFinishedRuns(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(RUN_RECORD_PREFIX) && f.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(os.tmpdir(), name);
    const r = read(file);
    if (r === undefined || pidStartTime(r.runner) !== r.runnerStart) fs.rmSync(file, { force: true });
  }
}

let mine: RunBaseline | undefined;

/** This run's baseline: recorded now if no earlier test process of the run did. */
export function recordRunBaseline(): RunBaseline {
  if (mine !== undefined) return mine;
  if (!underTestRunner()) return (mine = fresh(process.pid));
  const runner = process.ppid;
  const file = path.join(os.tmpdir(), `${RUN_RECORD_PREFIX}${runner}.json`);
  const existing = read(file);
  if (existing !== undefined && existing.runnerStart === pidStartTime(runner)) return (mine = existing);
  sweepFinishedRuns();
  mine = fresh(runner);
  fs.writeFileSync(file, JSON.stringify(mine) + '\n');
  return mine;
}

/** What differs between the run's baseline and the machine now, or undefined. */
export function forwardChange(baseline: RunBaseline, now: string): string | undefined {
  return now === baseline.ipForward
    ? undefined
    : `the machine's net.ipv4.ip_forward is ${now}, but it was ${baseline.ipForward} when the test run began (recorded by test process ${baseline.recordedBy}): a test changed the machine's own namespace`;
}
