/**
 * POST /containers/create's body (Docker's Config, HostConfig and NetworkingConfig) as nsnet's
 * run/create input: the same options `nsnet run` takes, named as Docker names them. Fields nsnet
 * has no equivalent for are refused by name when they would change what the container does
 * (Binds, Mounts, Devices, VolumesFrom), and ignored otherwise (StopSignal, resource limits: nsnet
 * sets no cgroup limits, as README's Differences from Docker says).
 */
import type { RunInput } from '../ops/containers.js';
import { dnsInput } from '../engine/dns-options.js';
import { DEFAULT_NETWORK } from '../ops/networks.js';
import { badRequest, ApiError } from './errors.js';
import { asRecord, bool, int, optionalString, stringList, stringMap } from './body.js';

/** create's input, and the terminal settings the attach part reads from the same body. */
export type CreateInput = RunInput & {
  tty?: boolean | undefined;
  openStdin?: boolean | undefined;
};

/** Docker's Env list ("K=V", or "K" alone: taken from nowhere, so empty) as a map. */
function envOf(list: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq === 0) throw badRequest(`invalid environment variable "${item}": no name before =`);
    if (eq < 0) env[item] = '';
    else env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/** HostConfig.PortBindings {"80/tcp": [{HostIp, HostPort}]} as -p specs. */
export function publishSpecs(bindings: Record<string, unknown>): string[] {
  const specs: string[] = [];
  for (const [port, list] of Object.entries(bindings)) {
    if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) throw badRequest(`invalid port "${port}" in HostConfig.PortBindings: expected PORT[/PROTO], e.g. 80/tcp`);
    const [num, proto = 'tcp'] = port.split('/');
    const entries = list === null ? [{}] : Array.isArray(list) ? list : undefined;
    if (entries === undefined) throw badRequest(`invalid HostConfig.PortBindings["${port}"]: expected a list of {HostIp, HostPort}`);
    for (const raw of entries.length === 0 ? [{}] : entries) {
      const b = asRecord(raw, `HostConfig.PortBindings["${port}"]`);
      const ip = optionalString(b['HostIp'], 'HostIp') ?? '';
      const hostPort = optionalString(b['HostPort'], 'HostPort') ?? '';
      const host = ip.includes(':') ? `[${ip}]` : ip;
      specs.push(host !== '' ? `${host}:${hostPort}:${num}/${proto}` : hostPort !== '' ? `${hostPort}:${num}/${proto}` : `${num}/${proto}`);
    }
  }
  return specs;
}

/** RestartPolicy {Name, MaximumRetryCount} in --restart's syntax. */
function restartOf(raw: unknown): string | undefined {
  const p = asRecord(raw, 'HostConfig.RestartPolicy');
  const name = optionalString(p['Name'], 'RestartPolicy.Name');
  if (name === undefined || name === '') return undefined;
  const max = int(p['MaximumRetryCount'], 'RestartPolicy.MaximumRetryCount') ?? 0;
  return name === 'on-failure' && max > 0 ? `on-failure:${max}` : name;
}

/** Fields that change what a container is and nsnet cannot do: refused rather than dropped. */
const REFUSED_HOST_CONFIG: ReadonlyArray<[string, string]> = [
  ['Mounts', 'mounts (HostConfig.Mounts)'],
  ['Devices', 'devices (HostConfig.Devices)'],
  ['VolumesFrom', 'volumes from other containers (HostConfig.VolumesFrom)'],
  ['Binds', 'bind mounts and volumes (HostConfig.Binds)'],
];

function refuseUnsupported(host: Record<string, unknown>): void {
  for (const [key, what] of REFUSED_HOST_CONFIG) {
    const v = host[key];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) throw new ApiError(400, `${what} is not supported by nsnet`);
  }
  const volumeDriver = optionalString(host['VolumeDriver'], 'HostConfig.VolumeDriver');
  if (volumeDriver !== undefined && volumeDriver !== '' && volumeDriver !== 'local') throw new ApiError(400, `volume driver ${volumeDriver} is not supported by nsnet`);
}

/** Docker's "default" network mode: the default bridge network (dockerd's, and nsnet's `bridge`). */
const networkName = (name: string): string => (name === 'default' ? DEFAULT_NETWORK : name);

/** EndpointsConfig keyed by network name, "default" as the bridge (docker CLI 28 sends {"default": {...}}). */
function endpointsByNetwork(endpoints: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, ep] of Object.entries(endpoints)) out[networkName(name)] = ep;
  return out;
}

