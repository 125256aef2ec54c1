import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultRouteSteps, handoverRouteSteps, planBridge, planConnect, planCreateContainer, planCreateNetwork, planRemoveNetwork, type NetworkSpec } from '../../src/engine/plans.js';
import type { Step } from '../../src/plan/steps.js';
import { vethNameFor } from '../../src/engine/ids.js';
import { PORT_NAME_PREFIX } from '../../src/firewall/model.js';
import { EMPTY_FIREWALL } from '../../src/firewall/model.js';
import { nftablesDriver } from '../../src/firewall/nftables-driver.js';
import { applyPlan, PlanError } from '../../src/plan/executor.js';
import { renderPlan, renderStep } from '../../src/plan/render.js';
import { RecordingRunner } from '../../src/plan/runner.js';
import { redOn, STUDY } from '../helpers/plan-fixtures.js';

const fw = nftablesDriver();

const study: NetworkSpec = STUDY;

const red = redOn(study);

describe('plan rendering (golden: the article, as nsnet does it)', () => {
  test('network create renders as the article bridge steps, forwarding and one nft transaction', () => {
    const plan = renderPlan(planCreateNetwork(study, EMPTY_FIREWALL, fw)).split('\n');
    assert.deepEqual(plan.slice(0, 12), [
      'ip link add br-study address 02:aa:bb:cc:dd:ee type bridge',
      'sysctl -e -w net.ipv6.conf.br-study.disable_ipv6=1',
      'ip addr add 10.0.0.254/24 brd + dev br-study',
      'ip link set br-study up',
      'sysctl -w net.ipv4.ip_forward=1',
      'sysctl -w net.ipv4.conf.br-study.route_localnet=1',
      "nft -f - <<'EOF'",
      'add table inet nsnet',
      'delete table inet nsnet',
      'add table bridge nsnet',
      'delete table bridge nsnet',
      'table inet nsnet {',
    ]);
    assert.equal(plan.at(-1), 'EOF');
    const rules = plan.filter((l) => l.startsWith('\t\t') && !l.startsWith('\t\ttype '));
    const c = 'comment "nsnet network study aaaaaaaaaaaa"';
    const dnat = [
      '\t\tfib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @published',
      '\t\tfib daddr type local dnat ip to meta l4proto . th dport map @published_any',
      '\t\tfib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @published6',
      '\t\tmeta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @published6_any',
    ];
    assert.deepEqual(rules, [
      '\t\telements = { "br-study" }',
      '\t\tiifname != "lo" ip daddr 127.0.0.0/8 drop', // guard
      '\t\tiifname != "lo" ip6 daddr ::1 drop',
      ...dnat, // prerouting
      ...dnat, // output
      '\t\tip saddr . ip daddr @partitioned drop', // partitions first (firewall/partitions.ts)
      '\t\tip6 saddr . ip6 daddr @partitioned6 drop',
      '\t\tct status dnat accept',
      `\t\tiifname "br-study" oifname != "br-study" oifname @bridges drop ${c}`,
      `\t\toifname "br-study" iifname != "br-study" ct state != { established, related } drop ${c}`,
      `\t\tiifname "br-study" accept ${c}`,
      `\t\toifname "br-study" accept ${c}`,
      '\t\toifname @bridges ct status dnat fib saddr type local masquerade',
      `\t\tip saddr 10.0.0.0/24 oifname "br-study" ct status dnat masquerade ${c}`,
      `\t\tip saddr 10.0.0.0/24 oifname != "br-study" masquerade ${c}`,
      '\t\ttypeof iifname . ether saddr . @th,64,128', // port_targets6's declaration
      '\t\tether type ip6 jump from_port6', // IPv6 frames: one comparison for IPv4 ones
      '\t\tiifname != @ports accept',
      '\t\tiifname . ether saddr != @port_macs drop',
      '\t\tether type arp iifname . arp saddr ether . arp saddr ip != @port_addrs drop',
      '\t\tether type ip iifname . ether saddr . ip saddr != @port_addrs drop',
      '\t\tiifname != "nsv*" return', // from_port6: the IPv6 guard for every container port
      '\t\ticmpv6 type { nd-router-advert, nd-redirect } drop',
      '\t\tudp sport 547 udp dport 546 drop',
      '\t\tiifname != @ports return', // then IPv6 anti-spoofing
      '\t\tiifname . ether saddr . ip6 saddr != @port_addrs6 drop',
      '\t\tmeta l4proto != ipv6-icmp accept', // the MAC is in port_addrs6's key: nothing more for TCP, UDP
      '\t\ticmpv6 type nd-neighbor-advert iifname . ether saddr . @th,64,128 != @port_targets6 drop',
      '\t\tip6 saddr :: icmpv6 type nd-neighbor-solicit iifname . ether saddr . @th,64,128 != @port_targets6 drop',
      '\t\taccept',
      '\t\tip saddr . ip daddr @partitioned drop',
      '\t\tip6 saddr . ip6 daddr @partitioned6 drop',
      '\t\tiifname @icc_off_ports drop',
    ]);
  });

  test('internal networks are sealed before published ports are let through', () => {
    const internal = { ...study, id: 'd'.repeat(64), name: 'int', bridge: 'br-int', subnet: '10.0.3.0/24', internal: true };
    const lines = renderPlan(planCreateNetwork(internal, { ...EMPTY_FIREWALL, networks: [study] }, fw)).split('\n');
    const sealed = lines.findIndex((l) => l.includes('iifname "br-int" oifname != "br-int" drop'));
    const published = lines.findIndex((l) => l.trim() === 'ct status dnat accept');
    assert.ok(sealed >= 0 && sealed < published, lines.join('\n'));
  });

  test('all drops come before all accepts, whatever order the networks were made in', () => {
    const routed = { ...study, id: 'b'.repeat(64), name: 'routed', bridge: 'br-routed', subnet: '10.0.1.0/24', masquerade: false };
    const nat = { ...study, id: 'c'.repeat(64), name: 'nat', bridge: 'br-nat', subnet: '10.0.2.0/24' };
    const after = { ...EMPTY_FIREWALL, networks: [routed] };
    const forward = renderPlan(planCreateNetwork(nat, after, fw))
      .split('\n')
      .filter((l) => / (accept|drop) comment/.test(l));
    const lastDrop = forward.map((l) => / drop /.test(l)).lastIndexOf(true);
    const firstAccept = forward.findIndex((l) => / accept /.test(l));
    assert.ok(lastDrop < firstAccept, forward.join('\n'));
  });

  test('container create renders as the article veth, address, link and route steps', () => {
    assert.equal(
      renderPlan(planCreateContainer('red', [red], fw)),
      [
        'ip netns add red',
        'ip -n red link set lo up',
        "nft -f - <<'EOF'",
        'add element bridge nsnet ports { "nsv000000000001" }',
        'add element bridge nsnet port_macs { "nsv000000000001" . 02:42:0a:00:00:01 }',
        'add element bridge nsnet port_addrs { "nsv000000000001" . 02:42:0a:00:00:01 . 10.0.0.1 }',
        'add element bridge nsnet port_addrs6 { "nsv000000000001" . 02:42:0a:00:00:01 . fe80::42:aff:fe00:1, "nsv000000000001" . 02:42:0a:00:00:01 . :: }',
        'add element bridge nsnet port_targets6 { "nsv000000000001" . 02:42:0a:00:00:01 . 0xfe8000000000000000420afffe000001 }',
        'EOF',
        'ip link add nsv000000000001 master br-study up type veth peer name eth0 netns red address 02:42:0a:00:00:01',
        'bridge link set dev nsv000000000001 hairpin on',
        'ip netns exec red sysctl -e -w net.ipv6.conf.eth0.disable_ipv6=1',
        'ip -n red addr add 10.0.0.1/24 brd + dev eth0',
        'ip -n red link set eth0 up',
        'ip -n red route add default via 10.0.0.254 dev eth0',
      ].join('\n'),
    );
  });

  test('an internal network gives no default route, no forwarding sysctl and no masquerade', () => {
    const internal = { ...study, internal: true };
    const container = renderPlan(planCreateContainer('red', [{ ...red, network: internal }], fw));
    assert.doesNotMatch(container, /route add default/);
    const network = renderPlan(planCreateNetwork(internal, EMPTY_FIREWALL, fw));
    assert.doesNotMatch(network, /ip_forward|route_localnet|ip saddr 10\.0\.0\.0\/24 .*masquerade/);
    assert.match(network, /iifname "br-study" oifname != "br-study" drop/);
    assert.match(network, /oifname "br-study" iifname != "br-study" drop/);
  });

  test('ICC off drops bridge-to-bridge-port traffic; masquerade off routes without NAT', () => {
    const quiet = { ...study, icc: false, masquerade: false, antiSpoofing: false };
    const port = { ...red, network: quiet };
    const network = renderPlan(planCreateNetwork(quiet, EMPTY_FIREWALL, fw));
    assert.match(network, /iifname "br-study" oifname "br-study" drop/);
    // Only the outbound masquerade goes: hairpin (within the host) is masqueraded either way.
    assert.doesNotMatch(network, /ip saddr 10\.0\.0\.0\/24 oifname != .*masquerade|ct state != \{ established, related \}/);
    const container = renderPlan(planCreateContainer('red', [port], fw));
    assert.match(container, /add element bridge nsnet icc_off_ports \{ "nsv000000000001" \}/);
    assert.doesNotMatch(container, /port_addrs/);
  });

  test('the default route follows the first network that leads outside', () => {
    const internal = { ...study, internal: true, bridge: 'br-int', gateway: '10.0.1.1', subnet: '10.0.1.0/24' };
    const plan = renderPlan(
      planCreateContainer('red', [
        { ...red, network: internal },
        { ...red, ifName: 'eth1', hostIf: 'nsv000000000002' },
      ], fw),
    );
    assert.match(plan, /ip -n red route add default via 10\.0\.0\.254 dev eth1/);
  });

  test('an MTU option reaches both the bridge and the veth pair', () => {
    const jumbo = { ...study, mtu: 9000 };
    assert.match(renderPlan(planCreateNetwork(jumbo, EMPTY_FIREWALL, fw)), /ip link add br-study address \S+ mtu 9000 type bridge/);
    assert.match(renderPlan(planCreateContainer('red', [{ ...red, network: jumbo }], fw)), /ip link add nsv000000000001 mtu 9000 master/);
  });
});

