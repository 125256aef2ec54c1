/**
 * `nsnet demo`: the article's walkthrough, run for real inside a throwaway sandbox (a host
 * namespace with an uplink to a stand-in internet), printing each command and its real output,
 * then cleaning up. The machine's own network is never touched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { NsnetError } from '../../core/errors.js';
import { netnsExists } from '../../kernel/netns.js';
import { createSandbox, runIn, WORLD_ADDR, type Sandbox } from '../../kernel/sandbox.js';
import { requireRoot } from '../common.js';

interface Demo {
  sandbox: Sandbox;
  root: string;
  cli: string;
  failures: number;
}

const say = (text: string): void => void process.stdout.write(`\n# ${text}\n`);

/** Run one command in the sandbox's host namespace, showing it as the user would type it. */
function step(demo: Demo, argv: string[], opts: { quiet?: boolean } = {}): string {
  process.stdout.write(`$ ${argv.join(' ')}\n`);
  const real = argv[0] === 'nsnet' ? [process.execPath, demo.cli, '--root', demo.root, ...argv.slice(1)] : argv;
  const r = runIn(demo.sandbox.hostNs, real);
  if (opts.quiet !== true) process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.code !== 0) {
    demo.failures++;
    process.stdout.write(`(exit code ${r.code})\n`);
  }
  return r.stdout;
}

/** The article's names, unless the machine already has namespaces called that. */
function names(): { blue: string; green: string; red: string } {
  const pick = (n: string): string => (netnsExists(n) ? `demo-${n}` : n);
  return { blue: pick('blue'), green: pick('green'), red: pick('red') };
}

function walkthrough(demo: Demo): void {
  const { blue, green, red } = names();
  say('Three containers on the default network, as `docker run -d --name $cont alpine sleep 1000` would make');
  for (const c of [blue, green, red]) step(demo, ['nsnet', 'run', '-d', '--name', c, '--', 'sleep', '1000']);

  say('The bridge and the host ends of the veth pairs enslaved to it');
  step(demo, ['ip', 'link', 'show', 'nsnet0']);
  step(demo, ['ip', 'link', 'show', 'master', 'nsnet0']);

  say('Each container has its own eth0 with an address from the network');
  for (const c of [blue, green, red]) step(demo, ['nsnet', 'exec', c, 'ip', 'addr', 'show', 'eth0']);

  say('What nsnet knows about the network (Docker\'s shape)');
  const inspect = JSON.parse(step(demo, ['nsnet', 'network', 'inspect', 'bridge'])) as Array<{
    Containers: Record<string, { Name: string; IPv4Address: string }>;
  }>;
  const blueAddr = Object.values(inspect[0]?.Containers ?? {}).find((c) => c.Name === blue)?.IPv4Address.split('/')[0];
  if (blueAddr === undefined) throw new NsnetError('STATE', `demo: ${blue} has no address in network inspect`);

  say('Containers reach each other across the bridge');
  step(demo, ['nsnet', 'exec', red, 'ping', '-c', '3', blueAddr]);

  say(`And the outside world through NAT (${WORLD_ADDR} stands in for the internet)`);
  step(demo, ['nsnet', 'exec', green, 'ping', '-c', '3', WORLD_ADDR]);
  step(demo, ['nft', 'list', 'table', 'inet', 'nsnet']);

  say('The article\'s by-hand topology, with flags instead of fifteen commands');
  for (const c of [blue, red]) step(demo, ['nsnet', 'rm', '-f', c], { quiet: true });
  step(demo, ['nsnet', 'network', 'create', 'study', '--subnet', '10.0.0.0/24', '--gateway', '10.0.0.254', '-o', 'com.docker.network.bridge.name=br-study']);
  step(demo, ['nsnet', 'run', '-d', '--name', red, '--network', 'study', '--ip', '10.0.0.1', '--', 'sleep', '1000']);
  step(demo, ['nsnet', 'run', '-d', '--name', blue, '--network', 'study', '--ip', '10.0.0.2', '--', 'sleep', '1000']);
  step(demo, ['ip', 'netns', 'exec', red, 'ip', 'route']);
  step(demo, ['nsnet', 'exec', red, 'ping', '-c', '3', '10.0.0.2']);

  say('Containers find each other by name (nsnet answers DNS on each gateway)');
  step(demo, ['nsnet', 'exec', red, 'ping', '-c', '1', blue]);

  say("The picture of what was built, as the article's figure draws it");
  step(demo, ['nsnet', 'graph', '--network', 'study']);

  say('Every change nsnet makes is a command you could type yourself: --dry-run prints them');
  step(demo, ['nsnet', 'run', '--dry-run', '-d', '--name', 'purple', '--network', 'study', '--', 'sleep', '1000']);
}

export function demoCommand(): Command {
  return new Command('demo')
    .description("the article's walkthrough, run for real in a throwaway sandbox, then cleaned up")
    .action(() => {
      requireRoot();
      const sandbox = createSandbox('nsdemo');
      const demo: Demo = {
        sandbox,
        root: fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-demo-')),
        cli: path.resolve(process.argv[1] ?? 'bin/nsnet'),
        failures: 0,
      };
      process.stdout.write(
        `Sandbox: nsnet runs in namespace ${sandbox.hostNs}, whose uplink leads to ${sandbox.worldNs} (the stand-in internet).\n` +
          `State: ${demo.root}. Each command below is shown as typed, followed by its real output.\n`,
      );
      try {
        walkthrough(demo);
      } finally {
        say('Cleaning up');
        step(demo, ['nsnet', 'system', 'reset', '--force']);
        sandbox.destroy();
        fs.rmSync(demo.root, { recursive: true, force: true });
      }
      if (demo.failures > 0) throw new NsnetError('STATE', `demo: ${demo.failures} step(s) failed (see above)`);
      process.stdout.write('\nDone: the sandbox and everything in it are gone.\n');
    });
}
