import { KernelHost } from '../../host/kernel-host.js';
import { Command } from 'commander';
import { usage } from '../../core/errors.js';
import { check } from '../../ops/check.js';
import * as system from '../../ops/system.js';
import { contextFor, formatOf, withCommon } from '../common.js';
import { doctor } from '../../ops/doctor.js';
import { printJson, printLines } from '../output.js';
import { finish, printDoneThenFail } from '../run-command.js';
import { boot } from '../../ops/boot.js';

export function systemCommand(): Command {
  const sys = new Command('system').description('host-wide maintenance');

  withCommon(sys.command('prune'))
    .description('remove stopped containers and unused networks')
    .option('-f, --force', 'accepted for Docker compatibility; nsnet never asks')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const r = system.prune(ctx);
        if (ctx.dryRun) return;
        if (r.containers.length > 0) printLines(['Deleted Containers:', ...r.containers]);
        if (r.networks.length > 0) printLines(['Deleted Networks:', ...r.networks]);
      });
    });

  withCommon(sys.command('boot'))
    .description('at host start-up: start the containers whose restart policy brings them back (always, unless-stopped, on-failure)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, async () => {
        const outcome = await boot(ctx);
        // By name, as start prints them (startEach gets ids).
        printDoneThenFail(ctx, 'system boot', outcome);
      });
    });

  withCommon(sys.command('reset'))
    .description('remove everything nsnet made on this host: processes, namespaces, links, firewall table, records')
    .option('--force', 'really do it')
    .action(async (o: { force?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      if (o.force !== true && !ctx.dryRun) {
        ctx.close();
        throw usage('system reset removes every container, network and rule nsnet made', 'add --force to go ahead, or --dry-run to see the commands');
      }
      await finish(ctx, cmd, () => {
        const removed = system.reset(ctx);
        if (!ctx.dryRun) printLines(removed.map((r) => `removed ${r}`));
      });
    });

  withCommon(sys.command('doctor'), { dryRun: false })
    .description('check what nsnet depends on: firewall driver, foreign rules that drop forwarded traffic, sysctls, tools')
    .action(async (_o: unknown, cmd: Command) => {
      const findings = doctor(new KernelHost());
      if (formatOf(cmd) === 'json') printJson(findings);
      else {
        printLines(
          findings.flatMap((f) => [
            `${f.level.toUpperCase().padEnd(5)}  ${f.check}: ${f.detail}`,
            ...(f.fix === undefined ? [] : [`       fix: ${f.fix}`]),
          ]),
        );
      }
      if (findings.some((f) => f.level === 'error')) process.exitCode = 1;
    });

  withCommon(sys.command('check'), { dryRun: false })
    .description('compare the records with the kernel (links, namespaces, addresses, routes, processes, firewall) and report every difference')
    .option('--fix', 'remove orphans nsnet made and recreate what nsnet owns and lost, saying what was done')
    .action(async (o: { fix?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        const result = check(ctx, { fix: o.fix === true });
        const left = result.differences.filter((d) => d.fixed !== true);
        if (left.length > 0) process.exitCode = 1;
        if (formatOf(cmd) === 'json') return printJson(result);
        if (result.differences.length === 0) printLines(['no differences between the records and the kernel']);
        printLines(
          result.differences.flatMap((d) => {
            const status = d.fixed === true ? 'FIXED' : d.fixed === false ? 'FAILED' : d.fix === undefined ? 'CANNOT FIX' : 'DIFF';
            const what = d.fixed === undefined ? (d.fix === undefined ? [] : [`       --fix would ${d.fix}`]) : [`       ${d.fixed ? 'did' : 'tried to'}: ${d.fix}`];
            return [`${status.padEnd(6)} ${d.object}: ${d.problem}`, ...what, ...(d.error === undefined ? [] : [`       error: ${d.error}`])];
          }),
        );
        printLines(result.notes.map((n) => `note: ${n}`));
      });
    });

  return sys;
}
