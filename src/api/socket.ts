/**
 * The API's Unix socket, ROOT/docker.sock: made with mode 0660 and owner root:root (or root and
 * the --group given), never world-reachable. Whoever can connect to it can make privileged
 * containers: it is root-equivalent, exactly as /var/run/docker.sock.
 *
 * One server per socket: a socket some process still answers on is refused ("another nsnet
 * serve"); one nobody answers on is the leftover of a server that died, and is removed.
 * (nsnet serve also holds ROOT/docker.sock.lock, so two servers starting at once cannot both
 * take a stale socket.)
 */
import fs from 'node:fs';
import net from 'node:net';
import type http from 'node:http';
import { NsnetError } from '../core/errors.js';
import { destroyConnections } from './server.js';

export const API_SOCKET = 'docker.sock';

/** Whether something accepts connections on the Unix socket at path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Remove a stale socket; refuse a live one or anything that is not a socket. */
export async function clearSocketPath(path: string): Promise<void> {
  const st = fs.lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isSocket()) {
    throw new NsnetError('IN_USE', `${path} exists and is not a socket`, { hint: 'move it away; nsnet serve makes the API socket there' });
  }
  if (await answers(path)) {
    throw new NsnetError('IN_USE', `another server (nsnet serve or dockerd) is listening on ${path}`, { hint: 'stop it first, or give another --root' });
  }
  fs.unlinkSync(path);
}

/** The group id of a group name (or a number), from /etc/group. */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  const gid = line?.split(':')[2];
  if (gid === undefined || !/^\d+$/.test(gid)) {
    throw new NsnetError('INVALID_VALUE', `invalid --group "${group}": no such group in /etc/group`, { hint: 'create it (groupadd docker) or name an existing group' });
  }
  return Number(gid);
}

/**
 * Listen on path with mode 0660, owner root and group gid (0: root). The umask is set for the
 * bind, so the socket is never reachable by others, not even between bind and chmod.
 */
export async function listenUnix(server: http.Server, path: string, gid: number): Promise<void> {
  await clearSocketPath(path);
  const umask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  fs.chownSync(path, 0, gid);
  fs.chmodSync(path, 0o660);
}

/** Stop listening, end every connection (a follow, an attach), remove the socket. */
export async function closeServer(server: http.Server, path: string): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  destroyConnections(server);
  await closed;
  fs.rmSync(path, { force: true });
}