describe('IPv6 off on networks without IPv6 (no rogue router advertisements)', () => {
  const kinds = (steps: readonly Step[]): string[] => steps.map((s) => (s.kind.endsWith('sysctl') && 'key' in s ? `${s.kind} ${s.key}` : s.kind));

  test('the bridge: right after it is made, before it is up; internal networks too', () => {
    for (const net of [study, { ...study, internal: true }]) {
      const steps = kinds(planBridge(net));
      assert.deepEqual(steps.slice(0, 4), ['bridge-add', 'sysctl net.ipv6.conf.br-study.disable_ipv6', 'addr-add', 'link-up']);
    }
    // A dot in a bridge name is written as '/', as sysctl(8) wants it.
    assert.match(renderPlan(planBridge({ ...study, bridge: 'br.1' })), /^sysctl -e -w net\.ipv6\.conf\.br\/1\.disable_ipv6=1$/m);
  });

  test("every container interface, inside its namespace, after the veth is made and before it is up: run, connect, a runtime's namespace", () => {
    const wired = ['veth-add', 'port-hairpin', 'netns-sysctl net.ipv6.conf.eth0.disable_ipv6', 'addr-add', 'link-up'];
    const run = kinds(planCreateContainer('red', [red], fw));
    assert.deepEqual(run.slice(run.indexOf('veth-add'), run.indexOf('veth-add') + 5), wired);
    const connect = kinds(planConnect('red', { ...red, ifName: 'eth1' }, fw));
    assert.deepEqual(connect.slice(connect.indexOf('veth-add')), ['veth-add', 'port-hairpin', 'netns-sysctl net.ipv6.conf.eth1.disable_ipv6', 'addr-add', 'link-up']);
    assert.match(renderPlan(planConnect('/run/netns/cni-1', red, fw)), /^nsenter --net=\/run\/netns\/cni-1 sysctl -e -w net\.ipv6\.conf\.eth0\.disable_ipv6=1$/m);
    assert.match(renderPlan(planCreateContainer('red', [red], fw)), /^ip netns exec red sysctl -e -w net\.ipv6\.conf\.eth0\.disable_ipv6=1$/m);
  });

  test('a network with IPv6 keeps it on (the switch for IPv6-enabled networks)', () => {
    const v6 = { ...study, subnet6: '2001:db8:30::/64', gateway6: '2001:db8:30::1', prefixLen6: 64 };
    assert.doesNotMatch(renderPlan([...planBridge(v6), ...planCreateContainer('red', [{ ...red, network: v6, ip6: '2001:db8:30::2' }], fw)]), /disable_ipv6/);
  });
});

