/**
 * The lab file: YAML text → a validated, normalised LabSpec. Every error names the file, line and
 * column of the offending value (schema errors from the JSON Schema in schema.ts, then the
 * checks a schema cannot express: references to undeclared networks, name lengths, and every
 * address — addresses.ts — so that a lab is refused before any of it is made).
 */
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { capabilityOptions, parseCapability } from '../core/capabilities.js';
import { NsnetError } from '../core/errors.js';
import { addressProblems } from './addresses.js';
import { declaresIPv4, declaresIPv6, type OneOrPerFamily } from './address-families.js';
import { carriesVia, labLinkProblems, normaliseLinks, type LabLink, type RawLink } from './links.js';
import { labPartitionProblems, normalisePartitions, type LabPartition, type RawPartition } from './partitions.js';
import { LAB_SCHEMA } from './schema.js';
import { labImpairments, netemProblems, type LabImpairment } from './impairments.js';

/** Labels every lab network carries: the lab's name, and the hash of its declaration. */
export const LAB_LABEL = 'nsnet.lab';
export const HASH_LABEL = 'nsnet.lab.config-hash';
/** A namespace name is a file name under /run/netns; nsnet (like Docker) allows 63 characters. */
export const MAX_OBJECT_NAME = 63;

export interface LabNetwork {
  /** The name in the file. */
  key: string;
  /** The network's name: LAB-KEY. */
  name: string;
  /** One value, or one per family (IPv4 and IPv6). */
  subnet?: OneOrPerFamily;
  gateway?: OneOrPerFamily;
  ipRange?: OneOrPerFamily;
  /** Its families: IPv4 unless `ipv4: false`; IPv6 with `ipv6: true` or an IPv6 subnet. */
  ipv4: boolean;
  ipv6: boolean;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** Hash of the declaration: a change means the network is made again. */
  hash: string;
}

export interface LabAttachment {
  key: string;
  name: string;
  ip?: string | undefined;
  ip6?: string | undefined;
  aliases: string[];
}

export interface LabRoute {
  to: string;
  via: string;
}

export interface LabContainer {
  key: string;
  /** The container's (and its network namespace's) name: LAB-KEY. */
  name: string;
  command: string[];
  networks: LabAttachment[];
  hostname: string;
  env: Record<string, string>;
  ports: string[];
  rootfs?: string | undefined;
  sysctls: Record<string, string>;
  /** Routes added with the container (via its networks). */
  routes: LabRoute[];
  /** Routes via a point-to-point link's peer: added once the lab's links are made. */
  linkRoutes: LabRoute[];
  /** cap_add, cap_drop, privileged: as run --cap-add, --cap-drop, --privileged take them. */
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  hash: string;
}

export interface LabSpec {
  name: string;
  networks: LabNetwork[];
  containers: LabContainer[];
  /** Point-to-point links between its containers. */
  links: LabLink[];
  /** Partitions between its containers. */
  partitions: LabPartition[];
  /** Impairments of its containers' interfaces (`netem:`), converged apart from the containers. */
  impairments: LabImpairment[];
}

export type { LabLink };

/** The objects a lab makes are named LAB-NAME (networks and containers alike). */
export const objectName = (lab: string, key: string): string => `${lab}-${key}`;

/** Canonical JSON (sorted keys) → 16 hex of SHA-256: same declaration, same hash. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface Problem {
  line: number;
  col: number;
  message: string;
}

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let validator: Validator | undefined;

function compiled(): Validator {
  validator ??= new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, verbose: true }).compile(LAB_SCHEMA);
  return validator;
}

export interface ParseOptions {
  /**
   * Take an empty (or comment-only) file as a lab that declares nothing. Only for commands that
   * read no more than the lab's name from it (down): to `up`, an empty file is an error — it is
   * far more often a truncated or wrong file than a wish to remove the lab.
   */
  allowEmpty?: boolean | undefined;
}

/**
 * Parse and validate a lab file. `file` names it in errors; `defaultName` is the lab's name when
 * the file has none (its directory's name); `nameOverride` (--name) wins over both.
 */
