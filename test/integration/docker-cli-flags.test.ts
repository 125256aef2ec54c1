/**
 * Issue 17 item 4, on the real kernel in a sandbox: Docker's run and network flags as a Docker
 * user types them — run -P/--expose, --sysctl, --link, network connect --alias, network create
 * -d/--attachable/--aux-address, port NAME [PORT[/PROTO]]. Each case checks the exit code, stdout
 * or stderr, and what the machine shows afterwards (a sysctl in the namespace, a name resolved
 * on one network and not another, an address IPAM skipped); each bad value is refused with the
 * value named and nothing made.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type RunResult, type Sandbox, sandboxHas } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface Case {
  what: string;
  args: (p: string) => string[];
  code: number;
  stdout?: (p: string) => RegExp;
  stderr?: RegExp;
  /** Containers (by suffix; `net:` for a network) that must not exist afterwards. */
  gone?: string[];
  /** What the machine shows afterwards. */
  then?: (sb: Sandbox, p: string, r: RunResult) => Promise<void>;
}

const SLEEP = ['--', 'sleep', '1000'];
const getent = (sb: Sandbox, c: string, name: string): Promise<RunResult> => sb.nsnet(['exec', c, 'getent', 'hosts', name]);
const inspect = async (sb: Sandbox, c: string): Promise<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }> =>
  (JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>)[0]!;
const ipOn = async (sb: Sandbox, c: string, net: string): Promise<string> => (await inspect(sb, c)).NetworkSettings.Networks[net]!.IPAddress;

