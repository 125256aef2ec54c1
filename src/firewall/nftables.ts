/**
 * nsnet's nftables ruleset, generated from the networks in the store. nsnet owns exactly one
 * table, `inet nsnet`, and never touches any other. Every change replaces the whole table in one
 * transaction ("add table; delete table; table {...}" is applied atomically by nft), so the
 * kernel never holds a half-updated ruleset and the table always matches the store. The table is
 * O(networks) in size, and attaching a container changes nothing here, so rebuilding is cheap.
 */
export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'nsnet';

export interface FirewallNetwork {
  name: string;
  id: string;
  bridge: string;
  subnet: string; // canonical CIDR
  internal: boolean;
}

const comment = (n: FirewallNetwork): string => `comment "nsnet network ${n.name} ${n.id.slice(0, 12)}"`;

/** The full table for these networks, as nft's text syntax (tabs, like `nft list table` prints). */
export function renderTable(networks: readonly FirewallNetwork[]): string {
  const forward: string[] = [];
  const postrouting: string[] = [];
  for (const n of networks) {
    if (n.internal) continue;
    forward.push(`iifname "${n.bridge}" accept ${comment(n)}`);
    forward.push(`oifname "${n.bridge}" accept ${comment(n)}`);
    // Docker's masquerade rule: traffic from the subnet leaving by any interface but its own
    // bridge, so nsnet need not know which interface is the uplink.
    postrouting.push(`ip saddr ${n.subnet} oifname != "${n.bridge}" masquerade ${comment(n)}`);
  }
  const chain = (name: string, head: string, rules: string[]): string =>
    [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
  return [
    `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
    chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', postrouting),
    '}',
  ].join('\n');
}

/**
 * The transaction that makes the kernel hold exactly this ruleset. `add table` first makes the
 * `delete` valid when the table does not exist yet; with no networks the table is simply removed.
 */
export function replaceTableScript(networks: readonly FirewallNetwork[]): string {
  const reset = [`add table ${TABLE_FAMILY} ${TABLE_NAME}`, `delete table ${TABLE_FAMILY} ${TABLE_NAME}`];
  if (networks.length === 0) return reset.join('\n') + '\n';
  return [...reset, renderTable(networks)].join('\n') + '\n';
}

export function deleteTableScript(): string {
  return replaceTableScript([]);
}
