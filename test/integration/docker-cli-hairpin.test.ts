/**
 * Issue 17 items 3 and 9, as a Docker user meets them.
 *
 * Hairpin (item 3), with both firewall drivers: a container published with `-p 8080:7000`
 * reaches HOST_UPLINK_IP:8080 and gets its own answer (the source it sees is the gateway: the
 * hairpinned flow is masqueraded, as Docker does); a sibling still reaches it; the container's
 * bridge port has hairpin mode on (`bridge link`), and with it turned off by hand the same probe
 * fails (the control that shows the probe is real); `system check` reports that drift and
 * `--fix` restores it. Anti-spoofing still holds: a container that takes another address cannot
 * send with it, hairpin or not.
 *
 * Short ids (item 9): on a user network a container resolves another's 12-character id, as
 * Docker's embedded DNS does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, HOST_UPLINK_IP, type RunOptions, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { client, SERVER } from '../helpers/probes.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import type { DriverName } from '../../src/firewall/driver.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Inspected {
  Id: string;
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Gateway: string }> };
}

function hairpinSuite(driver: DriverName, tag: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, NSNET_FIREWALL_DRIVER: driver };
  const extra = driver === 'iptables' ? [needs.iptables] : [];
  requiredSuite(`hairpin to a container's own published port (${driver} driver)`, { needs: [needs.integration, ...extra], concurrency: false }, () => {
    let sb: Sandbox | undefined;
    const run = (args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => sb!.nsnet(args, { ...opts, env });
    const inspect = async (name: string): Promise<Inspected> => (JSON.parse(ok(await run(['inspect', name])).stdout) as Inspected[])[0]!;
    /** The host end of a container's veth (its bridge port): the peer of eth0's iflink. */
    const bridgePort = async (name: string): Promise<string> => {
      const iflink = ok(await run(['exec', name, 'cat', '/sys/class/net/eth0/iflink'])).stdout.trim();
      const line = ok(sb!.inHost(['ip', '-o', 'link', 'show'])).stdout.split('\n').find((l) => l.startsWith(`${iflink}: `));
      assert.ok(line !== undefined, `no host link with index ${iflink}`);
      return line.split(': ')[1]!.split('@')[0]!;
    };
    const hairpinOf = (port: string): string => ok(sb!.inHost(['bridge', '-d', 'link', 'show', 'dev', port])).stdout;

    before(async () => {
      sb = await createSandbox(tag);
    });
    after(async () => {
      const report = await sb?.destroy();
      assert.deepEqual(report?.problems ?? [], []);
    });

    test('a container reaches its own published port through the host address', async () => {
      assert.ok(sb, 'before() made the sandbox');
      const web = `${sb.prefix}web`;
      ok(await run(['run', '-d', '--name', web, '-p', '8080:7000', '-p', '5353:7000/udp', '--', 'node', '-e', SERVER]));
      await sleep(500); // let node start listening
      const gateway = Object.values((await inspect(web)).NetworkSettings.Networks)[0]!.Gateway;
      // Its own answer, from the gateway's address: the hairpinned flow is masqueraded, so
      // the reply goes back through the host's NAT instead of straight to the client socket.
      assert.equal(ok(await run(['exec', web, ...client('tcp', HOST_UPLINK_IP, 8080)])).stdout.trim(), `tcp 7000 ${gateway}`);
      assert.equal(ok(await run(['exec', web, ...client('udp', HOST_UPLINK_IP, 5353)])).stdout.trim(), `udp 7000 ${gateway}`);
      // A sibling on the same bridge still reaches it.
      const sib = `${sb.prefix}sib`;
      ok(await run(['run', '-d', '--name', sib, '--', 'sleep', '1000']));
      assert.match(ok(await run(['exec', sib, ...client('tcp', HOST_UPLINK_IP, 8080)])).stdout, /^tcp 7000 /);
      ok(await run(['rm', '-f', sib]));

      // The bridge port is in hairpin mode; turned off by hand, the same probe fails (the
      // control), system check names the drift, and --fix restores it.
      const port = await bridgePort(web);
      assert.match(hairpinOf(port), /hairpin on/);
      ok(sb.inHost(['bridge', 'link', 'set', 'dev', port, 'hairpin', 'off']));
      assert.match(hairpinOf(port), /hairpin off/);
      const off = await run(['exec', web, ...client('tcp', HOST_UPLINK_IP, 8080)]);
      assert.notEqual(off.code, 0, `reached itself with hairpin off: ${off.stdout}`);
      const check = await run(['system', 'check']);
      assert.notEqual(check.code, 0, describeResult(check));
      assert.match(check.stdout + check.stderr, new RegExp(`hairpin.*${port}|${port}.*hairpin`));
      ok(await run(['system', 'check', '--fix']));
      assert.match(hairpinOf(port), /hairpin on/);
      assert.equal(ok(await run(['exec', web, ...client('tcp', HOST_UPLINK_IP, 8080)])).stdout.trim(), `tcp 7000 ${gateway}`);
      ok(await run(['system', 'check']));
    });

    test('anti-spoofing still holds: a container cannot send from another address, hairpin or not', async () => {
      assert.ok(sb, 'before() made the sandbox');
      const web = `${sb.prefix}web`;
      const liar = `${sb.prefix}liar`;
      ok(await run(['run', '-d', '--name', liar, '--cap-add', 'NET_ADMIN', '--', 'sleep', '1000']));
      const own = Object.values((await inspect(liar)).NetworkSettings.Networks)[0]!.IPAddress;
      // Control first: from its own address the hairpin path works for this container too.
      assert.match(ok(await run(['exec', liar, ...client('tcp', HOST_UPLINK_IP, 8080)])).stdout, /^tcp 7000 /);
      // Take an unused address of the subnet as well, and send from it: dropped at the bridge.
      const forged = own.replace(/\.\d+$/, '.200');
      ok(await run(['exec', liar, 'ip', 'addr', 'add', `${forged}/32`, 'dev', 'eth0']));
      const js =
        `const s=require('net').connect({host:'${HOST_UPLINK_IP}',port:8080,localAddress:'${forged}'});` +
        `s.on('data',d=>{process.stdout.write(d);process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),1500)`;
      const forgedTry = await run(['exec', liar, 'node', '-e', js]);
      assert.notEqual(forgedTry.code, 0, `a forged source reached ${web}: ${forgedTry.stdout}`);
      ok(await run(['rm', '-f', liar, web]));
    });
  });
}

