/** Which of the capabilities nsnet needs the process lacks, from /proc/self/status (CapEff). */
import fs from 'node:fs';

const NEEDED: ReadonlyArray<[string, number]> = [
  ['CAP_NET_ADMIN', 12], // links, addresses, routes, nftables
  ['CAP_SYS_ADMIN', 21], // setns, unshare, mounting /run/netns
];

/**
 * Read once per process: nsnet never changes its own capabilities, and the service asks before
 * every command (/proc/self/status of a 60 MB, eleven-thread Node process is not a cheap read).
 */
let missing: string[] | undefined;

export function missingCapabilities(): string[] {
  missing ??= readMissingCapabilities();
  return [...missing];
}

function readMissingCapabilities(): string[] {
  let effective = 0n;
  try {
    const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    effective = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  } catch {
    return NEEDED.map(([name]) => name);
  }
  return NEEDED.filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n).map(([name]) => name);
}
