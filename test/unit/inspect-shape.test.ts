/**
 * Golden comparison of inspect's and network inspect's key sets with Docker's documented structures
 * (Engine API 1.41, moby v20.10 api/swagger.yaml: the 200 response of GET /containers/{id}/json and
 * definitions/Network). Every key path nsnet prints must be one of Docker's or one of nsnet's listed
 * additions; every key of Docker's must be printed, or be in the commented list of keys nsnet
 * deliberately lacks. Map keys chosen by the user (network names, container ids) are "*"; the
 * inside of free-form maps (Ports, Labels, Options...) is data, not shape. Below a lacked key
 * nothing is compared (its own children, array elements included, are left out of the list).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerView, networkView } from '../../src/engine/inspect.js';
import type { PortMapping } from '../../src/engine/ports.js';
import type { ContainerRecord, DnsConfig, EndpointRecord, NetworkRecord } from '../../src/store/index.js';
import { createNetwork } from '../../src/ops/networks.js';
import { run } from '../../src/ops/containers.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';

/** Docker's ContainerInspect response, 1.41 (array element keys of lacked arrays left out). */
const DOCKER_CONTAINER_KEYS = [
  'Id', 'Created', 'Path', 'Args', 'State', 'State.Status', 'State.Running', 'State.Paused', 'State.Restarting',
  'State.OOMKilled', 'State.Dead', 'State.Pid', 'State.ExitCode', 'State.Error', 'State.StartedAt',
  'State.FinishedAt', 'State.Health', 'State.Health.Status', 'State.Health.FailingStreak', 'State.Health.Log',
  'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath', 'Name', 'RestartCount', 'Driver', 'Platform',
  'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'ExecIDs', 'HostConfig', 'HostConfig.CpuShares',
  'HostConfig.Memory', 'HostConfig.CgroupParent', 'HostConfig.BlkioWeight', 'HostConfig.BlkioWeightDevice',
  'HostConfig.BlkioDeviceReadBps', 'HostConfig.BlkioDeviceWriteBps', 'HostConfig.BlkioDeviceReadIOps',
  'HostConfig.BlkioDeviceWriteIOps', 'HostConfig.CpuPeriod', 'HostConfig.CpuQuota', 'HostConfig.CpuRealtimePeriod',
  'HostConfig.CpuRealtimeRuntime', 'HostConfig.CpusetCpus', 'HostConfig.CpusetMems', 'HostConfig.Devices',
  'HostConfig.DeviceCgroupRules', 'HostConfig.DeviceRequests', 'HostConfig.KernelMemory',
  'HostConfig.KernelMemoryTCP', 'HostConfig.MemoryReservation', 'HostConfig.MemorySwap',
  'HostConfig.MemorySwappiness', 'HostConfig.NanoCpus', 'HostConfig.OomKillDisable', 'HostConfig.Init',
  'HostConfig.PidsLimit', 'HostConfig.Ulimits', 'HostConfig.CpuCount', 'HostConfig.CpuPercent',
  'HostConfig.IOMaximumIOps', 'HostConfig.IOMaximumBandwidth', 'HostConfig.Binds', 'HostConfig.ContainerIDFile',
  'HostConfig.LogConfig', 'HostConfig.LogConfig.Type', 'HostConfig.LogConfig.Config', 'HostConfig.NetworkMode',
  'HostConfig.PortBindings', 'HostConfig.RestartPolicy', 'HostConfig.RestartPolicy.Name',
  'HostConfig.RestartPolicy.MaximumRetryCount', 'HostConfig.AutoRemove', 'HostConfig.VolumeDriver',
  'HostConfig.VolumesFrom', 'HostConfig.Mounts', 'HostConfig.CapAdd', 'HostConfig.CapDrop',
  'HostConfig.CgroupnsMode', 'HostConfig.Dns', 'HostConfig.DnsOptions', 'HostConfig.DnsSearch',
  'HostConfig.ExtraHosts', 'HostConfig.GroupAdd', 'HostConfig.IpcMode', 'HostConfig.Cgroup', 'HostConfig.Links',
  'HostConfig.OomScoreAdj', 'HostConfig.PidMode', 'HostConfig.Privileged', 'HostConfig.PublishAllPorts',
  'HostConfig.ReadonlyRootfs', 'HostConfig.SecurityOpt', 'HostConfig.StorageOpt', 'HostConfig.Tmpfs',
  'HostConfig.UTSMode', 'HostConfig.UsernsMode', 'HostConfig.ShmSize', 'HostConfig.Sysctls', 'HostConfig.Runtime',
  'HostConfig.ConsoleSize', 'HostConfig.Isolation', 'HostConfig.MaskedPaths', 'HostConfig.ReadonlyPaths',
  'GraphDriver', 'GraphDriver.Name', 'GraphDriver.Data', 'SizeRw', 'SizeRootFs', 'Mounts', 'Config',
  'Config.Hostname', 'Config.Domainname', 'Config.User', 'Config.AttachStdin', 'Config.AttachStdout',
  'Config.AttachStderr', 'Config.ExposedPorts', 'Config.Tty', 'Config.OpenStdin', 'Config.StdinOnce', 'Config.Env',
  'Config.Cmd', 'Config.Healthcheck', 'Config.Healthcheck.Test', 'Config.Healthcheck.Interval',
  'Config.Healthcheck.Timeout', 'Config.Healthcheck.Retries', 'Config.Healthcheck.StartPeriod', 'Config.ArgsEscaped',
  'Config.Image', 'Config.Volumes', 'Config.WorkingDir', 'Config.Entrypoint', 'Config.NetworkDisabled',
  'Config.MacAddress', 'Config.OnBuild', 'Config.Labels', 'Config.StopSignal', 'Config.StopTimeout', 'Config.Shell',
  'NetworkSettings', 'NetworkSettings.Bridge', 'NetworkSettings.SandboxID', 'NetworkSettings.HairpinMode',
  'NetworkSettings.LinkLocalIPv6Address', 'NetworkSettings.LinkLocalIPv6PrefixLen', 'NetworkSettings.Ports',
  'NetworkSettings.SandboxKey', 'NetworkSettings.SecondaryIPAddresses', 'NetworkSettings.SecondaryIPv6Addresses',
  'NetworkSettings.EndpointID', 'NetworkSettings.Gateway', 'NetworkSettings.GlobalIPv6Address',
  'NetworkSettings.GlobalIPv6PrefixLen', 'NetworkSettings.IPAddress', 'NetworkSettings.IPPrefixLen',
  'NetworkSettings.IPv6Gateway', 'NetworkSettings.MacAddress', 'NetworkSettings.Networks',
  'NetworkSettings.Networks.*.IPAMConfig', 'NetworkSettings.Networks.*.IPAMConfig.IPv4Address',
  'NetworkSettings.Networks.*.IPAMConfig.IPv6Address', 'NetworkSettings.Networks.*.IPAMConfig.LinkLocalIPs',
  'NetworkSettings.Networks.*.Links', 'NetworkSettings.Networks.*.Aliases', 'NetworkSettings.Networks.*.NetworkID',
  'NetworkSettings.Networks.*.EndpointID', 'NetworkSettings.Networks.*.Gateway',
  'NetworkSettings.Networks.*.IPAddress', 'NetworkSettings.Networks.*.IPPrefixLen',
  'NetworkSettings.Networks.*.IPv6Gateway', 'NetworkSettings.Networks.*.GlobalIPv6Address',
  'NetworkSettings.Networks.*.GlobalIPv6PrefixLen', 'NetworkSettings.Networks.*.MacAddress',
  'NetworkSettings.Networks.*.DriverOpts',];

