/**
 * /networks: Docker's network endpoints over nsnet's network operations (src/ops/networks.ts),
 * with the CLI's lock and store; views are `nsnet network inspect`'s (engine/inspect.ts).
 */
import { networkView } from '../engine/inspect.js';
import type { Context } from '../ops/context.js';
import * as networks from '../ops/networks.js';
import { inspectPredefined, predefinedNetworkRows } from '../ops/netmodes.js';
import { NsnetError } from '../core/errors.js';
import { listed, listedPredefined } from '../cli/listing/network-list.js';
import { inspectNetworks } from '../cli/commands/network.js';
import { networkMatcher, NETWORK_FILTERS } from '../cli/listing/network-rows.js';
import { badRequest } from './errors.js';
import { parseFilterParam } from './events.js';
import { asRecord, bool, optionalString, stringList, stringMap } from './body.js';
import type { RouteTable } from './router.js';

/** A network as GET /networks/{id} shows it: `nsnet network inspect`'s view. */
export const inspectNetwork = (ctx: Context, ref: string): Record<string, unknown> => inspectNetworks(ctx, [ref])[0]!;

/** GET /networks: every network in inspect's shape (Containers left empty, as dockerd lists them). */
export function listNetworks(ctx: Context, filtersParam: string | null): Record<string, unknown>[] {
  const match = networkMatcher(parseFilterParam(filtersParam, [...NETWORK_FILTERS, 'dangling']));
  const dangling = parseFilterParam(filtersParam, [...NETWORK_FILTERS, 'dangling']).get('dangling');
  const own = ctx.store.networks.list().map((n) => ({ listed: listed(n), view: () => ({ ...networkView(n, []), Containers: {} }), used: ctx.store.endpoints.forNetwork(n.id).length > 0 }));
  const predefined = predefinedNetworkRows(ctx).map((row) => {
    const l = listedPredefined(row);
    return { listed: l, view: () => ({ ...inspectPredefined(ctx, l.name)!, Containers: {} }), used: true };
  });
  return [...own, ...predefined]
    .filter((n) => match(n.listed))
    .filter((n) => dangling === undefined || dangling.some((d) => (d === 'true' || d === '1') === (!n.used && !n.listed.builtin)))
    .map((n) => n.view());
}

/**
 * dockerd makes its default bridge network when it starts, so `docker network ls` and `docker
 * network inspect bridge` show it before any container; `nsnet serve` does the same (the CLI
 * makes it on first use). Returns whether it was made now.
 */
export function ensureDefaultNetwork(ctx: Context): boolean {
  if (ctx.store.networks.byName(networks.DEFAULT_NETWORK) !== undefined) return false;
  networks.createNetwork(ctx, { name: networks.DEFAULT_NETWORK });
  return true;
}

/** POST /networks/create's body as nsnet's NetworkInput. */
export function networkInput(body: unknown): networks.NetworkInput {
  const b = asRecord(body, 'request body');
  const name = optionalString(b['Name'], 'Name');
  if (name === undefined || name === '') throw badRequest('network name is required (Name)');
  const ipam = b['IPAM'] === undefined || b['IPAM'] === null ? {} : asRecord(b['IPAM'], 'IPAM');
  const ipamDriver = optionalString(ipam['Driver'], 'IPAM.Driver');
  if (ipamDriver !== undefined && ipamDriver !== '' && ipamDriver !== 'default') throw badRequest(`invalid IPAM driver "${ipamDriver}": nsnet has only the default one`);
  const configs = ipam['Config'] === undefined || ipam['Config'] === null ? [] : ipam['Config'];
  if (!Array.isArray(configs)) throw badRequest('invalid IPAM.Config: expected a list of {Subnet, Gateway, IPRange, AuxiliaryAddresses}');
  const subnet: string[] = [];
  const gateway: string[] = [];
  const ipRange: string[] = [];
  const aux: Record<string, string> = {};
  configs.forEach((raw, i) => {
    const c = asRecord(raw, `IPAM.Config[${i}]`);
    const s = optionalString(c['Subnet'], `IPAM.Config[${i}].Subnet`);
    const g = optionalString(c['Gateway'], `IPAM.Config[${i}].Gateway`);
    const r = optionalString(c['IPRange'], `IPAM.Config[${i}].IPRange`);
    if (s !== undefined && s !== '') subnet.push(s);
    if (g !== undefined && g !== '') gateway.push(g);
    if (r !== undefined && r !== '') ipRange.push(r);
    Object.assign(aux, stringMap(c['AuxiliaryAddresses'] ?? c['AuxAddress'], `IPAM.Config[${i}].AuxiliaryAddresses`));
  });
  // A network's MTU and such come as Options; ipam Options nsnet has none of.
  return {
    name,
    driver: optionalString(b['Driver'], 'Driver') || undefined,
    internal: bool(b['Internal'], 'Internal'),
    attachable: bool(b['Attachable'], 'Attachable'),
    ipv6: bool(b['EnableIPv6'], 'EnableIPv6'),
    ...(b['EnableIPv4'] === false ? { ipv4: false } : {}),
    subnet: subnet.length === 0 ? undefined : subnet,
    gateway: gateway.length === 0 ? undefined : gateway,
    ipRange: ipRange.length === 0 ? undefined : ipRange,
    auxAddresses: Object.keys(aux).length === 0 ? undefined : aux,
    options: stringMap(b['Options'], 'Options'),
    labels: stringMap(b['Labels'], 'Labels'),
  };
}

