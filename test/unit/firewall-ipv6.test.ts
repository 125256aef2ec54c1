/**
 * Issue 15, the firewall and published ports for IPv6, without the kernel: the nftables scripts
 * and the iptables driver's rules for dual-stack, IPv6-only and IPv4-only networks, container
 * ports and published ports of both families, and Docker's `-p [v6]:...` syntax.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linkLocalFor } from '../../src/core/ipv6.js';
import { collides, formatMapping, forwardTargets, hostBindings, hostsOverlap, parsePortSpec } from '../../src/engine/ports.js';
import { dnatRules, filterRules, filterRules6, guardRules, iptablesDriver, mappingKey, natRules, natRules6, spoofRules } from '../../src/firewall/iptables-driver.js';
import type { FirewallMapping, FirewallNetwork, FirewallPort, FirewallState } from '../../src/firewall/model.js';
import { nftablesDriver } from '../../src/firewall/nftables-driver.js';
import { addMappingsScript, addPortsScript, removeMappingsScript, removePortsScript, replaceScript } from '../../src/firewall/nftables.js';
import { run } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import { driverFor } from '../../src/ops/firewall-choice.js';
import { containerPorts } from '../../src/ops/ports.js';
import { FakeHost } from '../helpers/fake-host.js';
import { codeOf, fixture, runInput, stateOf, type Op } from '../helpers/ops-fixture.js';

const network = (name: string, subnet: string | null, subnet6: string | null, over: Partial<FirewallNetwork> = {}): FirewallNetwork => ({
  id: name.padEnd(64, '0'),
  name,
  bridge: `br-${name}`,
  subnet,
  subnet6,
  internal: false,
  icc: true,
  masquerade: true,
  antiSpoofing: true,
  ...over,
});

const dual = network('dual', '10.30.0.0/24', '2001:db8:30::/64');
const only6 = network('only6', null, '2001:db8:60::/64');
const only4 = network('only4', '10.40.0.0/24', null);

const port = (n: FirewallNetwork, i: number, ip: string | null, ip6: string | null): FirewallPort => ({
  hostIf: `nsv${n.name.slice(0, 2)}000000000${i}`.slice(0, 15),
  mac: `02:42:0a:00:00:${i.toString(16).padStart(2, '0')}`,
  ip,
  ip6,
  network: n,
});
const a = port(dual, 2, '10.30.0.2', '2001:db8:30::2');
const b = port(only6, 3, null, '2001:db8:60::3');
const c = port(only4, 4, '10.40.0.4', null);

const web4: FirewallMapping = { hostIp: undefined, hostPort: 8080, proto: 'tcp', containerIp: '10.30.0.2', containerPort: 80 };
const web6: FirewallMapping = { ...web4, containerIp: '2001:db8:30::2' };
const loop6: FirewallMapping = { ...web6, hostIp: '::1', hostPort: 8081 };
const any6: FirewallMapping = { ...web6, hostIp: '::', hostPort: 8082 };

const lines = (script: string): string[] => script.split('\n').map((l) => l.trim());
/** The rules of a script: lines inside chains (not declarations, elements or braces). */
function rules(script: string): string[] {
  const out: string[] = [];
  let inChain = false;
  for (const l of lines(script)) {
    if (l.startsWith('chain ')) inChain = true;
    else if (l === '}') inChain = false;
    else if (inChain && l !== '' && !l.startsWith('type ')) out.push(l);
  }
  return out;
}
const setBody = (script: string, name: string): string => {
  const all = lines(script);
  const at = all.findIndex((l) => l === `set ${name} {` || l === `map ${name} {`);
  assert.ok(at >= 0, `set ${name} in the script`);
  return all.slice(at, all.indexOf('}', at)).join('\n');
};

