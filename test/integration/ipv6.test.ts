/**
 * Issue 15, the foundation, as a user meets it in a sandbox: dual-stack and IPv6-only networks,
 * static and automatic IPv6 addresses usable the moment `run` returns, default routes per family,
 * Docker's inspect fields, unique local subnets, the host's router advertisements kept when IPv6
 * forwarding goes on (and restored by reset), `system check --fix` for IPv6, and bad input refused
 * with nothing changed. The firewall (NAT66, isolation, anti-spoofing, ports), DNS, CNI and labs
 * have their own suites.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, UPLINK_IF, type RunOptions, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface EndpointView {
  IPAddress: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPv6Gateway: string;
  IPAMConfig: Record<string, string> | null;
}
interface Inspected {
  NetworkSettings: { Networks: Record<string, EndpointView> };
}
interface NetworkView {
  EnableIPv6: boolean;
  IPAM: { Config: Array<{ Subnet: string; Gateway: string }> };
  Containers: Record<string, { IPv4Address: string; IPv6Address: string }>;
}

requiredSuite('IPv6: dual-stack and IPv6-only networks', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  const run = (args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => sb!.nsnet(args, opts);
  const name = (n: string): string => `${sb!.prefix}${n}`;
  const inspect = async (c: string): Promise<Inspected> => (JSON.parse(ok(await run(['inspect', c])).stdout) as Inspected[])[0]!;
  const netInspect = async (n: string): Promise<NetworkView> => (JSON.parse(ok(await run(['network', 'inspect', n])).stdout) as NetworkView[])[0]!;
  const inNs = (c: string, argv: readonly string[]): RunResult => sb!.inHost(['ip', 'netns', 'exec', c, ...argv]);
  const hostSysctl = (key: string): string => ok(sb!.inHost(['sysctl', '-n', key])).stdout.trim();

  before(async () => {
    sb = await createSandbox('six');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('a dual-stack network: both gateways on the bridge, the host keeps its router advertisements', async () => {
    assert.ok(sb, 'before() made the sandbox');
    assert.equal(hostSysctl('net.ipv6.conf.all.forwarding'), '0');
    assert.equal(hostSysctl(`net.ipv6.conf.${UPLINK_IF}.accept_ra`), '1');
    const made = ok(await run(['network', 'create', 'v6lab', '--ipv6', '--subnet', '10.30.0.0/24', '--subnet', '2001:db8:30::/64']));
    // Forwarding would make the uplink ignore router advertisements: nsnet says so and keeps them.
    assert.match(made.stderr, /accept_ra=2/);
    assert.equal(hostSysctl('net.ipv6.conf.all.forwarding'), '1');
    assert.equal(hostSysctl(`net.ipv6.conf.${UPLINK_IF}.accept_ra`), '2');
    const net = await netInspect('v6lab');
    assert.equal(net.EnableIPv6, true);
    assert.deepEqual(net.IPAM.Config, [
      { Subnet: '10.30.0.0/24', Gateway: '10.30.0.1' },
      { Subnet: '2001:db8:30::/64', Gateway: '2001:db8:30::1' },
    ]);
    const bridge = ok(await run(['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', 'v6lab'])).stdout.trim();
    const addrs = ok(sb.inHost(['ip', '-6', '-o', 'addr', 'show', 'dev', bridge])).stdout;
    assert.match(addrs, /inet6 2001:db8:30::1\/64 scope global nodad/);
    assert.match(ok(await run(['system', 'doctor'])).stdout, /IPv6 router advertisements/);
  });

  test('run: a static and an automatic IPv6 address, usable at once, a default route per family', async () => {
    ok(await run(['run', '-d', '--name', name('a'), '--network', 'v6lab', '--ip6', '2001:db8:30::10', '--', 'sleep', '1000']));
    // No tentative window: the very first packet gets through (no DAD to wait for).
    ok(inNs(name('a'), ['ping', '-6', '-c', '1', '-W', '1', '2001:db8:30::1']));
    ok(await run(['run', '-d', '--name', name('b'), '--network', 'v6lab', '--', 'sleep', '1000']));
    const addrs = ok(inNs(name('a'), ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
    assert.match(addrs, /inet6 2001:db8:30::10\/64 scope global/);
    assert.doesNotMatch(addrs, /tentative/);
    assert.match(addrs, /inet6 fe80::42:aff:fe1e:2\/64 scope link/, 'the link-local address from the MAC (02:42 + the IPv4 address)');
    const routes6 = ok(inNs(name('a'), ['ip', '-6', 'route', 'show', 'default'])).stdout;
    assert.match(routes6, /^default via 2001:db8:30::1 dev eth0/m);
    assert.match(ok(inNs(name('a'), ['ip', 'route', 'show', 'default'])).stdout, /^default via 10\.30\.0\.1 dev eth0/m);
    assert.equal(ok(inNs(name('a'), ['sysctl', '-n', 'net.ipv6.conf.eth0.accept_ra'])).stdout.trim(), '0', 'containers take no router advertisements');
    const a = (await inspect(name('a'))).NetworkSettings.Networks['v6lab']!;
    assert.equal(a.GlobalIPv6Address, '2001:db8:30::10');
    assert.equal(a.GlobalIPv6PrefixLen, 64);
    assert.equal(a.IPv6Gateway, '2001:db8:30::1');
    assert.deepEqual(a.IPAMConfig, { IPv6Address: '2001:db8:30::10' });
    const b = (await inspect(name('b'))).NetworkSettings.Networks['v6lab']!;
    assert.equal(b.GlobalIPv6Address, '2001:db8:30::2', 'IPAM starts after the gateway, as Docker');
    assert.equal(b.IPAMConfig, null);
    ok(inNs(name('a'), ['ping', '-6', '-c', '1', '-W', '2', b.GlobalIPv6Address]));
    ok(inNs(name('b'), ['ping', '-c', '1', '-W', '2', a.IPAddress]));
    const containers = Object.values((await netInspect('v6lab')).Containers).map((c) => c.IPv6Address).sort();
    assert.deepEqual(containers, ['2001:db8:30::10/64', '2001:db8:30::2/64']);
    assert.match(ok(await run(['network', 'ls'])).stdout, /v6lab\s+bridge\s+local\s+10\.30\.0\.0\/24, 2001:db8:30::\/64/);
  });

  test('an IPv6-only network (--ipv4=false): no IPv4 anywhere, IPv6 end to end', async () => {
    ok(await run(['network', 'create', 'only6', '--ipv4=false', '--ipv6', '--subnet', '2001:db8:60::/64']));
    ok(await run(['run', '-d', '--name', name('c'), '--network', 'only6', '--', 'sleep', '1000']));
    ok(await run(['run', '-d', '--name', name('d'), '--network', 'only6', '--', 'sleep', '1000']));
    assert.doesNotMatch(ok(inNs(name('c'), ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout, /inet /);
    assert.equal(ok(inNs(name('c'), ['ip', '-4', 'route'])).stdout.trim(), '');
    const d = (await inspect(name('d'))).NetworkSettings.Networks['only6']!;
    assert.equal(d.IPAddress, '');
    ok(inNs(name('c'), ['ping', '-6', '-c', '1', '-W', '2', d.GlobalIPv6Address]));
    const net = await netInspect('only6');
    assert.deepEqual(net.IPAM.Config, [{ Subnet: '2001:db8:60::/64', Gateway: '2001:db8:60::1' }]);
  });

  test('--ipv6 without a subnet: a free unique local /64, a different one per network', async () => {
    ok(await run(['network', 'create', 'ula1', '--ipv6']));
    ok(await run(['network', 'create', 'ula2', '--ipv6']));
    const subnets = [await netInspect('ula1'), await netInspect('ula2')].map((n) => n.IPAM.Config.find((c) => c.Subnet.includes(':'))!.Subnet);
    for (const s of subnets) assert.match(s, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    assert.notEqual(subnets[0], subnets[1]);
    ok(await run(['network', 'rm', 'ula1', 'ula2']));
  });

  test('network connect --ip6 and disconnect: the IPv6 default route is handed over per family', async () => {
    ok(await run(['network', 'create', 'v4only', '--subnet', '10.31.0.0/24']));
    ok(await run(['run', '-d', '--name', name('e'), '--network', 'v4only', '--', 'sleep', '1000']));
    // Its first network has no IPv6: the IPv6 route comes with the first network that has it.
    ok(await run(['network', 'connect', '--ip6', '2001:db8:30::20', 'v6lab', name('e')]));
    assert.match(ok(inNs(name('e'), ['ip', '-6', 'route', 'show', 'default'])).stdout, /default via 2001:db8:30::1 dev eth1/);
    assert.match(ok(inNs(name('e'), ['ip', 'route', 'show', 'default'])).stdout, /default via 10\.31\.0\.1 dev eth0/);
    ok(inNs(name('e'), ['ping', '-6', '-c', '1', '-W', '2', '2001:db8:30::10']));
    ok(await run(['network', 'disconnect', 'v6lab', name('e')]));
    assert.equal(ok(inNs(name('e'), ['ip', '-6', 'route', 'show', 'default'])).stdout.trim(), '');
    ok(await run(['rm', '-f', name('e')]));
    ok(await run(['network', 'rm', 'v4only']));
  });

  test('system check finds a lost IPv6 address and route, and --fix puts them back', async () => {
    ok(inNs(name('a'), ['ip', '-6', 'route', 'del', 'default']));
    ok(inNs(name('a'), ['ip', '-6', 'addr', 'del', '2001:db8:30::10/64', 'dev', 'eth0']));
    const found = await run(['system', 'check']);
    assert.notEqual(found.code, 0);
    assert.match(found.stdout + found.stderr, /lacks its address 2001:db8:30::10\/64/);
    assert.match(found.stdout + found.stderr, /no default route via 2001:db8:30::1/);
    ok(await run(['system', 'check', '--fix']));
    assert.match(ok(await run(['system', 'check'])).stdout, /no differences/);
    ok(inNs(name('a'), ['ping', '-6', '-c', '1', '-W', '2', '2001:db8:30::2']));
  });

  test('bad input is refused with a clear error, and nothing changes', async () => {
    const before = ok(await run(['network', 'ls', '--no-trunc'])).stdout;
    const refused: Array<[string[], RegExp]> = [
      [['network', 'create', 'x', '--subnet', '2001:db8:70::/64'], /is IPv6, but the network does not have IPv6 enabled/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:70::/64', '--subnet', '2001:db8:71::/64'], /given twice for IPv6/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:70::/121'], /prefix \/121 is outside \/48\.\.\/120/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8::/47'], /prefix \/47 is outside/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:70::/64', '--gateway', '2001:db8:71::1'], /not inside subnet 2001:db8:70::\/64/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:30:0:1::/80'], /overlaps network v6lab \(2001:db8:30::\/64\)/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:ffff::/64'], /overlaps the host's/],
      [['network', 'create', 'x', '--ipv6', '--subnet', '2001:db8:70::1/64'], /host bits set; did you mean 2001:db8:70::\/64/],
      [['network', 'create', 'x', '--ipv4=false'], /needs --ipv6/],
      [['network', 'create', 'x', '--ipv4=false', '--ipv6', '--subnet', '10.70.0.0/24'], /is IPv4, but the network has --ipv4=false/],
      [['run', '--name', 'x', '--network', 'v6lab', '--ip6', '2001:db8:99::1', '--', 'true'], /not inside IPv6 subnet 2001:db8:30::\/64 of network v6lab/],
      [['run', '--name', 'x', '--network', 'v6lab', '--ip6', '2001:db8:30::10', '--', 'true'], /already in use/],
      [['run', '--name', 'x', '--network', 'v6lab', '--ip6', 'fe80::1::2', '--', 'true'], /invalid --ip6 "fe80::1::2"/],
      [['run', '--name', 'x', '--network', 'only6', '--ip', '10.0.0.5', '--', 'true'], /network only6 has no IPv4/],
    ];
    for (const [args, message] of refused) {
      const r = await run(args);
      assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.equal(ok(await run(['network', 'ls', '--no-trunc'])).stdout, before);
    assert.doesNotMatch(ok(await run(['ps', '-a', '--format', '{{.Names}}'])).stdout, /^x$/m);
  });

  test('--dry-run shows the IPv6 commands by hand', async () => {
    const plan = ok(await run(['network', 'create', 'dry6', '--ipv6', '--subnet', '2001:db8:90::/64', '--dry-run'])).stdout;
    assert.match(plan, /^ip -6 addr add 2001:db8:90::1\/64 dev nsnet-[0-9a-f]{8} nodad$/m);
    assert.match(plan, /^sysctl -w net\.ipv6\.conf\.nsnet-[0-9a-f]{8}\.accept_ra=0$/m);
    const runPlan = ok(await run(['run', '--dry-run', '--name', name('f'), '--network', 'v6lab', '--', 'true'])).stdout;
    assert.match(runPlan, /-6 addr add 2001:db8:30::[0-9a-f]+\/64 dev eth0 nodad/);
    assert.match(runPlan, /-6 route add default via 2001:db8:30::1 dev eth0/);
    assert.match(runPlan, /sysctl -w net\.ipv6\.conf\.eth0\.accept_dad=0/);
  });

  test('system reset puts the host back: IPv6 forwarding off, accept_ra as it was', async () => {
    ok(await run(['system', 'reset', '--force']));
    assert.equal(hostSysctl('net.ipv6.conf.all.forwarding'), '0');
    assert.equal(hostSysctl(`net.ipv6.conf.${UPLINK_IF}.accept_ra`), '1');
  });

  test('the default network stays IPv4-only unless made ahead with --ipv6', async () => {
    ok(await run(['run', '-d', '--name', name('g'), '--', 'sleep', '1000']));
    assert.equal((await netInspect('bridge')).EnableIPv6, false);
    ok(await run(['system', 'reset', '--force']));
    ok(await run(['network', 'create', 'bridge', '--ipv6', '--subnet', '2001:db8:77::/64']));
    ok(await run(['run', '-d', '--name', name('h'), '--', 'sleep', '1000']));
    const h = (await inspect(name('h'))).NetworkSettings.Networks['bridge']!;
    assert.equal(h.GlobalIPv6Address, '2001:db8:77::2');
    assert.match(ok(await run(['inspect', '-f', '{{.NetworkSettings.GlobalIPv6Address}}', name('h')])).stdout, /^2001:db8:77::2$/m, 'the top-level fields describe the default network');
    const again = await run(['network', 'create', 'bridge', '--ipv6']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /network with name bridge already exists/);
    assert.match(again.stderr, /made on first use/);
    ok(await run(['system', 'reset', '--force']));
  });
});
