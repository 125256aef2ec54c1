/**
 * Each container's /etc/resolv.conf and /etc/hosts, kept under /etc/netns/NAME (where `ip netns
 * exec` finds them and bind-mounts them over /etc; a container from an image has them bind-mounted
 * into its root): written when it starts, rewritten on network
 * connect/disconnect, removed with the container. Also the host's own upstream resolvers, which
 * containers off the responder's networks are given directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as validate from '../core/validate.js';
import { hasIPv6Loopback, isLoopback, parseResolvConf, renderHosts, renderResolvConf, resolvHeader, RESOLVED_STUB, RESOLVED_UPSTREAM_FILE, responderAddress, upstreamServers } from '../dns/files.js';
import { dnsEnabled, networkServers } from '../engine/dns-options.js';
import type { ContainerRecord, Store } from '../store/index.js';
import type { Context } from './context.js';

export const ETC_NETNS = '/etc/netns';

/** A file's text, or '' when it cannot be read (absent, or not ours to read). */
export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The host's upstream resolvers, IPv4 and IPv6 (the responder forwards over either family);
 * systemd-resolved's stub is replaced by the servers behind it.
 */
export function hostServers(): string[] {
  const conf = parseResolvConf(readText('/etc/resolv.conf'));
  const servers = upstreamServers(conf);
  if (servers.length > 0 && servers.every((s) => s === RESOLVED_STUB)) return upstreamServers(parseResolvConf(readText(RESOLVED_UPSTREAM_FILE)));
  return servers;
}

export function etcDir(name: string): string {
  validate.containerName(name); // never a path outside /etc/netns
  return path.join(ETC_NETNS, name);
}

/**
 * Write /etc/netns/NAME/{resolv.conf,hosts}. `ip netns exec NAME` bind-mounts them over /etc/ for
 * what it runs, which is how run starts the container (see kernel/process.ts). A container with
 * --rootfs gets none: its /etc is the root filesystem's own. Returns whether the files were written.
 */
export function writeContainerFiles(store: Store, c: ContainerRecord): boolean {
  // A container from an image gets them too: they are bind-mounted into its root (container-image.ts).
  if (c.rootfs !== null && c.imageLayers == null) return false;
  const eps = store.endpoints.forContainer(c.id);
  const first = eps[0] === undefined ? undefined : store.networks.get(eps[0].networkId);
  const cfg = store.dns.get(c.id);
  // The first network the responder serves; on connect/disconnect the files are rewritten in
  // place (same inode, so the bind mounts inside the container see the new text).
  const served = eps.map((e) => store.networks.get(e.networkId)).find((n) => n !== undefined && dnsEnabled(n));
  let nameservers: string[];
  if (served !== undefined) nameservers = [responderAddress(served)];
  else {
    const own = cfg?.servers ?? [];
    // (A link-local upstream's zone names a host interface the container does not have.)
    nameservers = own.length > 0 ? own : first !== undefined && networkServers(first).length > 0 ? networkServers(first) : hostServers().filter((s) => !isLoopback(s) && !s.includes('%'));
  }
  const dir = etcDir(c.name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const resolv = renderResolvConf(c.name, { nameservers, search: cfg?.search ?? [], options: cfg?.options ?? [] }, path.dirname(store.path));
  const hosts = renderHosts({ names: [c.hostname, c.name], ips: eps.flatMap((e) => [e.ip, e.ip6 ?? null].filter((ip): ip is string => ip !== null)) }, cfg?.extraHosts ?? [], { ipv6: hasIPv6Loopback(c.sysctls) });
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolv, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'hosts'), hosts, { mode: 0o644 });
  return true;
}

/** After network connect/disconnect: rewrite a running container's files (its nameserver and addresses may have changed). */
export function refreshContainerFiles(ctx: Context, containerId: string): void {
  if (ctx.dryRun) return;
  const c = ctx.store.containers.get(containerId);
  if (c === undefined || !fs.existsSync(path.join(etcDir(c.name), 'resolv.conf'))) return;
  try {
    writeContainerFiles(ctx.store, c);
  } catch (err) {
    ctx.warn(`rewrite ${etcDir(c.name)}: ${(err as Error).message}`);
  }
}

/**
 * Every /etc/netns/NAME whose resolv.conf says nsnet wrote it for this state root (system reset:
 * also what a crashed run left behind). Directories of other roots and of other tools stay.
 */
export function removeAllContainerFiles(root: string): string[] {
  const owned = ownedContainerFiles(root);
  for (const name of owned) removeContainerFiles(name);
  return owned;
}

/** The names under /etc/netns whose resolv.conf nsnet wrote for this state root. */
export function ownedContainerFiles(root: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(ETC_NETNS);
  } catch {
    return [];
  }
  return names.filter((name) => readText(path.join(ETC_NETNS, name, 'resolv.conf')).split('\n')[0] === resolvHeader(name, root));
}

export function removeContainerFiles(name: string): void {
  const dir = etcDir(name);
  for (const f of ['resolv.conf', 'hosts']) fs.rmSync(path.join(dir, f), { force: true });
  try {
    fs.rmdirSync(dir); // only when empty: what others put there stays
  } catch {
    /* absent or not empty */
  }
}
