/**
 * What a pull reads from the machine, as Docker's client and daemon do: the client configuration
 * with `docker login`'s credentials ($DOCKER_CONFIG/config.json or ~/.docker/config.json) and the
 * per-registry certificate authorities (/etc/docker/certs.d/HOST[:PORT]/*.crt).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The text of Docker's client configuration, or undefined when there is none. */
export function dockerConfigText(): string | undefined {
  const dir = process.env['DOCKER_CONFIG'] ?? path.join(process.env['HOME'] ?? os.homedir(), '.docker');
  try {
    return fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Docker's per-registry certificate authorities: /etc/docker/certs.d/HOST[:PORT]/*.crt
 * (NSNET_REGISTRY_CERTS_DIR for another directory).
 */
export function registryCaFiles(hostPort: string): string[] {
  const dir = path.join(process.env['NSNET_REGISTRY_CERTS_DIR'] ?? '/etc/docker/certs.d', hostPort);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.crt')).sort();
  } catch {
    return [];
  }
  return names.map((n) => fs.readFileSync(path.join(dir, n), 'utf8'));
}
