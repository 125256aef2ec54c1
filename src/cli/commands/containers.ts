import { Command, Option } from 'commander';
import { NsnetError, usage } from '../../core/errors.js';
import * as validate from '../../core/validate.js';
import { containerView } from '../../engine/inspect.js';
import { formatMapping, hostBindings, parseContainerPorts, portKey, portsView } from '../../engine/ports.js';
import { containerPorts } from '../../ops/ports.js';
import { recordedStates } from '../../ops/impairments.js';
import { pointToPointOf } from '../../ops/p2p-links.js';
import * as containers from '../../ops/containers.js';
import type { Context } from '../../ops/context.js';
import { liveState, monitorWarning } from '../../ops/liveness.js';
import { logsCommand, waitCommand } from './monitored.js';
import { collect, contextFor, formatOf, keyValues, templateOf, withCommon } from '../common.js';
import { psItems } from '../listing/ps-items.js';
import { PS_SHAPE, psRow } from '../listing/ps-rows.js';
import { selectContainers, type PsSelection } from '../listing/ps-select.js';
import { renderEach, renderListing } from '../listing/render.js';
import { compile } from '../template/index.js';
import { printJson, printLines } from '../output.js';
import { finish, printDoneThenFail } from '../run-command.js';
import { dnsInput } from '../../engine/dns-options.js';
import { DEFAULT_NETWORK } from '../../ops/networks.js';

function inspectContainers(ctx: Context, refs: readonly string[]): Record<string, unknown>[] {
  return refs.map((ref) => {
    const c = ctx.store.containers.resolve(ref);
    const eps = ctx.store.endpoints.forContainer(c.id).map((endpoint) => ({ endpoint, network: ctx.store.networks.get(endpoint.networkId)! }));
    const live = liveState(ctx.host, c);
    const warning = monitorWarning(c, live);
    if (warning !== undefined) ctx.warn(warning);
    return containerView(c, live, eps, containerPorts(ctx, c.id), { dns: ctx.store.dns.get(c.id), interfaces: recordedStates(ctx, c), pointToPoint: pointToPointOf(ctx.store, c.id) });
  });
}

/** run's options, which create takes too (Docker's create is run without the start). */
function withRunOptions(cmd: Command): Command {
  return withCommon(cmd)
    .usage('[options] [--] COMMAND [ARG...]')
    .option('-d, --detach', 'run in the background; output goes to nsnet logs NAME')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name (also its ip netns name)')
    .option('--network <net>', 'network to connect to (repeatable: eth0, eth1, ...; default: bridge)', collect)
    .option('--ip <ip>', 'IPv4 address on the first network')
    .option('--ip6 <ip>', 'IPv6 address on the first network (it must have IPv6)')
    .option('--hostname <name>', 'hostname inside the container (default: its name)')
    .option('--mac-address <mac>', 'MAC address on the first network')
    .option('-e, --env <key=value>', 'environment variable (repeatable)', collect)
    .option('--rootfs <dir>', 'root filesystem directory to chroot into')
    .option('--image <ref>', "run an image of the image store: its layers as an overlay root, its Env, Entrypoint, Cmd, WorkingDir and ExposedPorts (COMMAND replaces its Cmd)")
    .option('--entrypoint <command>', "with --image: replace the image's entrypoint (\"\" clears it)")
    .option('-w, --workdir <dir>', 'with --image: working directory inside the container')
    .option('-u, --user <user[:group]>', 'with --image: user (name or id of the image\'s /etc/passwd) and group to run as')
    .option('-l, --label <key=value>', 'container label (repeatable)', collect)
    .option('-p, --publish <[ip:]host:container[/proto]>', 'publish a container port on the host (repeatable; CONTAINER_PORT alone picks a free host port)', collect)
    .option('--dns <ip>', 'upstream DNS server for names that are not containers (repeatable)', collect)
    .option('--dns-search <domain>', 'DNS search domain (repeatable)', collect)
    .option('--dns-option <option>', 'resolv.conf option, e.g. ndots:2 (repeatable)', collect)
    .option('--add-host <name:ip>', 'add a line to the container\'s /etc/hosts (repeatable)', collect)
    .option('--network-alias <name>', 'another name the container resolves as on its first network (repeatable)', collect)
    .option('--cap-add <cap>', "add a Linux capability to Docker's default set, e.g. NET_ADMIN, or ALL (repeatable)", collect)
    .option('--cap-drop <cap>', "drop a Linux capability from Docker's default set, e.g. NET_RAW, or ALL (repeatable)", collect)
    .option('--privileged', 'give the container every capability and no no_new_privs (root on the host)')
    .option('--expose <port>', 'expose a container port, PORT[-END][/PROTO] (repeatable; -P publishes it)', collect)
    .option('-P, --publish-all', 'publish every exposed port on a free host port')
    .option('--sysctl <key=value>', "set a net.* sysctl in the container's network namespace (repeatable)", collect)
    .option('--link <name[:alias]>', 'legacy: ALIAS (default NAME) resolves to container NAME on the default network (repeatable)', collect)
    .option('--restart <policy>', 'with -d: no, on-failure[:MAX-RETRIES], always or unless-stopped (its monitor restarts it)')
    .argument('[command...]', 'command and arguments to run (with --image: replaces its Cmd)')
    .passThroughOptions();
}

