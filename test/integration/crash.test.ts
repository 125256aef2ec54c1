/**
 * Crash safety with the test-only fault switch: each state-changing command is SIGKILLed right
 * after each of its steps in turn (NSNET_TEST_FAULTS=1 NSNET_FAULT=N:kill), one run per step,
 * until it runs to the end. After every kill, the next nsnet command (`ps -a`) recovers, and the
 * sandbox must then be exactly as before the command or exactly as after it: host links,
 * addresses, routes, the nft ruleset, /run/netns entries and mounts, every container namespace's
 * addresses and routes, the container processes, and the store as `ps -a` / `network ls` show it.
 *
 * Matrix: run (also on the default network, which it creates), rm, network create, network rm, network connect, network disconnect (the default
 * route's carrier, so the route hand-over is covered too), all on user networks with fixed
 * addresses and bridge names so that before/after snapshots are comparable.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import {
  createSandbox,
  describeResult,
  HOST_UPLINK_IP,
  mountPoints,
  netnsEntries,
  NETNS_DIR,
  pidAlive,
  pidStartTime,
  pidsWithCmdline,
  runSync,
  UPLINK_IF,
  UPLINK_PREFIX_LEN,
  WORLD_IP,
  WORLD_UPLINK_IP,
  type RunResult,
  type Sandbox,
} from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

/** Random parts (ids, veth names) differ between two runs of the same command: mask them. */
const norm = (text: string): string => text.replace(/nsv[0-9a-f]{12}/g, 'nsv*').replace(/\b[0-9a-f]{12,64}\b/g, '<id>');

type Json = Record<string, any>;

function ipJson(argv: string[], sb: Sandbox, ns?: string): Json[] {
  const r = ns === undefined ? sb.inHost(['ip', '-j', ...argv]) : runSync(['ip', '-n', ns, '-j', ...argv]);
  ok(r);
  return r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as Json[]);
}

/** Links, addresses and routes of one namespace, normalised and sorted. */
function netState(sb: Sandbox, ns?: string): string[] {
  const links = ipJson(['-d', 'link', 'show'], sb, ns).map((l) => {
    const kind = (l.linkinfo as Json | undefined)?.info_kind ?? '-';
    const up = (l.flags as string[]).includes('UP') ? 'up' : 'down';
    // Host veth MACs are random and a bridge's derives from its network id; container MACs
    // derive from the address, so they are compared.
    const mac = ns === undefined && (kind === 'veth' || kind === 'bridge') ? '' : ` mac=${l.address}`;
    return `link ${l.ifname} kind=${kind} master=${l.master ?? '-'} mtu=${l.mtu} ${up}${mac}`;
  });
  // IPv6 link-local addresses and their fe80::/64 routes derive from the (random) host veth MACs: left out.
  const linkLocal = (a: string): boolean => /^fe80:/i.test(a);
  const addrs = ipJson(['addr', 'show'], sb, ns).flatMap((l) =>
    (l.addr_info as Json[])
      .filter((a) => a.family === 'inet' || (a.family === 'inet6' && !linkLocal(a.local as string)))
      .map((a) => `addr ${l.ifname} ${a.local}/${a.prefixlen}`),
  );
  const routes = [...ipJson(['route', 'show'], sb, ns), ...ipJson(['-6', 'route', 'show'], sb, ns).filter((r) => !linkLocal(r.dst as string))].map(
    (r) => `route ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}`,
  );
  return [...links, ...addrs, ...routes].map(norm).sort();
}

/** The host's IPv6 settings nsnet changes: forwarding, and accept_ra of the uplink and of every bridge. */
function ipv6Sysctls(sb: Sandbox): string[] {
  const devs = ipJson(['link', 'show'], sb).map((l) => l.ifname as string).filter((d) => d !== 'lo');
  return ['all/forwarding', ...devs.map((d) => `${d}/accept_ra`)].map((key) => {
    const r = sb.inHost(['cat', `/proc/sys/net/ipv6/conf/${key}`]);
    return norm(`${key}=${r.code === 0 ? r.stdout.trim() : '-'}`);
  });
}

interface Snapshot {
  host: string[];
  sysctls: string[];
  nft: string[];
  netns: string[];
  mounts: string[];
  containers: Record<string, string[]>;
  procs: number;
  ps: string[];
  networks: string[];
}

