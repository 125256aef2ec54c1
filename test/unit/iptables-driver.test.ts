import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { planCreateContainer, planCreateNetwork, planRemoveContainer, type EndpointSpec, type NetworkSpec } from '../../src/engine/plans.js';
import { compatStep } from '../../src/firewall/iptables-compat.js';
import { iptablesDriver, type IptablesHostFacts } from '../../src/firewall/iptables-driver.js';
import { EMPTY_FIREWALL, type FirewallMapping, type FirewallState } from '../../src/firewall/model.js';
import { keyedScript, portScript, restoreScript, ruleComment, ruleInterface, type SavedTable, type XtablesTarget } from '../../src/kernel/xtables.js';
import { renderPlan } from '../../src/plan/render.js';
import type { Step } from '../../src/plan/steps.js';

const facts = (over: Partial<IptablesHostFacts> = {}): (() => IptablesHostFacts) => () => ({ iptables: true, ebtables: 'ok', ...over });
const fw = iptablesDriver(facts());

function net(name: string, bridge: string, subnet: string, over: Partial<NetworkSpec> = {}): NetworkSpec {
  const [base] = subnet.split('/');
  return {
    id: name.padEnd(64, '0'),
    name,
    bridge,
    subnet,
    internal: false,
    gateway: base!.replace(/0$/, '254'),
    prefixLen: 24,
    subnet6: null,
    gateway6: null,
    prefixLen6: null,
    bridgeMac: '02:aa:bb:cc:dd:ee',
    mtu: undefined,
    icc: true,
    masquerade: true,
    antiSpoofing: true,
    ...over,
  };
}

const study = net('study', 'br-study', '10.0.0.0/24');
const lab = net('lab', 'br-lab', '10.1.0.0/24', { internal: true, icc: false });
const routed = net('routed', 'br-routed', '10.2.0.0/24', { masquerade: false, antiSpoofing: false });

const ep = (network: NetworkSpec, n: number, ifName = 'eth0'): EndpointSpec => {
  const ip = network.subnet!.replace(/0\/24$/, String(n));
  const hex = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return { network, hostIf: `nsv${network.name.slice(0, 1)}0000000000${n}`, ifName, ip, ip6: null, mac: `02:42:${hex.join(':')}` };
};
const red = ep(study, 1);
const blue = ep(lab, 2);
const green = ep(routed, 3);

const state: FirewallState = {
  networks: [study, lab, routed],
  ports: [red, blue, green].map((e) => ({ hostIf: e.hostIf, mac: e.mac, ip: e.ip, ip6: null, network: e.network })),
};

const c = (n: string): string => `-m comment --comment "nsnet network ${n}"`;
const LOOPBACK_GUARD = `-A NSNET-GUARD -d 127.0.0.0/8 ! -i lo -m comment --comment "nsnet: 127.0.0.0/8 only from lo" -j DROP`;
const IPV6_GUARD = [
  '-A NSNET-IPV6-GUARD -p IPv6 -i nsv+ --ip6-proto ipv6-icmp --ip6-icmp-type router-advertisement -j DROP',
  '-A NSNET-IPV6-GUARD -p IPv6 -i nsv+ --ip6-proto ipv6-icmp --ip6-icmp-type redirect -j DROP',
  '-A NSNET-IPV6-GUARD -p IPv6 -i nsv+ --ip6-proto udp --ip6-sport 547 --ip6-dport 546 -j DROP',
];

