/** `nsnet partition`: drop traffic between groups of containers (create, ls, heal). */
import { Command } from 'commander';
import { createPartition, healPartitions, listPartitions, type PartitionView } from '../../ops/partitions.js';
import { collect, contextFor, formatOf, withCommon } from '../common.js';
import { printJson, printLines, printTable } from '../output.js';
import { finish } from '../run-command.js';

export function partitionCommand(): Command {
  const partition = new Command('partition').description('partitions: traffic between groups of containers dropped, within a group untouched');

  withCommon(partition.command('create'))
    .description('drop the traffic between two or more groups of containers (one firewall transaction)')
    .argument('<name>', 'the partition\'s name')
    .requiredOption('--between <containers>', 'the first group: comma-separated container names, e.g. web1,web2')
    .option('--and <containers>', 'another group (repeatable; at least one)', collect)
    .option('--one-way', 'drop only what the first group sends to the others (the others\' packets still reach it; its answers do not get back)')
    .action(async (name: string, o: { between: string; and?: string[]; oneWay?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const p = createPartition(ctx, { name, groups: [o.between, ...(o.and ?? [])], oneWay: o.oneWay });
        if (!ctx.dryRun) printLines([p.name]);
      });
    });

  withCommon(partition.command('heal'))
    .description('remove a partition (all of them without a name)')
    .argument('[name]', 'the partition to heal')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const healed = healPartitions(ctx, name);
        if (!ctx.dryRun) printLines(healed);
      });
    });

  withCommon(partition.command('ls'), { dryRun: false })
    .alias('list')
    .description('list partitions')
    .action((_o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      try {
        const all = listPartitions(ctx);
        if (formatOf(cmd) === 'json') printJson(all);
        else printTable(['NAME', 'GROUPS', 'DIRECTION', 'CREATED'], all.map(row));
      } finally {
        ctx.close();
      }
    });
  return partition;
}

const row = (p: PartitionView): string[] => [p.name, p.groups.map((g) => (g.length === 0 ? '(none left)' : g.join(','))).join(' | '), p.oneWay ? 'one-way (first group →)' : 'both ways', p.created];
