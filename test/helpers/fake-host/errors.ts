/**
 * The errors the fake machine throws: the same classes and codes the real kernel layer throws
 * (KernelError with errno, NsnetError FIREWALL for nft and the xtables tools), so an operation
 * under test sees what it would see on a real host. Something the fake does not model throws
 * FakeUnsupported instead, so a test notices rather than passing on a guess.
 */
import { KernelError, NsnetError } from '../../../src/core/errors.js';
import { errnoName } from '../../../src/kernel/libc.js';

export function kernelError(what: string, errno: number, command?: string): KernelError {
  return new KernelError(what, errno, errnoName(errno), command);
}

/** nft's error for a transaction it refused (the real text names the errno the same way). */
export function nftError(problem: string, line: string): NsnetError {
  return new NsnetError('FIREWALL', `apply nftables script: Error: Could not process rule: ${problem}\n${line}`);
}

/** An xtables tool's refusal, as kernel/xtables.ts reports a failed `*-restore` run. */
export function restoreError(tool: string, problem: string): NsnetError {
  const args = tool === 'iptables' ? '-w --noflush' : '--noflush';
  return new NsnetError('FIREWALL', `${tool}-restore ${args}: ${problem}`);
}

/** The fake met input it does not model: extend the fake (or fix the caller), never guess. */
export class FakeUnsupported extends Error {
  constructor(message: string) {
    super(`fake host: ${message}`);
    this.name = 'FakeUnsupported';
  }
}

/** A crash injected by the fake (crashAfter): the process "died" here; nothing more runs. */
export class SimulatedCrash extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatedCrash';
  }
}
