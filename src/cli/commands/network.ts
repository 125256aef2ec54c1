import { acceptBoolValues } from '../docker-bools.js';
import { Command } from 'commander';
import * as validate from '../../core/validate.js';
import { networkRow as networkSummary, networkView } from '../../engine/inspect.js';
import type { Context } from '../../ops/context.js';
import * as networks from '../../ops/networks.js';
import { inspectPredefined, predefinedNetworkRows } from '../../ops/netmodes.js';
import { collect, contextFor, formatOf, keyValues, templateOf, withCommon } from '../common.js';
import { parseFilters } from '../listing/filters.js';
import { listed, listedPredefined } from '../listing/network-list.js';
import { NETWORK_FILTERS, NETWORK_SHAPE, networkMatcher, networkRow } from '../listing/network-rows.js';
import { renderEach, renderListing } from '../listing/render.js';
import { compile } from '../template/index.js';
import { printJson, printLines, printTable } from '../output.js';
import { finish, printDoneThenFail } from '../run-command.js';
import { eachRef } from '../../ops/each.js';

/** Docker's shape of each network (predefined host and none included); the API's GET /networks/{id} too. */
export function inspectNetworks(ctx: Context, refs: readonly string[]): Record<string, unknown>[] {
  return refs.map((ref) => {
    const predefined = inspectPredefined(ctx, ref);
    if (predefined !== undefined) return predefined;
    const net = ctx.store.networks.resolve(ref);
    const attached = ctx.store.endpoints.forNetwork(net.id).flatMap((endpoint) => {
      const container = ctx.store.containers.get(endpoint.containerId);
      return container === undefined ? [] : [{ container, endpoint }];
    });
    return networkView(net, attached);
  });
}

interface CreateOptions {
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  ipv4?: boolean;
  ipv6?: boolean;
  internal?: boolean;
  opt?: string[];
  label?: string[];
  driver?: string;
  attachable?: boolean;
  auxAddress?: string[];
}

