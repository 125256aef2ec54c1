/**
 * The firewall and published ports for IPv6 (issue 15), on the real kernel, with each driver:
 *
 * - a dual-stack container reaches the world's 2001:db8:8::8 through NAT66 (the world sees the
 *   host's uplink address), or routed with enable_ip_masquerade=false (the world sees the
 *   container's own address, and needs a route back);
 * - isolation between networks and --internal hold for IPv6, and nsnet's IPv6 traffic flows on a
 *   host whose ip6tables FORWARD policy is DROP (Docker 27's);
 * - `-p 8080:7000` is published on 0.0.0.0 and [::]: the world reaches it over IPv6 keeping its
 *   own address, and a container of the network reaches it through the host's address (hairpin);
 *   `-p [::1]:...` and `-p [::]:...` for a container without IPv6 are refused, saying why;
 * - anti-spoofing: a container that gives itself a second IPv6 address cannot send from it, a
 *   neighbour advertisement for a neighbour's address does not poison anyone's neighbour cache
 *   (nftables: ebtables cannot read an NA's target), and a router advertisement from a container
 *   does not reach its neighbours. Each probe has a control that shows it gets through without
 *   the protection (a network with nsnet.bridge.anti_spoofing=false; the RA guard, which has no
 *   switch, taken away by hand).
 *
 * Frames are crafted whole with python3 (AF_PACKET) and tools run in a container's namespace with
 * `ip netns exec` (root), as in hardening-firewall.test.ts: what is tested is what the network
 * lets through.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ok } from '../helpers/assert.js';
import { client, SERVER } from '../helpers/probes.js';
import { needs, requiredSuite, tools, type Need } from '../helpers/requirements.js';
import { createSandbox, HOST_UPLINK_IP6, UPLINK_IF, WORLD_IP6, WORLD_UPLINK_IP6, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * python3 -c SEND IFACE KIND SRC TARGET COUNT: from IFACE with its own MAC, to all nodes (ff02::1),
 * COUNT times: `na` (an unsolicited, overriding neighbour advertisement of TARGET at IFACE's MAC,
 * sent from SRC) or `ra` (a router advertisement of 2001:db8:1::/64 from SRC).
 */
const SEND = String.raw`
import socket, struct, sys, time
iface, kind, src, target, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
mac = bytes.fromhex(open('/sys/class/net/%s/address' % iface).read().strip().replace(':', ''))
src = socket.inet_pton(socket.AF_INET6, src)
dst = socket.inet_pton(socket.AF_INET6, 'ff02::1')
def csum(data):
    if len(data) % 2: data += b'\x00'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def frame(upper):
    c = csum(src + dst + struct.pack('!I', len(upper)) + b'\x00\x00\x00\x3a' + upper)
    upper = upper[:2] + struct.pack('!H', c) + upper[4:]
    ip = struct.pack('!IHBB', 6 << 28, len(upper), 58, 255) + src + dst
    return b'\x33\x33\x00\x00\x00\x01' + mac + b'\x86\xdd' + ip + upper
if kind == 'na':
    body = struct.pack('!BBHI16s', 136, 0, 0, 0x20000000, socket.inet_pton(socket.AF_INET6, target)) + struct.pack('!BB6s', 2, 1, mac)
else:
    body = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0) + struct.pack('!BB6s', 1, 1, mac) + struct.pack('!BBBBIII16s', 3, 4, 64, 0xc0, 86400, 14400, 0, socket.inet_pton(socket.AF_INET6, '2001:db8:1::'))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for i in range(count):
    s.send(frame(body))
    time.sleep(0.1)
`;

/** python3 -c SNIFF IFACE SECONDS: prints "ready", then after SECONDS how many RAs arrived on IFACE. */
const SNIFF = String.raw`
import socket, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((iface, 0)); s.settimeout(0.2)
print('ready', flush=True)
n, end = 0, time.time() + seconds
while time.time() < end:
    try: f = s.recv(4096)
    except socket.timeout: continue
    if f[14 + 6] == 58 and f[14 + 40] == 134: n += 1
print(n, flush=True)
`;

