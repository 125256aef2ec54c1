/**
 * nsnet-cni under a real runtime: Podman 4.3 with its CNI backend (configured only through the
 * harness's files, see test/helpers/podman.ts) runs busybox containers on an nsnet network.
 * They get addresses from nsnet's store, reach the gateway, each other and the world (NAT);
 * --ip, --mac-address and -p work; nsnet ps/inspect show them as podman's; podman rm leaves
 * nothing behind in nsnet's store, the kernel or the machine.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { ok } from '../helpers/assert.js';
import { createPodmanHarness, type PodmanHarness } from '../helpers/podman.js';
import { createSandbox, HOST_UPLINK_IP, REPO, WORLD_IP, type Sandbox } from '../helpers/sandbox.js';
import { needs, requiredTest } from '../helpers/requirements.js';

const SUBNET = '10.66.0.0/24';
const GATEWAY = '10.66.0.1';

/** node -e HTTP_GET HOST PORT: the raw response (busybox-static's wget segfaults outside a container). */
const HTTP_GET = `
const [host, port] = process.argv.slice(1);
const s = require('net').connect(Number(port), host, () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
s.setTimeout(2000, () => s.destroy());
s.on('data', (d) => process.stdout.write(d));
s.on('error', (e) => { console.error(e.message); process.exitCode = 1; });
`;

requiredTest('podman run on an nsnet-cni network: addresses, reachability, --ip/--mac-address/-p, and nothing left after podman rm', { needs: [needs.podman], timeout: 180_000 }, async (t) => {
  let sb: Sandbox | undefined;
  let h: PodmanHarness | undefined;
  const problems: string[] = [];
  try {
    sb = await createSandbox('pcni');
    const net = `${sb.prefix}pnet`;
    h = await createPodmanHarness(sb, {
      pluginDirs: [path.join(REPO, 'bin')],
      // Podman 4.3's libcni reads results up to 1.0.0.
      conflists: [
        {
          cniVersion: '1.0.0',
          name: net,
          // Ports on a second entry (portmap's place): Podman 4.3 replaces the first entry's
          // capabilities with `ips` when --ip is given.
          plugins: [
            { type: 'nsnet-cni', bridge: `${sb.prefix}pb`, subnet: SUBNET, capabilities: { aliases: true } },
            { type: 'nsnet-cni', capabilities: { portMappings: true } },
          ],
        },
      ],
      env: { NSNET_ROOT: sb.root },
    });
    const podman = async (args: string[], what: string): Promise<string> => ok(await h!.podman(args), what).stdout.trim();
    const ipOf = (name: string): Promise<string> => podman(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name], `inspect ${name}`);

    const a = `${sb.prefix}a`;
    await podman(['run', '-d', '--name', a, h.image, 'sleep', '1000'], 'podman run -d');
    const aIp = await ipOf(a);
    assert.equal(aIp, '10.66.0.2', 'the first address of the nsnet network');
    await podman(['run', '--rm', h.image, 'ping', '-c', '1', '-W', '2', GATEWAY], 'a container pings the gateway');
    await podman(['run', '--rm', h.image, 'ping', '-c', '1', '-W', '2', aIp], 'a container pings a sibling');
    await podman(['run', '--rm', h.image, 'ping', '-c', '1', '-W', '2', WORLD_IP], 'a container reaches the world through NAT');

    // --ip and --mac-address (CNI_ARGS) and -p (portMappings, on the chained entry).
    const web = `${sb.prefix}web`;
    await podman(
      ['run', '-d', '--name', web, '--ip', '10.66.0.50', '--mac-address', '02:00:00:00:66:50', '-p', '8080:80', h.image,
        'sh', '-c', 'mkdir -p /www && echo hello-from-nsnet-cni > /www/index.html && exec httpd -f -p 80 -h /www'],
      'podman run with --ip, --mac-address, -p',
    );
    assert.equal(await ipOf(web), '10.66.0.50');
    assert.match(await podman(['exec', web, 'ip', 'link', 'show', 'eth0'], 'ip link in the container'), /02:00:00:00:66:50/);
    let got = '';
    for (let i = 0; i < 5 && !got.includes('hello-from-nsnet-cni'); i++) {
      got = (await sb.inWorldAsync([process.execPath, '-e', HTTP_GET, HOST_UPLINK_IP, '8080'], { timeoutMs: 5000 })).stdout;
      if (!got.includes('hello-from-nsnet-cni')) await new Promise((r) => setTimeout(r, 100));
    }
    if (!got.includes('hello-from-nsnet-cni')) {
      const port = await sb.nsnet(['port', `cni-${(await podman(['inspect', '--format', '{{.Id}}', web], 'id')).slice(0, 12)}`]);
      const listening = sb.inHost(['ss', '-ltnp']).stdout;
      const inside = await h.podman(['exec', web, 'netstat', '-ltn']);
      assert.fail(`the published port does not answer from the world\nnsnet port: ${port.stdout}${port.stderr}\nhost listeners:\n${listening}\nin the container:\n${inside.stdout}${inside.stderr}`);
    }

    // nsnet sees podman's containers, and allocates around them.
    const ps = ok(await sb.nsnet(['ps', '--format', '{{.ID}} {{.Status}}'])).stdout;
    const attached = ps.split('\n').filter((l) => l.endsWith(' Attached (podman)')).map((l) => l.split(' ')[0]!);
    const nsnetIpOf = async (id: string): Promise<string> => ok(await sb!.nsnet(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
    assert.deepEqual((await Promise.all(attached.map(nsnetIpOf))).sort(), ['10.66.0.2', '10.66.0.50'], ps);
    const cli = `${sb.prefix}cli`;
    ok(await sb.nsnet(['run', '-d', '--name', cli, '--network', net, '--', 'sleep', '1000']));
    const cliIp = Object.values((JSON.parse(ok(await sb.nsnet(['inspect', cli])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>)[0]!.NetworkSettings.Networks)[0]!.IPAddress;
    assert.ok(![aIp, '10.66.0.50'].includes(cliIp), `the CLI container got ${cliIp}, not a podman container's address`);
    await podman(['exec', a, 'ping', '-c', '1', '-W', '2', cliIp], 'a podman container pings a CLI container');
    ok(await sb.nsnet(['system', 'check']), 'system check covers the podman attachments');
    ok(await sb.nsnet(['rm', '-f', cli]));

    await podman(['rm', '-f', a, web], 'podman rm -f');
    const left = JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout) as unknown[];
    assert.deepEqual(left, [], 'podman rm released every attachment (CNI DEL)');
    assert.doesNotMatch(sb.inHost(['ip', '-o', 'link']).stdout, /nsv[0-9a-f]{12}/, 'no host veth left');
    const log = ok(sb.inHost(['cat', path.join(sb.root, 'service', 'service.log')])).stdout;
    t.diagnostic(log.split('\n').filter((l) => / (ADD|DEL) /.test(l)).slice(-4).join(' | '));
  } finally {
    if (h !== undefined) problems.push(...(await h.destroy()));
    if (sb !== undefined) problems.push(...(await sb.destroy()).problems);
  }
  assert.deepEqual(problems, [], 'harness and sandbox cleanup');
});