requiredSuite('crash safety: SIGKILL after every step, then the next command recovers', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let p: string;
  // A sleep nobody else runs, to count the container processes.
  const sleepFor = String(200_000 + randomInt(100_000));
  const names = () => ({ n1: `${p}n1`, n2: `${p}n2`, n3: `${p}n3`, a: `${p}a`, b: `${p}b`, v6: `${p}v6`, m6: `${p}m6`, w: `${p}w` });

  async function snapshot(): Promise<{ snap: Snapshot; recovered: string }> {
    // The first command after a crash recovers; it is also how the store is read.
    const ps = ok(await sb.nsnet(['ps', '-a', '--format', 'json']));
    const nets = ok(await sb.nsnet(['network', 'ls', '--format', 'json']));
    const containers: Record<string, string[]> = {};
    const netns = netnsEntries(p);
    for (const name of netns) containers[name] = netState(sb, name);
    const snap: Snapshot = {
      host: netState(sb),
      sysctls: ipv6Sysctls(sb),
      nft: norm(ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .sort(),
      netns,
      mounts: mountPoints().filter((m) => m.startsWith(`${NETNS_DIR}/${p}`)).sort(),
      containers,
      procs: pidsWithCmdline(`sleep ${sleepFor}`).length,
      ps: (JSON.parse(ps.stdout) as Json[])
        .map((c) => {
          const addrs = Object.entries(c.NetworkSettings.Networks as Record<string, Json>)
            .map(([net, e]) => `${net}=${e.IPAddress},${e.GlobalIPv6Address}`)
            .sort();
          return `${c.Name} ${c.State.Status} ${addrs.join(',')}`;
        })
        .sort(),
      networks: (JSON.parse(nets.stdout) as Json[]).map((n) => `${n.Name} ${n.Subnet} containers=${n.Containers}`).sort(),
    };
    return { snap, recovered: ps.stderr };
  }

  const faultEnv = (i: number): NodeJS.ProcessEnv => ({ ...process.env, NSNET_TEST_FAULTS: '1', NSNET_FAULT: `${i}:kill` });

  /**
   * Kill `args` after fault point 0, 1, 2, ... until it completes. Each time, the next command must
   * find the host exactly as before or exactly as after; revert() brings an "after" back to before.
   */
  async function crashEveryStep(args: string[], revert: () => Promise<void>): Promise<{ points: number; rolledBack: number; finished: number }> {
    const { snap: start } = await snapshot();
    ok(await sb.nsnet(args));
    const { snap: done } = await snapshot();
    assert.notDeepEqual(done, start, `${args.join(' ')} changed nothing`);
    await revert();
    assert.deepEqual((await snapshot()).snap, start, `revert after ${args.join(' ')} did not restore the state before it`);
    let rolledBack = 0;
    let finished = 0;
    for (let i = 0; ; i++) {
      assert.ok(i < 40, 'the command never ran to the end');
      const r = await sb.nsnet(args, { env: faultEnv(i) });
      if (r.signal !== 'SIGKILL') {
        ok(r);
        assert.deepEqual((await snapshot()).snap, done, `after ${args.join(' ')} ran to the end with the switch set`);
        return { points: i, rolledBack, finished };
      }
      const { snap, recovered } = await snapshot();
      assert.match(recovered, /recovered an interrupted/, `killed after step ${i} of ${args.join(' ')}: the next command said nothing`);
      assert.doesNotMatch(recovered, /could not/, recovered);
      const asBefore = JSON.stringify(snap) === JSON.stringify(start);
      const asAfter = JSON.stringify(snap) === JSON.stringify(done);
      if (!asBefore && !asAfter) {
        assert.deepEqual(snap, start, `killed after step ${i} of ${args.join(' ')}: neither the state before (shown) nor after:\n${JSON.stringify(done, null, 1)}`);
      }
      // Recovery runs once: the next command finds nothing more to do.
      const again = ok(await sb.nsnet(['ps', '-a']));
      assert.equal(again.stderr, '', `recovered twice: ${again.stderr}`);
      // And the records agree with the kernel: addresses, routes, rules, map elements.
      const check = await sb.nsnet(['system', 'check']);
      assert.equal(check.code, 0, `killed after step ${i} of ${args.join(' ')}: ${describeResult(check)}`);
      if (asAfter) {
        finished++;
        await revert();
        assert.deepEqual((await snapshot()).snap, start);
      } else rolledBack++;
    }
  }

  const n = (args: string[]) => async (): Promise<void> => void ok(await sb.nsnet(args));
  const runB = () => ['run', '-d', '--name', names().b, '--network', names().n1, '--ip', '10.91.0.20', '--', 'sleep', sleepFor];
  const report: string[] = [];

  before(async () => {
    sb = await createSandbox('cr');
    p = sb.prefix;
  });

  it('run on the default network, which it creates on first use', async () => {
    // From an empty host: the rollback also forgets the default network the run made.
    const r = await crashEveryStep(['run', '-d', '--name', `${p}c`, '--', 'sleep', sleepFor], n(['system', 'reset', '--force']));
    report.push(`run (default network) ${JSON.stringify(r)}`);
    assert.ok(r.points >= 12, `only ${r.points} fault points`);
    ok(await sb.nsnet(['system', 'reset', '--force']));
  });

  it('network create --ipv6 with both subnets, the first IPv6 network (host forwarding and accept_ra)', async () => {
    const { v6 } = names();
    const args = ['network', 'create', v6, '--ipv6', '--subnet', '10.94.0.0/24', '--subnet', '2001:db8:94::/64', '-o', `com.docker.network.bridge.name=${p}b6`];
    // system reset puts the host's IPv6 forwarding and accept_ra back as they were before it.
    const r = await crashEveryStep(args, n(['system', 'reset', '--force']));
    report.push(`network create --ipv6 ${JSON.stringify(r)}`);
    assert.ok(r.points >= 6, `only ${r.points} fault points`);
  });

  it('(setup: networks n1, n2 and container a on n1; dual-stack m6 beside v6)', async () => {
    const { n1, n2, a, m6 } = names();
    ok(await sb.nsnet(['network', 'create', m6, '--ipv6', '--subnet', '10.95.0.0/24', '--subnet', '2001:db8:95::/64', '-o', `com.docker.network.bridge.name=${p}m6`]));
    ok(await sb.nsnet(['network', 'create', n1, '--subnet', '10.91.0.0/24', '-o', `com.docker.network.bridge.name=${p}b1`]));
    ok(await sb.nsnet(['network', 'create', n2, '--subnet', '10.92.0.0/24', '-o', `com.docker.network.bridge.name=${p}b2`]));
    ok(await sb.nsnet(['run', '-d', '--name', a, '--network', n1, '--ip', '10.91.0.10', '--', 'sleep', sleepFor]));
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
    if (report.length > 0) console.log(`# fault points per command: ${report.join('; ')}`);
  });

  it('network create', async () => {
    const { n3 } = names();
    const args = ['network', 'create', n3, '--subnet', '10.93.0.0/24', '-o', `com.docker.network.bridge.name=${p}b3`];
    const r = await crashEveryStep(args, n(['network', 'rm', n3]));
    report.push(`network create ${JSON.stringify(r)}`);
    assert.ok(r.points >= 4, `only ${r.points} fault points`);
  });

  it('network rm', async () => {
    const { n3 } = names();
    const r = await crashEveryStep(
      ['network', 'rm', n3],
      n(['network', 'create', n3, '--subnet', '10.93.0.0/24', '-o', `com.docker.network.bridge.name=${p}b3`]),
    );
    report.push(`network rm ${JSON.stringify(r)}`);
    assert.ok(r.points >= 2);
  });

  it('run', async () => {
    const r = await crashEveryStep(runB(), n(['rm', '-f', names().b]));
    report.push(`run ${JSON.stringify(r)}`);
    // namespace, lo, veth, address, link up, route, process started
    assert.ok(r.points >= 7, `only ${r.points} fault points`);
  });

  it('rm', async () => {
    // B runs: the run test ended with the command run to the end.
    const r = await crashEveryStep(['rm', '-f', names().b], n(runB()));
    report.push(`rm ${JSON.stringify(r)}`);
    assert.ok(r.points >= 2);
  });

  it('network connect', async () => {
    const { n2, a } = names();
    const r = await crashEveryStep(['network', 'connect', '--ip', '10.92.0.10', n2, a], n(['network', 'disconnect', n2, a]));
    report.push(`network connect ${JSON.stringify(r)}`);
    assert.ok(r.points >= 3);
  });

  it('network disconnect (of the network carrying the default route)', async () => {
    const { n1, n2, a } = names();
    const rebuild = async (): Promise<void> => {
      ok(await sb.nsnet(['rm', '-f', a]));
      ok(await sb.nsnet(['run', '-d', '--name', a, '--network', n1, '--ip', '10.91.0.10', '--', 'sleep', sleepFor]));
      ok(await sb.nsnet(['network', 'connect', '--ip', '10.92.0.10', n2, a]));
    };
    const r = await crashEveryStep(['network', 'disconnect', n1, a], rebuild);
    report.push(`network disconnect ${JSON.stringify(r)}`);
    assert.ok(r.points >= 2);
  });

  const runW = () => ['run', '-d', '--name', names().w, '--network', names().v6, '--ip', '10.94.0.20', '--ip6', '2001:db8:94::20', '-p', '8080:80', '--', 'sleep', sleepFor];
  const connectW = () => ['network', 'connect', '--ip', '10.95.0.20', '--ip6', '2001:db8:95::20', names().m6, names().w];

  it('run on a dual-stack network with a published port (both families\' addresses, routes and map elements)', async () => {
    const r = await crashEveryStep(runW(), n(['rm', '-f', names().w]));
    report.push(`run dual-stack -p ${JSON.stringify(r)}`);
    assert.ok(r.points >= 8, `only ${r.points} fault points`);
    const nft = ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout;
    assert.match(nft, /2001:db8:94::20/, 'the IPv6 port elements are there after the run');
  });

  it('network connect --ip6', async () => {
    const r = await crashEveryStep(connectW(), n(['network', 'disconnect', names().m6, names().w]));
    report.push(`network connect --ip6 ${JSON.stringify(r)}`);
    assert.ok(r.points >= 3);
  });

  it('rm of a dual-stack container on two networks with a published port', async () => {
    const rebuild = async (): Promise<void> => {
      ok(await sb.nsnet(runW()));
      ok(await sb.nsnet(connectW()));
    };
    const r = await crashEveryStep(['rm', '-f', names().w], rebuild);
    report.push(`rm dual-stack ${JSON.stringify(r)}`);
    assert.ok(r.points >= 2);
    const nft = ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout;
    assert.doesNotMatch(nft, /2001:db8:9[45]::20/, 'no IPv6 element of the removed container is left');
    const check = await sb.nsnet(['system', 'check']);
    assert.equal(check.code, 0, describeResult(check));
  });

  it('the survivors still work: A reaches the gateway of the network it kept', async () => {
    const r = await sb.nsnet(['exec', names().a, 'ping', '-c', '1', '-W', '2', '10.92.0.1']);
    assert.equal(r.code, 0, describeResult(r));
  });
});

