/** `nsnet up` / `nsnet down`: a whole lab from one YAML file (see src/lab). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { NsnetError } from '../../core/errors.js';
import { kernelContext } from '../context.js';
import { PlanningContext } from '../../lab/planning.js';
import { parseLab, type LabSpec, type ParseOptions } from '../../lab/spec.js';
import { down, up, type LabProgress } from '../../lab/up.js';
import { contextFor, withCommon, type CommonOptions } from '../common.js';
import { printLines } from '../output.js';

const DEFAULT_FILE = 'lab.yaml';
const DB_FILES = ['nsnet.db', 'nsnet.db-wal'];

interface LabFlags {
  file: string;
  name?: string;
  parallel?: string;
  removeAll?: boolean;
}

/** Read and validate the lab file; the lab's name defaults to the file's directory name. */
export function loadLab(file: string, nameOverride?: string, opts: ParseOptions = {}): LabSpec {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (err) {
    throw new NsnetError('NOT_FOUND', `cannot read lab file ${file}: ${(err as Error).message}`, { hint: 'nsnet up -f PATH/lab.yaml' });
  }
  return parseLab(text, file, path.basename(path.dirname(resolved)), nameOverride, opts);
}

/** Progress on stderr: a bar with counts on a terminal, plain lines otherwise. */
function progressPrinter(verb: string): (p: LabProgress) => void {
  const tty = process.stderr.isTTY === true;
  return (p) => {
    const what = `${p.action} ${p.kind} ${p.name}${p.error === undefined ? '' : `: FAILED: ${p.error.split('\n')[0]}`}`;
    if (!tty) {
      process.stderr.write(`[${p.done}/${p.total}] ${what}\n`);
      return;
    }
    const width = 24;
    const filled = Math.round((p.done / p.total) * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const columns = process.stderr.columns ?? 80;
    const line = `${verb} [${bar}] ${p.done}/${p.total} ${what}`.slice(0, columns - 1);
    process.stderr.write(`\r\x1b[2K${line}${p.done === p.total || p.error !== undefined ? '\n' : ''}`);
  };
}

const seconds = (start: bigint): string => `${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(2)}s`;

/**
 * --dry-run plans against a scratch copy of the state (taken under the lock), so the script is
 * exactly what up would do now; the copy is deleted afterwards.
 */
async function dryRunUp(cmd: Command, spec: LabSpec, removeAll: boolean): Promise<void> {
  const opts = cmd.optsWithGlobals<CommonOptions>();
  const real = kernelContext({ root: opts.root, dryRun: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-plan-'));
  try {
    real.locked(() => {
      for (const f of DB_FILES) {
        const from = path.join(real.root, f);
        if (fs.existsSync(from)) fs.copyFileSync(from, path.join(scratch, f));
      }
    });
    real.close();
    const ctx = new PlanningContext({ root: scratch, firewallDriver: opts.firewallDriver, host: real.host });
    try {
      const result = await up(ctx, spec, { removeAll });
      const header = [
        '#!/usr/bin/env bash',
        `# nsnet up -f ... for lab ${spec.name}: the by-hand commands, in order`,
        'set -e',
      ];
      printLines(result.noop ? [...header, '# nothing to do: the lab is as the file declares'] : [...header, ...ctx.planned]);
    } finally {
      ctx.close();
    }
  } finally {
    real.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export function labCommands(): Command[] {
  const upCmd = withCommon(new Command('up'))
    .description('create or converge a whole lab (networks, containers, routers) from a YAML file')
    .option('-f, --file <path>', 'lab file (schema/lab.schema.json)', DEFAULT_FILE)
    .option('--name <lab>', "the lab's name (default: name: in the file, else the file's directory name)")
    .option('--parallel <n>', 'containers started at the same time', '8')
    .option('--remove-all', 'let up remove every object of the lab when the file declares none of them (refused without it; nsnet down removes a lab)')
    .action(async (o: LabFlags, cmd: Command) => {
      const spec = loadLab(o.file, o.name);
      const removeAll = o.removeAll === true;
      if (cmd.optsWithGlobals<CommonOptions>().dryRun === true) return dryRunUp(cmd, spec, removeAll);
      const parallel = Number(o.parallel);
      if (!Number.isInteger(parallel) || parallel < 1) throw new NsnetError('USAGE', `invalid --parallel "${o.parallel}": expected a positive integer`);
      const ctx = contextFor(cmd);
      const start = process.hrtime.bigint();
      try {
        const result = await up(ctx, spec, { onProgress: progressPrinter('up'), parallel, removeAll });
        const p = result.plan;
        if (result.noop) {
          printLines([`lab ${spec.name} is up to date (${p.keepNetworks.length} networks, ${p.keepContainers.length} containers) in ${seconds(start)}`]);
        } else {
          printLines([
            `lab ${spec.name} up in ${seconds(start)}: ` +
              `created ${p.createNetworks.length} networks and ${p.createContainers.length} containers, ` +
              `removed ${p.removeNetworks.length} networks and ${p.removeContainers.length} containers, ` +
              `kept ${p.keepNetworks.length} networks and ${p.keepContainers.length} containers` +
              ((result.impaired ?? 0) > 0 ? `; set the impairment of ${result.impaired} interface${result.impaired === 1 ? '' : 's'}` : ''),
          ]);
        }
      } finally {
        ctx.close();
      }
    });

  const downCmd = withCommon(new Command('down'), { dryRun: false })
    .description("remove everything a lab made (only objects it owns), whatever the file says now")
    .option('-f, --file <path>', 'lab file (only its name is used)', DEFAULT_FILE)
    .option('--name <lab>', "the lab's name (default: name: in the file, else the file's directory name); no file is read when given")
    .action(async (o: LabFlags, cmd: Command) => {
      // Only the name is read: an empty file names the lab after its directory, as for up.
      const lab = o.name ?? loadLab(o.file, undefined, { allowEmpty: true }).name;
      const ctx = contextFor(cmd);
      const start = process.hrtime.bigint();
      try {
        const result = down(ctx, lab, { onProgress: progressPrinter('down') });
        printLines([`lab ${lab} down in ${seconds(start)}: removed ${result.containers.length} containers and ${result.networks.length} networks`]);
      } finally {
        ctx.close();
      }
    });
  return [upCmd, downCmd];
}
