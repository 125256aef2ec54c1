/**
 * Impairments and link state of a container's interfaces: `netem set|clear|show` and `link
 * down|up`. Each change is one step (qdisc-netem, qdisc-clear, link-state) and one record write
 * (the interface's row in store.interfaces) through the commit pipeline, so a failure or a crash
 * leaves the previous impairment in the kernel and in the records alike. `start` after a reboot
 * and a lab's converge use `interfaceStateSteps` to apply what the records say again.
 *
 * A link is held down at the end of the veth pair that faces the container's interface (the host
 * end of a bridge-attached one, the other container's end of a point-to-point one): the
 * container's interface loses its carrier and keeps its addresses and routes. Setting the
 * container's own interface down would make the kernel drop its routes (the default route too),
 * and `link up` would not bring them back.
 */
import { NsnetError, invalid, usage } from '../core/errors.js';
import { isNoImpairment, netemSummary, normalizeNetem, sameAsKernel, sameNetem, type Netem } from '../core/netem.js';
import * as validate from '../core/validate.js';
import { isParentDriver } from '../engine/vlan-drivers.js';
import { ownsNamespace } from '../engine/netmode.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, InterfaceState } from '../store/index.js';
import type { Context } from './context.js';
import { commit, decide } from './pipeline.js';
import { namespaceOf } from './specs.js';

/** A container's interface as the commands name it: `red` (eth0) or `red:eth1`. */
export interface InterfaceTarget {
  container: ContainerRecord;
  ifName: string;
  /** The namespace its steps act in (the container's name, or a runtime's path). */
  ns: string;
  /** The other end of its veth pair, where link down acts; undefined for a macvlan/ipvlan (no other end). */
  facing: { ns?: string | undefined; dev: string } | undefined;
}

/** What `netem show` lists: one row per interface with an impairment or held down. */
export interface ImpairmentRow {
  container: string;
  ifName: string;
  netem: Netem | null;
  linkDown: boolean;
}

export const DEFAULT_IFACE = 'eth0';

