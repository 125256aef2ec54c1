/** nsnet's command line: argv → command → exit code. */
import { Command, CommanderError } from 'commander';
import { networkCommand } from './commands/network.js';
import { containerCommands, runCommand } from './commands/containers.js';
import { systemCommand } from './commands/system.js';
import { demoCommand } from './commands/demo.js';
import { dnsServeCommand } from './commands/dns.js';
import { cniPluginCommand } from './commands/cni.js';
import { commandPath, serviceCommand, startServiceAfterFallback, takeClientFallback, type DispatchHooks } from './service.js';
import { labCommands } from './commands/up.js';
import { graphCommand } from './commands/graph.js';
import { linkCommand } from './commands/link.js';
import { partitionCommand } from './commands/partition.js';
import { linkStateCommands, netemCommand } from './commands/netem.js';
import { captureCommand } from './commands/capture.js';
import { imageCommand } from './commands/image.js';
import { serveCommand } from './commands/serve.js';
import { formatOf, withCommon } from './common.js';
import { exitCodeFor, printError, RUN_FAILED, type Format } from './output.js';

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
  // The service behind bin/nsnet and nsnet-cni (src/cli/service.ts); cni-service is its old name.
  program.addCommand(serviceCommand('service', main), { hidden: true });
  program.addCommand(serviceCommand('cni-service', main), { hidden: true });
  for (const c of labCommands()) program.addCommand(c);
  program.addCommand(graphCommand());
  program.addCommand(partitionCommand());
  program.addCommand(linkCommand(linkStateCommands));
  program.addCommand(netemCommand());
  program.addCommand(captureCommand());
  program.addCommand(imageCommand());
  program.addCommand(serveCommand());
  // Subcommands inherit exit handling so usage errors come back here as CommanderError.
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  // Docker's `run` exits 125 for its usage errors too (`docker run --bogus`), so a script can tell
  // "the container was not made" from the command's own status.
  const run = program.commands.find((c) => c.name() === 'run');
  run?.exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(RUN_FAILED, err.code, err.message);
  });
  return program;
}

/** One parse's view of the command it runs, filled in by the program's preAction hook. */
interface Parsing {
  format: Format;
  command: string | undefined;
  hooks: DispatchHooks;
}

function hooked(program: Command, parsing: () => Parsing): Command {
  return program.hook('preAction', (_program, action) => {
    const p = parsing();
    p.format = formatOf(action);
    p.command = action.name();
    p.hooks.beforeAction?.(action);
  });
}

/**
 * The program the service parses every command with (DispatchHooks.keepProgram): building it,
 * every command and option, takes ~0.5 ms, and commander restores option values and arguments
 * before each parse. `parsing` is the parse under way; a second one meanwhile gets its own program.
 */
let kept: { program: Command; parsing: Parsing | undefined } | undefined;

export async function main(argv: readonly string[], hooks: DispatchHooks = {}): Promise<number> {
  // Errors are printed in the format the command was given, as commander parsed it
  // (--format json, --format=json, on the program or the command); an error before any action
  // runs is commander's own and printed by it.
  const parsing: Parsing = { format: 'table', command: undefined, hooks };
  let program: Command;
  if (hooks.keepProgram === true && kept?.parsing === undefined) {
    kept ??= { program: hooked(buildProgram(), () => kept!.parsing!), parsing: undefined };
    kept.parsing = parsing;
    program = kept.program;
  } else program = hooked(buildProgram(), () => parsing);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (hooks.escapes?.(err) === true) throw err;
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else it reports is a usage error.
      return err.exitCode === 0 ? 0 : err.exitCode === RUN_FAILED ? RUN_FAILED : 2;
    }
    printError(err, parsing.format);
    return exitCodeFor(err, parsing.command);
  } finally {
    if (kept?.parsing === parsing) kept.parsing = undefined;
  }
}

/**
 * Exit once stdout and stderr have taken everything written to them. On a pipe Node writes
 * asynchronously and process.exit drops what the reader has not taken yet: `network ls` of 200 kB
 * into `| (sleep 1; wc -c)` counted 65536 bytes, one pipe's worth. A reader that went away (EPIPE)
 * ends the wait too.
 */
function exitWhenWritten(code: number): void {
  const streams = [process.stdout, process.stderr].filter((s) => s.writableLength > 0 && !s.destroyed);
  let waiting = streams.length;
  if (waiting === 0) process.exit(code);
  for (const s of streams) {
    s.write('', () => {
      if (--waiting === 0) process.exit(code);
    });
  }
}

// bin/nsnet ran this in-process because no service answered: start one for the next command.
const fallbackRoot = takeClientFallback();
let ran: string | undefined;
main(process.argv.slice(2), { beforeAction: (action) => void (ran = commandPath(action)) }).then(
  (code) => {
    if (fallbackRoot !== undefined) startServiceAfterFallback(fallbackRoot, ran);
    exitWhenWritten(code);
  },
  (err: unknown) => {
    printError(err, 'table');
    exitWhenWritten(1);
  },
);
