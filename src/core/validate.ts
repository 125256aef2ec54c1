/**
 * Pure validation of user input at the edge (CLI flags, options). Everything throws
 * INVALID_VALUE with the offending value quoted and what would have been accepted, so the
 * CLI can print the message as is.
 */
import { invalid } from './errors.js';
import { cidrOverlaps, parseCidr, type Cidr } from './ipv4.js';

/** Docker's rule for container and network names. */
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NAME_MAX = 63;

function q(value: unknown): string {
  return JSON.stringify(String(value));
}

function dockerName(value: string, kind: string): string {
  if (typeof value !== 'string' || !DOCKER_NAME.test(value)) {
    throw invalid(`invalid ${kind} name ${q(value)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  if (value.length > NAME_MAX) {
    throw invalid(`invalid ${kind} name ${q(value)}: at most ${NAME_MAX} characters are allowed (got ${value.length})`);
  }
  return value;
}

export function networkName(value: string): string {
  return dockerName(value, 'network');
}

/**
 * Container names also become file names under /run/netns. The Docker pattern already
 * excludes '/', '.' and '..'; the explicit check keeps that true if the pattern ever loosens.
 */
export function containerName(value: string): string {
  dockerName(value, 'container');
  if (value === '.' || value === '..' || value.includes('/')) {
    throw invalid(`invalid container name ${q(value)}: must be usable as a file name under /run/netns`);
  }
  return value;
}

/**
 * Interface names: the kernel allows IFNAMSIZ-1 = 15 bytes and its dev_valid_name() rejects
 * '/', ':', whitespace, "." and "..".
 */
export function ifName(value: string): string {
  const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0;
  if (bytes < 1 || bytes > 15) {
    throw invalid(`invalid interface name ${q(value)}: expected 1 to 15 bytes (got ${bytes})`);
  }
  if (value === '.' || value === '..' || /[/:\s\0]/.test(value)) {
    throw invalid(`invalid interface name ${q(value)}: must not be "." or ".." or contain '/', ':' or whitespace`);
  }
  return value;
}

/** Unicast MAC; returned lowercased. */
export function mac(value: string): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) {
    throw invalid(`invalid MAC address ${q(value)}: expected six hex pairs such as 02:42:0a:00:00:02`);
  }
  const lower = value.toLowerCase();
  const first = parseInt(lower.slice(0, 2), 16);
  if (first & 1) {
    throw invalid(`invalid MAC address ${q(value)}: multicast bit set; a unicast address is required (first octet even)`);
  }
  if (lower === '00:00:00:00:00:00') {
    throw invalid(`invalid MAC address ${q(value)}: the all-zero address is not allowed`);
  }
  return lower;
}

/** 68 is the IPv4 minimum (RFC 791); 65535 is the largest MTU the kernel accepts for these devices. */
export function mtu(value: number | string): number {
  const n = typeof value === 'number' ? value : /^[0-9]+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 68 || n > 65535) {
    throw invalid(`invalid MTU ${q(value)}: expected an integer from 68 to 65535`);
  }
  return n;
}

/** "KEY=VALUE" for -o/--opt, --label and -e; splits on the first '=' so values may contain '='. */
export function keyValue(text: string, what: string): [string, string] {
  const i = typeof text === 'string' ? text.indexOf('=') : -1;
  if (i <= 0) {
    throw invalid(`invalid ${what} ${q(text)}: expected KEY=VALUE with a non-empty KEY`);
  }
  return [text.slice(0, i), text.slice(i + 1)];
}

/** A single RFC 1123 label: what sethostname() gets and what other containers may resolve. */
export function hostname(value: string): string {
  if (typeof value !== 'string' || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(value) || value.length > 63) {
    throw invalid(
      `invalid hostname ${q(value)}: expected 1 to 63 letters, digits or '-', not starting or ending with '-'`,
    );
  }
  return value;
}

/**
 * A network subnet. /31 and /32 leave no room for a gateway plus a container; below /8 the
 * address space is unreasonably large for one bridge.
 */
export function subnet(text: string, what = 'subnet'): Cidr {
  const c = parseCidr(text, what);
  if (c.prefixLen < 8 || c.prefixLen > 30) {
    throw invalid(`invalid ${what} ${q(text)}: prefix length must be between /8 and /30`);
  }
  const special = SPECIAL_RANGES.find((r) => cidrOverlaps(parseCidr(r.cidr), c));
  if (special !== undefined) {
    throw invalid(`invalid ${what} ${q(text)}: it overlaps ${special.cidr}, ${special.what}, which is never routed like a bridge's subnet`, 'choose a private range such as 10.0.0.0/24 or 172.18.0.0/16');
  }
  return c;
}

/** IPv4 ranges a network must not use: the kernel and every router treat them specially. */
const SPECIAL_RANGES = [
  { cidr: '0.0.0.0/8', what: '"this network" (RFC 1122)' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local' },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved, with the limited broadcast address 255.255.255.255' },
];
