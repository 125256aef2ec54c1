/**
 * The contract between nsnet and the operating system. Everything that touches the kernel lives in
 * src/kernel and is reached through these functions; nothing else imports koffi or child_process.
 *
 * Namespaces: "the host" is the network namespace nsnet itself runs in (tests run nsnet inside a
 * sandbox namespace with nsenter). A container namespace is named and bind-mounted at
 * /run/netns/NAME exactly as `ip netns add NAME` does, so `ip netns exec NAME ...` works.
 *
 * Netlink: a socket stays bound to the namespace it was created in, so a socket for a container is
 * opened by switching the calling thread into the namespace (setns is per thread), creating the
 * socket and switching straight back.
 */
import type { Privileges } from '../core/capabilities.js';
import type { RestartPolicy } from '../core/restart-policy.js';
import type { Netem } from '../core/netem.js';

export interface LinkInfo {
  index: number;
  name: string;
  kind: string | undefined; // 'bridge', 'veth', undefined for physical/loopback
  mtu: number;
  up: boolean; // IFF_UP
  mac: string | undefined; // lower-case aa:bb:cc:dd:ee:ff
  masterIndex: number | undefined;
  /** A bridge port's hairpin mode (`bridge link` prints "hairpin on"); absent when not a bridge port. */
  hairpin?: boolean | undefined;
}

export interface AddrInfo {
  index: number; // interface index
  family: 4 | 6;
  address: string; // dotted quad or IPv6 text
  prefixLen: number;
}

export interface RouteInfo {
  family: 4 | 6;
  dst: string | undefined; // undefined = default route
  dstLen: number;
  gateway: string | undefined;
  oif: number | undefined;
  table: number;
}

export interface VethOpts {
  hostName: string;
  peerName: string;
  peerNetnsFd: number;
  mtu?: number;
  masterIndex?: number;
  up?: boolean;
  peerMac?: string;
  hostMac?: string;
  /** Only for error messages: the peer namespace's name, for the by-hand command. */
  peerNetnsName?: string;
  /**
   * The namespace of the first end (`hostName`), when it is not this socket's own: a
   * point-to-point link between two containers. Then no index is returned (it means nothing here).
   */
  netnsFd?: number;
  /** Only for error messages: that namespace's name. */
  netnsName?: string;
}

/**
 * A link over a lower device (macvlan in bridge mode, ipvlan l2/l3) or a dummy: `lowerIndex` is the
 * parent's index in this socket's namespace; with `netnsFd` the link is created directly inside
 * that namespace. Equivalent: ip link add link PARENT name NAME [netns NS] [address MAC] type macvlan mode bridge
 */
export interface LowerLinkOpts {
  name: string;
  kind: 'macvlan' | 'ipvlan' | 'dummy';
  lowerIndex?: number;
  netnsFd?: number;
  /** For error messages: `link PARENT ... netns NS`. */
  lowerName?: string;
  netnsName?: string;
  mac?: string;
  mtu?: number;
  ipvlanMode?: 'l2' | 'l3';
}

