/**
 * `nsnet network ls` rows with docker/cli's placeholders (.ID, .Name, .Driver, .Scope, .IPv6,
 * .Internal, .Labels, .CreatedAt) and its filters (name, id, driver, label, type, scope).
 */
import { goTime } from './docker-time.js';
import { allOf, anyOf, invalidValue, labelMatches, labelsText, textMatches, type Filters } from './filters.js';
import { labelHeader, labelMethod, type ListingShape } from './render.js';

export const NETWORK_FILTERS = ['name', 'id', 'driver', 'label', 'type', 'scope'] as const;

export const NETWORK_SHAPE: ListingShape = {
  structType: '*formatter.networkContext',
  headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT', Label: labelHeader },
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}',
};

/** A network as `network ls` lists it: one of the store's, or Docker's predefined host and none. */
export interface ListedNetwork {
  id: string;
  name: string;
  driver: string;
  internal: boolean;
  labels: Readonly<Record<string, string>>;
  created: string;
  /** Made by nsnet rather than the user (the default bridge, host, none): Docker's "builtin" type. */
  builtin: boolean;
}

export function networkRow(net: ListedNetwork, opts: { trunc: boolean }): Record<string, unknown> {
  return {
    ID: opts.trunc ? net.id.slice(0, 12) : net.id,
    Name: net.name,
    Driver: net.driver,
    Scope: 'local',
    IPv6: 'false',
    Internal: String(net.internal),
    Labels: labelsText(net.labels),
    CreatedAt: goTime(net.created),
    Label: labelMethod(net.labels),
  };
}

export function networkMatcher(filters: Filters): (net: ListedNetwork) => boolean {
  for (const t of filters.get('type') ?? []) if (t !== 'custom' && t !== 'builtin') throw invalidValue('type', t, 'custom or builtin');
  return (net) =>
    anyOf(filters, 'name', (v) => textMatches(v, net.name)) &&
    anyOf(filters, 'id', (v) => textMatches(v, net.id)) &&
    anyOf(filters, 'driver', (v) => net.driver === v) &&
    allOf(filters, 'label', (v) => labelMatches(v, net.labels)) &&
    anyOf(filters, 'scope', (v) => v === 'local') &&
    anyOf(filters, 'type', (v) => (v === 'builtin') === net.builtin);
}
