/** Flags every command shares, and the Context they produce. */
import { Command, Option } from 'commander';
import { NsnetError } from '../core/errors.js';
import { missingCapabilities } from '../kernel/capabilities.js';
import type { Context } from '../ops/context.js';
import { kernelContext } from './context.js';
import type { Format } from './output.js';

export interface CommonOptions {
  root?: string;
  dryRun?: boolean;
  firewallDriver?: string;
  format?: string;
}

export interface CommonFlags {
  dryRun: boolean;
  /** --format also takes a Go template (ps, inspect, network ls, network inspect), as Docker's does. */
  templates?: boolean;
  /** -f is --format (inspect, network inspect); on ps and network ls -f is --filter, as in Docker. */
  shortFormat?: boolean;
}

/** --root and --dry-run on the program and on every command, so they work in either place. */
export function withCommon(cmd: Command, opts: CommonFlags = { dryRun: true }): Command {
  cmd.option('--root <dir>', 'state directory (default: $NSNET_ROOT or /var/lib/nsnet)');
  if (opts.dryRun) {
    cmd.option('--dry-run', 'print the equivalent ip/sysctl/nft commands and change nothing');
    cmd.option('--firewall-driver <driver>', 'nftables (default when available) or iptables; env NSNET_FIREWALL_DRIVER');
  }
  cmd.addOption(formatOption(opts));
  return cmd;
}

function formatOption(opts: CommonFlags): Option {
  const flags = opts.shortFormat === true ? '-f, --format <format>' : '--format <format>';
  if (opts.templates !== true) return new Option(flags, 'output format (json also applies to errors)').choices(['table', 'json']);
  return new Option(flags, "output format: table, json (also applies to errors), or a Go template as Docker's, e.g. '{{.Name}}'");
}

/** The Go template given with --format, or undefined for table and json. */
export function templateOf(cmd: Command): string | undefined {
  const format = cmd.optsWithGlobals<CommonOptions>().format;
  return format === undefined || format === 'json' || format === 'table' ? undefined : format;
}

export function formatOf(cmd: Command): Format {
  return cmd.optsWithGlobals<CommonOptions>().format === 'json' ? 'json' : 'table';
}

export function contextFor(cmd: Command, needsKernel = true): Context {
  const opts = cmd.optsWithGlobals<CommonOptions>();
  const dryRun = opts.dryRun === true;
  if (needsKernel && !dryRun) requireRoot();
  return kernelContext({
    root: opts.root,
    dryRun,
    firewallDriver: opts.firewallDriver,
    onLockWait: () => process.stderr.write('nsnet: waiting for another nsnet command to finish...\n'),
    onRecover: (line) => process.stderr.write(`nsnet: ${line}\n`),
  });
}

/** Checked before anything changes, so a non-root run fails cleanly instead of half-way. */
export function requireRoot(): void {
  const missing = missingCapabilities();
  if (missing.length > 0) {
    throw new NsnetError('NOT_PERMITTED', `nsnet needs ${missing.join(' and ')} to change namespaces, links and firewall rules, and this process lacks them`, {
      hint: 'run it as root (sudo), or add --dry-run to see what it would do',
    });
  }
}

/**
 * A process nsnet starts for itself (the DNS responder, the CNI service): root only, the state
 * root from --root or the environment, timestamped lines on stderr (its log file).
 */
export function backgroundCommand(name: string, description: string, serve: (ctx: Context, log: (line: string) => void) => Promise<void>): Command {
  return withCommon(new Command(name), { dryRun: false })
    .description(description)
    .action(async (_o: unknown, cmd: Command) => {
      requireRoot();
      const ctx = kernelContext({ root: cmd.optsWithGlobals<CommonOptions>().root });
      const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      await serve(ctx, log);
    });
}

/** Collect repeatable flags (--network a --network b). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Parse repeated KEY=VALUE flags into an object, naming the bad one. */
export function keyValues(items: readonly string[] | undefined, what: string, parse: (t: string, w: string) => [string, string]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const [k, v] = parse(item, what);
    out[k] = v;
  }
  return out;
}
