/**
 * nsnet-cni never wires the namespace it runs in, nor one nsnet runs a container in (issue 14,
 * item 2), in a sandbox. CNI_NETNS is a path, and many paths lead to the plugin's own namespace
 * (the sandbox's "host"): /proc/self/ns/net, /proc/thread-self/ns/net, /proc/PID/ns/net of any
 * process there, its /run/netns path. An ADD given one of them gave the host itself an eth0, an
 * address and a default route into the network; given a CLI container's namespace
 * (/run/netns/NAME, or /proc/PID/ns/net of its process) it hijacked that container. Each is
 * refused with the spec's code 4 (invalid CNI_* environment variable) and a message naming the
 * path and what it is, and nothing changes: no link, address or route in the host or in the
 * container, the store as before.
 *
 * Every path goes through the two doors a runtime can use: bin/nsnet-cni (the C client, which
 * refuses the plugin's own namespace itself, and the service behind it) and the Node plugin
 * (`nsnet cni-plugin`, NSNET_CNI_SERVICE=off). The control each time: a fresh namespace a
 * runtime made is attached.
 *
 * On the code before this hardening each ADD below went ahead: the CLI container (on an internal
 * network, so without a default route of its own) got eth1, an address and a default route into
 * the CNI network; the sandbox's host got eth0 and its address, undone again only because the
 * host already had a default route (code 100, EEXIST).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encodeRequest } from '../../src/ops/cni-service.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { createSandbox, describeResult, NSNET_BIN, pidNetnsInode, REPO, runSync, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const CNI_BIN = path.join(REPO, 'bin', 'nsnet-cni');
const NODE_PLUGIN = [NSNET_BIN, 'cni-plugin'];
const SUBNET = '10.67.0.0/24';
/** The spec's code for an invalid CNI_* variable. */
const INVALID_ENVIRONMENT = 4;
/** The interface a hijacking ADD asks for: one the CLI container does not have yet (it has eth0). */
const HIJACK_IF = { CNI_IFNAME: 'eth1' };
/** What the message says of the plugin's own namespace. */
const OWN = /is nsnet-cni's own network namespace \(the host's\)/;

interface Refusal {
  netns: string;
  /** What the message says the path is. */
  is: RegExp;
}

const quoted = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

