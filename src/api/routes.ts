/**
 * Every route module of the API, in one list. A new module (routes-exec.ts, routes-attach.ts,
 * routes-images.ts, ...) exports `function xRoutes(r: RouteTable): void` and is added here: one
 * import, one entry. Order does not matter (literal path segments win over {params}).
 */
import { Router, type RouteTable } from './router.js';
import { systemRoutes } from './routes-system.js';
import { networkRoutes } from './routes-networks.js';
import { containerRoutes } from './routes-containers.js';
import { eventRoutes } from './events.js';
import { execRoutes } from './routes-exec.js';
import { attachRoutes } from './routes-attach.js';
import { imageRoutes } from './routes-images.js';
import type { EventFeed } from './events.js';

export interface RouteDeps {
  /** The events the server has seen (containers and networks changing, by the API or the CLI). */
  events: EventFeed;
}

export const ROUTE_MODULES: ReadonlyArray<(r: RouteTable, deps: RouteDeps) => void> = [
  systemRoutes,
  networkRoutes,
  containerRoutes,
  eventRoutes,
  execRoutes,
  attachRoutes,
  imageRoutes,
  unsupportedRoutes,
];

/** Docker endpoints nsnet does not serve, answered 501 with a clear message rather than a bare 404. */
function unsupportedRoutes(r: RouteTable): void {
  const areas: ReadonlyArray<[string, string]> = [
    ['/swarm', 'swarm mode'],
    ['/nodes', 'swarm mode (nodes)'],
    ['/services', 'swarm mode (services)'],
    ['/tasks', 'swarm mode (tasks)'],
    ['/secrets', 'swarm mode (secrets)'],
    ['/configs', 'swarm mode (configs)'],
    ['/plugins', 'plugins'],
    ['/volumes', 'volumes'],
    ['/build', 'image build'],
    ['/session', 'image build sessions'],
    ['/distribution', 'registry distribution queries'],
    ['/commit', 'container commit'],
    ['/auth', 'registry login'],
    ['/system/df', 'system df'],
  ];
  for (const [prefix, what] of areas) {
    r.unsupported('*', prefix, what);
    r.unsupported('*', `${prefix}/{rest*}`, what);
  }
  const containerVerbs: ReadonlyArray<[string, string, string]> = [
    ['GET', 'top', 'container top'],
    ['GET', 'stats', 'container stats'],
    ['GET', 'changes', 'container diff'],
    ['GET', 'export', 'container export'],
    ['GET', 'archive', 'copying files from a container'],
    ['HEAD', 'archive', 'copying files from a container'],
    ['PUT', 'archive', 'copying files into a container'],
    ['POST', 'update', 'container update'],
    ['POST', 'pause', 'container pause'],
    ['POST', 'unpause', 'container unpause'],
  ];
  for (const [method, verb, what] of containerVerbs) r.unsupported(method, `/containers/{id}/${verb}`, what);
}

export function buildRouter(deps: RouteDeps): Router {
  const router = new Router();
  for (const register of ROUTE_MODULES) register(router, deps);
  return router;
}