/** Docker's Network, 1.41; ConfigFrom and ConfigOnly are in its Go struct (types.NetworkResource), not the swagger. */
const DOCKER_NETWORK_KEYS = [
  'Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'IPAM.Driver', 'IPAM.Config', 'IPAM.Options',
  'Internal', 'Attachable', 'Ingress', 'Containers', 'Containers.*.Name', 'Containers.*.EndpointID',
  'Containers.*.MacAddress', 'Containers.*.IPv4Address', 'Containers.*.IPv6Address', 'Options', 'Labels',  'ConfigFrom', 'ConfigFrom.Network', 'ConfigOnly',
];

/** Keys of Docker's nsnet deliberately lacks, and why. A key here takes its whole subtree with it. */
const CONTAINER_LACKS: Record<string, string> = {
  // No health checks.
  'State.Health': 'nsnet runs no health checks',
  'Config.Healthcheck': 'nsnet runs no health checks',
  // No images, storage drivers, volumes or mounts: a container runs the host's programs or a --rootfs chroot.
  ResolvConfPath: 'no per-container file layer (resolv.conf is /etc/netns/NAME/resolv.conf, bind-mounted by ip netns exec)',
  HostnamePath: 'no per-container file layer; the hostname is set with hostname(1) in a UTS namespace',
  HostsPath: 'no per-container file layer (hosts is /etc/netns/NAME/hosts)',
  Driver: 'no storage driver',
  GraphDriver: 'only a container from an image has one (overlay2, see test/unit/ops-create.test.ts)',
  SizeRw: 'no storage driver (Docker prints it only with --size too)',
  SizeRootFs: 'no storage driver (Docker prints it only with --size too)',
  Mounts: 'no volumes or mounts',
  'HostConfig.Binds': 'no volumes or mounts',
  'HostConfig.Mounts': 'no volumes or mounts',
  'HostConfig.VolumeDriver': 'no volumes or mounts',
  'HostConfig.VolumesFrom': 'no volumes or mounts',
  'HostConfig.Tmpfs': 'no volumes or mounts',
  'HostConfig.ReadonlyRootfs': 'no storage layer to make read-only',
  'HostConfig.StorageOpt': 'no storage driver',
  'Config.ArgsEscaped': 'Windows only',
  'Config.NetworkDisabled': 'not a run flag; --network none is item 2 of issue 17',
  'Config.MacAddress': 'the MAC is per endpoint (Networks.X.MacAddress)',
  'Config.StopSignal': 'stop sends SIGTERM, then SIGKILL, always',
  'Config.StopTimeout': 'stop -t is per call, not stored',
  'Config.Shell': 'Dockerfile only',
  // Security labels and profiles nsnet does not apply.
  MountLabel: 'no SELinux labels',
  ProcessLabel: 'no SELinux labels',
  AppArmorProfile: 'no AppArmor profile',
  'HostConfig.SecurityOpt': 'no seccomp/AppArmor/SELinux options',
  'HostConfig.MaskedPaths': 'no masked /proc paths (no mount namespace of its own without --rootfs)',
  'HostConfig.ReadonlyPaths': 'no read-only /proc paths',
  ExecIDs: 'exec sessions are not recorded',
  // No cgroups: no resource limits of any kind (the Resources part of HostConfig).
  ...Object.fromEntries(
    [
      'CpuShares', 'Memory', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps',
      'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime',
      'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests', 'KernelMemory', 'KernelMemoryTCP',
      'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'NanoCpus', 'OomKillDisable', 'Init', 'PidsLimit', 'Ulimits',
      'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth', 'CgroupnsMode', 'Cgroup', 'OomScoreAdj', 'ShmSize',
    ].map((k) => [`HostConfig.${k}`, 'no cgroups or resource limits']),
  ),
  'HostConfig.ContainerIDFile': 'no --cidfile',
  'HostConfig.LogConfig': 'one log driver: a file (LogPath)',
  'HostConfig.GroupAdd': 'no --group-add',
  'HostConfig.IpcMode': 'always a new IPC namespace, no --ipc',
  'HostConfig.PidMode': 'no --pid (the host\'s PID namespace is shared)',
  'HostConfig.UTSMode': 'always a new UTS namespace, no --uts',
  'HostConfig.UsernsMode': 'no user namespaces',
  'HostConfig.Runtime': 'no OCI runtime (CNI containers name theirs in Runtime)',
  'HostConfig.ConsoleSize': 'no TTY',
  'HostConfig.Isolation': 'Windows only',
  // Networks' IPv6 and link-local parts: IPv4 only (issue 15 is IPv6).
  'NetworkSettings.Networks.*.IPAMConfig.IPv6Address': 'IPv4 only; Docker leaves it out when unset (omitempty)',
  'NetworkSettings.Networks.*.IPAMConfig.LinkLocalIPs': 'none; Docker leaves it out when unset (omitempty)',
};

