/**
 * Published ports (-p): reachable from the world through the host's uplink address with the
 * client's own source address, from the host through 127.0.0.1 and its own address, from a
 * sibling container through the host's address (hairpin); a 127.0.0.1 binding is not reachable
 * from the world; ranges map one to one; conflicts are refused naming the holder; rm frees.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, HOST_UPLINK_IP, WORLD_UPLINK_IP, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { client, loopbackListener, ROUTE_LOOPBACK_TO_GATEWAY, SERVER, sendToLoopback } from '../helpers/probes.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

requiredSuite('published ports (nftables driver)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let web = '';
  before(async () => {
    sb = await createSandbox('pt');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('a TCP server and a UDP echo are reachable from the world, the host and a sibling', async () => {
    assert.ok(sb, 'before() made the sandbox');
    web = `${sb.prefix}web`;
    ok(
      await sb.nsnet([
        'run', '-d', '--name', web, '-p', '8080:7000', '-p', '127.0.0.1:8081:7000', '-p', '5353:7000/udp',
        '-p', '9000-9001:7000-7001', '--', 'node', '-e', SERVER,
      ]),
    );
    const ports = ok(await sb.nsnet(['port', web])).stdout.trim().split('\n');
    assert.deepEqual(ports.sort(), [
      '7000/tcp -> 0.0.0.0:8080',
      '7000/tcp -> 0.0.0.0:9000',
      '7000/tcp -> 127.0.0.1:8081',
      '7000/udp -> 0.0.0.0:5353',
      '7001/tcp -> 0.0.0.0:9001',
    ]);
    const inspect = JSON.parse(ok(await sb.nsnet(['inspect', web])).stdout) as Array<{ NetworkSettings: { Ports: Record<string, unknown> } }>;
    assert.deepEqual(inspect[0]!.NetworkSettings.Ports['7000/udp'], [{ HostIp: '0.0.0.0', HostPort: '5353' }]);
    await new Promise((r) => setTimeout(r, 500)); // let node start listening

    // From the world: the container sees the world's own address (DNAT only, no SNAT).
    assert.equal(ok(sb.inWorld(client('tcp', HOST_UPLINK_IP, 8080))).stdout.trim(), `tcp 7000 ${WORLD_UPLINK_IP}`);
    assert.equal(ok(sb.inWorld(client('udp', HOST_UPLINK_IP, 5353))).stdout.trim(), `udp 7000 ${WORLD_UPLINK_IP}`);
    // A range maps one to one.
    assert.match(ok(sb.inWorld(client('tcp', HOST_UPLINK_IP, 9001))).stdout, /^tcp 7001 /);
    // From the host: through 127.0.0.1 and through its own uplink address.
    assert.match(ok(sb.inHost(client('tcp', '127.0.0.1', 8081))).stdout, /^tcp 7000 /);
    assert.match(ok(sb.inHost(client('tcp', '127.0.0.1', 8080))).stdout, /^tcp 7000 /);
    assert.match(ok(sb.inHost(client('tcp', HOST_UPLINK_IP, 8080))).stdout, /^tcp 7000 /);
    // From a sibling container on the same bridge, through the host's address (hairpin).
    const sib = `${sb.prefix}sib`;
    ok(await sb.nsnet(['run', '-d', '--name', sib, '--', 'sleep', '1000']));
    assert.match(ok(await sb.nsnet(['exec', sib, ...client('tcp', HOST_UPLINK_IP, 8080)])).stdout, /^tcp 7000 /);
    assert.match(ok(await sb.nsnet(['exec', sib, ...client('udp', HOST_UPLINK_IP, 5353)])).stdout, /^udp 7000 /);
    ok(await sb.nsnet(['rm', '-f', sib]));
  });

  test('a port bound to 127.0.0.1 is not reachable from the world', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const r = sb.inWorld(client('tcp', HOST_UPLINK_IP, 8081));
    assert.notEqual(r.code, 0, `the world reached 127.0.0.1:8081: ${r.stdout}`);
  });

  test('conflicts are refused naming the holder, and leave nothing behind', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const before = sb.inHost(['nft', 'list', 'table', 'inet', 'nsnet']).stdout;
    const clash = await sb.nsnet(['run', '-d', '--name', `${sb.prefix}clash`, '-p', '8080:80', '--', 'sleep', '1000']);
    assert.equal(clash.code, 125, describeResult(clash));
    assert.match(clash.stderr, new RegExp(`host port 8080/tcp is already published by container ${web}`));
    // A host process listening on the port.
    const listener = sb.spawnInHost(['node', '-e', "require('net').createServer().listen(8095)"]);
    await new Promise((r) => setTimeout(r, 700));
    const busy = await sb.nsnet(['run', '-d', '--name', `${sb.prefix}busy`, '-p', '8095:80', '--', 'sleep', '1000']);
    listener.kill('SIGKILL');
    assert.equal(busy.code, 125, describeResult(busy));
    assert.match(busy.stderr, /host port 8095\/tcp is in use on every address by process \d+ \(node\)/);
    assert.equal(sb.inHost(['nft', 'list', 'table', 'inet', 'nsnet']).stdout, before);
    assert.equal(sb.netnsInode(`${sb.prefix}clash`), undefined);
    const bad = await sb.nsnet(['run', '-d', '--name', `${sb.prefix}bad`, '-p', '80:80/icmp', '--', 'sleep', '1000']);
    assert.equal(bad.code, 125, describeResult(bad));
    assert.match(bad.stderr, /protocol "icmp" is not one of tcp, udp, sctp/);
  });

  test('after rm -f the ports are free and no rule mentions them', async () => {
    assert.ok(sb, 'before() made the sandbox');
    ok(await sb.nsnet(['rm', '-f', web]));
    const table = sb.inHost(['nft', 'list', 'table', 'inet', 'nsnet']).stdout;
    assert.doesNotMatch(table, /8080|8081|5353|9000|9001/);
    assert.notEqual(sb.inWorld(client('tcp', HOST_UPLINK_IP, 8080)).code, 0);
    const again = `${sb.prefix}again`;
    ok(await sb.nsnet(['run', '-d', '--name', again, '-p', '8080:7000', '--', 'node', '-e', SERVER]));
    ok(await sb.nsnet(['rm', '-f', again]));
  });

  test("the route_localnet guard: a container cannot reach the host's loopback-only services", async () => {
    assert.ok(sb, 'before() made the sandbox');
    const c = `${sb.prefix}lo`;
    ok(await sb.nsnet(['run', '-d', '--name', c, '--cap-add', 'NET_ADMIN', '--', 'sleep', '1000']));
    // The attacker is given NET_ADMIN (the default set has none) to change its own routes.
    // A UDP service on the host's 127.0.0.1 only, and a container (root in its namespace) that
    // routes 127.0.0.1 through its gateway, as CVE-2020-8558's exploit does.
    const seen: string[] = [];
    const listener = sb.spawnInHost(['node', '-e', loopbackListener(5998)]);
    try {
      listener.stdout?.setEncoding('utf8').on('data', (d: string) => seen.push(...d.split('\n').filter(Boolean)));
      const deadline = Date.now() + 10_000;
      while (!seen.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      ok(await sb.nsnet(['exec', c, 'sh', '-c', ROUTE_LOOPBACK_TO_GATEWAY]));
      const send = async (msg: string): Promise<void> => {
        ok(await sb!.nsnet(['exec', c, 'node', '-e', sendToLoopback(msg, 5998)]));
        await new Promise((r) => setTimeout(r, 300));
      };
      await send('guarded');
      assert.deepEqual(seen, ['listening'], 'nothing from the container reached 127.0.0.1');
      // Control: without the guard chain the same datagrams arrive (the probe is real).
      ok(sb.inHost(['nft', 'delete', 'chain', 'inet', 'nsnet', 'guard']));
      await send('unguarded');
      assert.ok(seen.includes('unguarded'), `control: without the guard the host service is reached (saw ${JSON.stringify(seen)})`);
      // system check notices the missing chain and --fix puts it back.
      assert.equal((await sb.nsnet(['system', 'check'])).code, 1);
      ok(await sb.nsnet(['system', 'check', '--fix']));
      assert.match(ok(sb.inHost(['nft', 'list', 'chain', 'inet', 'nsnet', 'guard'])).stdout, /ip daddr 127\.0\.0\.0\/8 drop/);
    } finally {
      if (listener.pid !== undefined && listener.exitCode === null) process.kill(listener.pid, 'SIGKILL');
    }
    ok(await sb.nsnet(['rm', '-f', c]));
  });

  test('network disconnect withdraws the ports of that network', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const c = `${sb.prefix}dis`;
    ok(await sb.nsnet(['run', '-d', '--name', c, '-p', '8085:7000', '--', 'sleep', '1000']));
    assert.match(sb.inHost(['nft', 'list', 'table', 'inet', 'nsnet']).stdout, /8085/);
    ok(await sb.nsnet(['network', 'disconnect', 'bridge', c]));
    assert.doesNotMatch(sb.inHost(['nft', 'list', 'table', 'inet', 'nsnet']).stdout, /8085/);
    assert.equal(ok(await sb.nsnet(['port', c])).stdout, '');
    ok(await sb.nsnet(['rm', '-f', c]));
  });
});
