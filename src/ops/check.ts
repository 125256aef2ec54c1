/**
 * `nsnet system check [--fix]`: compare the store with the kernel and report every difference;
 * with --fix, remove the orphans nsnet made and recreate what nsnet owns and lost.
 *
 * What is expected is what the planners would make now (planBridge, planAttach, the default
 * route, the firewall regenerated from the records), never a copy of their recipes; compared,
 * under the host lock (so no other nsnet command is half-way):
 * - networks: the bridge exists, is a bridge, is up, holds the gateway address, and the
 *   sysctls its recipe sets have those values (ip_forward, route_localnet, disable_ipv6);
 * - containers: a running one's process is alive; a container with a namespace has, per network,
 *   its host veth enslaved to the right bridge, its interface up with its addresses and IPv6 settings
 *   (accept_ra, accept_dad, disable_ipv6) inside, and the
 *   default route via the first network that leads outside;
 * - impairments and link state (netem set, link down): the qdiscs read back against the recorded
 *   impairment, the end of the veth facing each interface down exactly when link down says so;
 * - orphans: links with nsnet's generated names that no record owns; namespaces nsnet made for a
 *   container the store no longer has;
 * - the firewall: nsnet's tables as the kernel holds them against the ruleset regenerated from
 *   the store (built in a scratch namespace and listed there, so both sides are nft's own text).
 *
 * A stopped container without a namespace is not a difference: that is what a reboot leaves, and
 * `nsnet start` rebuilds it.
 */
import fs from 'node:fs';
import { sharesNamespace } from '../engine/netmode.js';
import path from 'node:path';
import { GENERATED_LINK } from '../engine/ids.js';
import { TABLE_NAME } from '../firewall/nftables.js';
import { sameSysctlValue, sysctlSteps } from '../engine/sysctls.js';
import { defaultRouteSteps, onParent, planAttach, planBridge, planParent, type EndpointSpec } from '../engine/plans.js';
import type { LinkInfo } from '../host/port.js';
import { renderStep } from '../plan/render.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, NetworkRecord } from '../store/index.js';
import { NETNS_MARKER } from './container-state.js';
import type { Context } from './context.js';
import { liveState } from './liveness.js';
import { containerEndpoints, firewallState, isCniContainer, namespaceOf, networkSpec } from './specs.js';
import { releaseAll } from './cni.js';
import { impairmentDifferences } from './impairments.js';
import { linkDifferences } from './check-links.js';
import { etcDir, ownedContainerFiles, removeContainerFiles } from './dns-files.js';

/** What a difference is about, so callers select differences by kind, never by message text. */
export type Subject =
  | { kind: 'network'; network: string }
  | { kind: 'container'; container: string; network?: string | undefined }
  | { kind: 'orphan' }
  | { kind: 'firewall' };

