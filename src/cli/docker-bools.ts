/**
 * Docker's boolean flags also come as `--flag=true` / `--flag=false` (`network create
 * --ipv4=false`, Docker 28's IPv6-only form). Commander's boolean options take no value, so a
 * command that has such flags rewrites them to `--flag` / `--no-flag` before parsing.
 */
import type { Command } from 'commander';

export function acceptBoolValues(cmd: Command, flags: readonly string[]): Command {
  const parse = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (argv: string[]) => parse(rewriteBools(argv, flags));
  return cmd;
}

/** `--ipv6=false` → `--no-ipv6`, `--ipv6=true` → `--ipv6`; anything after `--` is left alone. */
export function rewriteBools(argv: readonly string[], flags: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if (end !== -1 && i >= end) return arg;
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    if (m === null || !flags.includes(m[1]!)) return arg;
    const value = m[2]!.toLowerCase();
    if (value === 'true' || value === '1') return `--${m[1]}`;
    if (value === 'false' || value === '0') return `--no-${m[1]}`;
    return arg; // commander reports it, naming the value
  });
}
