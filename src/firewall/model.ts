/** What the firewall needs to know: networks and the container ports on their bridges. */
export interface FirewallNetwork {
  name: string;
  id: string;
  bridge: string;
  /** Canonical IPv4 CIDR; null on an IPv6-only network. */
  subnet: string | null;
  /** Canonical IPv6 CIDR; null when the network has no IPv6. */
  subnet6: string | null;
  internal: boolean;
  /** Containers on the network may talk to each other (com.docker.network.bridge.enable_icc). */
  icc: boolean;
  /** Outbound traffic is masqueraded (com.docker.network.bridge.enable_ip_masquerade). */
  masquerade: boolean;
  /** Frames from a container port must carry its own MAC and address (nsnet.bridge.anti_spoofing). */
  antiSpoofing: boolean;
}

/** One container interface: the host end of its veth, and what it may send. */
export interface FirewallPort {
  hostIf: string;
  mac: string;
  /** Null on an IPv6-only network. */
  ip: string | null;
  /** The global IPv6 address; null when the network has no IPv6 (the link-local one follows from mac). */
  ip6: string | null;
  network: Pick<FirewallNetwork, 'icc' | 'antiSpoofing'>;
}

/**
 * A published port: host (address or every address) → container address. One family per
 * mapping, its containerIp's: a dual-stack container's `-p 8080:80` is two mappings.
 */
export interface FirewallMapping {
  hostIp: string | undefined;
  hostPort: number;
  proto: 'tcp' | 'udp' | 'sctp';
  containerIp: string;
  containerPort: number;
  /** The container's name, for rule comments (the iptables driver's); optional. */
  container?: string | undefined;
}

export interface FirewallState {
  networks: readonly FirewallNetwork[];
  ports: readonly FirewallPort[];
  /** Published ports (absent = none). */
  mappings?: readonly FirewallMapping[] | undefined;
  /** Partitions (absent = none): see firewall/partitions.ts. */
  partitions?: readonly FirewallPartition[] | undefined;
}

/** A partition as the firewall sees it: the (source, destination) address pairs it drops. */
export interface FirewallPartition {
  name: string;
  pairs: ReadonlyArray<readonly [string, string]>;
}

/**
 * Every container port nsnet makes (the host end of a veth, enslaved to an nsnet bridge) is named
 * `nsv` + 12 hex (engine/ids.ts, vethNameFor). Rules that concern every container port whatever
 * its network's options match this prefix (`iifname "nsv*"`, ebtables `-i nsv+`): one rule, no
 * per-container elements, and the kernel's `meta ibrname` (bridge name) is not on every kernel.
 */
export const PORT_NAME_PREFIX = 'nsv';

export const EMPTY_FIREWALL: FirewallState = { networks: [], ports: [], mappings: [] };
