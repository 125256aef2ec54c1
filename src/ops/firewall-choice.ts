/**
 * Which firewall driver a command uses: the one asked for (--firewall-driver or
 * NSNET_FIREWALL_DRIVER), else the one the existing networks were made with (recorded in the
 * store, so later commands never mix drivers), else detected (nftables when usable).
 */
import { NsnetError } from '../core/errors.js';
import { DRIVER_NAMES, type DriverName, type FirewallDriver } from '../firewall/driver.js';
import { iptablesDriver } from '../firewall/iptables-driver.js';
import { nftablesDriver } from '../firewall/nftables-driver.js';
import type { Host } from '../host/port.js';
import type { Store } from '../store/index.js';
import { iptablesCompat } from './specs.js';

export const DRIVER_SETTING = 'firewall.driver';

export function parseDriverName(value: string): DriverName {
  if ((DRIVER_NAMES as readonly string[]).includes(value)) return value as DriverName;
  throw new NsnetError('INVALID_VALUE', `invalid firewall driver "${value}": expected ${DRIVER_NAMES.join(' or ')}`);
}

function detect(host: Host): DriverName {
  if (host.nftUsable()) return 'nftables';
  if (host.iptablesAvailable()) return 'iptables';
  return 'nftables'; // fails later with a hint to install nftables
}

export function chooseDriverName(host: Host, store: Store, requested: string | undefined): DriverName {
  const asked = requested === undefined || requested === '' ? undefined : parseDriverName(requested);
  const recorded = store.settings.get(DRIVER_SETTING) as DriverName | undefined;
  if (asked !== undefined && recorded !== undefined && asked !== recorded && store.networks.list().length > 0) {
    throw new NsnetError('FORBIDDEN', `the networks on this host use the ${recorded} firewall driver; nsnet does not mix drivers`, {
      hint: `remove the networks (or nsnet system reset --force) before switching to ${asked}`,
    });
  }
  return asked ?? recorded ?? detect(host);
}

export function driverFor(host: Host, name: DriverName): FirewallDriver {
  if (name === 'nftables') return nftablesDriver(() => iptablesCompat(host), () => iptablesCompat(host, 6));
  return iptablesDriver(() => ({ iptables: host.iptablesAvailable(), ebtables: host.ebtablesSupport() }));
}
