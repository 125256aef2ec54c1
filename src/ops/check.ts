/**
 * `nsnet system check [--fix]`: compare the store with the kernel and report every difference;
 * with --fix, remove the orphans nsnet made and recreate what nsnet owns and lost.
 *
 * What is compared, under the host lock (so no other nsnet command is half-way):
 * - networks: the bridge exists, is a bridge, is up, holds the gateway address;
 * - containers: a running one's process is alive; a container with a namespace has, per network,
 *   its host veth enslaved to the right bridge, its interface up with its address inside, and the
 *   default route via the first network that leads outside;
 * - orphans: links with nsnet's generated names (nsv + 12 hex, nsnet- + 8 hex) that no record
 *   owns; namespaces nsnet made for a container the store no longer has;
 * - the firewall: nsnet's tables as the kernel holds them against the ruleset regenerated from
 *   the store (built in a scratch namespace and listed there, so both sides are nft's own text).
 *
 * A stopped container without a namespace is not a difference: that is what a reboot leaves, and
 * `nsnet start` rebuilds it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TABLE_NAME } from '../firewall/nftables.js';
import type { LinkInfo, Rtnl } from '../kernel/api.js';
import { openRtnl } from '../kernel/netlink/rtnl.js';
import { createNetns, deleteNetns, isMountedNetns, netnsExists, openRtnlIn, withNetns } from '../kernel/netns.js';
import { killNetnsProcesses } from '../kernel/netns-procs.js';
import { listNftTable, runNft } from '../kernel/nft.js';
import { IP_FORWARD, defaultRouteStep, planAttach } from '../engine/plans.js';
import { renderStep } from '../plan/render.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, NetworkRecord } from '../store/index.js';
import { liveState } from './containers.js';
import type { Context } from './context.js';
import { containerEndpoints, firewallState, isCniContainer, namespaceOf, networkSpec } from './specs.js';
import { releaseAll } from './cni.js';

export interface Difference {
  /** What it is about: "network study", "container red", "link nsv0123456789ab", "firewall". */
  object: string;
  problem: string;
  /** What --fix does about it; absent when nsnet cannot fix it. */
  fix?: string;
  /** The by-hand commands of the fix. */
  commands?: string[];
  /** With --fix: whether the fix worked, and why not. */
  fixed?: boolean;
  error?: string;
}

interface Found extends Difference {
  steps?: Step[];
  /** A fix that is not kernel steps (a record update, killing processes). */
  action?: () => void;
}

/** Generated kernel names nsnet uses: host veth ends (nsv + 12 hex) and bridges (nsnet- + 8 hex). */
const GENERATED_LINK = /^(nsv[0-9a-f]{12}|nsnet-[0-9a-f]{8})$/;

/** The file in a container's state directory naming its namespace, so an orphan is known as nsnet's. */
const NETNS_MARKER = 'netns';

/** Before the first kernel step of a container: note which namespace nsnet makes for it. */
export function markNamespace(ctx: Context, c: ContainerRecord): void {
  if (ctx.dryRun) return;
  const dir = path.dirname(c.logPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, NETNS_MARKER), c.name, { mode: 0o600 });
}