function runInputOf(argv: string[], o: Record<string, unknown>): containers.RunInput {
  const networks = (o['network'] as string[] | undefined) ?? [];
  const aliases = o['networkAlias'] as string[] | undefined;
  return {
    name: o['name'] as string | undefined,
    networks,
    // As Docker's CLI: --network-alias (like --ip) is the first network's; connect --alias adds others'.
    networkAliases: aliases === undefined ? undefined : { [networks[0] ?? DEFAULT_NETWORK]: aliases },
    ip: o['ip'] as string | undefined,
    ip6: o['ip6'] as string | undefined,
    mac: o['macAddress'] as string | undefined,
    hostname: o['hostname'] as string | undefined,
    env: keyValues(o['env'] as string[] | undefined, 'environment variable', validate.keyValue),
    rootfs: o['rootfs'] as string | undefined,
    detach: o['detach'] === true,
    remove: o['rm'] === true,
    argv,
    publish: o['publish'] as string[] | undefined,
    dns: dnsInput({
      dns: o['dns'] as string[] | undefined,
      dnsSearch: o['dnsSearch'] as string[] | undefined,
      dnsOption: o['dnsOption'] as string[] | undefined,
      addHost: o['addHost'] as string[] | undefined,
    }),
    capAdd: o['capAdd'] as string[] | undefined,
    capDrop: o['capDrop'] as string[] | undefined,
    privileged: o['privileged'] === true,
    expose: o['expose'] as string[] | undefined,
    publishAll: o['publishAll'] === true,
    sysctls: keyValues(o['sysctl'] as string[] | undefined, '--sysctl', validate.keyValue),
    links: o['link'] as string[] | undefined,
    restart: o['restart'] as string | undefined,
    image: o['image'] as string | undefined,
    // Docker takes --entrypoint as one word (a program), not a command line.
    entrypoint: o['entrypoint'] === undefined ? undefined : [o['entrypoint'] as string],
    workdir: o['workdir'] as string | undefined,
    user: o['user'] as string | undefined,
    labels: keyValues(o['label'] as string[] | undefined, '--label', validate.keyValue),
  };
}

export function runCommand(): Command {
  return withRunOptions(new Command('run'))
    .description('create a container (namespace, veth into the bridge, address, route) and start COMMAND in it')
    .action(async (argv: string[], o: Record<string, unknown>, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, async () => {
        const result = await containers.run(ctx, runInputOf(argv, o));
        if (ctx.dryRun) return;
        if (result.exitCode === undefined) printLines([result.container.id]);
        else process.exitCode = result.exitCode;
      });
    });
}

/** Docker's create: the container and its addresses recorded, nothing started (nsnet start NAME). */
function createCommand(): Command {
  return withRunOptions(new Command('create'))
    .description("record a container as run would make it, without starting it (Docker's Created state); start it with nsnet start")
    .action(async (argv: string[], o: Record<string, unknown>, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, async () => {
        const c = await containers.create(ctx, runInputOf(argv, o));
        if (!ctx.dryRun) printLines([c.id]);
      });
    });
}