describe('nftables: the inet table for both families', () => {
  const script = replaceScript({ networks: [dual, only6, only4], ports: [a, b, c], mappings: [web4, web6, loop6, any6] });

  test('NAT66 and hairpin per IPv6 subnet; no IPv4 rule for an IPv6-only network, no IPv6 rule for an IPv4-only one', () => {
    const r = rules(script);
    for (const want of [
      'ip saddr 10.30.0.0/24 oifname != "br-dual" masquerade comment "nsnet network dual dual00000000"',
      'ip6 saddr 2001:db8:30::/64 oifname != "br-dual" masquerade comment "nsnet network dual dual00000000"',
      'ip6 saddr 2001:db8:30::/64 oifname "br-dual" ct status dnat masquerade comment "nsnet network dual dual00000000"',
      'ip6 saddr 2001:db8:60::/64 oifname != "br-only6" masquerade comment "nsnet network only6 only60000000"',
      'ip saddr 10.40.0.0/24 oifname != "br-only4" masquerade comment "nsnet network only4 only40000000"',
    ]) {
      assert.ok(r.includes(want), `${want}\nin\n${r.join('\n')}`);
    }
    assert.ok(!r.some((l) => /ip6 saddr .*br-only4/.test(l)));
    assert.ok(!r.some((l) => /^ip saddr .*only6/.test(l)));
  });

  test('enable_ip_masquerade=false routes IPv6 too: no NAT66 rule, hairpin kept', () => {
    const routed = network('routed', '10.50.0.0/24', '2001:db8:50::/64', { masquerade: false });
    const r = rules(replaceScript({ networks: [routed], ports: [] }));
    assert.ok(!r.some((l) => /oifname != "br-routed" masquerade/.test(l)));
    assert.ok(r.some((l) => l.startsWith('ip6 saddr 2001:db8:50::/64 oifname "br-routed" ct status dnat masquerade')));
    assert.ok(!r.some((l) => /ct state != \{ established, related \} drop.*routed/.test(l)), 'a routed network is reachable from outside');
  });

  test('the loopback guard for ::1 beside 127.0.0.0/8', () => {
    assert.ok(rules(script).includes('iifname != "lo" ip6 daddr ::1 drop'));
    assert.ok(rules(script).includes('iifname != "lo" ip daddr 127.0.0.0/8 drop'));
  });

  test('published ports: one map pair per family, a mapping in the maps of its container address', () => {
    assert.match(setBody(script, 'published_any'), /elements = \{ tcp \. 8080 : 10\.30\.0\.2 \. 80 \}/);
    assert.match(setBody(script, 'published6_any'), /elements = \{ tcp \. 8080 : 2001:db8:30::2 \. 80, tcp \. 8082 : 2001:db8:30::2 \. 80 \}/);
    assert.match(setBody(script, 'published6'), /elements = \{ ::1 \. tcp \. 8081 : 2001:db8:30::2 \. 80 \}/);
    assert.doesNotMatch(setBody(script, 'published'), /elements/);
    assert.match(setBody(script, 'published6'), /type ipv6_addr \. inet_proto \. inet_service : ipv6_addr \. inet_service/);
    const dnat = rules(script).filter((l) => / dnat ip6? to /.test(l));
    assert.equal(dnat.length, 8, 'four maps, two hooks (prerouting, output)');
    assert.ok(dnat.includes('fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @published6'));
    assert.ok(dnat.includes('meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @published6_any'));
  });

  test('publishing and withdrawing IPv6 ports: map elements only, withdrawal by key and idempotent', () => {
    assert.equal(
      addMappingsScript([loop6, web6]),
      'add element inet nsnet published6 { ::1 . tcp . 8081 : 2001:db8:30::2 . 80 }\nadd element inet nsnet published6_any { tcp . 8080 : 2001:db8:30::2 . 80 }\n',
    );
    const rm = lines(removeMappingsScript([loop6]));
    assert.ok(rm.includes('add map inet nsnet published6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }'));
    assert.ok(rm.includes('delete element inet nsnet published6 { ::1 . tcp . 8081 }'));
  });

  test('the number of rules does not grow with containers or published ports', () => {
    const many = Array.from({ length: 40 }, (_, i) => port(dual, 10 + i, `10.30.0.${10 + i}`, `2001:db8:30::${(10 + i).toString(16)}`));
    const maps = many.flatMap((p, i) => [
      { ...web4, hostPort: 9000 + i, containerIp: p.ip! },
      { ...web4, hostPort: 9000 + i, containerIp: p.ip6! },
    ]);
    const small = rules(replaceScript({ networks: [dual], ports: [a], mappings: [web4, web6] }));
    const big = rules(replaceScript({ networks: [dual], ports: many, mappings: maps }));
    assert.deepEqual(big, small);
  });
});

