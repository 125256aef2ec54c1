/** `nsnet graph`: draw the live topology (see src/engine/graph.ts) as text, Mermaid, dot or SVG. */
import { Command, Option } from 'commander';
import { NsnetError } from '../../core/errors.js';
import { renderDot, renderMermaid, renderText, topologyFrom, type Topology } from '../../engine/graph.js';
import { dotToSvg } from '../../kernel/graphviz.js';
import { liveState } from '../../ops/liveness.js';
import type { Context } from '../../ops/context.js';
import { labState } from '../../lab/up.js';
import { contextFor } from '../common.js';
import { loadLab } from './up.js';

interface GraphFlags {
  file?: string;
  name?: string;
  network?: string;
  format: 'text' | 'mermaid' | 'dot' | 'svg';
}

/** The store's state, limited to a lab's objects, to one network, or everything. */
function topologyOf(ctx: Context, scope: { lab?: string | undefined; network?: string | undefined }): Topology {
  const s = ctx.store;
  let networks = s.networks.list();
  let containers = s.containers.list();
  const endpoints = containers.flatMap((c) => s.endpoints.forContainer(c.id));
  if (scope.lab !== undefined) {
    const state = labState(ctx, scope.lab);
    networks = networks.filter((n) => state.networks.has(n.name));
    containers = containers.filter((c) => state.containers.has(c.name));
    if (networks.length === 0 && containers.length === 0) throw new NsnetError('NOT_FOUND', `lab ${scope.lab} has nothing up`, { hint: 'nsnet up -f lab.yaml' });
  }
  if (scope.network !== undefined) {
    const net = s.networks.resolve(scope.network);
    networks = [net];
    const on = new Set(endpoints.filter((e) => e.networkId === net.id).map((e) => e.containerId));
    containers = containers.filter((c) => on.has(c.id));
  }
  return topologyFrom({
    networks,
    // A runtime's container (CNI) says whose it is.
    containers: containers.map((c) => ({ id: c.id, name: c.name, status: c.cniContainerId == null ? liveState(ctx.host, c).status : `${liveState(ctx.host, c).status}, ${c.runtime ?? 'cni'}'s, through CNI` })),
    endpoints,
    ports: s.ports.list(),
    links: s.links.list(),
    interfaceStates: s.interfaces.list(),
  });
}

export function graphCommand(): Command {
  return new Command('graph')
    .description("draw the live topology: bridges, veth pairs, containers' addresses, the uplink and NAT")
    .option('--root <dir>', 'state directory (default: $NSNET_ROOT or /var/lib/nsnet)')
    .option('-f, --file <path>', "only this lab's networks and containers")
    .option('--name <lab>', "the lab's name (default: name: in the file, else the file's directory name)")
    .option('--network <name>', 'only this network and the containers on it')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot', 'svg']).default('text'))
    .action(async (o: GraphFlags, cmd: Command) => {
      if (o.file !== undefined && o.network !== undefined) throw new NsnetError('USAGE', 'give either -f or --network, not both');
      const lab = o.name ?? (o.file !== undefined ? loadLab(o.file).name : undefined);
      const ctx = contextFor(cmd, false);
      let topology: Topology;
      try {
        topology = topologyOf(ctx, { lab, network: o.network });
      } finally {
        ctx.close();
      }
      const text =
        o.format === 'mermaid' ? renderMermaid(topology)
        : o.format === 'dot' ? renderDot(topology)
        : o.format === 'svg' ? dotToSvg(renderDot(topology))
        : renderText(topology, 80);
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    });
}
