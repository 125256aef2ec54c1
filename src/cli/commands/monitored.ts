/** What a detached container's monitor makes possible: `nsnet logs` (with times, --since, --tail, -f) and `nsnet wait`. */
import { Command, Option } from 'commander';
import { parseLogTime, parseTail, renderLogLine } from '../../engine/log-lines.js';
import { containerLogs } from '../../ops/container-logs.js';
import { waitEach } from '../../ops/container-wait.js';
import { contextFor, withCommon } from '../common.js';
import { finish, printDoneThenFail } from '../run-command.js';

interface LogsFlags {
  follow?: boolean;
  timestamps?: boolean;
  since?: string;
  until?: string;
  tail: string;
}

export function logsCommand(): Command {
  return withCommon(new Command('logs'), { dryRun: false })
    .description("print a detached container's output (its stderr on stderr), as docker logs")
    .option('-f, --follow', 'go on printing what it writes, until it stops')
    .option('-t, --timestamps', 'print the time of each line first')
    .option('--since <time>', 'only lines at or after TIME (2026-12-06T04:10:00Z, a Unix time, or a duration before now: 10m)')
    .option('--until <time>', 'only lines at or before TIME (same forms)')
    .addOption(new Option('-n, --tail <n>', 'only the last N lines').default('all'))
    .argument('<container>')
    .action(async (ref: string, o: LogsFlags, cmd: Command) => {
      const now = Date.now();
      const since = o.since === undefined ? undefined : parseLogTime(o.since, '--since', now);
      const until = o.until === undefined ? undefined : parseLogTime(o.until, '--until', now);
      const tail = parseTail(o.tail);
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, async () => {
        for await (const lines of containerLogs(ctx, ref, { follow: o.follow === true, since, until, tail })) {
          for (const line of lines) (line.stream === 'stderr' ? process.stderr : process.stdout).write(renderLogLine(line, o.timestamps === true));
        }
      });
    });
}

export function waitCommand(): Command {
  return withCommon(new Command('wait'), { dryRun: false })
    .description('block until containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, async () => {
        printDoneThenFail(ctx, 'wait', await waitEach(ctx, refs));
      });
    });
}
