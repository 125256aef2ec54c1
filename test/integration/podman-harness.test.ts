/**
 * The podman harness (test/helpers/podman.ts) with the reference CNI plugins: Podman 4.3 runs
 * containers on a bridge network inside a sandbox, they reach the bridge's gateway and (through
 * ipMasq) the world, a published port is reachable from the world (portmap), and afterwards nothing
 * is left: no containers, podman netns, processes, libcni cache entries, or files outside the
 * harness's temp dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok } from '../helpers/assert.js';
import { PODMAN_NETNS_PREFIX, createPodmanHarness, type PodmanHarness } from '../helpers/podman.js';
import { HOST_UPLINK_IP, WORLD_IP, allPids, createSandbox, describeResult, netnsEntries, pidCmdline } from '../helpers/sandbox.js';
import { needs, requiredTest } from '../helpers/requirements.js';

const REFERENCE_PLUGINS = '/usr/lib/cni';
const SUBNET = '10.89.0.0/24';
const GATEWAY = '10.89.0.1';

/** Places podman, runc and libcni write by default; the harness must leave them as they were. */
const WATCHED = [
  '/var/lib/cni',
  '/var/lib/containers',
  '/run/runc',
  '/run/containers',
  '/run/libpod',
  '/run/crun',
  '/etc/cni',
  '/etc/containers',
  '/root/.config/containers',
  '/root/.local/share/containers',
  '/dev/shm/libpod_lock',
];

function listing(p: string, depth = 3): string[] {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return [];
  }
  const out = [`${p} ${st.isDirectory() ? 'dir' : st.size}`];
  if (st.isDirectory() && depth > 0) {
    for (const e of fs.readdirSync(p).sort()) out.push(...listing(path.join(p, e), depth - 1));
  }
  return out;
}

const snapshot = (): string[] => WATCHED.flatMap((p) => listing(p));

/** node -e HTTP_GET HOST PORT: prints the raw response (busybox-static's wget segfaults outside a container). */
const HTTP_GET = `
const [host, port] = process.argv.slice(1);
const s = require('net').connect(Number(port), host, () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
s.setTimeout(2000, () => s.destroy());
s.on('data', (d) => process.stdout.write(d));
s.on('error', (e) => { console.error(e.message); process.exitCode = 1; });
`;

