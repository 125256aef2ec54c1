/** nsnet's command line: argv → command → exit code. */
import { Command, CommanderError } from 'commander';
import { networkCommand } from './commands/network.js';
import { containerCommands, runCommand } from './commands/containers.js';
import { systemCommand } from './commands/system.js';
import { demoCommand } from './commands/demo.js';
import { dnsServeCommand } from './commands/dns.js';
import { cniPluginCommand, cniServiceCommand } from './commands/cni.js';
import { labCommands } from './commands/up.js';
import { graphCommand } from './commands/graph.js';
import { withCommon } from './common.js';
import { exitCodeFor, printError } from './output.js';

export function buildProgram(): Command {
  const program = withCommon(new Command('nsnet'))
    .description('Docker-style container networking from Linux primitives: namespaces, bridges, veth pairs, nftables')
    .version('0.1.0')
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  program.addCommand(runCommand());
  for (const c of containerCommands()) program.addCommand(c);
  program.addCommand(networkCommand());
  program.addCommand(systemCommand());
  program.addCommand(demoCommand());
  program.addCommand(dnsServeCommand(), { hidden: true });
  program.addCommand(cniPluginCommand(), { hidden: true });
  program.addCommand(cniServiceCommand(), { hidden: true });
  for (const c of labCommands()) program.addCommand(c);
  program.addCommand(graphCommand());
  // Subcommands inherit exit handling so usage errors come back here as CommanderError.
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const wantsJson = argv.includes('--format') && argv[argv.indexOf('--format') + 1] === 'json';
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else it reports is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    printError(err, wantsJson ? 'json' : 'table');
    return exitCodeFor(err);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    printError(err, 'table');
    process.exit(1);
  },
);
