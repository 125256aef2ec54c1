/**
 * The iptables driver: the compatibility path for hosts where nftables cannot be used. Same
 * behaviour as the nftables driver (isolation between networks, internal networks, ICC off,
 * routed networks, NAT networks closed to routing from outside, anti-spoofing of container
 * ports), written as chains nsnet owns and one jump into each from a built-in chain:
 *
 *   iptables filter  FORWARD     → NSNET-FORWARD   (→ NSNET-ISOLATION)
 *   iptables nat     POSTROUTING → NSNET-POSTROUTING
 *   ebtables nat     PREROUTING  → NSNET-PORTS     (what a container port may send)
 *   ebtables filter  FORWARD     → NSNET-BRIDGED   (ICC off: nothing switched between ports)
 *
 * nsnet never flushes, reorders or edits another chain or rule: each table is written by one
 * `*-restore --noflush` run declaring only nsnet's chains (see kernel/xtables.ts). NSNET-FORWARD
 * is the same chain the nftables driver keeps for coexistence (firewall/iptables-compat.ts): a
 * host runs one driver at a time (the store records which), and each replaces the chain whole.
 *
 * Every iptables rule in nsnet's chains carries `-m comment --comment "nsnet network NAME"`.
 * ebtables has no comment match: its rules are nsnet's by the chain they are in, and each names
 * its container port (`-i nsv...`), which is how a port's rules are found and removed.
 *
 * Rule growth: iptables rules grow with networks. ebtables rules grow with containers (four per
 * anti-spoofed port, one per port on an ICC-off network): unlike nftables, ebtables has no sets
 * keyed by interface. This is the accepted cost of the compatibility driver.
 *
 * Which traffic each family sees: traffic the host routes (between networks, to and from the
 * world) passes iptables FORWARD with the bridges as -i/-o. Traffic between two ports of one
 * bridge is switched: ebtables FORWARD sees it always, iptables FORWARD only with br_netfilter
 * (as -i BR -o BR). Frames from a port to the host (the gateway; routed traffic starts there)
 * pass ebtables INPUT. The rules below hold either way.
 *
 * Anti-spoofing sits in the ebtables nat table's PREROUTING (priority -300), the first thing a
 * frame from a port meets: with br_netfilter the bridge hands IPv4 frames to the IP prerouting
 * hooks (conntrack, other tools' raw/mangle rules) before the ebtables filter chains run, and a
 * forged packet must not even reach those. (nat chains may DROP; libvirt's nwfilter does the same.)
 */
import { NsnetError } from '../core/errors.js';
import type { Step, XtablesJump } from '../plan/steps.js';
import type { FirewallDriver } from './driver.js';
import { COMPAT_CHAIN, COMPAT_FROM } from './iptables-compat.js';
import type { FirewallNetwork, FirewallPort, FirewallState } from './model.js';

/** What the driver needs to know about the host (probed lazily by the caller). */
export interface IptablesHostFacts {
  /** iptables, iptables-save and iptables-restore are installed. */
  iptables: boolean;
  /** ebtables for port rules: the nf_tables variant ('ok'), absent, or the legacy 2.0 one. */
  ebtables: 'ok' | 'missing' | 'legacy';
}

export const FORWARD_CHAIN = COMPAT_CHAIN; // NSNET-FORWARD, shared with the nftables driver's compat chain
export const ISOLATION_CHAIN = 'NSNET-ISOLATION';
export const POSTROUTING_CHAIN = 'NSNET-POSTROUTING';
export const PORTS_CHAIN = 'NSNET-PORTS';
export const BRIDGED_CHAIN = 'NSNET-BRIDGED';

interface TableSpec {
  tool: 'iptables' | 'ebtables';
  table: string;
  chains: readonly string[];
  jumps: readonly XtablesJump[];
}

export const FILTER: TableSpec = {
  tool: 'iptables',
  table: 'filter',
  chains: [FORWARD_CHAIN, ISOLATION_CHAIN],
  jumps: [{ from: COMPAT_FROM, to: FORWARD_CHAIN }],
};
export const NAT: TableSpec = { tool: 'iptables', table: 'nat', chains: [POSTROUTING_CHAIN], jumps: [{ from: 'POSTROUTING', to: POSTROUTING_CHAIN }] };
/** Anti-spoofing: every frame from a container port, before anything else sees it. */
export const PORTS: TableSpec = { tool: 'ebtables', table: 'nat', chains: [PORTS_CHAIN], jumps: [{ from: 'PREROUTING', to: PORTS_CHAIN }] };
/** ICC off: frames switched from a port to another port of its bridge. */
export const BRIDGED: TableSpec = { tool: 'ebtables', table: 'filter', chains: [BRIDGED_CHAIN], jumps: [{ from: 'FORWARD', to: BRIDGED_CHAIN }] };