/** nsnet's own keys, beyond Docker's. */
const CONTAINER_EXTRAS: Record<string, string> = {
  'Config.Rootfs': 'the --rootfs directory a container is chrooted into',
  'NetworkSettings.Networks.*.InterfaceName': 'the interface inside the container (eth0...)',
  'NetworkSettings.Networks.*.HostInterface': 'the host side of its veth',
  'NetworkSettings.Networks.*.Netem': "the interface's impairment (netem set), in tc's words; null for none",
  'NetworkSettings.Networks.*.LinkDown': 'the link held down (link down): its carrier off',
  'NetworkSettings.PointToPoint': 'its point-to-point links (nsnet link add), only when it has some',
  Runtime: 'a container a runtime attached through CNI: which runtime, its container id',
  'Runtime.Kind': 'see Runtime',
  'Runtime.Name': 'see Runtime',
  'Runtime.ContainerID': 'see Runtime',
};

const NETWORK_LACKS: Record<string, string> = {};

/** Free-form maps (their keys are data) and maps keyed by a name or id ("*"). */
const DATA_MAPS = new Set([
  'NetworkSettings.Ports', 'HostConfig.PortBindings', 'HostConfig.Sysctls', 'Config.ExposedPorts', 'Config.Labels', 'Config.Volumes',
  'NetworkSettings.Networks.*.DriverOpts', 'IPAM.Options', 'IPAM.Config', 'Options', 'Labels',
]);
const NAMED_MAPS = new Set(['NetworkSettings.Networks', 'Containers']);

