import fs from 'node:fs';
import path from 'node:path';
import { KernelError, NsnetError } from '../core/errors.js';
import type { Netem } from '../core/netem.js';
import type { Rtnl } from '../kernel/api.js';
import { openRtnl } from '../kernel/netlink/rtnl.js';
import { createNetns, deleteNetns, netnsExists, openNetnsFd, openRtnlIn, withNetns } from '../kernel/netns.js';
import { runNft } from '../kernel/nft.js';
import { applyCommentedRules, applyPortRules, applyXtables } from '../kernel/xtables.js';
import { EADDRNOTAVAIL, ENOENT, EOPNOTSUPP, ESRCH, EXFULL, sleepSync } from '../kernel/libc.js';
import { writeSysctl } from '../kernel/sysctl.js';
import { bindFileIn, mountFilesystemIn, mountOverlay, unmountTree } from '../kernel/mounts.js';
import { renderStep } from './render.js';
import type { StepRunner } from './runner.js';
import type { Step } from './steps.js';

const HOST = '';

function applyEbtablesPorts(step: Extract<Step, { kind: 'ebtables-ports' }>, op: 'add' | 'remove'): void {
  const base = { tool: 'ebtables' as const, table: step.table, chains: step.chains, jumps: step.jumps };
  applyPortRules(base, step.baseRules, step.ifaces, op === 'add' ? step.rules : []);
}

function applyIptablesRules(step: Extract<Step, { kind: 'iptables-rules' }>, op: 'add' | 'remove'): void {
  const base = { tool: step.tool ?? 'iptables', table: step.table, chains: step.chains, jumps: step.jumps };
  applyCommentedRules(base, step.keys, op === 'add' ? step.rules : []);
}

/**
 * Applies steps over rtnetlink, in-process: one netlink socket for the host and one per container
 * namespace (opened once, reused for every step in that namespace), no child process per step.
 */
export class KernelRunner implements StepRunner {
  private readonly sockets = new Map<string, Rtnl>();
  /**
   * Link indexes by namespace and name, as looked up for this runner's steps: a container's eth0
   * is named by its link-up, address and route steps alike, and each lookup is a netlink round
   * trip. Dropped whenever a step deletes links (and for every undo), so a name is never taken
   * for a link that has gone.
   */
  private readonly indexes = new Map<string, number>();

  apply(step: Step): void {
    if (step.kind === 'link-del' || step.kind === 'netns-del') this.indexes.clear();
    switch (step.kind) {
      case 'netns-add':
        createNetns(step.name);
        return;
      case 'netns-del':
        this.forget(step.name);
        deleteNetns(step.name);
        this.awaitGone(step.hostIfs ?? []);
        return;
      case 'bridge-add': {
        const opts = { name: step.name, mac: step.mac, up: false };
        this.rtnl().createBridge(step.mtu === undefined ? opts : { ...opts, mtu: step.mtu });
        return;
      }
      case 'link-up':
        this.rtnl(step.ns).setLinkUp(this.index(step.ns, step.dev), true);
        return;
      case 'link-del':
        this.rtnl(step.ns).deleteLink(step.dev);
        return;
      case 'veth-add': {
        const host = this.rtnl();
        const masterIndex = this.index(undefined, step.master);
        const fd = openNetnsFd(step.peerNs);
        try {
          bridgeRoomFor(step.master, () => host.createVeth({
            hostName: step.hostIf,
            peerName: step.peerIf,
            peerNetnsFd: fd,
            masterIndex,
            up: true,
            peerMac: step.peerMac,
            ...(step.mtu === undefined ? {} : { mtu: step.mtu }),
          }));
        } finally {
          fs.closeSync(fd);
        }
        return;
      }
      case 'veth-p2p':
        this.createP2p(step);
        return;
      case 'macvlan-add':
      case 'ipvlan-add':
        this.createOnParent(step);
        return;
      case 'dummy-add':
        withDriverHint('dummy', () => this.rtnl().createLowerLink({ name: step.name, kind: 'dummy' }));
        return;
      case 'route-dev':
        this.rtnl(step.ns).addRoute({ oif: this.index(step.ns, step.dev) });
        return;
      case 'port-hairpin':
        this.rtnl().setHairpin(this.index(undefined, step.dev), step.on);
        return;
      case 'qdisc-netem':
        this.impair(step.ns, step.dev, step.netem, step.previous);
        return;
      case 'qdisc-clear':
        this.impair(step.ns, step.dev, {}, step.previous);
        return;
      case 'link-state':
        this.rtnl(step.ns).setLinkUp(this.index(step.ns, step.dev), step.up);
        return;
      case 'addr-add':
        this.rtnl(step.ns).addAddr(this.index(step.ns, step.dev), step.address, step.prefixLen, { nodad: true });
        return;
      case 'route-add':
        this.rtnl(step.ns).addRoute({ gateway: step.via, oif: this.index(step.ns, step.dev) });
        return;
      case 'sysctl':
        writeKnownSysctl(step);
        return;
      case 'netns-sysctl':
        withNetns(step.ns, () => writeKnownSysctl(step));
        return;
      case 'route-to':
        this.rtnl(step.ns).addRoute(routeTo(step));
        return;
      case 'overlay-mount':
        mountOverlay(step.target, step.lower, step.upper, step.work, renderStep(step), step.workingDir);
        return;
      case 'bind-mount':
        bindFileIn(step.source, step.root, step.path, renderStep(step));
        return;
      case 'fs-mount':
        mountFilesystemIn(step.fstype, step.root, step.path, step.flags, step.options, renderStep(step));
        return;
      case 'unmount':
        unmountTree(step.target, renderStep(step));
        return;
      case 'nft':
        runNft(step.script);
        return;
      case 'xtables-restore':
        applyXtables({ tool: step.tool, table: step.table, chains: step.chains, jumps: step.jumps, rules: step.rules });
        return;
      case 'ebtables-ports':
        applyEbtablesPorts(step, step.op);
        return;
      case 'iptables-rules':
        applyIptablesRules(step, step.op);
        return;
    }
  }

