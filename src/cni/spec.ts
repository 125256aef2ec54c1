/**
 * The parts of the CNI specification (1.1.0) nsnet-cni speaks: versions, error codes, the
 * result format and its older shape (0.4.0). Pure data, no I/O.
 * https://github.com/containernetworking/cni/blob/spec-v1.1.0/SPEC.md
 */

export const SPEC_VERSION = '1.1.0';
/** Config versions accepted; results are written in the version the config declares. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The spec's well-known error codes (0-99); 100 and up are nsnet's own. */
export const ErrorCodes = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  NOT_AVAILABLE_LIMITED: 51,
  /** nsnet: the kernel refused a change (the message says which and why). */
  KERNEL: 100,
  /** nsnet: an address, port or name the request asks for is taken. */
  IN_USE: 101,
  /** nsnet: anything else that went wrong inside nsnet. */
  INTERNAL: 102,
} as const;

/** A failure reported to the runtime in the spec's error format. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** Set for the container's own interface: the path of its namespace. */
  sandbox?: string;
}

export interface CniIp {
  /** CIDR: the address with the subnet's prefix length. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the current format (1.0.0 and 1.1.0 share it). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: CniRoute[];
  dns?: CniDns;
}

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The error object the spec prints on stdout. */
export function errorOutput(err: CniError, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version, code: err.code, msg: err.message };
  if (err.details !== undefined && err.details !== '') out['details'] = err.details;
  return out;
}

/** A result as the declared version writes it: 0.4.0 marks each address with its IP version. */
export function resultForVersion(result: CniResult, version: CniVersion): Record<string, unknown> {
  const out: Record<string, unknown> = { ...result, cniVersion: version };
  if (version === '0.4.0' && result.ips !== undefined) {
    out['ips'] = result.ips.map((ip) => ({ version: ip.address.includes(':') ? '6' : '4', ...ip }));
  }
  return out;
}

/** A prevResult of any supported version in the current shape (0.4.0's `version` dropped). */
export function normalizeResult(raw: unknown, field = 'prevResult'): CniResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(ErrorCodes.DECODE_FAILURE, `${field} is not a JSON object`);
  }
  const r = raw as Record<string, unknown>;
  const list = (key: string): unknown[] | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw new CniError(ErrorCodes.DECODE_FAILURE, `${field}.${key} is not a list`);
    return v;
  };
  const result: CniResult = { cniVersion: typeof r['cniVersion'] === 'string' ? r['cniVersion'] : SPEC_VERSION };
  const interfaces = list('interfaces');
  if (interfaces !== undefined) result.interfaces = interfaces as CniInterface[];
  const ips = list('ips');
  if (ips !== undefined) {
    result.ips = ips.map((ip) => {
      const { version: _v, ...rest } = ip as CniIp & { version?: unknown };
      return rest;
    });
  }
  const routes = list('routes');
  if (routes !== undefined) result.routes = routes as CniRoute[];
  if (r['dns'] !== undefined && r['dns'] !== null) result.dns = r['dns'] as CniDns;
  return result;
}

/**
 * Chaining: a plugin that comes after others adds to what they made. Our interfaces are
 * appended, and our addresses point at them by their new index.
 */
export function mergeResults(prev: CniResult | undefined, ours: CniResult): CniResult {
  if (prev === undefined) return ours;
  const offset = prev.interfaces?.length ?? 0;
  const merged: CniResult = {
    cniVersion: ours.cniVersion,
    interfaces: [...(prev.interfaces ?? []), ...(ours.interfaces ?? [])],
    ips: [...(prev.ips ?? []), ...(ours.ips ?? []).map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset }))],
    routes: [...(prev.routes ?? []), ...(ours.routes ?? [])],
  };
  const dns = ours.dns ?? prev.dns;
  if (dns !== undefined) merged.dns = dns;
  return merged;
}