describe('nftables: the bridge table (IPv6 anti-spoofing, NDP, RA guard)', () => {
  const script = replaceScript({ networks: [dual, only6, only4], ports: [a, b, c] });

  test('IPv6 frames take one chain, entered first on the EtherType: an IPv4 frame pays one comparison', () => {
    const all = lines(script);
    const pre = all.slice(all.indexOf('chain prerouting {', all.indexOf('table bridge nsnet {')) + 2, all.indexOf('chain from_port6 {') - 1);
    assert.equal(pre[0], 'ether type ip6 jump from_port6');
    assert.ok(!pre.some((l) => l.includes('icmpv6')), 'the RA guard is not in the path of IPv4 frames');
    const v6 = all.slice(all.indexOf('chain from_port6 {') + 1, all.indexOf('}', all.indexOf('chain from_port6 {')));
    assert.deepEqual(v6, [
      'iifname != "nsv*" return',
      'icmpv6 type { nd-router-advert, nd-redirect } drop',
      'udp sport 547 udp dport 546 drop',
      'iifname != @ports return',
      'iifname . ether saddr . ip6 saddr != @port_addrs6 drop',
      'meta l4proto != ipv6-icmp accept',
      'icmpv6 type nd-neighbor-advert iifname . ether saddr . @th,64,128 != @port_targets6 drop',
      'ip6 saddr :: icmpv6 type nd-neighbor-solicit iifname . ether saddr . @th,64,128 != @port_targets6 drop',
      'accept',
    ]);
    // Accepted only after port_addrs6, whose key holds the MAC: the calling chain's MAC check is not skipped for anything unchecked.
    assert.ok(v6.indexOf('meta l4proto != ipv6-icmp accept') > v6.indexOf('iifname . ether saddr . ip6 saddr != @port_addrs6 drop'));
    assert.ok(v6.indexOf('iifname != @ports return') < v6.indexOf('meta l4proto != ipv6-icmp accept'), 'a port without anti-spoofing returns before any accept');
  });

  test('a port may send from its global address, its link-local address (from its MAC) and ::', () => {
    const body = setBody(script, 'port_addrs6');
    const ll = linkLocalFor(a.mac);
    assert.equal(ll, 'fe80::42:aff:fe00:2');
    for (const addr of ['2001:db8:30::2', ll, '::']) assert.ok(body.includes(`"${a.hostIf}" . ${a.mac} . ${addr}`), `${addr} in\n${body}`);
    // An IPv4-only port: its link-local address and :: only (IPv6 is off there unless it turns it on).
    assert.ok(body.includes(`"${c.hostIf}" . ${c.mac} . ${linkLocalFor(c.mac)}`));
    assert.ok(!new RegExp(`"${c.hostIf}" [^,]* 2001:`).test(body));
  });

  test("an NA may only advertise the port's own addresses (raw 128-bit target, nft 1.0.6 has no keyword)", () => {
    const body = setBody(script, 'port_targets6');
    assert.match(body, /typeof iifname \. ether saddr \. @th,64,128/);
    assert.ok(body.includes(`"${a.hostIf}" . ${a.mac} . 0x20010db8003000000000000000000002`));
    assert.ok(body.includes(`"${a.hostIf}" . ${a.mac} . 0xfe8000000000000000420afffe000002`));
    assert.ok(!body.includes(' . 0x00000000000000000000000000000000'), ':: is no target');
  });

  test('an IPv6-only port has no IPv4 address: every IPv4 and ARP frame from it is dropped', () => {
    assert.ok(!setBody(script, 'port_addrs').includes(b.hostIf));
    assert.ok(setBody(script, 'port_macs').includes(b.hostIf));
  });

  test('an anti-spoofing-off port is in no anti-spoofing set; the RA guard still holds for it (by name)', () => {
    const open = port(network('open', null, '2001:db8:70::/64', { antiSpoofing: false }), 5, null, '2001:db8:70::5');
    assert.equal(addPortsScript([open]), '');
    assert.ok(rules(replaceScript({ networks: [open.network as FirewallNetwork], ports: [open] })).includes('icmpv6 type { nd-router-advert, nd-redirect } drop'));
  });

  test('ports come and go as set elements of both families in one transaction', () => {
    const add = lines(addPortsScript([a]));
    assert.ok(add.some((l) => l.startsWith('add element bridge nsnet port_addrs6 {')));
    assert.ok(add.some((l) => l.startsWith('add element bridge nsnet port_targets6 {')));
    const rm = lines(removePortsScript([a]));
    assert.ok(rm.includes('add set bridge nsnet port_targets6 { typeof iifname . ether saddr . @th,64,128; }'));
    assert.ok(rm.some((l) => l.startsWith('delete element bridge nsnet port_addrs6 {')));
  });

  test('the scripts run on the fake machine: replace, ports and mappings in and out, undo to nothing', () => {
    const host = new FakeHost();
    const nft = nftablesDriver();
    const empty: FirewallState = { networks: [], ports: [], mappings: [] };
    const nets: FirewallState = { networks: [dual, only6], ports: [], mappings: [] };
    const steps = [
      ...nft.replace(empty, nets, 'create'),
      ...nft.addPorts([a, b], 'ports'),
      ...nft.addMappings([web4, web6, loop6], 'publish'),
      ...nft.removeMappings([loop6], 'withdraw'),
      ...nft.removePorts([b], 'unplug'),
    ];
    for (const s of steps) host.apply(s);
    const listed = host.nftTable('bridge', 'nsnet') ?? '';
    assert.match(listed, /typeof iifname \. ether saddr \. @th,64,128/);
    assert.ok(listed.includes('2001:db8:30::2') && !listed.includes('2001:db8:60::3'));
    for (const s of [...steps].reverse()) host.undo(s);
    assert.equal(host.nftTable('bridge', 'nsnet'), undefined);
  });
});

