/**
 * One CNI invocation, start to end: environment and stdin in, the spec's result or error out.
 * The same function serves the in-process plugin (`nsnet cni-plugin`) and the long-lived
 * service behind the thin `nsnet-cni` client, so both answer byte for byte alike.
 */
import { KernelError, NsnetError, type ErrorCode } from '../core/errors.js';
import { bridgeMacFor } from '../engine/ids.js';
import {
  configVersion,
  decodeConfig,
  parseEnv,
  parseNetConf,
  portSpecs,
  requestedIps,
  requestedMac,
  type CniEnv,
  type CniNetConf,
} from '../cni/config.js';
import {
  CniError,
  ErrorCodes,
  errorOutput,
  mergeResults,
  resultForVersion,
  SPEC_VERSION,
  SUPPORTED_VERSIONS,
  type CniResult,
} from '../cni/spec.js';
import { attachmentProblems } from './check.js';
import { cniAdd, cniDel, cniGc, cniPublish, cniStatus, findAttachment, type CniAttachment } from './cni.js';
import type { Context } from './context.js';
import { dnsEnabled } from '../engine/dns-options.js';
import { ensureResponder } from './dns-responder.js';

export interface CniCall {
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  /** The command name of the plugin's caller (podman, containerd, ...), recorded on the container. */
  caller?: string | undefined;
}

export interface CniReply {
  exitCode: number;
  stdout: string;
  /** Diagnostics for the runtime's log (never part of the protocol). */
  stderr: string;
}

/** nsnet's error codes in CNI's terms. */
const CODE_OF: Partial<Record<ErrorCode, number>> = {
  USAGE: ErrorCodes.INVALID_CONFIG,
  INVALID_VALUE: ErrorCodes.INVALID_CONFIG,
  SUBNET_OVERLAP: ErrorCodes.INVALID_CONFIG,
  NAME_IN_USE: ErrorCodes.IN_USE,
  ADDRESS_IN_USE: ErrorCodes.IN_USE,
  IN_USE: ErrorCodes.IN_USE,
  POOL_EXHAUSTED: ErrorCodes.IN_USE,
  FIREWALL: ErrorCodes.KERNEL,
  LOCK_TIMEOUT: ErrorCodes.TRY_AGAIN_LATER,
  KERNEL: ErrorCodes.KERNEL,
  NOT_FOUND: ErrorCodes.UNKNOWN_CONTAINER,
};

function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof KernelError) return new CniError(ErrorCodes.KERNEL, err.message, err.hint);
  if (err instanceof NsnetError) return new CniError(CODE_OF[err.code] ?? ErrorCodes.INTERNAL, err.message, err.hint);
  return new CniError(ErrorCodes.INTERNAL, err instanceof Error ? err.message : String(err));
}

/** A CniError is an answer nsnet means to give (a refusal, a failed CHECK): no stack for it. */
const isBug = (err: unknown): boolean => !(err instanceof CniError) && (!(err instanceof NsnetError) || err.code === 'INTERNAL');

const ok = (stdout = ''): CniReply => ({ exitCode: 0, stdout, stderr: '' });
const json = (v: unknown): string => `${JSON.stringify(v)}\n`;

export function handleCni(ctx: Context, call: CniCall): CniReply {
  let version: string = SPEC_VERSION;
  try {
    const env = parseEnv(call.env);
    if (env.command === 'VERSION') return ok(json({ cniVersion: SPEC_VERSION, supportedVersions: SUPPORTED_VERSIONS }));
    const raw = decodeConfig(call.stdin);
    version = configVersion(raw);
    const conf = parseNetConf(raw);
    switch (env.command) {
      case 'ADD':
        refuseNonContainerNamespace(ctx, env.netns!);
        return ok(json(resultForVersion(add(ctx, env, conf, call.caller), conf.cniVersion)));
      case 'DEL':
        cniDel(ctx, env.containerId!, conf.name, env.ifName!);
        return ok();
      case 'CHECK':
        check(ctx, env, conf);
        return ok();
      case 'STATUS': {
        const problems = cniStatus(ctx, conf);
        if (problems.length > 0) throw new CniError(ErrorCodes.NOT_AVAILABLE, problems.join('; '));
        return ok();
      }
      case 'GC':
        cniGc(ctx, conf.name, conf.validAttachments ?? []);
        return ok();
    }
  } catch (err) {
    const e = asCniError(err);
    // A bug (not an error nsnet expects): the stack goes to the runtime's (or the service's) log.
    return { exitCode: 1, stdout: json(errorOutput(e, version)), stderr: isBug(err) ? `${(err as Error).stack ?? String(err)}\n` : '' };
  }
}

