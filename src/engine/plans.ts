import type { FirewallNetwork, FirewallPort, FirewallState } from '../firewall/model.js';
import { COMPAT_CHAIN, COMPAT_FROM, COMPAT_TABLE, compatRules } from '../firewall/iptables-compat.js';
import { addPortsScript, removePortsScript, replaceScript } from '../firewall/nftables.js';
import type { Step } from '../plan/steps.js';

/** What a plan needs to know about a network: already validated, addresses already chosen. */
export interface NetworkSpec extends FirewallNetwork {
  gateway: string;
  prefixLen: number;
  bridgeMac: string;
  mtu: number | undefined;
}

/** One interface of a container on one network. */
export interface EndpointSpec {
  network: NetworkSpec;
  hostIf: string; // host end of the veth pair, enslaved to the bridge
  ifName: string; // eth0, eth1, ... inside the container
  ip: string;
  mac: string;
}

export const IP_FORWARD = 'net.ipv4.ip_forward';

/**
 * Whether to keep nsnet's iptables FORWARD chain (when the host's FORWARD drops by default), and
 * whether it is there now; the ops layer finds out, the planners only use the answer.
 */
export interface IptablesCompat {
  manage: boolean;
  existedBefore: boolean;
}

const NO_COMPAT: IptablesCompat = { manage: false, existedBefore: false };

/** Replace nsnet's nftables tables (and its iptables chain, when kept): the state before gives the undo. */
export function firewallSteps(before: FirewallState, after: FirewallState, summary: string, compat: IptablesCompat = NO_COMPAT): Step[] {
  const steps: Step[] = [{ kind: 'nft', script: replaceScript(after), undoScript: replaceScript(before), summary }];
  if (compat.manage) {
    steps.push({
      kind: 'iptables-chain',
      table: COMPAT_TABLE,
      from: COMPAT_FROM,
      chain: COMPAT_CHAIN,
      rules: compatRules(after.networks),
      undoRules: compat.existedBefore ? compatRules(before.networks) : [],
    });
  }
  return steps;
}

/** Admit a container's ports to the bridge filters; undefined when no rule concerns them. */
export function portsAddStep(ports: readonly FirewallPort[], summary: string): Step | undefined {
  const script = addPortsScript(ports);
  return script === '' ? undefined : { kind: 'nft', script, undoScript: removePortsScript(ports), summary };
}

export function portsRemoveStep(ports: readonly FirewallPort[], summary: string): Step | undefined {
  const script = removePortsScript(ports);
  return script === '' ? undefined : { kind: 'nft', script, undoScript: addPortsScript(ports), summary };
}

export function portOf(ep: EndpointSpec): FirewallPort {
  return { hostIf: ep.hostIf, mac: ep.mac, ip: ep.ip, network: ep.network };
}

/** The article's bridge steps: create it, give it the gateway address, bring it up, then routing and NAT. */
export function planCreateNetwork(net: NetworkSpec, firewallBefore: FirewallState, compat: IptablesCompat = NO_COMPAT): Step[] {
  const steps: Step[] = [
    { kind: 'bridge-add', name: net.bridge, mac: net.bridgeMac, mtu: net.mtu },
    { kind: 'addr-add', dev: net.bridge, address: net.gateway, prefixLen: net.prefixLen },
    { kind: 'link-up', dev: net.bridge },
  ];
  if (!net.internal) steps.push({ kind: 'sysctl', key: IP_FORWARD, value: '1' });
  const after = { ...firewallBefore, networks: [...firewallBefore.networks, net] };
  steps.push(...firewallSteps(firewallBefore, after, `add network ${net.name}`, compat));
  return steps;
}

export function planRemoveNetwork(net: NetworkSpec, firewallBefore: FirewallState, compat: IptablesCompat = NO_COMPAT): Step[] {
  const after = { ...firewallBefore, networks: firewallBefore.networks.filter((n) => n.id !== net.id) };
  return [{ kind: 'link-del', dev: net.bridge }, ...firewallSteps(firewallBefore, after, `remove network ${net.name}`, compat)];
}

/** The veth pair into the container, its address, and the link up: one network's worth of wiring. */
export function planAttach(netns: string, ep: EndpointSpec): Step[] {
  return [
    {
      kind: 'veth-add',
      hostIf: ep.hostIf,
      master: ep.network.bridge,
      peerNs: netns,
      peerIf: ep.ifName,
      peerMac: ep.mac,
      mtu: ep.network.mtu,
    },
    { kind: 'addr-add', ns: netns, dev: ep.ifName, address: ep.ip, prefixLen: ep.network.prefixLen },
    { kind: 'link-up', ns: netns, dev: ep.ifName },
  ];
}

/** The default route goes via the first network that leads outside (internal networks have none). */
export function defaultRouteStep(netns: string, endpoints: readonly EndpointSpec[]): Step | undefined {
  const first = endpoints.find((ep) => !ep.network.internal);
  if (first === undefined) return undefined;
  return { kind: 'route-add', ns: netns, dst: 'default', via: first.network.gateway, dev: first.ifName };
}

/** A container's namespace with loopback up, one interface per network, and its default route. */
export function planCreateContainer(netns: string, endpoints: readonly EndpointSpec[]): Step[] {
  const steps: Step[] = [
    { kind: 'netns-add', name: netns },
    { kind: 'link-up', ns: netns, dev: 'lo' },
  ];
  // The filters know the ports before they exist, so no frame ever passes unchecked.
  const ports = portsAddStep(endpoints.map(portOf), `admit ${netns}`);
  if (ports !== undefined) steps.push(ports);
  for (const ep of endpoints) steps.push(...planAttach(netns, ep));
  const route = defaultRouteStep(netns, endpoints);
  if (route !== undefined) steps.push(route);
  return steps;
}

/**
 * Removing the namespace takes its veth ends with it (and so the host ends): one step, and about
 * ten times faster than deleting each veth (the kernel frees them in one batch).
 */
export function planRemoveContainer(netns: string, endpoints: readonly EndpointSpec[]): Step[] {
  const steps: Step[] = [{ kind: 'netns-del', name: netns, hostIfs: endpoints.map((e) => e.hostIf) }];
  const ports = portsRemoveStep(endpoints.map(portOf), `forget ${netns}`);
  if (ports !== undefined) steps.push(ports);
  return steps;
}

/** Connect: the port is admitted first, then wired. */
export function planConnect(netns: string, ep: EndpointSpec): Step[] {
  const ports = portsAddStep([portOf(ep)], `admit ${netns} ${ep.ifName}`);
  return [...(ports === undefined ? [] : [ports]), ...planAttach(netns, ep)];
}

export function planDetach(netns: string, ep: EndpointSpec): Step[] {
  const steps: Step[] = [{ kind: 'link-del', dev: ep.hostIf }];
  const ports = portsRemoveStep([portOf(ep)], `forget ${netns} ${ep.ifName}`);
  if (ports !== undefined) steps.push(ports);
  return steps;
}
