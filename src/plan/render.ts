import type { Step } from './steps.js';

/** `ip` prefix for a step that runs in a named namespace: `ip -n red ...` is `ip netns exec red ip ...`. */
const ip = (ns: string | undefined): string => (ns === undefined ? 'ip' : `ip -n ${ns}`);

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
      return (
        `ip link add ${step.hostIf}${mtu(step.mtu)} master ${step.master} up type veth ` +
        `peer name ${step.peerIf} netns ${step.peerNs} address ${step.peerMac}`
      );
    case 'addr-add':
      return `${ip(step.ns)} addr add ${step.address}/${step.prefixLen} brd + dev ${step.dev}`;
    case 'route-add':
      return `${ip(step.ns)} route add default via ${step.via} dev ${step.dev}`;
    case 'sysctl':
      return `sysctl -w ${step.key}=${step.value}`;
    case 'nft':
      return `nft -f - <<'EOF'\n${step.script.trimEnd()}\nEOF`;
    case 'iptables-chain':
      return renderIptablesChain(step.table, step.from, step.chain, step.rules);
  }
}

function renderIptablesChain(table: string, from: string, chain: string, rules: readonly string[]): string {
  const t = table === 'filter' ? '' : ` -t ${table}`;
  if (rules.length === 0) {
    return [`iptables -w${t} -D ${from} -j ${chain}`, `iptables -w${t} -F ${chain}`, `iptables -w${t} -X ${chain}`].join('\n');
  }
  return [
    `iptables-restore -w --noflush <<'EOF'`,
    `*${table}`,
    `:${chain} - [0:0]`,
    ...rules,
    'COMMIT',
    'EOF',
    `iptables -w${t} -C ${from} -j ${chain} 2>/dev/null || iptables -w${t} -I ${from} 1 -j ${chain}`,
  ].join('\n');
}

const mtu = (value: number | undefined): string => (value === undefined ? '' : ` mtu ${value}`);

export function renderPlan(steps: readonly Step[]): string {
  return steps.map(renderStep).join('\n');
}