describe('iptables driver (golden: the restore scripts for a fixture)', () => {
  test('replace renders one iptables-restore per table with nsnet chains, rules and jumps', () => {
    assert.equal(
      renderPlan(fw.replace(EMPTY_FIREWALL, state, 'fixture')),
      [
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        ':NSNET-ISOLATION - [0:0]',
        // Internal networks first: nothing gets in or out, not even to a published port.
        `-A NSNET-FORWARD -i br-lab ! -o br-lab ${c('lab')} -j DROP`,
        `-A NSNET-FORWARD -o br-lab ! -i br-lab ${c('lab')} -j DROP`,
        // Published ports: DNATed connections to (and replies from) the other bridges, before the drops.
        `-A NSNET-FORWARD -o br-study -m conntrack --ctstate DNAT ${c('study')} -j ACCEPT`,
        `-A NSNET-FORWARD -i br-study -m conntrack --ctstate DNAT ${c('study')} -j ACCEPT`,
        `-A NSNET-FORWARD -o br-routed -m conntrack --ctstate DNAT ${c('routed')} -j ACCEPT`,
        `-A NSNET-FORWARD -i br-routed -m conntrack --ctstate DNAT ${c('routed')} -j ACCEPT`,
        `-A NSNET-FORWARD -i br-study ! -o br-study ${c('study')} -j NSNET-ISOLATION`,
        `-A NSNET-FORWARD -o br-study ! -i br-study -m conntrack ! --ctstate RELATED,ESTABLISHED ${c('study')} -j DROP`,
        `-A NSNET-FORWARD -i br-lab -o br-lab ${c('lab')} -j DROP`,
        `-A NSNET-FORWARD -i br-routed ! -o br-routed ${c('routed')} -j NSNET-ISOLATION`,
        `-A NSNET-FORWARD -i br-study ${c('study')} -j ACCEPT`,
        `-A NSNET-FORWARD -o br-study ${c('study')} -j ACCEPT`,
        `-A NSNET-FORWARD -i br-lab -o br-lab ${c('lab')} -j ACCEPT`,
        `-A NSNET-FORWARD -i br-routed ${c('routed')} -j ACCEPT`,
        `-A NSNET-FORWARD -o br-routed ${c('routed')} -j ACCEPT`,
        `-A NSNET-ISOLATION -o br-study ${c('study')} -j DROP`,
        `-A NSNET-ISOLATION -o br-lab ${c('lab')} -j DROP`,
        `-A NSNET-ISOLATION -o br-routed ${c('routed')} -j DROP`,
        'COMMIT',
        'EOF',
        'iptables -w -C FORWARD -j NSNET-FORWARD 2>/dev/null || iptables -w -I FORWARD 1 -j NSNET-FORWARD',
        "iptables-restore -w --noflush <<'EOF'",
        '*nat',
        ':NSNET-POSTROUTING - [0:0]',
        ':NSNET-DNAT - [0:0]',
        `-A NSNET-POSTROUTING -s 10.0.0.0/24 ! -o br-study ${c('study')} -j MASQUERADE`,
        `-A NSNET-POSTROUTING -o br-study -m addrtype --src-type LOCAL -m conntrack --ctstate DNAT ${c('study')} -j MASQUERADE`,
        `-A NSNET-POSTROUTING -s 10.0.0.0/24 -o br-study -m conntrack --ctstate DNAT ${c('study')} -j MASQUERADE`,
        `-A NSNET-POSTROUTING -o br-routed -m addrtype --src-type LOCAL -m conntrack --ctstate DNAT ${c('routed')} -j MASQUERADE`,
        `-A NSNET-POSTROUTING -s 10.2.0.0/24 -o br-routed -m conntrack --ctstate DNAT ${c('routed')} -j MASQUERADE`,
        'COMMIT',
        'EOF',
        'iptables -w -t nat -C POSTROUTING -j NSNET-POSTROUTING 2>/dev/null || iptables -w -t nat -I POSTROUTING 1 -j NSNET-POSTROUTING',
        'iptables -w -t nat -C PREROUTING -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null || iptables -w -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        'iptables -w -t nat -C OUTPUT -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null || iptables -w -t nat -I OUTPUT 1 -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        // The loopback guard: nothing to 127.0.0.0/8 but from lo.
        "iptables-restore -w --noflush <<'EOF'",
        '*raw',
        ':NSNET-GUARD - [0:0]',
        LOOPBACK_GUARD,
        'COMMIT',
        'EOF',
        'iptables -w -t raw -C PREROUTING -j NSNET-GUARD 2>/dev/null || iptables -w -t raw -I PREROUTING 1 -j NSNET-GUARD',
        "ebtables-restore --noflush <<'EOF'",
        '*nat',
        ':NSNET-PORTS RETURN',
        '-A NSNET-PORTS -i nsvs00000000001 -s ! 02:42:0a:00:00:01 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p IPv4 --ip-src ! 10.0.0.1 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-ip-src ! 10.0.0.1 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-mac-src ! 02:42:0a:00:00:01 -j DROP',
        // IPv6 (off on an IPv4-only network): only from its link-local address or ::, if the container turns it on.
        '-A NSNET-PORTS -i nsvs00000000001 -p IPv6 --ip6-src fe80::42:aff:fe00:1 -j RETURN',
        '-A NSNET-PORTS -i nsvs00000000001 -p IPv6 --ip6-src :: -j RETURN',
        '-A NSNET-PORTS -i nsvs00000000001 -p IPv6 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -s ! 02:42:0a:01:00:02 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p IPv4 --ip-src ! 10.1.0.2 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p ARP --arp-ip-src ! 10.1.0.2 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p ARP --arp-mac-src ! 02:42:0a:01:00:02 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p IPv6 --ip6-src fe80::42:aff:fe01:2 -j RETURN',
        '-A NSNET-PORTS -i nsvl00000000002 -p IPv6 --ip6-src :: -j RETURN',
        '-A NSNET-PORTS -i nsvl00000000002 -p IPv6 -j DROP',
        'EOF',
        "ebtables-save -t nat | grep -qxF -- '-A PREROUTING -j NSNET-PORTS' || ebtables -t nat -I PREROUTING 1 -j NSNET-PORTS",
        "ebtables-restore --noflush <<'EOF'",
        '*filter',
        ':NSNET-BRIDGED RETURN',
        '-A NSNET-BRIDGED -i nsvl00000000002 -j DROP',
        'EOF',
        "ebtables-save -t filter | grep -qxF -- '-A FORWARD -j NSNET-BRIDGED' || ebtables -t filter -I FORWARD 1 -j NSNET-BRIDGED",
        // The IPv6 guard: no router advertisement, redirect or DHCPv6 reply from any container port.
        "ebtables-restore --noflush <<'EOF'",
        '*nat',
        ':NSNET-IPV6-GUARD RETURN',
        ...IPV6_GUARD,
        'EOF',
        "ebtables-save -t nat | grep -qxF -- '-A PREROUTING -j NSNET-IPV6-GUARD' || ebtables -t nat -I PREROUTING 1 -j NSNET-IPV6-GUARD",
      ].join('\n'),
    );
  });

  test('replace to nothing removes the jumps and chains of every table; the undo restores the state before', () => {
    const steps = fw.replace(state, EMPTY_FIREWALL, 'reset');
    assert.equal(
      renderPlan(steps),
      [
        'while iptables -w -D FORWARD -j NSNET-FORWARD 2>/dev/null; do :; done',
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        ':NSNET-ISOLATION - [0:0]',
        '-X NSNET-FORWARD',
        '-X NSNET-ISOLATION',
        'COMMIT',
        'EOF',
        'while iptables -w -t nat -D POSTROUTING -j NSNET-POSTROUTING 2>/dev/null; do :; done',
        'while iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null; do :; done',
        'while iptables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null; do :; done',
        "iptables-restore -w --noflush <<'EOF'",
        '*nat',
        ':NSNET-POSTROUTING - [0:0]',
        ':NSNET-DNAT - [0:0]',
        '-X NSNET-POSTROUTING',
        '-X NSNET-DNAT',
        'COMMIT',
        'EOF',
        'while iptables -w -t raw -D PREROUTING -j NSNET-GUARD 2>/dev/null; do :; done',
        "iptables-restore -w --noflush <<'EOF'",
        '*raw',
        ':NSNET-GUARD - [0:0]',
        '-X NSNET-GUARD',
        'COMMIT',
        'EOF',
        // ip6tables too (nothing there on an IPv4-only host: deleting what is not there is a no-op).
        'while ip6tables -w -D FORWARD -j NSNET-FORWARD 2>/dev/null; do :; done',
        "ip6tables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        ':NSNET-ISOLATION - [0:0]',
        '-X NSNET-FORWARD',
        '-X NSNET-ISOLATION',
        'COMMIT',
        'EOF',
        'while ip6tables -w -t nat -D POSTROUTING -j NSNET-POSTROUTING 2>/dev/null; do :; done',
        'while ip6tables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null; do :; done',
        'while ip6tables -w -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j NSNET-DNAT 2>/dev/null; do :; done',
        "ip6tables-restore -w --noflush <<'EOF'",
        '*nat',
        ':NSNET-POSTROUTING - [0:0]',
        ':NSNET-DNAT - [0:0]',
        '-X NSNET-POSTROUTING',
        '-X NSNET-DNAT',
        'COMMIT',
        'EOF',
        'while ip6tables -w -t raw -D PREROUTING -j NSNET-GUARD 2>/dev/null; do :; done',
        "ip6tables-restore -w --noflush <<'EOF'",
        '*raw',
        ':NSNET-GUARD - [0:0]',
        '-X NSNET-GUARD',
        'COMMIT',
        'EOF',
        'while ebtables -t nat -D PREROUTING -j NSNET-PORTS 2>/dev/null; do :; done',
        "ebtables-restore --noflush <<'EOF'",
        '*nat',
        ':NSNET-PORTS RETURN',
        '-X NSNET-PORTS',
        'EOF',
        'while ebtables -t filter -D FORWARD -j NSNET-BRIDGED 2>/dev/null; do :; done',
        "ebtables-restore --noflush <<'EOF'",
        '*filter',
        ':NSNET-BRIDGED RETURN',
        '-X NSNET-BRIDGED',
        'EOF',
        'while ebtables -t nat -D PREROUTING -j NSNET-IPV6-GUARD 2>/dev/null; do :; done',
        "ebtables-restore --noflush <<'EOF'",
        '*nat',
        ':NSNET-IPV6-GUARD RETURN',
        '-X NSNET-IPV6-GUARD',
        'EOF',
        // Partitions (firewall/partitions.ts): their chains go too, whatever the records say.
        'while iptables -w -D FORWARD -j NSNET-PARTITIONS 2>/dev/null; do :; done',
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-PARTITIONS - [0:0]',
        '-X NSNET-PARTITIONS',
        'COMMIT',
        'EOF',
        'while ip6tables -w -D FORWARD -j NSNET-PARTITIONS 2>/dev/null; do :; done',
        "ip6tables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-PARTITIONS - [0:0]',
        '-X NSNET-PARTITIONS',
        'COMMIT',
        'EOF',
        'while ebtables -t filter -D FORWARD -j NSNET-PARTITIONS 2>/dev/null; do :; done',
        "ebtables-restore --noflush <<'EOF'",
        '*filter',
        ':NSNET-PARTITIONS RETURN',
        '-X NSNET-PARTITIONS',
        'EOF',
      ].join('\n'),
    );
    const forward = fw.replace(EMPTY_FIREWALL, state, 'fixture');
    for (const s of steps) {
      assert.ok(s.kind === 'xtables-restore');
      // The IPv4-only fixture had nothing in ip6tables: those undos restore nothing.
      const f = forward.find((x) => x.kind === 'xtables-restore' && x.tool === s.tool && x.table === s.table && x.chains.join() === s.chains.join());
      assert.deepEqual(s.undoRules, f?.kind === 'xtables-restore' ? f.rules : null, `undo of ${s.tool} ${s.table} restores the rules before`);
    }
  });

  test('reset cleans every table even when the records hold nothing (a crash left rules behind)', () => {
    const steps = fw.replace(EMPTY_FIREWALL, EMPTY_FIREWALL, 'reset');
    assert.deepEqual(
      steps.map((s) => (s.kind === 'xtables-restore' ? `${s.tool} ${s.table} ${String(s.rules)}` : s.kind)),
      ['iptables filter null', 'iptables nat null', 'iptables raw null', 'ip6tables filter null', 'ip6tables nat null', 'ip6tables raw null', 'ebtables nat null', 'ebtables filter null', 'ebtables nat null', 'iptables filter null', 'ip6tables filter null', 'ebtables filter null'],
    );
  });

  test('a network without anti-spoofing or ICC off has no port rules, and works without ebtables; only an internal one leaves nat alone', () => {
    const tables = (n: NetworkSpec, driver = fw): string[] =>
      planCreateNetwork(n, EMPTY_FIREWALL, driver)
        .filter((s): s is Extract<Step, { kind: 'xtables-restore' }> => s.kind === 'xtables-restore')
        .map((s) => `${s.tool} ${s.table} ${s.chains.join(',')}`);
    // A routed network can publish ports: its hairpin and host masquerades live in nat.
    const routedTables = ['iptables filter NSNET-FORWARD,NSNET-ISOLATION', 'iptables nat NSNET-POSTROUTING,NSNET-DNAT', 'iptables raw NSNET-GUARD'];
    assert.deepEqual(tables(routed), [...routedTables, 'ebtables nat NSNET-IPV6-GUARD']);
    const closed = net('closed', 'br-closed', '10.3.0.0/24', { internal: true, antiSpoofing: false });
    assert.deepEqual(tables(closed), ['iptables filter NSNET-FORWARD,NSNET-ISOLATION', 'iptables raw NSNET-GUARD', 'ebtables nat NSNET-IPV6-GUARD']);
    // Without a usable ebtables such a network is still made, without the IPv6 guard (IPv6 is off
    // on its bridge and interfaces all the same).
    for (const ebtables of ['missing', 'legacy'] as const) assert.deepEqual(tables(routed, iptablesDriver(facts({ ebtables }))), routedTables);
  });

  test('the loopback guard: one rule, 127.0.0.0/8 only from lo, while there is any network (internal ones too)', () => {
    const raw = (before: FirewallState, after: FirewallState): Extract<Step, { kind: 'xtables-restore' }> | undefined =>
      fw.replace(before, after, 'x').find((s): s is Extract<Step, { kind: 'xtables-restore' }> => s.kind === 'xtables-restore' && s.table === 'raw');
    const only = (...networks: NetworkSpec[]): FirewallState => ({ networks, ports: [] });
    // Not from a bridge only: a machine on the uplink's LAN that routes 127.0.0.0/8 to the host
    // must not reach ports published on 127.0.0.1 either.
    const step = raw(EMPTY_FIREWALL, only(lab));
    assert.ok(step);
    assert.deepEqual(step.chains, ['NSNET-GUARD']);
    assert.deepEqual(step.jumps, [{ from: 'PREROUTING', to: 'NSNET-GUARD' }]);
    assert.deepEqual(step.rules, [LOOPBACK_GUARD]);
    assert.equal(step.undoRules, null);
    assert.deepEqual(raw(only(lab), state)?.rules, [LOOPBACK_GUARD], 'one rule whatever the number of networks');
    // No network left: the guard's chain and jump go (rules null), the undo restores them.
    const back = raw(only(lab), EMPTY_FIREWALL);
    assert.ok(back);
    assert.equal(back.rules, null);
    assert.deepEqual(back.undoRules, step.rules);
    // What the kernel runner sends: only NSNET-GUARD declared, the jump inserted once (and only if missing).
    const target: XtablesTarget = { tool: 'iptables', table: 'raw', chains: step.chains, jumps: step.jumps, rules: step.rules };
    const empty: SavedTable = { chains: new Set(['PREROUTING', 'OUTPUT']), rules: [] };
    assert.equal(
      restoreScript(target, empty),
      ['*raw', ':NSNET-GUARD - [0:0]', ...step.rules!, '-I PREROUTING 1 -j NSNET-GUARD', 'COMMIT', ''].join('\n'),
    );
    const there: SavedTable = { chains: new Set(['PREROUTING', 'OUTPUT', 'NSNET-GUARD']), rules: ['-A PREROUTING -j NSNET-GUARD', ...step.rules!] };
    assert.equal(restoreScript(target, there), ['*raw', ':NSNET-GUARD - [0:0]', ...step.rules!, 'COMMIT', ''].join('\n'));
    assert.equal(
      restoreScript({ ...target, rules: null }, there),
      ['*raw', '-D PREROUTING -j NSNET-GUARD', ':NSNET-GUARD - [0:0]', '-X NSNET-GUARD', 'COMMIT', ''].join('\n'),
    );
    assert.equal(restoreScript({ ...target, rules: null }, empty), '', 'nothing there: no restore run, no table made');
  });

  test('container ports render as ebtables rules; removal deletes them whether or not they are there', () => {
    const plan = renderPlan(planCreateContainer('red', [red], fw)).split('\n');
    assert.deepEqual(plan.slice(0, 6), [
      'ip netns add red',
      'ip -n red link set lo up',
      'ebtables -t nat -A NSNET-PORTS -i nsvs00000000001 -s ! 02:42:0a:00:00:01 -j DROP',
      'ebtables -t nat -A NSNET-PORTS -i nsvs00000000001 -p IPv4 --ip-src ! 10.0.0.1 -j DROP',
      'ebtables -t nat -A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-ip-src ! 10.0.0.1 -j DROP',
      'ebtables -t nat -A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-mac-src ! 02:42:0a:00:00:01 -j DROP',
    ]);
    assert.equal(
      renderPlan(planRemoveContainer('blue', [blue], fw)),
      [
        'ip netns del blue',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -s ! 02:42:0a:01:00:02 -j DROP 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p IPv4 --ip-src ! 10.1.0.2 -j DROP 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p ARP --arp-ip-src ! 10.1.0.2 -j DROP 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p ARP --arp-mac-src ! 02:42:0a:01:00:02 -j DROP 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p IPv6 --ip6-src fe80::42:aff:fe01:2 -j RETURN 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p IPv6 --ip6-src :: -j RETURN 2>/dev/null || true',
        'ebtables -t nat -D NSNET-PORTS -i nsvl00000000002 -p IPv6 -j DROP 2>/dev/null || true',
        'ebtables -t filter -D NSNET-BRIDGED -i nsvl00000000002 -j DROP 2>/dev/null || true',
      ].join('\n'),
    );
    // A port with anti-spoofing off on an ICC-on network needs no rule at all.
    assert.deepEqual(fw.addPorts([{ ...green, network: green.network }], 'green'), []);
  });

  test('without ebtables: ports that need it are refused with a hint, never silently unfiltered', () => {
    for (const ebtables of ['missing', 'legacy'] as const) {
      const d = iptablesDriver(facts({ ebtables }));
      assert.throws(
        () => d.addPorts([{ ...red, network: red.network }], 'red'),
        (err: unknown) => err instanceof NsnetError && err.code === 'FIREWALL' && /ebtables/.test(err.message) && /anti_spoofing=false/.test(err.hint ?? ''),
      );
      assert.throws(() => d.replace(EMPTY_FIREWALL, { networks: [study], ports: [] }, 'x'), /needs ebtables/);
      // Networks that need no port rule work, and removal needs nothing.
      assert.equal(d.replace(EMPTY_FIREWALL, { networks: [routed], ports: [] }, 'x').length, 3);
      assert.deepEqual(d.removePorts([{ ...red, network: red.network }], 'red'), []);
      assert.equal(d.replace(state, EMPTY_FIREWALL, 'reset').length, 8, 'iptables and ip6tables: filter, nat, raw; the partitions chain of each');
    }
    assert.throws(
      () => iptablesDriver(facts({ iptables: false })).replace(EMPTY_FIREWALL, { networks: [routed], ports: [] }, 'x'),
      (err: unknown) => err instanceof NsnetError && /apt-get install -y iptables/.test(err.hint ?? ''),
    );
  });
});