/** Unused networks matching the prune filters (label, label!), the default one never. */
function pruneNetworks(ctx: Context, filtersParam: string | null): string[] {
  const filters = parseFilterParam(filtersParam, ['label', 'label!', 'until']);
  if (filters.size === 0) return networks.pruneNetworks(ctx);
  const until = filters.get('until');
  const labelIs = (pattern: string, labels: Record<string, string>): boolean => {
    const eq = pattern.indexOf('=');
    return eq < 0 ? pattern in labels : labels[pattern.slice(0, eq)] === pattern.slice(eq + 1);
  };
  const removed: string[] = [];
  for (const n of ctx.store.networks.list()) {
    if (n.isDefault || ctx.store.endpoints.forNetwork(n.id).length > 0) continue;
    if (!(filters.get('label') ?? []).every((p) => labelIs(p, n.labels))) continue;
    if ((filters.get('label!') ?? []).some((p) => labelIs(p, n.labels))) continue;
    if (until !== undefined && until.some((u) => Date.parse(n.created) >= untilMs(u))) continue;
    removed.push(networks.removeNetwork(ctx, n.id).name);
  }
  return removed;
}

function untilMs(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw badRequest(`invalid filter 'until=${text}': expected a Unix time or an RFC 3339 time`);
  return ms;
}

function containerOf(b: Record<string, unknown>): string {
  const ref = optionalString(b['Container'], 'Container');
  if (ref === undefined || ref === '') throw badRequest('no container given (Container)');
  return ref;
}

export function networkRoutes(r: RouteTable): void {
  r.route('GET', '/networks', async (req, res) => res.json(200, listNetworks(req.context(), req.query.get('filters'))));
  r.route('GET', '/networks/{id}', async (req, res) => res.json(200, inspectNetwork(req.context(), req.params['id']!)));

  r.route('POST', '/networks/create', async (req, res) => {
    const input = networkInput(await req.json());
    const n = networks.createNetwork(req.context(), input);
    res.json(201, { Id: n.id, Warning: '' });
  });

  r.route('DELETE', '/networks/{id}', async (req, res) => {
    networks.removeNetwork(req.context(), req.params['id']!);
    res.empty(204);
  });

  r.route('POST', '/networks/{id}/connect', async (req, res) => {
    const b = asRecord(await req.json(), 'request body');
    const container = containerOf(b);
    const ep = b['EndpointConfig'] === undefined || b['EndpointConfig'] === null ? {} : asRecord(b['EndpointConfig'], 'EndpointConfig');
    const ipam = ep['IPAMConfig'] === undefined || ep['IPAMConfig'] === null ? {} : asRecord(ep['IPAMConfig'], 'EndpointConfig.IPAMConfig');
    networks.connect(req.context(), req.params['id']!, container, {
      ip: optionalString(ipam['IPv4Address'], 'IPAMConfig.IPv4Address') || undefined,
      ip6: optionalString(ipam['IPv6Address'], 'IPAMConfig.IPv6Address') || undefined,
      aliases: stringList(ep['Aliases'], 'EndpointConfig.Aliases'),
    });
    res.empty(200);
  });

  r.route('POST', '/networks/{id}/disconnect', async (req, res) => {
    const b = asRecord(await req.json(), 'request body');
    const force = bool(b['Force'], 'Force') === true;
    try {
      networks.disconnect(req.context(), req.params['id']!, containerOf(b));
    } catch (err) {
      // Force: a container that is gone or not connected is disconnected already.
      if (!(force && err instanceof NsnetError && err.code === 'NOT_FOUND')) throw err;
    }
    res.empty(200);
  });

  r.route('POST', '/networks/prune', async (req, res) => {
    res.json(200, { NetworksDeleted: pruneNetworks(req.context(), req.query.get('filters')) });
  });
}
