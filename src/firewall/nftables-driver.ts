import type { Step } from '../plan/steps.js';
import type { FirewallDriver, IptablesCompat } from './driver.js';
import { compatStep, hasIpv6 } from './iptables-compat.js';
import type { FirewallMapping, FirewallPartition, FirewallPort, FirewallState } from './model.js';
import { updatePartitionsScript } from './partitions.js';
import { addMappingsScript, addPortsScript, removeMappingsScript, removePortsScript, replaceScript } from './nftables.js';

/**
 * The nftables driver: two tables of nsnet's own, replaced whole on network changes; set
 * elements for container ports; and, when the host's iptables FORWARD chain drops by default,
 * nsnet's NSNET-FORWARD chain there (firewall/iptables-compat.ts). `compat` is asked only when
 * the tables are replaced (it probes the host's iptables, which costs a process).
 */
export function nftablesDriver(
  compat: () => IptablesCompat = () => ({ manage: false, existedBefore: false }),
  compat6: () => IptablesCompat = () => ({ manage: false, existedBefore: false }),
): FirewallDriver {
  return {
    name: 'nftables',
    replace(before: FirewallState, after: FirewallState, summary: string): Step[] {
      const steps: Step[] = [{ kind: 'nft', script: replaceScript(after), undoScript: replaceScript(before), summary }];
      const c = compat();
      if (c.manage) steps.push(compatStep(before, after, c, summary));
      // ip6tables' FORWARD (Docker 27 drops there too): asked only while a network has IPv6.
      if (hasIpv6(before) || hasIpv6(after)) {
        const c6 = compat6();
        if (c6.manage) steps.push(compatStep(before, after, c6, summary, 6));
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
    updatePartitions(before: readonly FirewallPartition[], after: readonly FirewallPartition[], summary: string): Step[] {
      const script = updatePartitionsScript(before, after);
      return script === '' ? [] : [{ kind: 'nft', script, undoScript: updatePartitionsScript(after, before), summary }];
    },
  };
}
