/**
 * `nsnet netem set|show|clear`: impairments of a container's interface (delay, jitter, loss, rate,
 * duplication, corruption, reordering), and `nsnet link down|up` (registered on the `link` group).
 */
import { Command } from 'commander';
import { usage } from '../../core/errors.js';
import { NETEM_FIELDS, netemWords, parseNetem, type NetemInput } from '../../core/netem.js';
import { clearNetem, listImpairments, setLinkState, setNetem, type ImpairmentRow } from '../../ops/impairments.js';
import { contextFor, formatOf, withCommon } from '../common.js';
import { printJson, printLines, printTable } from '../output.js';
import { finish } from '../run-command.js';

const TARGET = 'CONTAINER or CONTAINER:IFACE (IFACE defaults to eth0)';

export function netemCommand(): Command {
  const netem = new Command('netem').description("impair a container's interface: delay, jitter, loss, rate limit, duplication, corruption, reordering (tc's netem and tbf)");

  withCommon(netem.command('set'))
    .description("set an interface's impairment, replacing the one it had")
    .argument('<target>', TARGET)
    .option('--delay <time>', 'added delay, e.g. 40ms (us, ms, s; up to 60s)')
    .option('--jitter <time>', 'random variation of the delay, e.g. 5ms (needs --delay)')
    .option('--loss <percent>', 'random packet loss, e.g. 2%')
    .option('--rate <rate>', 'rate limit, e.g. 10mbit (bit, kbit, mbit, gbit; kbps/mbps are bytes per second, as in tc)')
    .option('--duplicate <percent>', 'random packet duplication, e.g. 1%')
    .option('--corrupt <percent>', 'random single-bit corruption, e.g. 0.1%')
    .option('--reorder <percent>', 'packets sent at once, ahead of delayed ones, e.g. 25% (needs --delay)')
    .action(async (target: string, o: NetemInput, cmd: Command) => {
      const given = NETEM_FIELDS.filter((k) => o[k] !== undefined);
      if (given.length === 0) throw usage('netem set needs at least one impairment', 'e.g. nsnet netem set red --delay 40ms --loss 2%; nsnet netem clear red takes it off');
      const spec = parseNetem(o);
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const t = setNetem(ctx, target, spec);
        if (!ctx.dryRun) printLines([`${t.container.name}:${t.ifName}`]);
      });
    });

  withCommon(netem.command('clear'))
    .description("take an interface's impairment off")
    .argument('<target>', TARGET)
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const t = clearNetem(ctx, target);
        if (!ctx.dryRun) printLines([`${t.container.name}:${t.ifName}`]);
      });
    });

  withCommon(netem.command('show'), { dryRun: false })
    .alias('ls')
    .description('list the impaired interfaces (and those held down by link down)')
    .argument('[container]', 'only this container')
    .action((ref: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      try {
        const rows = listImpairments(ctx, ref);
        if (formatOf(cmd) === 'json') printJson(rows.map(jsonRow));
        else printTable(['CONTAINER', 'IFACE', 'DELAY', 'JITTER', 'LOSS', 'RATE', 'DUPLICATE', 'CORRUPT', 'REORDER', 'LINK'], rows.map(tableRow));
      } finally {
        ctx.close();
      }
    });
  return netem;
}

const tableRow = (r: ImpairmentRow): string[] => {
  const w = netemWords(r.netem ?? {});
  return [r.container, r.ifName, ...NETEM_FIELDS.map((k) => w[k] ?? '-'), r.linkDown ? 'down' : 'up'];
};

const jsonRow = (r: ImpairmentRow): Record<string, unknown> => ({ container: r.container, iface: r.ifName, ...netemWords(r.netem ?? {}), link: r.linkDown ? 'down' : 'up' });

/** `link down|up CONTAINER:IFACE`, added to the `link` group (cli/commands/link.ts). */
export function linkStateCommands(link: Command): void {
  for (const up of [false, true]) {
    withCommon(link.command(up ? 'up' : 'down'))
      .description(up ? "put a link's carrier back (after link down)" : "cut a container's link: its interface loses its carrier, keeps its addresses and routes")
      .argument('<target>', 'CONTAINER:IFACE, e.g. red:eth0')
      .action(async (target: string, _o: unknown, cmd: Command) => {
        const ctx = contextFor(cmd);
        await finish(ctx, cmd, () => {
          const t = setLinkState(ctx, target, up);
          if (!ctx.dryRun) printLines([`${t.container.name}:${t.ifName}`]);
        });
      });
  }
}
