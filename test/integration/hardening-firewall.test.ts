/**
 * Firewall hardening (issue 14, items 3 and 4), with each driver, every probe with a control that
 * shows the probe itself works:
 *
 * - A machine on the uplink's LAN that routes 127.0.0.0/8 to the host does not reach a port
 *   published on 127.0.0.1 (the DNAT happens before routing looks at the address, so the kernel's
 *   martian rule never sees 127.0.0.1); the host itself still does. Control: without nsnet's
 *   loopback guard the world gets the container's answer.
 * - A container's IPv6 router advertisement gives neither the host's bridge nor a neighbour a
 *   SLAAC address or a default route: IPv6 is off on the bridge and on container interfaces, and
 *   RAs, redirects and DHCPv6 server replies from container ports are dropped as they enter the
 *   bridge, also for a neighbour that turned IPv6 back on. Control: without the drop rules (and
 *   with IPv6 back on) the frames arrive and the RA is taken.
 *
 * The attacker's frames are crafted whole (AF_PACKET, python3) with its own MAC, so anti-spoofing
 * lets them through and only the IPv6 guard stands in the way. Tools run in a container's
 * namespace with `ip netns exec` (as root), not `nsnet exec`: what is tested is what the network
 * lets through, not what the container may do.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ok } from '../helpers/assert.js';
import { client, SERVER } from '../helpers/probes.js';
import { needs, requiredSuite, tools, type Need } from '../helpers/requirements.js';
import { createSandbox, HOST_UPLINK_IP, UPLINK_IF, WORLD_UPLINK_IP, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The prefix the rogue RA announces (documentation space). */
const ROGUE_PREFIX = '2001:db8:1:';

/**
 * python3 -c SEND IFACE KINDS COUNT: from IFACE, with its own MAC and the matching link-local
 * source, to all nodes (ff02::1), COUNT times each of KINDS (comma-separated): `ra` (a router
 * advertisement of 2001:db8:1::/64, autonomous, router lifetime 1800 s), `redirect`, `dhcpv6`
 * (a DHCPv6 REPLY, udp 547 → 546). Checksums as the kernel checks them.
 */
const SEND = String.raw`
import socket, struct, sys, time
iface, kinds, count = sys.argv[1], sys.argv[2].split(','), int(sys.argv[3])
mac = bytes.fromhex(open('/sys/class/net/%s/address' % iface).read().strip().replace(':', ''))
eui = bytearray(mac[:3] + b'\xff\xfe' + mac[3:]); eui[0] ^= 2
src = b'\xfe\x80' + b'\x00' * 6 + bytes(eui)
dst = socket.inet_pton(socket.AF_INET6, 'ff02::1')
def csum(data):
    if len(data) % 2: data += b'\x00'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def frame(nh, upper, at):
    c = csum(src + dst + struct.pack('!I', len(upper)) + b'\x00\x00\x00' + bytes([nh]) + upper)
    upper = upper[:at] + struct.pack('!H', c) + upper[at + 2:]
    ip = struct.pack('!IHBB', 6 << 28, len(upper), nh, 255) + src + dst
    return b'\x33\x33\x00\x00\x00\x01' + mac + b'\x86\xdd' + ip + upper
prefix = socket.inet_pton(socket.AF_INET6, '2001:db8:1::')
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0) + struct.pack('!BB6s', 1, 1, mac) + struct.pack('!BBBBIII16s', 3, 4, 64, 0xc0, 86400, 14400, 0, prefix)
redirect = struct.pack('!BBHI16s16s', 137, 0, 0, 0, src, socket.inet_pton(socket.AF_INET6, '2001:db8:2::1'))
reply = b'\x07\x12\x34\x56'
dhcpv6 = struct.pack('!HHHH', 547, 546, 8 + len(reply), 0) + reply
frames = {'ra': frame(58, ra, 2), 'redirect': frame(58, redirect, 2), 'dhcpv6': frame(17, dhcpv6, 6)}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for i in range(count):
    for k in kinds: s.send(frames[k])
    time.sleep(0.1)
`;

/**
 * python3 -c SNIFF IFACE SECONDS: prints "ready", then after SECONDS the kinds of the IPv6 frames
 * above that arrived on IFACE, as a JSON array (AF_PACKET sees them whether or not IPv6 is on).
 */