function withRtnl<T>(open: () => Rtnl, fn: (r: Rtnl) => T): T {
  const r = open();
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

interface NsView {
  links: Map<string, LinkInfo>;
  addrs: Array<{ index: number; address: string; prefixLen: number }>;
  routes: Array<{ dst: string | undefined; gateway: string | undefined; oif: number | undefined }>;
}

function view(r: Rtnl): NsView {
  return {
    links: new Map(r.listLinks().map((l) => [l.name, l])),
    addrs: r.listAddrs(4),
    routes: r.listRoutes(4),
  };
}

const hasAddr = (v: NsView, link: LinkInfo | undefined, ip: string, prefixLen: number): boolean =>
  link !== undefined && v.addrs.some((a) => a.index === link.index && a.address === ip && a.prefixLen === prefixLen);

/** A network's bridge as `network create` makes it (the firewall aside). */
function bridgeSteps(n: NetworkRecord): Step[] {
  const spec = networkSpec(n);
  const steps: Step[] = [
    { kind: 'bridge-add', name: n.bridge, mac: spec.bridgeMac, mtu: spec.mtu },
    { kind: 'addr-add', dev: n.bridge, address: n.gateway, prefixLen: spec.prefixLen },
    { kind: 'link-up', dev: n.bridge },
  ];
  if (!n.internal) steps.push({ kind: 'sysctl', key: IP_FORWARD, value: '1' });
  return steps;
}

/**
 * Before a stopped container is rewired (`nsnet start` after a reboot): the bridges of its networks
 * that are gone, and then the firewall regenerated from the records (the reboot took it too).
 */
export function restoreSteps(ctx: Context, c: ContainerRecord): Step[] {
  const host = withRtnl(() => openRtnl(), view);
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const ep of ctx.store.endpoints.forContainer(c.id)) {
    const n = ctx.store.networks.get(ep.networkId);
    if (n === undefined || seen.has(n.id) || host.links.has(n.bridge)) continue;
    seen.add(n.id);
    steps.push(...bridgeSteps(n));
  }
  if (steps.length > 0) {
    const state = firewallState(ctx.store);
    steps.push(...ctx.firewall.replace(state, state, 'restore the firewall from the records'));
  }
  return steps;
}

function checkNetwork(n: NetworkRecord, host: NsView, rebuilt: Set<string>): Found[] {
  const spec = networkSpec(n);
  const object = `network ${n.name}`;
  const link = host.links.get(n.bridge);
  const addr: Step = { kind: 'addr-add', dev: n.bridge, address: n.gateway, prefixLen: spec.prefixLen };
  const up: Step = { kind: 'link-up', dev: n.bridge };
  if (link === undefined) {
    rebuilt.add(n.bridge);
    return [{ object, problem: `bridge ${n.bridge} is missing`, fix: `recreate bridge ${n.bridge} and reattach its containers`, steps: bridgeSteps(n) }];
  }
  if (link.kind !== 'bridge') return [{ object, problem: `${n.bridge} is a ${link.kind ?? 'plain'} link, not a bridge` }];
  const out: Found[] = [];
  if (!hasAddr(host, link, n.gateway, spec.prefixLen)) {
    out.push({ object, problem: `bridge ${n.bridge} lacks the gateway address ${n.gateway}/${spec.prefixLen}`, fix: 'add it', steps: [addr] });
  }
  if (!link.up) out.push({ object, problem: `bridge ${n.bridge} is down`, fix: 'bring it up', steps: [up] });
  return out;
}

function checkContainer(ctx: Context, c: ContainerRecord, host: NsView, rebuilt: ReadonlySet<string>): Found[] {
  const object = `container ${c.name}`;
  const out: Found[] = [];
  const ns = namespaceOf(c);
  if (isCniContainer(c)) {
    if (!netnsExists(ns)) {
      return [{
        object,
        problem: `${c.runtime ?? 'its runtime'} removed its namespace ${ns} without a CNI DEL`,
        fix: 'release its attachments (addresses, ports, firewall entries)',
        action: () => releaseAll(ctx, c),
      }];
    }
    return checkWiring(ctx, c, host, rebuilt);
  }
  const live = liveState(c);
  if (c.status === 'running' && live.status !== 'running') {
    out.push({
      object,
      problem: `the store says running, but process ${c.pid} has exited`,
      fix: 'record it as exited',
      action: () => ctx.store.tx(() => ctx.store.containers.update(c.id, { status: 'exited', finishedAt: new Date().toISOString() })),
    });
  }
  if (!isMountedNetns(c.name)) {
    if (live.status === 'running') out.push({ object, problem: `its process runs but /run/netns/${c.name} is not mounted` });
    return out; // stopped without a namespace: what a reboot leaves; start rebuilds it
  }
  return [...out, ...checkWiring(ctx, c, host, rebuilt)];
}

