/**
 * Whether a container runs, asked of the host: the one place this is decided (ps, inspect, rm,
 * start and the DNS responder's view all use it).
 */
import type { LiveState } from '../engine/inspect.js';
import type { Host } from '../host/port.js';
import type { ContainerRecord } from '../store/index.js';
import { isCniContainer } from './specs.js';

export function liveState(host: Host, c: ContainerRecord): LiveState {
  // A runtime's container (CNI) runs as far as nsnet can tell while its namespace is there.
  if (isCniContainer(c)) return { status: host.netnsExists(c.netns) ? 'running' : 'exited', pid: 0, exitCode: null };
  if (c.status === 'running' && c.pid !== null && c.pidStart !== null) {
    if (host.isAlive(c.pid, c.pidStart)) return { status: 'running', pid: c.pid, exitCode: null };
    return { status: 'exited', pid: 0, exitCode: c.exitCode };
  }
  return { status: c.status, pid: 0, exitCode: c.exitCode };
}
