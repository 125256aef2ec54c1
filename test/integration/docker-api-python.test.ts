/**
 * Debian's python3-docker (docker-py 5.0) against `nsnet serve` in a sandbox: load an image,
 * create a network, run a container on it, exec with an exit code (plain and demultiplexed),
 * logs, inspect, remove. One Python script runs every step and reports each one's result or
 * error as JSON, so each assertion below names the step that failed and what docker-py said.
 *
 * The interpreter is Debian's /usr/bin/python3 (the one python3-docker is installed for), not
 * whatever python3 comes first on PATH.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { closeApiSandbox, executable, openApiSandbox, type ApiSandbox, type ApiServer } from '../helpers/api-server.js';
import { builtImage, busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { describeResult, runAsync, type Sandbox } from '../helpers/sandbox.js';

const PYTHON = '/usr/bin/python3';

const needDockerPy = (): string | undefined => {
  const missing = executable(PYTHON, 'the python3-docker test', 'apt-get install python3')();
  if (missing !== undefined) return missing;
  return fs.existsSync('/usr/lib/python3/dist-packages/docker/__init__.py') ? undefined : 'the python3-docker test needs Debian\'s python3-docker (bash scripts/setup.sh installs it)';
};

/** Each step's result (value) or failure (error: the exception's type and text). */
const SCRIPT = String.raw`
import json, os, sys, time, traceback
import docker

prefix, archive = sys.argv[1], sys.argv[2]
out = {}
def step(name, fn):
    try:
        out[name] = {"value": fn()}
    except Exception as e:
        out[name] = {"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-1500:]}

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto", timeout=60)
step("version", lambda: {"module": docker.__version__, "api": client.api.api_version})
step("ping", lambda: client.ping())
def load():
    with open(archive, "rb") as f:
        return [img.id for img in client.images.load(f.read())]
step("load", load)
step("images", lambda: [t for img in client.images.list() for t in img.tags])
step("network_create", lambda: client.networks.create(prefix + "pynet", driver="bridge", labels={"suite": "python"}).id)
step("run", lambda: client.containers.run("busybox", ["sh", "-c", "echo hello-from-python; exec sleep 1000"], name=prefix + "py", network=prefix + "pynet", detach=True).id)
def inspect():
    c = client.containers.get(prefix + "py")
    nets = c.attrs["NetworkSettings"]["Networks"]
    return {"status": c.status, "image": c.attrs["Config"]["Image"], "networks": {k: v.get("IPAddress") for k, v in nets.items()}}
step("inspect", inspect)
step("exec", lambda: (lambda r: {"exit_code": r.exit_code, "output": r.output.decode()})(client.containers.get(prefix + "py").exec_run(["sh", "-c", "echo out; echo err >&2; exit 7"])))
step("exec_demux", lambda: (lambda r: {"exit_code": r.exit_code, "stdout": (r.output[0] or b"").decode(), "stderr": (r.output[1] or b"").decode()})(client.containers.get(prefix + "py").exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)))
def logs():
    c = client.containers.get(prefix + "py")
    for _ in range(40):
        text = c.logs().decode()
        if "hello-from-python" in text:
            break
        time.sleep(0.1)
    return text
step("logs", logs)
step("network_inspect", lambda: sorted(c["Name"] for c in client.api.inspect_network(prefix + "pynet")["Containers"].values()))
step("remove", lambda: client.containers.get(prefix + "py").remove(force=True))
step("after_remove", lambda: [c.name for c in client.containers.list(all=True)])
step("network_remove", lambda: client.networks.get(prefix + "pynet").remove())
step("networks_after", lambda: [n.name for n in client.networks.list()])
step("missing", lambda: client.containers.get(prefix + "nope"))
print(json.dumps(out))
`;

requiredSuite(
  'Docker API: python3-docker (docker-py) creates a network, runs, execs, reads logs, inspects, removes',
  { needs: [needs.integration, needs.busybox, needDockerPy], concurrency: false, timeout: 180_000 },
  () => {
    let box: ApiSandbox | undefined;
    let sb: Sandbox;
    let api: ApiServer;
    let dir: string;
    let steps: Record<string, { value?: any; error?: string; trace?: string }> = {};
    const value = (name: string): any => {
      const s = steps[name];
      assert.ok(s !== undefined, `step ${name} did not run (the script stopped before it)`);
      assert.equal(s.error, undefined, `docker-py step ${name} failed: ${s.error}\n${s.trace ?? ''}\n--- nsnet serve log (last 2000 chars):\n${api.log().slice(-2000)}`);
      return s.value;
    };

    before(async () => {
      box = await openApiSandbox('py');
      ({ sb, api, dir } = box);
      fs.writeFileSync(path.join(dir, 'busybox.tar'), dockerArchive([busyboxSpec()]));
      fs.writeFileSync(path.join(dir, 'steps.py'), SCRIPT);
      const r = await runAsync([PYTHON, path.join(dir, 'steps.py'), sb.prefix, path.join(dir, 'busybox.tar')], { env: api.env, timeoutMs: 150_000 });
      if (process.env["NSNET_TEST_DEBUG"]) console.error(r.stdout);
      const last = r.stdout.trim().split('\n').pop() ?? '';
      try {
        steps = JSON.parse(last) as typeof steps;
      } catch {
        assert.fail(`the docker-py script printed no result\n${describeResult(r)}`);
      }
    });
    after(() => closeApiSandbox(box));

    it('docker-py 5 negotiates API 1.41 and pings', () => {
      assert.match(value('version').module, /^5\./);
      assert.equal(value('version').api, '1.41');
      assert.equal(value('ping'), true);
    });

    it('images.load loads the busybox archive; images.list shows busybox:latest', () => {
      assert.deepEqual(value('load'), [builtImage(busyboxSpec()).id]);
      assert.ok(value('images').includes('busybox:latest'), JSON.stringify(steps['images']));
    });

    it('networks.create and containers.run on it: running, with an address on the network', () => {
      assert.match(value('network_create'), /^[0-9a-f]{64}$/);
      assert.match(value('run'), /^[0-9a-f]{64}$/);
      const inspect = value('inspect');
      assert.equal(inspect.status, 'running');
      assert.equal(inspect.image, 'busybox');
      assert.match(String(inspect.networks[`${sb.prefix}pynet`]), /^\d+\.\d+\.\d+\.\d+$/, JSON.stringify(inspect));
      assert.deepEqual(value('network_inspect'), [`${sb.prefix}py`]);
    });

    it('exec_run gives the exit code and the output, and demux=True separates stdout from stderr', () => {
      const exec = value('exec');
      assert.equal(exec.exit_code, 7);
      assert.match(exec.output, /out/);
      assert.match(exec.output, /err/);
      assert.deepEqual(value('exec_demux'), { exit_code: 0, stdout: 'o\n', stderr: 'e\n' });
    });

    it('logs() has what the container printed', () => {
      assert.match(value('logs'), /hello-from-python/);
    });

    it('remove(force=True) and network remove leave neither', () => {
      value('remove');
      assert.ok(!value('after_remove').includes(`${sb.prefix}py`));
      value('network_remove');
      assert.ok(!value('networks_after').includes(`${sb.prefix}pynet`));
    });

    it('a missing container is docker.errors.NotFound', () => {
      assert.match(String(steps['missing']?.error), /^NotFound: 404 Client Error.*No such container/);
    });
  },
);
