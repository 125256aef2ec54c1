import { impairmentCommands, type Netem } from '../core/netem.js';
import { shellQuote } from '../core/quote.js';
import type { Step, XtablesJump, XtablesTool } from './steps.js';

/**
 * `ip` prefix for a step that runs in a namespace: `ip -n red ...` is `ip netns exec red ip ...`;
 * a runtime's namespace given by path (CNI) is entered with nsenter.
 */
const ip = (ns: string | undefined): string =>
  ns === undefined ? 'ip' : ns.startsWith('/') ? `nsenter --net=${shellQuote(ns)} ip` : `ip -n ${ns}`;

/**
 * The by-hand command for one step: exactly what a person would type to make the same change,
 * and what the kernel layer sends as one netlink message (or one nft transaction).
 */
export function renderStep(step: Step): string {
  switch (step.kind) {
    case 'netns-add':
      return `ip netns add ${step.name}`;
    case 'netns-del':
      return `ip netns del ${step.name}`;
    case 'bridge-add':
      return `ip link add ${step.name} address ${step.mac}${mtu(step.mtu)} type bridge`;
    case 'link-up':
      return `${ip(step.ns)} link set ${step.dev} up`;
    case 'link-del':
      return `${ip(step.ns)} link del ${step.dev}`;
    case 'veth-add':
      if (step.peerNs.startsWith('/')) {
        // `ip link ... netns` takes a name or a PID, not a path: make the pair inside the
        // runtime's namespace and send the host end to the namespace of this script ($$).
        return (
          `${ip(step.peerNs)} link add ${step.peerIf} address ${step.peerMac}${mtu(step.mtu)} type veth ` +
          `peer name ${step.hostIf}${mtu(step.mtu)} netns $$\n` +
          `ip link set ${step.hostIf} master ${step.master} up`
        );
      }
      return (
        `ip link add ${step.hostIf}${mtu(step.mtu)} master ${step.master} up type veth ` +
        `peer name ${step.peerIf} netns ${step.peerNs} address ${step.peerMac}`
      );
    case 'veth-p2p':
      return `ip link add ${step.name} netns ${step.ns} type veth peer name ${step.peerName} netns ${step.peerNs}`;
    case 'macvlan-add':
      return `ip link add link ${step.parent} name ${step.name} netns ${step.ns}${mtu(step.mtu)} address ${step.mac} type macvlan mode bridge`;
    case 'ipvlan-add':
      return `ip link add link ${step.parent} name ${step.name} netns ${step.ns}${mtu(step.mtu)} type ipvlan mode ${step.mode}`;
    case 'dummy-add':
      return `ip link add ${step.name} type dummy`;
    case 'port-hairpin':
      return `bridge link set dev ${step.dev} hairpin ${step.on ? 'on' : 'off'}`;
    case 'qdisc-netem':
      return renderImpairment(step.ns, step.dev, step.netem, step.previous);
    case 'qdisc-clear':
      return `${netnsExec(step.ns)} tc qdisc del dev ${step.dev} root`;
    case 'link-state':
      return `${ip(step.ns)} link set ${step.dev} ${step.up ? 'up' : 'down'}`;
    case 'addr-add':
      return step.address.includes(':')
        ? `${ip(step.ns)} -6 addr add ${step.address}/${step.prefixLen} dev ${step.dev} nodad`
        : `${ip(step.ns)} addr add ${step.address}/${step.prefixLen} brd + dev ${step.dev}`;
    case 'route-add':
      return `${ip(step.ns)}${step.via.includes(':') ? ' -6' : ''} route add default via ${step.via} dev ${step.dev}`;
    case 'route-dev':
      return `${ip(step.ns)} route add default dev ${step.dev}`;
    case 'sysctl':
      return sysctl(step);
    case 'netns-sysctl':
      return `${netnsExec(step.ns)} ${sysctl(step)}`;
    case 'route-to':
      return `${ip(step.ns)}${step.via.includes(':') ? ' -6' : ''} route add ${step.dst} via ${step.via}`;
    case 'overlay-mount':
      return renderOverlayMount(step);
    case 'bind-mount': {
      const target = shellQuote(`${step.root.replace(/\/+$/, '')}/${step.path}`);
      return `touch ${target} && mount --bind ${shellQuote(step.source)} ${target}`;
    }
    case 'fs-mount': {
      const target = shellQuote(`${step.root.replace(/\/+$/, '')}/${step.path}`);
      // mount(8)'s source names what Docker's mounts show in /proc/mounts.
      return `mkdir -p ${target} && mount -t ${step.fstype} -o ${shellQuote([...step.flags, step.options].join(','))} ${step.fstype === 'tmpfs' ? 'shm' : 'devpts'} ${target}`;
    }
    case 'unmount':
      return `umount --lazy ${shellQuote(step.target)}`;
    case 'nft':
      return `nft -f - <<'EOF'\n${step.script.trimEnd()}\nEOF`;
    case 'xtables-restore':
      return renderXtablesRestore(step.tool, step.table, step.chains, step.jumps, step.rules);
    case 'ebtables-ports':
      return renderEbtablesPorts(step.op, step.table, step.rules);
    case 'iptables-rules':
      return renderIptablesRules(step.op, step.table, step.rules, step.tool ?? 'iptables');
  }
}

