/**
 * `nsnet serve`: the Docker Engine API on ROOT/docker.sock, in the foreground like dockerd, until
 * SIGTERM or SIGINT. Requests run in this process with the CLI's lock and store, so the API and
 * the CLI see and change the same containers and networks.
 */
import path from 'node:path';
import { Command } from 'commander';
import { NsnetError } from '../../core/errors.js';
import { DEFAULT_ROOT, keepStoresOpen } from '../../ops/context.js';
import { holdLiveProcesses } from '../../kernel/process.js';
import { createApiServer, oneAtATime } from '../../api/server.js';
import { removeOnExit } from '../../api/auto-remove.js';
import { buildRouter } from '../../api/routes.js';
import { EventFeed } from '../../api/events.js';
import { ENGINE_VERSION } from '../../api/routes-system.js';
import { ensureDefaultNetwork } from '../../api/routes-networks.js';
import { DEFAULT_NETWORK } from '../../ops/networks.js';
import { API_SOCKET, closeServer, groupId, listenUnix } from '../../api/socket.js';
import { kernelContext } from '../context.js';
import { requireRoot, withCommon, type CommonOptions } from '../common.js';

export function serveCommand(): Command {
  return withCommon(new Command('serve'), { dryRun: false })
    .description('serve the Docker Engine API (1.41) on ROOT/docker.sock in the foreground, like dockerd: DOCKER_HOST=unix://ROOT/docker.sock docker ps')
    .option('--group <group>', 'let this group use the socket too (mode 0660 root:GROUP); as with the docker group, that is root-equivalent')
    .option('--debug', 'log every request (method, path, status, time) on stderr')
    .action(async (o: { group?: string; debug?: boolean }, cmd: Command) => {
      requireRoot();
      const given = cmd.optsWithGlobals<CommonOptions>().root ?? process.env['NSNET_ROOT'] ?? DEFAULT_ROOT;
      const root = path.resolve(given);
      const gid = o.group === undefined ? 0 : groupId(o.group);
      const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      keepStoresOpen(true);
      holdLiveProcesses(true);
      const contextFor = () => kernelContext({ root, onWarning: (line) => log(`warning: ${line}`), onRecover: (line) => log(line) });
      const holder = contextFor();
      holder.store; // makes the state directory the lock file lives in
      let lock: { release(): void };
      try {
        lock = holder.host.acquire(path.join(root, `${API_SOCKET}.lock`), { timeoutMs: 0 });
      } catch (err) {
        if (err instanceof NsnetError && err.code === 'LOCK_TIMEOUT') {
          throw new NsnetError('IN_USE', `another nsnet serve is running for state root ${root}`, { hint: 'stop it first (it serves that root\'s docker.sock), or give another --root' });
        }
        throw err;
      }
      try {
        if (ensureDefaultNetwork(holder)) log(`nsnet serve: made the default network ${DEFAULT_NETWORK}`);
      } catch (err) {
        // dockerd refuses to start without its bridge; nsnet serves anyway (images, other networks) and says why.
        log(`warning: the default network ${DEFAULT_NETWORK} could not be made: ${err instanceof Error ? err.message : String(err)}`);
      }
      const socket = path.join(root, API_SOCKET);
      const events = new EventFeed(contextFor, (err) => log(`events: ${err instanceof Error ? err.message : String(err)}`));
      const exclusive = oneAtATime();
      const stopRemoving = removeOnExit(events, contextFor, exclusive, log);
      const server = createApiServer(buildRouter({ events }), {
        context: contextFor,
        exclusive,
        log,
        ...(o.debug === true ? { logRequest: log } : {}),
        afterChange: () => events.sync(),
        engineVersion: ENGINE_VERSION,
      });
      try {
        await listenUnix(server, socket, gid);
        events.start();
        log(`nsnet serve: Docker Engine API on unix://${socket} (state root ${root})`);
        const signal = await new Promise<string>((resolve) => {
          process.once('SIGTERM', () => resolve('SIGTERM'));
          process.once('SIGINT', () => resolve('SIGINT'));
        });
        log(`nsnet serve: ${signal}: closing ${socket}`);
      } finally {
        stopRemoving();
        events.stop();
        await closeServer(server, socket).catch((err: unknown) => log(`closing: ${String(err)}`));
        lock.release();
        holder.close();
        keepStoresOpen(false);
        holdLiveProcesses(false);
      }
    });
}
