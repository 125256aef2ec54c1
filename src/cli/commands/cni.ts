/**
 * The CNI plugin's Node side (hidden commands; runtimes call the nsnet-cni executable):
 * `nsnet cni-plugin` handles one invocation in-process (what nsnet-cni falls back to when no
 * service answers). The service behind nsnet-cni is the nsnet service (src/cli/service.ts).
 */
import fs from 'node:fs';
import { Command } from 'commander';
import { kernelContext } from '../context.js';
import { handleCni } from '../../ops/cni-plugin.js';
import { serviceTurnedOff, startServiceIfNeeded } from '../../ops/cni-service.js';
import { withCommon, type CommonOptions } from '../common.js';

/** The command name of whoever ran the plugin: the runtime (podman, containerd, ...). */
function callerName(): string | undefined {
  try {
    return fs.readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function cniPluginCommand(): Command {
  return withCommon(new Command('cni-plugin'))
    .description('handle one CNI invocation (CNI_* environment, configuration on stdin) in this process; --dry-run prints its by-hand commands')
    .action((_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<CommonOptions>();
      const ctx = kernelContext({ root: opts.root, dryRun: opts.dryRun === true, firewallDriver: opts.firewallDriver });
      const stdin = process.env['CNI_COMMAND'] === 'VERSION' && process.stdin.isTTY ? '' : fs.readFileSync(0, 'utf8');
      const caller = process.env['NSNET_CNI_CALLER'] ?? callerName();
      const reply = handleCni(ctx, { env: process.env, stdin, caller });
      ctx.close();
      process.exitCode = reply.exitCode;
      if (ctx.dryRun && reply.exitCode === 0) {
        process.stdout.write(ctx.planned.map((line) => `${line}\n`).join(''));
        return;
      }
      process.stdout.write(reply.stdout);
      if (reply.stderr !== '') process.stderr.write(reply.stderr);
      // The next call goes to the service (nsnet-cni tries it first); its start never fails this one.
      if (process.env['CNI_COMMAND'] !== 'VERSION' && !ctx.dryRun && !serviceTurnedOff(process.env, true)) {
        try {
          startServiceIfNeeded(ctx.host, ctx.root);
        } catch (err) {
          process.stderr.write(`nsnet-cni: could not start the nsnet service: ${(err as Error).message}\n`);
        }
      }
    });
}
