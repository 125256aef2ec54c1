/**
 * Linux capabilities of a container's processes, as Docker spells and computes them: the names a
 * user may give to --cap-add/--cap-drop, Docker's default set, and the set a container ends up
 * with. Pure; src/core/unshare.ts turns the result into setpriv(1)'s arguments.
 */
import { invalid } from './errors.js';

/** Every capability, in the kernel's order (bit 0 first): capabilities(7), up to Linux 5.9. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export type Capability = (typeof ALL_CAPABILITIES)[number];

/** What --cap-add/--cap-drop take besides the names: every capability at once. */
export const ALL = 'ALL';

/**
 * Docker's default set (moby's oci/caps DefaultCapabilities), in the kernel's order: what a
 * container's root may do unless told otherwise. Left out, among others: SYS_ADMIN (mount, entering other namespaces),
 * NET_ADMIN (changing the container's own addresses, routes and MAC), SYS_PTRACE, SYS_MODULE.
 */
export const DEFAULT_CAPABILITIES: readonly Capability[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD',
  'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
];

/** A container's capability settings as the user gave them (normalised), and as inspect shows them. */
export interface CapabilityOptions {
  /** Normalised names (CAP_ prefix, upper case) or ALL; sorted, no repeats. */
  capAdd: readonly string[];
  capDrop: readonly string[];
  privileged: boolean;
}

/**
 * What a container's processes may do: everything (--privileged: every capability, no
 * no_new_privs, as before nsnet confined containers), or exactly these capabilities as their
 * bounding, permitted and effective sets, with no_new_privs set.
 */
export type Privileges = { privileged: true } | { privileged: false; capabilities: readonly Capability[] };

/** A container run without --cap-add, --cap-drop or --privileged. */
export const DEFAULT_PRIVILEGES: Privileges = { privileged: false, capabilities: DEFAULT_CAPABILITIES };

const KNOWN = new Set<string>(ALL_CAPABILITIES);

/** The valid values, for error messages: ALL and the names without their prefix. */
const validList = (): string => [ALL, ...ALL_CAPABILITIES.map((c) => c.slice(4))].join(', ');

/**
 * One --cap-add/--cap-drop value as Docker's CLI normalises it: case-insensitive, CAP_ prefix
 * optional, ALL for every capability.
 */
export function parseCapability(flag: string, value: string): Capability | typeof ALL {
  const upper = value.trim().toUpperCase();
  if (upper === ALL) return ALL;
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(name)) {
    throw invalid(`invalid ${flag} ${JSON.stringify(value)}: not a capability name (valid: ${validList()})`, 'names are those of capabilities(7), with or without CAP_, in any case');
  }
  return name as Capability;
}

/**
 * --cap-add and --cap-drop normalised as Docker's CLI stores them (HostConfig.CapAdd/CapDrop):
 * ALL alone stands for every capability, and a capability both added and dropped is added.
 */
export function capabilityOptions(add: readonly string[], drop: readonly string[], privileged: boolean): CapabilityOptions {
  const normalised = (flag: string, values: readonly string[]): string[] => {
    const names = [...new Set(values.map((v) => parseCapability(flag, v)))].sort();
    return names.includes(ALL) ? [ALL] : names;
  };
  const capAdd = normalised('--cap-add', add);
  const capDrop = normalised('--cap-drop', drop).filter((c) => !capAdd.includes(c));
  return { capAdd, capDrop, privileged };
}

/** The capabilities a container gets: Docker's TweakCapabilities over the default set. */
export function privilegesOf(opts: CapabilityOptions): Privileges {
  if (opts.privileged) return { privileged: true };
  const addAll = opts.capAdd.includes(ALL);
  const dropAll = opts.capDrop.includes(ALL);
  const kept = (c: Capability): boolean =>
    addAll ? !opts.capDrop.includes(c) : opts.capAdd.includes(c) || (!dropAll && DEFAULT_CAPABILITIES.includes(c) && !opts.capDrop.includes(c));
  // In the kernel's order, so the same settings always give the same command line.
  return { privileged: false, capabilities: ALL_CAPABILITIES.filter(kept) };
}
