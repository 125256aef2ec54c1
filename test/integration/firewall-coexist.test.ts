/**
 * The nftables driver on a host whose iptables FORWARD policy is DROP, with bridge netfilter on
 * (as Docker leaves a host): nsnet keeps its traffic flowing through its own NSNET-FORWARD chain
 * and one jump, and leaves the host's iptables exactly as it found it. Also: doctor's report,
 * and host_binding_ipv4 as the default address of published ports.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

/** iptables-save without its dated comments and packet counters. */
const saved = (sb: Sandbox): string =>
  ok(sb.inHost(['iptables-save', '-t', 'filter']))
    .stdout.split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');

requiredSuite('coexistence with a FORWARD policy of DROP (nftables driver)', { needs: [needs.integration, needs.iptables], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let iptablesBefore = '';
  const env = { ...process.env, NSNET_FIREWALL_DRIVER: 'nftables' };
  before(async () => {
    sb = await createSandbox('fd');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('containers reach each other and the world through nsnet\'s own chain', async () => {
    assert.ok(sb, 'before() made the sandbox');
    ok(sb.inHost(['sysctl', '-w', 'net.bridge.bridge-nf-call-iptables=1']));
    ok(sb.inHost(['iptables', '-N', 'FOREIGN']));
    ok(sb.inHost(['iptables', '-A', 'FOREIGN', '-p', 'tcp', '--dport', '9999', '-j', 'DROP']));
    ok(sb.inHost(['iptables', '-A', 'FORWARD', '-j', 'FOREIGN']));
    ok(sb.inHost(['iptables', '-P', 'FORWARD', 'DROP']));
    iptablesBefore = saved(sb);

    const net = `${sb.prefix}n`;
    const [a, b] = [`${sb.prefix}a`, `${sb.prefix}b`];
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.97.0.0/24'], { env }));
    ok(await sb.nsnet(['run', '-d', '--name', a, '--network', net, '--ip', '10.97.0.10', '--', 'sleep', '1000'], { env }));
    ok(await sb.nsnet(['run', '-d', '--name', b, '--network', net, '--ip', '10.97.0.11', '--', 'sleep', '1000'], { env }));
    assert.match(ok(sb.inHost(['iptables', '-S', 'FORWARD'])).stdout, /^-A FORWARD -j NSNET-FORWARD$/m);
    ok(await sb.nsnet(['exec', a, 'ping', '-c1', '-W2', '10.97.0.11'], { env }));
    ok(await sb.nsnet(['exec', a, 'ping', '-c1', '-W2', '203.0.113.8'], { env }));

    // Control: without nsnet's jump the host's DROP policy stops the same traffic.
    ok(sb.inHost(['iptables', '-D', 'FORWARD', '-j', 'NSNET-FORWARD']));
    assert.notEqual((await sb.nsnet(['exec', a, 'ping', '-c1', '-W1', '10.97.0.11'], { env })).code, 0, 'traffic flowed without the jump');
    assert.notEqual((await sb.nsnet(['exec', a, 'ping', '-c1', '-W1', '203.0.113.8'], { env })).code, 0);
    ok(sb.inHost(['iptables', '-I', 'FORWARD', '1', '-j', 'NSNET-FORWARD']));
    ok(await sb.nsnet(['exec', b, 'ping', '-c1', '-W2', '10.97.0.10'], { env }));
  });

  test('doctor reports the DROP policy, nsnet\'s chain, and a foreign nftables chain that drops', async () => {
    assert.ok(sb, 'before() made the sandbox');
    let report = ok(await sb.nsnet(['system', 'doctor'], { env })).stdout;
    assert.match(report, /iptables FORWARD: policy DROP; nsnet keeps its own NSNET-FORWARD chain/);
    assert.match(report, /firewall driver: nftables/);
    ok(sb.inHost(['nft', 'add', 'table', 'inet', 'foreignfw']));
    ok(sb.inHost(['nft', 'add', 'chain', 'inet', 'foreignfw', 'forwarding', '{ type filter hook forward priority 0; policy drop; }']));
    report = ok(await sb.nsnet(['system', 'doctor'], { env })).stdout;
    assert.match(report, /WARN\s+foreign nftables: forwarded traffic is dropped by default in inet foreignfw forwarding/);
    ok(sb.inHost(['nft', 'delete', 'table', 'inet', 'foreignfw']));
  });

  test('host_binding_ipv4 is the address published ports bind to by default', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const net = `${sb.prefix}hb`;
    const c = `${sb.prefix}hbc`;
    ok(await sb.nsnet(['network', 'create', net, '--subnet', '10.98.0.0/24', '-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1'], { env }));
    ok(await sb.nsnet(['run', '-d', '--name', c, '--network', net, '-p', '8088:7000', '--', 'sleep', '1000'], { env }));
    assert.equal(ok(await sb.nsnet(['port', c], { env })).stdout.trim(), '7000/tcp -> 127.0.0.1:8088');
    ok(await sb.nsnet(['rm', '-f', c], { env }));
  });

  test('system reset leaves the host\'s iptables exactly as it was', async () => {
    assert.ok(sb, 'before() made the sandbox');
    ok(await sb.nsnet(['system', 'reset', '--force'], { env }));
    assert.equal(saved(sb), iptablesBefore);
    assert.doesNotMatch(ok(sb.inHost(['nft', 'list', 'tables'])).stdout, /nsnet/);
  });
});
