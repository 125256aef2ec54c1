/**
 * The article's transcript typed into the real docker CLI, against `nsnet serve` in a sandbox:
 * both docker CLIs a fresh machine has (Debian's docker.io 20.10 at /usr/bin/docker, which setup
 * installs, and the 28.x the machine image ships at /usr/local/bin/docker), each in its own sandbox.
 * The commands are the article's, word for word, except that container names carry the sandbox's
 * prefix (a container's namespace is /run/netns/NAME, shared by every sandbox on the machine) and
 * the stand-in internet is the sandbox world's 203.0.113.8 instead of 8.8.8.8.
 *
 * dockerd is never started: the CLI only talks to nsnet's socket.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { closeApiSandbox, DOCKER_CLIS, executable, openApiSandbox, type ApiSandbox, type ApiServer, type DockerCli } from '../helpers/api-server.js';
import { ok } from '../helpers/assert.js';
import { builtImage, busyboxLayer, busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { skopeoPush, startRegistry } from '../helpers/registry.js';
import { needs, requiredSuite, tools } from '../helpers/requirements.js';
import { WORLD_IP, describeResult, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const ARTICLE = ['blue', 'green', 'red'] as const;
const registryTools = tools('the docker pull step', ['docker-registry', 'skopeo'], 'bash scripts/setup.sh installs docker-registry and skopeo');

for (const cli of DOCKER_CLIS) transcript(cli);

function transcript(cli: DockerCli): void {
  requiredSuite(
    `Docker API: the article's transcript with ${cli.label}`,
    { needs: [needs.integration, needs.busybox, registryTools, executable(cli.path, 'the docker CLI transcript', cli.install)], concurrency: false, timeout: 240_000 },
    () => {
      let box: ApiSandbox | undefined;
      let sb: Sandbox;
      let api: ApiServer;
      let tmp: string;
      const name = (c: string): string => `${sb.prefix}${c}`;
      const addr: Record<string, string> = {};
      const docker = (args: readonly string[], timeoutMs = 30_000): Promise<RunResult> => runAsync([cli.path, ...args], { env: api.env, timeoutMs });
      /** docker ARGS must exit 0; the message carries the server's log. */
      const must = async (args: readonly string[]): Promise<RunResult> => {
        const r = await docker(args);
        assert.equal(r.code, 0, `docker ${args.join(' ')} should exit 0\n${describeResult(r)}\n--- nsnet serve log (last 3000 chars):\n${api.log().slice(-3000)}`);
        return r;
      };

      before(async () => {
        box = await openApiSandbox('dk');
        ({ sb, api, dir: tmp } = box);
      });
      after(() => closeApiSandbox(box));

      it('docker version names nsnet\'s engine and API 1.41', async () => {
        const r = await must(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
        assert.equal(r.stdout.trim(), '1.41 linux');
      });

      it('before any container, as dockerd: docker network ls lists bridge, host and none; docker network inspect bridge works', async () => {
        const ls = await must(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
        assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['bridge bridge', 'host host', 'none null']);
        const inspect = await must(['network', 'inspect', 'bridge', '--format', '{{.Name}} {{.Driver}} {{len .Containers}}']);
        assert.equal(inspect.stdout.trim(), 'bridge bridge 0');
      });

      it('docker load -i busybox.tar: "Loaded image: busybox:latest", and the image is listed with its id', async () => {
        const archive = path.join(tmp, 'busybox.tar');
        fs.writeFileSync(archive, dockerArchive([busyboxSpec()]));
        const r = await must(['load', '-i', archive]);
        assert.match(r.stdout, /Loaded image: busybox:latest/);
        const images = await must(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
        assert.equal(images.stdout.trim(), `busybox:latest ${builtImage(busyboxSpec()).id}`);
      });

      it('docker import -c CMD of a root filesystem tar: a one-layer image with that Cmd', async () => {
        const rootfs = path.join(tmp, 'rootfs.tar');
        fs.writeFileSync(rootfs, busyboxLayer());
        const r = await must(['import', '-c', 'CMD ["sh"]', '-m', 'from a tar', rootfs, 'imported:1']);
        assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
        const inspect = await must(['image', 'inspect', '-f', '{{json .Config.Cmd}} {{len .RootFS.Layers}}', 'imported:1']);
        assert.equal(inspect.stdout.trim(), '["sh"] 1');
        await must(['rmi', 'imported:1']);
      });

      it('docker pull localhost:5000/busybox from a docker-registry in the sandbox: the same image; a missing one fails in the stream', async () => {
        // The registry listens on the sandbox host's loopback, where nsnet serve pulls from; the CLI only talks to the socket.
        await startRegistry(sb, tmp, '127.0.0.1:5000');
        await skopeoPush(sb, `docker-archive:${path.join(tmp, 'busybox.tar')}`, '127.0.0.1:5000/busybox:latest');
        const r = await must(['pull', 'localhost:5000/busybox']);
        // The layers and config are those docker load stored: dockerd says 'Downloaded newer image' for a new tag, nsnet may say 'up to date'.
        assert.match(r.stdout, /Digest: sha256:[0-9a-f]{64}\nStatus: (Downloaded newer image|Image is up to date) for localhost:5000\/busybox:latest/);
        const images = await must(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
        assert.ok(images.stdout.includes(`localhost:5000/busybox:latest ${builtImage(busyboxSpec()).id}`), images.stdout);
        const missing = await docker(['pull', 'localhost:5000/nothing']);
        assert.equal(missing.code, 1, describeResult(missing));
        assert.match(missing.stderr, /manifest unknown|not found/i);
      });

      it('for cont in blue green red: docker run -d --name $cont busybox sleep 1000 prints the container id', async () => {
        for (const c of ARTICLE) {
          const r = await must(['run', '-d', '--name', name(c), 'busybox', 'sleep', '1000']);
          assert.match(r.stdout.trim(), /^[0-9a-f]{64}$/, `docker run -d prints the full id\n${describeResult(r)}`);
          assert.ok(!r.stdioHeldOpen, 'docker run -d returns with its stdio closed');
        }
        const ps = await must(['ps', '--format', '{{.Names}} {{.Image}} {{.Status}}']);
        const lines = ps.stdout.trim().split('\n').sort();
        assert.deepEqual(
          lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
          ARTICLE.map((c) => `${name(c)} busybox`).sort(),
          `docker ps lists the three:\n${ps.stdout}`,
        );
        for (const l of lines) assert.match(l, / Up /, `running: ${l}`);
      });

      it('ip link show master nsnet0: the three veths on the default bridge', () => {
        const r = ok(sb.inHost(['ip', '-j', 'link', 'show', 'master', 'nsnet0']), 'ip link show master nsnet0');
        const links = JSON.parse(r.stdout) as Array<{ ifname: string }>;
        assert.equal(links.length, 3, `three links on nsnet0: ${r.stdout}`);
      });

      it('for cont in blue green red: docker exec $cont ip addr show eth0 shows its address', async () => {
        for (const c of ARTICLE) {
          const r = await must(['exec', name(c), 'ip', 'addr', 'show', 'eth0']);
          const m = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(r.stdout);
          assert.ok(m, `an IPv4 address on eth0:\n${r.stdout}`);
          addr[c] = m[1]!;
        }
        assert.equal(new Set(Object.values(addr)).size, 3, `three different addresses: ${JSON.stringify(addr)}`);
      });

      it('docker network inspect bridge: the three containers with the addresses eth0 has', async () => {
        const r = await must(['network', 'inspect', 'bridge']);
        const [net] = JSON.parse(r.stdout) as Array<Record<string, any>>;
        assert.equal(net?.Name, 'bridge');
        assert.equal(net.Driver, 'bridge');
        assert.equal(net.Options?.['com.docker.network.bridge.name'], 'nsnet0');
        const byName = new Map(Object.values(net.Containers as Record<string, { Name: string; IPv4Address: string }>).map((c) => [c.Name, c.IPv4Address.split('/')[0]]));
        for (const c of ARTICLE) assert.equal(byName.get(name(c)), addr[c], `${c} in network inspect: ${JSON.stringify(net.Containers)}`);
      });

      it("docker exec red ping -c 3 <blue's address>", async () => {
        const r = await must(['exec', name('red'), 'ping', '-c', '3', addr['blue']!]);
        assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
      });

      it('docker exec green ping -c 3 203.0.113.8: the stand-in internet through NAT', async () => {
        const r = await must(['exec', name('green'), 'ping', '-c', '3', WORLD_IP]);
        assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
      });

      it('docker exec gives the command\'s exit code, and a missing container is Docker\'s error', async () => {
        const r = await docker(['exec', name('blue'), 'sh', '-c', 'exit 7']);
        assert.equal(r.code, 7, describeResult(r));
        const missing = await docker(['exec', name('nope'), 'true']);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /No such container: /);
      });

      it('docker rm -f blue green red: nothing left on the bridge, docker ps -a empty', async () => {
        await must(['rm', '-f', ...ARTICLE.map(name)]);
        const ps = await must(['ps', '-a', '-q']);
        assert.equal(ps.stdout.trim(), '');
        const r = ok(sb.inHost(['ip', '-j', 'link', 'show', 'master', 'nsnet0']), 'ip link show master nsnet0');
        assert.deepEqual(JSON.parse(r.stdout || '[]'), [], 'no veth left on nsnet0');
      });

      it('docker rmi busybox localhost:5000/busybox: the first only untags, the second (with the pull\'s digest reference, as dockerd) deletes the image', async () => {
        const r = await must(['rmi', 'busybox', 'localhost:5000/busybox']);
        assert.match(r.stdout, /^Untagged: busybox:latest\nUntagged: localhost:5000\/busybox:latest\n/);
        assert.match(r.stdout, new RegExp(`Deleted: ${builtImage(busyboxSpec()).id}`));
        const images = await must(['images', '-q']);
        assert.equal(images.stdout.trim(), '');
      });
    },
  );
}
