/** Which of the capabilities nsnet needs the process lacks, from /proc/self/status (CapEff). */
import fs from 'node:fs';

const NEEDED: ReadonlyArray<[string, number]> = [
  ['CAP_NET_ADMIN', 12], // links, addresses, routes, nftables
  ['CAP_SYS_ADMIN', 21], // setns, unshare, mounting /run/netns
];

export function missingCapabilities(): string[] {
  let effective = 0n;
  try {
    const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    effective = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  } catch {
    return NEEDED.map(([name]) => name);
  }
  return NEEDED.filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n).map(([name]) => name);
}
