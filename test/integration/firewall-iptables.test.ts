/**
 * The iptables firewall driver against the real kernel (issue 3): reachability with masquerade,
 * isolation between networks, --internal, anti-spoofing (with a control network that has it
 * off), coexistence with foreign iptables/ebtables rules, and zero residue after
 * `system reset --force`.
 *
 * One sandbox (a throwaway "host" namespace where nsnet runs and a "world" namespace holding
 * 203.0.113.8); nothing here touches the machine's own network namespace: every iptables and
 * ebtables command runs inside the sandbox host (sb.inHost). Before nsnet runs, the sandbox host
 * gets foreign rules in every table nsnet uses — a FOREIGN chain with a rule and a jump in the
 * filter, nat and raw tables (raw: nsnet's loopback guard, NSNET-GUARD), a foreign rule in
 * the ebtables filter and nat tables — and a FORWARD policy of DROP (as Docker leaves it). They
 * must read the same after every nsnet command, and `iptables-save`/`ebtables-save` must equal
 * the first reading after the reset. (With the nf_tables backends a table that did not
 * exist before nsnet stays behind with empty built-in chains, as after any iptables user; the
 * foreign rules make every table exist beforehand, so the comparison is exact.)
 *
 * The driver is forced with NSNET_FIREWALL_DRIVER=iptables, inherited by every nsnet command.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import {
  HOST_UPLINK_IP,
  WORLD_IP,
  createSandbox,
  describeResult,
  type RunResult,
  type Sandbox,
} from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { PROBE, SEND, UDP_LISTENER } from '../helpers/probes.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

process.env['NSNET_FIREWALL_DRIVER'] = 'iptables';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const TCP_PORT = 7000;
const TCP_SERVER = `require('net').createServer((s) => s.end('ok')).listen(${TCP_PORT}, '0.0.0.0', () => console.log('listening'))`;
const UDP_PORT = 9000;
/** Per network: the two attacks run at once, and each capture must count only its own. */
const FORGED_MAC = { a: '02:42:de:ad:be:0a', o: '02:42:de:ad:be:0f' } as const;
interface Probe {
  ip: string;
  ping: boolean;
  tcp: boolean | null;
}

