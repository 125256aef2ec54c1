/** `nsnet dns-serve --root ROOT`: the DNS responder process (hidden; nsnet starts and stops it itself). */
import { Command } from 'commander';
import { serve } from '../../ops/dns.js';
import { requireRoot, withCommon, type CommonOptions } from '../common.js';
import { Context } from '../../ops/context.js';

export function dnsServeCommand(): Command {
  return withCommon(new Command('dns-serve'), { dryRun: false })
    .description('serve DNS for the containers on the gateways of nsnet networks (started by nsnet)')
    .action(async (_o: unknown, cmd: Command) => {
      requireRoot();
      const root = new Context({ root: cmd.optsWithGlobals<CommonOptions>().root }).root;
      const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      await serve(root, log);
    });
}