describe('iptables driver: ip6tables and ebtables for IPv6', () => {
  test('ip6tables chains only while a network has IPv6; the filter rules are the interface rules of both families', () => {
    assert.equal(filterRules6([only4]), null);
    assert.equal(natRules6([only4], [web4]), null);
    assert.equal(guardRules([only4], 6), null);
    assert.deepEqual(filterRules6([dual, only4]), filterRules([dual, only4]));
    assert.deepEqual(guardRules([dual], 6), ['-A NSNET-GUARD -d ::1/128 ! -i lo -m comment --comment "nsnet: ::1 only from lo" -j DROP']);
  });

  test('NAT66, the host and hairpin masquerades per IPv6 subnet; IPv4 rules skip an IPv6-only network', () => {
    const cm = (n: string): string => `-m comment --comment "nsnet network ${n}"`;
    assert.deepEqual(natRules6([dual, only4], []), [
      `-A NSNET-POSTROUTING -s 2001:db8:30::/64 ! -o br-dual ${cm('dual')} -j MASQUERADE`,
      `-A NSNET-POSTROUTING -o br-dual -m addrtype --src-type LOCAL -m conntrack --ctstate DNAT ${cm('dual')} -j MASQUERADE`,
      `-A NSNET-POSTROUTING -s 2001:db8:30::/64 -o br-dual -m conntrack --ctstate DNAT ${cm('dual')} -j MASQUERADE`,
    ]);
    assert.ok(!(natRules([only6]) ?? []).some((r) => r.includes('null')));
    assert.equal(natRules([only6]), null);
  });

  test('DNAT to [ADDR]:PORT, -d ADDR/128, keys with brackets; each family in its own tool', () => {
    assert.deepEqual(dnatRules([loop6]), [
      '-A NSNET-DNAT -d ::1/128 -p tcp -m tcp --dport 8081 -m comment --comment "nsnet publish [::1]:8081/tcp to [2001:db8:30::2]:80" -j DNAT --to-destination [2001:db8:30::2]:80',
    ]);
    assert.equal(mappingKey(any6), 'nsnet publish [::]:8082/tcp to [2001:db8:30::2]:80');
    assert.equal(mappingKey(web4), 'nsnet publish 0.0.0.0:8080/tcp to 10.30.0.2:80');
    assert.deepEqual(natRules6([dual], [web4, web6])?.filter((r) => r.includes('DNAT --to')), dnatRules([web6]));
    const steps = iptablesDriver(() => ({ iptables: true, ebtables: 'ok' })).addMappings([web4, web6, loop6], 'publish');
    assert.deepEqual(
      steps.map((s) => (s.kind === 'iptables-rules' ? [s.tool ?? 'iptables', s.keys.length] : [])),
      [
        ['iptables', 1],
        ['ip6tables', 2],
      ],
    );
  });

  test('a network change writes the ip6tables tables beside the iptables ones; an IPv4-only host never runs ip6tables', () => {
    const d = iptablesDriver(() => ({ iptables: true, ebtables: 'ok' }));
    const empty: FirewallState = { networks: [], ports: [] };
    const tools = (steps: ReturnType<typeof d.replace>): string[] => steps.flatMap((s) => (s.kind === 'xtables-restore' ? [`${s.tool} ${s.table}`] : []));
    assert.deepEqual(tools(d.replace(empty, { networks: [dual], ports: [] }, 'x')).filter((t) => t.startsWith('ip6tables')), ['ip6tables filter', 'ip6tables nat', 'ip6tables raw']);
    assert.deepEqual(tools(d.replace(empty, { networks: [only4], ports: [] }, 'x')).filter((t) => t.startsWith('ip6tables')), []);
  });

  test('ebtables: IPv6 sources allowed by RETURN, the rest dropped; an IPv6-only port sends no IPv4 or ARP', () => {
    const ll = linkLocalFor(a.mac);
    assert.deepEqual(spoofRules([a]).slice(4), [
      `-A NSNET-PORTS -i ${a.hostIf} -p IPv6 --ip6-src 2001:db8:30::2 -j RETURN`,
      `-A NSNET-PORTS -i ${a.hostIf} -p IPv6 --ip6-src ${ll} -j RETURN`,
      `-A NSNET-PORTS -i ${a.hostIf} -p IPv6 --ip6-src :: -j RETURN`,
      `-A NSNET-PORTS -i ${a.hostIf} -p IPv6 -j DROP`,
    ]);
    assert.deepEqual(spoofRules([b]).slice(0, 3), [
      `-A NSNET-PORTS -i ${b.hostIf} -s ! ${b.mac} -j DROP`,
      `-A NSNET-PORTS -i ${b.hostIf} -p IPv4 -j DROP`,
      `-A NSNET-PORTS -i ${b.hostIf} -p ARP -j DROP`,
    ]);
    // The MAC check comes first: RETURN skips only what follows.
    assert.match(spoofRules([a])[0]!, /-s ! 02:42:0a:00:00:02 -j DROP$/);
  });
});

