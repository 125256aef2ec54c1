import type { Step } from '../plan/steps.js';
import type { FirewallDriver, IptablesCompat } from './driver.js';
import { COMPAT_CHAIN, COMPAT_FROM, COMPAT_TABLE, compatRules } from './iptables-compat.js';
import type { FirewallMapping, FirewallPort, FirewallState } from './model.js';
import { addMappingsScript, addPortsScript, removeMappingsScript, removePortsScript, replaceScript } from './nftables.js';

/**
 * The nftables driver: two tables of nsnet's own, replaced whole on network changes; set
 * elements for container ports. `compat` is asked only when the tables are replaced (it probes
 * the host's iptables, which costs a process).
 */
export function nftablesDriver(compat: () => IptablesCompat = () => ({ manage: false, existedBefore: false })): FirewallDriver {
  return {
    name: 'nftables',
    replace(before: FirewallState, after: FirewallState, summary: string): Step[] {
      const steps: Step[] = [{ kind: 'nft', script: replaceScript(after), undoScript: replaceScript(before), summary }];
      const c = compat();
      if (c.manage) {
        steps.push({
          kind: 'iptables-chain',
          table: COMPAT_TABLE,
          from: COMPAT_FROM,
          chain: COMPAT_CHAIN,
          rules: compatRules(after.networks),
          undoRules: c.existedBefore ? compatRules(before.networks) : [],
        });
      }
      return steps;
    },
    addPorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const script = addPortsScript(ports);
      return script === '' ? [] : [{ kind: 'nft', script, undoScript: removePortsScript(ports), summary }];
    },
    removePorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const script = removePortsScript(ports);
      return script === '' ? [] : [{ kind: 'nft', script, undoScript: addPortsScript(ports), summary }];
    },
    addMappings(mappings: readonly FirewallMapping[], summary: string): Step[] {
      const script = addMappingsScript(mappings);
      return script === '' ? [] : [{ kind: 'nft', script, undoScript: removeMappingsScript(mappings), summary }];
    },
    removeMappings(mappings: readonly FirewallMapping[], summary: string): Step[] {
      const script = removeMappingsScript(mappings);
      return script === '' ? [] : [{ kind: 'nft', script, undoScript: addMappingsScript(mappings), summary }];
    },
  };
}
