/**
 * Nothing lost, nothing leaked: many nsnet processes at once, processes killed at random moments,
 * a held lock, and bad input. After each, the store and the kernel agree (`system check` is
 * clean) and whatever exists works.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, runSync, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface NetView {
  Containers: Record<string, { Name: string; IPv4Address: string }>;
}

async function checkClean(sb: Sandbox): Promise<void> {
  const check = await sb.nsnet(['system', 'check']);
  assert.equal(check.code, 0, `system check is not clean:\n${describeResult(check)}`);
}

requiredSuite('robustness', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('rb');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('32 parallel runs: 32 distinct addresses, all reachable', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}p32`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.101.0.0/24']));
    const names = Array.from({ length: 32 }, (_, i) => `${sb!.prefix}c${i}`);
    const results = await Promise.all(names.map((n) => sb!.nsnet(['run', '-d', '--name', n, '--network', net, '--', 'sleep', '1000'], { timeoutMs: 120_000 })));
    for (const r of results) ok(r);
    const view = (JSON.parse(ok(await sb.nsnet(['network', 'inspect', net])).stdout) as NetView[])[0]!;
    const ips = Object.values(view.Containers).map((c) => c.IPv4Address.split('/')[0]!);
    assert.equal(new Set(ips).size, 32, ips.join(' '));
    const pings = await Promise.all(ips.map((ip) => sb!.inHostAsync(['ping', '-c1', '-W2', ip])));
    pings.forEach((p, i) => assert.equal(p.code, 0, `${ips[i]} unreachable`));
    await checkClean(sb);
    ok(await sb.nsnet(['rm', '-f', ...names], { timeoutMs: 120_000 }));
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  test('10 parallel creates of one network name: one succeeds, nine fail clearly', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}same`;
    const results = await Promise.all(Array.from({ length: 10 }, () => sb!.nsnet(['network', 'create', net])));
    assert.equal(results.filter((r) => r.code === 0).length, 1, results.map(describeResult).join('\n'));
    for (const r of results.filter((x) => x.code !== 0)) {
      assert.equal(r.code, 1, describeResult(r));
      assert.match(r.stderr, new RegExp(`network with name ${net} already exists`));
    }
    await checkClean(sb);
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  test('parallel rm and run of the same name corrupt nothing', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const name = `${sb.prefix}race`;
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000']),
        sb.nsnet(['rm', '-f', name]),
        sb.nsnet(['run', '-d', '--name', name, '--', 'sleep', '1000']),
      ]);
      await checkClean(sb);
      const ps = JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as Array<{ Name: string }>;
      if (ps.some((c) => c.Name === `/${name}`)) ok(await sb.nsnet(['exec', name, 'true']));
    }
    await sb.nsnet(['rm', '-f', name]);
  });

  test('a process waiting for the lock says so after a second and gives up after its timeout', async () => {
    assert.ok(sb, 'before() made the sandbox');
    ok(await sb.nsnet(['ps'])); // makes the state directory and its lock file
    const holder = spawn('flock', [`${sb.root}/lock`, 'sleep', '4'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const start = Date.now();
      const waited = await sb.nsnet(['network', 'create', `${sb.prefix}wait`, '--subnet', '10.102.0.0/24'], {
        env: { ...process.env, NSNET_LOCK_TIMEOUT_MS: '1800' },
      });
      assert.equal(waited.code, 1, describeResult(waited));
      assert.match(waited.stderr, /waiting for another nsnet command to finish/);
      assert.match(waited.stderr, /another nsnet command holds the lock/);
      assert.ok(Date.now() - start >= 1700, 'gave up before its timeout');
    } finally {
      holder.kill('SIGKILL');
    }
    const nets = JSON.parse(ok(await sb.nsnet(['network', 'ls', '--format', 'json'])).stdout) as Array<{ Name: string }>;
    assert.ok(!nets.some((n) => n.Name === `${sb!.prefix}wait`), 'the command that gave up created its network anyway');
  });

  test('20 runs killed at random moments: prune leaves a clean host, survivors work', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}kill`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.103.0.0/24']));
    const names = Array.from({ length: 20 }, (_, i) => `${sb!.prefix}k${i}`);
    await Promise.all(
      names.map(
        (n) =>
          new Promise<void>((resolve) => {
            const [file, ...args] = sb!.nsnetArgv(['run', '-d', '--name', n, '--network', net, '--', 'sleep', '1000']);
            const child = spawn(file!, args, { stdio: 'ignore' });
            const timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 250));
            child.on('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    ok(await sb.nsnet(['system', 'prune']));
    await checkClean(sb);
    const ps = JSON.parse(ok(await sb.nsnet(['ps', '--format', 'json'])).stdout) as Array<{ Name: string; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>;
    for (const c of ps) ok(sb.inHost(['ping', '-c1', '-W2', Object.values(c.NetworkSettings.Networks)[0]!.IPAddress]));
    ok(await sb.nsnet(['system', 'reset', '--force']));
  });

  test('without root or without CAP_NET_ADMIN nsnet says so before it changes anything', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const root = `${sb.root}-nocaps`;
    const argv = sb.nsnetArgv(['run', '-d', '--name', `${sb.prefix}nocap`, '--', 'sleep', '1000']).map((a) => (a === sb!.root ? root : a));
    const [nsenter, net, ...nsnet] = argv;
    for (const [who, drop] of [
      ['nobody', ['--reuid=65534', '--regid=65534', '--clear-groups']],
      ['root without CAP_NET_ADMIN', ['--inh-caps=-all', '--bounding-set=-net_admin']],
    ] as const) {
      const r = runSync([nsenter!, net!, 'setpriv', ...drop, ...nsnet]);
      // run: 125, as Docker's run when the container cannot be made.
      assert.equal(r.code, 125, `${who}: ${describeResult(r)}`);
      assert.match(r.stderr, /nsnet needs CAP_NET_ADMIN.* and this process lacks/, who);
    }
    assert.equal(fs.existsSync(root), false, 'no state was written');
    assert.equal(sb.netnsInode(`${sb.prefix}nocap`), undefined);
  });

  test('bad input: a clear message, exit 1 (2 for usage; run: 125, as Docker), and nothing changes', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}bi`;
    const holder = `${sb.prefix}mh`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.104.0.0/24']));
    ok(await sb.nsnet(['run', '-d', '--name', holder, '--network', net, '--mac-address', '02:42:aa:bb:cc:dd', '--', 'sleep', '1000']));
    const snapshot = async (): Promise<string> =>
      [
        sb!.inHost(['ip', '-o', 'link']).stdout.replace(/\d+: /g, ''),
        sb!.inHost(['nft', 'list', 'ruleset']).stdout,
        (await sb!.nsnet(['ps', '-a', '--format', 'json'])).stdout,
        (await sb!.nsnet(['network', 'ls', '--format', 'json'])).stdout,
      ].join('\n');
    const before = await snapshot();
    const cases: Array<[string[], number, RegExp]> = [
      [['run', '--name', '-bad', '--', 'true'], 125, /invalid container name "-bad"/],
      [['run', '--name', 'a'.repeat(64), '--', 'true'], 125, /at most 63 characters/],
      [['network', 'create', 'x y'], 1, /invalid network name "x y"/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '10.0.0.0/33'], 1, /invalid subnet "10\.0\.0\.0\/33"/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '10.104.0.0/25'], 1, /overlaps network/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '10.105.0.0/24', '--gateway', '10.105.1.1'], 1, /invalid gateway "10\.105\.1\.1": not inside subnet/],
      [['network', 'create', `${sb.prefix}q`, '-o', 'com.docker.network.driver.mtu=9'], 1, /invalid MTU "9"/],
      [['network', 'create', `${sb.prefix}q`, '-o', 'no.such.option=1'], 1, /unknown (bridge )?network option "no\.such\.option"/],
      [['network', 'create', `${sb.prefix}q`, '-o', 'com.docker.network.bridge.enable_icc=maybe'], 1, /expected true or false/],
      [['run', '--network', net, '--ip', '10.104.0.0', '--', 'true'], 125, /network address/],
      [['run', '--network', net, '--ip', '10.104.1.5', '--', 'true'], 125, /not inside subnet/],
      [['run', '--network', net, '--mac-address', '01:00:00:00:00:01', '--', 'true'], 125, /multicast/],
      [['run', '--network', net, '-p', '99999:80', '--', 'true'], 125, /port 99999 is outside 1-65535/],
      [['run', '--network', net, '--rootfs', '/no/such/dir', '--', 'true'], 125, /invalid --rootfs "\/no\/such\/dir"/],
      [['run', '-e', 'NOEQUALS', '--', 'true'], 125, /expected KEY=VALUE/],
      [['run', '--bogus', '--', 'true'], 125, /unknown option '--bogus'/],
      [['network', 'frobnicate'], 2, /unknown command/],
      [['stop', '-t', 'soon', 'x'], 2, /invalid --time "soon"/],
      // Hardening (issue 14): accepted before, each broke something or changed nothing useful.
      [['--root', '', 'network', 'ls'], 1, /invalid state root "": expected a directory/],
      [['network', 'create', 'host'], 1, /network name host is reserved/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '198.51.100.0/24'], 1, /overlaps the host's address 198\.51\.100\.2\/24 on uplink/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '198.51.100.128/25'], 1, /overlaps the host's address 198\.51\.100\.2\/24/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '127.0.0.0/16'], 1, /overlaps 127\.0\.0\.0\/8, loopback/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '224.1.0.0/16'], 1, /multicast/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '0.0.0.0/16'], 1, /"this network"/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '255.255.255.0/24'], 1, /limited broadcast/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '169.254.0.0/16'], 1, /link-local/],
      [['network', 'create', `${sb.prefix}q`, '--subnet', '10.105.0.0/24', '--ip-range', '10.105.0.1/32'], 1, /leaves no address for a container/],
      [['network', 'create', `${sb.prefix}q`, '--internal', '-o', 'com.docker.network.bridge.enable_ip_masquerade=true'], 1, /--internal contradicts/],
      [['run', '--network', net, '-p', '192.0.2.55:8085:80', '--', 'true'], 125, /cannot publish on 192\.0\.2\.55: it is not an address of this host/],
      [['run', '--network', net, '--mac-address', '02:42:AA:BB:CC:DD', '--', 'true'], 125, new RegExp(`MAC address 02:42:aa:bb:cc:dd is already used by container ${holder}`)],
      [['run', '--network', net, '--hostname', holder, '--', 'true'], 125, new RegExp(`--hostname ${holder} would shadow container ${holder} on network ${net}`)],
      [['run', '--network', net, '--network-alias', holder, '--', 'true'], 125, new RegExp(`--network-alias ${holder} would shadow container ${holder}`)],
      [['run', '--network', net, '--network', net, '--', 'true'], 125, new RegExp(`network ${net} is given twice`)],
      [['run', '--network', net, '--', ''], 125, /invalid command "": the program to run is empty/],
      [['run', '--network', net, '--cap-add', 'FLY', '--', 'true'], 125, /invalid --cap-add "FLY": not a capability name/],
    ];
    for (const [args, code, message] of cases) {
      const r = await sb.nsnet(args);
      assert.equal(r.code, code, `nsnet ${args.join(' ')}\n${describeResult(r)}`);
      assert.match(r.stderr, message, `nsnet ${args.join(' ')}`);
    }
    assert.equal(await snapshot(), before);
    ok(await sb.nsnet(['rm', '-f', holder]));
    ok(await sb.nsnet(['network', 'rm', net]));
  });
});
