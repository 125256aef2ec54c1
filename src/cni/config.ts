/**
 * A CNI invocation as nsnet sees it: the environment (CNI_COMMAND and friends, CNI_ARGS) and the
 * network configuration on stdin, validated into typed values. Pure: no I/O.
 *
 * The configuration speaks nsnet's concepts with the names CNI users know from the bridge
 * plugin: `bridge`, `subnet` (or `ipam.ranges`), `gateway`, `isGateway`, `ipMasq`, `mtu`, plus
 * nsnet's `isolation` and `antiSpoofing`; the capabilities `portMappings`, `ips`, `mac` and
 * `aliases` arrive in `runtimeConfig`. Anything else is refused by name rather than ignored.
 *
 * Addresses per family, as host-local writes them: `ipam.ranges` holds at most one range set per
 * family (`[[{"subnet": "10.88.0.0/16"}], [{"subnet": "fd00:88::/64"}]]`, the shape `podman
 * network create --ipv6` writes for the bridge plugin), an IPv6 range alone makes an IPv6-only
 * network.
 */
import { NsnetError } from '../core/errors.js';
import { ipToInt, parseIPv4 } from '../core/ipv4.js';
import { ip6ToInt, parseCidr6, parseIPv6 } from '../core/ipv6.js';
import * as validate from '../core/validate.js';
import { validateGateway } from '../engine/ipam.js';
import { validateGateway6, validateSubnet6 } from '../engine/ipam6.js';
import { PROTOS, type Proto } from '../engine/ports.js';
import {
  CniError,
  COMMANDS,
  ErrorCodes,
  isSupportedVersion,
  normalizeResult,
  SUPPORTED_VERSIONS,
  type CniCommand,
  type CniDns,
  type CniResult,
  type CniVersion,
} from './spec.js';

export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: Proto;
  hostIP?: string | undefined;
}

/** The network configuration, validated. Absent fields are left to nsnet's defaults. */
export interface CniNetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  bridge?: string | undefined;
  /** The IPv4 subnet and gateway (none: a free subnet, unless the network is IPv6-only). */
  subnet?: string | undefined;
  gateway?: string | undefined;
  /** The IPv6 subnet and gateway, canonical (RFC 5952); a subnet makes the network dual-stack or IPv6-only. */
  subnet6?: string | undefined;
  gateway6?: string | undefined;
  /** false: no default route, no forwarding or NAT (nsnet's internal network). */
  isGateway?: boolean | undefined;
  ipMasq?: boolean | undefined;
  mtu?: number | undefined;
  /** network: containers of this network reach each other (default); container: not even that. */
  isolation?: 'network' | 'container' | undefined;
  antiSpoofing?: boolean | undefined;
  dns?: CniDns | undefined;
  /** Capability arguments from the runtime. */
  portMappings: CniPortMapping[];
  ips: string[];
  mac?: string | undefined;
  aliases: string[];
  prevResult?: CniResult | undefined;
  /** GC: the attachments the runtime still uses. */
  validAttachments?: Array<{ containerId: string; ifName: string }> | undefined;
}

export interface CniEnv {
  command: CniCommand;
  containerId?: string | undefined;
  netns?: string | undefined;
  ifName?: string | undefined;
  /** CNI_ARGS, parsed: IP=, MAC= and the runtime's informational keys. */
  args: Record<string, string>;
}

const bad = (code: number, message: string, details?: string): CniError => new CniError(code, message, details);
const badConfig = (message: string): CniError => bad(ErrorCodes.INVALID_CONFIG, message);

/** Validators from core throw NsnetError; in CNI terms those are invalid configuration. */
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NsnetError) throw new CniError(ErrorCodes.INVALID_CONFIG, err.message, err.hint);
    throw err;
  }
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Keys of CNI_ARGS nsnet reads, and those runtimes send for information only. */
const ARG_KEYS = ['IP', 'MAC', 'IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'];