describe('dual stack plans', () => {
  const v6 = { ...study, subnet6: '2001:db8:30::/64', gateway6: '2001:db8:30::1', prefixLen6: 64 };
  const red6 = { ...red, network: v6, ip6: '2001:db8:30::2' };
  const only6 = { ...v6, subnet: null, gateway: null, prefixLen: null };

  test('the bridge gets both gateways (IPv6 with nodad) and both forwarding switches', () => {
    const plan = renderPlan(planBridge(v6)).split('\n');
    assert.deepEqual(plan.slice(0, 5), [
      'ip link add br-study address 02:aa:bb:cc:dd:ee type bridge',
      'sysctl -w net.ipv6.conf.br-study.accept_ra=0',
      'ip addr add 10.0.0.254/24 brd + dev br-study',
      'ip -6 addr add 2001:db8:30::1/64 dev br-study nodad',
      'ip link set br-study up',
    ]);
    assert.ok(plan.includes('sysctl -w net.ipv4.ip_forward=1'));
    assert.ok(plan.includes('sysctl -w net.ipv6.conf.all.forwarding=1'));
    // IPv6-only: no IPv4 address, no IPv4 forwarding.
    const v6plan = renderPlan(planBridge(only6));
    assert.doesNotMatch(v6plan, /ip_forward|ip addr add 10\./);
    assert.match(v6plan, /net\.ipv6\.conf\.all\.forwarding=1/);
    // An internal network forwards nothing.
    assert.doesNotMatch(renderPlan(planBridge({ ...v6, internal: true })), /forwarding|ip_forward/);
  });

  test('a container interface: no RA, no DAD, both addresses, then a default route per family', () => {
    const steps = planCreateContainer('red', [red6], fw);
    const lines = renderPlan(steps).split('\n');
    const at = (l: string): number => lines.indexOf(l);
    assert.ok(at('ip netns exec red sysctl -w net.ipv6.conf.eth0.accept_ra=0') > 0);
    assert.ok(at('ip netns exec red sysctl -w net.ipv6.conf.eth0.accept_dad=0') < at('ip -n red -6 addr add 2001:db8:30::2/64 dev eth0 nodad'));
    assert.ok(at('ip -n red -6 addr add 2001:db8:30::2/64 dev eth0 nodad') < at('ip -n red link set eth0 up'));
    assert.ok(at('ip -n red route add default via 10.0.0.254 dev eth0') > at('ip -n red link set eth0 up'));
    assert.ok(at('ip -n red -6 route add default via 2001:db8:30::1 dev eth0') > at('ip -n red link set eth0 up'));
  });

  test('each family takes its default route from the first network that has it', () => {
    const v4only = { ...study, bridge: 'br-v4' };
    const routes = defaultRouteSteps('red', [{ ...red, network: v4only }, { ...red6, ifName: 'eth1', hostIf: 'nsv000000000002' }]);
    assert.deepEqual(routes.map(renderStep), ['ip -n red route add default via 10.0.0.254 dev eth0', 'ip -n red -6 route add default via 2001:db8:30::1 dev eth1']);
    // Leaving eth1 takes the IPv6 route with it; nothing else carries IPv6, so nothing is handed over.
    assert.deepEqual(handoverRouteSteps('red', [{ ...red, network: v4only }, { ...red6, ifName: 'eth1', hostIf: 'nsv000000000002' }], 'nsv000000000002'), []);
    // Leaving eth0 of two dual-stack networks hands both routes to eth1.
    const other = { ...v6, bridge: 'br-2', gateway: '10.0.1.1', gateway6: '2001:db8:31::1' };
    const both = handoverRouteSteps('red', [red6, { ...red6, network: other, ifName: 'eth1', hostIf: 'nsv000000000002' }], red6.hostIf);
    assert.deepEqual(both.map(renderStep), ['ip -n red route add default via 10.0.1.1 dev eth1', 'ip -n red -6 route add default via 2001:db8:31::1 dev eth1']);
  });

  test('an IPv6-only container: one address, one route', () => {
    const plan = renderPlan(planCreateContainer('red', [{ ...red6, network: only6, ip: null }], fw));
    assert.doesNotMatch(plan, /addr add 10\.|route add default via 10\./);
    assert.match(plan, /ip -n red -6 route add default via 2001:db8:30::1 dev eth0/);
  });

  test("the firewall's IPv6 guard matches every container port by name: nsnet's host veth names", () => {
    assert.ok(vethNameFor('0123456789abcdef'.repeat(4)).startsWith(PORT_NAME_PREFIX));
    assert.match(renderPlan(planCreateNetwork(study, EMPTY_FIREWALL, fw)), new RegExp(`iifname != "${PORT_NAME_PREFIX}\\*" return\n\t\ticmpv6 type`));
  });

  test('the sysctl steps ignore a key the kernel does not have (IPv6 disabled at boot): nothing to turn off', () => {
    const steps = [...planBridge(study), ...planCreateContainer('red', [red], fw)].filter((s) => s.kind.endsWith('sysctl') && 'key' in s && /disable_ipv6/.test(s.key));
    assert.equal(steps.length, 2);
    for (const s of steps) assert.ok('ignoreUnknown' in s && s.ignoreUnknown === true);
  });
});