export function containerCommands(): Command[] {
  const exec = withCommon(new Command('exec'), { dryRun: false })
    .description("run a command inside a running container's namespaces, with your terminal")
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .action(async (ref: string, argv: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, async () => {
        process.exitCode = await containers.exec(ctx, ref, argv);
      });
    });

  const ps = withCommon(new Command('ps'), { dryRun: false, templates: true })
    .description('list containers, newest first (running ones; -a for all)')
    .option('-a, --all', 'show stopped containers too')
    .option('-q, --quiet', 'only print container ids')
    .option('-f, --filter <name=value>', 'filter: id, name, status, exited, network, label, publish, expose, ancestor, before, since (repeatable)', collect)
    .option('-n, --last <n>', 'show the n last created containers (every state)')
    .option('-l, --latest', 'show the last created container (every state)')
    .option('--no-trunc', 'do not truncate ids and commands')
    .action(async (o: PsSelection & { quiet?: boolean; trunc: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, () => {
        const template = templateOf(cmd);
        if (template !== undefined) compile(template); // a bad template fails before anything is read
        const list = selectContainers(psItems(ctx), o);
        if (o.quiet === true) return printLines(list.map((i) => (o.trunc ? i.container.id.slice(0, 12) : i.container.id)));
        if (formatOf(cmd) === 'json' && template === undefined) return printJson(inspectContainers(ctx, list.map((i) => i.container.id)));
        const now = Date.now();
        printLines(renderListing(template ?? 'table', list.map((i) => psRow(i, { trunc: o.trunc, now })), PS_SHAPE));
      });
    });

  const inspect = withCommon(new Command('inspect'), { dryRun: false, templates: true, shortFormat: true })
    .description("show containers as JSON, in Docker's shape, or through a Go template (-f '{{.Name}}')")
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, () => {
        const template = templateOf(cmd);
        if (template === undefined) return printJson(inspectContainers(ctx, refs));
        compile(template);
        printLines(renderEach(template, inspectContainers(ctx, refs)));
      });
    });

  const stop = withCommon(new Command('stop'))
    .description('stop containers: SIGTERM, then SIGKILL after the grace period')
    .addOption(new Option('-t, --time <seconds>', 'grace period before SIGKILL').default('10'))
    .argument('<container...>')
    .action(async (refs: string[], o: { time: string }, cmd: Command) => {
      const seconds = Number(o.time);
      if (!Number.isInteger(seconds) || seconds < 0) throw usage(`invalid --time "${o.time}": expected a whole number of seconds`);
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, () => {
        printDoneThenFail(ctx, 'stop', containers.stopEach(ctx, refs, seconds));
      });
    });

  const start = withCommon(new Command('start'))
    .description('start stopped containers (rewiring them if their namespace is gone)')
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      await finish(ctx, cmd, async () => {
        printDoneThenFail(ctx, 'start', await containers.startEach(ctx, refs));
      });
    });

  const rm = withCommon(new Command('rm'))
    .description('remove containers: process, namespace, veths, address and records')
    .option('-f, --force', 'kill running containers first')
    // What a --rm container's monitor runs when its run has ended (native/nsnet-monitor.c).
    .addOption(new Option('--auto-remove <monitor>', 'only a container whose last run, under monitor PID:START, has ended').hideHelp())
    .argument('<container...>')
    .action(async (refs: string[], o: { force?: boolean; autoRemove?: string }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const endedUnder = o.autoRemove === undefined ? undefined : containers.parseMonitorRef(o.autoRemove);
      await finish(ctx, cmd, () => {
        printDoneThenFail(ctx, 'rm', containers.removeEach(ctx, refs, { force: o.force === true, endedUnder }));
      });
    });

  const port = withCommon(new Command('port'), { dryRun: false })
    .description('list the published ports of a container (or the host addresses of one PORT[/PROTO]), as Docker prints them')
    .argument('<container>')
    .argument('[port]', 'a container port, PORT[/PROTO] (tcp by default)')
    .action(async (ref: string, portText: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, false);
      await finish(ctx, cmd, () => {
        const wanted = portText === undefined ? undefined : parseContainerPorts(portText, 'port')[0]!;
        const c = ctx.store.containers.resolve(ref);
        const mappings = containerPorts(ctx, c.id);
        if (wanted === undefined) {
          if (formatOf(cmd) === 'json') return printJson(portsView(mappings));
          return printLines(mappings.map(formatMapping));
        }
        const bindings = hostBindings(mappings, wanted);
        if (bindings.length === 0) throw new NsnetError('NOT_FOUND', `no public port '${portKey(wanted)}' published for ${c.name}`, { hint: `see nsnet port ${c.name}` });
        if (formatOf(cmd) === 'json') return printJson(portsView(mappings.filter((m) => m.containerPort === wanted.port && m.proto === wanted.proto)));
        printLines(bindings);
      });
    });

  return [createCommand(), exec, ps, inspect, logsCommand(), stop, start, rm, port, waitCommand()];
}
