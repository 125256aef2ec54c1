/**
 * Issue 17 item 8 on the real kernel: macvlan and ipvlan networks. In the sandbox, a veth pair
 * plays the LAN: its host end (in the sandbox's host namespace) is the parent, its other end (in
 * the world namespace, with an address of the subnet) is the "LAN gateway". Containers on a
 * macvlan network (bridge mode) and on an ipvlan l2 network reach each other and the LAN gateway
 * over the parent, with no bridge and no veth host end made; a missing parent is refused, naming
 * it, with nothing changed; everything goes again with rm and network rm (zero residue: the
 * sandbox's own check when it is destroyed).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { spawnSync } from 'node:child_process';

/**
 * Whether the kernel has ipvlan (CONFIG_IPVLAN; this machine's kernel may be built without it):
 * tried in a throwaway network namespace of its own (unshare -n), gone when the probe exits.
 */
const ipvlanKernel = (): string | undefined => {
  if (process.getuid?.() !== 0) return 'needs root';
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link add p0 type dummy && ip link add i0 link p0 type ipvlan mode l2'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `the kernel has no ipvlan (CONFIG_IPVLAN): ${probe.stderr.trim()}`;
};

/** Whether the kernel has the dummy driver (CONFIG_DUMMY), the parent of an --internal macvlan network. */
const dummyKernel = (): string | undefined => {
  if (process.getuid?.() !== 0) return 'needs root';
  const probe = spawnSync('unshare', ['-n', 'ip', 'link', 'add', 'p0', 'type', 'dummy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `the kernel has no dummy links (CONFIG_DUMMY): ${probe.stderr.trim()}`;
};

/**
 * On a kernel without the link type: the command fails naming the kernel option, and the
 * sandbox host, the containers and the networks are as before.
 */
async function refusedForLackOf(sb: Sandbox, kind: 'ipvlan' | 'dummy', args: string[]): Promise<void> {
  const links = linksIn((a) => sb.inHost(a));
  const [ps, nets] = [ok(await sb.nsnet(['ps', '-a', '-q'])).stdout, ok(await sb.nsnet(['network', 'ls', '-q'])).stdout];
  const r = await sb.nsnet(args);
  assert.notEqual(r.code, 0, describeResult(r));
  assert.match(r.stderr, new RegExp(`this kernel has no ${kind} links`), describeResult(r));
  assert.match(r.stderr, new RegExp(`CONFIG_${kind.toUpperCase()}`), describeResult(r));
  assert.deepEqual(linksIn((a) => sb.inHost(a)), links, 'links left behind');
  assert.equal(ok(await sb.nsnet(['ps', '-a', '-q'])).stdout, ps);
  assert.equal(ok(await sb.nsnet(['network', 'ls', '-q'])).stdout, nets);
}

const SUBNET = '10.118.0.0/24';
const LAN_GATEWAY = '10.118.0.254';

/** Link names in a namespace of the sandbox (`ip -o link`), without the @peer suffix. */
function linksIn(run: (argv: readonly string[]) => { stdout: string }): string[] {
  return run(['ip', '-o', 'link', 'show'])
    .stdout.split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .sort();
}

requiredSuite('macvlan and ipvlan networks (issue 17 item 8)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let parent = '';
  let lanEnd = '';
  before(async () => {
    sb = await createSandbox('mv');
    parent = `${sb.prefix}p`;
    lanEnd = `${sb.prefix}l`;
    // The LAN: the parent in the sandbox host, its other end in the world with the gateway address.
    ok(sb.inHost(['ip', 'link', 'add', parent, 'type', 'veth', 'peer', 'name', lanEnd, 'netns', sb.worldNs]), 'make the LAN veth');
    ok(sb.inHost(['ip', 'link', 'set', parent, 'up']), 'parent up');
    ok(sb.inWorld(['ip', 'addr', 'add', `${LAN_GATEWAY}/24`, 'dev', lanEnd]), 'LAN gateway address');
    ok(sb.inWorld(['ip', 'link', 'set', lanEnd, 'up']), 'LAN end up');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  const ping = async (s: Sandbox, from: string, to: string): Promise<void> => {
    const r = await s.nsnet(['exec', from, 'ping', '-c', '1', '-W', '3', to]);
    assert.equal(r.code, 0, `${from} should reach ${to}\n${describeResult(r)}`);
  };

  /** Two containers on the network reach each other and the LAN gateway; then all goes again. */
  async function twoContainers(s: Sandbox, net: string, expectKind: string): Promise<void> {
    const p = s.prefix;
    const hostLinks = linksIn((a) => s.inHost(a));
    ok(await s.nsnet(['run', '-d', '--name', `${p}a`, '--network', net, '--ip', '10.118.0.11', '--', 'sleep', '1000']));
    ok(await s.nsnet(['run', '-d', '--name', `${p}b`, '--network', net, '--ip', '10.118.0.12', '--', 'sleep', '1000']));
    const details = ok(await s.nsnet(['exec', `${p}a`, 'ip', '-d', 'link', 'show', 'eth0'])).stdout;
    assert.match(details, new RegExp(`\\b${expectKind} mode (bridge|l2)\\b`), details);
    // No bridge, no veth host end: the host's links are as they were.
    assert.deepEqual(linksIn((a) => s.inHost(a)), hostLinks, 'the host got new links');
    await ping(s, `${p}a`, '10.118.0.12');
    await ping(s, `${p}b`, '10.118.0.11');
    await ping(s, `${p}a`, LAN_GATEWAY);
    await ping(s, `${p}b`, LAN_GATEWAY);
    const route = ok(await s.nsnet(['exec', `${p}a`, 'ip', 'route', 'show', 'default'])).stdout;
    assert.match(route, new RegExp(`default via ${LAN_GATEWAY.replace(/\./g, '\\.')} dev eth0`));
    const check = await s.nsnet(['system', 'check']);
    assert.equal(check.code, 0, describeResult(check));
    ok(await s.nsnet(['rm', '-f', `${p}a`, `${p}b`]));
    ok(await s.nsnet(['network', 'rm', net]));
    assert.deepEqual(linksIn((a) => s.inHost(a)), hostLinks, 'links left in the host');
  }

  test('macvlan: containers on the parent reach each other and the LAN gateway', async () => {
    assert.ok(sb);
    const net = `${sb.prefix}mv`;
    ok(await sb.nsnet(['network', 'create', '-d', 'macvlan', '-o', `parent=${parent}`, '--subnet', SUBNET, '--gateway', LAN_GATEWAY, net]));
    const shown = JSON.parse(ok(await sb.nsnet(['network', 'inspect', net])).stdout) as Array<{ Driver: string; Options: Record<string, string> }>;
    assert.equal(shown[0]?.Driver, 'macvlan');
    assert.equal(shown[0]?.Options['parent'], parent);
    await twoContainers(sb, net, 'macvlan');
  });

  // What is checked depends on the kernel, and something real is checked either way (never a
  // skip): with ipvlan, that it works; without (this machine's kernel lacks CONFIG_IPVLAN), that
  // run says so, names the kernel option, and leaves nothing behind.
  test('ipvlan l2: likewise, with the parent\'s MAC — or, on a kernel without ipvlan, a clear refusal and nothing made', async () => {
    assert.ok(sb);
    const net = `${sb.prefix}iv`;
    ok(await sb.nsnet(['network', 'create', '-d', 'ipvlan', '-o', `parent=${parent}`, '-o', 'ipvlan_mode=l2', '--subnet', SUBNET, '--gateway', LAN_GATEWAY, net]));
    if (ipvlanKernel() === undefined) {
      await twoContainers(sb, net, 'ipvlan');
      return;
    }
    await refusedForLackOf(sb, 'ipvlan', ['run', '-d', '--name', `${sb.prefix}iv1`, '--network', net, '--', 'sleep', '1000']);
    ok(await sb.nsnet(['network', 'rm', net]));
  });

  test('the host cannot reach a macvlan container through the parent (the known macvlan limitation); the LAN can', async () => {
    assert.ok(sb);
    const p = sb.prefix;
    const net = `${p}mh`;
    // The host on the LAN through the parent itself: macvlan hands frames between the parent and
    // its children only on the wire, never inside the host, so this address cannot be reached.
    ok(sb.inHost(['ip', 'addr', 'add', '10.118.0.253/24', 'dev', parent]), 'host address on the parent');
    try {
      ok(await sb.nsnet(['network', 'create', '-d', 'macvlan', '-o', `parent=${parent}`, '--subnet', SUBNET, '--gateway', LAN_GATEWAY, net]));
      ok(await sb.nsnet(['run', '-d', '--name', `${p}h`, '--network', net, '--ip', '10.118.0.21', '--', 'sleep', '1000']));
      await ping(sb, `${p}h`, LAN_GATEWAY);
      const r = await sb.nsnet(['exec', `${p}h`, 'ping', '-c', '1', '-W', '1', '10.118.0.253']);
      assert.notEqual(r.code, 0, `the host answered through the parent\n${describeResult(r)}`);
      assert.notEqual(sb.inHost(['ping', '-c', '1', '-W', '1', '10.118.0.21']).code, 0, 'the host reached the container through the parent');
      // The control: the LAN (the world end) reaches it.
      ok(sb.inWorld(['ping', '-c', '1', '-W', '3', '10.118.0.21']), 'the LAN reaches the container');
      ok(await sb.nsnet(['rm', '-f', `${p}h`]));
      ok(await sb.nsnet(['network', 'rm', net]));
    } finally {
      sb.inHost(['ip', 'addr', 'del', '10.118.0.253/24', 'dev', parent]);
    }
  });

  test('--internal without a parent: a dummy parent made and removed with the network; containers reach each other, no way out — or, without dummy links, a clear refusal', async () => {
    assert.ok(sb);
    const p = sb.prefix;
    const net = `${p}mi`;
    const hostLinks = linksIn((a) => sb!.inHost(a));
    if (dummyKernel() !== undefined) {
      await refusedForLackOf(sb, 'dummy', ['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.119.0.0/24', net]);
      return;
    }
    ok(await sb.nsnet(['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.119.0.0/24', net]));
    const made = linksIn((a) => sb!.inHost(a)).filter((l) => !hostLinks.includes(l));
    assert.equal(made.length, 1, `one dummy parent: ${made.join(', ')}`);
    assert.match(ok(sb.inHost(['ip', '-d', 'link', 'show', made[0]!])).stdout, /\bdummy\b/);
    ok(await sb.nsnet(['run', '-d', '--name', `${p}i1`, '--network', net, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}i2`, '--network', net, '--ip', '10.119.0.9', '--', 'sleep', '1000']));
    await ping(sb, `${p}i1`, '10.119.0.9');
    assert.equal(ok(await sb.nsnet(['exec', `${p}i1`, 'ip', 'route', 'show', 'default'])).stdout.trim(), '');
    ok(await sb.nsnet(['rm', '-f', `${p}i1`, `${p}i2`]));
    ok(await sb.nsnet(['network', 'rm', net]));
    assert.deepEqual(linksIn((a) => sb!.inHost(a)), hostLinks, 'the dummy parent is left');
  });

  test('a missing parent is refused, naming it; nothing changes', async () => {
    assert.ok(sb);
    const hostLinks = linksIn((a) => sb!.inHost(a));
    const nets = ok(await sb.nsnet(['network', 'ls', '-q'])).stdout;
    const r = await sb.nsnet(['network', 'create', '-d', 'macvlan', '-o', `parent=${sb.prefix}gone`, '--subnet', SUBNET, `${sb.prefix}x`]);
    assert.equal(r.code, 1, describeResult(r));
    assert.match(r.stderr, new RegExp(`parent interface ${sb.prefix}gone .*does not exist`), describeResult(r));
    const noParent = await sb.nsnet(['network', 'create', '-d', 'macvlan', '--subnet', SUBNET, `${sb.prefix}y`]);
    assert.equal(noParent.code, 1, describeResult(noParent));
    assert.match(noParent.stderr, /-o parent=IFACE/);
    assert.equal(ok(await sb.nsnet(['network', 'ls', '-q'])).stdout, nets);
    assert.deepEqual(linksIn((a) => sb!.inHost(a)), hostLinks);
  });
});
