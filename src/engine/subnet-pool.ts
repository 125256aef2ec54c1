/**
 * Automatic subnet choice, using Docker's default address pools so addresses look familiar
 * and land where administrators already expect container traffic.
 */
import { NsnetError } from '../core/errors.js';
import { cidrOverlaps, parseCidr, type Cidr } from '../core/ipv4.js';

/** 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20, in that order. */
export function defaultCandidates(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push(parseCidr(`172.${b}.0.0/16`));
  for (let c = 0; c <= 240; c += 16) out.push(parseCidr(`192.168.${c}.0/20`));
  return out;
}

/**
 * First candidate overlapping none of `taken`: existing networks' subnets plus the host's
 * routes and interface addresses, so a new bridge never shadows a reachable network.
 * A /0 (the default route) is ignored: it overlaps everything, and a more specific bridge
 * route takes precedence over it anyway.
 */
export function pickSubnet(taken: readonly Cidr[], candidates: readonly Cidr[] = defaultCandidates()): Cidr {
  const relevant = taken.filter((t) => t.prefixLen > 0);
  for (const c of candidates) {
    if (!relevant.some((t) => cidrOverlaps(c, t))) return c;
  }
  throw new NsnetError('POOL_EXHAUSTED', 'no free subnet left in the default address pools (172.17-31.0.0/16, 192.168.0.0/16 in /20 blocks)', {
    hint: 'use --subnet to choose one',
  });
}