describe('executor', () => {
  test('applies in order and undoes the applied steps in reverse when one fails', () => {
    const steps = planCreateContainer('red', [red], fw);
    const runner = new RecordingRunner((s) => s.kind === 'route-add');
    assert.throws(
      () => applyPlan(steps, runner),
      (err: unknown) => err instanceof PlanError && /add default route via 10\.0\.0\.254 in red/.test(err.message) && /ip -n red route add/.test(err.message),
    );
    assert.deepEqual(runner.log, [
      'apply netns-add',
      'apply link-up',
      'apply nft',
      'apply veth-add',
      'apply port-hairpin',
      'apply netns-sysctl',
      'apply addr-add',
      'apply link-up',
      'undo link-up',
      'undo addr-add',
      'undo netns-sysctl',
      'undo port-hairpin',
      'undo veth-add',
      'undo nft',
      'undo link-up',
      'undo netns-add',
    ]);
  });

  test('applies everything when nothing fails', () => {
    const runner = new RecordingRunner();
    applyPlan(planCreateContainer('red', [red], fw), runner);
    assert.equal(runner.log.filter((l) => l.startsWith('undo')).length, 0);
    assert.equal(runner.log.length, 9);
  });
});

describe('NSNET-FORWARD on a host whose iptables FORWARD drops (nftables driver)', () => {
  const compatFw = (existedBefore: boolean): ReturnType<typeof nftablesDriver> => nftablesDriver(() => ({ manage: true, existedBefore }));
  const c = '-m comment --comment "nsnet network study"';
  const accepts = [`-A NSNET-FORWARD -i br-study ${c} -j ACCEPT`, `-A NSNET-FORWARD -o br-study -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`];

  test('network create makes the chain and its jump through one iptables-restore run, after the nft transaction', () => {
    const plan = planCreateNetwork(study, EMPTY_FIREWALL, compatFw(false));
    const step = plan.at(-1)!;
    assert.deepEqual(
      plan.slice(-2).map((s) => s.kind),
      ['nft', 'xtables-restore'],
    );
    assert.ok(step.kind === 'xtables-restore');
    assert.deepEqual({ tool: step.tool, table: step.table, chains: step.chains, jumps: step.jumps }, {
      tool: 'iptables',
      table: 'filter',
      chains: ['NSNET-FORWARD'],
      jumps: [{ from: 'FORWARD', to: 'NSNET-FORWARD' }],
    });
    assert.deepEqual(step.rules, accepts);
    assert.equal(step.undoRules, null, 'the chain was not there: the undo removes it and its jump');
    assert.equal(
      renderStep(step),
      [
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        ...accepts,
        'COMMIT',
        'EOF',
        'iptables -w -C FORWARD -j NSNET-FORWARD 2>/dev/null || iptables -w -I FORWARD 1 -j NSNET-FORWARD',
      ].join('\n'),
    );
    assert.equal(renderPlan(plan).match(/^iptables-restore /gm)?.length, 1);
  });

  test('removing the last network removes the chain and its jump in one run; the undo puts back the rules before', () => {
    const step = planRemoveNetwork(study, { ...EMPTY_FIREWALL, networks: [study] }, compatFw(true)).at(-1)!;
    assert.ok(step.kind === 'xtables-restore');
    assert.equal(step.rules, null);
    assert.deepEqual(step.undoRules, accepts);
    assert.equal(
      renderStep(step),
      [
        'while iptables -w -D FORWARD -j NSNET-FORWARD 2>/dev/null; do :; done',
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        '-X NSNET-FORWARD',
        'COMMIT',
        'EOF',
      ].join('\n'),
    );
  });

  test('nothing in iptables when its FORWARD chain does not drop and nsnet keeps no chain there', () => {
    const plan = planCreateNetwork(study, EMPTY_FIREWALL, nftablesDriver(() => ({ manage: false, existedBefore: false })));
    assert.doesNotMatch(renderPlan(plan), /iptables/);
  });
});
