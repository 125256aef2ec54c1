/**
 * A lab's impairments: `netem:` on an attachment (the container's interface on that network) or
 * on a point-to-point link (both ends, or each end its own). They are checked with the rest of
 * the file, and are no part of a container's declaration (its hash): `up` converges them after
 * the containers and links are there, through `netem set|clear`, so changing only a delay changes
 * only the qdisc and the container keeps running.
 */
import { NsnetError } from '../core/errors.js';
import { NETEM_FIELDS, parseNetem, sameNetem, type Netem, type NetemInput } from '../core/netem.js';
import type { Context } from '../ops/context.js';
import { clearNetem, recordedStates, setNetem } from '../ops/impairments.js';

type RawNetem = Partial<Record<(typeof NETEM_FIELDS)[number], string | number>>;

/** Where an impairment goes: the container (LAB-KEY) and its interface, by network (LAB-NET) or by name (a link's end). */
export interface LabImpairment {
  container: string;
  network?: string | undefined;
  ifName?: string | undefined;
  netem: Netem;
}

interface RawAttachments {
  networks: string[] | Record<string, unknown>;
}
interface RawLinkNetem {
  endpoints: [string, string];
  netem?: RawNetem | [RawNetem | null, RawNetem | null];
}

/** An attachment's `netem:` (the schema has checked its shape). */
const netemOf = (attachment: unknown): RawNetem | undefined => (attachment as { netem?: RawNetem } | null)?.netem;

const input = (raw: RawNetem): NetemInput => Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)])) as NetemInput;

/** A link's impairment per end, in the order of its endpoints. */
const perEnd = (netem: RawLinkNetem['netem']): [RawNetem | null, RawNetem | null] =>
  netem === undefined ? [null, null] : Array.isArray(netem) ? netem : [netem, netem];

/** Every `netem:` value that does not parse, with where it is in the file. */
export function netemProblems(containers: Record<string, RawAttachments>, links: readonly RawLinkNetem[]): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  const check = (path: Array<string | number>, raw: RawNetem | null | undefined): void => {
    if (raw === null || raw === undefined) return;
    try {
      parseNetem(input(raw));
    } catch (err) {
      if (!(err instanceof NsnetError)) throw err;
      problems.push({ path, message: `${path.join('.')}: ${err.message}` });
    }
  };
  for (const [key, c] of Object.entries(containers)) {
    if (Array.isArray(c.networks)) continue;
    for (const [net, a] of Object.entries(c.networks)) check(['containers', key, 'networks', net, 'netem'], netemOf(a));
  }
  links.forEach((l, i) => perEnd(l.netem).forEach((raw, j) => check(['links', i, 'netem', ...(Array.isArray(l.netem) ? [j] : [])], raw)));
  return problems;
}

/** The impairments the file declares (values already checked by netemProblems). */
export function labImpairments(lab: string, containers: Record<string, RawAttachments>, links: readonly RawLinkNetem[]): LabImpairment[] {
  const out: LabImpairment[] = [];
  for (const [key, c] of Object.entries(containers)) {
    if (Array.isArray(c.networks)) continue;
    for (const [net, a] of Object.entries(c.networks)) {
      const raw = netemOf(a);
      if (raw !== undefined) out.push({ container: `${lab}-${key}`, network: `${lab}-${net}`, netem: parseNetem(input(raw)) });
    }
  }
  for (const l of links) {
    perEnd(l.netem).forEach((raw, j) => {
      if (raw === null) return;
      const [key = '', ifName = ''] = (l.endpoints[j] ?? '').split(':');
      out.push({ container: `${lab}-${key}`, ifName, netem: parseNetem(input(raw)) });
    });
  }
  return out;
}

/** The changes that bring the lab's interfaces to what the file says: `CONTAINER:IFACE` → the impairment, or null to clear. */
export function impairmentChanges(ctx: Context, containers: readonly string[], wanted: readonly LabImpairment[]): Array<{ target: string; netem: Netem | null }> {
  const changes: Array<{ target: string; netem: Netem | null }> = [];
  for (const name of containers) {
    const c = ctx.store.containers.byIdOrName(name);
    if (c === undefined) continue;
    const eps = ctx.store.endpoints.forContainer(c.id);
    const want = new Map<string, Netem>();
    for (const w of wanted.filter((x) => x.container === name)) {
      const net = w.network === undefined ? undefined : ctx.store.networks.byName(w.network);
      const ifName = w.ifName ?? eps.find((e) => e.networkId === net?.id)?.ifName;
      if (ifName !== undefined) want.set(ifName, w.netem);
    }
    const have = new Map(recordedStates(ctx, c).filter((s) => s.netem !== null).map((s) => [s.ifName, s.netem!]));
    for (const [ifName, netem] of want) if (!sameNetem(have.get(ifName), netem)) changes.push({ target: `${name}:${ifName}`, netem });
    for (const ifName of have.keys()) if (!want.has(ifName)) changes.push({ target: `${name}:${ifName}`, netem: null });
  }
  return changes;
}

/** Make the changes; each failure is kept (the others are still made). */
export function applyImpairmentChanges(ctx: Context, changes: ReturnType<typeof impairmentChanges>, failures: NsnetError[]): void {
  for (const { target, netem } of changes) {
    try {
      if (netem === null) clearNetem(ctx, target);
      else setNetem(ctx, target, netem);
    } catch (err) {
      failures.push(err instanceof NsnetError ? new NsnetError(err.code, `impair ${target}: ${err.message}`, { cause: err, hint: err.hint }) : new NsnetError('INTERNAL', `impair ${target}: ${String(err)}`));
    }
  }
}