describe('xtables restore scripts (what the kernel runner sends, after reading the table)', () => {
  const target = (rules: string[] | null): XtablesTarget => ({
    tool: 'iptables',
    table: 'filter',
    chains: ['NSNET-FORWARD', 'NSNET-ISOLATION'],
    jumps: [{ from: 'FORWARD', to: 'NSNET-FORWARD' }],
    rules,
  });
  const saved = (chains: string[], rules: string[]): SavedTable => ({ chains: new Set(['INPUT', 'FORWARD', 'OUTPUT', ...chains]), rules });
  const foreign = ['-A FORWARD -j FOREIGN', '-A FOREIGN -p tcp -m tcp --dport 9999 -j DROP'];

  test('the jump is inserted only when missing, and duplicates of it are deleted', () => {
    const rule = '-A NSNET-FORWARD -i br0 -j ACCEPT';
    assert.equal(
      restoreScript(target([rule]), saved(['FOREIGN'], foreign)),
      ['*filter', ':NSNET-FORWARD - [0:0]', ':NSNET-ISOLATION - [0:0]', rule, '-I FORWARD 1 -j NSNET-FORWARD', 'COMMIT', ''].join('\n'),
    );
    const present = saved(['FOREIGN', 'NSNET-FORWARD'], ['-A FORWARD -j NSNET-FORWARD', ...foreign]);
    assert.doesNotMatch(restoreScript(target([rule]), present), /FORWARD 1/);
    const twice = saved(['NSNET-FORWARD'], ['-A FORWARD -j NSNET-FORWARD', '-A FORWARD -j NSNET-FORWARD']);
    assert.match(restoreScript(target([rule]), twice), /^-D FORWARD -j NSNET-FORWARD$/m);
  });

  test('removal deletes only what is there; nothing there means no restore run at all', () => {
    assert.equal(restoreScript(target(null), saved(['FOREIGN'], foreign)), '');
    assert.equal(
      restoreScript(target(null), saved(['FOREIGN', 'NSNET-FORWARD'], ['-A FORWARD -j NSNET-FORWARD', ...foreign])),
      ['*filter', '-D FORWARD -j NSNET-FORWARD', ':NSNET-FORWARD - [0:0]', '-X NSNET-FORWARD', 'COMMIT', ''].join('\n'),
    );
  });

  test("the nftables driver's NSNET-FORWARD is made with its jump, and removed with it, in one restore script each", () => {
    const step = compatStep(EMPTY_FIREWALL, { ...EMPTY_FIREWALL, networks: [study] }, { manage: true, existedBefore: false }, 'add network study');
    assert.ok(step.kind === 'xtables-restore' && step.rules !== null);
    assert.equal(
      restoreScript(step, saved(['FOREIGN'], foreign)),
      ['*filter', ':NSNET-FORWARD - [0:0]', ...step.rules, '-I FORWARD 1 -j NSNET-FORWARD', 'COMMIT', ''].join('\n'),
    );
    const made = saved(['FOREIGN', 'NSNET-FORWARD'], ['-A FORWARD -j NSNET-FORWARD', ...foreign, ...step.rules]);
    assert.equal(
      restoreScript({ ...step, rules: step.undoRules }, made),
      ['*filter', '-D FORWARD -j NSNET-FORWARD', ':NSNET-FORWARD - [0:0]', '-X NSNET-FORWARD', 'COMMIT', ''].join('\n'),
    );
  });

  test('ebtables scripts declare chains with a RETURN policy and have no COMMIT', () => {
    const t: XtablesTarget = { tool: 'ebtables', table: 'filter', chains: ['NSNET-PORTS'], jumps: [{ from: 'INPUT', to: 'NSNET-PORTS' }], rules: [] };
    assert.equal(restoreScript(t, saved([], [])), ['*filter', ':NSNET-PORTS RETURN', '-I INPUT 1 -j NSNET-PORTS', ''].join('\n'));
  });

  test('a port rule is found by its interface in either option order', () => {
    assert.equal(ruleInterface('-A NSNET-PORTS -s ! 02:42:0a:00:00:01 -i nsv1 -j DROP'), 'nsv1');
    assert.equal(ruleInterface('-A NSNET-PORTS -i nsv2 -p IPv4 --ip-src ! 10.0.0.1 -j DROP'), 'nsv2');
    assert.equal(ruleInterface('-A NSNET-BRIDGED -j NSNET-PORTS'), undefined);
  });
});

