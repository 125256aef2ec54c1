/** Runs a command body with its Context: prints --dry-run plans, closes the store and sockets. */
import type { Command } from 'commander';
import type { Context } from '../ops/context.js';
import { printLines } from './output.js';
import { reconcileResponder } from '../ops/dns-responder.js';
import { failureOfEach, type EachOutcome } from '../ops/each.js';

/** Restart the DNS responder if it died, stop it when nothing needs it; trouble is a warning only. */
function dnsAfterCommand(ctx: Context): void {
  try {
    for (const p of reconcileResponder(ctx)) process.stderr.write(`nsnet: warning: ${p}\n`);
  } catch (err) {
    process.stderr.write(`nsnet: warning: DNS responder: ${(err as Error).message}\n`);
  }
}

export async function finish(ctx: Context, _cmd: Command, body: () => unknown): Promise<void> {
  try {
    await body();
    if (ctx.dryRun) printLines(ctx.planned);
    else dnsAfterCommand(ctx);
  } finally {
    ctx.close();
  }
}

/** A command over several names: the ones done on stdout (as Docker prints them), then the failures, if any, thrown. */
export function printDoneThenFail(ctx: Context, what: string, outcome: EachOutcome<string>): void {
  if (!ctx.dryRun) printLines(outcome.done);
  const failure = failureOfEach(what, outcome);
  if (failure !== undefined) throw failure;
}