const SNIFF = String.raw`
import json, socket, struct, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((iface, 0)); s.settimeout(0.2)
print('ready', flush=True)
seen, end = set(), time.time() + seconds
while time.time() < end:
    try: f = s.recv(4096)
    except socket.timeout: continue
    nh, up = f[14 + 6], f[14 + 40:]
    if nh == 58 and up[0] == 134: seen.add('ra')
    if nh == 58 and up[0] == 137: seen.add('redirect')
    if nh == 17 and struct.unpack('!HH', up[:4]) == (547, 546): seen.add('dhcpv6')
print(json.dumps(sorted(seen)), flush=True)
`;

const ALL_KINDS = ['dhcpv6', 'ra', 'redirect'];

/**
 * In the world (the uplink's neighbour, root on its own machine): route 127.0.0.1 to the host's
 * uplink address, looked up before the local table, and accept answers from 127.0.0.1 on the uplink.
 */
const WORLD_ROUTES_LOOPBACK_TO_HOST = [
  `sysctl -qw net.ipv4.conf.${UPLINK_IF}.route_localnet=1`,
  'ip rule add pref 100 lookup local',
  'ip rule del pref 0',
  `ip route add 127.0.0.1/32 via ${HOST_UPLINK_IP} dev ${UPLINK_IF} table 100`,
  'ip rule add pref 10 to 127.0.0.1 lookup 100',
].join(' && ');
const WORLD_UNDO = ['ip rule del pref 10', 'ip rule add pref 0 lookup local', 'ip rule del pref 100', 'ip route flush table 100'].join('; ');

interface DriverCase {
  driver: 'nftables' | 'iptables';
  tag: string;
  needs: readonly Need[];
  /** Take the loopback guard away, by hand; the returned function puts it back. */
  dropLoopbackGuard(sb: Sandbox, nsnet: Nsnet): Promise<() => Promise<void>>;
  /** Take the IPv6 guard away, by hand; the returned function puts it back. */
  dropIpv6Guard(sb: Sandbox, nsnet: Nsnet): Promise<() => Promise<void>>;
}

type Nsnet = (args: readonly string[]) => Promise<RunResult>;

const python = tools('the firewall hardening tests', ['python3'], 'apt-get install python3');

