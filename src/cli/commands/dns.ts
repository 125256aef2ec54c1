/** `nsnet dns-serve --root ROOT`: the DNS responder process (hidden; nsnet starts and stops it itself). */
import type { Command } from 'commander';
import { serve } from '../../dns/serve.js';
import { responderEnv } from '../../ops/dns-responder.js';
import { backgroundCommand } from '../common.js';

export function dnsServeCommand(): Command {
  return backgroundCommand('dns-serve', 'serve DNS for the containers on the gateways of nsnet networks (started by nsnet)', (ctx, log) => serve(responderEnv(ctx.host, ctx.root), log));
}