/** The container's networks: NetworkMode first (no mode: the bridge, as Docker's), then EndpointsConfig's others. */
function networksOf(mode: string | undefined, endpoints: Record<string, unknown>): string[] {
  const first = mode === undefined || mode === '' ? undefined : networkName(mode);
  const names = Object.keys(endpoints);
  return first !== undefined ? [first, ...names.filter((n) => n !== first)] : names;
}

/** Each network's EndpointsConfig[NET].Aliases, for that network only (as dockerd records them on the endpoint). */
function aliasesByNetwork(endpoints: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [net, ep] of Object.entries(endpoints)) {
    const aliases = stringList(asRecord(ep, `EndpointsConfig["${net}"]`)['Aliases'], `EndpointsConfig["${net}"].Aliases`) ?? [];
    if (aliases.length > 0) out[net] = aliases;
  }
  return out;
}

export function createInput(name: string | null, body: unknown): CreateInput {
  const b = asRecord(body, 'request body');
  const config = b;
  const host = asRecord(b['HostConfig'], 'HostConfig');
  const networking = asRecord(b['NetworkingConfig'], 'NetworkingConfig');
  const endpoints = endpointsByNetwork(asRecord(networking['EndpointsConfig'], 'NetworkingConfig.EndpointsConfig'));
  refuseUnsupported(host);
  const image = optionalString(config['Image'], 'Image');
  if (image === undefined || image === '') throw badRequest('no image given (Config.Image): nsnet makes containers from images');
  const nets = networksOf(optionalString(host['NetworkMode'], 'HostConfig.NetworkMode'), endpoints);
  const firstEndpoint = nets[0] === undefined ? {} : asRecord(endpoints[nets[0]], `EndpointsConfig["${nets[0]}"]`);
  const ipam = asRecord(firstEndpoint['IPAMConfig'], 'IPAMConfig');
  const exposed = Object.keys(asRecord(config['ExposedPorts'], 'ExposedPorts'));
  return {
    ...(name === null || name === '' ? {} : { name: name.replace(/^\//, '') }),
    networks: nets,
    ip: optionalString(ipam['IPv4Address'], 'IPAMConfig.IPv4Address') || undefined,
    ip6: optionalString(ipam['IPv6Address'], 'IPAMConfig.IPv6Address') || undefined,
    mac: optionalString(config['MacAddress'], 'MacAddress') || undefined,
    // No Config.Hostname: the id's first 12 characters, as dockerd (compose's names, project_web_1, are no hostnames).
    hostname: optionalString(config['Hostname'], 'Hostname') || undefined,
    hostnameFromId: true,
    env: envOf(stringList(config['Env'], 'Env')),
    detach: true,
    remove: false,
    argv: stringList(config['Cmd'], 'Cmd') ?? [],
    image,
    entrypoint: stringList(config['Entrypoint'], 'Entrypoint'),
    workdir: optionalString(config['WorkingDir'], 'WorkingDir') || undefined,
    user: optionalString(config['User'], 'User') || undefined,
    labels: stringMap(config['Labels'], 'Labels'),
    tty: bool(config['Tty'], 'Tty'),
    openStdin: bool(config['OpenStdin'], 'OpenStdin'),
    autoRemove: bool(host['AutoRemove'], 'HostConfig.AutoRemove'),
    publish: publishSpecs(asRecord(host['PortBindings'], 'HostConfig.PortBindings')),
    publishAll: bool(host['PublishAllPorts'], 'HostConfig.PublishAllPorts'),
    expose: exposed,
    dns: dnsInput({
      dns: stringList(host['Dns'], 'HostConfig.Dns'),
      dnsSearch: stringList(host['DnsSearch'], 'HostConfig.DnsSearch'),
      dnsOption: stringList(host['DnsOptions'], 'HostConfig.DnsOptions'),
      addHost: stringList(host['ExtraHosts'], 'HostConfig.ExtraHosts'),
    }),
    networkAliases: aliasesByNetwork(endpoints),
    capAdd: stringList(host['CapAdd'], 'HostConfig.CapAdd'),
    capDrop: stringList(host['CapDrop'], 'HostConfig.CapDrop'),
    privileged: bool(host['Privileged'], 'HostConfig.Privileged'),
    sysctls: stringMap(host['Sysctls'], 'HostConfig.Sysctls'),
    links: stringList(host['Links'], 'HostConfig.Links')?.map((l) => l.replace(/^\//, '').replace(/:\/[^/]*\//, ':')),
    restart: restartOf(host['RestartPolicy']),
  };
}
