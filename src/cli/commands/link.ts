/**
 * `nsnet link`: point-to-point links between two containers (add, rm, ls). Other subcommands of
 * the group (link state: up, down) register themselves on the same command.
 */
import { Command } from 'commander';
import { addP2pLink, listP2pLinks, removeP2pLink, type LinkView } from '../../ops/p2p-links.js';
import { collect, contextFor, formatOf, withCommon } from '../common.js';
import { printJson, printLines, printTable } from '../output.js';
import { finish } from '../run-command.js';

/** The `link` group with add, rm and ls; `extend` adds more subcommands to it. */
export function linkCommand(...extend: Array<(link: Command) => void>): Command {
  const link = new Command('link').description('point-to-point links between two containers (a veth pair, no bridge)');

  withCommon(link.command('add'))
    .description('link two containers directly: a veth pair with one end in each, IFACE the name inside')
    .argument('<a>', 'CONTAINER:IFACE of one end, e.g. r1:eth1')
    .argument('<b>', 'CONTAINER:IFACE of the other end, e.g. r2:eth1')
    .option('--ip <cidr>', "an end's address with its prefix, e.g. 10.0.12.1/30: give it twice (first end, then second) or not at all", collect)
    .action(async (a: string, b: string, o: { ip?: string[] }, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const made = addP2pLink(ctx, { endpoints: [a, b], ips: o.ip });
        if (!ctx.dryRun) printLines([made.id]);
      });
    });

  withCommon(link.command('rm'))
    .alias('remove')
    .description('remove a point-to-point link, named by either end')
    .argument('<endpoint>', 'CONTAINER:IFACE of either end')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        removeP2pLink(ctx, ref);
        if (!ctx.dryRun) printLines([ref]);
      });
    });

  withCommon(link.command('ls'), { dryRun: false })
    .alias('list')
    .description('list point-to-point links')
    .action((_o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      try {
        const links = listP2pLinks(ctx);
        if (formatOf(cmd) === 'json') printJson(links);
        else printTable(['LINK ID', 'END A', 'ADDRESS A', 'END B', 'ADDRESS B'], links.map(row));
      } finally {
        ctx.close();
      }
    });

  for (const add of extend) add(link);
  return link;
}

const row = (l: LinkView): string[] => [l.id.slice(0, 12), `${l.a.container}:${l.a.ifName}`, l.a.ip ?? '', `${l.b.container}:${l.b.ifName}`, l.b.ip ?? ''];