/**
 * ADD gives the namespace CNI_NETNS names an interface, an address and a default route, so it
 * must be a runtime's container: never the plugin's own namespace (the host's, which
 * /proc/self/ns/net, /proc/PID/ns/net of any process here and its /run/netns path all lead
 * to), nor one nsnet runs a container in (that container is nsnet's to change: network
 * connect). Namespaces are compared by device and inode, never by path. The service answering
 * for the C client runs in its callers' namespace (one service per namespace), so its own is
 * theirs; the C client refuses its own namespace itself, before calling anyone.
 */
function refuseNonContainerNamespace(ctx: Context, netns: string): void {
  const target = ctx.host.netnsIdentity(netns);
  // Nothing there: the attach step fails on it, naming the path.
  if (target === undefined) return;
  const leadsThere = (ns?: string): boolean => {
    const id = ctx.host.netnsIdentity(ns);
    return id !== undefined && id.dev === target.dev && id.ino === target.ino;
  };
  if (leadsThere()) {
    throw new CniError(
      ErrorCodes.INVALID_ENVIRONMENT,
      `CNI_NETNS ${netns} is nsnet-cni's own network namespace (the host's): ADD attaches a container's namespace, never the host itself`,
      "give the path of the container's network namespace (/run/netns/NAME, /proc/PID/ns/net of its process)",
    );
  }
  // A --network host container's netns is '' (the host's, refused just above): nothing to compare.
  const owner = ctx.store.containers.list().find((c) => c.cniContainerId === null && c.netns !== '' && leadsThere(c.netns));
  if (owner !== undefined) {
    throw new CniError(
      ErrorCodes.INVALID_ENVIRONMENT,
      `CNI_NETNS ${netns} is the network namespace of nsnet container ${owner.name}: nsnet-cni attaches a runtime's containers, never one nsnet runs`,
      `to add a network to it: nsnet network connect NETWORK ${owner.name}`,
    );
  }
}

/** This entry follows the one that attached the container to the network (prevResult shows its interface). */
function chainedAttachment(ctx: Context, env: CniEnv, conf: CniNetConf): CniAttachment | undefined {
  if (conf.prevResult === undefined) return undefined;
  const a = findAttachment(ctx, env.containerId!, conf.name);
  if (a === undefined || a.container.netns !== env.netns) return undefined;
  const listed = (conf.prevResult.interfaces ?? []).some((i) => i.name === a.endpoint.ifName && i.sandbox === a.container.netns);
  return listed ? a : undefined;
}

function add(ctx: Context, env: CniEnv, conf: CniNetConf, caller: string | undefined): CniResult {
  const chained = chainedAttachment(ctx, env, conf);
  if (chained !== undefined) {
    // The second nsnet-cni entry of a conflist: portmap's job on the attachment the first made.
    // Mappings the first entry already published (both declared portMappings) are not repeated.
    const have = ctx.store.ports.forEndpoint(chained.endpoint.id);
    const fresh = conf.portMappings.filter(
      (m) => !have.some((p) => p.hostPort === m.hostPort && p.containerPort === m.containerPort && p.proto === m.protocol && (p.hostIp ?? undefined) === m.hostIP),
    );
    cniPublish(ctx, chained, portSpecs(fresh));
    return conf.prevResult!;
  }
  const attachment = cniAdd(ctx, {
    conf,
    containerId: env.containerId!,
    netns: env.netns!,
    ifName: env.ifName!,
    ...requestedIps(conf, env.args),
    mac: requestedMac(conf, env.args),
    ports: portSpecs(conf.portMappings),
    aliases: [...conf.aliases, ...podName(env.args)],
    runtime: caller ?? 'cni',
  });
  let dns = conf.dns;
  if (dns === undefined && dnsEnabled(attachment.network) && !attachment.network.internal && !ctx.dryRun) {
    // DNS trouble never fails an attachment; without the responder there is no nameserver to give.
    let problems: string[];
    try {
      problems = ctx.locked(() => ensureResponder(ctx));
    } catch (err) {
      problems = [(err as Error).message];
    }
    if (problems.length === 0) dns = { nameservers: [attachment.network.gateway ?? attachment.network.gateway6!] };
  }
  const ours = resultOf(attachment, ctx.host.link(attachment.endpoint.hostIf)?.mac);
  if (dns !== undefined) ours.dns = dns;
  return mergeResults(conf.prevResult, ours);
}