/** nftables: the rules go by hand; `system check --fix` regenerates nsnet's tables from the records. */
const NFTABLES: DriverCase = {
  driver: 'nftables',
  tag: 'hf',
  needs: [needs.integration, python],
  async dropLoopbackGuard(sb, nsnet) {
    ok(sb.inHost(['nft', 'delete', 'chain', 'inet', 'nsnet', 'guard']));
    return async () => void ok(await nsnet(['system', 'check', '--fix']));
  },
  async dropIpv6Guard(sb, nsnet) {
    // The guard's two rules are in the chain IPv6 frames from container ports take (from_port6).
    const listed = ok(sb.inHost(['nft', '-a', 'list', 'chain', 'bridge', 'nsnet', 'from_port6'])).stdout.split('\n');
    const handles = listed.filter((l) => /nd-router-advert|udp sport 547/.test(l)).map((l) => /# handle (\d+)/.exec(l)?.[1]);
    assert.equal(handles.length, 2, `the IPv6 guard's two rules:\n${listed.join('\n')}`);
    for (const h of handles) ok(sb.inHost(['nft', 'delete', 'rule', 'bridge', 'nsnet', 'from_port6', 'handle', h!]));
    return async () => void ok(await nsnet(['system', 'check', '--fix']));
  },
};

/** iptables: the jump into nsnet's chain goes by hand and comes back by hand. */
const IPTABLES: DriverCase = {
  driver: 'iptables',
  tag: 'hfi',
  needs: [needs.integration, needs.iptables, python],
  async dropLoopbackGuard(sb) {
    ok(sb.inHost(['iptables', '-w', '-t', 'raw', '-D', 'PREROUTING', '-j', 'NSNET-GUARD']));
    return async () => void ok(sb.inHost(['iptables', '-w', '-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'NSNET-GUARD']));
  },
  async dropIpv6Guard(sb) {
    ok(sb.inHost(['ebtables', '-t', 'nat', '-D', 'PREROUTING', '-j', 'NSNET-IPV6-GUARD']));
    return async () => void ok(sb.inHost(['ebtables', '-t', 'nat', '-I', 'PREROUTING', '1', '-j', 'NSNET-IPV6-GUARD']));
  },
};

for (const dc of [NFTABLES, IPTABLES]) {
  requiredSuite(`firewall hardening (${dc.driver} driver)`, { needs: dc.needs, concurrency: false }, () => {
    let sb: Sandbox | undefined;
    const env = { ...process.env, NSNET_FIREWALL_DRIVER: dc.driver };
    const nsnet: Nsnet = (args) => sb!.nsnet(args, { env, timeoutMs: 30_000 });
    const inNs = (ns: string, argv: readonly string[]): RunResult => sb!.inHost(['ip', 'netns', 'exec', ns, ...argv]);
    const sysctl = (key: string, ns?: string): string => ok(ns === undefined ? sb!.inHost(['sysctl', '-n', key]) : inNs(ns, ['sysctl', '-n', key])).stdout.trim();

    before(async () => {
      sb = await createSandbox(dc.tag);
    });
    after(async () => {
      const report = await sb?.destroy();
      assert.deepEqual(report?.problems ?? [], []);
    });

    test("the uplink's neighbour routing 127.0.0.0/8 to the host does not reach -p 127.0.0.1:...; the host still does", async () => {
      assert.ok(sb, 'before() made the sandbox');
      const web = `${sb.prefix}lo`;
      ok(await nsnet(['run', '-d', '--name', web, '-p', '127.0.0.1:8081:7000', '--', 'node', '-e', SERVER]));
      await sleep(500); // let node start listening
      assert.match(ok(sb.inHost(client('tcp', '127.0.0.1', 8081)), 'the host reaches its 127.0.0.1 port').stdout, /^tcp 7000 /);
      ok(sb.inWorld(['sh', '-c', WORLD_ROUTES_LOOPBACK_TO_HOST]), 'the world routes 127.0.0.1 to the host');
      try {
        const probe = (): RunResult => sb!.inWorld(client('tcp', '127.0.0.1', 8081));
        const guarded = probe();
        assert.notEqual(guarded.code, 0, `the world reached the container through 127.0.0.1:8081: ${guarded.stdout}`);
        // Control: without the guard the same connection gets the container's answer, with the
        // world's own address (the probe is real, and it is the DNAT that lets it in).
        const restore = await dc.dropLoopbackGuard(sb, nsnet);
        try {
          assert.equal(ok(probe(), 'control: without the guard the world reaches the port').stdout.trim(), `tcp 7000 ${WORLD_UPLINK_IP}`);
        } finally {
          await restore();
        }
        assert.notEqual(probe().code, 0, 'guarded again');
      } finally {
        sb.inWorld(['sh', '-c', WORLD_UNDO]);
      }
      assert.match(ok(sb.inHost(client('tcp', '127.0.0.1', 8081))).stdout, /^tcp 7000 /, 'the host still reaches its 127.0.0.1 port');
      ok(await nsnet(['rm', '-f', web]));
    });

    test("a container's router advertisement gives neither the host's bridge nor a neighbour an address or a route; redirects and DHCPv6 replies do not arrive", async () => {
      assert.ok(sb, 'before() made the sandbox');
      const net = `${sb.prefix}v6`;
      const [evil, vic] = [`${sb.prefix}evil`, `${sb.prefix}vic`];
      ok(await nsnet(['network', 'create', net, '--subnet', '10.91.0.0/24']));
      const [info] = JSON.parse(ok(await nsnet(['network', 'inspect', net])).stdout) as Array<{ Options: Record<string, string> }>;
      const bridge = info!.Options['com.docker.network.bridge.name']!;
      for (const c of [evil, vic]) ok(await nsnet(['run', '-d', '--name', c, '--network', net, '--', 'sleep', '1000']));

      const rogue = (kinds: readonly string[]): void => void ok(inNs(evil, ['python3', '-c', SEND, 'eth0', kinds.join(','), '3']), 'send');
      const v6 = (argv: readonly string[], ns?: string): string => ok(ns === undefined ? sb!.inHost(['ip', '-6', ...argv]) : sb!.inHost(['ip', '-n', ns, '-6', ...argv])).stdout;
      /** What a taken RA leaves: an address in the rogue prefix, or a default route. */
      const tookRa = (dev: string, ns?: string): string => {
        const addr = v6(['addr', 'show', 'dev', dev], ns).split('\n').filter((l) => l.includes(ROGUE_PREFIX));
        // Only a route an RA gave (the sandbox's host has a static IPv6 default route of its own).
        const route = v6(['route', 'show', 'default'], ns).split('\n').filter((l) => /proto ra|via fe80::/.test(l));
        return [...addr, ...route].join('\n');
      };
      /** Sniff on the neighbour's eth0 while the attacker sends every kind; the kinds that arrived. */
      const arrived = async (): Promise<string[]> => {
        const sniffer: ChildProcess = sb!.spawnInHost(['ip', 'netns', 'exec', vic, 'python3', '-c', SNIFF, 'eth0', '2.5']);
        let out = '';
        sniffer.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
        const done = new Promise<void>((r) => sniffer.on('exit', () => r()));
        const deadline = Date.now() + 10_000;
        while (!out.includes('ready') && Date.now() < deadline) await sleep(20);
        assert.ok(out.includes('ready'), 'the sniffer started');
        rogue(ALL_KINDS);
        await done;
        return JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as string[];
      };

      rogue(['ra']);
      await sleep(1500);
      assert.equal(tookRa(bridge), '', "the host's bridge took the rogue RA");
      assert.equal(tookRa('eth0', vic), '', 'the neighbour took the rogue RA');
      // IPv6 is off on the bridge and on the containers' interfaces, as on Docker's IPv4-only networks.
      assert.equal(sysctl(`net.ipv6.conf.${bridge}.disable_ipv6`), '1', 'IPv6 off on the bridge');
      assert.equal(sysctl('net.ipv6.conf.eth0.disable_ipv6', vic), '1', "IPv6 off on the neighbour's eth0");

      // A neighbour that turns IPv6 back on (its own choice) is still not reached: the frames are
      // dropped as they enter the bridge.
      ok(inNs(vic, ['sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=0']));
      assert.deepEqual(await arrived(), [], 'nothing of the rogue frames reached the neighbour');
      await sleep(1000);
      assert.equal(tookRa('eth0', vic), '', 'the neighbour with IPv6 on took the rogue RA');

      // Control: without the IPv6 guard (and with IPv6 back on the bridge) every frame arrives and
      // the RA is taken by the neighbour and by the host's bridge: the probe is real.
      ok(sb.inHost(['sysctl', '-qw', `net.ipv6.conf.${bridge}.disable_ipv6=0`]));
      const restore = await dc.dropIpv6Guard(sb, nsnet);
      try {
        assert.deepEqual(await arrived(), ALL_KINDS, 'control: without the guard the frames arrive');
        const deadline = Date.now() + 5000;
        while ((tookRa('eth0', vic) === '' || tookRa(bridge) === '') && Date.now() < deadline) {
          rogue(['ra']);
          await sleep(300);
        }
        assert.match(tookRa('eth0', vic), /2001:db8:1:.*|default via fe80::/, 'control: the neighbour takes the RA');
        assert.match(tookRa(bridge), /2001:db8:1:.*|default via fe80::/, "control: the host's bridge takes the RA");
        // system check sees IPv6 back on on the bridge (the bridge recipe has it off).
        const check = await nsnet(['system', 'check']);
        assert.equal(check.code, 1, check.stdout + check.stderr);
        assert.match(check.stdout + check.stderr, new RegExp(`net\\.ipv6\\.conf\\.${bridge}\\.disable_ipv6 is 0, not 1`));
      } finally {
        await restore();
      }
      ok(await nsnet(['system', 'check', '--fix']));
      assert.equal(sysctl(`net.ipv6.conf.${bridge}.disable_ipv6`), '1');
      assert.deepEqual(await arrived(), [], 'guarded again');
      ok(await nsnet(['rm', '-f', evil, vic]));
      ok(await nsnet(['network', 'rm', net]));
    });
  });
}
