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
 * The monitor's record of the end of the container's last run, once it has written it (it does
 * as soon as it has reaped the process); undefined when the monitor is gone without writing it.
 */
export function monitorEnd(ctx: Context, c: ContainerRecord): MonitorReport | undefined {
  const m = monitorOf(c);
  if (m === undefined) return undefined;
  const deadline = Date.now() + RECORD_WAIT_MS;
  for (;;) {
    const report = readMonitorReport(c);
    if (report?.status === 'exited') return report;
    if (!ctx.host.isAlive(m.pid, m.start) || Date.now() >= deadline) return readMonitorReport(c)?.status === 'exited' ? readMonitorReport(c) : undefined;
    ctx.host.sleep(5);
  }
}