export interface Difference {
  /** What it is about: "network study", "container red", "link nsv0123456789ab", "firewall". */
  object: string;
  subject: Subject;
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

interface NsView {
  links: Map<string, LinkInfo>;
  addrs: Array<{ index: number; address: string; prefixLen: number }>;
  routes: Array<{ dst: string | undefined; gateway: string | undefined; oif: number | undefined }>;
}

function view(ctx: Context, ns?: string): NsView {
  return {
    links: new Map(ctx.host.links(ns).map((l) => [l.name, l])),
    // Both families: an IPv6 network's gateway, container addresses and default routes too.
    addrs: ctx.host.addresses(ns),
    routes: ctx.host.routes(ns),
  };
}

const hasAddr = (v: NsView, link: LinkInfo | undefined, ip: string, prefixLen: number): boolean =>
  link !== undefined && v.addrs.some((a) => a.index === link.index && a.address === ip && a.prefixLen === prefixLen);

function checkNetwork(ctx: Context, n: NetworkRecord, host: NsView, rebuilt: Set<string>): Found[] {
  const spec = networkSpec(n);
  const object = `network ${n.name}`;
  const subject: Subject = { kind: 'network', network: n.name };
  if (onParent(spec)) return checkParent(spec, host, rebuilt);
  const recipe = planBridge(spec);
  const link = host.links.get(n.bridge);
  if (link === undefined) {
    rebuilt.add(n.bridge);
    return [{ object, subject, problem: `bridge ${n.bridge} is missing`, fix: `recreate bridge ${n.bridge} and reattach its containers`, steps: recipe }];
  }
  if (link.kind !== 'bridge') return [{ object, subject, problem: `${n.bridge} is a ${link.kind ?? 'plain'} link, not a bridge` }];
  const out: Found[] = [];
  for (const step of recipe) {
    if (step.kind === 'addr-add' && !hasAddr(host, link, step.address, step.prefixLen)) {
      out.push({ object, subject, problem: `bridge ${n.bridge} lacks the gateway address ${step.address}/${step.prefixLen}`, fix: 'add it', steps: [step] });
    } else if (step.kind === 'link-up' && !link.up) {
      out.push({ object, subject, problem: `bridge ${n.bridge} is down`, fix: 'bring it up', steps: [step] });
    } else if (step.kind === 'sysctl') {
      const actual = ctx.host.sysctl(step.key);
      // A key the kernel does not have, where the recipe allows it (IPv6 disabled at boot), is no difference.
      if (actual === undefined && step.ignoreUnknown === true) continue;
      if (actual !== step.value) out.push({ object, subject, problem: `sysctl ${step.key} is ${actual ?? 'missing'}, not ${step.value}`, fix: 'set it', steps: [step] });
    }
  }
  return out;
}

/**
 * A macvlan/ipvlan network: its parent link exists (and, when it is nsnet's own dummy, is up;
 * a lost dummy is made again). A user's parent that went is reported, not made: it is not nsnet's.
 */
function checkParent(spec: ReturnType<typeof networkSpec>, host: NsView, rebuilt: Set<string>): Found[] {
  const object = `network ${spec.name}`;
  const subject: Subject = { kind: 'network', network: spec.name };
  if (spec.driver === undefined || spec.driver.kind === 'bridge') return [];
  const parent = spec.driver.parent;
  const recipe = planParent(spec);
  const link = host.links.get(parent);
  if (link === undefined) {
    rebuilt.add(parent);
    if (recipe.length === 0) return [{ object, subject, problem: `parent interface ${parent} of this ${spec.driver.kind} network is missing: its containers are cut off` }];
    return [{ object, subject, problem: `dummy parent ${parent} is missing`, fix: `recreate it and reattach its containers`, steps: recipe }];
  }
  if (recipe.length > 0 && !link.up) return [{ object, subject, problem: `dummy parent ${parent} is down`, fix: 'bring it up', steps: [{ kind: 'link-up', dev: parent }] }];
  return [];
}

/** What is wrong with the link an endpoint hangs on: a veth into the bridge, or a macvlan/ipvlan on the parent. */
function wiringProblems(ep: EndpointSpec, host: NsView, inside: NsView, rebuilt: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const peer = inside.links.get(ep.ifName);
  if (ep.network.driver !== undefined && ep.network.driver.kind !== 'bridge') {
    const { kind, parent } = ep.network.driver;
    if (peer === undefined) problems.push(`${ep.ifName} is missing in its namespace`);
    else if (peer.kind !== kind) problems.push(`${ep.ifName} is a ${peer.kind ?? 'plain'} link, not a ${kind} on ${parent}`);
    else if (rebuilt.has(parent)) problems.push(`${ep.ifName} went with its parent ${parent}`);
    return problems;
  }
  const hostLink = host.links.get(ep.hostIf);
  const bridge = host.links.get(ep.network.bridge);
  if (hostLink === undefined) problems.push(`host veth ${ep.hostIf} is missing`);
  else if (rebuilt.has(ep.network.bridge) || bridge === undefined || hostLink.masterIndex !== bridge.index) {
    problems.push(`host veth ${ep.hostIf} is not enslaved to bridge ${ep.network.bridge}`);
  }
  if (peer === undefined) problems.push(`${ep.ifName} is missing in its namespace`);
  return problems;
}

function checkContainer(ctx: Context, c: ContainerRecord, host: NsView, rebuilt: ReadonlySet<string>): Found[] {
  const object = `container ${c.name}`;
  const subject: Subject = { kind: 'container', container: c.name };
  const out: Found[] = [];
  const ns = namespaceOf(c);
  if (isCniContainer(c)) {
    if (!ctx.host.netnsExists(ns)) {
      return [{
        object,
        subject,
        problem: `${c.runtime ?? 'its runtime'} removed its namespace ${ns} without a CNI DEL`,
        fix: 'release its attachments (addresses, ports, firewall entries)',
        action: () => releaseAll(ctx, c),
      }];
    }
    return checkWiring(ctx, c, host, rebuilt);
  }
  const live = liveState(ctx.host, c);
  if (c.status === 'running' && live.status !== 'running') {
    out.push({
      object,
      subject,
      problem: `the store says running, but process ${c.pid} has exited`,
      fix: 'record it as exited',
      // With the exit code and finish time its monitor recorded, when it did.
      action: () => ctx.store.tx(() => ctx.store.containers.update(c.id, { status: 'exited', exitCode: live.exitCode, finishedAt: live.finishedAt ?? new Date().toISOString(), restartCount: live.restartCount ?? c.restartCount ?? 0 })),
    });
  }
  // --network host and container: have no namespace of their own to check (never one to delete).
  if (sharesNamespace(c)) return out;
  if (!ctx.host.isMountedNetns(c.name)) {
    if (live.status === 'running') out.push({ object, subject, problem: `its process runs but /run/netns/${c.name} is not mounted` });
    return out; // stopped without a namespace: what a reboot leaves; start rebuilds it
  }
  return [...out, ...checkWiring(ctx, c, host, rebuilt), ...checkSysctls(ctx, c), ...checkImpairments(ctx, c)];
}

/** netem set and link down: what the records say against the qdiscs and link states (set again with --fix). */
function checkImpairments(ctx: Context, c: ContainerRecord): Found[] {
  return impairmentDifferences(ctx, c).map((d) => ({ object: `container ${c.name}`, subject: { kind: 'container', container: c.name }, problem: d.problem, fix: d.fix, steps: d.steps }));
}

/** run --sysctl: each key still has its value in the container's namespace (set again with --fix). */
function checkSysctls(ctx: Context, c: ContainerRecord): Found[] {
  const ns = namespaceOf(c);
  return sysctlSteps(ns, c.sysctls ?? {}).flatMap((step): Found[] => {
    const actual = ctx.host.sysctl(step.key, ns);
    if (actual !== undefined && sameSysctlValue(actual, step.value)) return [];
    const problem = `sysctl ${step.key} is ${actual ?? 'missing'} in its namespace, not ${step.value} (--sysctl)`;
    return [{ object: `container ${c.name}`, subject: { kind: 'container', container: c.name }, problem, fix: 'set it', steps: [step] }];
  });
}

/**
 * The interface's IPv6 settings from the same recipe: no router advertisements and no DAD on an
 * IPv6 network, IPv6 off on one without (a container that takes RAs again can be given a SLAAC
 * address and a default route by a neighbour the RA guard did not see, e.g. after a rewire by
 * hand). A key the user set with --sysctl (or its `all` form, which the kernel copies to every
 * interface) is theirs, compared by checkSysctls.
 */
function interfaceSysctlProblems(ctx: Context, c: ContainerRecord, ep: EndpointSpec, ns: string): Array<Pick<Found, 'problem' | 'fix' | 'steps'>> {
  const userKeys = new Set(Object.keys(c.sysctls ?? {}));
  return planAttach(ns, ep).flatMap((step) => {
    if (step.kind !== 'netns-sysctl') return [];
    if (userKeys.has(step.key) || userKeys.has(step.key.replace(`.${ep.ifName}.`, '.all.'))) return [];
    const actual = ctx.host.sysctl(step.key, step.ns);
    if ((actual === undefined && step.ignoreUnknown === true) || (actual !== undefined && sameSysctlValue(actual, step.value))) return [];
    return [{ problem: `${ep.network.name}: sysctl ${step.key} is ${actual ?? 'missing'} in its namespace, not ${step.value}`, fix: 'set it', steps: [step] }];
  });
}

/** Per network: the veth pair, the address, the link state; then the default route. */
function checkWiring(ctx: Context, c: ContainerRecord, host: NsView, rebuilt: ReadonlySet<string>): Found[] {
  const object = `container ${c.name}`;
  const subject: Subject = { kind: 'container', container: c.name };
  const out: Found[] = [];
  const ns = namespaceOf(c);
  const inside = view(ctx, ns);
  const specs = containerEndpoints(ctx.store, c.id);
  const rewiredCarriers = new Set<string>();
  for (const ep of specs) {
    const hostLink = host.links.get(ep.hostIf);
    const peer = inside.links.get(ep.ifName);
    const problems = wiringProblems(ep, host, inside, rebuilt);
    if (problems.length > 0) {
      const steps: Step[] = [];
      if (hostLink !== undefined) steps.push({ kind: 'link-del', dev: ep.hostIf });
      if (peer !== undefined) steps.push({ kind: 'link-del', ns, dev: ep.ifName });
      steps.push(...planAttach(ns, ep));
      rewiredCarriers.add(ep.ifName);
      const target = ep.network.driver !== undefined && ep.network.driver.kind !== 'bridge' ? `onto ${ep.network.driver.parent}` : `into ${ep.network.bridge}`;
      out.push({ object, subject: { ...subject, network: ep.network.name }, problem: `${ep.network.name}: ${problems.join('; ')}`, fix: `rewire ${ep.ifName} ${target}`, steps });
      continue;
    }
    // The addresses from the same recipe as the wiring (IPv4, IPv6).
    for (const step of planAttach(ns, ep)) {
      if (step.kind !== 'addr-add' || hasAddr(inside, peer, step.address, step.prefixLen)) continue;
      out.push({
        object,
        subject: { ...subject, network: ep.network.name },
        problem: `${ep.network.name}: ${ep.ifName} lacks its address ${step.address}/${step.prefixLen}`,
        fix: 'add it',
        steps: [step],
      });
    }
    // The port's settings from the same recipe (hairpin mode; a kernel that does not report
    // it, leaves `hairpin` absent and is not compared).
    for (const step of planAttach(ns, ep)) {
      if (step.kind !== 'port-hairpin' || hostLink?.hairpin === undefined || hostLink.hairpin === step.on) continue;
      out.push({
        object,
        subject: { ...subject, network: ep.network.name },
        problem: `${ep.network.name}: bridge port ${step.dev} has hairpin ${hostLink.hairpin ? 'on' : 'off'}, not ${step.on ? 'on' : 'off'}`,
        fix: `turn hairpin ${step.on ? 'on' : 'off'}`,
        steps: [step],
      });
    }
    out.push(...interfaceSysctlProblems(ctx, c, ep, ns).map((d) => ({ object, subject: { ...subject, network: ep.network.name }, ...d })));
    if (peer !== undefined && !peer.up) {
      out.push({ object, subject: { ...subject, network: ep.network.name }, problem: `${ep.network.name}: ${ep.ifName} is down`, fix: 'bring it up', steps: [{ kind: 'link-up', ns, dev: ep.ifName }] });
    }
  }
  for (const route of defaultRouteSteps(ns, specs)) {
    // A rewired carrier loses its routes with the old interface: they come back with the rewiring.
    const rewired = rewiredCarriers.has(route.dev);
    if (route.kind === 'route-dev') {
      const dev = inside.links.get(route.dev);
      const present = inside.routes.some((r) => r.dst === undefined && r.gateway === undefined && dev !== undefined && r.oif === dev.index);
      if (!present || rewired) out.push({ object, subject, problem: `no default route dev ${route.dev}`, fix: 'add it', steps: [route] });
    }
    if (route.kind === 'route-add') {
      const dev = inside.links.get(route.dev);
      const present = inside.routes.some((r) => r.dst === undefined && r.gateway === route.via && dev !== undefined && r.oif === dev.index);
      if (!present || rewired) {
        const problem = rewired ? `the default route via ${route.via} goes with the rewiring` : `no default route via ${route.via} dev ${route.dev}`;
        out.push({ object, subject, problem, fix: 'add it', steps: [route] });
      }
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
    if (name === '' || ctx.store.containers.byIdOrName(name)?.name === name || !ctx.host.isMountedNetns(name)) {
      out.push({ object: `state ${id.slice(0, 12)}`, subject: { kind: 'orphan' }, problem: `leftover state directory of a removed container (${name})`, fix: 'remove it', action: () => fs.rmSync(stateDir, { recursive: true, force: true }) });
      continue;
    }
    out.push({
      object: `namespace ${name}`,
      subject: { kind: 'orphan' },
      problem: 'made by nsnet for a container the store no longer has',
      fix: 'stop its processes and delete it',
      // First the processes and the state directory (action), then the namespace (its step).
      action: () => {
        ctx.host.killNetnsProcesses(name);
        fs.rmSync(stateDir, { recursive: true, force: true });
      },
      steps: [{ kind: 'netns-del', name }],
    });
  }
  return out;
}

/** /etc/netns/NAME files nsnet wrote for a container the store no longer has (a crash between steps). */
function orphanContainerFiles(ctx: Context): Found[] {
  return ownedContainerFiles(ctx.root)
    .filter((name) => ctx.store.containers.byIdOrName(name)?.name !== name)
    .map((name) => ({
      object: `files ${etcDir(name)}`,
      subject: { kind: 'orphan' as const },
      problem: 'resolv.conf and hosts nsnet wrote for a container the store no longer has',
      fix: 'remove them',
      action: () => removeContainerFiles(name),
    }));
}

function orphanLinks(ctx: Context, host: NsView): Found[] {
  const owned = new Set<string>();
  for (const n of ctx.store.networks.list()) {
    owned.add(n.bridge);
    for (const ep of ctx.store.endpoints.forNetwork(n.id)) owned.add(ep.hostIf);
  }
  return [...host.links.keys()]
    .filter((name) => GENERATED_LINK.test(name) && !owned.has(name))
    .map((name): Found => ({ object: `link ${name}`, subject: { kind: 'orphan' }, problem: 'has a name nsnet generates but no record owns it', fix: 'delete it', steps: [{ kind: 'link-del', dev: name }] }));
}

const NSNET_TABLES = [
  { family: 'inet', name: TABLE_NAME },
  { family: 'bridge', name: TABLE_NAME },
];

/** nsnet's nft tables as the kernel lists them, in a fixed order. */
function listTables(ctx: Context): string {
  return NSNET_TABLES.map((t) => ctx.host.nftTable(t.family, t.name)?.trim() ?? '')
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
  const expected = ctx.host.renderNftTables(
    steps.flatMap((s) => (s.kind === 'nft' ? [s.script] : [])),
    NSNET_TABLES,
  );
  const actual = listTables(ctx);
  if (actual === expected) return [];
  const problem =
    actual === '' ? 'nsnet\'s nftables tables are missing' : expected === '' ? 'nsnet\'s nftables tables are there but no network needs them' : 'nsnet\'s nftables tables differ from the records';
  return [{ object: 'firewall', subject: { kind: 'firewall' }, problem, fix: 'regenerate them from the records (one transaction)', steps }];
}

export interface CheckResult {
  differences: Difference[];
  notes: string[];
}

export function check(ctx: Context, opts: { fix: boolean }): CheckResult {
  return ctx.locked(() => {
    const notes: string[] = [];
    const host = view(ctx);
    const rebuilt = new Set<string>();
    const found: Found[] = [];
    for (const n of ctx.store.networks.list()) found.push(...checkNetwork(ctx, n, host, rebuilt));
    for (const c of ctx.store.containers.list()) found.push(...checkContainer(ctx, c, host, rebuilt));
    for (const d of linkDifferences(ctx)) found.push({ object: `container ${d.container}`, subject: { kind: 'container', container: d.container }, problem: d.problem, fix: d.fix, steps: d.steps });
    found.push(...orphanLinks(ctx, host));
    found.push(...orphanNamespaces(ctx));
    found.push(...orphanContainerFiles(ctx));
    // Last: the firewall names ports, so it is regenerated after they are rewired.
    found.push(...checkFirewall(ctx, notes));
    if (opts.fix) for (const f of found) fixOne(ctx, f);
    return { differences: found.map(({ steps, action, ...d }) => ({ ...d, ...(steps === undefined ? {} : { commands: steps.map(renderStep) }) })), notes };
  });
}

function fixOne(ctx: Context, f: Found): void {
  if (f.fix === undefined) return;
  try {
    f.action?.();
    for (const step of f.steps ?? []) ctx.runner.apply(step);
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
    const host = view(ctx);
    const found = [...checkNetwork(ctx, network, host, new Set()), ...checkContainer(ctx, c, host, new Set())];
    // The container's problems on other networks are not this attachment's; those of the whole
    // container (its route, its namespace) concern every attachment.
    const mine = found.filter((f) => f.subject.kind !== 'container' || f.subject.network === undefined || f.subject.network === network.name);
    mine.push(...checkFirewall(ctx, []));
    return mine.map((f) => (f.subject.kind === 'container' ? f.problem : `${f.object}: ${f.problem}`));
  });
}