function keyPaths(value: unknown, prefix = '', out: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || DATA_MAPS.has(prefix)) return out;
  for (const [k, v] of Object.entries(value)) {
    const p = prefix === '' ? k : `${prefix}.${NAMED_MAPS.has(prefix) ? '*' : k}`;
    // Docker's schema names a map's values by their parent ("Networks"), not by an entry.
    if (!out.includes(p) && !NAMED_MAPS.has(prefix)) out.push(p);
    keyPaths(v, p, out);
  }
  return out;
}

const under = (key: string, parents: Iterable<string>): boolean => [...parents].some((p) => key === p || key.startsWith(`${p}.`));

function compare(printed: string[], docker: string[], lacks: Record<string, string>, extras: Record<string, string>): void {
  const unknown = printed.filter((k) => !docker.includes(k) && !(k in extras));
  assert.deepEqual(unknown, [], 'keys Docker does not have (add them to the extras, with a reason, or remove them)');
  const missing = docker.filter((k) => !printed.includes(k) && !under(k, Object.keys(lacks)));
  assert.deepEqual(missing, [], 'keys of Docker\'s nsnet does not print and does not list as lacking');
  const stale = Object.keys(lacks).filter((k) => printed.includes(k));
  assert.deepEqual(stale, [], 'keys listed as lacking that nsnet now prints');
  assert.deepEqual(Object.keys(extras).filter((k) => !printed.includes(k)), [], 'extras nsnet no longer prints');
}

const T = '2026-01-01T00:00:00.000Z';
const network = (over: Partial<NetworkRecord>): NetworkRecord => ({
  id: 'n'.repeat(64), name: 'bridge', bridge: 'nsnet0', subnet: '172.17.0.0/16', gateway: '172.17.0.1', ipRange: null, internal: false,
  mtu: null, options: {}, labels: {}, isDefault: true, created: T, ipamCursor: null, ...over,
});
const bridge = network({});
const study = network({ id: 's'.repeat(64), name: 'study', bridge: 'nsbstudy', subnet: '10.0.0.0/24', gateway: '10.0.0.254', isDefault: false, ipRange: '10.0.0.0/25', auxAddresses: { router: '10.0.0.200' }, labels: { room: '1' } });
const web: ContainerRecord = {
  id: 'c'.repeat(64), name: 'web', hostname: 'web', command: ['sleep', '1000'], env: { A: '1' }, rootfs: '/srv/root', detached: true,
  status: 'running', pid: 42, pidStart: '1', exitCode: null, logPath: '/var/lib/nsnet/c/output.log', created: T, startedAt: T,
  finishedAt: null, netns: '/run/netns/web', cniContainerId: null, runtime: null, capAdd: ['CAP_NET_ADMIN'], capDrop: [], privileged: false,
  sysctls: { 'net.ipv4.ip_forward': '1' }, exposedPorts: ['53/udp'], publishAll: false,
};
const endpoint = (over: Partial<EndpointRecord>): EndpointRecord => ({
  id: 'e'.repeat(64), networkId: bridge.id, containerId: web.id, ifName: 'eth0', hostIf: 'nsveeeeeeeeeeee', ip: '172.17.0.2', ipInt: 0,
  mac: '02:42:ac:11:00:02', created: T, aliases: [], requestedIp: null, ...over,
});
const onBridge = endpoint({});
const onStudy = endpoint({ id: 'f'.repeat(64), networkId: study.id, ifName: 'eth1', hostIf: 'nsvffffffffffff', ip: '10.0.0.5', mac: '02:42:0a:00:00:05', aliases: ['db'], requestedIp: '10.0.0.5' });
const ports: PortMapping[] = [{ hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, proto: 'udp' }];
const dns: DnsConfig = { containerId: web.id, servers: ['192.0.2.53'], search: ['example.org'], options: ['ndots:2'], extraHosts: [['gw', '10.0.0.254']], aliases: ['www'] };
const live = { status: 'running' as const, pid: 42, exitCode: null };
const attached = [{ network: bridge, endpoint: onBridge }, { network: study, endpoint: onStudy }];