export function parseLab(text: string, file: string, defaultName: string, nameOverride?: string, opts: ParseOptions = {}): LabSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: Problem[] = [];
  const at = (offset: number | undefined, message: string): void => {
    const pos = lines.linePos(offset ?? 0);
    problems.push({ line: pos.line, col: pos.col, message });
  };
  for (const err of doc.errors) at(err.pos[0], err.message.split('\n')[0] ?? err.message);
  if (problems.length === 0 && isEmpty(doc) && opts.allowEmpty !== true) {
    throw new NsnetError('INVALID_VALUE', `invalid lab file ${file}: it is empty (nothing but blank lines and comments), so it declares no networks and no containers`, {
      hint: `check that ${file} is the lab file you meant; to remove a lab, use nsnet down`,
    });
  }
  if (problems.length === 0) {
    const data: unknown = doc.toJS() ?? {};
    const validate = compiled();
    if (!validate(data)) {
      for (const err of validate.errors ?? []) {
        if (err.keyword === 'anyOf' || err.keyword === 'propertyNames') continue; // the branch errors say more
        const { offset, message } = describe(doc, err);
        at(offset, message);
      }
    } else {
      semanticChecks(doc, data as RawLab, nameOverride ?? (data as RawLab).name ?? defaultName, at, nameOverride === undefined && (data as RawLab).name === undefined);
    }
  }
  if (problems.length > 0) throw invalidFile(file, problems);
  const raw = (doc.toJS() ?? {}) as RawLab;
  return normalise(raw, nameOverride ?? raw.name ?? defaultName);
}

/** No content at all: blank lines, comments, document markers, or a lone null (~). */
function isEmpty(doc: Document): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

function invalidFile(file: string, problems: Problem[]): NsnetError {
  const unique = new Map<string, Problem>();
  for (const p of problems) unique.set(`${p.line}:${p.col}:${p.message}`, p);
  const sorted = [...unique.values()].sort((a, b) => a.line - b.line || a.col - b.col);
  const text = sorted.map((p) => `${file}:${p.line}:${p.col}: ${p.message}`).join('\n');
  return new NsnetError('INVALID_VALUE', `invalid lab file\n${text}`, { hint: 'the file format is described by schema/lab.schema.json' });
}

/** The YAML node at a JSON pointer path (as keys and indexes). */
function nodeAt(doc: Document, path: ReadonlyArray<string | number>): Node | undefined {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  return (node ?? undefined) as Node | undefined;
}

/** A map's key node for `key` (to point at an unknown or bad property name itself). */
function keyNode(map: Node | undefined, key: string): Node | undefined {
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && isScalar(item.key) && String(item.key.value) === key) return item.key;
  }
  return undefined;
}

const pointerPath = (pointer: string): string[] =>
  pointer === '' ? [] : pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));

function toPath(segments: readonly string[], doc: Document): Array<string | number> {
  // Sequence indexes are numbers for getIn; decide by walking the document.
  const out: Array<string | number> = [];
  for (const s of segments) {
    const parent = nodeAt(doc, out);
    out.push(isSeq(parent) && /^\d+$/.test(s) ? Number(s) : s);
  }
  return out;
}