/** Per network: the veth pair, the address, the link state; then the default route. */
function checkWiring(ctx: Context, c: ContainerRecord, host: NsView, rebuilt: ReadonlySet<string>): Found[] {
  const object = `container ${c.name}`;
  const out: Found[] = [];
  const ns = namespaceOf(c);
  const inside = withRtnl(() => openRtnlIn(ns), view);
  const specs = containerEndpoints(ctx.store, c.id);
  const carrier = specs.find((sp) => !sp.network.internal);
  let rewireCarrier = false;
  for (const ep of specs) {
    const problems: string[] = [];
    const hostLink = host.links.get(ep.hostIf);
    const bridge = host.links.get(ep.network.bridge);
    const peer = inside.links.get(ep.ifName);
    if (hostLink === undefined) problems.push(`host veth ${ep.hostIf} is missing`);
    else if (rebuilt.has(ep.network.bridge) || bridge === undefined || hostLink.masterIndex !== bridge.index) {
      problems.push(`host veth ${ep.hostIf} is not enslaved to bridge ${ep.network.bridge}`);
    }
    if (peer === undefined) problems.push(`${ep.ifName} is missing in its namespace`);
    if (problems.length > 0) {
      const steps: Step[] = [];
      if (hostLink !== undefined) steps.push({ kind: 'link-del', dev: ep.hostIf });
      if (peer !== undefined) steps.push({ kind: 'link-del', ns, dev: ep.ifName });
      steps.push(...planAttach(ns, ep));
      if (ep === carrier) rewireCarrier = true;
      out.push({ object, problem: `${ep.network.name}: ${problems.join('; ')}`, fix: `rewire ${ep.ifName} into ${ep.network.bridge}`, steps });
      continue;
    }
    if (!hasAddr(inside, peer, ep.ip, ep.network.prefixLen)) {
      out.push({
        object,
        problem: `${ep.network.name}: ${ep.ifName} lacks its address ${ep.ip}/${ep.network.prefixLen}`,
        fix: 'add it',
        steps: [{ kind: 'addr-add', ns, dev: ep.ifName, address: ep.ip, prefixLen: ep.network.prefixLen }],
      });
    }
    if (peer !== undefined && !peer.up) {
      out.push({ object, problem: `${ep.network.name}: ${ep.ifName} is down`, fix: 'bring it up', steps: [{ kind: 'link-up', ns, dev: ep.ifName }] });
    }
  }
  const route = defaultRouteStep(ns, specs);
  if (route !== undefined && route.kind === 'route-add') {
    const dev = inside.links.get(route.dev);
    const present = inside.routes.some((r) => r.dst === undefined && r.gateway === route.via && dev !== undefined && r.oif === dev.index);
    // A rewired carrier loses its route with the old interface: it comes back with the rewiring.
    if (!present || rewireCarrier) {
      const problem = rewireCarrier ? `the default route via ${route.via} goes with the rewiring` : `no default route via ${route.via} dev ${route.dev}`;
      out.push({ object, problem, fix: 'add it', steps: [route] });
    }
  }
  return out;
}

