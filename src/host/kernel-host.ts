/**
 * The real host: the Host port implemented by src/kernel. Netlink sockets are opened per
 * question and closed straight after (a question is a dump or a single request: cheap), so a
 * KernelHost holds nothing and needs no closing.
 */
import type { Rtnl } from '../kernel/api.js';
import { nsnetCli, spawnNodeDaemon } from '../kernel/daemon.js';
import { iptablesAvailable, iptablesChainExists, iptablesForwardDrops } from '../kernel/iptables.js';
import { sleepSync } from '../kernel/libc.js';
import { acquireLock } from '../kernel/lock.js';
import { openRtnl } from '../kernel/netlink/rtnl.js';
import { createNetns, deleteNetns, isMountedNetns, netnsExists, netnsIdentity, openRtnlIn, withNetns } from '../kernel/netns.js';
import { killNetnsProcesses } from '../kernel/netns-procs.js';
import { listNftTable, nftBackend, nftOutput, nftUsable, runNft } from '../kernel/nft.js';
import { launchMonitored } from '../kernel/monitor.js';
import { execInContainer, isAlive, launchForeground, readStartTime, sendSignal, stopProcess, withLivenessSnapshot, type FatalReport } from '../kernel/process.js';
import { ephemeralPortRange, hostListeners, socketHolder } from '../kernel/sockets.js';
import { readSysctl } from '../kernel/sysctl.js';
import { onPath } from '../kernel/which.js';
import { mountsUnder } from '../kernel/mounts.js';
import { ebtablesSupport } from '../kernel/xtables.js';
import type { Host, LaunchSpec, MonitorOptions } from './port.js';

function withRtnl<T>(ns: string | undefined, fn: (r: Rtnl) => T): T {
  const r = ns === undefined ? openRtnl() : openRtnlIn(ns);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

function readSysctlIn(key: string, ns: string | undefined): string | undefined {
  const read = (): string | undefined => {
    try {
      return readSysctl(key);
    } catch {
      return undefined;
    }
  };
  return ns === undefined ? read() : withNetns(ns, read);
}

export class KernelHost implements Host {
  /** onFatal: where to say why nsnet stops when it cannot leave a container's namespaces (see kernel/process.ts). */
  constructor(private readonly opts: { onFatal?: FatalReport } = {}) {}
  private fatal: FatalReport = (message) => this.opts.onFatal?.(message);

  link = (name: string, ns?: string) => withRtnl(ns, (r) => r.getLink(name));
  links = (ns?: string) => withRtnl(ns, (r) => r.listLinks());
  addresses = (ns?: string, family?: 4 | 6) => withRtnl(ns, (r) => r.listAddrs(family));
  routes = (ns?: string, family?: 4 | 6) => withRtnl(ns, (r) => r.listRoutes(family));
  netnsExists = (ns: string) => netnsExists(ns);
  isMountedNetns = (name: string) => isMountedNetns(name);
  netnsIdentity = (ns?: string) => netnsIdentity(ns);
  sysctl = (key: string, ns?: string) => readSysctlIn(key, ns);
  mountsUnder = (dir: string) => mountsUnder(dir);
  impairment = (dev: string, ns?: string) =>
    withRtnl(ns, (r) => {
      const link = r.getLink(dev);
      return link === undefined ? undefined : r.getImpairment(link.index);
    });

  startTime = (pid: number) => readStartTime(pid);
  isAlive = (pid: number, startTime: string) => isAlive(pid, startTime);
  livenessSnapshot = <T>(fn: () => T): T => withLivenessSnapshot(fn);
  listeners = () => hostListeners();
  socketHolder = (inode: number) => socketHolder(inode);
  ephemeralPortRange = () => ephemeralPortRange();

  nftUsable = () => nftUsable();
  nftBackend = () => nftBackend();
  nftTable = (family: string, name: string) => listNftTable(family, name);
  nftOutput = (args: string[]) => nftOutput(args);
  iptablesAvailable = () => iptablesAvailable();
  iptablesChainExists = (table: string, chain: string, family: 4 | 6 = 4) => iptablesChainExists(table, chain, family);
  iptablesForwardDrops = (family: 4 | 6 = 4) => iptablesForwardDrops(family);
  ebtablesSupport = () => ebtablesSupport();
  onPath = (cmd: string) => onPath(cmd);

  launchDetached = (spec: LaunchSpec, logPath: string, monitor: MonitorOptions) => launchMonitored(spec, logPath, monitor, this.fatal);
  launchForeground = (spec: LaunchSpec) => launchForeground(spec, this.fatal);
  execInContainer = execInContainer;
  stopProcess = stopProcess;
  sendSignal = sendSignal;
  killNetnsProcesses = (ns: string) => killNetnsProcesses(ns);
  spawnDaemon = spawnNodeDaemon;
  nsnetCli = () => nsnetCli();
  sleep = (ms: number) => sleepSync(ms);

  acquire = acquireLock;

  renderNftTables(scripts: readonly string[], tables: ReadonlyArray<{ family: string; name: string }>): string {
    const scratch = `nsnet-check-${process.pid}`;
    createNetns(scratch);
    try {
      return withNetns(scratch, () => {
        for (const s of scripts) runNft(s);
        return tables
          .map((t) => listNftTable(t.family, t.name)?.trim() ?? '')
          .filter((t) => t !== '')
          .join('\n');
      });
    } finally {
      deleteNetns(scratch);
    }
  }
}
