/**
 * Steps applied to and undone on the fake machine, with the semantics of src/plan/kernel-runner.ts
 * case by case: the same errors (EEXIST for a taken name, "link X not found" for a missing one,
 * ENOENT for a missing namespace), the same idempotent undo (what is gone counts as undone; the
 * namespace a step acted in going takes the step with it), the same sysctls left on.
 * The xtables kinds ask src/kernel/xtables.ts's pure script builders for the script, as the kernel
 * runner does, and run it on the fake tables.
 */
import path from 'node:path';
import { ignoring } from '../../../src/plan/kernel-runner.js';
import { NsnetError } from '../../../src/core/errors.js';
import { keyedScript, portScript, restoreScript, ruleComment, type XtablesChains, type XtablesTool } from '../../../src/kernel/xtables.js';
import { EADDRNOTAVAIL, ESRCH } from '../../../src/kernel/libc.js';
import { renderStep } from '../../../src/plan/render.js';
import type { Step } from '../../../src/plan/steps.js';
import type { NetworkModel } from './network.js';
import type { NftModel } from './nft.js';
import type { XtablesModel } from './xtables.js';
import type { MountModel } from './mounts.js';

export interface Machine {
  net: NetworkModel;
  nft: NftModel;
  xt: XtablesModel;
  mounts: MountModel;
  /** Whether the tool behind a firewall step is there (else the step fails as the real run does). */
  toolUsable(tool: 'nft' | XtablesTool): boolean;
}

type Of<K extends Step['kind']> = Extract<Step, { kind: K }>;

export function applyStep(m: Machine, step: Step): void {
  const command = renderStep(step);
  switch (step.kind) {
    case 'netns-add':
      m.net.createNetns(step.name);
      return;
    case 'netns-del':
      m.net.deleteNetns(step.name);
      // The kernel runner waits for the host ends, then deletes what still lingers.
      for (const hostIf of step.hostIfs ?? []) m.net.deleteLink(undefined, hostIf);
      return;
    case 'bridge-add':
      m.net.addBridge(step.name, step.mac, step.mtu, command);
      return;
    case 'link-up':
      m.net.setUp(step.ns, step.dev, true);
      return;
    case 'link-del':
      m.net.ns(step.ns);
      m.net.deleteLink(step.ns, step.dev);
      return;
    case 'veth-add':
      m.net.addVeth(step, command);
      return;
    case 'veth-p2p':
      m.net.addP2pVeth(step, command);
      return;
    case 'macvlan-add':
      m.net.addOnParent('macvlan', step, command);
      return;
    case 'ipvlan-add':
      m.net.addOnParent('ipvlan', step, command);
      return;
    case 'dummy-add':
      m.net.addLink(undefined, { name: step.name, kind: 'dummy', mtu: 1500, up: false }, command);
      return;
    case 'route-dev':
      m.net.addDefaultDevRoute(step.ns, step.dev, command);
      return;
    case 'port-hairpin':
      m.net.setHairpin(step.dev, step.on, command);
      return;
    case 'qdisc-netem':
      m.net.setImpairment(step.ns, step.dev, step.netem);
      return;
    case 'qdisc-clear':
      m.net.setImpairment(step.ns, step.dev, {});
      return;
    case 'link-state':
      m.net.mustLink(step.ns, step.dev);
      m.net.setUp(step.ns, step.dev, step.up);
      return;
    case 'addr-add':
      m.net.addAddr(step.ns, step.dev, step.address, step.prefixLen, command);
      return;
    case 'route-add':
      m.net.addRoute(step.ns, { gateway: step.via, dev: step.dev }, command);
      return;
    case 'sysctl':
      m.net.writeSysctl(undefined, step.key, step.value, step.ignoreUnknown);
      return;
    case 'netns-sysctl':
      m.net.writeSysctl(step.ns, step.key, step.value, step.ignoreUnknown);
      return;
    case 'route-to':
      m.net.addRoute(step.ns, { ...routeTo(step), gateway: step.via }, command);
      return;
    case 'overlay-mount':
      m.mounts.overlay(step.target, step.lower, step.upper, step.work);
      return;
    case 'bind-mount':
      m.mounts.bind(step.source, path.join(step.root, step.path));
      return;
    case 'fs-mount':
      m.mounts.filesystem(step.fstype, path.join(step.root, step.path), [...step.flags, step.options].join(','));
      return;
    case 'unmount':
      m.mounts.unmountTree(step.target);
      return;
    case 'nft':
      runNft(m, step.script);
      return;
    case 'xtables-restore':
      restoreXtables(m, step, step.rules);
      return;
    case 'ebtables-ports':
      ebtablesPorts(m, step, step.op);
      return;
    case 'iptables-rules':
      iptablesRules(m, step, step.op);
      return;
    default:
      return unknownKind(step);
  }
}

