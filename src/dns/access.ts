/**
 * Who the responder answers, pure: a query that arrived on a network's gateway is answered only
 * when it comes from an address of a container on that network. Everyone else is no client of
 * nsnet's, and gets nothing from it — no names, no PTR, and above all no forwarding upstream (an
 * open resolver on every gateway is what this closes).
 *
 * - A member of the network (a container endpoint address on it, IPv4 or IPv6, running or still
 *   starting): answered from that network's view (plus the client's other networks, see
 *   answer.ts). Both gateways of a dual-stack network lead to the same view and the same members.
 * - An address of another nsnet network, or a non-member address inside this one (a container on
 *   network B that sends to A's gateway through the host, a stale or hand-added address): REFUSED.
 *   Its source is one of nsnet's own subnets (anti-spoofing keeps a container to its own address),
 *   so a short REFUSED reflects nothing anywhere, and tells a misconfigured resolver at once
 *   instead of after its timeout.
 * - Any other address (the world, the host's uplink side, a routed neighbour, a link-local IPv6
 *   address, which no container is given as its endpoint address): no reply at all.
 *   Over UDP its source may be forged, and even a REFUSED would make every gateway a reflector;
 *   silence also does not advertise a resolver. Over TCP the connection is closed at once.
 *
 * The arrival interface is not checked: Node's UDP sockets do not expose IP_PKTINFO, so the
 * gateway address the socket is bound to (each socket listens on one gateway) is what says which
 * network was asked. A forged member address from elsewhere gets its reply sent to the real
 * member, never back to the forger.
 */
import { address6Int, addressInt, inSubnet, isNsnetAddress, type DnsView, type NetworkView } from './view.js';

export type Access =
  | { kind: 'member'; net: NetworkView }
  /** Answered with REFUSED. */
  | { kind: 'refuse'; why: string }
  | { kind: 'ignore'; why: string };

/** What to do with a client at `client` that asked the responder on `gateway`. */
export function access(view: DnsView, gateway: string, client: string): Access {
  const net = view.byGateway.get(gateway);
  // Members first: one set lookup for every query a container asks (the address is valid by construction).
  if (net !== undefined && net.members.has(client)) return { kind: 'member', net };
  if (addressInt(client) === undefined && address6Int(client) === undefined) return { kind: 'ignore', why: `not an IP address: "${client}"` };
  if (!isNsnetAddress(view, client)) return { kind: 'ignore', why: `${client} is outside every nsnet network` };
  if (net === undefined) return { kind: 'refuse', why: `no DNS-enabled network has the gateway ${gateway}` };
  return {
    kind: 'refuse',
    why: inSubnet(net, client) ? `${client} is no container of network ${net.name}` : `${client} is not on network ${net.name} (${subnetsText(net)})`,
  };
}

function subnetsText(net: NetworkView): string {
  return [net.subnet, net.subnet6].flatMap((s) => (s === null ? [] : [s.text])).join(', ');
}
