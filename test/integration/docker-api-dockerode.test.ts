/**
 * dockerode (the Node.js Docker SDK, a dev dependency) against `nsnet serve` in a sandbox: load an
 * image, create a network, create and start a container on it, exec with an exit code over the
 * hijacked connection, logs in Docker's stream framing, inspect, remove.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Duplex } from 'node:stream';
import Docker from 'dockerode';
import { closeApiSandbox, openApiSandbox, type ApiSandbox, type ApiServer } from '../helpers/api-server.js';
import { builtImage, busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import type { Sandbox } from '../helpers/sandbox.js';

/** Read a multiplexed (stdcopy) stream to its end, stdout and stderr apart. */
function demuxed(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({ stdout, stderr }));
    stream.on('close', () => resolve({ stdout, stderr }));
    stream.on('error', reject);
  });
}

requiredSuite('Docker API: dockerode creates a network, runs, execs, reads logs, inspects, removes', { needs: [needs.integration, needs.busybox], concurrency: false, timeout: 120_000 }, () => {
  let box: ApiSandbox | undefined;
  let sb: Sandbox;
  let api: ApiServer;
  let docker: Docker;
  const net = (): string => `${sb.prefix}jsnet`;
  const name = (): string => `${sb.prefix}js`;
  const serverLog = (): string => `\n--- nsnet serve log (last 2000 chars):\n${api.log().slice(-2000)}`;

  before(async () => {
    box = await openApiSandbox('js');
    ({ sb, api } = box);
    docker = new Docker({ socketPath: api.socket });
  });
  after(() => closeApiSandbox(box));

  it('loadImage streams the archive; listImages shows busybox:latest with its id', async () => {
    const stream = await docker.loadImage(PassThrough.from([dockerArchive([busyboxSpec()])]) as unknown as NodeJS.ReadableStream);
    const text = await new Promise<string>((resolve, reject) => {
      let all = '';
      stream.on('data', (c: Buffer) => (all += c.toString()));
      stream.on('end', () => resolve(all));
      stream.on('error', reject);
    });
    assert.match(text, /Loaded image: busybox:latest/, text + serverLog());
    const images = await docker.listImages();
    const busybox = images.find((i) => i.RepoTags?.includes('busybox:latest'));
    assert.equal(busybox?.Id, builtImage(busyboxSpec()).id, JSON.stringify(images));
  });

  it('image inspect, history, tag, list filters and info count the loaded image', async () => {
    const id = builtImage(busyboxSpec()).id;
    const img = await docker.getImage('busybox').inspect();
    assert.equal(img.Id, id);
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
    assert.deepEqual(img.Config.Cmd, ['sh']);
    assert.equal(img.Architecture, 'amd64');
    assert.equal(img.Os, 'linux');
    assert.equal(img.RootFS.Layers?.length, 1);
    const history = await docker.getImage('busybox').history();
    assert.equal(history[0]?.Id, id);
    await docker.getImage('busybox').tag({ repo: 'localhost:5000/tools/box', tag: 'v1' });
    const filtered = await docker.listImages({ filters: JSON.stringify({ reference: ['localhost:5000/*/*'] }) });
    assert.deepEqual(filtered.map((i) => i.RepoTags), [['localhost:5000/tools/box:v1']]);
    assert.deepEqual(await docker.getImage('localhost:5000/tools/box:v1').remove(), [{ Untagged: 'localhost:5000/tools/box:v1' }]);
    assert.equal((await docker.info()).Images, 1);
    await assert.rejects(docker.getImage('nothing').inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  });

  it('createNetwork, createContainer on it and start: running with an address on the network', async () => {
    await docker.createNetwork({ Name: net(), Driver: 'bridge', Labels: { suite: 'dockerode' } });
    const c = await docker.createContainer({ Image: 'busybox', name: name(), Cmd: ['sh', '-c', 'echo hello-from-node; echo to-stderr >&2; exec sleep 1000'], HostConfig: { NetworkMode: net() } });
    await c.start();
    const info = await c.inspect();
    assert.equal(info.State.Running, true, JSON.stringify(info.State));
    assert.equal(info.Name, `/${name()}`);
    assert.match(info.NetworkSettings.Networks[net()]?.IPAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/, JSON.stringify(info.NetworkSettings));
    const netInfo = await docker.getNetwork(net()).inspect();
    assert.deepEqual(Object.values(netInfo.Containers as Record<string, { Name: string }>).map((x) => x.Name), [name()]);
  });

  it('exec over the hijacked connection: output apart on stdout and stderr, exit code from exec inspect', async () => {
    const c = docker.getContainer(name());
    const exec = await c.exec({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'], AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
    const { stdout, stderr } = await demuxed(docker, stream);
    assert.equal(stdout, 'out\n');
    assert.equal(stderr, 'err\n');
    const inspected = await exec.inspect();
    assert.equal(inspected.Running, false);
    assert.equal(inspected.ExitCode, 5);
  });

  it('logs: what the container printed, stdout and stderr in Docker\'s framing', async () => {
    const c = docker.getContainer(name());
    let text = '';
    for (let i = 0; i < 40 && !text.includes('to-stderr'); i++) {
      const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      const frames: string[] = [];
      for (let at = 0; at + 8 <= buf.length; ) {
        const len = buf.readUInt32BE(at + 4);
        frames.push(`${buf[at]}:${buf.subarray(at + 8, at + 8 + len).toString()}`);
        at += 8 + len;
      }
      text = frames.join('');
      if (!text.includes('to-stderr')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /1:hello-from-node\n/, `stdout frame: ${JSON.stringify(text)}`);
    assert.match(text, /2:to-stderr\n/, `stderr frame: ${JSON.stringify(text)}`);
  });

  it('remove({force: true}) and the network\'s remove: both gone, and a second remove is a 404', async () => {
    await docker.getContainer(name()).remove({ force: true });
    const all = await docker.listContainers({ all: true });
    assert.deepEqual(all.map((x) => x.Names), []);
    await docker.getNetwork(net()).remove();
    const nets = await docker.listNetworks();
    assert.ok(!nets.some((n) => n.Name === net()));
    await assert.rejects(docker.getContainer(name()).remove(), (err: { statusCode?: number }) => err.statusCode === 404);
  });

  it('pruneImages: nothing dangling by default; with dangling=false the unused busybox goes', async () => {
    assert.deepEqual(await docker.pruneImages(), { ImagesDeleted: null, SpaceReclaimed: 0 });
    const all = await docker.pruneImages({ filters: { dangling: ['false'] } });
    assert.deepEqual(all.ImagesDeleted?.slice(0, 2), [{ Untagged: 'busybox:latest' }, { Deleted: builtImage(busyboxSpec()).id }]);
    assert.ok(all.SpaceReclaimed > 0);
    assert.deepEqual(await docker.listImages(), []);
  });
});
