/**
 * A container's directory under the state root (ROOT/containers/ID): its log, and the marker
 * naming the namespace nsnet makes for it, so `system check` knows an orphaned namespace as
 * nsnet's even after the records are gone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';

export const NETNS_MARKER = 'netns';

export const stateDirOf = (root: string, id: string): string => path.join(root, 'containers', id);

/** Before the first kernel step of a container: note which namespace nsnet makes for it. */
export function markNamespace(ctx: Context, c: ContainerRecord): void {
  if (ctx.dryRun) return;
  const dir = path.dirname(c.logPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, NETNS_MARKER), c.name, { mode: 0o600 });
}

/**
 * What a container's monitor (native/nsnet-monitor.c) last wrote to DIR/state.json: written
 * whole and renamed into place at each change, so a reader sees one version or the next.
 */
export interface MonitorReport {
  status: 'running' | 'restarting' | 'exited';
  /** The container's init while it runs (0 between runs). */
  pid: number;
  pidStart: string;
  /** RFC 3339 with nanoseconds; "" when there is none yet. */
  startedAt: string;
  finishedAt: string;
  /** The last run's exit status (128 + signal for a signal); null while the first run goes on. */
  exitCode: number | null;
  restartCount: number;
  monitorPid: number;
  monitorStart: string;
  /** The run has ended and the monitor has the container removed (run -d --rm); absent from older monitors. */
  removing?: boolean;
}

export const MONITOR_STATE_FILE = 'state.json';

/** The report of this container's current monitor; undefined when there is none (or another monitor's, an older run's). */
export function readMonitorReport(c: ContainerRecord): MonitorReport | undefined {
  if (c.monitorPid == null) return undefined;
  let report: MonitorReport;
  try {
    report = JSON.parse(fs.readFileSync(path.join(path.dirname(c.logPath), MONITOR_STATE_FILE), 'utf8')) as MonitorReport;
  } catch {
    return undefined;
  }
  return report.monitorPid === c.monitorPid && report.monitorStart === c.monitorStart ? report : undefined;
}