export function parseArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  if (text.trim() === '') return args;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(ErrorCodes.INVALID_ENVIRONMENT, `invalid CNI_ARGS entry "${pair}": expected KEY=VALUE pairs separated by ;`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const ignoreUnknown = ['1', 'true'].includes((args['IgnoreUnknown'] ?? '').toLowerCase());
  const unknown = Object.keys(args).filter((k) => !ARG_KEYS.includes(k));
  if (unknown.length > 0 && !ignoreUnknown) {
    throw bad(ErrorCodes.UNSUPPORTED_FIELD, `unsupported CNI_ARGS key(s) ${unknown.join(', ')}: nsnet-cni reads IP and MAC`, 'add IgnoreUnknown=1 to pass other keys through');
  }
  return args;
}

/** The CNI_* environment for a command; what the command needs must be there. */
export function parseEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const raw = env['CNI_COMMAND'];
  if (raw === undefined || raw === '') {
    throw bad(ErrorCodes.INVALID_ENVIRONMENT, 'CNI_COMMAND is not set', `nsnet-cni is a CNI plugin; run it with CNI_COMMAND set to one of ${COMMANDS.join(', ')}`);
  }
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    throw bad(ErrorCodes.INVALID_ENVIRONMENT, `unknown CNI_COMMAND "${raw}": expected one of ${COMMANDS.join(', ')}`);
  }
  const command = raw as CniCommand;
  const value = (key: string): string | undefined => {
    const v = env[key];
    return v === undefined || v === '' ? undefined : v;
  };
  const out: CniEnv = { command, args: parseArgs(env['CNI_ARGS'] ?? '') };
  const needs: Record<CniCommand, string[]> = {
    ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
    CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
    DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
    VERSION: [],
    STATUS: [],
    GC: [],
  };
  const missing = needs[command].filter((k) => value(k) === undefined);
  if (missing.length > 0) throw bad(ErrorCodes.INVALID_ENVIRONMENT, `${command} needs ${missing.join(', ')} in the environment`);
  // The per-container variables mean nothing to the others (libcni sends VERSION with "dummy" in them).
  if (command !== 'ADD' && command !== 'CHECK' && command !== 'DEL') return out;
  const id = value('CNI_CONTAINERID');
  if (id !== undefined) {
    if (!CONTAINER_ID.test(id)) {
      throw bad(ErrorCodes.INVALID_ENVIRONMENT, `invalid CNI_CONTAINERID "${id}": letters, digits, _ . - only, starting with a letter or digit`);
    }
    out.containerId = id;
  }
  const netns = value('CNI_NETNS');
  if (netns !== undefined) {
    if (!netns.startsWith('/') || netns.split('/').includes('..')) {
      throw bad(ErrorCodes.INVALID_ENVIRONMENT, `invalid CNI_NETNS "${netns}": expected the absolute path of a network namespace`);
    }
    out.netns = netns;
  }
  const ifName = value('CNI_IFNAME');
  if (ifName !== undefined) {
    try {
      out.ifName = validate.ifName(ifName);
    } catch (err) {
      throw bad(ErrorCodes.INVALID_ENVIRONMENT, `invalid CNI_IFNAME: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Keys every CNI config may carry (some added by the runtime), and those nsnet understands. */
const GENERIC_KEYS = ['cniVersion', 'name', 'type', 'args', 'runtimeConfig', 'capabilities', 'prevResult', 'ipam', 'dns', 'cni.dev/valid-attachments', 'cni.dev/attachments', 'cniVersions', 'disableCheck', 'disableGC'];
const NSNET_KEYS = ['bridge', 'subnet', 'gateway', 'isGateway', 'ipMasq', 'mtu', 'isolation', 'antiSpoofing'];
const IPAM_KEYS = ['type', 'subnet', 'gateway', 'ranges', 'routes', 'dataDir'];

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badConfig(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, key: string, where = ''): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badConfig(`${where}${key} must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function optBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badConfig(`${key} must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

/** Decode stdin: any failure to read JSON is the spec's code 6. */
export function decodeConfig(stdin: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw bad(ErrorCodes.DECODE_FAILURE, `the network configuration on stdin is not valid JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw bad(ErrorCodes.DECODE_FAILURE, 'the network configuration on stdin must be a JSON object');
  }
  return raw as Record<string, unknown>;
}

export function configVersion(raw: Record<string, unknown>): CniVersion {
  const v = raw['cniVersion'];
  if (v === undefined) throw badConfig('cniVersion is missing from the network configuration');
  if (!isSupportedVersion(v)) {
    throw bad(ErrorCodes.INCOMPATIBLE_VERSION, `incompatible CNI version ${JSON.stringify(v)}: nsnet-cni supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v;
}

/** One family's subnet and gateway, as the configuration gives them (unchecked). */
interface FamilyAddressing {
  subnet?: string | undefined;
  gateway?: string | undefined;
}

/** Where a subnet or gateway was given: the top level, ipam, or one of ipam.ranges. */
interface Given extends FamilyAddressing {
  where: string;
  range: boolean;
}

const familyOf = (text: string): 4 | 6 => (text.includes(':') ? 6 : 4);
const familyName = (f: 4 | 6): string => (f === 6 ? 'IPv6' : 'IPv4');

/** host-local's ranges: a list of range sets, each one range here (nsnet allocates from the whole subnet). */
function ranges(v: unknown): Given[] {
  if (!Array.isArray(v) || !v.every(Array.isArray)) throw badConfig('ipam.ranges must be a list of range sets (lists of {"subnet": ...})');
  return (v as unknown[][]).map((set, i) => {
    if (set.length !== 1) {
      throw bad(ErrorCodes.UNSUPPORTED_FIELD, `ipam.ranges[${i}] has ${set.length} ranges: nsnet-cni supports one range per range set (one IPv4 and one IPv6 set per network)`);
    }
    const where = `ipam.ranges[${i}][0].`;
    const range = obj(set[0], `ipam.ranges[${i}][0]`);
    const extra = Object.keys(range).filter((k) => k !== 'subnet' && k !== 'gateway');
    if (extra.length > 0) {
      throw bad(ErrorCodes.UNSUPPORTED_FIELD, `unsupported range field(s) ${extra.join(', ')}: a range has subnet and gateway (nsnet allocates from the whole subnet)`);
    }
    const subnet = optString(range, 'subnet', where);
    if (subnet === undefined) throw badConfig(`${where}subnet is missing: a range names its subnet, e.g. "10.88.0.0/16" or "fd00:88::/64"`);
    return { where, range: true, subnet, gateway: optString(range, 'gateway', where) };
  });
}

/** The default routes ipam.routes may ask for: nsnet installs those (per family) and no others. */
const DEFAULT_ROUTES = ['0.0.0.0/0', '::/0', '::0/0'];

/**
 * The subnets and gateways per family, from the top level, host-local style `ipam` (subnet,
 * gateway) and `ipam.ranges`. A family given in two places must agree; two ranges of one family
 * are refused (host-local would hand out from both, nsnet has one subnet per family).
 */
function addressing(raw: Record<string, unknown>): { v4: FamilyAddressing; v6: FamilyAddressing } {
  const given: Given[] = [{ where: '', range: false, subnet: optString(raw, 'subnet'), gateway: optString(raw, 'gateway') }];
  if (raw['ipam'] !== undefined && raw['ipam'] !== null) {
    const ipam = obj(raw['ipam'], 'ipam');
    const unknown = Object.keys(ipam).filter((k) => !IPAM_KEYS.includes(k));
    if (unknown.length > 0) throw bad(ErrorCodes.UNSUPPORTED_FIELD, `unsupported ipam field(s) ${unknown.join(', ')}: nsnet-cni reads ${IPAM_KEYS.join(', ')}`);
    const type = optString(ipam, 'type', 'ipam.');
    if (type !== undefined && type !== 'host-local' && type !== 'nsnet') {
      throw bad(ErrorCodes.UNSUPPORTED_FIELD, `unsupported ipam.type "${type}": nsnet-cni allocates addresses itself (host-local style ranges, or leave type out)`);
    }
    if (ipam['routes'] !== undefined) {
      const routes = ipam['routes'];
      const onlyDefault = Array.isArray(routes) && routes.every((r) => r !== null && typeof r === 'object' && DEFAULT_ROUTES.includes(String((r as { dst?: unknown }).dst)));
      if (!onlyDefault) throw bad(ErrorCodes.UNSUPPORTED_FIELD, 'unsupported ipam.routes: nsnet-cni installs the default route via the gateway (0.0.0.0/0, ::/0) and no others');
    }
    given.push({ where: 'ipam.', range: false, subnet: optString(ipam, 'subnet', 'ipam.'), gateway: optString(ipam, 'gateway', 'ipam.') });
    if (ipam['ranges'] !== undefined) given.push(...ranges(ipam['ranges']));
  }
  const out: Record<4 | 6, FamilyAddressing> = { 4: {}, 6: {} };
  const rangeOf: Partial<Record<4 | 6, string>> = {};
  for (const g of given) {
    const subnetFamily = g.subnet === undefined ? undefined : familyOf(g.subnet);
    const gatewayFamily = g.gateway === undefined ? undefined : familyOf(g.gateway);
    if (subnetFamily !== undefined && gatewayFamily !== undefined && subnetFamily !== gatewayFamily) {
      throw badConfig(`${g.where}gateway ${g.gateway} is ${familyName(gatewayFamily)} but ${g.where}subnet ${g.subnet} is ${familyName(subnetFamily)}: a gateway belongs to its subnet`);
    }
    const family = subnetFamily ?? gatewayFamily;
    if (family === undefined) continue;
    if (g.range) {
      const prior = rangeOf[family];
      if (prior !== undefined) {
        throw bad(ErrorCodes.UNSUPPORTED_FIELD, `ipam.ranges has two ${familyName(family)} ranges (${prior} and ${g.subnet}): nsnet-cni supports one range per family`, 'keep one IPv4 and at most one IPv6 range set');
      }
      rangeOf[family] = g.subnet;
    }
    const mine = out[family];
    for (const key of ['subnet', 'gateway'] as const) {
      const value = g[key];
      if (value === undefined) continue;
      if (mine[key] !== undefined && mine[key] !== value) throw badConfig(`${familyName(family)} ${key} is given twice with different values: ${mine[key]} and ${value}`);
      mine[key] = value;
    }
  }
  return { v4: out[4], v6: out[6] };
}

/** The IPv4 subnet and gateway checked as `network create` does (gateway inside, a host address). */
function checkedV4(a: FamilyAddressing): FamilyAddressing {
  const subnet = a.subnet === undefined ? undefined : checked(() => validate.subnet(a.subnet!));
  if (a.gateway !== undefined) {
    const gw = checked(() => parseIPv4(a.gateway!, 'gateway'));
    if (subnet !== undefined) checked(() => validateGateway(subnet, ipToInt(gw)));
  }
  return a;
}

/** The IPv6 subnet (with its prefix, /48../120) and gateway, in canonical text so they compare with records. */
function checkedV6(a: FamilyAddressing): FamilyAddressing {
  const subnet = a.subnet === undefined ? undefined : checked(() => validateSubnet6(parseCidr6(a.subnet!, 'IPv6 subnet')));
  const gateway = a.gateway === undefined ? undefined : checked(() => parseIPv6(a.gateway!, 'IPv6 gateway'));
  if (subnet !== undefined && gateway !== undefined) checked(() => validateGateway6(subnet, ip6ToInt(gateway)));
  return { subnet: subnet?.text, gateway };
}

function portMappings(v: unknown): CniPortMapping[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badConfig('runtimeConfig.portMappings must be a list');
  return v.map((entry, i) => {
    const m = obj(entry, `runtimeConfig.portMappings[${i}]`);
    const port = (key: string): number => {
      const p = m[key];
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
        throw badConfig(`runtimeConfig.portMappings[${i}].${key} must be a port number 1-65535, not ${JSON.stringify(p)}`);
      }
      return p;
    };
    const protocol = (optString(m, 'protocol', `runtimeConfig.portMappings[${i}].`) ?? 'tcp').toLowerCase();
    if (!(PROTOS as readonly string[]).includes(protocol)) {
      throw badConfig(`runtimeConfig.portMappings[${i}].protocol "${protocol}" is not one of ${PROTOS.join(', ')}`);
    }
    const hostIP = optString(m, 'hostIP', `runtimeConfig.portMappings[${i}].`);
    // IPv6 in canonical text, so a chained entry's mappings compare with the stored ones.
    const what = `runtimeConfig.portMappings[${i}].hostIP`;
    const host = hostIP === undefined || hostIP === '' ? undefined : checked(() => (hostIP.includes(':') ? parseIPv6(hostIP, what) : parseIPv4(hostIP, what)));
    return { hostPort: port('hostPort'), containerPort: port('containerPort'), protocol: protocol as Proto, hostIP: host };
  });
}

/** `aliases` is {network name: [names]}; this network's names count. */
function aliases(v: unknown, network: string): string[] {
  if (v === undefined || v === null) return [];
  const all = obj(v, 'runtimeConfig.aliases');
  const mine = all[network];
  if (mine === undefined || mine === null) return [];
  if (!Array.isArray(mine) || !mine.every((a) => typeof a === 'string')) throw badConfig(`runtimeConfig.aliases.${network} must be a list of names`);
  return mine as string[];
}

function validAttachments(v: unknown): Array<{ containerId: string; ifName: string }> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badConfig('cni.dev/valid-attachments must be a list');
  return v.map((entry, i) => {
    const a = obj(entry, `cni.dev/valid-attachments[${i}]`);
    const containerId = optString(a, 'containerID', `cni.dev/valid-attachments[${i}].`);
    const ifName = optString(a, 'ifname', `cni.dev/valid-attachments[${i}].`);
    if (containerId === undefined || ifName === undefined) throw badConfig(`cni.dev/valid-attachments[${i}] needs containerID and ifname`);
    return { containerId, ifName };
  });
}

/** Validate a network configuration (already decoded) for any command but VERSION. */
export function parseNetConf(raw: Record<string, unknown>): CniNetConf {
  const cniVersion = configVersion(raw);
  const name = optString(raw, 'name');
  if (name === undefined || name === '') throw badConfig('name is missing from the network configuration');
  checked(() => validate.networkName(name));
  const type = optString(raw, 'type') ?? '';
  const unknown = Object.keys(raw).filter((k) => !GENERIC_KEYS.includes(k) && !NSNET_KEYS.includes(k));
  if (unknown.length > 0) {
    throw bad(ErrorCodes.UNSUPPORTED_FIELD, `unsupported field(s) ${unknown.join(', ')} in network ${name}: nsnet-cni reads ${NSNET_KEYS.join(', ')}, ipam and dns`);
  }
  const addresses = addressing(raw);
  const { subnet, gateway } = checkedV4(addresses.v4);
  const { subnet: subnet6, gateway: gateway6 } = checkedV6(addresses.v6);
  const bridge = optString(raw, 'bridge');
  if (bridge !== undefined) checked(() => validate.ifName(bridge));
  const mtuRaw = raw['mtu'];
  const mtu = mtuRaw === undefined || mtuRaw === null ? undefined : checked(() => validate.mtu(mtuRaw as number));
  const isolation = optString(raw, 'isolation');
  if (isolation !== undefined && isolation !== 'network' && isolation !== 'container') {
    throw badConfig(`invalid isolation "${isolation}": expected "network" (containers of the network reach each other) or "container" (they do not)`);
  }
  const rc = raw['runtimeConfig'] === undefined || raw['runtimeConfig'] === null ? {} : obj(raw['runtimeConfig'], 'runtimeConfig');
  const ips = rc['ips'] === undefined || rc['ips'] === null ? [] : rc['ips'];
  if (!Array.isArray(ips) || !ips.every((ip) => typeof ip === 'string')) throw badConfig('runtimeConfig.ips must be a list of addresses');
  const mac = optString(rc, 'mac', 'runtimeConfig.');
  if (mac !== undefined) checked(() => validate.mac(mac));
  const conf: CniNetConf = {
    cniVersion,
    name,
    type,
    bridge,
    subnet,
    gateway,
    subnet6,
    gateway6,
    isGateway: optBool(raw, 'isGateway'),
    ipMasq: optBool(raw, 'ipMasq'),
    mtu,
    isolation: isolation as CniNetConf['isolation'],
    antiSpoofing: optBool(raw, 'antiSpoofing'),
    dns: raw['dns'] === undefined || raw['dns'] === null ? undefined : (obj(raw['dns'], 'dns') as CniDns),
    portMappings: portMappings(rc['portMappings']),
    ips: ips as string[],
    mac,
    aliases: aliases(rc['aliases'], name),
    // The 1.1.0 text first named the key cni.dev/attachments; libcni sends both.
    validAttachments: validAttachments(raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments']),
  };
  if (raw['prevResult'] !== undefined && raw['prevResult'] !== null) conf.prevResult = normalizeResult(raw['prevResult']);
  return conf;
}

/** An address the runtime asks for, with the prefix length it gave (which must be the network's). */
export interface RequestedIp {
  ip: string;
  prefixLen?: number;
}

function requested(text: string): RequestedIp {
  const [address = '', len] = text.split('/');
  const v6 = address.includes(':');
  const ip = checked(() => (v6 ? parseIPv6(address, 'requested IPv6 address') : parseIPv4(address, 'requested address')));
  if (len === undefined) return { ip };
  const max = v6 ? 128 : 32;
  const prefixLen = Number(len);
  if (!/^\d+$/.test(len) || prefixLen > max) throw badConfig(`invalid requested address "${text}": prefix length must be 0-${max}`);
  return { ip, prefixLen };
}

/**
 * The addresses the runtime asks for, one per family: the `ips` capability first, then CNI_ARGS
 * IP= (how Podman passes --ip and --ip6, comma separated). Podman may send one address both
 * ways; two different addresses of one family are refused (an interface gets one of each).
 */
export function requestedIps(conf: CniNetConf, args: Readonly<Record<string, string>>): { ip?: RequestedIp; ip6?: RequestedIp } {
  const candidates = [...conf.ips, ...(args['IP'] === undefined ? [] : args['IP'].split(','))].map((s) => s.trim()).filter((s) => s !== '');
  const out: { ip?: RequestedIp; ip6?: RequestedIp } = {};
  for (const text of candidates) {
    const r = requested(text);
    const key = r.ip.includes(':') ? 'ip6' : 'ip';
    const prior = out[key];
    if (prior === undefined) out[key] = r;
    else if (prior.ip !== r.ip) {
      throw badConfig(`two ${key === 'ip6' ? 'IPv6' : 'IPv4'} addresses requested (${prior.ip} and ${r.ip}): an interface gets one address per family`);
    }
  }
  return out;
}

/** The MAC the runtime asks for: the `mac` capability first, then CNI_ARGS MAC=. */
export function requestedMac(conf: CniNetConf, args: Readonly<Record<string, string>>): string | undefined {
  const mac = conf.mac ?? args['MAC'];
  return mac === undefined || mac === '' ? undefined : checked(() => validate.mac(mac));
}

/**
 * Port mappings as Docker's -p specs, which nsnet's port publishing takes: an IPv6 host address
 * in brackets; none publishes on every address of each family the container has.
 */
export function portSpecs(mappings: readonly CniPortMapping[]): string[] {
  const host = (ip: string | undefined): string => (ip === undefined ? '' : ip.includes(':') ? `[${ip}]:` : `${ip}:`);
  return mappings.map((m) => `${host(m.hostIP)}${m.hostPort}:${m.containerPort}/${m.protocol}`);
}
