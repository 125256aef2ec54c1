/**
 * `nsnet capture CONTAINER[:IFACE] [-w FILE] [-c N] [FILTER...]`: tcpdump on a container's
 * interface, run inside the container's network namespace, so the user names the container and
 * its interface, never the veth on the host. This module decides the command (pure over the
 * records and the host's tools); the CLI runs it (kernel/netns-exec.ts), never through a shell.
 */
import { NsnetError, invalid } from '../core/errors.js';
import { netnsPath } from '../host/port.js';
import type { Context } from './context.js';
import { resolveTarget } from './impairments.js';

export interface CaptureInput {
  target: string;
  /** -w FILE: a pcap file instead of text on stdout. */
  write?: string | undefined;
  /** -c N: stop after N packets. */
  count?: string | undefined;
  /** A tcpdump (pcap-filter) expression, word by word. */
  filter: readonly string[];
}

export interface CapturePlan {
  /** The namespace to enter: /run/netns/NAME (or a runtime's path). */
  netns: string;
  /** tcpdump and its arguments. */
  argv: string[];
}

export function planCapture(ctx: Context, input: CaptureInput): CapturePlan {
  const t = resolveTarget(ctx, input.target);
  if (!ctx.host.netnsExists(t.ns)) {
    throw new NsnetError('NOT_FOUND', `container ${t.container.name} has no network namespace now (it is not running)`, { hint: `nsnet start ${t.container.name}` });
  }
  if (!ctx.host.onPath('tcpdump')) throw new NsnetError('NOT_FOUND', 'nsnet capture runs tcpdump, which is not installed', { hint: 'apt-get install -y tcpdump' });
  // -n: names are not looked up (inside the container's namespace that may mean waiting on DNS);
  // -Z root: Debian's tcpdump otherwise drops to user tcpdump before it opens -w's file.
  const argv = ['tcpdump', '-n', '-Z', 'root', '-i', t.ifName];
  if (input.count !== undefined) {
    if (!/^[1-9]\d{0,8}$/.test(input.count)) throw invalid(`invalid packet count ${JSON.stringify(input.count)}: expected a whole number from 1`, 'e.g. -c 10');
    argv.push('-c', input.count);
  }
  // Without -w, print each packet as it comes (a pipe would otherwise get them in blocks).
  if (input.write === undefined) argv.push('-l');
  else {
    if (input.write === '' || input.write.startsWith('-')) throw invalid(`invalid capture file ${JSON.stringify(input.write)}`, 'e.g. -w ping.pcap');
    argv.push('-w', input.write);
  }
  // The filter follows the options; a word that looks like an option would be read as one by
  // tcpdump (its getopt takes options anywhere), so it is refused instead of passed.
  const option = input.filter.find((w) => w.startsWith('-'));
  if (option !== undefined) throw invalid(`invalid capture filter word ${JSON.stringify(option)}: a filter is a pcap-filter expression, e.g. icmp or tcp port 80`);
  argv.push(...input.filter);
  return { netns: netnsPath(t.ns), argv };
}