describe('ebtables port scripts (only the changed rules when the chains are intact)', () => {
  const base = {
    tool: 'ebtables' as const,
    table: 'filter',
    chains: ['NSNET-PORTS', 'NSNET-BRIDGED'],
    jumps: [
      { from: 'INPUT', to: 'NSNET-PORTS' },
      { from: 'FORWARD', to: 'NSNET-BRIDGED' },
    ],
  };
  const baseRules = ['-A NSNET-BRIDGED -j NSNET-PORTS'];
  const p1 = '-A NSNET-PORTS -s ! 02:42:0a:00:00:01 -i nsv1 -j DROP';
  const p2 = '-A NSNET-PORTS -s ! 02:42:0a:00:00:02 -i nsv2 -j DROP';
  const intact: SavedTable = {
    chains: new Set(['INPUT', 'FORWARD', 'OUTPUT', 'NSNET-PORTS', 'NSNET-BRIDGED']),
    rules: ['-A INPUT -j NSNET-PORTS', '-A FORWARD -j NSNET-BRIDGED', '-A FORWARD -p IPv6 -j DROP', ...baseRules, p1],
  };
  const empty: SavedTable = { chains: new Set(['INPUT', 'FORWARD', 'OUTPUT']), rules: ['-A FORWARD -p IPv6 -j DROP'] };

  test('add appends; a repeated add replaces the port rules instead of duplicating them', () => {
    assert.equal(portScript(base, baseRules, intact, ['nsv2'], [p2]), ['*filter', p2, ''].join('\n'));
    assert.equal(portScript(base, baseRules, intact, ['nsv1'], [p1]), ['*filter', p1.replace('-A', '-D'), p1, ''].join('\n'));
  });

  test('remove deletes the saved lines of that port, and is a no-op when they are gone', () => {
    assert.equal(portScript(base, baseRules, intact, ['nsv1'], []), ['*filter', p1.replace('-A', '-D'), ''].join('\n'));
    assert.equal(portScript(base, baseRules, intact, ['nsv9'], []), '');
    assert.equal(portScript(base, baseRules, empty, ['nsv1'], []), '', 'no chains: nothing to remove, and no table made');
  });

  test('missing chains are written whole with their jumps; foreign rules are never named', () => {
    const script = portScript(base, baseRules, empty, ['nsv2'], [p2]);
    assert.equal(
      script,
      ['*filter', ':NSNET-PORTS RETURN', ':NSNET-BRIDGED RETURN', ...baseRules, p2, '-I INPUT 1 -j NSNET-PORTS', '-I FORWARD 1 -j NSNET-BRIDGED', ''].join('\n'),
    );
    assert.doesNotMatch(script, /IPv6/);
  });
});

