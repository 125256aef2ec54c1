/** The composition root: a Context on this machine, its host the real kernel. */
import { KernelHost } from '../host/kernel-host.js';
import { KernelRunner } from '../plan/kernel-runner.js';
import { Context, type ContextOptions } from '../ops/context.js';

export function kernelContext(opts: Omit<ContextOptions, 'host'> = {}): Context {
  return new Context({ onWarning: (line) => process.stderr.write(`nsnet: warning: ${line}\n`), ...opts, host: new KernelHost({ onFatal: (why) => process.stderr.write(`nsnet: fatal: ${why}\n`) }), openRunner: () => new KernelRunner() });
}
