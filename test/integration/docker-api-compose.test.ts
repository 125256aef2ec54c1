/**
 * docker-compose 1.29 (Debian's, on python3-docker) against `nsnet serve` in a sandbox: a
 * three-service project — web (busybox httpd) publishing 8080:80, api on two networks with an alias
 * on each (each resolving only on its own network), db on an internal network with an alias —
 * brought up, used and taken down.
 *
 * The project name carries the sandbox's prefix, so every container (and its /run/netns/NAME) is
 * the sandbox's: PREFIX_web_1 and so on.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { closeApiSandbox, DOCKER_CLIS, executable, openApiSandbox, type ApiSandbox, type ApiServer } from '../helpers/api-server.js';
import { ok } from '../helpers/assert.js';
import { busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { HOST_UPLINK_IP, WORLD_IP, describeResult, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const COMPOSE = '/usr/bin/docker-compose';
/** An HTTP GET printing the body, exit 1 on any failure (busybox wget segfaults on a refused connection). */
const HTTP_GET = "require('http').get(process.argv[1], { timeout: 2000 }, (r) => { r.pipe(process.stdout); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)); }).on('error', (e) => { console.error(e.message); process.exit(1); }).on('timeout', function () { this.destroy(new Error('timeout')); });";
const DOCKER = DOCKER_CLIS[0]!.path; // Debian's docker 20.10, installed with compose

/** The project: web publishes 8080:80 (httpd serves a page it writes at start), api joins front and back, db only back (internal). */
const COMPOSE_FILE = `version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && echo web-started && exec busybox httpd -f -p 80 -h /www"]
    ports: ["8080:80"]
    networks: [front]
  api:
    image: busybox
    command: ["sleep", "1000"]
    networks:
      front:
        aliases: [api-front]
      back:
        aliases: [api-back]
  db:
    image: busybox
    command: ["sleep", "1000"]
    networks:
      back:
        aliases: [database]
networks:
  front: {}
  back:
    internal: true
`;