const CASES: Case[] = [
  // network create -d, --attachable, --aux-address
  {
    what: 'network create -d bridge --attachable --aux-address: IPAM skips the aux address',
    args: (p) => ['network', 'create', '-d', 'bridge', '--attachable', '--aux-address', 'router=10.118.1.2', '--subnet', '10.118.1.0/24', `${p}aux`],
    code: 0,
    stdout: () => /^[0-9a-f]{64}\n$/,
    then: async (sb, p) => {
      ok(await sb.nsnet(['run', '-d', '--name', `${p}auxc`, '--network', `${p}aux`, ...SLEEP]));
      assert.equal(await ipOn(sb, `${p}auxc`, `${p}aux`), '10.118.1.3');
    },
  },
  { what: 'network create -d overlay is refused with the drivers', args: (p) => ['network', 'create', '-d', 'overlay', `${p}ov`], code: 1, stderr: /invalid network driver "overlay": nsnet supports bridge/, gone: ['net:ov'] },
  {
    what: 'an aux address outside the subnet is refused',
    args: (p) => ['network', 'create', '--aux-address', 'r=10.0.0.1', '--subnet', '10.118.2.0/24', `${p}aux2`],
    code: 1,
    stderr: /invalid --aux-address "r=10\.0\.0\.1": not inside subnet 10\.118\.2\.0\/24/,
    gone: ['net:aux2'],
  },
  { what: 'an aux address without NAME= is refused', args: (p) => ['network', 'create', '--aux-address', '10.118.3.5', `${p}aux3`], code: 1, stderr: /invalid --aux-address "10\.118\.3\.5": expected KEY=VALUE/, gone: ['net:aux3'] },
  { what: 'run --ip on an aux address is refused naming it', args: (p) => ['run', '-d', '--name', `${p}auxip`, '--network', `${p}aux`, '--ip', '10.118.1.2', ...SLEEP], code: 125, stderr: /reserved as auxiliary address router/, gone: ['auxip'] },

  // run --sysctl
  {
    what: 'run --sysctl sets net.* keys in the container only',
    args: (p) => ['run', '-d', '--name', `${p}sys`, '--network', `${p}n`, '--sysctl', 'net.ipv4.conf.all.rp_filter=2', '--sysctl', 'net.ipv4.conf.eth0.accept_local=1', ...SLEEP],
    code: 0,
    then: async (sb, p) => {
      assert.equal(ok(await sb.nsnet(['exec', `${p}sys`, 'cat', '/proc/sys/net/ipv4/conf/all/rp_filter'])).stdout.trim(), '2');
      assert.equal(ok(await sb.nsnet(['exec', `${p}sys`, 'cat', '/proc/sys/net/ipv4/conf/eth0/accept_local'])).stdout.trim(), '1');
      assert.notEqual(ok(sb.inHost(['cat', '/proc/sys/net/ipv4/conf/all/rp_filter'])).stdout.trim(), '2', "the sandbox host's value is not the container's");
    },
  },
  {
    what: 'run --dry-run --sysctl prints the sysctl step',
    args: (p) => ['--dry-run', 'run', '-d', '--name', `${p}sysdry`, '--network', `${p}n`, '--sysctl', 'net.ipv4.ip_forward=1', ...SLEEP],
    code: 0,
    stdout: (p) => new RegExp(`ip netns exec ${p}sysdry sysctl -w net\\.ipv4\\.ip_forward=1`),
    gone: ['sysdry'],
  },
  { what: "run --sysctl of an IPC key is refused saying why", args: (p) => ['run', '-d', '--name', `${p}sys2`, '--sysctl', 'kernel.shmmax=1', ...SLEEP], code: 125, stderr: /invalid --sysctl "kernel\.shmmax=1": .*IPC namespace/, gone: ['sys2'] },
  { what: 'run --sysctl of a host key is refused', args: (p) => ['run', '-d', '--name', `${p}sys3`, '--sysctl', 'vm.swappiness=1', ...SLEEP], code: 125, stderr: /invalid --sysctl "vm\.swappiness=1": .*only net\.\* keys/, gone: ['sys3'] },
  { what: 'run --sysctl without =VALUE is refused', args: (p) => ['run', '-d', '--name', `${p}sys4`, '--sysctl', 'net.ipv4.ip_forward', ...SLEEP], code: 125, stderr: /invalid --sysctl "net\.ipv4\.ip_forward": expected KEY=VALUE/, gone: ['sys4'] },
  { what: 'run --sysctl of a key the namespace lacks fails with nothing left', args: (p) => ['run', '-d', '--name', `${p}sys5`, '--network', `${p}n`, '--sysctl', 'net.ipv4.no_such_key=1', ...SLEEP], code: 125, stderr: /net\.ipv4\.no_such_key/, gone: ['sys5'] },

  // run -P --expose, port NAME [PORT[/PROTO]]
  {
    what: 'run -P --expose publishes each exposed port; -p keeps its own',
    args: (p) => ['run', '-d', '--name', `${p}pub`, '--network', `${p}n`, '-P', '--expose', '80', '--expose', '53/udp', '-p', '8080:81', ...SLEEP],
    code: 0,
    then: async (sb, p) => {
      assert.match(ok(await sb.nsnet(['port', `${p}pub`, '80'])).stdout, /^0\.0\.0\.0:\d+\n$/);
      assert.match(ok(await sb.nsnet(['port', `${p}pub`, '53/udp'])).stdout, /^0\.0\.0\.0:\d+\n$/);
      assert.equal(ok(await sb.nsnet(['port', `${p}pub`, '81/tcp'])).stdout, '0.0.0.0:8080\n');
      const all = ok(await sb.nsnet(['port', `${p}pub`])).stdout;
      assert.match(all, /^80\/tcp -> 0\.0\.0\.0:\d+$/m);
      assert.match(all, /^81\/tcp -> 0\.0\.0\.0:8080$/m);
      const json = JSON.parse(ok(await sb.nsnet(['port', `${p}pub`, '--format', 'json'])).stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(json).sort(), ['53/udp', '80/tcp', '81/tcp']);
    },
  },
  { what: '--expose alone publishes nothing', args: (p) => ['run', '-d', '--name', `${p}exp`, '--network', `${p}n`, '--expose', '90', ...SLEEP], code: 0, then: async (sb, p) => assert.equal(ok(await sb.nsnet(['port', `${p}exp`])).stdout, '') },
  { what: 'port of a port not published', args: (p) => ['port', `${p}pub`, '82'], code: 1, stderr: /no public port '82\/tcp' published for .*pub/ },
  { what: 'port with a bad port', args: (p) => ['port', `${p}pub`, '80/icmp'], code: 1, stderr: /invalid port "80\/icmp": protocol "icmp"/ },
  { what: 'run --expose with a bad protocol is refused', args: (p) => ['run', '-d', '--name', `${p}exp2`, '-P', '--expose', '80/icmp', ...SLEEP], code: 125, stderr: /invalid --expose "80\/icmp"/, gone: ['exp2'] },

  // network connect --alias: the name on that network only
  {
    what: 'network connect --alias: resolves on that network, not on the container\'s other one',
    args: (p) => ['network', 'connect', '--alias', 'api', '--alias', 'api.internal', `${p}back`, `${p}srv`],
    code: 0,
    then: async (sb, p) => {
      const ip = await ipOn(sb, `${p}srv`, `${p}back`);
      assert.match(ok(await getent(sb, `${p}onback`, 'api')).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
      assert.match(ok(await getent(sb, `${p}onback`, 'api.internal')).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
      const front = await getent(sb, `${p}onfront`, 'api');
      assert.notEqual(front.code, 0, `api must not resolve on the front network: ${describeResult(front)}`);
      ok(await getent(sb, `${p}onfront`, `${p}srv`), 'its name still resolves there');
    },
  },
  { what: "network connect --alias that is another container's name is refused", args: (p) => ['network', 'connect', '--alias', `${p}onback`, `${p}back`, `${p}onfront`], code: 1, stderr: /--alias .*onback would shadow container .*onback/ },

  // --link
  {
    what: 'run --link NAME:ALIAS: the alias resolves on the default network, with the legacy warning',
    args: (p) => ['run', '-d', '--name', `${p}app`, '--link', `${p}db:database`, ...SLEEP],
    code: 0,
    stderr: /--link is a legacy feature/,
    then: async (sb, p) => {
      const ip = await ipOn(sb, `${p}db`, 'bridge');
      assert.match(ok(await getent(sb, `${p}app`, 'database')).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
    },
  },
  { what: 'run --link to a missing container is refused', args: (p) => ['run', '-d', '--name', `${p}app2`, '--link', `${p}nosuch`, ...SLEEP], code: 125, stderr: /no container named .*nosuch/, gone: ['app2'] },
  { what: 'run --link on a user network is refused', args: (p) => ['run', '-d', '--name', `${p}app3`, '--network', `${p}n`, '--link', `${p}db`, ...SLEEP], code: 125, stderr: /links are a feature of the default network/, gone: ['app3'] },
];

requiredSuite("Docker's run and network flags (issue 17 item 4)", { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('fl');
    const p = sb.prefix;
    ok(await sb.nsnet(['network', 'create', `${p}n`, '--subnet', '10.118.0.0/24']));
    ok(await sb.nsnet(['network', 'create', `${p}back`, '--subnet', '10.118.4.0/24']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}srv`, '--network', `${p}n`, ...SLEEP]));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}onback`, '--network', `${p}back`, ...SLEEP]));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}onfront`, '--network', `${p}n`, ...SLEEP]));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}db`, ...SLEEP]));
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  const exists = sandboxHas;

  for (const c of CASES) {
    test(c.what, async () => {
      assert.ok(sb, 'before() made the sandbox');
      const p = sb.prefix;
      const r = await sb.nsnet(c.args(p));
      assert.equal(r.code, c.code, describeResult(r));
      if (c.stdout !== undefined) assert.match(r.stdout, c.stdout(p), describeResult(r));
      if (c.stderr !== undefined) assert.match(r.stderr, c.stderr, describeResult(r));
      for (const thing of c.gone ?? []) {
        assert.ok(!(await exists(sb, thing)), `${thing} should not exist after: ${describeResult(r)}`);
        if (!thing.startsWith('net:')) assert.equal(sb.netnsInode(`${p}${thing}`), undefined, `namespace ${thing} is left`);
      }
      await c.then?.(sb, p, r);
    });
  }

  test('afterwards: the store and the kernel agree', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const check = await sb.nsnet(['system', 'check']);
    assert.equal(check.code, 0, describeResult(check));
  });
});
