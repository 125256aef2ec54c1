/**
 * `nsnet serve` in a sandbox, driven by the docker CLI 28 (/usr/local/bin/docker; dockerd is
 * never started) for version, info, networks and the container verbs of a container the nsnet CLI
 * made, and by raw HTTP for Docker's errors, events, and a small fuzz after which the server still
 * serves. Then the socket's guard: a second serve for the root is refused, SIGTERM removes it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { executable, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { ok } from '../helpers/assert.js';
import { busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { unframe } from '../../src/api/framing.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { createSandbox, describeResult, NSNET_BIN, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const DOCKER = '/usr/local/bin/docker';

requiredSuite(
  'nsnet serve: the Docker Engine API server',
  { needs: [needs.integration, executable(DOCKER, 'the API server suite', 'the node machine image ships docker 28 there')], concurrency: false, timeout: 240_000 },
  () => {
    let sb: Sandbox;
    let api: ApiServer;
    const name = (s: string): string => `${sb.prefix}${s}`;
    const docker = (args: readonly string[]): Promise<RunResult> => runAsync([DOCKER, ...args], { env: api.env, timeoutMs: 30_000 });
    const must = async (args: readonly string[]): Promise<RunResult> => {
      const r = await docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')} should exit 0\n${describeResult(r)}\n--- serve log:\n${api.log().slice(-3000)}`);
      return r;
    };

    before(async () => {
      sb = await createSandbox('api');
      api = await startApiServer(sb);
    });
    after(async () => {
      await api?.stop();
      const report = await sb?.destroy();
      if (report && report.problems.length > 0) assert.fail(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
    });

    it('the socket is root:root 0660', () => {
      const st = fs.statSync(api.socket);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, 0);
    });

    it('docker version negotiates 1.41 through /_ping; docker info answers', async () => {
      const v = await must(['version', '--format', '{{.Server.APIVersion}} {{.Client.APIVersion}} {{.Server.MinAPIVersion}}']);
      assert.equal(v.stdout.trim(), '1.41 1.41 1.12');
      const info = await must(['info', '--format', '{{.OSType}} {{.Containers}} {{.DockerRootDir}}']);
      assert.equal(info.stdout.trim(), `linux 0 ${sb.root}`);
    });

    it('network create with IPAM, options and labels; ls with filters; inspect is nsnet\'s own network inspect', async () => {
      const net1 = name('n1');
      const id = (await must(['network', 'create', '--subnet', '10.231.0.0/24', '--gateway', '10.231.0.1', '--ip-range', '10.231.0.128/25', '--label', 'suite=api', '-o', 'com.docker.network.driver.mtu=1400', net1])).stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const ls = await must(['network', 'ls', '--filter', 'label=suite=api', '--format', '{{.Name}} {{.Driver}}']);
      assert.equal(ls.stdout.trim(), `${net1} bridge`);
      const viaApi = JSON.parse((await must(['network', 'inspect', net1])).stdout) as unknown[];
      const viaCli = JSON.parse(ok(await sb.nsnet(['network', 'inspect', net1]), 'nsnet network inspect').stdout) as unknown[];
      assert.deepEqual(viaApi, viaCli);
      const dup = await docker(['network', 'create', net1]);
      assert.notEqual(dup.code, 0);
      assert.match(dup.stderr, new RegExp(`network with name ${net1} already exists`));
    });

    it('a container the nsnet CLI made: ps, inspect, network connect/disconnect with alias and address, logs, stop, start, kill, wait, rm', async () => {
      const red = name('red');
      const net1 = name('n1');
      ok(await sb.nsnet(['run', '-d', '--name', red, '--', 'sh', '-c', 'echo out; echo err >&2; exec sleep 1000']), 'nsnet run');
      const ps = await must(['ps', '--format', '{{.Names}} {{.State}}']);
      assert.match(ps.stdout, new RegExp(`^${red} running$`, 'm'));
      const inspect = JSON.parse((await must(['inspect', red])).stdout) as Array<{ Name: string; State: { Running: boolean } }>;
      assert.equal(inspect[0]!.Name, `/${red}`);
      assert.equal(inspect[0]!.State.Running, true);

      await must(['network', 'connect', '--alias', 'www', '--ip', '10.231.0.200', net1, red]);
      const ip = await must(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net1}").IPAddress}}`, red]);
      assert.equal(ip.stdout.trim(), '10.231.0.200');
      const addr = sb.inHost(['ip', 'netns', 'exec', red, 'ip', '-4', '-o', 'addr', 'show', 'eth1']);
      assert.match(addr.stdout, /10\.231\.0\.200\/24/, 'the address is on eth1 in the container');
      await must(['network', 'disconnect', net1, red]);

      let logs: RunResult | undefined;
      for (let i = 0; i < 40; i++) {
        logs = await must(['logs', red]);
        if (logs.stdout.includes('out') && logs.stderr.includes('err')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(logs!.stdout, 'out\n', 'stdout demultiplexed from the 8-byte frames');
      assert.equal(logs!.stderr, 'err\n', 'stderr demultiplexed from the 8-byte frames');

      // The grace period is waited out without holding the server: a ping sent after the stop
      // answers before it (sleep, as PID 1 of its namespace, ignores SIGTERM: the stop takes 2 s).
      const order: string[] = [];
      const stopping = docker(['stop', '-t', '2', red]).then((r) => (order.push('stop'), r));
      await new Promise((r) => setTimeout(r, 300));
      await api.request('GET', '/_ping').then(() => order.push('ping'));
      ok(await stopping, 'docker stop -t 2');
      assert.deepEqual(order, ['ping', 'stop']);
      assert.equal((await must(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', red])).stdout.trim(), 'exited 137');
      await must(['start', red]);
      assert.equal((await must(['inspect', '-f', '{{.State.Status}}', red])).stdout.trim(), 'running');
      await must(['kill', red]);
      const code = await must(['wait', red]);
      assert.equal(code.stdout.trim(), '137');
      await must(['rm', red]);
      const gone = await docker(['inspect', red]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, new RegExp(`No such (object|container): ${red}`));
    });

    it('network rm and prune; a missing network is a 404', async () => {
      const net1 = name('n1');
      await must(['network', 'rm', net1]);
      const missing = await api.request('GET', `/v1.41/networks/${net1}`);
      assert.equal(missing.status, 404);
      assert.match(missing.json<{ message: string }>().message, new RegExp(`network ${net1} not found`));
      await must(['network', 'create', name('n2')]);
      const pruned = await must(['network', 'prune', '-f']);
      assert.match(pruned.stdout, new RegExp(name('n2')));
    });

    it("Docker's errors over raw HTTP: 404 container, 409 conflict, 400 bad JSON and too-new version, 404 page, 501 unsupported", async () => {
      const nc = await api.request('GET', '/v1.41/containers/nosuch/json');
      assert.equal(nc.status, 404);
      assert.deepEqual(nc.json(), { message: 'No such container: nosuch' });
      const c1 = await api.request('POST', '/v1.41/networks/create', { Name: name('n3') });
      assert.equal(c1.status, 201);
      assert.deepEqual(Object.keys(c1.json()).sort(), ['Id', 'Warning']);
      const c2 = await api.request('POST', '/v1.41/networks/create', { Name: name('n3') });
      assert.equal(c2.status, 409);
      const bad = await api.request('POST', '/v1.41/networks/create', '{"Name": ', { 'Content-Type': 'application/json' });
      assert.equal(bad.status, 400);
      assert.match(bad.json<{ message: string }>().message, /^invalid JSON/);
      const newer = await api.request('GET', '/v1.99/info');
      assert.equal(newer.status, 400);
      assert.equal(newer.json<{ message: string }>().message, 'client version 1.99 is too new. Maximum supported API version is 1.41');
      assert.equal((await api.request('GET', '/v1.41/bogus')).status, 404);
      const swarm = await api.request('GET', '/v1.41/swarm');
      assert.equal(swarm.status, 501);
      assert.equal((await api.request('DELETE', `/v1.41/networks/${name('n3')}`)).status, 204);
      const def = await api.request('DELETE', '/v1.41/networks/host');
      assert.ok(def.status === 403 || def.status === 400, `removing host: ${def.status} ${def.body.toString()}`);
    });

    it('GET /events streams network events as they happen, by the API or the CLI, with filters', async () => {
      const lines: string[] = [];
      const req = http.request({ socketPath: api.socket, path: `/v1.41/events?filters=${encodeURIComponent(JSON.stringify({ type: ['network'], event: ['create', 'destroy'] }))}` });
      const got = new Promise<void>((resolve) => {
        req.on('response', (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (c: Buffer) => {
            lines.push(...c.toString().split('\n').filter((l) => l !== ''));
            if (lines.length >= 2) resolve();
          });
        });
      });
      req.end();
      await new Promise((r) => setTimeout(r, 300));
      await must(['network', 'create', name('ev')]);
      ok(await sb.nsnet(['network', 'rm', name('ev')]), 'nsnet network rm (the CLI, not the API)');
      await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error(`events seen: ${lines.join('\n')}`)), 10_000))]);
      req.destroy();
      const events = lines.map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: { name: string } } });
      assert.deepEqual(events.map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.name}`), [`network create ${name('ev')}`, `network destroy ${name('ev')}`]);
    });

    it('container events from the CLI: create, start, die, destroy; since/until replays them and ends', async () => {
      const blue = name('blue');
      const since = (Date.now() / 1000).toFixed(3);
      ok(await sb.nsnet(['run', '-d', '--name', blue, '--', 'sleep', '1000']), 'nsnet run -d');
      await new Promise((r) => setTimeout(r, 1500)); // the server looks once a second when nobody listens
      ok(await sb.nsnet(['rm', '-f', blue]), 'nsnet rm -f');
      await new Promise((r) => setTimeout(r, 1500));
      const until = (Date.now() / 1000).toFixed(3);
      const filters = encodeURIComponent(JSON.stringify({ type: { container: true }, container: [blue] }));
      const r = await api.request('GET', `/v1.41/events?since=${since}&until=${until}&filters=${filters}`);
      assert.equal(r.status, 200);
      const events = r.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { Action: string; status: string; Actor: { Attributes: { name: string } } });
      assert.deepEqual(events.map((e) => e.Action), ['create', 'start', 'die', 'destroy'], r.body.toString());
      assert.ok(events.every((e) => e.Actor.Attributes.name === blue && e.status === e.Action));
    });

    it('POST /containers/create from an image with Config, HostConfig and NetworkingConfig; start, wait, logs, events, delete', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-api-img-'));
      try {
        const archive = path.join(dir, 'busybox.tar');
        fs.writeFileSync(archive, dockerArchive([busyboxSpec()]));
        await must(['load', '-i', archive]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const net2 = name('cn');
      await must(['network', 'create', '--subnet', '10.232.0.0/24', net2]);
      const web = name('web');
      const since = (Date.now() / 1000).toFixed(3);
      const created = await api.request('POST', `/v1.41/containers/create?name=${web}`, {
        Image: 'busybox',
        Cmd: ['sh', '-c', 'echo "hello $GREETING"; echo oops >&2; exit 3'],
        Env: ['GREETING=api'],
        Labels: { 'com.example.role': 'web' },
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { NetworkMode: net2, PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }] }, Dns: ['192.0.2.53'], ExtraHosts: ['db:10.232.0.50'], CapAdd: ['NET_ADMIN'], RestartPolicy: { Name: 'no' } },
        NetworkingConfig: { EndpointsConfig: { [net2]: { Aliases: ['www'], IPAMConfig: { IPv4Address: '10.232.0.10' } } } },
      });
      assert.equal(created.status, 201, created.body.toString());
      const id = created.json<{ Id: string; Warnings: unknown[] }>().Id;
      assert.match(id, /^[0-9a-f]{64}$/);
      const view = (await api.request('GET', `/v1.41/containers/${web}/json`)).json<Record<string, any>>();
      assert.equal(view['State'].Status, 'created');
      assert.equal(view['NetworkSettings'].Networks[net2].IPAMConfig.IPv4Address, '10.232.0.10');
      assert.deepEqual(view['HostConfig'].Dns, ['192.0.2.53']);
      assert.deepEqual(view['HostConfig'].CapAdd, ['CAP_NET_ADMIN']);
      const listed = (await api.request('GET', `/v1.41/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.example.role=web'] }))}`)).json<Array<{ Names: string[]; State: string; Image: string }>>();
      assert.deepEqual(listed.map((c) => [c.Names[0], c.State, c.Image]), [[`/${web}`, 'created', 'busybox']]);
      const waiting = api.request('POST', `/v1.41/containers/${id}/wait?condition=next-exit`);
      assert.equal((await api.request('POST', `/v1.41/containers/${id}/start`)).status, 204);
      const waited = await waiting;
      assert.deepEqual(waited.json(), { StatusCode: 3, Error: null });
      const logs = await api.request('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`);
      const { frames } = unframe(logs.body);
      assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [[1, 'hello api\n'], [2, 'oops\n']]);
      assert.equal((await api.request('DELETE', `/v1.41/containers/${id}`)).status, 204);
      await must(['network', 'rm', net2]);
      const filters = encodeURIComponent(JSON.stringify({ container: [web] }));
      const ev = await api.request('GET', `/v1.41/events?since=${since}&until=${(Date.now() / 1000).toFixed(3)}&filters=${filters}`);
      const actions = ev.body.toString().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { Type: string; Action: string }).Type + ' ' + (JSON.parse(l) as { Action: string }).Action);
      assert.deepEqual(actions.filter((a) => a.startsWith('container')), ['container create', 'container start', 'container die', 'container destroy']);
    });

    it('docker network create --ipv6 with an IPv6 subnet and --internal; docker events --since --until replays it', async () => {
      const since = (Date.now() / 1000).toFixed(3);
      const v6 = name('v6');
      await must(['network', 'create', '--ipv6', '--subnet', '10.233.0.0/24', '--subnet', '2001:db8:233::/64', '--internal', v6]);
      const view = JSON.parse((await must(['network', 'inspect', v6])).stdout) as Array<{ EnableIPv6: boolean; Internal: boolean; IPAM: { Config: Array<{ Subnet: string }> } }>;
      assert.equal(view[0]!.EnableIPv6, true);
      assert.equal(view[0]!.Internal, true);
      assert.deepEqual(view[0]!.IPAM.Config.map((c) => c.Subnet), ['10.233.0.0/24', '2001:db8:233::/64']);
      await must(['network', 'rm', v6]);
      const until = (Date.now() / 1000 + 1).toFixed(3);
      const ev = await must(['events', '--since', since, '--until', until, '--filter', 'type=network', '--filter', `network=${v6}`, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
      assert.deepEqual(ev.stdout.trim().split('\n'), [`network create ${v6}`, `network destroy ${v6}`]);
    });

    it('fuzz: malformed requests, huge headers, bad JSON and random paths; the server keeps serving', async () => {
      const rawSend = (bytes: string | Buffer): Promise<string> =>
        new Promise((resolve) => {
          const s = net.connect(api.socket);
          let out = '';
          const done = (): void => {
            s.destroy();
            resolve(out);
          };
          s.on('data', (c: Buffer) => (out += c.toString()));
          s.on('close', done);
          s.on('error', done);
          s.write(bytes);
          setTimeout(done, 3000);
        });
      assert.match(await rawSend(`GET /_ping HTTP/1.1\r\nX: ${'a'.repeat(100_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
      assert.match(await rawSend('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
      let seed = 7;
      const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
      const parts = ['containers', 'networks', 'json', 'create', 'connect', '..', '%00', 'v1.41', 'prune', 'x'.repeat(200), 'logs', 'wait', 'start'];
      for (let i = 0; i < 150; i++) {
        const p = `/v1.41/${Array.from({ length: 1 + rand(3) }, () => parts[rand(parts.length)]).join('/')}`;
        if (/wait|logs/.test(p)) continue; // these wait or follow by design
        const method = ['GET', 'POST', 'DELETE', 'PUT'][rand(4)]!;
        const body = ['{', '[1,2]', '{"Name": 5}', '{"Container": null}', 'null', ''][rand(6)];
        const r = await api.request(method, p, body).catch((err: unknown) => ({ status: -1, body: Buffer.from(String(err)) }));
        assert.ok(r.status !== 500, `${method} ${p} ${body}: 500 ${r.body.toString()}`);
      }
      for (let i = 0; i < 30; i++) await rawSend(Buffer.from(Array.from({ length: 1 + rand(300) }, () => rand(256))));
      await must(['version']);
    });

    it('a second nsnet serve for the root is refused; SIGTERM ends the first and removes the socket', async () => {
      const second = await sb.inHostAsync([NSNET_BIN, '--root', sb.root, 'serve'], { timeoutMs: 20_000 });
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /another nsnet serve is running/);
      assert.ok(fs.existsSync(api.socket), 'the first server\'s socket is untouched');
      await api.stop();
      assert.equal(api.process.exitCode, 0, api.log().slice(-2000));
      assert.equal(fs.existsSync(api.socket), false);
    });
  },
);
