/**
 * `nsnet inspect`: a container's records in the shape of Docker's ContainerInspect (Engine API
 * 1.41), key for key where nsnet has the thing; where it has none, Docker's own empty value as
 * Docker prints it (null, "", {} or []), never made-up data. test/unit/inspect-shape.test.ts lists
 * every key of Docker's schema and which ones nsnet deliberately lacks. Pure: records in, objects out.
 */
import { modeNetworkSettings } from './netmode.js';
import { netemWords } from '../core/netem.js';
import type { ContainerRecord, DnsConfig, EndpointRecord, InterfaceState, NetworkRecord } from '../store/index.js';
import { parsePortSpec, portsView, type PortMapping } from './ports.js';
import { isParentDriver } from './vlan-drivers.js';

export interface LiveState {
  status: 'created' | 'running' | 'exited';
  pid: number;
  exitCode: number | null;
  /** The init's start time, to signal it safely (absent when nothing runs). */
  pidStart?: string | undefined;
  /** Docker's State.Restarting: the monitor waits out the back-off before the next run (status stays running, as Docker's Running). */
  restarting?: boolean | undefined;
  /** When the current (or last) run started and ended, as the monitor saw them; absent: the record's. */
  startedAt?: string | null | undefined;
  finishedAt?: string | null | undefined;
  restartCount?: number | undefined;
  /** The container's monitor is gone: its end will not be recorded (nsnet says so rather than guessing). */
  monitorLost?: boolean | undefined;
}

/** What the store keeps about a container besides its record, endpoints and ports. */
export interface ContainerFacts {
  /**
   * --dns, --dns-search, --dns-option, --add-host, and names on every network (a lab container's
   * name in the file; the --network-alias of a container made before aliases were per network);
   * undefined when none given.
   */
  dns?: DnsConfig | undefined;
  /** Impairments and held-down links of its interfaces (netem set, link down). */
  interfaces?: readonly InterfaceState[] | undefined;
  /** Its point-to-point links (nsnet link add), this container's end first. */
  pointToPoint?: readonly PointToPointView[] | undefined;
}

/** nsnet's own `NetworkSettings.PointToPoint` entry: one link, as seen from this container. */
export interface PointToPointView {
  InterfaceName: string;
  /** With its prefix (10.0.12.1/30); "" without an address. */
  Address: string;
  PeerContainer: string;
  PeerInterface: string;
  PeerAddress: string;
}

type Attached = { network: NetworkRecord; endpoint: EndpointRecord };

/** A CIDR's prefix length; 0 for none (Docker's zero value for a family the network lacks). */
export const prefixOf = (cidr: string | null | undefined): number => (cidr == null ? 0 : Number(cidr.split('/')[1]));

/** State.Error of a container whose monitor died: its exit code and finish time will not be known. */
export const MONITOR_LOST = 'the container\'s monitor is gone: nsnet cannot record its exit code';

/** Docker's "never" time, for a container that has not started or finished. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

const nullIfEmpty = <T>(list: readonly T[]): T[] | null => (list.length > 0 ? [...list] : null);

export function containerView(
  c: ContainerRecord,
  live: LiveState,
  endpoints: readonly Attached[],
  ports: readonly PortMapping[] = [],
  facts: ContainerFacts = {},
): Record<string, unknown> {
  // nsnet's own addition: who owns a container attached through CNI.
  const runtime = c.cniContainerId == null ? {} : { Runtime: { Kind: 'cni', Name: c.runtime ?? '', ContainerID: c.cniContainerId } };
  return {
    Id: c.id,
    ...runtime,
    Created: c.created,
    // Entrypoint then Cmd, as Docker's Path and Args.
    Path: [...(c.entrypoint ?? []), ...c.command][0] ?? '',
    Args: [...(c.entrypoint ?? []), ...c.command].slice(1),
    State: {
      Status: live.restarting === true ? 'restarting' : live.status,
      Running: live.status === 'running',
      Paused: false,
      Restarting: live.restarting === true,
      OOMKilled: false,
      Dead: false,
      Pid: live.pid,
      // Unknown (the monitor is gone): Docker's "no exit code" is 0 too, and Error says why.
      ExitCode: live.exitCode ?? 0,
      Error: live.monitorLost === true ? MONITOR_LOST : '',
      StartedAt: (live.startedAt === undefined ? c.startedAt : live.startedAt) || ZERO_TIME,
      FinishedAt: (live.finishedAt === undefined ? c.finishedAt : live.finishedAt) || ZERO_TIME,
    },
    // The image's id (sha256:...); "" for a container of the host's programs or of --rootfs.
    Image: c.imageId ?? '',
    Name: `/${c.name}`,
    LogPath: c.logPath,
    RestartCount: live.restartCount ?? c.restartCount ?? 0,
    Platform: 'linux',
    ...graphDriverOf(c),
    Config: configView(c, ports),
    HostConfig: hostConfigView(c, endpoints, ports, facts.dns),
    // nsnet's own addition, only with links: NetworkSettings.PointToPoint.
    NetworkSettings: { ...networkSettingsView(c, endpoints, ports, facts.dns, facts.interfaces ?? []), ...((facts.pointToPoint ?? []).length > 0 ? { PointToPoint: [...facts.pointToPoint!] } : {}) },
  };
}

/**
 * A container from an image: its overlay as Docker's overlay2 shows it (the lower directories top
 * first, its own upper and work directories beside the merged one). Left out without an image.
 */
