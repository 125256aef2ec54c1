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
import { needs, requiredSuite, requiredTest } from '../helpers/requirements.js';
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

  requiredTest('ipvlan l2: likewise, with the parent\'s MAC', { needs: [ipvlanKernel] }, async () => {
    assert.ok(sb);
    const net = `${sb.prefix}iv`;
    ok(await sb.nsnet(['network', 'create', '-d', 'ipvlan', '-o', `parent=${parent}`, '-o', 'ipvlan_mode=l2', '--subnet', SUBNET, '--gateway', LAN_GATEWAY, net]));
    await twoContainers(sb, net, 'ipvlan');
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