/** A netlink route socket bound to one network namespace. Synchronous: every call waits for the ACK. */
export interface Rtnl {
  close(): void;
  listLinks(): LinkInfo[];
  getLink(name: string): LinkInfo | undefined;
  listAddrs(family?: 4 | 6): AddrInfo[];
  listRoutes(family?: 4 | 6): RouteInfo[]; // main table only
  /** Create a bridge; fails with EEXIST when the name exists. */
  createBridge(opts: { name: string; mtu?: number; mac?: string; up?: boolean }): number; // returns ifindex
  /**
   * Create a veth pair: `hostName` in this socket's namespace (optionally enslaved to masterIndex and
   * up), and its peer `peerName` created directly inside the namespace given by peerNetnsFd.
   * Equivalent: ip link add HOST [mtu M] [master BR] [up] type veth peer name PEER netns NS [address MAC]
   */
  createVeth(opts: VethOpts): number; // returns host-side ifindex
  /** Create a macvlan, ipvlan or dummy link (see LowerLinkOpts); EEXIST when the name is taken. */
  createLowerLink(opts: LowerLinkOpts): void;
  setLinkUp(index: number, up: boolean): void;
  setMaster(index: number, masterIndex: number | 0): void;
  setMtu(index: number, mtu: number): void;
  /**
   * A bridge port's hairpin mode: whether a frame may leave by the port it came in on.
   * Equivalent: bridge link set dev PORT hairpin on|off
   */
  setHairpin(index: number, on: boolean): void;
  /** Delete a link; "already gone" (ENODEV) is success. */
  deleteLink(name: string): void;
  /** Add an IPv4 address with the subnet's broadcast; EEXIST is returned as an error. */
  addAddr(index: number, address: string, prefixLen: number, opts?: { nodad?: boolean }): void;
  delAddr(index: number, address: string, prefixLen: number): void;
  /** Add a route in the main table. dst undefined = default route. */
  addRoute(opts: { dst?: string; dstLen?: number; gateway?: string; oif?: number }): void;
  delRoute(opts: { dst?: string; dstLen?: number; gateway?: string; oif?: number }): void;
  /**
   * Make `netem` the link's impairment (its root qdiscs, see core/netem.ts qdiscParts), replacing
   * whatever root qdisc it had; an empty impairment puts the default back. `dev` names the link in
   * errors. Equivalent: tc qdisc del dev DEV root; tc qdisc add dev DEV root netem ... (or tbf ...)
   */
  setImpairment(index: number, netem: Netem, dev: string): void;
  /** The impairment a link's qdiscs make, read back (see QdiscFacts). Equivalent: tc qdisc show dev DEV */
  getImpairment(index: number): QdiscFacts;
}

/** A link's root qdiscs as nsnet reads them back: their kinds, root first (none: the default), and the impairment they make. */
export interface QdiscFacts {
  kinds: string[];
  netem: Netem;
}

/** What starts a container's process (kernel/process.ts). */
export interface LaunchSpec {
  /** A named namespace to enter; undefined: the one nsnet runs in (--network host), no setns at all. */
  netns: string | undefined;
  hostname: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  rootfs?: string | undefined;
  /** Inside rootfs: the working directory and the numeric UID[:GID] (see core/unshare.ts). */
  workdir?: string | undefined;
  user?: string | undefined;
  /** Its capabilities (and no_new_privs), or --privileged; absent: Docker's default set. */
  privileges?: Privileges | undefined;
  /**
   * Start through `ip netns exec NAME`, which gives the process a mount namespace with
   * /etc/netns/NAME/* (resolv.conf, hosts) bind-mounted over /etc. This cannot be done by nsnet's
   * main thread as the other namespaces are: unshare(CLONE_NEWNS) fails (EINVAL) in a
   * multi-threaded process. It costs one exec of ip (a few ms); exec's nsenter --mount sees the same files.
   */
  etcNetns?: boolean | undefined;
}

/** A process that is running: its PID and start time (to recognise a reused PID later). */
export interface Started {
  /** The container's init process (PID 1 inside), as the host sees it. */
  pid: number;
  /** Its start time (field 22 of /proc/PID/stat), to recognise a reused PID later. */
  startTime: string;
  /** The monitor that is its parent (a detached container's); absent when nothing watches it. */
  monitor?: { pid: number; startTime: string } | undefined;
}

/** How the monitor of a detached container runs it (native/nsnet-monitor.c). */
export interface MonitorOptions {
  /** The container's directory under the state root: the monitor writes state.json there. */
  stateDir: string;
  /** run --restart: the policy the monitor applies when the command ends. */
  restart: RestartPolicy;
  /**
   * run --rm (Docker's AutoRemove) of a detached container: once its run has ended, by itself or
   * by stop, the monitor has this nsnet remove it (`rm -f` of the container with this id, in this
   * state root); what a failed removal says goes to logPath.
   */
  removeOnExit?: { containerId: string; root: string; logPath: string } | undefined;
}

/** A process that finished before nsnet saw it running (`run -d true`). */
export interface Finished {
  exitCode: number;
  /** Its monitor, which goes on with a restart policy. */
  monitor?: { pid: number; startTime: string } | undefined;
}
