/**
 * Who is listening on a host port, from /proc/net (which shows the network namespace of the
 * process reading it), so a port mapping can be refused with the name of the holder.
 */
import fs from 'node:fs';

export interface Listener {
  proto: 'tcp' | 'udp';
  /** undefined = every address (0.0.0.0 or ::). */
  address: string | undefined;
  port: number;
  inode: number;
}

function ipv4FromHex(hex: string): string {
  // /proc/net/tcp prints the address as a host-order (little-endian) 32-bit number.
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

function parse(file: string, proto: 'tcp' | 'udp', v6: boolean): Listener[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex = '', portHex = ''] = (f[1] ?? '').split(':');
    const state = f[3];
    // TCP: only LISTEN (0A) holds a port for newcomers; UDP: any bound socket (07 = unconnected).
    if (proto === 'tcp' ? state !== '0A' : state !== '07') continue;
    let address: string | undefined;
    if (v6) {
      if (/^0+$/.test(addrHex)) address = undefined;
      else if (/^0{20}FFFF/i.test(addrHex)) address = ipv4FromHex(addrHex.slice(24));
      else continue; // a v6-only address cannot collide with an IPv4 mapping
    } else {
      address = addrHex === '00000000' ? undefined : ipv4FromHex(addrHex);
    }
    out.push({ proto, address, port: parseInt(portHex, 16), inode: Number(f[9]) });
  }
  return out;
}

export function hostListeners(): Listener[] {
  return [
    ...parse('/proc/net/tcp', 'tcp', false),
    ...parse('/proc/net/tcp6', 'tcp', true),
    ...parse('/proc/net/udp', 'udp', false),
    ...parse('/proc/net/udp6', 'udp', true),
  ];
}

/** The process holding a socket, found through /proc/PID/fd links; undefined when not visible. */
export function socketHolder(inode: number): { pid: number; command: string } | undefined {
  const target = `socket:[${inode}]`;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${entry}/fd/${fd}`) === target) {
          const command = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
          return { pid: Number(entry), command };
        }
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return undefined;
}

/** The ephemeral port range the kernel uses, where nsnet picks free host ports too. */
export function ephemeralPortRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    /* fall through */
  }
  return [32768, 60999];
}
