/**
 * nsnet-cni under Podman 4.3 (CNI backend, see test/helpers/podman.ts) on a dual-stack network:
 * the conflist's ipam has an IPv4 and an IPv6 range set, as `podman network create --ipv6`
 * writes for the bridge plugin. Containers see both addresses (`ip -6 addr`), ping the IPv6
 * gateway, a sibling and the world over IPv6; --ip6 (IP= in CNI_ARGS) picks the IPv6 address;
 * podman rm leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { ok } from '../helpers/assert.js';
import { withNsnetPodman } from '../helpers/nsnet-podman.js';
import { WORLD_IP, WORLD_IP6, type Sandbox } from '../helpers/sandbox.js';
import { needs, requiredTest } from '../helpers/requirements.js';

const SUBNET = '10.67.0.0/24';
const SUBNET6 = 'fd00:67::/64';
const GATEWAY6 = 'fd00:67::1';

requiredTest('podman run on a dual-stack nsnet-cni network: both addresses, the IPv6 gateway, a sibling and the world over IPv6, --ip6', { needs: [needs.podman], timeout: 180_000 }, async () => {
  const conflists = (sb: Sandbox): object[] => [
    {
      cniVersion: '1.0.0',
      name: `${sb.prefix}pnet6`,
      plugins: [
        {
          type: 'nsnet-cni',
          bridge: `${sb.prefix}p6`,
          ipam: { type: 'host-local', routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], ranges: [[{ subnet: SUBNET }], [{ subnet: SUBNET6 }]] },
          capabilities: { aliases: true },
        },
      ],
    },
  ];
  const problems = await withNsnetPodman('pcn6', conflists, async (sb, h) => {
    const net = `${sb.prefix}pnet6`;
    const podman = async (args: string[], what: string): Promise<string> => ok(await h.podman(args), what).stdout.trim();

    const a = `${sb.prefix}a`;
    await podman(['run', '-d', '--name', a, h.image, 'sleep', '1000'], 'podman run -d');
    const addr6 = await podman(['exec', a, 'ip', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'], 'ip -6 addr in the container');
    assert.match(addr6, /inet6 fd00:67::2\/64 scope global/, addr6);
    assert.doesNotMatch(addr6, /tentative/, 'no duplicate address detection window');
    assert.match(await podman(['exec', a, 'ip', '-4', 'addr', 'show', 'dev', 'eth0'], 'ip -4 addr'), /inet 10\.67\.0\.2\/24/);
    assert.match(await podman(['exec', a, 'ip', '-6', 'route'], 'ip -6 route'), /default via fd00:67::1 dev eth0/);
    const ip6 = await podman(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}', a], 'inspect');
    assert.equal(ip6, 'fd00:67::2', 'podman read the IPv6 address from the result');

    await podman(['exec', a, 'ping', '-c', '1', '-W', '2', GATEWAY6], 'the IPv6 gateway');
    await podman(['exec', a, 'ping', '-c', '1', '-W', '2', WORLD_IP6], 'the world over IPv6');
    await podman(['exec', a, 'ping', '-c', '1', '-W', '2', WORLD_IP], 'the world over IPv4');

    // --ip6: Podman passes it in CNI_ARGS IP= (with --ip, comma separated).
    const b = `${sb.prefix}b`;
    await podman(['run', '-d', '--name', b, '--ip', '10.67.0.60', '--ip6', 'fd00:67::60', h.image, 'sleep', '1000'], 'podman run --ip --ip6');
    assert.match(await podman(['exec', b, 'ip', '-6', 'addr', 'show', 'dev', 'eth0'], 'ip -6 addr of b'), /inet6 fd00:67::60\/64/);
    await podman(['exec', b, 'ping', '-c', '1', '-W', '2', 'fd00:67::2'], 'a sibling over IPv6');
    ok(await sb.nsnet(['system', 'check']), 'system check covers both families of the podman attachments');

    await podman(['rm', '-f', a, b], 'podman rm -f');
    assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), [], 'podman rm released every attachment (CNI DEL)');
    const inspect = JSON.parse(ok(await sb.nsnet(['network', 'inspect', net])).stdout) as Array<{ Containers: Record<string, unknown>; IPAM: { Config: Array<{ Subnet: string }> } }>;
    assert.deepEqual(inspect[0]!.Containers, {});
    assert.deepEqual(inspect[0]!.IPAM.Config.map((c) => c.Subnet), [SUBNET, SUBNET6]);
  });
  assert.deepEqual(problems, [], 'harness and sandbox cleanup');
});