type View = Record<string, any>;

describe('inspect key sets against Docker\'s (Engine API 1.41)', () => {
  test('container: every key of Docker\'s printed or listed as lacking, nothing else but the listed additions', () => {
    // With a point-to-point link: NetworkSettings.PointToPoint is there only then.
    const pointToPoint = [{ InterfaceName: 'p0', Address: '10.0.99.0/31', PeerContainer: 'db', PeerInterface: 'p0', PeerAddress: '10.0.99.1/31' }];
    const plain = containerView(web, live, attached, ports, { dns, pointToPoint });
    const cni = containerView({ ...web, cniContainerId: 'r'.repeat(64), runtime: 'podman' }, live, attached, ports, { dns, pointToPoint });
    compare(keyPaths(plain), DOCKER_CONTAINER_KEYS, CONTAINER_LACKS, Object.fromEntries(Object.entries(CONTAINER_EXTRAS).filter(([k]) => !k.startsWith('Runtime'))));
    compare(keyPaths(cni), DOCKER_CONTAINER_KEYS, CONTAINER_LACKS, CONTAINER_EXTRAS);
  });

  test('container with --network host: the predefined network\'s entry has Docker\'s keys too', () => {
    const host = containerView({ ...web, networkMode: 'host', exposedPorts: [] }, live, [], [], { dns: { ...dns, aliases: [] } }) as View;
    const paths = keyPaths(host);
    const networkKeys = DOCKER_CONTAINER_KEYS.filter((k) => k.startsWith('NetworkSettings.Networks.*.') && !under(k, Object.keys(CONTAINER_LACKS)) && !k.includes('IPAMConfig.'));
    assert.deepEqual(paths.filter((k) => k.startsWith('NetworkSettings.Networks.*.')).sort(), networkKeys.sort());
    assert.equal(host['HostConfig'].NetworkMode, 'host');
  });

  test('network: every key of Docker\'s, and IPAM.Config entries with Docker\'s IPAMConfig keys', () => {
    const view = networkView(study, [{ container: web, endpoint: onStudy }]) as View;
    compare(keyPaths(view), DOCKER_NETWORK_KEYS, NETWORK_LACKS, {});
    assert.deepEqual(Object.keys(view['IPAM'].Config[0]).sort(), ['AuxiliaryAddresses', 'Gateway', 'IPRange', 'Subnet']);
    assert.deepEqual(networkView(bridge, []).IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] });
  });
});