requiredSuite('nsnet firewall, iptables driver (real kernel)', { needs: [needs.integration, needs.iptables], concurrency: false }, () => {
  let sb: Sandbox;
  let p = '';
  let before0 = '';
  let foreign0 = '';
  const world: { proc?: ChildProcess; lines: string[] } = { lines: [] };
  const addr: Record<string, string> = {};
  const costs: string[] = [];

  /** iptables-save and ebtables-save of the sandbox host, without the dated comments. */
  function saves(): string {
    // Dated comments out; counters (iptables-legacy counts policy hits) as [0:0].
    const strip = (s: string): string =>
      s
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'))
        .join('\n');
    return [
      strip(ok(sb.inHost(['iptables-save']), 'iptables-save').stdout),
      strip(ok(sb.inHost(['ebtables-save']), 'ebtables-save').stdout),
    ].join('---\n');
  }
  /** The foreign part: every line of the saves that is not nsnet's (its chains and jumps). */
  const foreign = (): string =>
    saves()
      .split('\n')
      .filter((l) => !/NSNET-/.test(l))
      .join('\n');

  /** Run nsnet; afterwards the foreign rules must read byte-identical. */
  async function nsnet(args: readonly string[], what = `nsnet ${args.join(' ')}`): Promise<RunResult> {
    const r = ok(await sb.nsnet(args, { timeoutMs: 30_000 }), what);
    assert.equal(foreign(), foreign0, `foreign rules changed after: ${what}`);
    return r;
  }

  async function probe(container: string, targets: ReadonlyArray<{ ip: string; port?: number; retry?: boolean }>): Promise<Map<string, Probe>> {
    const r = ok(await sb.nsnet(['exec', container, 'node', '-e', PROBE, JSON.stringify(targets)], { timeoutMs: 30_000 }), `probe from ${container}`);
    const arr = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as Probe[];
    return new Map(arr.map((x) => [x.ip, x]));
  }

  async function waitForLog(name: string, re: RegExp): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (re.test((await sb.nsnet(['logs', name])).stdout)) return;
      await sleep(100);
    }
    assert.fail(`${name}: log never matched ${re}`);
  }

  async function ipOf(name: string, network: string): Promise<string> {
    const [c] = JSON.parse(ok(await sb.nsnet(['inspect', name])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>;
    const ip = c?.NetworkSettings.Networks[network]?.IPAddress;
    assert.ok(ip, `${name} has an address on ${network}`);
    return ip;
  }

  before(async () => {
    sb = await createSandbox('ipt');
    p = sb.prefix;
  });
  after(async () => {
    const pid = world.proc?.pid;
    if (pid !== undefined && world.proc?.exitCode === null && world.proc.signalCode === null) process.kill(pid, 'SIGKILL');
    const report = await sb?.destroy();
    if (costs.length > 0) console.error(`# iptables driver costs: ${costs.join('; ')}`);
    if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
  });

  it('sets up foreign rules in filter, nat, raw and ebtables, and a FORWARD policy of DROP', () => {
    for (const argv of [
      ['iptables', '-w', '-N', 'FOREIGN'],
      ['iptables', '-w', '-A', 'FOREIGN', '-p', 'tcp', '--dport', '9999', '-j', 'DROP'],
      ['iptables', '-w', '-A', 'FORWARD', '-j', 'FOREIGN'],
      ['iptables', '-w', '-P', 'FORWARD', 'DROP'],
      ['iptables', '-w', '-t', 'nat', '-N', 'FOREIGN'],
      ['iptables', '-w', '-t', 'nat', '-A', 'FOREIGN', '-d', '192.0.2.1', '-j', 'RETURN'],
      ['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'FOREIGN'],
      ['iptables', '-w', '-t', 'raw', '-N', 'FOREIGN'],
      ['iptables', '-w', '-t', 'raw', '-A', 'FOREIGN', '-d', '192.0.2.3', '-j', 'RETURN'],
      ['iptables', '-w', '-t', 'raw', '-A', 'PREROUTING', '-j', 'FOREIGN'],
      ['ebtables', '-t', 'filter', '-A', 'FORWARD', '-p', 'IPv6', '-j', 'DROP'],
      ['ebtables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'IPv6', '-j', 'ACCEPT'],
    ]) {
      ok(sb.inHost(argv), argv.join(' '));
    }
    before0 = saves();
    foreign0 = foreign();
    assert.match(before0, /^-A FOREIGN -p tcp -m tcp --dport 9999 -j DROP$/m);
    assert.match(before0, /^:FORWARD DROP/m);
    assert.doesNotMatch(before0, /NSNET/);
  });

  it('creates networks (NAT, a second NAT, internal, anti-spoofing off) and containers', async () => {
    assert.ok(foreign0 !== '', 'setup ran');
    let t = Date.now();
    await nsnet(['network', 'create', `${p}a`, '--subnet', '10.71.0.0/24']);
    costs.push(`network create ${Date.now() - t} ms (CLI, end to end)`);
    await nsnet(['network', 'create', `${p}b`, '--subnet', '10.72.0.0/24']);
    await nsnet(['network', 'create', `${p}i`, '--internal', '--subnet', '10.73.0.0/24']);
    await nsnet(['network', 'create', `${p}o`, '--subnet', '10.74.0.0/24', '-o', 'nsnet.bridge.anti_spoofing=false']);
    // NET_ADMIN for the containers that change their own routes and addresses (i1, the attackers).
    const run = async (name: string, network: string, cmd: string[], caps: string[] = []): Promise<void> => {
      const t0 = Date.now();
      await nsnet(['run', '-d', '--name', name, '--network', network, ...caps, '--', ...cmd]);
      costs.push(`run -d ${Date.now() - t0} ms`);
    };
    for (const [name, net] of [
      ['a1', 'a'],
      ['a2', 'a'],
      ['b1', 'b'],
      ['i1', 'i'],
      ['i2', 'i'],
    ] as const) {
      await run(`${p}${name}`, `${p}${net}`, ['node', '-e', TCP_SERVER], name === 'i1' ? ['--cap-add', 'NET_ADMIN'] : []);
    }
    // Anti-spoofing: a victim, an attacker and the "other" whose address is forged, on a and on o.
    for (const net of ['a', 'o']) {
      await run(`${p}${net}v`, `${p}${net}`, ['node', '-e', UDP_LISTENER(UDP_PORT)]);
      await run(`${p}${net}x`, `${p}${net}`, ['sleep', '1000'], ['--cap-add', 'NET_ADMIN']);
    }
    for (const n of ['a1', 'a2', 'b1', 'i1', 'i2']) await waitForLog(`${p}${n}`, /listening/);
    for (const n of ['av', 'ov']) await waitForLog(`${p}${n}`, /listening/);
    for (const [name, net] of [
      ['a1', 'a'],
      ['a2', 'a'],
      ['b1', 'b'],
      ['i1', 'i'],
      ['i2', 'i'],
      ['av', 'a'],
      ['ax', 'a'],
      ['ov', 'o'],
      ['ox', 'o'],
    ] as const) {
      addr[name] = await ipOf(`${p}${name}`, `${p}${net}`);
    }
    const save = saves();
    assert.match(save, /^-A FORWARD -j NSNET-FORWARD$/m);
    assert.match(save, /^-A POSTROUTING -j NSNET-POSTROUTING$/m);
    assert.match(save, /^-A PREROUTING -j NSNET-PORTS$/m);
    assert.match(save, /^-A PREROUTING -j NSNET-IPV6-GUARD$/m);
    // The loopback guard, inserted before the foreign jump: one rule, 127.0.0.0/8 only from lo.
    const raw = save.slice(save.indexOf('*raw'), save.indexOf('COMMIT', save.indexOf('*raw'))).split('\n');
    assert.deepEqual(
      raw.filter((l) => l.startsWith('-A PREROUTING ')),
      ['-A PREROUTING -j NSNET-GUARD', '-A PREROUTING -j FOREIGN'],
    );
    assert.deepEqual(
      raw.filter((l) => l.startsWith('-A NSNET-GUARD ')),
      ['-A NSNET-GUARD -d 127.0.0.0/8 ! -i lo -m comment --comment "nsnet: 127.0.0.0/8 only from lo" -j DROP'],
    );
    assert.equal(save.split('\n').filter((l) => / -m comment --comment "nsnet network /.test(l)).length > 0, true);
    for (const l of save.split('\n').filter((x) => /^-A NSNET-(FORWARD|ISOLATION|POSTROUTING) /.test(x))) {
      assert.match(l, /-m comment --comment "nsnet network /, `every nsnet iptables rule names its network: ${l}`);
    }
  });

  it(`containers on one network reach each other and ${WORLD_IP}; the world sees the host uplink address`, async () => {
    assert.ok(addr['a2'], 'setup ran');
    world.proc = sb.spawnInWorld([
      'node',
      '-e',
      `require('net').createServer((s) => { console.log('conn ' + s.remoteAddress); s.end('ok'); }).listen(${TCP_PORT}, '0.0.0.0', () => console.log('listening'))`,
    ]);
    world.proc.stdout?.setEncoding('utf8').on('data', (d: string) => world.lines.push(...d.split('\n').filter(Boolean)));
    const deadline = Date.now() + 10_000;
    while (!world.lines.includes('listening') && Date.now() < deadline) await sleep(50);
    const r = await probe(`${p}a1`, [
      { ip: addr['a2']!, port: TCP_PORT, retry: true },
      { ip: WORLD_IP, port: TCP_PORT, retry: true },
    ]);
    assert.deepEqual(r.get(addr['a2']!), { ip: addr['a2'], ping: true, tcp: true });
    assert.deepEqual(r.get(WORLD_IP), { ip: WORLD_IP, ping: true, tcp: true });
    const conns = world.lines.filter((l) => l.startsWith('conn '));
    assert.ok(conns.length >= 1, 'the world saw the connection');
    for (const c of conns) assert.equal(c, `conn ${HOST_UPLINK_IP}`, 'masqueraded behind the host uplink');
  });

  it('isolation: containers on different networks reach each other in neither direction', async () => {
    assert.ok(addr['b1'], 'setup ran');
    const [fromA, fromB] = await Promise.all([
      probe(`${p}a1`, [{ ip: addr['b1']!, port: TCP_PORT }]),
      probe(`${p}b1`, [{ ip: addr['a1']!, port: TCP_PORT }, { ip: WORLD_IP, port: TCP_PORT, retry: true }]),
    ]);
    assert.deepEqual(fromA.get(addr['b1']!), { ip: addr['b1'], ping: false, tcp: false });
    assert.deepEqual(fromB.get(addr['a1']!), { ip: addr['a1'], ping: false, tcp: false });
    assert.deepEqual(fromB.get(WORLD_IP), { ip: WORLD_IP, ping: true, tcp: true }, 'b still reaches the world');
  });

  it('internal: in-network traffic works; nothing gets out, even with a default route and a route back', async () => {
    assert.ok(addr['i2'], 'setup ran');
    ok(sb.inWorld(['ip', 'route', 'add', '10.73.0.0/24', 'via', HOST_UPLINK_IP]), 'world route back');
    ok(await sb.nsnet(['exec', `${p}i1`, 'ip', 'route', 'add', 'default', 'via', '10.73.0.1']), 'container adds a default route itself');
    const before = world.lines.length;
    const r = await probe(`${p}i1`, [
      { ip: addr['i2']!, port: TCP_PORT, retry: true },
      { ip: WORLD_IP, port: TCP_PORT },
      { ip: addr['a1']!, port: TCP_PORT },
    ]);
    assert.deepEqual(r.get(addr['i2']!), { ip: addr['i2'], ping: true, tcp: true });
    assert.deepEqual(r.get(WORLD_IP), { ip: WORLD_IP, ping: false, tcp: false });
    assert.deepEqual(r.get(addr['a1']!), { ip: addr['a1'], ping: false, tcp: false });
    assert.deepEqual(world.lines.slice(before), [], 'the world saw nothing from the internal network');
  });

  it('anti-spoofing: forged source addresses and MACs never reach the victim; with it off they do', async () => {
    assert.ok(addr['ox'], 'setup ran');
    const outcome = async (net: 'a' | 'o'): Promise<string[]> => {
      const x = `${p}${net}x`;
      const victim = addr[`${net}v`]!;
      const own = addr[`${net}x`]!;
      // Another container's address (on the control network, a spare one: it has no third container).
      const other = net === 'a' ? addr['a1']! : '10.74.0.250';
      const unused = `10.7${net === 'a' ? 1 : 4}.0.200`;
      // The host's own capture, before anything else there sees a packet (br_netfilter hands
      // bridged IPv4 to the IP prerouting hooks): forged packets must not get even that far.
      ok(sb.inHost(['nft', 'add', 'rule', 'inet', 'fwcapture', 'pre', 'ip', 'saddr', `{ ${other}, ${unused} }`, 'counter', 'comment', `"${net}-ip"`]));
      ok(sb.inHost(['nft', 'add', 'rule', 'inet', 'fwcapture', 'pre', 'ether', 'saddr', FORGED_MAC[net], 'counter', 'comment', `"${net}-mac"`]));
      const send = async (src: string, msg: string): Promise<void> => {
        ok(await sb.nsnet(['exec', x, 'node', '-e', SEND, src, victim, String(UDP_PORT), msg]), `send ${msg}`);
      };
      await send(own, `${net}-own`);
      ok(await sb.nsnet(['exec', x, 'ip', 'addr', 'add', `${other}/32`, 'dev', 'eth0']));
      ok(await sb.nsnet(['exec', x, 'ip', 'addr', 'add', `${unused}/32`, 'dev', 'eth0']));
      await send(other, `${net}-forged-other`);
      await send(unused, `${net}-forged-unused`);
      ok(await sb.nsnet(['exec', x, 'ip', 'link', 'set', 'eth0', 'address', FORGED_MAC[net]]), 'attacker changes its MAC');
      await send(own, `${net}-forged-mac`);
      await sleep(300);
      const log = ok(await sb.nsnet(['logs', `${p}${net}v`])).stdout;
      const capture = ok(sb.inHost(['nft', 'list', 'chain', 'inet', 'fwcapture', 'pre'])).stdout;
      const seen = ['ip', 'mac'].map((k) => `host saw forged ${k}: ${Number(new RegExp(`packets (\\d+) .*"${net}-${k}"`).exec(capture)?.[1] ?? -1) > 0}`);
      return [...new Set(log.split('\n').filter((l) => l && l !== 'listening').map((l) => l.split(' ')[1]!)), ...seen].sort();
    };
    ok(
      sb.inHost(['nft', '-f', '-'], { input: 'table inet fwcapture {\n\tchain pre {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t}\n}\n' }),
      'host capture table',
    );
    const [on, off] = await Promise.all([outcome('a'), outcome('o')]);
    ok(sb.inHost(['nft', 'delete', 'table', 'inet', 'fwcapture']));
    assert.deepEqual(on, ['a-own', 'host saw forged ip: false', 'host saw forged mac: false'], 'anti-spoofing on: only the attacker own datagram arrives');
    assert.deepEqual(
      off,
      ['host saw forged ip: true', 'host saw forged mac: true', 'o-forged-mac', 'o-forged-other', 'o-forged-unused', 'o-own'],
      'control: everything arrives',
    );
  });

  it('ports come and go (rm, disconnect, connect) with the foreign rules untouched; measures a port add', async () => {
    assert.ok(addr['a1'], 'setup ran');
    const count = (): number => saves().split('\n').filter((l) => l.startsWith('-A NSNET-PORTS ')).length;
    const n0 = count();
    let t = Date.now();
    await nsnet(['network', 'connect', `${p}b`, `${p}a2`]);
    costs.push(`network connect (one port) ${Date.now() - t} ms`);
    assert.equal(count(), n0 + 7, 'seven anti-spoofing rules for the new port: MAC, IPv4, two ARP, and IPv6 (link-local, ::, the rest dropped)');
    t = Date.now();
    await nsnet(['network', 'disconnect', `${p}b`, `${p}a2`]);
    costs.push(`network disconnect ${Date.now() - t} ms`);
    assert.equal(count(), n0);
    await nsnet(['rm', '-f', `${p}ax`, `${p}ox`]);
    assert.equal(count(), n0 - 7, 'the attacker port rules are gone (the control network has none)');
  });

  it('a full cycle ending in system reset --force leaves iptables-save and ebtables-save as they were', async () => {
    assert.ok(before0 !== '', 'setup ran');
    await nsnet(['rm', '-f', `${p}ov`]);
    await nsnet(['network', 'rm', `${p}o`]);
    await nsnet(['system', 'reset', '--force']);
    const after = saves();
    assert.deepEqual(after.split('\n').filter((l) => /NSNET|nsnet/.test(l)), [], 'no nsnet chain, jump or rule left');
    assert.equal(after, before0, 'iptables-save and ebtables-save read exactly as before nsnet ran');
    // A second reset with nothing there changes nothing either (and creates no table).
    await nsnet(['system', 'reset', '--force']);
    assert.equal(saves(), before0);
  });
});
