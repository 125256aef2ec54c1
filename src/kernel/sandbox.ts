/**
 * A throwaway stand-in for a real host: a "host" network namespace with a veth uplink to a
 * "world" namespace that holds documentation addresses (RFC 5737) in place of the internet.
 * nsnet runs inside the host namespace (nsenter --net keeps the mount namespace, so
 * /run/netns stays shared), and the machine's own network is never touched: the uplink is
 * created directly inside the host namespace with its peer inside the world namespace.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NsnetError } from '../core/errors.js';

export const UPLINK_HOST_ADDR = '198.51.100.2';
export const UPLINK_WORLD_ADDR = '198.51.100.1';
export const WORLD_ADDR = '203.0.113.8';

export interface Sandbox {
  hostNs: string;
  worldNs: string;
  destroy(): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new NsnetError('KERNEL', `sandbox: ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  }
}

export function createSandbox(prefix = 'nsbox'): Sandbox {
  const tag = randomBytes(3).toString('hex');
  const hostNs = `${prefix}-${tag}-host`;
  const worldNs = `${prefix}-${tag}-world`;
  const made: string[] = [];
  const destroy = (): void => {
    for (const ns of made.reverse()) spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    for (const ns of [hostNs, worldNs]) {
      ip(['netns', 'add', ns]);
      made.push(ns);
    }
    ip(['-n', hostNs, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink0', 'netns', worldNs]);
    ip(['-n', hostNs, 'addr', 'add', `${UPLINK_HOST_ADDR}/24`, 'dev', 'uplink0']);
    ip(['-n', worldNs, 'addr', 'add', `${UPLINK_WORLD_ADDR}/24`, 'dev', 'uplink0']);
    ip(['-n', worldNs, 'addr', 'add', `${WORLD_ADDR}/32`, 'dev', 'lo']);
    for (const ns of [hostNs, worldNs]) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', 'uplink0', 'up']);
    }
    ip(['-n', hostNs, 'route', 'add', 'default', 'via', UPLINK_WORLD_ADDR]);
  } catch (err) {
    destroy();
    throw err;
  }
  return { hostNs, worldNs, destroy };
}

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command inside a sandbox namespace and capture its output (no shell). */
export function runIn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Captured {
  const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, '--', ...argv], { encoding: 'utf8', env });
  return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}