interface DriverCase {
  driver: 'nftables' | 'iptables';
  tag: string;
  needs: readonly Need[];
  /** nftables: an NA's target is checked; ebtables has no match for it (see firewall/iptables-driver.ts). */
  ndTargets: boolean;
  /** Take the RA guard away by hand; the returned function puts it back. */
  dropRaGuard(sb: Sandbox, nsnet: Nsnet): Promise<() => Promise<void>>;
}

type Nsnet = (args: readonly string[]) => Promise<RunResult>;

const python = tools('the IPv6 firewall tests', ['python3'], 'apt-get install python3');

const NFTABLES: DriverCase = {
  driver: 'nftables',
  tag: 'f6',
  needs: [needs.integration, python],
  ndTargets: true,
  async dropRaGuard(sb, nsnet) {
    const listed = ok(sb.inHost(['nft', '-a', 'list', 'chain', 'bridge', 'nsnet', 'from_port6'])).stdout.split('\n');
    const handles = listed.filter((l) => /nd-router-advert/.test(l)).map((l) => /# handle (\d+)/.exec(l)?.[1]);
    assert.equal(handles.length, 1, listed.join('\n'));
    ok(sb.inHost(['nft', 'delete', 'rule', 'bridge', 'nsnet', 'from_port6', 'handle', handles[0]!]));
    return async () => void ok(await nsnet(['system', 'check', '--fix']));
  },
};

const IPTABLES: DriverCase = {
  driver: 'iptables',
  tag: 'f6i',
  needs: [needs.integration, needs.iptables, python],
  ndTargets: false,
  async dropRaGuard(sb) {
    ok(sb.inHost(['ebtables', '-t', 'nat', '-D', 'PREROUTING', '-j', 'NSNET-IPV6-GUARD']));
    return async () => void ok(sb.inHost(['ebtables', '-t', 'nat', '-I', 'PREROUTING', '1', '-j', 'NSNET-IPV6-GUARD']));
  },
};

for (const dc of [NFTABLES, IPTABLES]) {
  requiredSuite(`IPv6 firewall and published ports (${dc.driver} driver)`, { needs: dc.needs, concurrency: false }, () => {
    let sb: Sandbox | undefined;
    const env = { ...process.env, NSNET_FIREWALL_DRIVER: dc.driver };
    const nsnet: Nsnet = (args) => sb!.nsnet(args, { env, timeoutMs: 30_000 });
    const inNs = (ns: string, argv: readonly string[]): RunResult => sb!.inHost(['ip', 'netns', 'exec', ns, ...argv]);
    const name = (s: string): string => `${sb!.prefix}${s}`;
    /** The container's IPv6 address on its first network. */
    const ip6Of = async (c: string): Promise<string> => ok(await nsnet(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}', c])).stdout.trim();
    const macOf = (c: string): string => ok(inNs(c, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
    let world: ChildProcess | undefined;

    before(async () => {
      sb = await createSandbox(dc.tag);
      // The world answers every TCP connection on 7000 with the address it sees.
      world = sb.spawnInWorld(['node', '-e', SERVER]);
      await sleep(500);
      ok(await nsnet(['network', 'create', name('d'), '--ipv6', '--subnet', '10.93.0.0/24', '--subnet', '2001:db8:93::/64']));
      ok(await nsnet(['network', 'create', name('o'), '--ipv6', '--subnet', '10.94.0.0/24', '--subnet', '2001:db8:94::/64', '-o', 'nsnet.bridge.anti_spoofing=false']));
    });
    after(async () => {
      world?.kill('SIGKILL');
      const report = await sb?.destroy();
      assert.deepEqual(report?.problems ?? [], []);
    });

    test('NAT66 to the world (it sees the host); routed with enable_ip_masquerade=false (it sees the container)', async () => {
      assert.ok(sb);
      const [a, r] = [name('a'), name('r')];
      ok(await nsnet(['run', '-d', '--name', a, '--network', name('d'), '--', 'sleep', '1000']));
      assert.equal(ok(inNs(a, client('tcp', WORLD_IP6, 7000)), 'NAT66 to the world').stdout.trim(), `tcp 7000 ${HOST_UPLINK_IP6}`);
      ok(await nsnet(['network', 'create', name('rt'), '--ipv6', '--subnet', '10.95.0.0/24', '--subnet', '2001:db8:95::/64', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false']));
      ok(await nsnet(['run', '-d', '--name', r, '--network', name('rt'), '--', 'sleep', '1000']));
      const rip = await ip6Of(r);
      assert.notEqual(inNs(r, client('tcp', WORLD_IP6, 7000)).code, 0, 'routed: without a route back the world cannot answer');
      ok(sb.inWorld(['ip', '-6', 'route', 'add', '2001:db8:95::/64', 'via', HOST_UPLINK_IP6, 'dev', UPLINK_IF]));
      try {
        assert.equal(ok(inNs(r, client('tcp', WORLD_IP6, 7000)), 'routed to the world').stdout.trim(), `tcp 7000 ${rip}`);
      } finally {
        sb.inWorld(['ip', '-6', 'route', 'del', '2001:db8:95::/64']);
      }
      ok(await nsnet(['rm', '-f', r]));
      ok(await nsnet(['network', 'rm', name('rt')]));
    });

    test("a host whose ip6tables FORWARD drops (as Docker 27 leaves it): nsnet's IPv6 traffic still flows", async () => {
      assert.ok(sb);
      const [dn, dc6] = [name('dn'), name('dc')];
      ok(sb.inHost(['ip6tables', '-w', '-P', 'FORWARD', 'DROP']));
      try {
        ok(await nsnet(['network', 'create', dn, '--ipv6', '--subnet', '10.98.0.0/24', '--subnet', '2001:db8:98::/64']));
        ok(await nsnet(['run', '-d', '--name', dc6, '--network', dn, '--', 'sleep', '1000']));
        assert.equal(ok(inNs(dc6, client('tcp', WORLD_IP6, 7000)), 'NAT66 through a FORWARD policy of DROP').stdout.trim(), `tcp 7000 ${HOST_UPLINK_IP6}`);
        // Control: without nsnet's jump into NSNET-FORWARD the policy drops it.
        ok(sb.inHost(['ip6tables', '-w', '-D', 'FORWARD', '-j', 'NSNET-FORWARD']));
        try {
          assert.notEqual(inNs(dc6, client('tcp', WORLD_IP6, 7000)).code, 0, 'control: the policy drops it without the jump');
        } finally {
          ok(sb.inHost(['ip6tables', '-w', '-I', 'FORWARD', '1', '-j', 'NSNET-FORWARD']));
        }
        ok(await nsnet(['rm', '-f', dc6]));
        ok(await nsnet(['network', 'rm', dn]));
      } finally {
        ok(sb.inHost(['ip6tables', '-w', '-P', 'FORWARD', 'ACCEPT']));
      }
    });

    test('isolation between networks and --internal hold for IPv6', async () => {
      assert.ok(sb);
      const [a, b, i] = [name('a'), name('b'), name('i')];
      ok(await nsnet(['run', '-d', '--name', b, '--network', name('o'), '--', 'node', '-e', SERVER]));
      ok(await nsnet(['network', 'create', name('in'), '--internal', '--ipv6', '--subnet', '10.96.0.0/24', '--subnet', '2001:db8:96::/64']));
      ok(await nsnet(['run', '-d', '--name', i, '--network', name('in'), '--', 'sleep', '1000']));
      await sleep(500);
      const bip = await ip6Of(b);
      assert.notEqual(inNs(a, client('tcp', bip, 7000)).code, 0, 'another network is not reached over IPv6');
      assert.notEqual(inNs(i, client('tcp', WORLD_IP6, 7000)).code, 0, 'an internal network does not reach the world over IPv6');
      assert.notEqual(inNs(i, ['ping', '-6', '-c1', '-W1', WORLD_UPLINK_IP6]).code, 0);
      ok(await nsnet(['rm', '-f', i]));
      ok(await nsnet(['network', 'rm', name('in')]));
    });

    test('-p 8080:7000 on 0.0.0.0 and [::]: from the world over IPv6 (its address kept), hairpin; [::1] and IPv6 for an IPv4-only container refused', async () => {
      assert.ok(sb);
      const [web, c] = [name('web'), name('c')];
      ok(await nsnet(['run', '-d', '--name', web, '--network', name('d'), '-p', '8080:7000', '--', 'node', '-e', SERVER]));
      await sleep(700);
      assert.deepEqual(ok(await nsnet(['port', web])).stdout.trim().split('\n'), ['7000/tcp -> 0.0.0.0:8080', '7000/tcp -> [::]:8080']);
      assert.equal(ok(sb.inWorld(client('tcp', HOST_UPLINK_IP6, 8080)), 'the world over IPv6').stdout.trim(), `tcp 7000 ${WORLD_UPLINK_IP6}`);
      assert.match(ok(sb.inHost(client('tcp', HOST_UPLINK_IP6, 8080)), 'the host through its own IPv6 address').stdout, /^tcp 7000 /);
      ok(await nsnet(['run', '-d', '--name', c, '--network', name('d'), '--', 'sleep', '1000']));
      assert.match(ok(inNs(c, client('tcp', HOST_UPLINK_IP6, 8080)), 'hairpin over IPv6').stdout, /^tcp 7000 2001:db8:93::1$/m);

      const loop = await nsnet(['run', '-d', '--name', name('lo6'), '--network', name('d'), '-p', '[::1]:8081:7000', '--', 'sleep', '1000']);
      assert.equal(loop.code, 125, loop.stderr);
      assert.match(loop.stderr, /cannot publish on \[::1\]: IPv6 has no route_localnet/);
      ok(await nsnet(['network', 'create', name('v4'), '--subnet', '10.97.0.0/24']));
      const v4 = await nsnet(['run', '-d', '--name', name('v4c'), '--network', name('v4'), '-p', '[::]:8083:7000', '--', 'sleep', '1000']);
      assert.equal(v4.code, 125, v4.stderr);
      assert.match(v4.stderr, /cannot publish on \[::\] for .*v4c: it has no IPv6 address on network .*v4, so there is no address to forward to/);
      ok(await nsnet(['network', 'rm', name('v4')]));
      ok(await nsnet(['rm', '-f', web, c]));
    });

    // nftables: rules are the same whatever the number of containers and published ports (set and map elements).
    if (dc.driver === 'nftables') test('the number of nft rules does not grow with dual-stack containers and their published ports', async () => {
      assert.ok(sb);
      /** Rule lines of nsnet's two tables: what `nft -a list` gives a handle to, less the sets and maps. */
      const rules = (): number =>
        ['inet', 'bridge']
          .map((family) => ok(sb!.inHost(['nft', '-a', 'list', 'table', family, 'nsnet'])).stdout.split('\n').filter((l) => /# handle \d+$/.test(l) && !/^\s*(set|map|chain|table) /.test(l.trim())).length)
          .reduce((a, b) => a + b, 0);
      const before = rules();
      assert.ok(before > 20, `nsnet's rules counted: ${before}`);
      const many = [1, 2, 3].map((i) => name(`m${i}`));
      for (const [i, m] of many.entries()) ok(await nsnet(['run', '-d', '--name', m, '--network', name('d'), '-p', `${9100 + i}:7000`, '-p', `[::]:${9200 + i}:7001`, '--', 'sleep', '1000']));
      assert.equal(rules(), before, 'three more containers with IPv4 and IPv6 ports: not one more rule');
      assert.match(ok(sb.inHost(['nft', 'list', 'map', 'inet', 'nsnet', 'published6_any'])).stdout, /tcp \. 9202 : 2001:db8:93::/);
      ok(await nsnet(['rm', '-f', ...many]));
      assert.equal(rules(), before);
    });

    test('a second IPv6 address of its own making is not a source a container can send from (control: anti-spoofing off)', async () => {
      assert.ok(sb);
      const [v, e, vo, eo] = [name('v'), name('e'), name('vo'), name('eo')];
      for (const [net, victim, evil] of [
        [name('d'), v, e],
        [name('o'), vo, eo],
      ] as const) {
        ok(await nsnet(['run', '-d', '--name', victim, '--network', net, '--', 'sleep', '1000']));
        ok(await nsnet(['run', '-d', '--name', evil, '--network', net, '--cap-add', 'NET_ADMIN', '--', 'sleep', '1000']));
        const foreign = net === name('d') ? '2001:db8:93::99' : '2001:db8:94::99';
        ok(await nsnet(['exec', evil, 'ip', '-6', 'addr', 'add', `${foreign}/64`, 'dev', 'eth0', 'nodad']));
      }
      const ping = (evil: string, from: string, to: string): RunResult => inNs(evil, ['ping', '-6', '-c1', '-W2', '-I', from, to]);
      ok(ping(e, await ip6Of(e), await ip6Of(v)), 'from its own address it reaches the neighbour');
      assert.notEqual(ping(e, '2001:db8:93::99', await ip6Of(v)).code, 0, 'a foreign source was let through');
      ok(ping(eo, '2001:db8:94::99', await ip6Of(vo)), 'control: with anti-spoofing off the foreign source gets through');
    });

    // The nftables driver only: ebtables has no match for an NA's target (README, Security model).
    if (dc.ndTargets) test("a neighbour advertisement for a neighbour's address poisons no cache (control: anti-spoofing off)", async () => {
      assert.ok(sb);
      // v and e from the previous test (and vo, eo on the network without anti-spoofing); t is the target.
      const cases: Array<[string, string, string, string]> = [
        [name('d'), name('v'), name('e'), name('t')],
        [name('o'), name('vo'), name('eo'), name('to')],
      ];
      const result: boolean[] = [];
      for (const [net, victim, evil, target] of cases) {
        ok(await nsnet(['run', '-d', '--name', target, '--network', net, '--', 'sleep', '1000']));
        const tip = await ip6Of(target);
        ok(inNs(victim, ['ping', '-6', '-c1', '-W2', tip]), 'the victim learns the target');
        const evilMac = macOf(evil);
        inNs(evil, ['python3', '-c', SEND, 'eth0', 'na', await ip6Of(evil), tip, '5']);
        await sleep(300);
        const neigh = ok(inNs(victim, ['ip', '-6', 'neigh', 'show', tip])).stdout;
        result.push(neigh.includes(evilMac));
      }
      assert.deepEqual(result, [false, true], 'poisoned with anti-spoofing on / off');
    });

    test("a container's router advertisement does not reach its neighbours (control: the RA guard taken away)", async () => {
      assert.ok(sb);
      const [v, e] = [name('v'), name('e')];
      const arrived = async (): Promise<number> => {
        const sniffer = sb!.spawnInHost(['ip', 'netns', 'exec', v, 'python3', '-c', SNIFF, 'eth0', '2']);
        let out = '';
        sniffer.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
        const done = new Promise<void>((r) => sniffer.on('exit', () => r()));
        const deadline = Date.now() + 10_000;
        while (!out.includes('ready') && Date.now() < deadline) await sleep(20);
        const ll = ok(inNs(e, ['ip', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).stdout.match(/inet6 (fe80::[0-9a-f:]+)/)?.[1];
        assert.ok(ll, 'the attacker has a link-local address');
        ok(inNs(e, ['python3', '-c', SEND, 'eth0', 'ra', ll, '::', '3']));
        await done;
        return Number(out.trim().split('\n').at(-1));
      };
      assert.equal(await arrived(), 0, 'an RA reached the neighbour');
      const restore = await dc.dropRaGuard(sb, nsnet);
      try {
        assert.ok((await arrived()) > 0, 'control: without the guard the RA arrives');
      } finally {
        await restore();
      }
      assert.equal(await arrived(), 0, 'guarded again');
    });
  });
}