const comment = (n: FirewallNetwork): string => `-m comment --comment "nsnet network ${n.name}"`;

/**
 * nsnet's filter rules: first every drop (isolation, internal, ICC off, NAT networks closed to
 * new connections from outside), then the accepts that keep nsnet's traffic flowing when the
 * FORWARD policy is DROP. All drops come first so that no network's accept can let through
 * what another network's drop forbids. Null when there are no networks.
 */
export function filterRules(networks: readonly FirewallNetwork[]): string[] | null {
  if (networks.length === 0) return null;
  const drops: string[] = [];
  const accepts: string[] = [];
  const isolation: string[] = [];
  const fwd = (spec: string, n: FirewallNetwork, target: string): string => `-A ${FORWARD_CHAIN} ${spec} ${comment(n)} -j ${target}`;
  for (const n of networks) {
    const br = n.bridge;
    // Whatever leaves another network's bridge for this one is dropped (Docker's isolation stage 2).
    isolation.push(`-A ${ISOLATION_CHAIN} -o ${br} ${comment(n)} -j DROP`);
    if (n.internal) {
      // No way in or out: only traffic that stays on the bridge (seen here with br_netfilter).
      drops.push(fwd(`-i ${br} ! -o ${br}`, n, 'DROP'), fwd(`-o ${br} ! -i ${br}`, n, 'DROP'));
    } else {
      drops.push(fwd(`-i ${br} ! -o ${br}`, n, ISOLATION_CHAIN));
    }
    if (!n.icc) drops.push(fwd(`-i ${br} -o ${br}`, n, 'DROP'));
    if (!n.internal && n.masquerade) {
      // A NATed network is not reachable by routing from outside: only replies come in.
      drops.push(fwd(`-o ${br} ! -i ${br} -m conntrack ! --ctstate RELATED,ESTABLISHED`, n, 'DROP'));
    }
    if (n.internal) {
      accepts.push(fwd(`-i ${br} -o ${br}`, n, 'ACCEPT'));
    } else {
      accepts.push(fwd(`-i ${br}`, n, 'ACCEPT'), fwd(`-o ${br}`, n, 'ACCEPT'));
    }
  }
  return [...drops, ...accepts, ...isolation];
}

/**
 * Docker's masquerade rule: from the subnet, leaving by any interface but the bridge, so nsnet
 * need not know which interface is the uplink. Null when no network masquerades (the nat table
 * is then not touched at all).
 */
export function natRules(networks: readonly FirewallNetwork[]): string[] | null {
  const rules = networks
    .filter((n) => !n.internal && n.masquerade)
    .map((n) => `-A ${POSTROUTING_CHAIN} -s ${n.subnet} ! -o ${n.bridge} ${comment(n)} -j MASQUERADE`);
  return rules.length === 0 ? null : rules;
}

const needsPortRules = (n: Pick<FirewallNetwork, 'icc' | 'antiSpoofing'>): boolean => n.antiSpoofing || !n.icc;

/**
 * A container port's anti-spoofing rules. A container has CAP_NET_ADMIN in its own namespace and
 * can change its address or MAC: every frame whose source MAC, source address or ARP sender is
 * not the one nsnet gave that port is dropped on entry, before another container, the host or
 * the world sees it.
 */
export function spoofRules(ports: readonly FirewallPort[]): string[] {
  return ports
    .filter((p) => p.network.antiSpoofing)
    .flatMap((p) => [
      `-A ${PORTS_CHAIN} -i ${p.hostIf} -s ! ${p.mac} -j DROP`,
      `-A ${PORTS_CHAIN} -i ${p.hostIf} -p IPv4 --ip-src ! ${p.ip} -j DROP`,
      `-A ${PORTS_CHAIN} -i ${p.hostIf} -p ARP --arp-ip-src ! ${p.ip} -j DROP`,
      `-A ${PORTS_CHAIN} -i ${p.hostIf} -p ARP --arp-mac-src ! ${p.mac} -j DROP`,
    ]);
}

/**
 * ICC off: nothing is switched from the port to another port. The host (the gateway) is reached
 * through the bridge's INPUT, not FORWARD, so it stays reachable, and so does the world.
 */
export function iccRules(ports: readonly FirewallPort[]): string[] {
  return ports.filter((p) => !p.network.icc).map((p) => `-A ${BRIDGED_CHAIN} -i ${p.hostIf} -j DROP`);
}

