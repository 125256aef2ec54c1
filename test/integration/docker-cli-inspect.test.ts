/**
 * Issue 17 item 5: inspect shows what the user set, where Docker shows it — on the real command
 * line, in a sandbox. A static --ip (run and network connect) is Networks.X.IPAMConfig, an
 * allocated one null; --network-alias is Networks.X.Aliases; -p is HostConfig.PortBindings (as
 * given) and NetworkSettings.Ports (as bound); --dns/--dns-search/--add-host are HostConfig's; the
 * top-level address fields describe the default network only. The key sets themselves are compared
 * with Docker's schema in test/unit/inspect-shape.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

type View = Record<string, any>;

requiredSuite('inspect carries what the user set (issue 17 item 5)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let p = '';
  const inspect = async (args: string[]): Promise<View> => {
    const [v] = JSON.parse(ok(await sb!.nsnet(args)).stdout) as View[];
    assert.ok(v, `${args.join(' ')} printed one object`);
    return v;
  };

  before(async () => {
    sb = await createSandbox('in');
    p = sb.prefix;
    ok(await sb.nsnet(['network', 'create', `${p}n`, '--subnet', '10.131.0.0/24', '--label', 'room=1']));
    ok(
      await sb.nsnet([
        'run', '-d', '--name', `${p}s`, '--network', `${p}n`, '--ip', '10.131.0.9', '--network-alias', `${p}alias`,
        '-p', '8080:80', '-p', '127.0.0.1:5353:53/udp', '-p', '7070', '--dns', '192.0.2.53', '--dns-search', 'example.org', '--add-host', 'gw:10.131.0.1',
        '-e', 'A=1', '--', 'sleep', '1000',
      ]),
    );
    ok(await sb.nsnet(['run', '-d', '--name', `${p}d`, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['network', 'connect', '--ip', '10.131.0.20', `${p}n`, `${p}d`]));
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('static --ip → IPAMConfig, --network-alias → Aliases, on a user network; top-level fields empty off the default network', async () => {
    const v = await inspect(['inspect', `${p}s`]);
    const net = v['NetworkSettings'].Networks[`${p}n`];
    assert.deepEqual(net.IPAMConfig, { IPv4Address: '10.131.0.9' });
    assert.equal(net.IPAddress, '10.131.0.9');
    assert.deepEqual(net.Aliases, [`${p}alias`, String(v['Id']).slice(0, 12)]);
    assert.deepEqual([net.Links, net.DriverOpts], [null, null]);
    const ns = v['NetworkSettings'];
    assert.deepEqual([ns.IPAddress, ns.Gateway, ns.IPPrefixLen, ns.MacAddress, ns.EndpointID], ['', '', 0, '', '']);
    assert.equal(ns.SandboxKey, `/run/netns/${p}s`);
  });

  test('--network-alias is the first --network\'s only, as Docker\'s CLI gives it; it resolves there and not on the second', async () => {
    const box = sb!;
    ok(await box.nsnet(['run', '-d', '--name', `${p}two`, '--network', `${p}n`, '--network', 'bridge', '--network-alias', `${p}first`, '--', 'sleep', '1000']));
    try {
      const nets = (await inspect(['inspect', `${p}two`]))['NetworkSettings'].Networks;
      assert.ok(nets[`${p}n`].Aliases.includes(`${p}first`), JSON.stringify(nets[`${p}n`].Aliases));
      assert.ok(!(nets['bridge'].Aliases ?? []).includes(`${p}first`), JSON.stringify(nets['bridge'].Aliases));
      // s is on n: it resolves the alias. A container on the bridge only resolves the name, not the alias.
      ok(await box.nsnet(['exec', `${p}s`, 'getent', 'hosts', `${p}first`]));
      ok(await box.nsnet(['run', '--rm', '--', 'getent', 'hosts', `${p}two`]));
      const other = await box.nsnet(['run', '--rm', '--', 'getent', 'hosts', `${p}first`]);
      assert.equal(other.code, 2, `on the bridge only, the alias must not resolve: ${other.stdout}${other.stderr}`);
    } finally {
      await box.nsnet(['rm', '-f', `${p}two`]);
    }
  });

  test('-p → PortBindings as given and Ports as bound, ExposedPorts; --dns, --dns-search, --add-host → HostConfig', async () => {
    const v = await inspect(['inspect', `${p}s`]);
    const h = v['HostConfig'];
    assert.deepEqual(h.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '7070/tcp': [{ HostIp: '', HostPort: '' }],
    });
    const bound = v['NetworkSettings'].Ports;
    assert.match(bound['7070/tcp'][0].HostPort, /^\d+$/, 'nsnet chose a host port for -p 7070');
    assert.deepEqual(bound, {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '7070/tcp': [{ HostIp: '0.0.0.0', HostPort: bound['7070/tcp'][0].HostPort }],
    });
    assert.deepEqual(v['Config'].ExposedPorts, { '80/tcp': {}, '53/udp': {}, '7070/tcp': {} });
    assert.deepEqual([h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts], [['192.0.2.53'], ['example.org'], [], ['gw:10.131.0.1']]);
    assert.deepEqual([h.NetworkMode, h.PublishAllPorts, h.RestartPolicy], [`${p}n`, false, { Name: 'no', MaximumRetryCount: 0 }]);
    assert.deepEqual([v['Config'].Hostname, v['Config'].Env, v['Config'].Cmd], [`${p}s`, ['A=1'], ['sleep', '1000']]);
  });

  test('on the default network: top-level fields are its endpoint; an allocated address has no IPAMConfig, a connect --ip has one', async () => {
    const v = await inspect(['inspect', `${p}d`]);
    const ns = v['NetworkSettings'];
    const bridge = ns.Networks.bridge;
    assert.ok(bridge, `Networks.bridge: ${JSON.stringify(ns.Networks)}`);
    assert.equal(bridge.IPAMConfig, null);
    assert.deepEqual([ns.IPAddress, ns.Gateway, ns.IPPrefixLen, ns.MacAddress, ns.EndpointID], [bridge.IPAddress, bridge.Gateway, bridge.IPPrefixLen, bridge.MacAddress, bridge.EndpointID]);
    assert.match(ns.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(ns.Networks[`${p}n`].IPAMConfig, { IPv4Address: '10.131.0.20' });
    const h = v['HostConfig'];
    assert.deepEqual([h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts, h.PortBindings, h.NetworkMode], [[], [], [], null, {}, 'bridge']);
  });

  test("network inspect: Docker's keys, the containers with their addresses", async () => {
    const v = await inspect(['network', 'inspect', `${p}n`]);
    assert.deepEqual(Object.keys(v).sort(), [
      'Attachable', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Created', 'Driver', 'EnableIPv6', 'IPAM', 'Id', 'Ingress', 'Internal', 'Labels', 'Name', 'Options', 'Scope',
    ]);
    assert.deepEqual(v['IPAM'], { Driver: 'default', Options: {}, Config: [{ Subnet: '10.131.0.0/24', Gateway: '10.131.0.1' }] });
    assert.deepEqual([v['Driver'], v['Scope'], v['Labels']], ['bridge', 'local', { room: '1' }]);
    const addresses = Object.values(v['Containers'] as Record<string, { Name: string; IPv4Address: string }>).map((c) => `${c.Name}=${c.IPv4Address}`).sort();
    assert.deepEqual(addresses, [`${p}d=10.131.0.20/24`, `${p}s=10.131.0.9/24`]);
  });
});
