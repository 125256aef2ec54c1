/**
 * Typed steps: the unit of every state change. The engine decides which steps a command needs
 * (pure data); the executor applies them in order against the kernel and undoes the applied ones
 * in reverse when a later one fails; the renderer prints each as the by-hand command a person
 * would type (`--dry-run`). A step with `ns` acts inside that named network namespace.
 */
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
  | { kind: 'addr-add'; ns?: string | undefined; dev: string; address: string; prefixLen: number }
  | { kind: 'route-add'; ns?: string | undefined; dst: 'default'; via: string; dev: string }
  | { kind: 'sysctl'; key: string; value: string }
  /** One atomic nftables transaction; `undoScript` restores what was there before. */
  | { kind: 'nft'; script: string; undoScript: string; summary: string }
  /**
   * nsnet's own iptables chain and the one jump into it; no rules means remove both.
   * `undoRules` restores what was there before (none: remove).
   */
  | { kind: 'iptables-chain'; table: string; from: string; chain: string; rules: readonly string[]; undoRules: readonly string[] };

export type StepKind = Step['kind'];
