/** Typed records as the rest of nsnet sees them; src/store maps them to and from SQL rows. */
import type { RestartPolicyName } from '../core/restart-policy.js';

export type { RestartPolicyName };

export interface NetworkRecord {
  id: string;
  name: string;
  /** Kernel bridge device name. */
  bridge: string;
  /** Canonical CIDR text, e.g. "172.17.0.0/16"; null on an IPv6-only network (--ipv4=false). */
  subnet: string | null;
  /** Null exactly when subnet is. */
  gateway: string | null;
  ipRange: string | null;
  internal: boolean;
  mtu: number | null;
  options: Record<string, string>;
  labels: Record<string, string>;
  isDefault: boolean;
  /** ISO 8601. */
  created: string;
  /** Last address handed out, as an integer; round-robin allocation continues after it. */
  ipamCursor: number | null;
  /** --aux-address: name → address IPAM never hands out (Docker's AuxiliaryAddresses). */
  auxAddresses?: Record<string, string>;
  /** --attachable: recorded for Docker's inspect; every nsnet network takes containers anyway. */
  attachable?: boolean;
  /** -d/--driver (default bridge). */
  driver?: string;
  /** The IPv6 subnet, canonical (2001:db8:30::/64); null when IPv6 is off (Docker's EnableIPv6 false). */
  subnet6?: string | null;
  /** Null exactly when subnet6 is. */
  gateway6?: string | null;
  ipRange6?: string | null;
  /** Last IPv6 address handed out, as a decimal integer string (128 bits do not fit a number). */
  ipamCursor6?: string | null;
}

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerRecord {
  id: string;
  name: string;
  hostname: string;
  command: string[];
  env: Record<string, string>;
  rootfs: string | null;
  detached: boolean;
  status: ContainerStatus;
  pid: number | null;
  /** Field 22 of /proc/PID/stat when started; a different value means the PID was reused. */
  pidStart: string | null;
  exitCode: number | null;
  logPath: string;
  created: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Path of the bind-mounted namespace, e.g. /run/netns/<name>; a runtime's own path for CNI. */
  netns: string;
  /**
   * Set when a container runtime attached this container through CNI (nsnet-cni): the runtime's
   * container id. nsnet then owns only the attachments, never the namespace or the process.
   */
  cniContainerId: string | null;
  /** The runtime that attached it through CNI (the plugin caller's command name, e.g. podman). */
  runtime: string | null;
  /** --cap-add and --cap-drop, normalised (CAP_NET_ADMIN, ALL); see core/capabilities.ts. */
  capAdd: string[];
  capDrop: string[];
  /** --privileged: every capability, no no_new_privs. */
  privileged: boolean;
  /** --sysctl KEY=VALUE, applied in the container's network namespace (validated: see engine/sysctls.ts). */
  sysctls?: Record<string, string>;
  /** --expose, normalised to "PORT/PROTO". */
  exposedPorts?: string[];
  /** -P/--publish-all: every exposed port published on a free host port. */
  publishAll?: boolean;
  /**
   * --network host, none or container:NAME (stored as container:<id>); null or absent: the
   * container is on nsnet's networks (its endpoints). See engine/netmode.ts.
   */
  networkMode?: NetworkMode | null;
  /** --link NAME[:ALIAS] (legacy): the linked container's name and the alias it answers to on the default network. */
  links?: ContainerLink[];
  /** run -p specs as given (Docker's PortBindings); null or absent for containers made before migration 11. */
  publishSpecs?: string[] | null;
  /**
   * The monitor of a detached container (native/nsnet-monitor.c): its PID and start time; null for
   * a foreground container and for one started before nsnet had monitors.
   */
  monitorPid?: number | null;
  monitorStart?: string | null;
  /** run --restart: Docker's policy name (no, on-failure, always, unless-stopped) and its maximum retry count. */
  restartPolicy?: RestartPolicyName;
  restartMax?: number;
  /** The restarts the monitor had made when nsnet last recorded the container's end. */
  restartCount?: number;
  /** Stopped by `nsnet stop` (Docker's HasBeenManuallyStopped): system boot leaves an unless-stopped one stopped. */
  manuallyStopped?: boolean;
  /** Made from an image (run/create --image): the image's id (sha256:...) and the reference as given (Docker's Config.Image). */
  imageId?: string | null;
  imageRef?: string | null;
  /** The overlay's lower directories, top first (the image's layers); null without an image. */
  imageLayers?: string[] | null;
  /** Docker's Config.Entrypoint: run before `command` (which is Config.Cmd); null: none. */
  entrypoint?: string[] | null;
  /** Docker's Config.WorkingDir (absolute, inside the root filesystem); null: /. */
  workingDir?: string | null;
  /** Docker's Config.User: UID[:GID] (numeric); null: root. */
  user?: string | null;
  labels?: Record<string, string>;
  /** --rm as Docker's HostConfig.AutoRemove. */
  autoRemove?: boolean;
}

export interface ContainerLink {
  name: string;
  alias: string;
}

/** Docker's network modes other than networks: the host's namespace, loopback only, or another container's. */
export type NetworkMode = 'host' | 'none' | `container:${string}`;

export interface EndpointRecord {
  id: string;
  networkId: string;
  containerId: string;
  /** Interface name inside the container, e.g. eth0. */
  ifName: string;
  /** Host-side veth name. */
  hostIf: string;
  /** Null on an IPv6-only network. */
  ip: string | null;
  ipInt: number | null;
  mac: string;
  created: string;
  /** The global IPv6 address (canonical text), null when the network has no IPv6. */
  ip6?: string | null;
  /** The IPv6 address the user asked for (--ip6), null or undefined when IPAM picked it. */
  requestedIp6?: string | null;
  /** Names this container also answers to on this network only (network connect --alias, --link). */
  aliases?: string[];
  /** The address the user asked for (--ip), null or undefined when IPAM picked it. */
  requestedIp?: string | null;
}

export interface JournalRecord {
  id: number;
  op: string;
  steps: unknown;
  created: string;
}

export interface PortRecord {
  endpointId: string;
  containerId: string;
  /** null = every host address. */
  hostIp: string | null;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp' | 'sctp';
}