function bridgeConflist(name: string, bridge: string, dir: string): object {
  return {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: SUBNET, gateway: GATEWAY }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: path.join(dir, 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

requiredTest('podman harness: reference bridge network in a sandbox, nothing left behind', { needs: [needs.podman], timeout: 120_000 }, async (t) => {
  const before = snapshot();
  const netnsBefore = new Set(netnsEntries(PODMAN_NETNS_PREFIX));
  const sb = await createSandbox('pm');
  const net = `${sb.prefix}net`;
  let h: PodmanHarness | undefined;
  let dir = '';
  const problems: string[] = [];
  try {
    const t0 = performance.now();
    h = await createPodmanHarness(sb, {
      pluginDirs: [REFERENCE_PLUGINS],
      conflists: (d) => [bridgeConflist(net, `${sb.prefix}b0`, d)],
    });
    dir = h.dir;
    t.diagnostic(`harness ready in ${Math.round(performance.now() - t0)} ms (podman import ${h.importMs} ms)`);

    let t1 = performance.now();
    ok(await h.podman(['run', '--rm', '--network', net, h.image, 'ping', '-c', '1', '-W', '2', GATEWAY]), 'container pings its gateway');
    t.diagnostic(`podman run --rm (first, creates the bridge): ${Math.round(performance.now() - t1)} ms`);
    t1 = performance.now();
    ok(await h.podman(['run', '--rm', '--network', net, h.image, 'ping', '-c', '1', '-W', '2', WORLD_IP]), 'container pings the world through NAT');
    t.diagnostic(`podman run --rm: ${Math.round(performance.now() - t1)} ms`);
    // The first network is the default one.
    ok(await h.podman(['run', '--rm', h.image, 'ping', '-c', '1', '-W', '2', GATEWAY]), 'default network');

    // A detached container with a published port: its netns, its libcni cache entry, portmap.
    const name = `${sb.prefix}web`;
    const run = ok(
      await h.podman([
        'run', '-d', '--name', name, '--network', net, '-p', '8080:80', h.image,
        'sh', '-c', 'mkdir -p /www && echo hello-from-podman > /www/index.html && exec httpd -f -p 80 -h /www',
      ]),
      'podman run -d',
    );
    assert.ok(!run.stdioHeldOpen, 'podman run -d must not leave its stdio held open');
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const key = ok(await h.podman(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', name])).stdout.trim();
    assert.match(key, /^\/run\/netns\/netns-[0-9a-f-]{36}$/);
    assert.ok(fs.existsSync(key), `${key} exists while the container runs`);
    assert.deepEqual(fs.readdirSync(h.cniCacheDir), [`${net}-${id}-eth0`], 'libcni caches the result in the harness namespace');
    let got = '';
    for (let i = 0; i < 30 && !got.includes('hello-from-podman'); i++) {
      const r = await sb.inWorldAsync([process.execPath, '-e', HTTP_GET, HOST_UPLINK_IP, '8080'], { timeoutMs: 5000 });
      got = r.stdout;
      if (!got.includes('hello-from-podman')) await new Promise((res) => setTimeout(res, 100));
    }
    assert.match(got, /hello-from-podman/, 'the published port answers from the world');

    t1 = performance.now();
    ok(await h.podman(['rm', '-f', name]), 'podman rm -f');
    t.diagnostic(`podman rm -f: ${Math.round(performance.now() - t1)} ms`);
    assert.ok(!fs.existsSync(key), `${key} is gone after podman rm -f`);
    assert.deepEqual(fs.readdirSync(h.cniCacheDir), [], 'the CNI DEL removed the cache entry');
  } finally {
    if (h) problems.push(...(await h.destroy()));
    const rep = await sb.destroy();
    problems.push(...rep.problems);
  }
  assert.deepEqual(problems, [], 'harness and sandbox cleanup');
  assert.ok(dir !== '' && !fs.existsSync(dir), `${dir} removed`);
  const newNetns = netnsEntries(PODMAN_NETNS_PREFIX).filter((n) => !netnsBefore.has(n));
  assert.deepEqual(newNetns, [], 'no podman netns left in /run/netns');
  const procs = allPids()
    .map((pid) => `${pid}: ${pidCmdline(pid) ?? ''}`)
    .filter((c) => c.includes(dir));
  assert.deepEqual(procs, [], 'no processes referring to the harness dir');
  assert.deepEqual(snapshot(), before, 'nothing written to the default podman/CNI/runc places');
});

requiredTest('podman harness: destroy() reports a container whose CNI DEL never happened', { needs: [needs.podman], timeout: 60_000 }, async () => {
  const sb = await createSandbox('pmd');
  let h: PodmanHarness | undefined;
  try {
    h = await createPodmanHarness(sb, { pluginDirs: [REFERENCE_PLUGINS], conflists: (d) => [bridgeConflist(`${sb.prefix}n`, `${sb.prefix}b`, d)] });
    const r = await h.podman(['run', '-d', h.image, 'sleep', '300']);
    assert.equal(r.code, 0, describeResult(r));
    // A stale libcni cache entry, as a plugin whose DEL failed would leave it.
    fs.writeFileSync(path.join(h.cniCacheDir, `${sb.prefix}n-${'0'.repeat(64)}-eth0`), '{}');
    const problems = await h.destroy();
    h = undefined;
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /libcni result cache entry left/);
  } finally {
    if (h) await h.destroy();
    const rep = await sb.destroy();
    assert.deepEqual(rep.problems, []);
  }
});