export function networkCommand(): Command {
  const net = new Command('network').description('manage networks (bridges with a subnet, routing and NAT)');

  acceptBoolValues(withCommon(net.command('create')), ['ipv4', 'ipv6', 'internal', 'attachable'])
    .description('create a network: a bridge with the gateway address, forwarding and masquerade')
    .argument('<name>', 'network name')
    .option('--subnet <cidr>', 'subnet in CIDR form, once per family (default: first free from 172.17.0.0/16 … 172.31.0.0/16, 192.168.0.0/20 …; with --ipv6 a free unique local fdXX::/64)', collect)
    .option('--gateway <ip>', 'gateway address, set on the bridge, once per family (default: first host of the subnet)', collect)
    .option('--ip-range <cidr>', 'allocate container addresses from this sub-range only, once per family', collect)
    .option('--ipv6', 'IPv6 too (dual stack); with --ipv4=false IPv6 only')
    .option('--no-ipv6', 'no IPv6 (the default)')
    .option('--ipv4', 'IPv4 (the default)')
    .option('--no-ipv4', 'no IPv4: an IPv6-only network (Docker\'s --ipv4=false), needs --ipv6')
    .option('--internal', 'no route or NAT to the outside world')
    .option('-o, --opt <key=value>', 'driver option (bridge: com.docker.network.bridge.name, com.docker.network.driver.mtu, ...; macvlan/ipvlan: parent=IFACE, ipvlan_mode=l2|l3)', collect)
    .option('--label <key=value>', 'label to attach to the network', collect)
    .option('-d, --driver <driver>', 'network driver: bridge (default), macvlan or ipvlan (containers directly on -o parent=IFACE)')
    .option('--attachable', 'accepted for Docker compatibility (every nsnet network takes containers)')
    .option('--aux-address <name=ip>', 'an address of the subnet that containers never get (repeatable)', collect)
    .action(async (name: string, o: CreateOptions, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const n = networks.createNetwork(ctx, {
          name,
          subnet: o.subnet,
          gateway: o.gateway,
          ipRange: o.ipRange,
          ipv4: o.ipv4,
          ipv6: o.ipv6,
          internal: o.internal,
          options: keyValues(o.opt, 'option', validate.keyValue),
          labels: keyValues(o.label, 'label', validate.keyValue),
          driver: o.driver,
          attachable: o.attachable,
          auxAddresses: keyValues(o.auxAddress, '--aux-address', validate.keyValue),
        });
        if (!ctx.dryRun) printLines([n.id]);
      });
    });

  withCommon(net.command('ls'), { dryRun: false, templates: true })
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only print network ids')
    .option('-f, --filter <name=value>', 'filter: name, id, driver, label, type (custom|builtin), scope (repeatable)', collect)
    .option('--no-trunc', 'do not truncate network ids')
    .action(async (o: { quiet?: boolean; filter?: string[]; trunc: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, () => {
        const template = templateOf(cmd);
        if (template !== undefined) compile(template); // a bad template fails before anything is read
        const match = networkMatcher(parseFilters(o.filter, NETWORK_FILTERS, 'network ls'));
        // Docker's predefined host and none (drivers host and null) are listed with nsnet's own.
        const all = [
          ...ctx.store.networks.list().map((n) => ({ ...listed(n), summary: networkSummary(n, ctx.store.endpoints.forNetwork(n.id).length) })),
          ...predefinedNetworkRows(ctx).map((r) => ({ ...listedPredefined(r), summary: r })),
        ];
        const list = all.filter(match);
        if (o.quiet === true) return printLines(list.map((n) => (o.trunc ? n.id.slice(0, 12) : n.id)));
        if (template !== undefined) return printLines(renderListing(template, list.map((n) => networkRow(n, { trunc: o.trunc })), NETWORK_SHAPE));
        if (formatOf(cmd) === 'json') return printJson(list.map((n) => n.summary));
        printTable(
          ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE', 'SUBNET', 'GATEWAY', 'BRIDGE', 'CONTAINERS'],
          list.map(({ id, summary: r }) => [o.trunc ? r['ID'] : id, r['Name'], r['Driver'], r['Scope'], r['Subnet'], r['Gateway'], r['Bridge'], r['Containers']].map(String)),
        );
      });
    });

  withCommon(net.command('inspect'), { dryRun: false, templates: true, shortFormat: true })
    .description("show networks as JSON, in Docker's shape, or through a Go template (-f '{{.Name}}')")
    .argument('<name...>', 'network names or ids')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, () => {
        const template = templateOf(cmd);
        if (template === undefined) return printJson(inspectNetworks(ctx, refs));
        compile(template);
        printLines(renderEach(template, inspectNetworks(ctx, refs)));
      });
    });

  withCommon(net.command('rm'))
    .alias('remove')
    .description('remove networks (refused while containers are attached)')
    .argument('<name...>', 'network names or ids')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      // As Docker's: past a missing or busy network to the next, failing at the end.
      await finish(ctx, cmd, () => printDoneThenFail(ctx, 'network rm', eachRef(refs, 'remove network', (ref) => networks.removeNetwork(ctx, ref).name)));
    });

  withCommon(net.command('connect'))
    .description('connect a container to a network (it gets the next ethN)')
    .argument('<network>')
    .argument('<container>')
    .option('--ip <ip>', 'IPv4 address on that network')
    .option('--ip6 <ip>', 'IPv6 address on that network (it must have IPv6)')
    .option('--alias <name>', 'another name of the container on this network only (repeatable)', collect)
    .action(async (network: string, container: string, o: { ip?: string; ip6?: string; alias?: string[] }, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => void networks.connect(ctx, network, container, { ip: o.ip, ip6: o.ip6, aliases: o.alias }));
    });

  withCommon(net.command('disconnect'))
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .action(async (network: string, container: string, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => void networks.disconnect(ctx, network, container));
    });

  withCommon(net.command('prune'))
    .description('remove all networks no container uses (the default network stays)')
    .option('-f, --force', 'do not ask (nsnet never asks; accepted for Docker compatibility)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const removed = networks.pruneNetworks(ctx);
        if (!ctx.dryRun && removed.length > 0) printLines(['Deleted Networks:', ...removed]);
      });
    });

  return net;
}