/**
 * The runtime's name for the container (Podman's container name, Kubernetes' pod name) in
 * K8S_POD_NAME: resolvable by that name on the network, as on Podman's own networks.
 */
function podName(args: Readonly<Record<string, string>>): string[] {
  const name = args['K8S_POD_NAME'];
  return name !== undefined && /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(name) ? [name] : [];
}

/** The endpoint's addresses with their prefix lengths and gateways, IPv4 first. */
function addressesOf(a: CniAttachment): Array<{ address: string; gateway: string; family: 4 | 6 }> {
  const out: Array<{ address: string; gateway: string; family: 4 | 6 }> = [];
  const n = a.network;
  if (a.endpoint.ip !== null && n.subnet !== null && n.gateway !== null) out.push({ address: `${a.endpoint.ip}/${n.subnet.split('/')[1]}`, gateway: n.gateway, family: 4 });
  if (a.endpoint.ip6 != null && n.subnet6 != null && n.gateway6 != null) out.push({ address: `${a.endpoint.ip6}/${n.subnet6.split('/')[1]}`, gateway: n.gateway6, family: 6 });
  return out;
}

/** The attachment in the spec's result shape: bridge, host veth, container interface (index 2); one IP and default route per family. */
function resultOf(a: CniAttachment, hostIfMac?: string): CniResult {
  const addresses = addressesOf(a);
  return {
    cniVersion: SPEC_VERSION,
    interfaces: [
      { name: a.network.bridge, mac: bridgeMacFor(a.network.id) },
      { name: a.endpoint.hostIf, ...(hostIfMac === undefined ? {} : { mac: hostIfMac }) },
      { name: a.endpoint.ifName, mac: a.endpoint.mac, sandbox: a.container.netns },
    ],
    ips: addresses.map(({ address, gateway }) => ({ address, gateway, interface: 2 })),
    routes: a.carriesDefaultRoute ? addresses.map(({ gateway, family }) => ({ dst: family === 6 ? '::/0' : '0.0.0.0/0', gw: gateway })) : [],
  };
}

/** CHECK: the attachment exists, matches what the runtime was told, and the kernel still has it. */
function check(ctx: Context, env: CniEnv, conf: CniNetConf): void {
  if (conf.prevResult === undefined) throw new CniError(ErrorCodes.INVALID_CONFIG, 'CHECK needs prevResult: the result the ADD returned');
  const a = findAttachment(ctx, env.containerId!, conf.name, env.ifName!);
  if (a === undefined) {
    throw new CniError(ErrorCodes.UNKNOWN_CONTAINER, `container ${env.containerId} has no ${env.ifName} attachment to network ${conf.name}`);
  }
  const problems: string[] = [];
  if (a.container.netns !== env.netns) problems.push(`attached in namespace ${a.container.netns}, not ${env.netns}`);
  for (const { address } of addressesOf(a)) {
    if (!(conf.prevResult.ips ?? []).some((ip) => ip.address === address)) problems.push(`prevResult does not list the address ${address}`);
  }
  if (!(conf.prevResult.interfaces ?? []).some((i) => i.name === a.endpoint.ifName && (i.mac === undefined || i.mac === a.endpoint.mac))) {
    problems.push(`prevResult does not list interface ${a.endpoint.ifName} with MAC ${a.endpoint.mac}`);
  }
  problems.push(...attachmentProblems(ctx, a.container, a.network));
  if (problems.length > 0) {
    throw new CniError(ErrorCodes.KERNEL, `check of ${env.ifName} on network ${conf.name} failed: ${problems.join('; ')}`, 'DEL and ADD again, or nsnet system check --fix');
  }
}
