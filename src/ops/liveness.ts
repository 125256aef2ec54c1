/**
 * Whether a container runs, asked of the host: the one place this is decided (ps, inspect, rm,
 * start and the DNS responder's view all use it). A detached container's monitor reports its
 * runs, exits and restarts in the container's directory (container-state.ts); the record says
 * what nsnet itself did (run, stop).
 */
import type { LiveState } from '../engine/inspect.js';
import type { Host } from '../host/port.js';
import type { ContainerRecord } from '../store/index.js';
import path from 'node:path';
import { readMonitorReport, type MonitorReport } from './container-state.js';
import { isCniContainer } from './specs.js';

export function liveState(host: Host, c: ContainerRecord): LiveState {
  // A runtime's container (CNI) runs as far as nsnet can tell while its namespace is there.
  if (isCniContainer(c)) return { status: host.netnsExists(c.netns) ? 'running' : 'exited', pid: 0, exitCode: null };
  if (c.monitorPid != null && c.monitorStart != null) return monitoredState(host, c, c.monitorPid, c.monitorStart);
  if (c.status === 'running' && c.pid !== null && c.pidStart !== null) {
    if (host.isAlive(c.pid, c.pidStart)) return { status: 'running', pid: c.pid, pidStart: c.pidStart, exitCode: null };
    return { status: 'exited', pid: 0, exitCode: c.exitCode };
  }
  return { status: c.status, pid: 0, exitCode: c.exitCode };
}

function monitoredState(host: Host, c: ContainerRecord, monitorPid: number, monitorStart: string): LiveState {
  // What nsnet recorded itself (stop, a foreground end) is the last word.
  if (c.status !== 'running') return { status: c.status, pid: 0, exitCode: c.exitCode, restartCount: c.restartCount ?? 0 };
  const { report, running } = currentReport(host, c);
  const times = report === undefined ? {} : { startedAt: report.startedAt || c.startedAt, finishedAt: report.finishedAt || null, restartCount: report.restartCount };
  if (report?.status === 'exited') return { status: 'exited', pid: 0, exitCode: report.exitCode, ...times };
  const monitorAlive = host.isAlive(monitorPid, monitorStart);
  if (report?.status === 'restarting') {
    // Without its monitor nothing restarts it: it has ended, with the last run's status.
    return monitorAlive ? { status: 'running', restarting: true, pid: 0, exitCode: report.exitCode, ...times } : { status: 'exited', pid: 0, exitCode: report.exitCode, monitorLost: true, ...times };
  }
  const pid = report === undefined ? c.pid : report.pid;
  const pidStart = report === undefined ? c.pidStart : report.pidStart;
  if (pid !== null && pid > 0 && pidStart !== null && (running || host.isAlive(pid, pidStart))) return { status: 'running', pid, pidStart, exitCode: null, monitorLost: !monitorAlive, ...times };
  // No process, but a live monitor: a run between its start and its command, or one that has just
  // ended, whose end (and restart) the monitor records in a moment. Until then it runs, as in Docker.
  if (monitorAlive) return { status: 'running', pid: 0, exitCode: null, ...times };
  // The process has ended and its monitor is gone: nobody knows how it ended.
  return { status: 'exited', pid: 0, exitCode: null, monitorLost: true, ...times, finishedAt: null };
}

/**
 * Reports read earlier that named a running process, by container directory. The monitor rewrites
 * its report only once the run it names has ended (native/nsnet-monitor.c: after find_init it
 * writes the next state after waitpid has reaped that run's init), so while that process still
 * lives (one /proc read, which liveState makes anyway) the report read earlier is the file's
 * content: ps and GET /containers/json skip the read and parse of a file per container. Kept
 * across requests of nsnet serve; never stale, since it is checked against the process each time.
 */
const runningReports = new Map<string, MonitorReport>();
const MAX_REPORTS = 4096;

/** The container's current monitor report, and whether the process it names was just seen alive. */
function currentReport(host: Host, c: ContainerRecord): { report: MonitorReport | undefined; running: boolean } {
  const dir = path.dirname(c.logPath);
  const known = runningReports.get(dir);
  if (known !== undefined && known.monitorPid === c.monitorPid && known.monitorStart === c.monitorStart && host.isAlive(known.pid, known.pidStart)) {
    return { report: known, running: true };
  }
  runningReports.delete(dir);
  const report = readMonitorReport(c);
  if (report?.status === 'running' && report.pid > 0 && report.pidStart !== '') {
    if (runningReports.size >= MAX_REPORTS) runningReports.clear();
    runningReports.set(dir, report);
  }
  return { report, running: false };
}

/** What ps and inspect say on stderr about a container whose monitor is gone. */
export function monitorWarning(c: ContainerRecord, live: LiveState): string | undefined {
  if (live.monitorLost !== true) return undefined;
  const what = live.status === 'running' ? 'it still runs, but its exit code will not be known and it will not be restarted' : 'it has ended and its exit code is unknown';
  return `container ${c.name}: its monitor (pid ${c.monitorPid ?? '?'}) is gone; ${what} (nsnet stop ${c.name}; nsnet start ${c.name} gives it a new one)`;
}