/** `CONTAINER[:IFACE]`, IFACE eth0 unless given. */
export function parseTarget(text: string): { container: string; ifName: string } {
  const i = typeof text === 'string' ? text.indexOf(':') : -1;
  if (text === '' || i === 0) throw invalid(`invalid interface ${JSON.stringify(text)}: expected CONTAINER or CONTAINER:IFACE, e.g. red or red:eth1`);
  if (i < 0) return { container: text, ifName: DEFAULT_IFACE };
  const ifName = text.slice(i + 1);
  try {
    validate.ifName(ifName);
  } catch (err) {
    throw invalid(`invalid interface ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  return { container: text.slice(0, i), ifName };
}

/** The interfaces nsnet made in a container: its networks' and its point-to-point links'. */
function interfacesOf(ctx: Context, c: ContainerRecord): Map<string, InterfaceTarget['facing']> {
  const out = new Map<string, InterfaceTarget['facing']>();
  for (const ep of ctx.store.endpoints.forContainer(c.id)) {
    const network = ctx.store.networks.get(ep.networkId);
    out.set(ep.ifName, network !== undefined && isParentDriver(network.driver) ? undefined : { dev: ep.hostIf });
  }
  for (const l of ctx.store.links.forContainer(c.id)) {
    const mine = l.aContainer === c.id;
    const peer = ctx.store.containers.get(mine ? l.bContainer : l.aContainer);
    out.set(mine ? l.aIf : l.bIf, peer === undefined ? undefined : { ns: namespaceOf(peer), dev: mine ? l.bIf : l.aIf });
  }
  return out;
}

/** Resolve `CONTAINER[:IFACE]` to an interface nsnet made, or say what there is instead. */
export function resolveTarget(ctx: Context, text: string): InterfaceTarget {
  const { container: ref, ifName } = parseTarget(text);
  const container = ctx.store.containers.resolve(ref);
  if (!ownsNamespace(container)) {
    throw invalid(`container ${container.name} has no interfaces of its own (--network ${container.networkMode ?? ''})`, 'impair the container whose namespace it shares, or the host\'s own links with tc');
  }
  const known = interfacesOf(ctx, container);
  if (!known.has(ifName)) {
    const names = [...known.keys()].sort();
    throw new NsnetError('NOT_FOUND', `container ${container.name} has no interface ${ifName}${names.length === 0 ? ' (it has none but lo)' : ` (it has ${names.join(', ')})`}`, {
      hint: names.length === 0 ? 'connect it to a network or link it to another container first' : `name one of them: ${container.name}:${names[0]}`,
    });
  }
  return { container, ifName, ns: namespaceOf(container), facing: known.get(ifName) };
}

const stateOf = (ctx: Context, t: InterfaceTarget): InterfaceState =>
  ctx.store.interfaces.get(t.container.id, t.ifName) ?? { containerId: t.container.id, ifName: t.ifName, netem: null, linkDown: false };

/** Whether a step can act now: with --dry-run always; else the namespace must be there (a stopped container after a reboot gets it at start). */
const live = (ctx: Context, ns: string): boolean => ctx.dryRun || ctx.host.netnsExists(ns);

/**
 * `netem set`: make `netem` the interface's impairment, replacing the one it had (an empty one
 * clears it). Returns the target.
 */
export function setNetem(ctx: Context, text: string, netem: Netem): InterfaceTarget {
  return changeNetem(ctx, text, isNoImpairment(netem) ? null : normalizeNetem(netem));
}

/** `netem clear`: the interface's default qdisc back (what is not impaired is cleared all the same). */
export function clearNetem(ctx: Context, text: string): InterfaceTarget {
  return changeNetem(ctx, text, null);
}

/** One impairment change: the record and one step (qdisc-netem, or qdisc-clear for none), the old impairment kept for undo. */
function changeNetem(ctx: Context, text: string, wanted: Netem | null): InterfaceTarget {
  return ctx.locked(() =>
    commit(
      ctx,
      decide(ctx, (draft) => {
        const t = resolveTarget(ctx, text);
        const current = stateOf(ctx, t);
        const previous = current.netem === null ? {} : { previous: current.netem };
        draft.write({ kind: 'set-interface', record: { ...current, netem: wanted } });
        const step: Step = wanted === null ? { kind: 'qdisc-clear', ns: t.ns, dev: t.ifName, ...previous } : { kind: 'qdisc-netem', ns: t.ns, dev: t.ifName, netem: wanted, ...previous };
        return { op: `netem ${wanted === null ? 'clear' : 'set'} ${t.container.name}:${t.ifName}`, mode: 'rollback', steps: live(ctx, t.ns) ? [step] : [], result: t };
      }),
    ),
  );
}

/** The link-state step for a target, or the refusal when it has no other end to set down. */
function linkStateStep(t: InterfaceTarget, up: boolean): Extract<Step, { kind: 'link-state' }> {
  if (t.facing === undefined) {
    throw invalid(`cannot set ${t.container.name}:${t.ifName} ${up ? 'up' : 'down'}: it sits directly on a host link (macvlan/ipvlan) and has no other end to cut`, 'link down|up works on bridge-attached and point-to-point interfaces');
  }
  return { kind: 'link-state', ...(t.facing.ns === undefined ? {} : { ns: t.facing.ns }), dev: t.facing.dev, up };
}

/** `link down|up CONTAINER:IFACE`: the carrier of the interface off or on. */
export function setLinkState(ctx: Context, text: string, up: boolean): InterfaceTarget {
  if (typeof text === 'string' && !text.includes(':')) {
    throw usage(`link ${up ? 'up' : 'down'} needs CONTAINER:IFACE, got ${JSON.stringify(text)}`, `e.g. nsnet link ${up ? 'up' : 'down'} ${text}:eth0`);
  }
  return ctx.locked(() =>
    commit(
      ctx,
      decide(ctx, (draft) => {
        const t = resolveTarget(ctx, text);
        const step = linkStateStep(t, up);
        const current = stateOf(ctx, t);
        draft.write({ kind: 'set-interface', record: { ...current, linkDown: !up } });
        const facingNs = t.facing?.ns;
        const steps: Step[] = live(ctx, t.ns) && (facingNs === undefined || live(ctx, facingNs)) ? [step] : [];
        return { op: `link ${up ? 'up' : 'down'} ${t.container.name}:${t.ifName}`, mode: 'rollback', steps, result: t };
      }),
    ),
  );
}

/** `netem show [CONTAINER]`: the interfaces with an impairment or held down, by container and name. */
export function listImpairments(ctx: Context, ref?: string): ImpairmentRow[] {
  const containers = ref === undefined ? ctx.store.containers.list() : [ctx.store.containers.resolve(ref)];
  return containers.flatMap((c) => recordedStates(ctx, c).map((s) => ({ container: c.name, ifName: s.ifName, netem: s.netem, linkDown: s.linkDown })));
}

/** A container's recorded interface states, for interfaces it still has (a row outlives a disconnect until it is set again). */
export function recordedStates(ctx: Context, c: ContainerRecord): InterfaceState[] {
  if (!ownsNamespace(c)) return [];
  const known = interfacesOf(ctx, c);
  return ctx.store.interfaces.forContainer(c.id).filter((s) => known.has(s.ifName));
}

/**
 * What a freshly wired container needs again from its records (start after a reboot, a lab
 * made again): each interface's impairment and every link held down, after its interfaces exist.
 */
export function interfaceStateSteps(ctx: Context, c: ContainerRecord): Step[] {
  const known = interfacesOf(ctx, c);
  const ns = namespaceOf(c);
  return recordedStates(ctx, c).flatMap((s): Step[] => {
    const steps: Step[] = [];
    if (s.netem !== null && !isNoImpairment(s.netem)) steps.push({ kind: 'qdisc-netem', ns, dev: s.ifName, netem: s.netem });
    const facing = known.get(s.ifName);
    if (s.linkDown && facing !== undefined) steps.push({ kind: 'link-state', ...(facing.ns === undefined ? {} : { ns: facing.ns }), dev: facing.dev, up: false });
    return steps;
  });
}

/** Whether two impairments differ (a lab's converge changes only those that do). */
export const impairmentChanged = (a: Netem | null | undefined, b: Netem | null | undefined): boolean => !sameNetem(a ?? undefined, b ?? undefined);

/** What `system check` finds about a container's recorded impairments and held-down links, and the steps that fix it. */
export interface ImpairmentDifference {
  ifName: string;
  problem: string;
  fix: string;
  steps: Step[];
}

/**
 * The kernel against the records, for a container whose namespace is there: each recorded
 * impairment is what the interface's qdiscs make (read back), and each link is down exactly when
 * `link down` recorded it (the end facing the interface).
 */
export function impairmentDifferences(ctx: Context, c: ContainerRecord): ImpairmentDifference[] {
  const ns = namespaceOf(c);
  const known = interfacesOf(ctx, c);
  const states = new Map(recordedStates(ctx, c).map((s) => [s.ifName, s]));
  const out: ImpairmentDifference[] = [];
  for (const [ifName, facing] of known) {
    const s = states.get(ifName);
    const facts = ctx.host.impairment(ifName, ns);
    if (facts === undefined) continue; // a missing interface is the wiring's difference
    const wanted = s?.netem ?? null;
    if (wanted !== null && !sameAsKernel(wanted, facts.netem)) {
      const has = facts.kinds.length === 0 ? 'none' : `${facts.kinds.join(' + ')}${isNoImpairment(facts.netem) ? '' : ` (${netemSummary(facts.netem)})`}`;
      out.push({
        ifName,
        problem: `${ifName}'s impairment is ${has}, not ${netemSummary(wanted)} (netem set)`,
        fix: 'set it',
        steps: [{ kind: 'qdisc-netem', ns, dev: ifName, netem: wanted, ...(isNoImpairment(facts.netem) ? {} : { previous: facts.netem }) }],
      });
    }
    if (facing === undefined) continue;
    const end = ctx.host.link(facing.dev, facing.ns);
    if (end === undefined) continue;
    const down = s?.linkDown === true;
    if (end.up === down) {
      out.push({
        ifName,
        problem: down ? `${ifName} is held down (link down), but ${facing.dev} facing it is up` : `${facing.dev} facing ${ifName} is down, and no link down says so`,
        fix: down ? 'set it down' : 'set it up',
        steps: [{ kind: 'link-state', ...(facing.ns === undefined ? {} : { ns: facing.ns }), dev: facing.dev, up: !down }],
      });
    }
  }
  return out;
}
