/**
 * run --sysctl KEY=VALUE: which keys a container may set, and the steps that set them. Pure.
 *
 * Docker allows the sysctls a container's own namespaces hold: net.* (its network namespace) and
 * the IPC ones (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*). nsnet sets them as
 * netns-sysctl steps in the container's network namespace, before its process starts; its IPC
 * namespace only exists once the process runs (unshare --ipc), so an IPC key written by such a
 * step would change the host's value: those are refused, saying why.
 */
import { invalid } from '../core/errors.js';
import type { Step } from '../plan/steps.js';

/** Docker's namespaced IPC sysctls (moby's oci/namespaces validation). */
const IPC_KEYS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/** Dotted words; sysctl(8) writes a dot inside an interface name as '/'. */
const KEY = /^net(\.[A-Za-z0-9_/-]+)+$/;

function refusal(key: string, value: string, why: string): Error {
  return invalid(`invalid --sysctl "${key}=${value}": ${why}`, 'nsnet sets net.* keys of the container\'s network namespace, e.g. --sysctl net.ipv4.ip_forward=1');
}

/** The sysctls as given, checked: net.* keys only, a value on one line. Keys may be written with '/' too. */
export function validateSysctls(given: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(given)) {
    // sysctl(8) and Docker accept net/ipv4/ip_forward as well as net.ipv4.ip_forward.
    const key = raw.includes('.') ? raw : raw.replace(/\//g, '.');
    if (IPC_KEYS.includes(key) || key.startsWith('fs.mqueue.')) {
      throw refusal(raw, value, "Docker allows it in a container's IPC namespace, but nsnet sets sysctls in the network namespace before the process makes its IPC namespace, so it would change the host's value");
    }
    if (!key.startsWith('net.')) throw refusal(raw, value, 'not a key of the container\'s own namespaces; only net.* keys are allowed (the rest are the host\'s, shared by every process)');
    if (!KEY.test(key)) throw refusal(raw, value, 'expected net.WORD.WORD..., letters, digits, _ and - between the dots');
    if (value.trim() === '' || /[\n\r]/.test(value)) throw refusal(raw, value, 'expected a value on one line');
    out[key] = value.trim();
  }
  return out;
}

/** Set in the container's namespace once its interfaces exist (keys like net.ipv4.conf.eth0.*). */
export function sysctlSteps(ns: string, sysctls: Readonly<Record<string, string>>): Array<Extract<Step, { kind: 'netns-sysctl' }>> {
  return Object.entries(sysctls).map(([key, value]) => ({ kind: 'netns-sysctl' as const, ns, key, value }));
}

/** Whether the kernel's value is the one asked for: a multi-value key reads back with tabs. */
export function sameSysctlValue(actual: string, wanted: string): boolean {
  return actual.trim().split(/\s+/).join(' ') === wanted.trim().split(/\s+/).join(' ');
}