describe('iptables driver: published ports', () => {
  const web: FirewallMapping = { hostIp: undefined, hostPort: 8080, proto: 'tcp', containerIp: '10.0.0.1', containerPort: 80, container: 'red' };
  const local: FirewallMapping = { hostIp: '127.0.0.1', hostPort: 8081, proto: 'tcp', containerIp: '10.0.0.1', containerPort: 80 };
  const dns: FirewallMapping = { hostIp: '0.0.0.0', hostPort: 5353, proto: 'udp', containerIp: '10.2.0.3', containerPort: 53 };
  const sctp: FirewallMapping = { hostIp: '192.0.2.7', hostPort: 9, proto: 'sctp', containerIp: '10.2.0.3', containerPort: 9 };
  const webRule =
    '-A NSNET-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "nsnet publish 0.0.0.0:8080/tcp to 10.0.0.1:80 (container red)" -j DNAT --to-destination 10.0.0.1:80';
  const localRule =
    '-A NSNET-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -m comment --comment "nsnet publish 127.0.0.1:8081/tcp to 10.0.0.1:80" -j DNAT --to-destination 10.0.0.1:80';

  test('one DNAT rule per mapping, as iptables-save prints it, its comment naming the mapping and the container', () => {
    const steps = fw.addMappings([web, local, dns, sctp], 'publish red');
    assert.equal(steps.length, 1, 'one restore run for all of them');
    const step = steps[0]!;
    assert.ok(step.kind === 'iptables-rules' && step.op === 'add');
    assert.equal(step.table, 'nat');
    assert.deepEqual(step.chains, ['NSNET-DNAT']);
    assert.deepEqual(
      step.jumps.map((j) => `${j.from} ${j.match} ${j.to}`),
      ['PREROUTING -m addrtype --dst-type LOCAL NSNET-DNAT', 'OUTPUT -m addrtype --dst-type LOCAL NSNET-DNAT'],
    );
    assert.deepEqual(step.rules, [
      webRule,
      localRule,
      // 0.0.0.0 is every address: no -d.
      '-A NSNET-DNAT -p udp -m udp --dport 5353 -m comment --comment "nsnet publish 0.0.0.0:5353/udp to 10.2.0.3:53" -j DNAT --to-destination 10.2.0.3:53',
      '-A NSNET-DNAT -d 192.0.2.7/32 -p sctp -m sctp --dport 9 -m comment --comment "nsnet publish 192.0.2.7:9/sctp to 10.2.0.3:9" -j DNAT --to-destination 10.2.0.3:9',
    ]);
    assert.deepEqual(step.keys, [
      'nsnet publish 0.0.0.0:8080/tcp to 10.0.0.1:80',
      'nsnet publish 127.0.0.1:8081/tcp to 10.0.0.1:80',
      'nsnet publish 0.0.0.0:5353/udp to 10.2.0.3:53',
      'nsnet publish 192.0.2.7:9/sctp to 10.2.0.3:9',
    ]);
    assert.equal(renderPlan([step]).split('\n')[0], `iptables -w -t nat ${webRule}`);
  });

  test('removal is the same step with op remove; the undo of each is the other', () => {
    const [add] = fw.addMappings([web], 'publish red');
    const [remove] = fw.removeMappings([web], 'withdraw red');
    assert.ok(add?.kind === 'iptables-rules' && remove?.kind === 'iptables-rules');
    assert.deepEqual({ ...remove, op: 'add', summary: '' }, { ...add, summary: '' });
    assert.equal(renderPlan([remove]), `iptables -w -t nat -D ${webRule.slice(3)} 2>/dev/null || true`);
    assert.deepEqual(fw.addMappings([], 'x'), []);
    assert.deepEqual(fw.removeMappings([], 'x'), []);
  });

  test('published last when a container is made, withdrawn first when it goes', () => {
    const create = planCreateContainer('red', [red], fw, [web]);
    assert.equal(create.at(-1)?.kind, 'iptables-rules');
    const remove = planRemoveContainer('red', [red], fw, [web]);
    assert.equal(remove[0]?.kind, 'iptables-rules');
  });

  test('replace carries the published ports: a network change rewrites NSNET-DNAT with them; the undo with those before', () => {
    const withPorts: FirewallState = { ...state, mappings: [web, local] };
    const steps = fw.replace(state, withPorts, 'network create');
    const nat = steps.find((s): s is Extract<Step, { kind: 'xtables-restore' }> => s.kind === 'xtables-restore' && s.table === 'nat');
    assert.ok(nat);
    assert.deepEqual(nat.chains, ['NSNET-POSTROUTING', 'NSNET-DNAT']);
    assert.deepEqual(nat.rules?.slice(-2), [webRule, localRule]);
    assert.ok(!(nat.undoRules ?? []).some((r) => r.startsWith('-A NSNET-DNAT')), 'before: no published port');
    const back = fw.replace(withPorts, state, 'x').find((s) => s.kind === 'xtables-restore' && s.table === 'nat');
    assert.ok(back?.kind === 'xtables-restore');
    assert.deepEqual(back.undoRules?.slice(-2), [webRule, localRule]);
  });

  test('without iptables: publishing is refused with a hint; withdrawing needs nothing', () => {
    const d = iptablesDriver(facts({ iptables: false }));
    assert.throws(() => d.addMappings([web], 'publish red'), (err: unknown) => err instanceof NsnetError && /apt-get install -y iptables/.test(err.hint ?? ''));
    assert.deepEqual(d.removeMappings([web], 'withdraw red'), []);
  });
});

