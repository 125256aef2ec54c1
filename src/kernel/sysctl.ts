/**
 * sysctls through /proc/sys. The net.* subtree is per network namespace, and which namespace a
 * file shows is decided when it is opened, by the namespace of the opening thread — not by the
 * namespace /proc was mounted in. So inside withNetns(name, ...) these functions read and write
 * that namespace's values (e.g. net.ipv4.ip_forward of a container), and outside it the caller's.
 */
import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import { fromNodeError } from './libc.js';

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_.\-/]+$/.test(key) || key.includes('..')) throw invalid(`invalid sysctl key: ${key}`);
  // Dots separate levels; as in sysctl(8), a '/' in a key stands for a dot inside one level
  // (net.ipv4.conf.eth0/100.forwarding → /proc/sys/net/ipv4/conf/eth0.100/forwarding).
  return `/proc/sys/${key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))}`;
}

export function readSysctl(key: string): string {
  try {
    return fs.readFileSync(sysctlPath(key), 'utf8').trim();
  } catch (err) {
    throw fromNodeError(`read sysctl ${key}`, err, `sysctl ${key}`);
  }
}

export function writeSysctl(key: string, value: string | number): void {
  try {
    fs.writeFileSync(sysctlPath(key), `${value}\n`);
  } catch (err) {
    throw fromNodeError(`write sysctl ${key}`, err, `sysctl -w ${key}=${value}`);
  }
}