describe('published ports: Docker syntax and families', () => {
  test('[v6]:HOST:CONTAINER, [v6]::CONTAINER; 0.0.0.0 and [::] are one family each', () => {
    assert.deepEqual(parsePortSpec('[::1]:8081:80'), [{ hostIp: '::1', hostPort: 8081, containerPort: 80, proto: 'tcp' }]);
    assert.deepEqual(parsePortSpec('[::]:8080:80/udp'), [{ hostIp: '::', hostPort: 8080, containerPort: 80, proto: 'udp' }]);
    assert.deepEqual(parsePortSpec('[2001:DB8::1]::80'), [{ hostIp: '2001:db8::1', hostPort: undefined, containerPort: 80, proto: 'tcp' }]);
    assert.deepEqual(parsePortSpec('0.0.0.0:8080:80'), [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }]);
    assert.throws(() => parsePortSpec('::1:8081:80'), (e: Error & { hint?: string }) => /invalid port mapping "::1:8081:80"/.test(e.message) && /brackets/.test(e.hint ?? ''));
    assert.throws(() => parsePortSpec('[::1]:80'), /invalid port mapping "\[::1\]:80"/);
    assert.throws(() => parsePortSpec('[nope]:1:2'), /invalid host address "nope"/);
  });

  test('which container addresses a host address forwards to', () => {
    assert.deepEqual(forwardTargets(undefined, '10.0.0.2', '2001:db8::2'), ['10.0.0.2', '2001:db8::2']);
    assert.deepEqual(forwardTargets('0.0.0.0', '10.0.0.2', '2001:db8::2'), ['10.0.0.2']);
    assert.deepEqual(forwardTargets('::', '10.0.0.2', '2001:db8::2'), ['2001:db8::2']);
    assert.deepEqual(forwardTargets('::1', '10.0.0.2', null), []);
    assert.deepEqual(forwardTargets(undefined, null, '2001:db8::2'), ['2001:db8::2']);
  });

  test('collisions know families: 0.0.0.0 covers IPv4, :: covers IPv6, none covers both', () => {
    const m = (hostIp: string | undefined) => ({ hostIp, hostPort: 80, proto: 'tcp' as const });
    assert.equal(collides(m('0.0.0.0'), m('127.0.0.1')), true);
    assert.equal(collides(m('0.0.0.0'), m('::')), false);
    assert.equal(collides(m('::'), m('::1')), true);
    assert.equal(collides(m(undefined), m('::1')), true);
    assert.equal(collides(m('::1'), m('127.0.0.1')), false);
    assert.equal(hostsOverlap('10.0.0.1', '10.0.0.2'), false);
  });

  test("Docker's port lines: 80/tcp -> 0.0.0.0:8080 and 80/tcp -> [::]:8080", () => {
    const v4 = { hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' as const };
    const v6 = { ...v4, hostIp: '::' };
    assert.deepEqual([v4, v6].map(formatMapping), ['80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080']);
    assert.deepEqual(hostBindings([v4, v6, { ...v4, hostIp: '::1', hostPort: 8081 }], { port: 80, proto: 'tcp' }), ['0.0.0.0:8080', '[::]:8080', '[::1]:8081']);
  });
});

