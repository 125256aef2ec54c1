/**
 * One interface for nsnet's firewall; a driver turns firewall state into steps. nftables is the
 * default; iptables is the compatibility path for hosts without nftables. Drivers are pure: what
 * they need to know about the host comes in through `HostFirewallFacts`.
 */
import type { Step } from '../plan/steps.js';
import type { FirewallMapping, FirewallPartition, FirewallPort, FirewallState } from './model.js';

export type DriverName = 'nftables' | 'iptables';
export const DRIVER_NAMES: readonly DriverName[] = ['nftables', 'iptables'];

/** Whether to keep nsnet's accept chain in the host's iptables FORWARD chain, and whether it is there now. */
export interface IptablesCompat {
  manage: boolean;
  existedBefore: boolean;
}

export interface FirewallDriver {
  readonly name: DriverName;
  /** Make the kernel hold exactly `after`; the undo restores `before`. */
  replace(before: FirewallState, after: FirewallState, summary: string): Step[];
  /** Admit container ports (anti-spoofing, ICC); empty when no rule concerns them. */
  addPorts(ports: readonly FirewallPort[], summary: string): Step[];
  removePorts(ports: readonly FirewallPort[], summary: string): Step[];
  /** Published ports (host port → container address). */
  addMappings(mappings: readonly FirewallMapping[], summary: string): Step[];
  removeMappings(mappings: readonly FirewallMapping[], summary: string): Step[];
  /** Partitions from `before` to `after` (all of them, each time): one transaction per tool. */
  updatePartitions(before: readonly FirewallPartition[], after: readonly FirewallPartition[], summary: string): Step[];
}