describe('iptables rules found by their comment (published ports)', () => {
  const base = {
    tool: 'iptables' as const,
    table: 'nat',
    chains: ['NSNET-DNAT'],
    jumps: [
      { from: 'PREROUTING', to: 'NSNET-DNAT', match: '-m addrtype --dst-type LOCAL' },
      { from: 'OUTPUT', to: 'NSNET-DNAT', match: '-m addrtype --dst-type LOCAL' },
    ],
  };
  const key = 'nsnet publish 0.0.0.0:8080/tcp to 10.0.0.1:7000';
  // As written, and as iptables-save prints it back (same here: nsnet writes the saved form).
  const r1 = `-A NSNET-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "${key} (container web)" -j DNAT --to-destination 10.0.0.1:7000`;
  const other = '-A NSNET-DNAT -p tcp -m tcp --dport 8081 -m comment --comment "nsnet publish 0.0.0.0:8081/tcp to 10.0.0.1:70001" -j DNAT --to-destination 10.0.0.1:7000';
  const foreign = ['-A PREROUTING -j FOREIGN', '-A FOREIGN -d 192.0.2.1/32 -j RETURN', '-A POSTROUTING -j NSNET-POSTROUTING'];
  const jumps = ['-A PREROUTING -m addrtype --dst-type LOCAL -j NSNET-DNAT', '-A OUTPUT -m addrtype --dst-type LOCAL -j NSNET-DNAT'];
  const chains = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'FOREIGN', 'NSNET-POSTROUTING']);
  const intact: SavedTable = { chains: new Set([...chains, 'NSNET-DNAT']), rules: [...foreign, ...jumps, r1, other] };
  const empty: SavedTable = { chains, rules: foreign };
  const script = (saved: SavedTable, keys: string[], add: string[]): string => keyedScript(base, [], saved, ruleComment, keys, add);

  test('the comment is read back quoted or not', () => {
    assert.equal(ruleComment(r1), `${key} (container web)`);
    assert.equal(ruleComment('-A X -m comment --comment plain -j ACCEPT'), 'plain');
    assert.equal(ruleComment('-A X -m comment --comment "a \\"b\\"" -j ACCEPT'), 'a "b"');
    assert.equal(ruleComment('-A X -j ACCEPT'), undefined);
  });

  test('remove deletes the saved line whose comment is the key (with or without a container name), and nothing else', () => {
    assert.equal(script(intact, [key], []), ['*nat', r1.replace('-A', '-D'), 'COMMIT', ''].join('\n'));
    const bare = r1.replace(' (container web)', '');
    assert.equal(script({ ...intact, rules: [...foreign, ...jumps, bare] }, [key], []), ['*nat', bare.replace('-A', '-D'), 'COMMIT', ''].join('\n'));
    // 10.0.0.1:7000 is not a prefix of 10.0.0.1:70001 at a word boundary.
    assert.equal(script({ ...intact, rules: [...foreign, ...jumps, other] }, ['nsnet publish 0.0.0.0:8081/tcp to 10.0.0.1:7000'], []), '');
    assert.equal(script(intact, ['nsnet publish 0.0.0.0:9999/tcp to 10.0.0.1:1'], []), '', 'not there: no restore run');
    assert.equal(script(empty, [key], []), '', 'no chain: nothing to remove, and nothing made');
  });

  test('add appends; a repeated add replaces instead of duplicating', () => {
    const r2 = r1.replace(/8080/g, '8082');
    assert.equal(script(intact, [key.replace('8080', '8082')], [r2]), ['*nat', r2, 'COMMIT', ''].join('\n'));
    assert.equal(script(intact, [key], [r1]), ['*nat', r1.replace('-A', '-D'), r1, 'COMMIT', ''].join('\n'));
  });

  test('a missing chain is made with both jumps (their matches included); foreign rules are never named', () => {
    const out = script(empty, [key], [r1]);
    assert.equal(
      out,
      [
        '*nat',
        ':NSNET-DNAT - [0:0]',
        r1,
        '-I PREROUTING 1 -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        '-I OUTPUT 1 -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(out, /FOREIGN|NSNET-POSTROUTING/);
    // A missing jump alone is put back.
    assert.equal(script({ ...intact, rules: [...foreign, jumps[0]!, r1] }, [key], [r1]).split('\n').at(-3), '-I OUTPUT 1 -m addrtype --dst-type LOCAL -j NSNET-DNAT');
  });

  test('removing the nat chains deletes jumps with matches exactly as saved', () => {
    const target: XtablesTarget = { ...base, chains: ['NSNET-POSTROUTING', 'NSNET-DNAT'], rules: null };
    assert.equal(
      restoreScript(target, intact),
      [
        '*nat',
        '-D PREROUTING -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        '-D OUTPUT -m addrtype --dst-type LOCAL -j NSNET-DNAT',
        ':NSNET-POSTROUTING - [0:0]',
        ':NSNET-DNAT - [0:0]',
        '-X NSNET-POSTROUTING',
        '-X NSNET-DNAT',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