describe('publishing on the fake machine: both families, and the refusals that change nothing', () => {
  const dualNet: Op = (ctx) => createNetwork(ctx, { name: 'ut-d6', subnet: ['10.30.0.0/24', '2001:db8:30::/64'], ipv6: true });
  const v4Net: Op = (ctx) => createNetwork(ctx, { name: 'ut-v4', subnet: '10.40.0.0/24' });

  test('-p 8080:80 on a dual-stack container: one map element per family, and port shows 0.0.0.0 and [::]', async () => {
    const fx = await fixture().setUp(dualNet);
    const { container } = await run(fx.ctx, runInput({ name: 'ut-web6', networks: ['ut-d6'], publish: ['8080:80', '0.0.0.0:8081:81', '[::]:8082:82'] }));
    const ep = fx.store.endpoints.forContainer(container.id)[0]!;
    const inet = fx.host.nftTable('inet', 'nsnet') ?? '';
    for (const element of [`tcp . 8080 : ${ep.ip} . 80`, `tcp . 8081 : ${ep.ip} . 81`, `tcp . 8080 : ${ep.ip6} . 80`, `tcp . 8082 : ${ep.ip6} . 82`]) {
      assert.ok(inet.includes(element), `${element} in\n${inet}`);
    }
    assert.ok(!inet.includes(`tcp . 8082 : ${ep.ip} .`), '[::] is IPv6 only');
    assert.ok(!inet.includes(`tcp . 8081 : ${ep.ip6}`), '0.0.0.0 is IPv4 only');
    assert.deepEqual(containerPorts(fx.ctx, container.id).map(formatMapping), [
      '80/tcp -> 0.0.0.0:8080',
      '80/tcp -> [::]:8080',
      '81/tcp -> 0.0.0.0:8081',
      '82/tcp -> [::]:8082',
    ]);
  });

  test('[::1], [::] for a container without IPv6 and a foreign IPv6 address are refused, naming why; nothing changes', async () => {
    const base = await fixture().setUp(dualNet, v4Net);
    const cases: Array<[string, string, RegExp]> = [
      ['ut-d6', '[::1]:8081:80', /cannot publish on \[::1\]: IPv6 has no route_localnet/],
      ['ut-v4', '[::]:8083:80', /cannot publish on \[::\] for ut-p6: it has no IPv6 address on network ut-v4, so there is no address to forward to/],
      ['ut-d6', '[2001:db8:ffff::9]:8084:80', /cannot publish on 2001:db8:ffff::9: it is not an address of this host/],
    ];
    for (const [net, spec, message] of cases) {
      const fx = await base.twin();
      const before = stateOf(fx);
      await assert.rejects(run(fx.ctx, runInput({ name: 'ut-p6', networks: [net], publish: [spec] })), (e: unknown) => codeOf(e) === 'INVALID_VALUE' && message.test((e as Error).message));
      assert.deepEqual(stateOf(fx), before, spec);
    }
  });
});

describe("a host whose ip6tables FORWARD drops (Docker 27): the nftables driver's NSNET-FORWARD in ip6tables too", () => {
  test('made with the first IPv6 network, beside the iptables one; none for IPv4-only networks; gone with the last IPv6 network', () => {
    const host = new FakeHost();
    Object.assign(host.facts, { iptables: true, forwardDrops: true, forwardDrops6: true });
    const fw = driverFor(host, 'nftables');
    const empty: FirewallState = { networks: [], ports: [] };
    const v4: FirewallState = { networks: [only4], ports: [] };
    const both: FirewallState = { networks: [only4, dual], ports: [] };
    for (const s of fw.replace(empty, v4, 'v4')) host.apply(s);
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD', 4), true);
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD', 6), false, 'no IPv6 network: ip6tables untouched');
    for (const s of fw.replace(v4, both, 'dual')) host.apply(s);
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD', 6), true);
    const rules = host.snapshot().xtables['ip6tables filter']?.['NSNET-FORWARD'] ?? [];
    assert.ok(rules.some((r) => r.includes('-i br-dual')), rules.join('\n'));
    for (const s of fw.replace(both, v4, 'rm dual')) host.apply(s);
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD', 6), false, 'the last IPv6 network takes the chain and its jump with it');
    assert.equal(host.iptablesChainExists('filter', 'NSNET-FORWARD', 4), true);
  });
});
