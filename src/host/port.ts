/**
 * The host, as the operations see it: one port for everything nsnet reads from the machine and
 * for the few effects that are not kernel steps (processes, the lock, background processes).
 * Kernel *changes* go through the step runner (src/plan); everything else an operation needs
 * from the operating system goes through this interface. src/kernel implements it for real
 * (KernelHost, src/host/kernel-host.ts); unit tests use an in-memory FakeHost
 * (test/helpers/fake-host.ts), so every operation can be tried — failure and crash at every
 * step — without root and in milliseconds.
 *
 * A namespace argument `ns` is a name under /run/netns (a container's) or an absolute path (a
 * runtime's namespace, for CNI); absent means the host's own network namespace.
 */
import type { Confinement } from '../core/unshare.js';
import type { AddrInfo, Finished, LaunchSpec, LinkInfo, MonitorOptions, QdiscFacts, RouteInfo, Started } from '../kernel/api.js';

export type { AddrInfo, Finished, LaunchSpec, LinkInfo, MonitorOptions, QdiscFacts, RouteInfo, Started };

/** A socket bound on the host: what can hold a port nsnet is asked to publish. */
export interface Listener {
  proto: 'tcp' | 'udp';
  /** undefined = every address (0.0.0.0 or ::). */
  address: string | undefined;
  port: number;
  inode: number;
}

export type EbtablesSupport = 'ok' | 'missing' | 'legacy';

/** Which namespace a path leads to: equal pairs, one namespace, whatever paths were taken. */
export interface NetnsIdentity {
  dev: number;
  ino: number;
}

/** Network facts of the host or of one namespace. */
export interface NetworkFacts {
  /** One link by name (a single request, not a dump), or undefined. */
  link(name: string, ns?: string): LinkInfo | undefined;
  links(ns?: string): LinkInfo[];
  addresses(ns?: string, family?: 4 | 6): AddrInfo[];
  /** The main routing table. */
  routes(ns?: string, family?: 4 | 6): RouteInfo[];
  /** Whether a namespace is there: /run/netns/NAME mounted, or a runtime's path present. */
  netnsExists(ns: string): boolean;
  /** Whether /run/netns/NAME is a mounted namespace (not just a leftover file). */
  isMountedNetns(name: string): boolean;
  /** The identity of namespace `ns` (of the host's own when absent), or undefined when nothing is there. */
  netnsIdentity(ns?: string): NetnsIdentity | undefined;
  /** A sysctl's value in the host (or `ns`); undefined when the key does not exist there. */
  sysctl(key: string, ns?: string): string | undefined;
  /** The impairment a link's root qdiscs make (netem set), read back; undefined when the link is not there. */
  impairment(dev: string, ns?: string): QdiscFacts | undefined;
  /** Mount points at or under `dir` in nsnet's mount namespace, deepest first (a container's root from an image). */
  mountsUnder(dir: string): string[];
}

/** Processes: containers' init processes, nsnet's own background processes. */
export interface ProcessFacts {
  /** The start time of a PID (field 22 of /proc/PID/stat); undefined when it is gone. */
  startTime(pid: number): string | undefined;
  /** Whether the process that had this start time still runs (a reused PID does not count). */
  isAlive(pid: number, startTime: string): boolean;
  /** fn, with isAlive answered from one look at every process known alive, taken now (a listing's many questions). */
  livenessSnapshot<T>(fn: () => T): T;
  /** Sockets bound on the host, from /proc/net. */
  listeners(): Listener[];
  /** The process holding a socket, when visible. */
  socketHolder(inode: number): { pid: number; command: string } | undefined;
  /** The kernel's ephemeral port range (net.ipv4.ip_local_port_range). */
  ephemeralPortRange(): [number, number];
}

/** What is there to build a firewall with, and what others have built. */
export interface FirewallFacts {
  /** libnftables (or the nft tool) usable. */
  nftUsable(): boolean;
  nftBackend(): 'libnftables' | 'nft';
  /** A table as `nft list table FAMILY NAME` prints it, or undefined when there is none. */
  nftTable(family: string, name: string): string | undefined;
  /** `nft ARGS...`'s output (doctor's view of other tables). */
  nftOutput(args: string[]): string;
  /** The iptables tools (iptables-save/-restore) are there and answer. */
  iptablesAvailable(): boolean;
  /** Family 6: in ip6tables. */
  iptablesChainExists(table: string, chain: string, family?: 4 | 6): boolean;
  /** The host's iptables (family 6: ip6tables) FORWARD chain drops what nsnet forwards (policy DROP, as Docker leaves it). */
  iptablesForwardDrops(family?: 4 | 6): boolean;
  ebtablesSupport(): EbtablesSupport;
  /** A command found on PATH. */
  onPath(cmd: string): boolean;
}

/** Effects that are not kernel steps: they have no by-hand undo, so they are not in a plan. */
export interface ProcessControl {
  /** Start a detached container under its monitor (output to logPath, its end to monitor.stateDir). */
  launchDetached(spec: LaunchSpec, logPath: string, monitor: MonitorOptions): Promise<Started | Finished>;
  launchForeground(spec: LaunchSpec): Promise<{ started: Started | undefined; exit: Promise<number> }>;
  /** `confinement`: the container's capabilities and root filesystem, which exec's process gets too. */
  execInContainer(pid: number, argv: readonly string[], env: Readonly<Record<string, string>>, confinement: Confinement): Promise<number>;
  /** SIGTERM, then SIGKILL after graceMs; how it ended. A PID whose start time differs is left alone. */
  stopProcess(pid: number, startTime: string, graceMs: number): 'term' | 'kill' | 'gone';
  sendSignal(pid: number, startTime: string, signal: NodeJS.Signals): void;
  /** SIGKILL every process in a namespace and wait until none is left; the PIDs signalled. */
  killNetnsProcesses(ns: string): number[];
  /** Start `node SCRIPT ARGS...` detached in its own session, output to logPath; its PID. */
  spawnDaemon(script: string, args: readonly string[], logPath: string): number;
  /** bin/nsnet of this installation, for background processes. */
  nsnetCli(): string;
  sleep(ms: number): void;
}

/** A host-wide lock file; released by the kernel when its holder dies. */
export interface HostLock {
  release(): void;
}

export interface Locks {
  acquire(path: string, opts: { timeoutMs: number; onWait?: () => void }): HostLock;
}

/**
 * A scratch network namespace to build a firewall in and list it back, so `system check`
 * compares the kernel's own text for what is there with what the records give.
 */
export interface FirewallScratch {
  /** Run the nft scripts in a fresh namespace and return nsnet's tables as listed there. */
  renderNftTables(scripts: readonly string[], tables: ReadonlyArray<{ family: string; name: string }>): string;
}

export interface Host extends NetworkFacts, ProcessFacts, FirewallFacts, ProcessControl, Locks, FirewallScratch {}

/** Where `ip netns add NAME` mounts a namespace (a runtime's absolute path stays as it is). */
export const NETNS_RUN_DIR = '/run/netns';
export const netnsPath = (ref: string): string => (ref.startsWith('/') ? ref : `${NETNS_RUN_DIR}/${ref}`);
export const isNetnsPath = (ref: string): boolean => ref.startsWith('/');
