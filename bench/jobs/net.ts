/** The networks a job makes: names, subnet and addresses from the job's prefix and octet. */
import { intFromIp, ipFromInt } from '../common.js';
import { createNetwork } from '../../src/index.js';
import type { Context } from './library.js';
import type { Shell } from './shell.js';

export interface Net {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  prefixLen: number;
  /** Address of container i. */
  ip(i: number): string;
}

/** Network `tag` of a job: 10.OCTET.0.0/16, gateway .1, containers from .10. */
export function netFor(prefix: string, octet: number, tag = 'n'): Net {
  const base = intFromIp(`10.${octet}.0.0`);
  return {
    name: `${prefix}${tag}`,
    bridge: `${prefix}${tag}br`.slice(0, 15),
    subnet: `10.${octet}.0.0/16`,
    gateway: `10.${octet}.0.1`,
    prefixLen: 16,
    ip: (i) => ipFromInt(base + 10 + i),
  };
}

/** The article's bridge, made with `ip` (the floor and by-hand methods attach to it). */
export function byHandBridge(shell: Shell, net: Net): void {
  shell.sh(['ip', 'link', 'add', net.bridge, 'type', 'bridge']);
  shell.sh(['ip', 'addr', 'add', `${net.gateway}/${net.prefixLen}`, 'dev', net.bridge]);
  shell.sh(['ip', 'link', 'set', net.bridge, 'up']);
}

/** The network made with the library. */
export function nsnetNetwork(ctx: Context, net: Net): ReturnType<typeof createNetwork> {
  return createNetwork(ctx, {
    name: net.name,
    subnet: net.subnet,
    gateway: net.gateway,
    options: { 'com.docker.network.bridge.name': net.bridge },
  });
}

/** `nsnet network create` of the network, plus extra arguments (`-o K=V`). */
export function cliNetwork(shell: Shell, net: Net, ...extra: string[]): void {
  shell.sh([shell.nsnet, 'network', 'create', net.name, '--subnet', net.subnet, '--gateway', net.gateway, '-o', `com.docker.network.bridge.name=${net.bridge}`, ...extra]);
}