/**
 * A reboot: the kernel objects go (processes, namespaces, links, rules), the state root stays.
 * Simulated by killing the container processes (by PID), deleting their namespaces and the
 * sandbox's host namespace, and making the host namespace again, empty but for its uplink.
 */
requiredSuite('after a reboot (kernel state gone, records kept)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let p: string;
  const names = () => ({ net: `${p}n`, r1: `${p}r1`, r2: `${p}r2` });

  before(async () => {
    sb = await createSandbox('rb');
    p = sb.prefix;
    const { net, r1, r2 } = names();
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.96.0.0/24', '-o', `com.docker.network.bridge.name=${p}b`]));
    ok(await sb.nsnet(['run', '-d', '--name', r1, '--network', net, '--ip', '10.96.0.10', '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', r2, '--network', net, '--ip', '10.96.0.11', '--', 'sleep', '1000']));
  });

  after(async () => {
    const r = await sb?.destroy();
    assert.deepEqual(r?.problems ?? [], []);
  });

  it('reboot: processes killed, namespaces and the host namespace deleted and made again', async () => {
    const { r1, r2 } = names();
    const views = JSON.parse(ok(await sb.nsnet(['inspect', r1, r2])).stdout) as Array<{ State: { Pid: number } }>;
    for (const v of views) process.kill(v.State.Pid, 'SIGKILL');
    // A reboot ends every process: nsnet's DNS responder too, which holds the host namespace.
    const dns = path.join(sb.root, 'dns', 'responder.json');
    if (fs.existsSync(dns)) {
      const { pid, start } = JSON.parse(fs.readFileSync(dns, 'utf8')) as { pid: number; start: string };
      if (pidStartTime(pid) === start) process.kill(pid, 'SIGKILL');
    }
    // And the nsnet service (bin/nsnet's), which runs in the host namespace too.
    const services = path.join(sb.root, 'service');
    for (const f of fs.existsSync(services) ? fs.readdirSync(services).filter((n) => n.endsWith('.pid')) : []) {
      const { pid, start } = JSON.parse(fs.readFileSync(path.join(services, f), 'utf8')) as { pid: number; start: string };
      if (pidStartTime(pid) === start) process.kill(pid, 'SIGKILL');
    }
    for (const v of views) {
      const deadline = Date.now() + 3000;
      while (pidAlive(v.State.Pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    }
    for (const ns of [r1, r2, sb.hostNs]) ok(runSync(['ip', 'netns', 'del', ns]));
    // The world's end of the uplink goes when the old host namespace is freed.
    const deadline = Date.now() + 5000;
    while (runSync(['ip', '-n', sb.worldNs, 'link', 'show', UPLINK_IF]).code === 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 20));
    }
    const h = (...args: string[]): RunResult => ok(runSync(['ip', '-n', sb.hostNs, ...args]));
    ok(runSync(['ip', 'netns', 'add', sb.hostNs]));
    h('link', 'add', UPLINK_IF, 'type', 'veth', 'peer', 'name', UPLINK_IF, 'netns', sb.worldNs);
    h('link', 'set', 'lo', 'up');
    h('link', 'set', UPLINK_IF, 'up');
    ok(runSync(['ip', '-n', sb.worldNs, 'link', 'set', UPLINK_IF, 'up']));
    ok(runSync(['ip', '-n', sb.worldNs, 'addr', 'add', `${WORLD_UPLINK_IP}/${UPLINK_PREFIX_LEN}`, 'dev', UPLINK_IF]));
    h('addr', 'add', `${HOST_UPLINK_IP}/${UPLINK_PREFIX_LEN}`, 'dev', UPLINK_IF);
    h('route', 'add', 'default', 'via', WORLD_UPLINK_IP, 'dev', UPLINK_IF);
    assert.equal(sb.inHost(['nft', 'list', 'ruleset']).stdout.trim(), '', 'the new host namespace has no rules');
  });

  it('ps -a shows both containers exited', async () => {
    const ps = JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as Array<{ Name: string; State: { Status: string } }>;
    assert.deepEqual(ps.map((c) => `${c.Name} ${c.State.Status}`).sort(), [`/${names().r1} exited`, `/${names().r2} exited`]);
  });

  it('start r1 brings it back with its address: bridge, firewall and namespace are rebuilt', async () => {
    const { r1 } = names();
    ok(await sb.nsnet(['start', r1]));
    const addr = ok(await sb.nsnet(['exec', r1, 'ip', '-4', '-o', 'addr', 'show', 'eth0']));
    assert.match(addr.stdout, / 10\.96\.0\.10\/24 /);
    ok(await sb.nsnet(['exec', r1, 'ping', '-c', '1', '-W', '2', '10.96.0.1']));
    // Forwarding and masquerade came back with it.
    ok(await sb.nsnet(['exec', r1, 'ping', '-c', '1', '-W', '2', WORLD_IP]));
    // A stopped container without a namespace is what a reboot leaves: not a difference. That
    // r2's record still says running is one (ps corrects it on display); --fix records it.
    const check = await sb.nsnet(['system', 'check', '--format', 'json']);
    assert.equal(check.code, 1, describeResult(check));
    const diffs = (JSON.parse(check.stdout) as { differences: Array<{ object: string; problem: string }> }).differences;
    assert.deepEqual(diffs.map((d) => d.object), [`container ${names().r2}`], check.stdout);
    assert.match(diffs[0]!.problem, /has exited/);
    ok(await sb.nsnet(['system', 'check', '--fix']));
    ok(await sb.nsnet(['system', 'check']));
  });

  it('system prune and system reset --force finish without errors', async () => {
    const prune = ok(await sb.nsnet(['system', 'prune']));
    assert.match(prune.stdout, new RegExp(names().r2));
    ok(await sb.nsnet(['system', 'reset', '--force']));
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
    assert.equal(sb.inHost(['nft', 'list', 'ruleset']).stdout.trim(), '');
  });
});