/** `iptables -w -t nat` / `ip6tables -w` / `ebtables -t filter`: the tool as a person would call it on that table. */
function tool(name: XtablesTool, table: string): string {
  if (name === 'ebtables') return `ebtables -t ${table}`;
  return table === 'filter' ? `${name} -w` : `${name} -w -t ${table}`;
}

function renderXtablesRestore(
  name: XtablesTool,
  table: string,
  chains: readonly string[],
  jumps: readonly XtablesJump[],
  rules: readonly string[] | null,
): string {
  const t = tool(name, table);
  const ip = name !== 'ebtables'; // iptables and ip6tables share one restore format
  const restore = ip ? `${name}-restore -w --noflush` : 'ebtables-restore --noflush';
  const declare = (c: string): string => (ip ? `:${c} - [0:0]` : `:${c} RETURN`);
  const commit = ip ? ['COMMIT'] : [];
  if (rules === null) {
    return [
      ...jumps.map((j) => `while ${t} -D ${j.from}${j.match === undefined ? '' : ` ${j.match}`} -j ${j.to} 2>/dev/null; do :; done`),
      `${restore} <<'EOF'`,
      `*${table}`,
      ...chains.map(declare),
      ...chains.map((c) => `-X ${c}`),
      ...commit,
      'EOF',
    ].join('\n');
  }
  // iptables -C checks for a rule; ebtables has no check (its -C changes counters), so grep the save.
  const m = (j: XtablesJump): string => (j.match === undefined ? '' : ` ${j.match}`);
  const ensure = (j: XtablesJump): string =>
    ip
      ? `${t} -C ${j.from}${m(j)} -j ${j.to} 2>/dev/null || ${t} -I ${j.from} 1${m(j)} -j ${j.to}`
      : `ebtables-save -t ${table} | grep -qxF -- '-A ${j.from}${m(j)} -j ${j.to}' || ${t} -I ${j.from} 1${m(j)} -j ${j.to}`;
  return [`${restore} <<'EOF'`, `*${table}`, ...chains.map(declare), ...rules, ...commit, 'EOF', ...jumps.map(ensure)].join('\n');
}

function renderEbtablesPorts(op: 'add' | 'remove', table: string, rules: readonly string[]): string {
  const t = tool('ebtables', table);
  if (op === 'add') return rules.map((r) => `${t} ${r}`).join('\n');
  return rules.map((r) => `${t} -D ${r.replace(/^-A /, '')} 2>/dev/null || true`).join('\n');
}

function renderIptablesRules(op: 'add' | 'remove', table: string, rules: readonly string[], name: 'iptables' | 'ip6tables'): string {
  const t = tool(name, table);
  if (op === 'add') return rules.map((r) => `${t} ${r}`).join('\n');
  return rules.map((r) => `${t} -D ${r.replace(/^-A /, '')} 2>/dev/null || true`).join('\n');
}

/** `sysctl -w KEY=VALUE`; `-e` ignores a key the kernel does not have, as the step does. */
const sysctl = (step: { key: string; value: string; ignoreUnknown?: boolean | undefined }): string =>
  `sysctl ${step.ignoreUnknown === true ? '-e ' : ''}-w ${step.key}=${step.value}`;

/** Run a command in a namespace: by name with `ip netns exec`, a runtime's (a path) with nsenter. */
const netnsExec = (ns: string): string => (ns.startsWith('/') ? `nsenter --net=${shellQuote(ns)}` : `ip netns exec ${ns}`);

/**
 * An impairment as tc commands: the parameters changed in place when the qdiscs stay the same
 * kinds, else the root qdisc (and tbf's netem child) added after deleting the one there was —
 * what the kernel runner sends (on an interface that had none there is nothing to delete).
 */
function renderImpairment(ns: string, dev: string, netem: Netem, previous: Netem | undefined): string {
  return impairmentCommands(dev, netem, previous).map((c) => `${netnsExec(ns)} tc qdisc ${c}`).join('\n');
}

/** The device files the overlay-mount step makes in a container's /dev (kernel/mounts.ts DEVICES). */
const ROOTFS_DEVICES = ['null c 1 3', 'zero c 1 5', 'full c 1 7', 'random c 1 8', 'urandom c 1 9', 'tty c 5 0'];

/** The overlay's directories made first; the mount points /proc, /dev and /etc inside it after, and /dev's device files. */
function renderOverlayMount(step: Extract<Step, { kind: 'overlay-mount' }>): string {
  const options = `lowerdir=${step.lower.join(':')},upperdir=${step.upper},workdir=${step.work}`;
  const t = shellQuote(step.target);
  return [
    `mkdir -p ${shellQuote(step.upper)} ${shellQuote(step.work)} ${t}`,
    `mount -t overlay overlay -o ${shellQuote(options)} ${t}`,
    `mkdir -p ${t}/proc ${t}/dev ${t}/etc`,
    ...ROOTFS_DEVICES.map((d) => `mknod -m 666 ${t}/dev/${d}`),
    `ln -sfn pts/ptmx ${t}/dev/ptmx`,
    // The WorkingDir as the container sees it: nsnet follows a link in it inside the root only.
    ...(step.workingDir === undefined ? [] : [`mkdir -p -m 755 ${shellQuote(`${step.target.replace(/\/+$/, '')}${step.workingDir}`)}`]),
  ].join(' && ');
}

const mtu = (value: number | undefined): string => (value === undefined ? '' : ` mtu ${value}`);

export function renderPlan(steps: readonly Step[]): string {
  return steps.map(renderStep).join('\n');
}
