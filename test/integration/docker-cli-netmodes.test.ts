/**
 * Issue 17 item 2, as a Docker user meets it: `run --network none | host | container:NAME` on the
 * real kernel, in a sandbox.
 *
 * - none: the container has lo and nothing else (no veth, no address but 127.0.0.1).
 * - host: the process runs in the sandbox host's own network namespace (the one nsnet runs in):
 *   it sees the uplink and its address, reaches the world, and rm leaves the namespace alone.
 * - container:X: the joiner sees X's eth0 and address, shares X's loopback, reaches what X
 *   reaches, and serves through X's published port; rm of the joiner leaves X's namespace; rm -f of
 *   X while the joiner runs is refused.
 * - Docker's refusals, with its messages and exit codes (125 for run, 1 for network commands).
 * - network ls / inspect show host and none as Docker does. Nothing is left behind (destroy's residue check).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, HOST_UPLINK_IP, UPLINK_IF, WORLD_UPLINK_IP, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { client, SERVER } from '../helpers/probes.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const ok = (r: RunResult, what = 'command'): RunResult => {
  assert.equal(r.code, 0, `${what}\n${describeResult(r)}`);
  return r;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Inspected {
  Id: string;
  State: { Pid: number; Running: boolean };
  Config: { Hostname: string };
  HostConfig: { NetworkMode: string };
  NetworkSettings: { SandboxKey: string; Networks: Record<string, { IPAddress: string; NetworkID: string }> };
}

requiredSuite('run --network none, host and container:NAME', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  const nsnet = (args: readonly string[]): Promise<RunResult> => sb!.nsnet(args);
  const inspect = async (name: string): Promise<Inspected> => (JSON.parse(ok(await nsnet(['inspect', name])).stdout) as Inspected[])[0]!;
  const netnsOfPid = (pid: number): number => fs.statSync(`/proc/${pid}/ns/net`).ino;
  const links = async (name: string): Promise<string[]> =>
    ok(await nsnet(['exec', name, 'ip', '-o', 'link', 'show'])).stdout.trim().split('\n').map((l) => l.split(': ')[1]!.split('@')[0]!);
  const ipv4 = async (name: string): Promise<string> => ok(await nsnet(['exec', name, 'ip', '-o', '-4', 'addr', 'show'])).stdout;

  before(async () => {
    sb = await createSandbox('nm');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], [], 'no residue');
  });

  test('--network none: lo only, up', async () => {
    const c = `${sb!.prefix}none`;
    ok(await nsnet(['run', '-d', '--network', 'none', '--name', c, '--', 'sleep', '1000']));
    assert.deepEqual(await links(c), ['lo']);
    const addrs = await ipv4(c);
    assert.match(addrs, /inet 127\.0\.0\.1\/8/);
    assert.doesNotMatch(addrs, /eth0|inet (?!127\.)/, addrs);
    const seen = await inspect(c);
    assert.equal(seen.HostConfig.NetworkMode, 'none');
    assert.deepEqual(Object.keys(seen.NetworkSettings.Networks), ['none']);
    assert.equal(seen.NetworkSettings.Networks['none']!.IPAddress, '');
    // The control: the world is out of reach.
    assert.notEqual((await nsnet(['exec', c, 'ping', '-c1', '-W1', WORLD_UPLINK_IP])).code, 0);
    ok(await nsnet(['rm', '-f', c]));
    assert.equal(sb!.netnsInode(c), undefined, 'its namespace went with it');
  });

  test('--network host: the sandbox host\'s namespace, its uplink and its way out; rm leaves it', async () => {
    const c = `${sb!.prefix}host`;
    const hostInode = sb!.netnsInode(sb!.hostNs);
    assert.ok(hostInode !== undefined);
    ok(await nsnet(['run', '-d', '--network', 'host', '--name', c, '--', 'sleep', '1000']));
    const seen = await inspect(c);
    assert.equal(netnsOfPid(seen.State.Pid), hostInode, 'the process runs in the namespace nsnet runs in');
    assert.notEqual(netnsOfPid(seen.State.Pid), netnsOfPid(process.pid), 'and that is the sandbox\'s, not this machine\'s');
    assert.ok((await links(c)).includes(UPLINK_IF));
    assert.match(await ipv4(c), new RegExp(`inet ${HOST_UPLINK_IP.replace(/\./g, '\\.')}/`));
    ok(await nsnet(['exec', c, 'ping', '-c1', '-W2', WORLD_UPLINK_IP]), 'reaches the world like the host');
    assert.equal(seen.HostConfig.NetworkMode, 'host');
    assert.deepEqual(Object.keys(seen.NetworkSettings.Networks), ['host']);
    // Its own UTS namespace all the same.
    assert.equal(ok(await nsnet(['exec', c, 'hostname'])).stdout.trim(), seen.Config.Hostname);
    ok(await nsnet(['rm', '-f', c]));
    assert.equal(sb!.netnsInode(sb!.hostNs), hostInode, 'the host namespace stays');
    assert.ok(ok(sb!.inHost(['ip', '-o', 'link', 'show', UPLINK_IF])).stdout.includes(UPLINK_IF));
  });

  test('--network container:X: X\'s eth0, address, loopback, way out and published ports', async () => {
    const x = `${sb!.prefix}x`;
    const side = `${sb!.prefix}side`;
    ok(await nsnet(['run', '-d', '--name', x, '-p', '8081:7001', '--', 'sleep', '1000']));
    ok(await nsnet(['run', '-d', '--network', `container:${x}`, '--name', side, '--', 'node', '-e', SERVER]));
    await sleep(500); // let node start listening
    const seenX = await inspect(x);
    const seenSide = await inspect(side);
    const xAddr = Object.values(seenX.NetworkSettings.Networks)[0]!.IPAddress;
    assert.equal(netnsOfPid(seenSide.State.Pid), netnsOfPid(seenX.State.Pid));
    assert.match(await ipv4(side), new RegExp(`eth0\\s+inet ${xAddr.replace(/\./g, '\\.')}/`));
    assert.equal(seenSide.HostConfig.NetworkMode, `container:${seenX.Id}`);
    assert.deepEqual(seenSide.NetworkSettings.Networks, {});
    assert.equal(seenSide.Config.Hostname, seenX.Config.Hostname);
    // One loopback: X reaches the joiner's server on 127.0.0.1.
    assert.match(ok(await nsnet(['exec', x, ...client('tcp', '127.0.0.1', 7000)])).stdout, /^tcp 7000 127\.0\.0\.1/);
    // What X reaches, the joiner reaches; the world reaches the joiner through X's published port.
    ok(await nsnet(['exec', side, 'ping', '-c1', '-W2', WORLD_UPLINK_IP]));
    assert.match(ok(sb!.inWorld(client('tcp', HOST_UPLINK_IP, 8081))).stdout, /^tcp 7001 /);

    // X cannot go while the joiner runs (rm exits 1, nothing removed).
    const refused = await nsnet(['rm', '-f', x]);
    assert.equal(refused.code, 1, describeResult(refused));
    assert.match(refused.stderr, new RegExp(`in use by running container ${side}`));
    assert.equal((await inspect(x)).State.Running, true);
    // The joiner goes; X's namespace and process stay.
    const xInode = sb!.netnsInode(x);
    ok(await nsnet(['rm', '-f', side]));
    assert.equal(sb!.netnsInode(x), xInode);
    assert.equal((await inspect(x)).State.Running, true);
    ok(await nsnet(['rm', '-f', x]));
  });

  test('network ls lists host and none, network inspect shows them, ps names the mode', async () => {
    const table = ok(await nsnet(['network', 'ls'])).stdout;
    assert.match(table, /\shost\s+host\s+local/);
    assert.match(table, /\snone\s+null\s+local/);
    assert.match(ok(await nsnet(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])).stdout, /^host host\nnone null$/m);
    const c = `${sb!.prefix}psh`;
    ok(await nsnet(['run', '-d', '--network', 'host', '--name', c, '--', 'sleep', '1000']));
    assert.match(ok(await nsnet(['ps', '--format', '{{.Names}} {{.Networks}}'])).stdout, new RegExp(`^${c} host$`, 'm'));
    const [withMember] = JSON.parse(ok(await nsnet(['network', 'inspect', 'host'])).stdout) as Array<{ Containers: Record<string, { Name: string }> }>;
    assert.deepEqual(Object.values(withMember?.Containers ?? {}).map((m) => m.Name), [c]);
    ok(await nsnet(['rm', '-f', c]));
    const [host] = JSON.parse(ok(await nsnet(['network', 'inspect', 'host'])).stdout) as Array<{ Name: string; Driver: string; Id: string }>;
    assert.equal(host?.Name, 'host');
    assert.equal(host?.Driver, 'host');
    const [none] = JSON.parse(ok(await nsnet(['network', 'inspect', 'none'])).stdout) as Array<{ Driver: string }>;
    assert.equal(none?.Driver, 'null');
  });

  const refusals: Array<{ what: string; args: (p: string) => string[]; code: number; message: RegExp }> = [
    { what: '--ip with host', args: (p) => ['run', '-d', '--network', 'host', '--ip', '10.9.9.9', '--name', `${p}r1`, '--', 'sleep', '1'], code: 125, message: /user specified IP address is supported on user defined networks only/ },
    { what: '-p with container:', args: (p) => ['run', '-d', '--network', `container:${p}target`, '-p', '8090:80', '--name', `${p}r2`, '--', 'sleep', '1'], code: 125, message: /conflicting options: port publishing and the container type network mode/ },
    { what: '--network-alias with none', args: (p) => ['run', '-d', '--network', 'none', '--network-alias', 'a', '--name', `${p}r3`, '--', 'sleep', '1'], code: 125, message: /network-scoped alias is supported only for containers in user defined networks/ },
    { what: '--hostname with container:', args: (p) => ['run', '-d', '--network', `container:${p}target`, '--hostname', 'h', '--name', `${p}r4`, '--', 'sleep', '1'], code: 125, message: /conflicting options: hostname and the network mode/ },
    { what: 'container: of a stopped container', args: (p) => ['run', '-d', '--network', `container:${p}stopped`, '--name', `${p}r5`, '--', 'sleep', '1'], code: 125, message: /cannot join network of a non running container/ },
    { what: 'network rm host', args: () => ['network', 'rm', 'host'], code: 1, message: /host is a pre-defined network and cannot be removed/ },
    { what: 'network connect host', args: (p) => ['network', 'connect', 'host', `${p}target`], code: 1, message: /container cannot be disconnected from host network or connected to host network/ },
    { what: 'network connect of a joiner', args: (p) => ['network', 'connect', 'bridge', `${p}joiner`], code: 1, message: /container sharing network namespace with another container or host cannot be connected to any other network/ },
    { what: 'network connect of a none container', args: (p) => ['network', 'connect', 'bridge', `${p}lonely`], code: 1, message: /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/ },
  ];

  test('refused as Docker refuses, with its messages and exit codes, and nothing made', async () => {
    const p = sb!.prefix;
    ok(await nsnet(['run', '-d', '--name', `${p}target`, '--', 'sleep', '1000']));
    ok(await nsnet(['run', '-d', '--name', `${p}stopped`, '--', 'sleep', '1000']));
    ok(await nsnet(['stop', '-t', '0', `${p}stopped`]));
    ok(await nsnet(['run', '-d', '--network', `container:${p}target`, '--name', `${p}joiner`, '--', 'sleep', '1000']));
    ok(await nsnet(['run', '-d', '--network', 'none', '--name', `${p}lonely`, '--', 'sleep', '1000']));
    const before = ok(await nsnet(['ps', '-a', '-q'])).stdout;
    for (const r of refusals) {
      const got = await nsnet(r.args(p));
      assert.equal(got.code, r.code, `${r.what}\n${describeResult(got)}`);
      assert.match(got.stderr, r.message, r.what);
    }
    assert.equal(ok(await nsnet(['ps', '-a', '-q'])).stdout, before, 'no container made');
    ok(await nsnet(['rm', '-f', `${p}joiner`, `${p}lonely`, `${p}stopped`, `${p}target`]));
  });
});