hairpinSuite('nftables', 'hpn');
hairpinSuite('iptables', 'hpi');

requiredSuite('short container ids resolve in DNS on user networks', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('sid');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test("a container resolves another's 12-character id (getent, through nsnet's responder)", async () => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    ok(await sb.nsnet(['network', 'create', `${p}n`, '--subnet', '10.97.0.0/24']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}a`, '--network', `${p}n`, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}b`, '--network', `${p}n`, '--', 'sleep', '1000']));
    const inspected = JSON.parse(ok(await sb.nsnet(['inspect', `${p}b`])).stdout) as Inspected[];
    const b = inspected[0]!;
    const ip = Object.values(b.NetworkSettings.Networks)[0]!.IPAddress;
    const short = b.Id.slice(0, 12);
    assert.match(short, /^[0-9a-f]{12}$/);
    assert.match(ok(await sb.nsnet(['exec', `${p}a`, 'getent', 'hosts', short])).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
    // The full id is no name (as in Docker).
    assert.notEqual((await sb.nsnet(['exec', `${p}a`, 'getent', 'hosts', b.Id])).code, 0);
    ok(await sb.nsnet(['rm', '-f', `${p}a`, `${p}b`]));
    ok(await sb.nsnet(['network', 'rm', `${p}n`]));
  });
});