requiredSuite(
  'Docker API: docker-compose up, ps, logs, exec, down (three services, two networks)',
  {
    needs: [needs.integration, needs.busybox, executable(COMPOSE, 'the docker-compose test', 'bash scripts/setup.sh installs docker-compose'), executable(DOCKER, 'the docker-compose test', DOCKER_CLIS[0]!.install)],
    concurrency: false,
    timeout: 240_000,
  },
  () => {
    let box: ApiSandbox | undefined;
    let sb: Sandbox;
    let api: ApiServer;
    let dir: string;
    let project: string;
    const compose = (args: readonly string[], timeoutMs = 60_000): Promise<RunResult> =>
      runAsync([COMPOSE, '--ansi', 'never', '-p', project, '-f', path.join(dir, 'docker-compose.yml'), ...args], { env: { ...api.env, COMPOSE_INTERACTIVE_NO_CLI: '1' }, timeoutMs });
    const docker = (args: readonly string[]): Promise<RunResult> => runAsync([DOCKER, ...args], { env: api.env });
    const must = async (r: Promise<RunResult>, what: string): Promise<RunResult> => {
      const done = await r;
      assert.equal(done.code, 0, `${what} should exit 0\n${describeResult(done)}\n--- nsnet serve log (last 3000 chars):\n${api.log().slice(-3000)}`);
      return done;
    };

    before(async () => {
      box = await openApiSandbox('dc');
      ({ sb, api, dir } = box);
      project = sb.prefix;
      fs.writeFileSync(path.join(dir, 'docker-compose.yml'), COMPOSE_FILE);
      fs.writeFileSync(path.join(dir, 'busybox.tar'), dockerArchive([busyboxSpec()]));
      await must(docker(['load', '-i', path.join(dir, 'busybox.tar')]), 'docker load');
    });
    after(() => closeApiSandbox(box));

    it('docker-compose up -d makes the two networks and starts the three services', async () => {
      await must(compose(['up', '-d'], 120_000), 'docker-compose up -d');
      const nets = await must(docker(['network', 'ls', '--format', '{{.Name}}']), 'docker network ls');
      for (const n of ['front', 'back']) assert.ok(nets.stdout.split('\n').includes(`${project}_${n}`), `network ${project}_${n}:\n${nets.stdout}`);
      const back = await must(docker(['network', 'inspect', `${project}_back`, '--format', '{{.Internal}}']), 'network inspect back');
      assert.equal(back.stdout.trim(), 'true', 'back is internal');
    });

    it('docker-compose ps lists web, api and db as Up, with web\'s published port', async () => {
      const r = await must(compose(['ps']), 'docker-compose ps');
      for (const s of ['web', 'api', 'db']) assert.match(r.stdout, new RegExp(`${project}_${s}_1\\s.*\\sUp`), `${s} is Up:\n${r.stdout}`);
      assert.match(r.stdout, /0\.0\.0\.0:8080->80\/tcp/);
      // compose shows the logs only of containers whose log driver it can read (dockerd's json-file).
      const log = await must(docker(['inspect', '--format', '{{json .HostConfig.LogConfig}}', `${project}_web_1`]), 'docker inspect web');
      assert.deepEqual(JSON.parse(log.stdout), { Type: 'json-file', Config: {} });
    });

    it('the world reaches web on the host\'s published port 8080', async () => {
      // httpd needs a moment after its container starts: ask a few times (a bounded loop, not a timing assertion).
      let last: RunResult | undefined;
      for (let i = 0; i < 20; i++) {
        last = sb.inWorld([process.execPath, '-e', HTTP_GET, `http://${HOST_UPLINK_IP}:8080/`]);
        if (last.code === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(last?.code, 0, `wget from the world\n${describeResult(last!)}`);
      assert.equal(last!.stdout.trim(), 'hello-from-web');
    });

    it('docker-compose exec SERVICE runs in that service\'s container (its hostname: its id\'s first 12 characters, as dockerd gives)', async () => {
      for (const s of ['web', 'api', 'db']) {
        const r = await must(compose(['exec', '-T', s, 'hostname']), `exec ${s} hostname`);
        const id = await must(compose(['ps', '-q', s]), `ps -q ${s}`);
        assert.equal(r.stdout.trim(), id.stdout.trim().slice(0, 12));
      }
    });

    it('api resolves db by its alias on back (database) and by its service name, and web by front\'s', async () => {
      for (const target of ['database', 'db', 'web']) {
        const r = await must(compose(['exec', '-T', 'api', 'ping', '-c', '1', '-W', '2', target]), `exec api ping ${target}`);
        assert.match(r.stdout, /1 packets received/);
      }
    });

    it('api\'s aliases are per network: api-front only on front (web sees it), api-back only on back (db sees it); inspect shows each network\'s own', async () => {
      const seen = async (from: string, name: string): Promise<boolean> => {
        const r = await compose(['exec', '-T', from, 'ping', '-c', '1', '-W', '2', name]);
        if (r.code === 0) return true;
        assert.match(r.stdout + r.stderr, /bad address/, `${from} -> ${name}: resolved but not reached, or exec failed\n${describeResult(r)}`);
        return false;
      };
      assert.deepEqual(
        { webFront: await seen('web', 'api-front'), webBack: await seen('web', 'api-back'), dbBack: await seen('db', 'api-back'), dbFront: await seen('db', 'api-front') },
        { webFront: true, webBack: false, dbBack: true, dbFront: false },
      );
      const r = await must(docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', `${project}_api_1`]), 'docker inspect api');
      const nets = JSON.parse(r.stdout) as Record<string, { Aliases: string[] | null }>;
      const front = nets[`${project}_front`]?.Aliases ?? [];
      const back = nets[`${project}_back`]?.Aliases ?? [];
      assert.ok(front.includes('api-front') && !front.includes('api-back'), `front: ${front.join(' ')}`);
      assert.ok(back.includes('api-back') && !back.includes('api-front'), `back: ${back.join(' ')}`);
      assert.ok(front.includes('api') && back.includes('api'), 'the service name is an alias on both (compose gives it on each)');
    });

    it('db, on the internal network only, cannot reach the world nor web', async () => {
      // ping itself must fail (exit 1 with its reason), not the exec around it.
      const refused = /unreachable|bad address|0 packets received/i;
      const world = await compose(['exec', '-T', 'db', 'ping', '-c', '1', '-W', '1', WORLD_IP]);
      assert.equal(world.code, 1, `db reached the world through an internal network, or exec failed\n${describeResult(world)}`);
      assert.match(world.stdout + world.stderr, refused);
      const web = await compose(['exec', '-T', 'db', 'ping', '-c', '1', '-W', '1', 'web']);
      assert.equal(web.code, 1, `db reached web, which is on front only, or exec failed\n${describeResult(web)}`);
      assert.match(web.stdout + web.stderr, refused);
    });

    it('docker-compose exec gives the command\'s exit code', async () => {
      const r = await compose(['exec', '-T', 'api', 'sh', '-c', 'exit 3']);
      assert.equal(r.code, 3, describeResult(r));
    });

    it('docker-compose logs web shows what web printed', async () => {
      const r = await must(compose(['logs', '--no-color', 'web']), 'docker-compose logs web');
      assert.match(r.stdout, /web-started/);
    });

    it('docker-compose down leaves nothing: no containers, no project networks, no links beyond the uplink in the host', async () => {
      await must(compose(['down'], 120_000), 'docker-compose down');
      const ps = await must(docker(['ps', '-a', '-q']), 'docker ps -a');
      assert.equal(ps.stdout.trim(), '');
      const nets = await must(docker(['network', 'ls', '--format', '{{.Name}}']), 'docker network ls');
      assert.deepEqual(nets.stdout.trim().split('\n').filter((n) => n.startsWith(project)), [], `project networks left:\n${nets.stdout}`);
      const links = JSON.parse(ok(sb.inHost(['ip', '-j', 'link', 'show']), 'ip link show').stdout) as Array<{ ifname: string; link_type?: string }>;
      const left = links.map((l) => l.ifname).filter((n) => n !== 'lo' && n !== 'uplink' && n !== 'nsnet0');
      assert.deepEqual(left, [], 'no bridge or veth of the project is left in the host namespace');
      const nsnetPs = ok(await sb.nsnet(['ps', '-a', '--format', 'json']), 'nsnet ps -a');
      assert.deepEqual(JSON.parse(nsnetPs.stdout || '[]'), [], 'nsnet records no container');
    });
  },
);
