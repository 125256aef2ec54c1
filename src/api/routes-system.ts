/** /_ping, /version, /info: what clients ask first (the docker CLI negotiates its version from /_ping). */
import fs from 'node:fs';
import os from 'node:os';
import type { Context } from '../ops/context.js';
import { liveState } from '../ops/liveness.js';
import { API_VERSION, MIN_API_VERSION, type RouteTable } from './router.js';
import { writePing } from './server.js';

export const NSNET_VERSION = '0.1.0';
/** The engine version clients see: Docker's whose API nsnet speaks (clients compare it for features). */
export const ENGINE_VERSION = '20.10.24';

const ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
export const goArch = (): string => ARCH[process.arch] ?? process.arch;

export function versionView(): Record<string, unknown> {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Arch: goArch(), Os: 'linux', KernelVersion: os.release(), GitCommit: 'nsnet', GoVersion: `node${process.versions.node}` };
  return {
    Platform: { Name: `nsnet ${NSNET_VERSION} (Docker Engine API ${API_VERSION})` },
    Components: [
      { Name: 'Engine', Version: ENGINE_VERSION, Details: { ...details, Experimental: 'false', BuildTime: '' } },
      { Name: 'nsnet', Version: NSNET_VERSION, Details: {} },
    ],
    Version: ENGINE_VERSION,
    ...details,
    BuildTime: '',
  };
}

function counts(ctx: Context): { all: number; running: number; stopped: number } {
  let running = 0;
  const list = ctx.store.containers.list();
  for (const c of list) if (liveState(ctx.host, c).status === 'running') running++;
  return { all: list.length, running, stopped: list.length - running };
}

/** /etc/os-release's PRETTY_NAME, as docker info shows it. */
function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function infoView(ctx: Context, images: number): Record<string, unknown> {
  const c = counts(ctx);
  return {
    ID: ctx.store.settings.get('api.id') ?? 'nsnet',
    Containers: c.all,
    ContainersRunning: c.running,
    ContainersPaused: 0,
    ContainersStopped: c.stopped,
    Images: images,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'nsnet layer store']],
    Plugins: { Volume: [], Network: ['bridge', 'host', 'ipvlan', 'macvlan', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: false,
    SwapLimit: false,
    CpuCfsPeriod: false,
    CpuCfsQuota: false,
    CPUShares: false,
    CPUSet: false,
    PidsLimit: false,
    IPv4Forwarding: ctx.host.sysctl('net.ipv4.ip_forward') === '1',
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'none',
    CgroupVersion: '2',
    NEventsListener: 0,
    KernelVersion: os.release(),
    OperatingSystem: osName(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: os.machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: ctx.root,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: ENGINE_VERSION,
    Runtimes: { nsnet: { path: 'nsnet' } },
    DefaultRuntime: 'nsnet',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: '', Expected: '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=seccomp,profile=unconfined', 'name=no-new-privileges'],
    Warnings: null,
  };
}

/** How many images the image store holds; routes-images.ts may set it (nsnet has no image store yet otherwise). */
let imageCount: (ctx: Context) => number = () => 0;
export function countImagesWith(fn: (ctx: Context) => number): void {
  imageCount = fn;
}

export function systemRoutes(r: RouteTable): void {
  // Unversioned, the server answers these itself (server.ts); /v1.41/_ping and --debug come here.
  r.route('GET', '/_ping', async (_req, res) => writePing(res.raw, false));
  r.route('HEAD', '/_ping', async (_req, res) => writePing(res.raw, true));
  r.route('GET', '/version', async (_req, res) => res.json(200, versionView()));
  r.route('GET', '/info', async (req, res) => {
    const ctx = req.context();
    let images = 0;
    try {
      images = imageCount(ctx);
    } catch {
      images = 0; // an image store that cannot be read is no reason to fail docker info
    }
    res.json(200, infoView(ctx, images));
  });
}