function graphDriverOf(c: ContainerRecord): Record<string, unknown> {
  if (c.imageLayers == null || c.rootfs === null) return {};
  const dir = c.rootfs.replace(/\/merged$/, '');
  return { GraphDriver: { Name: 'overlay2', Data: { LowerDir: c.imageLayers.join(':'), MergedDir: c.rootfs, UpperDir: `${dir}/upper`, WorkDir: `${dir}/work` } } };
}

/** Docker's "PORT/PROTO" keys of every published and --expose'd port. */
function exposedPorts(c: ContainerRecord, ports: readonly PortMapping[]): string[] {
  return [...new Set([...ports.map((m) => `${m.containerPort}/${m.proto}`), ...(c.exposedPorts ?? [])])];
}

function configView(c: ContainerRecord, ports: readonly PortMapping[]): Record<string, unknown> {
  const exposed = exposedPorts(c, ports);
  return {
    Hostname: c.hostname,
    Domainname: '',
    // -u or the image's User; "" is root, as Docker's.
    User: c.user ?? '',
    // A foreground run has its output on the terminal, as `docker run` without -d attaches it.
    AttachStdin: false,
    AttachStdout: !c.detached,
    AttachStderr: !c.detached,
    // Docker leaves ExposedPorts out when there are none (omitempty).
    ...(exposed.length > 0 ? { ExposedPorts: Object.fromEntries(exposed.map((p) => [p, {}])) } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    // The image's variables with -e over them.
    Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
    Cmd: c.command,
    // The reference as given to --image.
    Image: c.imageRef ?? '',
    Volumes: null,
    WorkingDir: c.workingDir ?? '',
    Entrypoint: c.entrypoint ?? null,
    OnBuild: null,
    Labels: { ...(c.labels ?? {}) },
    // nsnet's own addition: the directory a container is chrooted into (--rootfs).
    Rootfs: c.rootfs,
  };
}

function hostConfigView(c: ContainerRecord, endpoints: readonly Attached[], ports: readonly PortMapping[], dns: DnsConfig | undefined): Record<string, unknown> {
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  // -p as the user gave it ("" for a host address or port left to nsnet; -P's ports are not
  // bindings); a container made before nsnet kept the specs shows the ports it holds.
  const given = c.publishSpecs == null ? ports : c.publishSpecs.flatMap(parsePortSpec);
  for (const m of given) {
    (bindings[`${m.containerPort}/${m.proto}`] ??= []).push({ HostIp: m.hostIp ?? '', HostPort: m.hostPort === undefined ? '' : String(m.hostPort) });
  }
  const sysctls = c.sysctls ?? {};
  return {
    // host, none or container:<id> as run --network gave it; else the first network's name.
    NetworkMode: c.networkMode ?? endpoints[0]?.network.name ?? 'none',
    PortBindings: bindings,
    RestartPolicy: { Name: c.restartPolicy ?? 'no', MaximumRetryCount: c.restartMax ?? 0 },
    CapAdd: nullIfEmpty(c.capAdd),
    CapDrop: nullIfEmpty(c.capDrop),
    // Docker prints these three as [] and ExtraHosts as null when none was given.
    Dns: [...(dns?.servers ?? [])],
    DnsOptions: [...(dns?.options ?? [])],
    DnsSearch: [...(dns?.search ?? [])],
    ExtraHosts: nullIfEmpty((dns?.extraHosts ?? []).map(([name, ip]) => `${name}:${ip}`)),
    // Docker's form of --link NAME:ALIAS: "/NAME:/THIS/ALIAS".
    Links: nullIfEmpty((c.links ?? []).map((l) => `/${l.name}:/${c.name}/${l.alias}`)),
    Privileged: c.privileged,
    PublishAllPorts: c.publishAll ?? false,
    AutoRemove: c.autoRemove ?? false,
    // Docker leaves Sysctls out when there are none (omitempty).
    ...(Object.keys(sysctls).length > 0 ? { Sysctls: { ...sysctls } } : {}),
  };
}

/** Docker's EndpointSettings for one network. */
/** Docker's IPAMConfig: the static addresses the user asked for (--ip, --ip6), null when IPAM chose both. */
function ipamConfigOf(endpoint: EndpointRecord): Record<string, string> | null {
  const config: Record<string, string> = {};
  if (endpoint.requestedIp != null) config['IPv4Address'] = endpoint.requestedIp;
  if (endpoint.requestedIp6 != null) config['IPv6Address'] = endpoint.requestedIp6;
  return Object.keys(config).length === 0 ? null : config;
}

function endpointView(c: ContainerRecord, { network, endpoint }: Attached, dns: DnsConfig | undefined, state: InterfaceState | undefined): Record<string, unknown> {
  // The names it answers to there besides its own, in Docker 20.10's order: its aliases (the names
  // it has on every network — a lab container's name in the file — then this network's own: run
  // --network-alias on its first network, the API's EndpointsConfig[NET].Aliases, connect --alias),
  // then its short id and a --hostname other than its name. Docker lists them on user networks
  // only; nsnet resolves them on the default one too.
  const shortId = /^[0-9a-f]{12}/.test(c.id) ? [c.id.slice(0, 12)] : [];
  const hostname = c.hostname !== c.name ? [c.hostname] : [];
  const aliases = [...new Set([...(dns?.aliases ?? []), ...(endpoint.aliases ?? []), ...shortId, ...hostname])];
  return {
    IPAMConfig: ipamConfigOf(endpoint),
    Links: null,
    Aliases: nullIfEmpty(aliases),
    NetworkID: network.id,
    EndpointID: endpoint.id,
    Gateway: network.gateway ?? '',
    IPAddress: endpoint.ip ?? '',
    IPPrefixLen: endpoint.ip == null ? 0 : prefixOf(network.subnet),
    IPv6Gateway: network.gateway6 ?? '',
    GlobalIPv6Address: endpoint.ip6 ?? '',
    GlobalIPv6PrefixLen: endpoint.ip6 == null ? 0 : prefixOf(network.subnet6),
    MacAddress: endpoint.mac,
    DriverOpts: null,
    // nsnet's own additions: the interface in the container and its host-side peer.
    InterfaceName: endpoint.ifName,
    HostInterface: endpoint.hostIf,
    // ... and what nsnet set on that interface: its impairment in tc's words, and link down.
    Netem: state?.netem == null ? null : netemWords(state.netem),
    LinkDown: state?.linkDown === true,
  };
}

function networkSettingsView(
  c: ContainerRecord,
  endpoints: readonly Attached[],
  ports: readonly PortMapping[],
  dns: DnsConfig | undefined,
  interfaces: readonly InterfaceState[],
): Record<string, unknown> {
  // --network host and none: an entry for the predefined network, with no address; container:, none (as Docker).
  const networks: Record<string, unknown> = { ...(modeNetworkSettings(c)?.networks ?? {}) };
  for (const attached of endpoints) {
    const state = interfaces.find((s) => s.ifName === attached.endpoint.ifName);
    networks[attached.network.name] = endpointView(c, attached, dns, state);
  }
  // Like Docker, the top-level address fields describe the default network only; "" otherwise.
  const onDefault = endpoints.find((e) => e.network.isDefault);
  const published = portsView(ports);
  // Docker lists an exposed port nobody published with a null binding.
  const portMap: Record<string, unknown> = { ...published };
  for (const p of c.exposedPorts ?? []) if (!(p in portMap)) portMap[p] = null;
  return {
    // Docker 20.10 prints "" here too (a field of its legacy default-bridge code).
    Bridge: '',
    // nsnet's sandbox is the named namespace (SandboxKey); it has no separate sandbox id.
    SandboxID: '',
    // Docker's true means hairpin mode on the container's bridge port; nsnet turns it on for every
    // bridge port (a container reaches its own published ports), a macvlan/ipvlan link has none.
    HairpinMode: endpoints.some((e) => !isParentDriver(e.network.driver)),
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portMap,
    SandboxKey: c.netns,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: onDefault?.endpoint.id ?? '',
    Gateway: onDefault?.network.gateway ?? '',
    GlobalIPv6Address: onDefault?.endpoint.ip6 ?? '',
    GlobalIPv6PrefixLen: onDefault?.endpoint.ip6 == null ? 0 : prefixOf(onDefault.network.subnet6),
    IPAddress: onDefault?.endpoint.ip ?? '',
    IPPrefixLen: onDefault?.endpoint.ip == null ? 0 : prefixOf(onDefault.network.subnet),
    IPv6Gateway: onDefault?.network.gateway6 ?? '',
    MacAddress: onDefault?.endpoint.mac ?? '',
    Networks: networks,
  };
}