/** Full content of nsnet's ebtables chains for a state; null when no network needs them. */
export function spoofTable(state: FirewallState): string[] | null {
  return state.networks.some((n) => n.antiSpoofing) ? spoofRules(state.ports) : null;
}
export function iccTable(state: FirewallState): string[] | null {
  return state.networks.some((n) => !n.icc) ? iccRules(state.ports) : null;
}

function ebtablesError(facts: IptablesHostFacts, what: string, net: Pick<FirewallNetwork, 'icc' | 'antiSpoofing'>): NsnetError {
  const why = facts.ebtables === 'legacy' ? 'the installed ebtables is the legacy one (nsnet needs the nf_tables variant, ebtables-nft)' : 'ebtables is not installed';
  const needs = [net.antiSpoofing ? 'anti-spoofing' : '', net.icc ? '' : 'ICC off'].filter(Boolean).join(' and ');
  const without = [net.antiSpoofing ? '-o nsnet.bridge.anti_spoofing=false' : '', net.icc ? '' : 'without -o com.docker.network.bridge.enable_icc=false'].filter(Boolean).join(' ');
  const fix = facts.ebtables === 'legacy' ? 'update-alternatives --set ebtables /usr/sbin/ebtables-nft' : "apt-get install -y iptables (Debian's iptables package brings ebtables-nft)";
  return new NsnetError('FIREWALL', `${what} needs ebtables (${needs} filter bridge ports), but ${why}`, {
    hint: `${fix}, or create the network ${without}`,
  });
}

function xtablesStep(spec: TableSpec, rules: readonly string[] | null, undoRules: readonly string[] | null, summary: string): Step {
  return { kind: 'xtables-restore', ...spec, rules, undoRules, summary };
}

export function iptablesDriver(facts: () => IptablesHostFacts): FirewallDriver {
  let known: IptablesHostFacts | undefined;
  const host = (): IptablesHostFacts => (known ??= facts());
  return {
    name: 'iptables',
    replace(before: FirewallState, after: FirewallState, summary: string): Step[] {
      const f = host();
      const removing = after.networks.length === 0;
      if (!removing && !f.iptables) {
        throw new NsnetError('FIREWALL', 'the iptables firewall driver needs iptables, iptables-save and iptables-restore', {
          hint: 'apt-get install -y iptables, or use the nftables driver (--firewall-driver nftables)',
        });
      }
      if (after.networks.some(needsPortRules) && f.ebtables !== 'ok') {
        const n = after.networks.find(needsPortRules)!;
        throw ebtablesError(f, `network ${n.name}`, n);
      }
      const steps: Step[] = [];
      // A table nsnet has nothing in, before or after, is left alone; except when everything is
      // removed (reset): then each table is cleaned whatever the records say, and a table without
      // nsnet's chains costs one read.
      const add = (spec: TableSpec, r: readonly string[] | null, u: readonly string[] | null): void => {
        if (r === null && u === null && !removing) return;
        steps.push(xtablesStep(spec, r, u, summary));
      };
      if (f.iptables) {
        add(FILTER, filterRules(after.networks), filterRules(before.networks));
        add(NAT, natRules(after.networks), natRules(before.networks));
      }
      if (f.ebtables === 'ok') {
        add(PORTS, spoofTable(after), spoofTable(before));
        add(BRIDGED, iccTable(after), iccTable(before));
      }
      return steps;
    },
    addPorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const relevant = ports.filter((p) => needsPortRules(p.network));
      if (relevant.length === 0) return [];
      const f = host();
      if (f.ebtables !== 'ok') throw ebtablesError(f, `container port ${relevant[0]!.hostIf}`, relevant[0]!.network);
      return portSteps('add', relevant, summary);
    },
    removePorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const relevant = ports.filter((p) => needsPortRules(p.network));
      // Without a usable ebtables no port rule can have been made.
      if (relevant.length === 0 || host().ebtables !== 'ok') return [];
      return portSteps('remove', relevant, summary);
    },
  };
}

/** One step per ebtables table that has rules for these ports (most networks: only nat). */
function portSteps(op: 'add' | 'remove', ports: readonly FirewallPort[], summary: string): Step[] {
  const steps: Step[] = [];
  for (const [spec, rules] of [
    [PORTS, spoofRules(ports)],
    [BRIDGED, iccRules(ports)],
  ] as const) {
    if (rules.length === 0) continue;
    const ifaces = [...new Set(rules.map((r) => r.split(' ')[3]!))];
    steps.push({ kind: 'ebtables-ports', op, table: spec.table, chains: spec.chains, jumps: spec.jumps, baseRules: [], ifaces, rules, summary });
  }
  return steps;
}