describe('inspect values: what the user set, as Docker prints it', () => {
  const view = containerView(web, live, attached, ports, { dns }) as View;

  test('Networks: IPAMConfig only for a static address, aliases, no links or driver options', () => {
    const nets = view['NetworkSettings'].Networks;
    assert.deepEqual(nets.study.IPAMConfig, { IPv4Address: '10.0.0.5' });
    assert.equal(nets.bridge.IPAMConfig, null);
    assert.deepEqual(nets.study.Aliases, ['www', 'db', 'cccccccccccc']);
    assert.deepEqual(nets.bridge.Aliases, ['www', 'cccccccccccc']);
    const named = containerView({ ...web, hostname: 'box' }, live, [{ network: bridge, endpoint: onBridge }]) as View;
    assert.deepEqual(named['NetworkSettings'].Networks.bridge.Aliases, ['cccccccccccc', 'box'], 'the short id, then a --hostname other than the name');
    assert.deepEqual([nets.study.Links, nets.study.DriverOpts], [null, null]);
  });

  test('top-level NetworkSettings describe the default network, "" without one', () => {
    const ns = view['NetworkSettings'];
    assert.deepEqual([ns.IPAddress, ns.Gateway, ns.IPPrefixLen, ns.MacAddress, ns.EndpointID], ['172.17.0.2', '172.17.0.1', 16, '02:42:ac:11:00:02', onBridge.id]);
    assert.deepEqual([ns.SandboxKey, ns.SandboxID, ns.Bridge, ns.HairpinMode], ['/run/netns/web', '', '', true]);
    const vlan = containerView(web, live, [{ network: { ...study, driver: 'macvlan' }, endpoint: onStudy }]) as View;
    assert.equal(vlan['NetworkSettings'].HairpinMode, false, 'a macvlan link has no bridge port');
    assert.deepEqual(ns.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] });
    const off = containerView(web, live, [{ network: study, endpoint: onStudy }]) as View;
    const o = off['NetworkSettings'];
    assert.deepEqual([o.IPAddress, o.Gateway, o.IPPrefixLen, o.MacAddress, o.EndpointID], ['', '', 0, '', '']);
    assert.deepEqual(o.Ports, { '53/udp': null }, 'an exposed port nobody published: null, as Docker');
  });

  test('HostConfig and Config', () => {
    const h = view['HostConfig'];
    assert.deepEqual(h.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] });
    assert.deepEqual([h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts], [['192.0.2.53'], ['example.org'], ['ndots:2'], ['gw:10.0.0.254']]);
    assert.deepEqual([h.NetworkMode, h.PublishAllPorts, h.Privileged, h.CapAdd, h.CapDrop], ['bridge', false, false, ['CAP_NET_ADMIN'], null]);
    assert.deepEqual([h.RestartPolicy, h.Sysctls, h.Links], [{ Name: 'no', MaximumRetryCount: 0 }, { 'net.ipv4.ip_forward': '1' }, null]);
    const linked = containerView({ ...web, links: [{ name: 'db', alias: 'database' }], networkMode: 'host' }, live, []) as View;
    assert.deepEqual([linked['HostConfig'].Links, linked['HostConfig'].NetworkMode], [['/db:/web/database'], 'host']);
    const c = view['Config'];
    assert.deepEqual([c.Hostname, c.Env, c.Cmd, c.Image, c.Labels], ['web', ['A=1'], ['sleep', '1000'], '', {}]);
    assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    // Nothing given: Docker's empty values, and the omitempty keys left out.
    const given = containerView({ ...web, publishSpecs: ['80', '127.0.0.1::53/udp', '9000-9001:90-91'] }, live, attached, ports) as View;
    assert.deepEqual(given['HostConfig'].PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '90/tcp': [{ HostIp: '', HostPort: '9000' }],
      '91/tcp': [{ HostIp: '', HostPort: '9001' }],
    }, 'PortBindings as -p gave them; the bound ports are in NetworkSettings.Ports');
    const bare = containerView({ ...web, sysctls: {}, exposedPorts: [] }, live, []) as View;
    assert.deepEqual([bare['HostConfig'].Dns, bare['HostConfig'].DnsSearch, bare['HostConfig'].DnsOptions, bare['HostConfig'].ExtraHosts], [[], [], [], null]);
    assert.deepEqual(bare['HostConfig'].PortBindings, {});
    assert.equal('Sysctls' in bare['HostConfig'], false);
    assert.equal('ExposedPorts' in bare['Config'], false);
  });
});

describe('run and connect record whether an address was static', () => {
  test('--ip is kept as the endpoint\'s requestedIp; an allocated address is not', async () => {
    const fx = fixture();
    createNetwork(fx.ctx, { name: 'ut-shape', subnet: '10.77.0.0/24' });
    await run(fx.ctx, runInput({ name: 'ut-shape-static', networks: ['ut-shape'], ip: '10.77.0.9' }));
    await run(fx.ctx, runInput({ name: 'ut-shape-dynamic', networks: ['ut-shape'] }));
    const requested = (name: string) => fx.store.endpoints.forContainer(fx.store.containers.resolve(name).id)[0]!.requestedIp;
    assert.equal(requested('ut-shape-static'), '10.77.0.9');
    assert.equal(requested('ut-shape-dynamic'), null);
  });
});
