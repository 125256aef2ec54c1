/**
 * nsnet as a library: the same operations the CLI runs, in your process. Create a Context (state
 * root, dry-run), call operations with it, close it when done. Every operation takes the
 * host-wide lock itself, so library users and CLI users can work side by side.
 *
 *   const ctx = kernelContext({ root: '/var/lib/nsnet' });
 *   await run(ctx, { name: 'red', networks: ['bridge'], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
 *   ctx.close();
 */
export { Context, type ContextOptions } from './ops/context.js';
export { kernelContext } from './cli/context.js';
export type { Host } from './host/port.js';
export { liveState } from './ops/liveness.js';
export { exec, logs, remove, run, start, stop, type RunInput, type RunResult } from './ops/containers.js';
export { connect, createNetwork, disconnect, pruneNetworks, removeNetwork, type NetworkInput } from './ops/networks.js';
export { prune, reset } from './ops/system.js';
export { clearNetem, listImpairments, setLinkState, setNetem, type ImpairmentRow } from './ops/impairments.js';
export { parseNetem, type Netem, type NetemInput } from './core/netem.js';
export { NsnetError, type ErrorCode } from './core/errors.js';
export { renderPlan, renderStep } from './plan/render.js';
export type { Step } from './plan/steps.js';
