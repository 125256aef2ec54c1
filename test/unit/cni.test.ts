/** The pure parts of nsnet-cni: environment and configuration parsing, result shapes, the service's wire format. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs, parseEnv, parseNetConf, portSpecs, requestedIps, requestedMac } from '../../src/cni/config.js';
import { CniError, ErrorCodes, mergeResults, normalizeResult, resultForVersion, type CniResult } from '../../src/cni/spec.js';
import { encodeRequest, parseRequest } from '../../src/ops/cni-service.js';
import { renderStep } from '../../src/plan/render.js';

const ADD_ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const BASE = { cniVersion: '1.0.0', name: 'labnet', type: 'nsnet-cni' };

function cniCode(fn: () => unknown, code: number, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

test('parseEnv: each command needs what the spec says, and nothing more', () => {
  assert.equal(parseEnv(ADD_ENV).containerId, 'c0ffee');
  cniCode(() => parseEnv({}), ErrorCodes.INVALID_ENVIRONMENT, /CNI_COMMAND is not set/);
  cniCode(() => parseEnv({ CNI_COMMAND: 'FROB' }), ErrorCodes.INVALID_ENVIRONMENT, /unknown CNI_COMMAND "FROB"/);
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_NETNS: '' }), ErrorCodes.INVALID_ENVIRONMENT, /ADD needs CNI_NETNS/);
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_COMMAND: 'CHECK', CNI_CONTAINERID: undefined as unknown as string }), ErrorCodes.INVALID_ENVIRONMENT, /CHECK needs CNI_CONTAINERID/);
  // containerd's ctr sends DEL with an empty CNI_NETNS: fine.
  assert.equal(parseEnv({ ...ADD_ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, undefined);
  // GC and STATUS come with empty per-container variables (libcni sets them to "").
  assert.equal(parseEnv({ CNI_COMMAND: 'GC', CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '' }).command, 'GC');
  // libcni probes VERSION with "dummy" in the per-container variables.
  assert.equal(parseEnv({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: 'dummy', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy' }).command, 'VERSION');
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_NETNS: 'relative/path' }), ErrorCodes.INVALID_ENVIRONMENT, /absolute path/);
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_NETNS: '/run/netns/../../etc' }), ErrorCodes.INVALID_ENVIRONMENT);
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_CONTAINERID: 'a;b' }), ErrorCodes.INVALID_ENVIRONMENT, /invalid CNI_CONTAINERID "a;b"/);
  cniCode(() => parseEnv({ ...ADD_ENV, CNI_IFNAME: 'much-too-long-name0' }), ErrorCodes.INVALID_ENVIRONMENT, /CNI_IFNAME/);
});

test('CNI_ARGS: IP and MAC are read, unknown keys refused unless IgnoreUnknown', () => {
  assert.deepEqual(parseArgs('IP=10.1.0.5;MAC=02:00:00:00:00:05'), { IP: '10.1.0.5', MAC: '02:00:00:00:00:05' });
  assert.deepEqual(parseArgs('IgnoreUnknown=1;K8S_POD_NAME=web;FOO=bar').FOO, 'bar');
  cniCode(() => parseArgs('FOO=bar'), ErrorCodes.UNSUPPORTED_FIELD, /FOO/);
  cniCode(() => parseArgs('novalue'), ErrorCodes.INVALID_ENVIRONMENT, /"novalue"/);
  assert.deepEqual(parseArgs(''), {});
});

test('parseNetConf: nsnet fields with bridge-plugin names; ipam ranges; capabilities', () => {
  const conf = parseNetConf({
    ...BASE,
    bridge: 'labbr0',
    isGateway: true,
    ipMasq: false,
    mtu: 1400,
    isolation: 'container',
    antiSpoofing: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.50.0.0/24', gateway: '10.50.0.254' }]], routes: [{ dst: '0.0.0.0/0' }] },
    capabilities: { portMappings: true, ips: true, mac: true, aliases: true },
    runtimeConfig: {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'UDP', hostIP: '127.0.0.1' }],
      ips: ['10.50.0.7/24'],
      mac: '02:aa:bb:cc:dd:ee',
      aliases: { labnet: ['web', 'www'], other: ['x'] },
    },
  });
  assert.equal(conf.subnet, '10.50.0.0/24');
  assert.equal(conf.gateway, '10.50.0.254');
  assert.equal(conf.isolation, 'container');
  assert.deepEqual(conf.aliases, ['web', 'www']);
  assert.deepEqual(portSpecs(conf.portMappings), ['8080:80/tcp', '127.0.0.1:5353:53/udp']);
  assert.deepEqual(requestedIps(conf, {}), { ip: { ip: '10.50.0.7', prefixLen: 24 } });
  assert.equal(requestedMac(conf, { MAC: '02:00:00:00:00:01' }), '02:aa:bb:cc:dd:ee');
  // Podman passes --ip and --mac-address as CNI_ARGS.
  const plain = parseNetConf({ ...BASE, subnet: '10.50.0.0/24' });
  assert.deepEqual(requestedIps(plain, { IP: '10.50.0.9' }), { ip: { ip: '10.50.0.9' } });
  assert.equal(requestedMac(plain, { MAC: '02:00:00:00:00:01' }), '02:00:00:00:00:01');
  assert.deepEqual(requestedIps(plain, {}), {});
});

test('parseNetConf: every refusal names the bad value and what is allowed', () => {
  cniCode(() => parseNetConf({ ...BASE, cniVersion: '0.3.1' }), ErrorCodes.INCOMPATIBLE_VERSION, /0\.3\.1.*supports 0\.4\.0, 1\.0\.0, 1\.1\.0/);
  cniCode(() => parseNetConf({ name: 'x', type: 't' }), ErrorCodes.INVALID_CONFIG, /cniVersion is missing/);
  cniCode(() => parseNetConf({ ...BASE, name: '' }), ErrorCodes.INVALID_CONFIG, /name is missing/);
  cniCode(() => parseNetConf({ ...BASE, hairpinMode: true }), ErrorCodes.UNSUPPORTED_FIELD, /hairpinMode/);
  cniCode(() => parseNetConf({ ...BASE, subnet: '10.0.0.0/33' }), ErrorCodes.INVALID_CONFIG, /10\.0\.0\.0\/33/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { type: 'dhcp' } }), ErrorCodes.UNSUPPORTED_FIELD, /ipam\.type "dhcp"/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.2.0.0/24' }]] } }), ErrorCodes.UNSUPPORTED_FIELD, /ipam\.ranges\[0\] has 2 ranges/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10' }]] } }), ErrorCodes.UNSUPPORTED_FIELD, /rangeStart/);
  cniCode(() => parseNetConf({ ...BASE, subnet: '10.1.0.0/24', ipam: { subnet: '10.2.0.0/24' } }), ErrorCodes.INVALID_CONFIG, /given twice/);
  cniCode(() => parseNetConf({ ...BASE, isolation: 'strict' }), ErrorCodes.INVALID_CONFIG, /isolation "strict".*"network".*"container"/);
  cniCode(() => parseNetConf({ ...BASE, ipMasq: 'yes' }), ErrorCodes.INVALID_CONFIG, /ipMasq must be true or false/);
  cniCode(() => parseNetConf({ ...BASE, mtu: 20 }), ErrorCodes.INVALID_CONFIG, /MTU "20"/);
  cniCode(() => parseNetConf({ ...BASE, runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }), ErrorCodes.INVALID_CONFIG, /hostPort must be a port number/);
  cniCode(() => parseNetConf({ ...BASE, runtimeConfig: { mac: 'zz' } }), ErrorCodes.INVALID_CONFIG, /zz/);
});

const DUAL = { ...BASE, ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }], [{ subnet: 'fd00:88:0:0::/64' }]] } };

test('ipam.ranges: one IPv4 and one IPv6 range set (dual stack), or IPv6 alone; the old single subnet still works', () => {
  const dual = parseNetConf(DUAL);
  assert.deepEqual([dual.subnet, dual.gateway, dual.subnet6, dual.gateway6], ['10.88.0.0/16', '10.88.0.1', 'fd00:88::/64', undefined], 'IPv6 in canonical text');
  const only6 = parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'FD00:66::/64', gateway: 'fd00:66::fe' }]] } });
  assert.deepEqual([only6.subnet, only6.subnet6, only6.gateway6], [undefined, 'fd00:66::/64', 'fd00:66::fe']);
  // What podman network create --ipv6 writes for the bridge plugin's host-local IPAM.
  const podman = parseNetConf({
    ...BASE,
    cniVersion: '0.4.0',
    ipam: {
      type: 'host-local',
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
      ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }], [{ subnet: 'fd3c:a5f7:1b2e:8c1d::/64', gateway: 'fd3c:a5f7:1b2e:8c1d::1' }]],
    },
  });
  assert.deepEqual([podman.subnet, podman.subnet6, podman.gateway6], ['10.89.0.0/24', 'fd3c:a5f7:1b2e:8c1d::/64', 'fd3c:a5f7:1b2e:8c1d::1']);
  // The top-level subnet and a range of the other family combine; of the same family, they must agree.
  const mixed = parseNetConf({ ...BASE, subnet: '10.88.0.0/16', ipam: { ranges: [[{ subnet: '10.88.0.0/16' }], [{ subnet: 'fd00:88::/64' }]] } });
  assert.deepEqual([mixed.subnet, mixed.subnet6], ['10.88.0.0/16', 'fd00:88::/64']);
  assert.equal(parseNetConf({ ...BASE, subnet: '10.50.0.0/24' }).subnet6, undefined);
});

test('ipam.ranges refusals: two ranges of one family, an IPv6 range without prefix, bad gateways, routes other than the defaults', () => {
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] } }), ErrorCodes.UNSUPPORTED_FIELD, /two IPv4 ranges \(10\.1\.0\.0\/24 and 10\.2\.0\.0\/24\)/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'fd00:1::/64' }], [{ subnet: 'fd00:2::/64' }]] } }), ErrorCodes.UNSUPPORTED_FIELD, /two IPv6 ranges/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'fd00:88::' }]] } }), ErrorCodes.INVALID_CONFIG, /invalid IPv6 subnet "fd00:88::": expected an IPv6 CIDR/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'fd00:88::/32' }]] } }), ErrorCodes.INVALID_CONFIG, /prefix \/32 is outside \/48\.\.\/120/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'fd00:88::/64', gateway: 'fd00:99::1' }]] } }), ErrorCodes.INVALID_CONFIG, /IPv6 gateway "fd00:99::1": not inside subnet fd00:88::\/64/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: 'fd00:88::/64', gateway: '10.0.0.1' }]] } }), ErrorCodes.INVALID_CONFIG, /gateway 10\.0\.0\.1 is IPv4 but .*subnet fd00:88::\/64 is IPv6/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ subnet: '10.1.0.0/24', gateway: '10.2.0.1' }]] } }), ErrorCodes.INVALID_CONFIG, /gateway "10\.2\.0\.1": not inside subnet 10\.1\.0\.0\/24/);
  cniCode(() => parseNetConf({ ...BASE, ipam: { ranges: [[{ gateway: '10.2.0.1' }]] } }), ErrorCodes.INVALID_CONFIG, /ipam\.ranges\[0\]\[0\]\.subnet is missing/);
  cniCode(() => parseNetConf({ ...BASE, subnet: 'fd00:1::/64', ipam: { ranges: [[{ subnet: 'fd00:2::/64' }]] } }), ErrorCodes.INVALID_CONFIG, /IPv6 subnet is given twice/);
  cniCode(() => parseNetConf({ ...DUAL, ipam: { ...DUAL.ipam, routes: [{ dst: '::/0' }, { dst: 'fd00:99::/64' }] } }), ErrorCodes.UNSUPPORTED_FIELD, /ipam\.routes/);
});

test('requested addresses: one per family from ips and IP=, IPv6 canonical; two of one family refused', () => {
  const dual = parseNetConf({ ...DUAL, runtimeConfig: { ips: ['10.88.0.7/16', 'FD00:88::7/64'] } });
  assert.deepEqual(requestedIps(dual, {}), { ip: { ip: '10.88.0.7', prefixLen: 16 }, ip6: { ip: 'fd00:88::7', prefixLen: 64 } });
  // Podman: --ip and --ip6 in IP=, the same addresses in the ips capability too.
  assert.deepEqual(requestedIps(dual, { IP: '10.88.0.7,fd00:88::7' }), { ip: { ip: '10.88.0.7', prefixLen: 16 }, ip6: { ip: 'fd00:88::7', prefixLen: 64 } });
  const plain = parseNetConf(DUAL);
  assert.deepEqual(requestedIps(plain, { IP: 'fd00:88::9' }), { ip6: { ip: 'fd00:88::9' } });
  cniCode(() => requestedIps(plain, { IP: 'fd00:88::9,fd00:88::10' }), ErrorCodes.INVALID_CONFIG, /two IPv6 addresses requested \(fd00:88::9 and fd00:88::10\)/);
  cniCode(() => requestedIps(plain, { IP: 'fd00:88::9/129' }), ErrorCodes.INVALID_CONFIG, /prefix length must be 0-128/);
  cniCode(() => requestedIps(plain, { IP: 'fd00:88::zz' }), ErrorCodes.INVALID_CONFIG, /fd00:88::zz/);
});

test('portMappings: an IPv6 hostIP is kept (canonical) and written in brackets; none means every address of both families', () => {
  const conf = parseNetConf({
    ...DUAL,
    runtimeConfig: {
      portMappings: [
        { hostPort: 8080, containerPort: 80 },
        { hostPort: 8081, containerPort: 80, hostIP: '::' },
        { hostPort: 8082, containerPort: 80, hostIP: '0:0:0:0:0:0:0:1' },
        { hostPort: 8083, containerPort: 80, hostIP: '2001:db8:ffff::2', protocol: 'udp' },
        { hostPort: 8084, containerPort: 80, hostIP: '' },
      ],
    },
  });
  assert.deepEqual(portSpecs(conf.portMappings), ['8080:80/tcp', '[::]:8081:80/tcp', '[::1]:8082:80/tcp', '[2001:db8:ffff::2]:8083:80/udp', '8084:80/tcp']);
  cniCode(() => parseNetConf({ ...BASE, runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 1, hostIP: 'fe80::1%eth0' }] } }), ErrorCodes.INVALID_CONFIG, /hostIP/);
});

test('GC: valid attachments under either key libcni sends', () => {
  const list = [{ containerID: 'a', ifname: 'eth0' }];
  assert.deepEqual(parseNetConf({ ...BASE, cniVersion: '1.1.0', 'cni.dev/valid-attachments': list }).validAttachments, [{ containerId: 'a', ifName: 'eth0' }]);
  assert.deepEqual(parseNetConf({ ...BASE, cniVersion: '1.1.0', 'cni.dev/attachments': list }).validAttachments, [{ containerId: 'a', ifName: 'eth0' }]);
  cniCode(() => parseNetConf({ ...BASE, 'cni.dev/valid-attachments': [{ ifname: 'eth0' }] }), ErrorCodes.INVALID_CONFIG, /needs containerID and ifname/);
});

const OURS: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'br0', mac: '02:00:00:00:00:01' }, { name: 'nsv0' }, { name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: '/run/netns/x' }],
  ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
};

const DUAL_RESULT: CniResult = {
  ...OURS,
  ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 }, { address: 'fd00:88::2/64', gateway: 'fd00:88::1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0', gw: 'fd00:88::1' }],
};

test('results of a dual-stack attachment: 1.x lists both addresses as they are, 0.4.0 marks each with its version, and reads back', () => {
  for (const v of ['1.0.0', '1.1.0'] as const) {
    assert.deepEqual(resultForVersion(DUAL_RESULT, v)['ips'], DUAL_RESULT.ips);
    assert.deepEqual(resultForVersion(DUAL_RESULT, v)['routes'], DUAL_RESULT.routes);
  }
  const old = resultForVersion(DUAL_RESULT, '0.4.0');
  assert.deepEqual(old['ips'], [
    { version: '4', address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 },
    { version: '6', address: 'fd00:88::2/64', gateway: 'fd00:88::1', interface: 2 },
  ]);
  assert.deepEqual(normalizeResult(old), { ...DUAL_RESULT, cniVersion: '0.4.0' });
});

test('results: written in the configured version; 0.4.0 marks IP versions', () => {
  assert.equal(resultForVersion(OURS, '1.0.0')['cniVersion'], '1.0.0');
  assert.deepEqual(resultForVersion(OURS, '1.0.0')['ips'], OURS.ips);
  assert.deepEqual(resultForVersion(OURS, '0.4.0')['ips'], [{ version: '4', address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 }]);
  // A 0.4.0 prevResult reads back in the current shape.
  assert.deepEqual(normalizeResult(resultForVersion(OURS, '0.4.0')).ips, OURS.ips);
  cniCode(() => normalizeResult('nope'), ErrorCodes.DECODE_FAILURE);
});

test('chaining: our interfaces are appended and our addresses point at their new index', () => {
  const prev: CniResult = { cniVersion: '1.0.0', interfaces: [{ name: 'lo' }], ips: [{ address: '127.0.0.1/8', interface: 0 }], dns: { nameservers: ['10.9.9.9'] } };
  const merged = mergeResults(prev, OURS);
  assert.equal(merged.interfaces?.length, 4);
  assert.deepEqual(merged.ips?.[1], { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 3 });
  assert.deepEqual(merged.dns, { nameservers: ['10.9.9.9'] });
  assert.equal(mergeResults(undefined, OURS), OURS);
});

test('service wire format: what the client sends is what the service reads', () => {
  const call = { env: { CNI_COMMAND: 'ADD', CNI_NETNS: '/run/netns/a b', HOME: '/root' }, stdin: '{"cniVersion":"1.0.0"}\n', caller: 'podman' };
  const back = parseRequest(encodeRequest(call));
  assert.deepEqual(back, { env: { CNI_COMMAND: 'ADD', CNI_NETNS: '/run/netns/a b' }, stdin: call.stdin, caller: 'podman' });
  // A truncated request has no body: the plugin answers it as a decode error.
  assert.equal(parseRequest(Buffer.from('CNI_COMMAND=ADD')).stdin, '');
});

test('dry-run: steps in a runtime namespace (given by path) render as nsenter commands', () => {
  const ns = '/run/netns/cni-1234';
  assert.equal(renderStep({ kind: 'link-up', ns, dev: 'eth0' }), 'nsenter --net=/run/netns/cni-1234 ip link set eth0 up');
  assert.equal(
    renderStep({ kind: 'veth-add', hostIf: 'nsv1', master: 'br0', peerNs: ns, peerIf: 'eth0', peerMac: '02:42:0a:00:00:02', mtu: 1400 }),
    'nsenter --net=/run/netns/cni-1234 ip link add eth0 address 02:42:0a:00:00:02 mtu 1400 type veth peer name nsv1 mtu 1400 netns $$\nip link set nsv1 master br0 up',
  );
  assert.equal(renderStep({ kind: 'addr-add', ns: "/proc/1/ns/net's", dev: 'eth0', address: '10.0.0.2', prefixLen: 24 }).startsWith("nsenter --net='/proc/1/ns/net'\\''s' ip"), true);
});

test('the example conflists in examples/ are valid nsnet-cni configurations (IPv4, and dual stack)', () => {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const read = (file: string) => JSON.parse(fs.readFileSync(path.join(repo, 'examples', file), 'utf8')) as { cniVersion: string; name: string; plugins: object[] };
  const list = read('nsnet-podman.conflist');
  for (const plugin of list.plugins) assert.equal(parseNetConf({ cniVersion: list.cniVersion, name: list.name, ...plugin }).name, 'lab');
  const dual = read('nsnet-dual-stack.conflist');
  const [first] = dual.plugins.map((plugin) => parseNetConf({ cniVersion: dual.cniVersion, name: dual.name, ...plugin }));
  assert.deepEqual([first?.subnet, first?.subnet6], ['10.89.0.0/24', 'fd00:89::/64']);
});