requiredSuite('nsnet-cni refuses its own and nsnet containers\' namespaces', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let conf: Record<string, unknown>;
  let cli: string;
  let hostProcess: ChildProcess;
  const made: string[] = [];

  before(async () => {
    sb = await createSandbox('hcni');
    conf = { cniVersion: '1.0.0', name: `${sb.prefix}net`, type: 'nsnet-cni', bridge: `${sb.prefix}br`, subnet: SUBNET };
    cli = `${sb.prefix}cli`;
    // On an internal network: without a default route of its own, nothing stops a hijacking ADD half-way.
    ok(await sb.nsnet(['network', 'create', '--internal', '--subnet', '10.68.0.0/24', `${sb.prefix}in`]));
    ok(await sb.nsnet(['run', '-d', '--name', cli, '--network', `${sb.prefix}in`, '--', 'sleep', '1000']), 'a CLI container');
    hostProcess = sb.spawnInHost(['sleep', '1000']);
  });
  after(async () => {
    for (const ns of made) runSync(['ip', 'netns', 'del', ns]);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  /** A namespace as a runtime makes it (nsnet is only told its path). */
  function runtimeNetns(name: string): string {
    const full = `${sb.prefix}${name}`;
    ok(runSync(['ip', 'netns', 'add', full]));
    made.push(full);
    return `/run/netns/${full}`;
  }

  /**
   * /proc/PID/ns/net of a process once it is in namespace `inode`: nsenter switches only after it
   * started, and before that the path is the machine's own namespace, which no test may touch.
   */
  async function procPath(pid: number, inode: number | undefined): Promise<string> {
    assert.ok(inode !== undefined, 'the namespace is mounted');
    for (let i = 0; i < 100 && pidNetnsInode(pid) !== inode; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pidNetnsInode(pid), inode, `process ${pid} is in the namespace`);
    return `/proc/${pid}/ns/net`;
  }

  async function refusals(): Promise<Refusal[]> {
    const container = new RegExp(`is the network namespace of nsnet container ${cli}\\b`);
    const inspected = JSON.parse(ok(await sb.nsnet(['inspect', cli])).stdout) as Array<{ State: { Pid: number } }>;
    return [
      { netns: '/proc/self/ns/net', is: OWN },
      { netns: '/proc/thread-self/ns/net', is: OWN },
      { netns: `/run/netns/${sb.hostNs}`, is: OWN },
      { netns: await procPath(hostProcess.pid!, sb.netnsInode(sb.hostNs)), is: OWN },
      { netns: `/run/netns/${cli}`, is: container },
      // A path nsnet never saw: the namespace is recognised by device and inode.
      { netns: await procPath(inspected[0]!.State.Pid, sb.netnsInode(cli)), is: container },
    ];
  }

  /** What a wrongly wired ADD would change: links, addresses and routes of the host and the container, the store. */
  async function state(): Promise<string> {
    // A bridge's routes say "linkdown" while it has no port up: carrier, not configuration.
    const ip = (ns: string, ...args: string[]): string => ok(runSync(['ip', '-n', ns, '-o', ...args])).stdout.replace(/ linkdown/g, '');
    const store = await Promise.all([sb.nsnet(['ps', '-a', '--format', 'json']), sb.nsnet(['network', 'ls', '--format', 'json'])]);
    // IPv4 only, and links by name: what a wrong ADD adds is eth0, an IPv4 address and a default
    // route; IPv6 link-local addresses finish duplicate address detection (lose "tentative")
    // whenever the kernel gets to it, which is no change of nsnet's.
    const linkNames = (ns: string): string => ip(ns, 'link', 'show').split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').join(' ');
    return [
      ...[sb.hostNs, cli].flatMap((ns) => [linkNames(ns), ip(ns, '-4', 'addr', 'show'), ip(ns, '-4', 'route', 'show', 'table', 'all')]),
      ...store.map((r) => ok(r).stdout),
    ].join('\n');
  }

  function call(bin: readonly string[], env: Record<string, string>): RunResult {
    return sb.inHost(bin, {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NSNET_ROOT: sb.root, CNI_PATH: path.dirname(CNI_BIN), CNI_IFNAME: 'eth0', ...env },
      input: JSON.stringify(conf),
    });
  }
  const add = (bin: readonly string[], id: string, netns: string, extra: Record<string, string> = {}): RunResult =>
    call(bin, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: netns, ...extra });

  /** The refusal's error object: the spec's code, the message naming the path and what it is. */
  function assertRefused(r: RunResult, c: Refusal, what: string): { cniVersion: string } {
    assert.equal(r.code, 1, `${what}: ADD with CNI_NETNS=${c.netns} is refused\n${describeResult(r)}`);
    const out = JSON.parse(r.stdout) as { cniVersion: string; code: number; msg: string };
    assert.equal(out.code, INVALID_ENVIRONMENT, `${what}: ${describeResult(r)}`);
    assert.match(out.msg, new RegExp(`^CNI_NETNS ${quoted(c.netns)} ${c.is.source}`), what);
    return out;
  }

  /** The control: a namespace a runtime made is attached (and detached again). */
  function assertAccepted(bin: readonly string[], id: string, netns: string, extra: Record<string, string> = {}): void {
    const r = add(bin, id, netns, extra);
    assert.equal(r.code, 0, `ADD of a runtime's namespace ${netns}\n${describeResult(r)}`);
    assert.match(r.stdout, /"address":"10\.67\.0\.\d+\/24"/);
    ok(runSync(['nsenter', `--net=${netns}`, 'ip', 'link', 'show', 'eth0']), 'eth0 in the runtime namespace');
    ok(call(bin, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: id, CNI_NETNS: netns, ...extra }), 'DEL');
  }

  test('the Node plugin, and the client falling back to it (NSNET_CNI_SERVICE=off): each path refused, nothing changed', async () => {
    // The nsnet service (which the CLI commands here start, and which serves CNI calls too) is never asked.
    const off = { NSNET_CNI_SERVICE: 'off', NSNET_SERVICE: 'off' };
    assertAccepted(NODE_PLUGIN, 'ctl000000001', runtimeNetns('rt1'), off);
    const cases = await refusals();
    const before = await state();
    for (const c of cases) {
      const node = assertRefused(add(NODE_PLUGIN, 'hijack000001', c.netns, { ...off, ...HIJACK_IF }), c, 'the Node plugin');
      assert.equal(node.cniVersion, conf['cniVersion'], 'in the version of the configuration');
      const client = assertRefused(add([CNI_BIN], 'hijack000001', c.netns, { ...off, ...HIJACK_IF }), c, 'nsnet-cni');
      // The client answers its own namespace itself, before any Node (and in the spec's version: it reads no configuration).
      assert.equal(client.cniVersion, c.is === OWN ? '1.1.0' : conf['cniVersion'], `who answered ${c.netns}`);
    }
    assert.equal(await state(), before, 'no link, address, route or record changed');
    const log = path.join(sb.root, 'service', 'service.log');
    assert.doesNotMatch(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '', /ADD (ctl|hijack)00000000?1/, 'no service was asked');
    assertAccepted([CNI_BIN], 'ctl000000002', runtimeNetns('rt2'), off);
  });

  test('bin/nsnet-cni with its service running: each path refused by the client or the service, nothing changed', async () => {
    const socket = path.join(sb.root, 'service', `net-${sb.netnsInode(sb.hostNs)}.sock`);
    /**
     * A service answers the next call. It stops after a call once its code changed (a rebuild:
     * on a machine where tsc runs meanwhile, any call), and removes its socket before the caller
     * has the answer; the Node plugin starts it again.
     */
    const serviceUp = async (): Promise<void> => {
      if (!fs.existsSync(socket)) ok(call(NODE_PLUGIN, { CNI_COMMAND: 'STATUS' }), 'STATUS (starts the service)');
      for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(fs.existsSync(socket), `the service listens on ${socket}`);
    };
    assertAccepted([CNI_BIN], 'ctl000000003', runtimeNetns('rt3'));
    const cases = await refusals();
    const before = await state();
    for (const c of cases) {
      await serviceUp();
      assertRefused(add([CNI_BIN], 'hijack000002', c.netns, HIJACK_IF), c, 'nsnet-cni');
    }
    // The service on its own (a client that does not check): it runs in the host, so its own namespace is the host's.
    for (const c of cases) {
      await serviceUp();
      const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'hijack000003', CNI_NETNS: c.netns, ...HIJACK_IF };
      assertRefused(await askService(socket, encodeRequest({ env, stdin: JSON.stringify(conf) })), c, 'the service');
    }
    assert.equal(await state(), before, 'no link, address, route or record changed');
    const log = fs.readFileSync(path.join(sb.root, 'service', 'service.log'), 'utf8');
    assert.equal(log.match(/ADD hijack000002 eth1 → 1 /g)?.length, 2, `the client handed the two container cases to the service, and only those:\n${log}`);
    assert.equal(log.match(/ADD hijack000003 eth1 → 1 /g)?.length, cases.length, `the service refused each request:\n${log}`);
    assertAccepted([CNI_BIN], 'ctl000000004', runtimeNetns('rt4'));
  });
});

/** One request straight to the service's socket; its reply as the client would relay it. */
function askService(socket: string, request: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = net.createConnection(socket, () => conn.end(request));
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('error', reject);
    conn.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const nl = text.indexOf('\n');
      resolve({ code: Number(text.slice(0, nl)), signal: null, stdout: text.slice(nl + 1), stderr: '', cmd: `(a request straight to ${socket})` });
    });
  });
}