/** Namespaces nsnet made for containers the store no longer has (their state directory says so). */
function orphanNamespaces(ctx: Context): Found[] {
  const dir = path.join(ctx.root, 'containers');
  let ids: string[];
  try {
    ids = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Found[] = [];
  for (const id of ids) {
    if (ctx.store.containers.get(id) !== undefined) continue;
    let name: string;
    try {
      name = fs.readFileSync(path.join(dir, id, NETNS_MARKER), 'utf8').trim();
    } catch {
      continue;
    }
    const stateDir = path.join(dir, id);
    // The name may belong to a newer container now: then it is not an orphan.
    if (name === '' || ctx.store.containers.byIdOrName(name)?.name === name || !isMountedNetns(name)) {
      out.push({ object: `state ${id.slice(0, 12)}`, problem: `leftover state directory of a removed container (${name})`, fix: 'remove it', action: () => fs.rmSync(stateDir, { recursive: true, force: true }) });
      continue;
    }
    out.push({
      object: `namespace ${name}`,
      problem: 'made by nsnet for a container the store no longer has',
      fix: 'stop its processes and delete it',
      action: () => {
        killNetnsProcesses(name);
        deleteNetns(name);
        fs.rmSync(stateDir, { recursive: true, force: true });
      },
    });
  }
  return out;
}

function orphanLinks(ctx: Context, host: NsView): Found[] {
  const owned = new Set<string>();
  for (const n of ctx.store.networks.list()) {
    owned.add(n.bridge);
    for (const ep of ctx.store.endpoints.forNetwork(n.id)) owned.add(ep.hostIf);
  }
  return [...host.links.keys()]
    .filter((name) => GENERATED_LINK.test(name) && !owned.has(name))
    .map((name) => ({ object: `link ${name}`, problem: 'has a name nsnet generates but no record owns it', fix: 'delete it', steps: [{ kind: 'link-del', dev: name }] }));
}

/** nsnet's nft tables as the kernel lists them, in a fixed order. */
function listTables(): string {
  return ['inet', 'bridge']
    .map((family) => listNftTable(family, TABLE_NAME)?.trim() ?? '')
    .filter((t) => t !== '')
    .join('\n');
}

function checkFirewall(ctx: Context, notes: string[]): Found[] {
  if (ctx.firewall.name !== 'nftables') {
    notes.push(`the ${ctx.firewall.name} firewall driver's rules are not compared; --fix regenerates them anyway`);
    return [];
  }
  const state = firewallState(ctx.store);
  const steps = ctx.firewall.replace(state, state, 'regenerate the firewall from the records');
  // What the records give, made in a scratch namespace and listed by the kernel there.
  const scratch = `nsnet-check-${process.pid}`;
  let expected: string;
  createNetns(scratch);
  try {
    expected = withNetns(scratch, () => {
      for (const s of steps) if (s.kind === 'nft') runNft(s.script);
      return listTables();
    });
  } finally {
    deleteNetns(scratch);
  }
  const actual = listTables();
  if (actual === expected) return [];
  const problem =
    actual === '' ? 'nsnet\'s nftables tables are missing' : expected === '' ? 'nsnet\'s nftables tables are there but no network needs them' : 'nsnet\'s nftables tables differ from the records';
  return [{ object: 'firewall', problem, fix: 'regenerate them from the records (one transaction)', steps }];
}

export interface CheckResult {
  differences: Difference[];
  notes: string[];
}

export function check(ctx: Context, opts: { fix: boolean }): CheckResult {
  return ctx.locked(() => {
    const notes: string[] = [];
    const host = withRtnl(() => openRtnl(), view);
    const rebuilt = new Set<string>();
    const found: Found[] = [];
    for (const n of ctx.store.networks.list()) found.push(...checkNetwork(n, host, rebuilt));
    for (const c of ctx.store.containers.list()) found.push(...checkContainer(ctx, c, host, rebuilt));
    found.push(...orphanLinks(ctx, host));
    found.push(...orphanNamespaces(ctx));
    // Last: the firewall names ports, so it is regenerated after they are rewired.
    found.push(...checkFirewall(ctx, notes));
    if (opts.fix) for (const f of found) fixOne(ctx, f);
    return { differences: found.map(({ steps, action, ...d }) => ({ ...d, ...(steps === undefined ? {} : { commands: steps.map(renderStep) }) })), notes };
  });
}

function fixOne(ctx: Context, f: Found): void {
  if (f.fix === undefined) return;
  try {
    for (const step of f.steps ?? []) ctx.runner.apply(step);
    f.action?.();
    f.fixed = true;
  } catch (err) {
    f.fixed = false;
    f.error = err instanceof Error ? err.message : String(err);
  }
}

/**
 * CNI CHECK: what is wrong with one container's attachment to one network (its bridge, its
 * veth pair, address, link state, default route) and with the firewall, as problem lines.
 * Under the lock, so no other nsnet command is half-way through the same objects.
 */
export function attachmentProblems(ctx: Context, c: ContainerRecord, network: NetworkRecord): string[] {
  return ctx.locked(() => {
    const host = withRtnl(() => openRtnl(), view);
    const found = [...checkNetwork(network, host, new Set()), ...checkContainer(ctx, c, host, new Set())];
    // A container's per-network problems start with the network's name; the others (its route,
    // its namespace) concern every attachment.
    const mine = found.filter((f) => f.object === `network ${network.name}` || !/^[^:]+: /.test(f.problem) || f.problem.startsWith(`${network.name}: `));
    const notes: string[] = [];
    mine.push(...checkFirewall(ctx, notes));
    return mine.map((f) => (f.object.startsWith('container ') ? f.problem : `${f.object}: ${f.problem}`));
  });
}
