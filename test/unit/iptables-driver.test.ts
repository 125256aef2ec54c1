import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { planCreateContainer, planCreateNetwork, planRemoveContainer, type EndpointSpec, type NetworkSpec } from '../../src/engine/plans.js';
import { iptablesDriver, type IptablesHostFacts } from '../../src/firewall/iptables-driver.js';
import { EMPTY_FIREWALL, type FirewallState } from '../../src/firewall/model.js';
import { portScript, restoreScript, ruleInterface, type SavedTable, type XtablesTarget } from '../../src/kernel/xtables.js';
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
  const ip = network.subnet.replace(/0\/24$/, String(n));
  const hex = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return { network, hostIf: `nsv${network.name.slice(0, 1)}0000000000${n}`, ifName, ip, mac: `02:42:${hex.join(':')}` };
};
const red = ep(study, 1);
const blue = ep(lab, 2);
const green = ep(routed, 3);

const state: FirewallState = {
  networks: [study, lab, routed],
  ports: [red, blue, green].map((e) => ({ hostIf: e.hostIf, mac: e.mac, ip: e.ip, network: e.network })),
};

const c = (n: string): string => `-m comment --comment "nsnet network ${n}"`;

describe('iptables driver (golden: the restore scripts for a fixture)', () => {
  test('replace renders one iptables-restore per table with nsnet chains, rules and jumps', () => {
    assert.equal(
      renderPlan(fw.replace(EMPTY_FIREWALL, state, 'fixture')),
      [
        "iptables-restore -w --noflush <<'EOF'",
        '*filter',
        ':NSNET-FORWARD - [0:0]',
        ':NSNET-ISOLATION - [0:0]',
        `-A NSNET-FORWARD -i br-study ! -o br-study ${c('study')} -j NSNET-ISOLATION`,
        `-A NSNET-FORWARD -o br-study ! -i br-study -m conntrack ! --ctstate RELATED,ESTABLISHED ${c('study')} -j DROP`,
        `-A NSNET-FORWARD -i br-lab ! -o br-lab ${c('lab')} -j DROP`,
        `-A NSNET-FORWARD -o br-lab ! -i br-lab ${c('lab')} -j DROP`,
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
        `-A NSNET-POSTROUTING -s 10.0.0.0/24 ! -o br-study ${c('study')} -j MASQUERADE`,
        'COMMIT',
        'EOF',
        'iptables -w -t nat -C POSTROUTING -j NSNET-POSTROUTING 2>/dev/null || iptables -w -t nat -I POSTROUTING 1 -j NSNET-POSTROUTING',
        "ebtables-restore --noflush <<'EOF'",
        '*nat',
        ':NSNET-PORTS RETURN',
        '-A NSNET-PORTS -i nsvs00000000001 -s ! 02:42:0a:00:00:01 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p IPv4 --ip-src ! 10.0.0.1 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-ip-src ! 10.0.0.1 -j DROP',
        '-A NSNET-PORTS -i nsvs00000000001 -p ARP --arp-mac-src ! 02:42:0a:00:00:01 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -s ! 02:42:0a:01:00:02 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p IPv4 --ip-src ! 10.1.0.2 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p ARP --arp-ip-src ! 10.1.0.2 -j DROP',
        '-A NSNET-PORTS -i nsvl00000000002 -p ARP --arp-mac-src ! 02:42:0a:01:00:02 -j DROP',
        'EOF',
        "ebtables-save -t nat | grep -qxF -- '-A PREROUTING -j NSNET-PORTS' || ebtables -t nat -I PREROUTING 1 -j NSNET-PORTS",
        "ebtables-restore --noflush <<'EOF'",
        '*filter',
        ':NSNET-BRIDGED RETURN',
        '-A NSNET-BRIDGED -i nsvl00000000002 -j DROP',
        'EOF',
        "ebtables-save -t filter | grep -qxF -- '-A FORWARD -j NSNET-BRIDGED' || ebtables -t filter -I FORWARD 1 -j NSNET-BRIDGED",
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
        "iptables-restore -w --noflush <<'EOF'",
        '*nat',
        ':NSNET-POSTROUTING - [0:0]',
        '-X NSNET-POSTROUTING',
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
      ].join('\n'),
    );
    const forward = fw.replace(EMPTY_FIREWALL, state, 'fixture');
    for (const [i, s] of steps.entries()) {
      const f = forward[i]!;
      assert.ok(s.kind === 'xtables-restore' && f.kind === 'xtables-restore');
      assert.deepEqual(s.undoRules, f.rules, `undo of ${s.tool} ${s.table} restores the rules before`);
    }
  });

  test('reset cleans every table even when the records hold nothing (a crash left rules behind)', () => {
    const steps = fw.replace(EMPTY_FIREWALL, EMPTY_FIREWALL, 'reset');
    assert.deepEqual(
      steps.map((s) => (s.kind === 'xtables-restore' ? `${s.tool} ${s.table} ${String(s.rules)}` : s.kind)),
      ['iptables filter null', 'iptables nat null', 'ebtables nat null', 'ebtables filter null'],
    );
  });

  test('a network without masquerade, anti-spoofing or ICC off does not touch the nat table or ebtables', () => {
    const plan = planCreateNetwork(routed, EMPTY_FIREWALL, fw);
    assert.deepEqual(
      plan.filter((s): s is Extract<Step, { kind: 'xtables-restore' }> => s.kind === 'xtables-restore').map((s) => `${s.tool} ${s.table}`),
      ['iptables filter'],
    );
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
      assert.equal(d.replace(EMPTY_FIREWALL, { networks: [routed], ports: [] }, 'x').length, 1);
      assert.deepEqual(d.removePorts([{ ...red, network: red.network }], 'red'), []);
      assert.equal(d.replace(state, EMPTY_FIREWALL, 'reset').length, 2);
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