function where(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return 'the file';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describe(doc: Document, err: ErrorObject): { offset: number | undefined; message: string } {
  const path = toPath(pointerPath(err.instancePath), doc);
  const node = nodeAt(doc, path);
  const offset = node?.range?.[0];
  const here = where(path);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String(params['additionalProperty']);
      const allowed = Object.keys((err.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const key = keyNode(node, extra);
      const hint = allowed.length > 0 ? ` (expected one of: ${allowed.join(', ')})` : '';
      return { offset: key?.range?.[0] ?? offset, message: `${here}: unknown property "${extra}"${hint}` };
    }
    case 'required':
      return { offset, message: `${here}: missing "${String(params['missingProperty'])}"` };
    case 'pattern': {
      const what = /\/(subnet|ip_range|to)\//.test(err.schemaPath) || /(subnet|ip_range)$/.test(here) ? 'a CIDR such as 10.0.0.0/24 or 2001:db8:41::/64'
        : /ip6$/.test(here) ? 'an IPv6 address such as 2001:db8:41::10'
        : /ip$/.test(here) ? 'an IPv4 address such as 10.0.0.1 (an IPv6 address goes in ip6)'
        : /(gateway|via)(\[\d\])?$/.test(here) ? 'an IPv4 address such as 10.0.0.1 or an IPv6 address such as 2001:db8:41::1'
        : 'a name of [a-zA-Z0-9][a-zA-Z0-9_.-]*';
      return { offset, message: `${here}: invalid value ${JSON.stringify(nodeValue(node))}: expected ${what}` };
    }
    case 'type':
      return { offset, message: `${here}: expected ${String(params['type']).replace(/,/g, ' or ')}` };
    default:
      return { offset, message: `${here}: ${err.message ?? err.keyword}` };
  }
}

function nodeValue(node: Node | undefined): unknown {
  return isScalar(node) ? node.value : node?.toJSON();
}

// ---------------------------------------------------------------------------------------------

type Scalar = string | number | boolean;

interface RawLab {
  name?: string;
  networks?: Record<string, RawNetwork | null>;
  containers?: Record<string, RawContainer>;
  links?: RawLink[];
  partitions?: RawPartition[];
}

interface RawNetwork {
  subnet?: string | string[];
  gateway?: string | string[];
  ip_range?: string | string[];
  ipv4?: boolean;
  ipv6?: boolean;
  internal?: boolean;
  options?: Record<string, Scalar>;
  labels?: Record<string, Scalar>;
}

interface RawContainer {
  command: string[];
  networks: string[] | Record<string, { ip?: string; ip6?: string; aliases?: string[] } | null>;
  hostname?: string;
  env?: Record<string, Scalar>;
  ports?: Array<string | number>;
  rootfs?: string;
  sysctls?: Record<string, Scalar>;
  routes?: LabRoute[];
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function semanticChecks(
  doc: Document,
  raw: RawLab,
  lab: string,
  at: (offset: number | undefined, message: string) => void,
  fromDirectory: boolean,
): void {
  const offsetOf = (path: Array<string | number>, key?: string): number | undefined =>
    (key === undefined ? nodeAt(doc, path) : keyNode(nodeAt(doc, path), key) ?? nodeAt(doc, path))?.range?.[0];
  if (!NAME.test(lab)) {
    const why = fromDirectory ? ` (the directory's name; set name: in the file or use --name)` : '';
    at(offsetOf(['name']), `invalid lab name ${JSON.stringify(lab)}${why}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    return;
  }
  const declared = new Set(Object.keys(raw.networks ?? {}));
  for (const key of declared) {
    const name = objectName(lab, key);
    if (name.length > MAX_OBJECT_NAME) {
      at(offsetOf(['networks'], key), `network ${key}: its name ${name} is longer than ${MAX_OBJECT_NAME} characters`);
    }
  }
  for (const [key, c] of Object.entries(raw.containers ?? {})) {
    const name = objectName(lab, key);
    if (name.length > MAX_OBJECT_NAME) {
      at(offsetOf(['containers'], key), `container ${key}: its namespace name ${name} is longer than ${MAX_OBJECT_NAME} characters`);
    }
    const refs = Array.isArray(c.networks) ? c.networks : Object.keys(c.networks);
    refs.forEach((ref, i) => {
      if (declared.has(ref)) return;
      const path = ['containers', key, 'networks'];
      const offset = Array.isArray(c.networks) ? offsetOf([...path, i]) : offsetOf(path, ref);
      const known = declared.size === 0 ? 'the file declares no networks' : `declared: ${[...declared].join(', ')}`;
      at(offset, `containers.${key}.networks: network "${ref}" is not declared under networks (${known})`);
    });
    for (const field of ['cap_add', 'cap_drop'] as const) {
      (c[field] ?? []).forEach((cap, i) => {
        try {
          parseCapability(`containers.${key}.${field}`, cap);
        } catch (err) {
          at(offsetOf(['containers', key, field, i]), (err as Error).message);
        }
      });
    }
  }
  // A route via a link's peer is checked against the link (links.ts), not the networks.
  const onLink = (key: string, via: string): boolean => {
    try {
      return normaliseLinks(raw.links ?? [], lab, hashOf).some((l) => carriesVia(l, key, via));
    } catch {
      return true; // a bad link is reported by labLinkProblems: no second error for its routes
    }
  };
  for (const p of addressProblems(raw.networks ?? {}, raw.containers ?? {}, onLink)) at(nodeAt(doc, p.path)?.range?.[0], p.message);
  for (const p of labLinkProblems(raw.links ?? [], raw.containers ?? {})) at(nodeAt(doc, p.path)?.range?.[0], p.message);
  for (const p of labPartitionProblems(raw.partitions ?? [], raw.containers ?? {})) at(nodeAt(doc, p.path)?.range?.[0], p.message);
  for (const p of netemProblems(raw.containers ?? {}, raw.links ?? [])) at(nodeAt(doc, p.path)?.range?.[0], p.message);
}

const str = (v: Scalar): string => (typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v));
const strings = (o: Record<string, Scalar> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, str(v)]));

function normalise(raw: RawLab, lab: string): LabSpec {
  const links = normaliseLinks(raw.links ?? [], lab, hashOf);
  const networks = Object.entries(raw.networks ?? {}).map(([key, n]): LabNetwork => {
    const decl = {
      subnet: n?.subnet,
      gateway: n?.gateway,
      ipRange: n?.ip_range,
      internal: n?.internal === true,
      options: strings(n?.options),
      labels: strings(n?.labels),
      // Only when declared: a file without them keeps its networks' hashes.
      ipv4: n?.ipv4,
      ipv6: n?.ipv6,
    };
    return { key, name: objectName(lab, key), ...decl, ipv4: declaresIPv4(n ?? null), ipv6: declaresIPv6(n ?? null), hash: hashOf(decl) };
  });
  const containers = Object.entries(raw.containers ?? {}).map(([key, c]): LabContainer => {
    const attachments = Array.isArray(c.networks)
      ? c.networks.map((k) => ({ key: k, name: objectName(lab, k), ip: undefined, ip6: undefined, aliases: [] }))
      : Object.entries(c.networks).map(([k, a]) => ({ key: k, name: objectName(lab, k), ip: a?.ip, ip6: a?.ip6, aliases: a?.aliases ?? [] }));
    const decl = {
      command: c.command,
      // A changed ip6, like a changed ip, makes the container again (ip6 enters only when declared).
      networks: attachments.map((a) => ({ name: a.name, ip: a.ip, ip6: a.ip6, aliases: a.aliases })),
      hostname: c.hostname ?? key.slice(0, 63),
      env: strings(c.env),
      ports: (c.ports ?? []).map(String),
      rootfs: c.rootfs,
      sysctls: strings(c.sysctls),
      routes: (c.routes ?? []).map((r) => ({ to: r.to, via: r.via })),
    };
    const caps = capabilityOptions(c.cap_add ?? [], c.cap_drop ?? [], c.privileged === true);
    // A container's links enter its hash: a link made, changed or dropped remakes both ends
    // (deleting a link takes the routes through it with it).
    const ownLinks = links.filter((l) => l.ends.some((e) => e.key === key)).map((l) => l.hash);
    // Only what is declared enters the hash: a lab file without them keeps its containers.
    const declaredCaps = {
      capAdd: caps.capAdd.length > 0 ? caps.capAdd : undefined,
      capDrop: caps.capDrop.length > 0 ? caps.capDrop : undefined,
      privileged: caps.privileged ? true : undefined,
      links: ownLinks.length > 0 ? ownLinks : undefined,
    };
    const viaLink = (r: LabRoute): boolean => links.some((l) => carriesVia(l, key, r.via));
    return {
      key,
      name: objectName(lab, key),
      ...decl,
      networks: attachments,
      sysctls: routerSysctls(decl.sysctls, attachments.some((a) => declaresIPv6(raw.networks?.[a.key] ?? null))),
      routes: decl.routes.filter((r) => !viaLink(r)),
      linkRoutes: decl.routes.filter(viaLink),
      capAdd: [...caps.capAdd],
      capDrop: [...caps.capDrop],
      privileged: caps.privileged,
      hash: hashOf({ ...decl, ...declaredCaps }),
    };
  });
  return { name: lab, networks, containers, links, impairments: labImpairments(lab, raw.containers ?? {}, raw.links ?? []), partitions: normalisePartitions(raw.partitions ?? [], lab) };
}

/**
 * A router of a lab with IPv6 forwards IPv6 too: `net.ipv4.ip_forward: 1` in a container on a
 * network with IPv6 brings `net.ipv6.conf.all.forwarding=1` (unless the file sets it). Forwarding
 * also makes the router's interfaces ignore router advertisements, which is right for a router
 * whose routes the file gives. Not in the container's hash: it follows from its networks, and a
 * network that changes its families is made again with its containers anyway.
 */
function routerSysctls(sysctls: Record<string, string>, onIPv6: boolean): Record<string, string> {
  const key = 'net.ipv6.conf.all.forwarding';
  if (!onIPv6 || sysctls['net.ipv4.ip_forward'] !== '1' || key in sysctls) return sysctls;
  return { ...sysctls, [key]: '1' };
}