export function undoStep(m: Machine, step: Step): void {
  const ns = 'ns' in step ? step.ns : undefined;
  if (ns !== undefined && !m.net.has(ns)) return; // the namespace went, and all it held with it
  switch (step.kind) {
    case 'netns-add':
      m.net.deleteNetns(step.name);
      return;
    case 'bridge-add':
      m.net.deleteLink(undefined, step.name);
      return;
    case 'veth-add':
      // Deleting one end of a veth pair deletes both, wherever the peer lives.
      m.net.deleteLink(undefined, step.hostIf);
      return;
    case 'macvlan-add':
    case 'ipvlan-add':
    case 'veth-p2p': // the other end of a point-to-point link goes with this one
      m.net.deleteLink(step.ns, step.name);
      return;
    case 'dummy-add':
      m.net.deleteLink(undefined, step.name);
      return;
    case 'route-dev':
      if (m.net.link(step.ns, step.dev) !== undefined) ignoring([ESRCH], () => m.net.delRoute(step.ns, { gateway: undefined, dev: step.dev }));
      return;
    case 'port-hairpin': // a port that is gone took its setting with it
      if (m.net.link(undefined, step.dev)?.master !== undefined) m.net.setHairpin(step.dev, !step.on, renderStep({ ...step, on: !step.on }));
      return;
    case 'addr-add':
      if (m.net.link(step.ns, step.dev) !== undefined) ignoring([EADDRNOTAVAIL], () => m.net.delAddr(step.ns, step.dev, step.address, step.prefixLen));
      return;
    case 'route-add':
      if (m.net.link(step.ns, step.dev) !== undefined) ignoring([ESRCH], () => m.net.delRoute(step.ns, { gateway: step.via, dev: step.dev }));
      return;
    case 'link-up':
      if (m.net.link(step.ns, step.dev) !== undefined) m.net.setUp(step.ns, step.dev, false);
      return;
    case 'link-state':
      if (m.net.link(step.ns, step.dev) !== undefined) m.net.setUp(step.ns, step.dev, !step.up);
      return;
    case 'qdisc-netem':
    case 'qdisc-clear': // a link that is gone took its qdiscs with it
      if (m.net.link(step.ns, step.dev) !== undefined) m.net.setImpairment(step.ns, step.dev, step.previous ?? {});
      return;
    case 'overlay-mount':
      m.mounts.unmountTree(step.target);
      return;
    case 'bind-mount':
      m.mounts.unmountTree(path.join(step.root, step.path));
      return;
    case 'fs-mount':
      m.mounts.unmountTree(path.join(step.root, step.path));
      return;
    case 'unmount': // a teardown step: nothing to restore
      return;
    case 'nft':
      runNft(m, step.undoScript);
      return;
    case 'xtables-restore':
      restoreXtables(m, step, step.undoRules);
      return;
    case 'ebtables-ports':
      ebtablesPorts(m, step, step.op === 'add' ? 'remove' : 'add');
      return;
    case 'iptables-rules':
      iptablesRules(m, step, step.op === 'add' ? 'remove' : 'add');
      return;
    case 'route-to':
      ignoring([ESRCH], () => m.net.delRoute(step.ns, { ...routeTo(step), gateway: step.via }));
      return;
    case 'netns-sysctl': // a setting of the namespace: it goes with it
      return;
    case 'sysctl': // ip_forward is host-wide and never turned back off (Docker leaves it on too), unless the step says what was there
      if (step.undoValue !== undefined) m.net.writeSysctl(undefined, step.key, step.undoValue, step.ignoreUnknown);
      return;
    case 'link-del': // teardown steps: nothing to restore
    case 'netns-del':
      return;
    default:
      return unknownKind(step);
  }
}

/** A step kind added to src/plan/steps.ts must be modelled here: this stops compiling until it is. */
function unknownKind(step: never): never {
  throw new Error(`fake host: step kind not modelled: ${JSON.stringify(step)}`);
}

function routeTo(step: Of<'route-to'>): { dst?: string; dstLen?: number } {
  if (step.dst === 'default') return {};
  const [dst = '', len = step.via.includes(':') ? '128' : '32'] = step.dst.split('/');
  return { dst, dstLen: Number(len) };
}

function runNft(m: Machine, script: string): void {
  if (!m.toolUsable('nft')) {
    throw new NsnetError('FIREWALL', 'apply nftables script: cannot run nft: spawnSync nft ENOENT', { hint: 'install nftables (apt-get install nftables)' });
  }
  m.nft.run(script);
}

/** `TOOL-save -t TABLE`, failing as the real one does when the tool is not there. */
function save(m: Machine, tool: XtablesTool, table: string) {
  if (!m.toolUsable(tool)) throw new NsnetError('FIREWALL', `${tool}-save -t ${table}: spawnSync ${tool}-save ENOENT`);
  return m.xt.save(tool, table);
}

function restoreXtables(m: Machine, step: Of<'xtables-restore'>, rules: readonly string[] | null): void {
  const target = { tool: step.tool, table: step.table, chains: step.chains, jumps: step.jumps, rules };
  m.xt.restore(step.tool, restoreScript(target, save(m, step.tool, step.table)));
}

function ebtablesPorts(m: Machine, step: Of<'ebtables-ports'>, op: 'add' | 'remove'): void {
  const base: XtablesChains = { tool: 'ebtables', table: step.table, chains: step.chains, jumps: step.jumps };
  const script = portScript(base, step.baseRules, save(m, 'ebtables', step.table), step.ifaces, op === 'add' ? step.rules : []);
  m.xt.restore('ebtables', script);
}

function iptablesRules(m: Machine, step: Of<'iptables-rules'>, op: 'add' | 'remove'): void {
  const base: XtablesChains = { tool: step.tool ?? 'iptables', table: step.table, chains: step.chains, jumps: step.jumps };
  const script = keyedScript(base, [], save(m, 'iptables', step.table), ruleComment, step.keys, op === 'add' ? step.rules : []);
  m.xt.restore('iptables', script);
}

