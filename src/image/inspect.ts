/**
 * Images in Docker's JSON shapes (Engine API 1.41): `docker image inspect` (GET /images/{name}/json)
 * and one entry of `docker images` (GET /images/json). Shared by `nsnet image inspect` and the API.
 */
import type { ImageRecord } from './images.js';

/** Docker's zero time, which it prints for a time it never set. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The image's container config with Docker's defaults for the keys the config leaves out. */
export function containerConfigOf(img: ImageRecord): Record<string, unknown> {
  const c = img.config.config ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c.ExposedPorts !== undefined ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Image: '',
    Volumes: c['Volumes'] ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c['OnBuild'] ?? null,
    Labels: c.Labels ?? null,
    ...(c['StopSignal'] !== undefined ? { StopSignal: c['StopSignal'] } : {}),
  };
}

/** `docker image inspect`'s object; layerDirs top first, as ImageStore.layerDirs gives them. */
export function inspectImage(img: ImageRecord, layerDirs: readonly string[]): Record<string, unknown> {
  const cfg = img.config;
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: '',
    Comment: typeof cfg['comment'] === 'string' ? cfg['comment'] : '',
    Created: img.created,
    Container: typeof cfg['container'] === 'string' ? cfg['container'] : '',
    DockerVersion: typeof cfg['docker_version'] === 'string' ? cfg['docker_version'] : '',
    Author: cfg.author ?? '',
    Config: containerConfigOf(img),
    Architecture: cfg.architecture ?? '',
    ...(typeof cfg['variant'] === 'string' ? { Variant: cfg['variant'] } : {}),
    Os: cfg.os ?? '',
    Size: img.size,
    VirtualSize: img.size,
    // nsnet's layers are plain overlayfs lower directories, each a layer's own files.
    GraphDriver: { Name: 'overlay', Data: { LowerDir: layerDirs.join(':') } },
    RootFS: { Type: cfg.rootfs.type ?? 'layers', Layers: cfg.rootfs.diff_ids },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}

/** One entry of GET /images/json. */
export function imageSummary(img: ImageRecord): Record<string, unknown> {
  return {
    Containers: -1,
    Created: Math.floor(Date.parse(img.created) / 1000) || 0,
    Id: img.id,
    Labels: img.config.config?.Labels ?? null,
    ParentId: '',
    RepoDigests: img.repoDigests,
    RepoTags: img.repoTags,
    SharedSize: -1,
    Size: img.size,
    VirtualSize: img.size,
  };
}
