/**
 * Typed steps: the unit of every state change. The engine decides which steps a command needs
 * (pure data); the executor applies them in order against the kernel and undoes the applied ones
 * in reverse when a later one fails; the renderer prints each as the by-hand command a person
 * would type (`--dry-run`). A step with `ns` acts inside that named network namespace.
 */
import type { Netem } from '../core/netem.js';
import type { XtablesChains, XtablesJump, XtablesTool } from '../kernel/xtables.js';

/** The xtables vocabulary of the steps, declared once by the code that writes it (kernel/xtables.ts). */
export type { XtablesChains, XtablesJump, XtablesTool };

/** ipvlan's modes nsnet offers: l2 (the parent switches frames) and l3 (the parent routes). */
export type IpvlanMode = 'l2' | 'l3';

/** mount(2) flags a step may ask for, by their mount(8) names. */
export type MountFlag = 'nosuid' | 'nodev' | 'noexec';

export type Step =
  | { kind: 'netns-add'; name: string }
  /**
   * The kernel frees a namespace's devices asynchronously after the last reference goes, so the
   * host ends of its veths (`hostIfs`) linger for a moment; the step waits until they are gone.
   */
  | { kind: 'netns-del'; name: string; hostIfs?: readonly string[] | undefined }
  | { kind: 'bridge-add'; name: string; mac: string; mtu?: number | undefined }
  | { kind: 'link-up'; ns?: string | undefined; dev: string }
  | { kind: 'link-del'; ns?: string | undefined; dev: string }
  | {
      kind: 'veth-add';
      hostIf: string;
      master: string;
      peerNs: string;
      peerIf: string;
      peerMac: string;
      mtu?: number | undefined;
    }
  /**
   * A container's interface straight on a host link (a macvlan or ipvlan network's parent), made
   * from the host directly inside the container's namespace `ns`: no bridge, no host end. It goes
   * with the namespace, or with `link-del` of `name` in `ns`.
   */
  | { kind: 'macvlan-add'; parent: string; ns: string; name: string; mac: string; mtu?: number | undefined }
  | { kind: 'ipvlan-add'; parent: string; ns: string; name: string; mode: IpvlanMode; mtu?: number | undefined }
  /**
   * A point-to-point link (`nsnet link add`): a veth pair made from the host with one end directly
   * inside each of two namespaces (`name` in `ns`, `peerName` in `peerNs`): no bridge, no host end,
   * nothing of it ever in the host's namespace. Deleting either end deletes both, and either
   * namespace going takes the pair with it.
   */
  | { kind: 'veth-p2p'; ns: string; name: string; peerNs: string; peerName: string }
  /** A dummy link on the host: the parent of an internal macvlan/ipvlan network (as Docker makes). */
  | { kind: 'dummy-add'; name: string }
  /**
   * Hairpin mode on a bridge port (`bridge link set dev PORT hairpin on`): a frame may leave by
   * the port it came in on. A container reaching its own published port through a host address
   * needs it: with br_netfilter the DNATed frame is switched straight back to the port it came
   * from, which a bridge otherwise never does (Docker sets it too). Undone by turning it off; it
   * goes with the port.
   */
  | { kind: 'port-hairpin'; dev: string; on: boolean }
  /**
   * An interface's impairment (core/netem.ts: netem for delay/loss/..., tbf for a rate): its root
   * qdisc replaced by the ones `netem` needs. `previous` is the impairment it had (none when
   * absent), which undo puts back; it goes with the interface.
   */
  | { kind: 'qdisc-netem'; ns: string; dev: string; netem: Netem; previous?: Netem | undefined }
  /** The impairment taken off: the interface's default root qdisc back. Undo puts `previous` back. */
  | { kind: 'qdisc-clear'; ns: string; dev: string; previous?: Netem | undefined }
  /**
   * A link set down or up (`nsnet link down|up`): the end of a veth pair facing a container's
   * interface (the host end, or the other container's end of a point-to-point link), so the
   * container's interface loses its carrier and keeps its addresses and routes, as a pulled cable
   * does. Undo sets the opposite.
   */
  | { kind: 'link-state'; ns?: string | undefined; dev: string; up: boolean }
  /** An IPv6 address is always added with nodad: usable the moment the step returns, never "tentative". */
  | { kind: 'addr-add'; ns?: string | undefined; dev: string; address: string; prefixLen: number }
  /** The default route of the family of `via` (`::/0` for an IPv6 gateway). */
  | { kind: 'route-add'; ns?: string | undefined; dst: 'default'; via: string; dev: string }
  /** A default route through a device with no gateway: an ipvlan l3 container's (the parent routes). */
  | { kind: 'route-dev'; ns: string; dst: 'default'; dev: string }
  /**
   * `ignoreUnknown` is sysctl's -e: a key the kernel does not have is no error (net.ipv6 keys on a
   * kernel booted with ipv6.disable=1, where there is no IPv6 to turn off).
   */
  | {
      kind: 'sysctl';
      key: string;
      value: string;
      ignoreUnknown?: boolean | undefined;
      /**
       * The value undo writes back. Absent: undo leaves the key (ip_forward is host-wide and stays
       * on, as Docker leaves it; a per-link key goes with its link). Present where nsnet changes
       * the host's own settings: IPv6 forwarding and the uplink's accept_ra (see ops/host-ipv6.ts).
       */
      undoValue?: string | undefined;
    }
  /**
   * A sysctl of one namespace (a lab router's net.ipv4.ip_forward, IPv6 off on a container's
   * interface); goes with the namespace (a per-interface key, with the interface).
   */
  | { kind: 'netns-sysctl'; ns: string; key: string; value: string; ignoreUnknown?: boolean | undefined }
  /** A route to a destination (a CIDR, or default) via a gateway: a lab's routes through a router. */
  | { kind: 'route-to'; ns: string; dst: string; via: string }
  /**
   * A container's root filesystem from an image: an overlay of the image's layer directories
   * (`lower`, top first) under the container's own `upper` (with overlayfs' `work` directory),
   * mounted on `target` in the host's mount namespace, so the container's mount namespace (made
   * later, a copy) has it. A stale mount on `target` (a container that ended on its own) is
   * detached first. Then the mount points, /dev's device files and `workingDir` (the container's
   * WorkingDir, made when the image lacks it, as dockerd does) are made inside it, in the
   * container's own layer. Undo: detached, with whatever is mounted beneath it.
   */
  | { kind: 'overlay-mount'; target: string; lower: readonly string[]; upper: string; work: string; workingDir?: string | undefined }
  /**
   * A host file bind-mounted over `path` (relative) inside the root filesystem `root`: /etc/hosts,
   * /etc/resolv.conf and /etc/hostname as Docker presents them, /dev/null and the like. The file in
   * the container is made a plain file first: a symbolic link there (the container's to make) would
   * otherwise be followed on the host. Undo: unmounted.
   */
  | { kind: 'bind-mount'; source: string; root: string; path: string }
  /**
   * A kernel filesystem mounted on `path` (relative) inside an image container's root `root`, as
   * Docker gives every container: its own devpts instance on dev/pts (`newinstance`: the
   * container's terminals are numbered and listed apart from the host's, with their own ptmx,
   * which the container's /dev/ptmx links to) and a tmpfs on dev/shm (POSIX shared memory).
   * Mounted in the host's mount namespace after the overlay, as the bind mounts are; the mount
   * point is made a real directory first (a link there is replaced, never followed on the host).
   * Undo: detached.
   */
  | { kind: 'fs-mount'; fstype: 'devpts' | 'tmpfs'; root: string; path: string; flags: readonly MountFlag[]; options: string }
  /** A teardown: `target` and everything mounted beneath it detached (what is not mounted is fine). */
  | { kind: 'unmount'; target: string }
  /** One atomic nftables transaction; `undoScript` restores what was there before. */
  | { kind: 'nft'; script: string; undoScript: string; summary: string }
  /**
   * nsnet's own chains in one iptables or ebtables table, in one `*-restore --noflush` run:
   * declaring the chains (creates or flushes just them), their full rule list (`-A CHAIN ...`
   * lines), and exactly one jump from each built-in chain in `jumps`. `rules: null` removes the
   * jumps and the chains (what is already gone is fine). `undoRules` restores what was there
   * before (null: nothing).
   */
  | {
      kind: 'xtables-restore';
      tool: XtablesTool;
      table: string;
      chains: readonly string[];
      jumps: readonly XtablesJump[];
      rules: readonly string[] | null;
      undoRules: readonly string[] | null;
      summary: string;
    }
  /**
   * Container ports in nsnet's ebtables chains (the chains of an `xtables-restore` step with
   * `baseRules` as their fixed rules): `add` puts `rules` in, `remove` takes out every rule of
   * these interfaces (`-i PORT`), whether or not it is still there. The undo is the opposite.
   */
  | {
      kind: 'ebtables-ports';
      op: 'add' | 'remove';
      table: string;
      chains: readonly string[];
      jumps: readonly XtablesJump[];
      baseRules: readonly string[];
      ifaces: readonly string[];
      rules: readonly string[];
      summary: string;
    }
  /**
   * Rules in nsnet's own iptables chains (those of an `xtables-restore` step of the same table)
   * found by their comment: `add` puts `rules` in, replacing any rule whose comment is one of
   * `keys` (or starts with one, followed by a space); `remove` takes out every such rule, whether
   * or not it is still there. Missing chains and jumps are made on `add`. The undo is the opposite.
   */
  | {
      kind: 'iptables-rules';
      /** ip6tables for IPv6's published ports; absent: iptables (steps journalled before IPv6 have none). */
      tool?: 'iptables' | 'ip6tables' | undefined;
      op: 'add' | 'remove';
      table: string;
      chains: readonly string[];
      jumps: readonly XtablesJump[];
      keys: readonly string[];
      rules: readonly string[];
      summary: string;
    };

