/** Runs a command body with its Context: prints --dry-run plans, closes the store and sockets. */
import type { Command } from 'commander';
import type { Context } from '../ops/context.js';
import { printLines } from './output.js';

export async function finish(ctx: Context, _cmd: Command, body: () => unknown): Promise<void> {
  try {
    await body();
    if (ctx.dryRun) printLines(ctx.planned);
  } finally {
    ctx.close();
  }
}
