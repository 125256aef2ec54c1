/**
 * Talking to a detached container's monitor (native/nsnet-monitor.c) by signal, through the Host
 * port: SIGTERM ends its restart loop (the current run is still recorded), SIGKILL ends it at once
 * (rm, system reset: nothing is left to record). A monitor is only signalled while its PID still
 * has the start time nsnet recorded, so a reused PID is never hit.
 */
import type { ContainerRecord } from '../store/index.js';
import { readMonitorReport, type MonitorReport } from './container-state.js';
import type { Context } from './context.js';

/** How long stop waits for the monitor to record the end it has just caused. */
const RECORD_WAIT_MS = 2000;

const monitorOf = (c: ContainerRecord): { pid: number; start: string } | undefined =>
  c.monitorPid != null && c.monitorStart != null ? { pid: c.monitorPid, start: c.monitorStart } : undefined;

/** stop: the monitor restarts the container no more, and records how it ends. */
export function endRestarts(ctx: Context, c: ContainerRecord): void {
  const m = monitorOf(c);
  if (m !== undefined) ctx.host.sendSignal(m.pid, m.start, 'SIGTERM');
}

/** rm, system reset: the monitor goes before its container, so it cannot start it again. */
export function killMonitor(ctx: Context, c: ContainerRecord): void {
  const m = monitorOf(c);
  if (m === undefined) return;
  ctx.host.sendSignal(m.pid, m.start, 'SIGKILL');
}

/**
 * What the monitor did after endRestarts: `ended`, its record of the end of the container's last
 * run, once it has written it (it does as soon as it has reaped the process); or `started`, a run
 * other than `stopped` — a restart it was already starting when the signal came, which goes on to
 * its command and is the caller's to stop too; or nothing: the monitor is gone (or silent) without
 * writing either.
 */
export function monitorEnd(ctx: Context, c: ContainerRecord, stopped: number): { ended?: MonitorReport; started?: { pid: number; pidStart: string } } {
  const m = monitorOf(c);
  if (m === undefined) return {};
  const deadline = Date.now() + RECORD_WAIT_MS;
  for (;;) {
    const report = readMonitorReport(c);
    if (report?.status === 'exited') return { ended: report };
    if (report?.status === 'running' && report.pid > 0 && report.pid !== stopped) return { started: { pid: report.pid, pidStart: report.pidStart } };
    if (!ctx.host.isAlive(m.pid, m.start) || Date.now() >= deadline) {
      const last = readMonitorReport(c);
      return last?.status === 'exited' ? { ended: last } : {};
    }
    ctx.host.sleep(5);
  }
}