  /**
   * Undo one step. Idempotent: what is already gone (the link, the address, the route, the whole
   * namespace the step acted in) counts as undone, so crash recovery can undo every step of an
   * interrupted operation without knowing how far it got.
   */
  undo(step: Step): void {
    this.indexes.clear();
    const ns = 'ns' in step ? step.ns : undefined;
    if (ns !== undefined && !netnsExists(ns)) {
      this.forget(ns);
      return; // the namespace went, and all it held with it
    }
    switch (step.kind) {
      case 'netns-add':
        this.forget(step.name);
        deleteNetns(step.name);
        return;
      case 'bridge-add':
        this.rtnl().deleteLink(step.name);
        return;
      case 'veth-add':
        // Deleting one end of a veth pair deletes both, wherever the peer lives.
        this.rtnl().deleteLink(step.hostIf);
        return;
      case 'macvlan-add':
      case 'ipvlan-add':
      case 'veth-p2p':
        // A point-to-point link's other end goes with this one (or went with its namespace).
        this.rtnl(step.ns).deleteLink(step.name);
        return;
      case 'dummy-add':
        this.rtnl().deleteLink(step.name);
        return;
      case 'route-dev': {
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) ignoring([ESRCH], () => this.rtnl(step.ns).delRoute({ oif: link.index }));
        return;
      }
      case 'port-hairpin': {
        // A port that is gone took its setting with it.
        const link = this.rtnl().getLink(step.dev);
        if (link !== undefined) this.rtnl().setHairpin(link.index, !step.on);
        return;
      }
      case 'addr-add': {
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) ignoring([EADDRNOTAVAIL], () => this.rtnl(step.ns).delAddr(link.index, step.address, step.prefixLen));
        return;
      }
      case 'route-add': {
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) ignoring([ESRCH], () => this.rtnl(step.ns).delRoute({ gateway: step.via, oif: link.index }));
        return;
      }
      case 'link-up': {
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) this.rtnl(step.ns).setLinkUp(link.index, false);
        return;
      }
      case 'link-state': {
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) this.rtnl(step.ns).setLinkUp(link.index, !step.up);
        return;
      }
      case 'qdisc-netem':
      case 'qdisc-clear': {
        // An interface that is gone took its qdiscs with it.
        const link = this.rtnl(step.ns).getLink(step.dev);
        if (link !== undefined) this.rtnl(step.ns).setImpairment(link.index, step.previous ?? {}, step.dev);
        return;
      }
      case 'overlay-mount':
        unmountTree(step.target);
        return;
      case 'bind-mount':
        unmountTree(path.join(step.root, step.path));
        return;
      case 'fs-mount':
        unmountTree(path.join(step.root, step.path));
        return;
      case 'unmount':
        return; // a teardown step: nothing to restore
      case 'nft':
        runNft(step.undoScript);
        return;
      case 'xtables-restore':
        applyXtables({ tool: step.tool, table: step.table, chains: step.chains, jumps: step.jumps, rules: step.undoRules });
        return;
      case 'ebtables-ports':
        applyEbtablesPorts(step, step.op === 'add' ? 'remove' : 'add');
        return;
      case 'iptables-rules':
        applyIptablesRules(step, step.op === 'add' ? 'remove' : 'add');
        return;
      case 'route-to':
        ignoring([ESRCH], () => this.rtnl(step.ns).delRoute(routeTo(step)));
        return;
      case 'netns-sysctl':
        // A setting of the namespace, or of an interface in it (IPv6 off on eth0): it goes with
        // the namespace, or with the interface when the veth step before it is undone.
        return;
      case 'sysctl':
        // ip_forward is host-wide: other networks (and other tools) may depend on it, so it is
        // never turned back off (Docker leaves it on as well). A per-bridge key (route_localnet,
        // disable_ipv6) goes with the bridge when the bridge step before it is undone. A step
        // that says what was there before (the host's IPv6 settings) puts it back.
        if (step.undoValue !== undefined) writeKnownSysctl({ ...step, value: step.undoValue });
        return;
      case 'link-del':
      case 'netns-del':
        return; // teardown steps: nothing to restore
    }
  }

  close(): void {
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  /**
   * Close the sockets opened inside container namespaces once a plan is done with them: each one
   * holds its namespace alive and an fd in a table every later fork copies, so a long-lived
   * process creating many containers would otherwise slow down as it goes.
   */
  releaseNamespaces(): void {
    for (const [ns, socket] of this.sockets) {
      if (ns === HOST) continue;
      socket.close();
      this.sockets.delete(ns);
    }
  }

  private rtnl(ns?: string): Rtnl {
    const key = ns ?? HOST;
    const open = this.sockets.get(key);
    if (open !== undefined) return open;
    const socket = ns === undefined ? openRtnl() : openRtnlIn(ns);
    this.sockets.set(key, socket);
    return socket;
  }

  /**
   * A veth pair with both ends made directly inside two namespaces, in one request from the host's
   * socket (IFLA_NET_NS_FD for the first end, and again inside VETH_INFO_PEER for the other), as
   * `ip link add NAME netns A type veth peer name PEER netns B` does: never a moment with an end
   * in the host under a name that could clash.
   */
  private createP2p(step: Extract<Step, { kind: 'veth-p2p' }>): void {
    const fd = openNetnsFd(step.ns);
    try {
      const peerFd = openNetnsFd(step.peerNs);
      try {
        this.rtnl().createVeth({ hostName: step.name, netnsFd: fd, netnsName: step.ns, peerName: step.peerName, peerNetnsFd: peerFd, peerNetnsName: step.peerNs });
      } finally {
        fs.closeSync(peerFd);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A macvlan/ipvlan over the host's parent link, made directly inside the container's namespace. */
  private createOnParent(step: Extract<Step, { kind: 'macvlan-add' | 'ipvlan-add' }>): void {
    const parent = this.rtnl().getLink(step.parent);
    if (parent === undefined) {
      throw new NsnetError('KERNEL', `parent link ${step.parent} not found on the host`, { hint: 'the network\'s -o parent= interface must exist' });
    }
    const fd = openNetnsFd(step.ns);
    try {
      withDriverHint(step.kind === 'macvlan-add' ? 'macvlan' : 'ipvlan', () => this.rtnl().createLowerLink({
        name: step.name,
        kind: step.kind === 'macvlan-add' ? 'macvlan' : 'ipvlan',
        lowerIndex: parent.index,
        lowerName: step.parent,
        netnsFd: fd,
        netnsName: step.ns,
        ...(step.kind === 'macvlan-add' ? { mac: step.mac } : { ipvlanMode: step.mode }),
        ...(step.mtu === undefined ? {} : { mtu: step.mtu }),
      }));
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Replace an interface's impairment. When the new one cannot be made (a kernel without netem),
   * the old one is put back before the error goes up: a failed step changes nothing, as the
   * executor expects of every step.
   */
  private impair(ns: string, dev: string, netem: Netem, previous: Netem | undefined): void {
    const rtnl = this.rtnl(ns);
    const index = this.index(ns, dev);
    try {
      rtnl.setImpairment(index, netem, dev);
    } catch (err) {
      try {
        rtnl.setImpairment(index, previous ?? {}, dev);
      } catch {
        /* the error that matters is the first one */
      }
      throw err;
    }
  }

  private index(ns: string | undefined, dev: string): number {
    const key = `${ns ?? HOST}\0${dev}`;
    const known = this.indexes.get(key);
    if (known !== undefined) return known;
    const link = this.rtnl(ns).getLink(dev);
    if (link === undefined) {
      throw new NsnetError('KERNEL', `link ${dev} not found${ns === undefined ? '' : ` in ${ns}`}`);
    }
    this.indexes.set(key, link.index);
    return link.index;
  }

  /**
   * Wait for links to disappear; delete any still there after the grace period (something
   * else, such as a process nsnet did not start, may be keeping the namespace alive).
   */
  private awaitGone(names: readonly string[], graceMs = 1000): void {
    const host = this.rtnl();
    const deadline = Date.now() + graceMs;
    let left = names.filter((n) => host.getLink(n) !== undefined);
    while (left.length > 0 && Date.now() < deadline) {
      sleepSync(1);
      left = left.filter((n) => host.getLink(n) !== undefined);
    }
    for (const name of left) host.deleteLink(name);
  }

  private forget(ns: string): void {
    this.indexes.clear();
    this.sockets.get(ns)?.close();
    this.sockets.delete(ns);
  }
}

/** Write a sysctl; with `ignoreUnknown` (sysctl -e) a key the kernel does not have is no error. */
function writeKnownSysctl(step: { key: string; value: string; ignoreUnknown?: boolean | undefined }): void {
  if (step.ignoreUnknown === true) ignoring([ENOENT], () => writeSysctl(step.key, step.value));
  else writeSysctl(step.key, step.value);
}

/** `10.2.0.0/24 via 10.1.0.254` (or default, or IPv6: the family is the gateway's) as netlink route options. */
function routeTo(step: Extract<Step, { kind: 'route-to' }>): { dst?: string; dstLen?: number; gateway: string } {
  if (step.dst === 'default') return { gateway: step.via };
  const [dst = '', len = step.via.includes(':') ? '128' : '32'] = step.dst.split('/');
  return { dst, dstLen: Number(len), gateway: step.via };
}

/**
 * A link type the kernel was built without answers EOPNOTSUPP ("Unknown device type"): say which
 * kernel option it takes (CONFIG_MACVLAN, CONFIG_IPVLAN, CONFIG_DUMMY; or the module to load).
 */
function withDriverHint(kind: 'macvlan' | 'ipvlan' | 'dummy', fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof KernelError && err.errno === EOPNOTSUPP) {
      throw new NsnetError('KERNEL', `${err.message}: this kernel has no ${kind} links`, {
        hint: `load the ${kind} module (modprobe ${kind}) or use a kernel built with CONFIG_${kind.toUpperCase()}`,
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * A Linux bridge has at most 1023 ports (BR_MAX_PORTS 1024, port 0 reserved): the next port is
 * refused with EXFULL, which says nothing to a user. Say that the network is full, and what to do.
 */
export function bridgeRoomFor(bridge: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof KernelError && err.errno === EXFULL) {
      throw new NsnetError('KERNEL', `bridge ${bridge} has no free port: a Linux bridge takes at most 1023 ports, one per container on its network`, {
        hint: 'put further containers on another network (nsnet network create), or remove containers from this one',
        cause: err,
      });
    }
    throw err;
  }
}

/** Run fn; these errnos mean "already gone" and count as success. */
export function ignoring(errnos: readonly number[], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof KernelError && errnos.includes(err.errno)) return;
    throw err;
  }
}
