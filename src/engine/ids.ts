/**
 * Identifiers and the kernel-visible names derived from them. Derived names must stay within
 * IFNAMSIZ-1 = 15 bytes and be stable, so a crashed run can find its own leftovers again.
 */
import { createHash, randomBytes } from 'node:crypto';

/** 64 lowercase hex characters, like Docker ids. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/**
 * The kernel names nsnet generates, as one pattern: host veth ends (nsv + 12 hex) and bridges
 * (nsnet- + 8 hex). A link with such a name that no record owns is nsnet's leftover (check, reset).
 */
export const GENERATED_LINK = /^(nsv[0-9a-f]{12}|nsnet-[0-9a-f]{8})$/;

/** A container's name when --name is not given, as Docker makes one up: "nsnet-" + 8 hex. */
export function containerNameFor(containerId: string): string {
  return `nsnet-${containerId.slice(0, 8)}`;
}

/** "nsnet-" + 8 hex = 14 bytes. */
export function bridgeNameFor(networkId: string): string {
  return `nsnet-${networkId.slice(0, 8)}`;
}

/** "nsv" + 12 hex = 15 bytes; 48 random bits keep host-side veth names collision-free in practice. */
export function vethNameFor(endpointId: string): string {
  return `nsv${endpointId.slice(0, 12)}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Docker's scheme: 02:42 (locally administered, unicast) followed by the four IPv4 octets. */
export function macFor(ipInt: number): string {
  const b = [ipInt >>> 24, (ipInt >>> 16) & 255, (ipInt >>> 8) & 255, ipInt & 255];
  return ['02', '42', ...b.map(hex2)].join(':');
}

/**
 * A fixed bridge MAC stops the bridge's address from changing as ports come and go (the
 * kernel otherwise takes the lowest port MAC). 02: marks it locally administered unicast.
 */
export function bridgeMacFor(networkId: string): string {
  const h = createHash('sha256').update(networkId).digest();
  return ['02', ...[...h.subarray(0, 5)].map(hex2)].join(':');
}
