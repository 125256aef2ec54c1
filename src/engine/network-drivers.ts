/**
 * The network drivers `network create -d` accepts. One entry per driver: the extension point for
 * drivers beyond Docker's default bridge (macvlan, ipvlan add theirs here). Pure.
 */
import { NsnetError } from '../core/errors.js';

export interface NetworkDriverInfo {
  /** One line for errors and help: what a network of this driver is. */
  summary: string;
}

export const DEFAULT_DRIVER = 'bridge';

export const NETWORK_DRIVERS: ReadonlyMap<string, NetworkDriverInfo> = new Map([
  [DEFAULT_DRIVER, { summary: 'a Linux bridge with NAT to the outside world (the default)' }],
  // vlan-drivers.ts: containers sit directly on a host link, -o parent=IFACE.
  ['macvlan', { summary: 'container interfaces with their own MACs on a host link (-o parent=IFACE)' }],
  ['ipvlan', { summary: "container interfaces with the parent's MAC on a host link (-o parent=IFACE, -o ipvlan_mode=l2|l3)" }],
]);

/** The driver's name as given (Docker's names are lower case), or a refusal listing the known ones. */
export function validateDriver(name: string | undefined): string {
  const driver = name ?? DEFAULT_DRIVER;
  if (NETWORK_DRIVERS.has(driver)) return driver;
  const known = [...NETWORK_DRIVERS.entries()].map(([n, d]) => `${n} (${d.summary})`).join(', ');
  throw new NsnetError('INVALID_VALUE', `invalid network driver "${driver}": nsnet supports ${known}`, {
    hint: `leave -d out, or use -d ${DEFAULT_DRIVER}`,
  });
}
