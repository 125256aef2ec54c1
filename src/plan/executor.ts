import { NsnetError, wrap } from '../core/errors.js';
import { netemSummary } from '../core/netem.js';
import { faultPoint, stepFault } from './faults.js';
import { renderStep } from './render.js';
import type { Step } from './steps.js';
import type { StepRunner } from './runner.js';

/** A plan failed at one step; what undoing the applied ones could not undo is kept, each with its code. */
export class PlanError extends NsnetError {
  readonly undoFailures: readonly NsnetError[];
  constructor(cause: NsnetError, undoFailures: readonly NsnetError[]) {
    const extra = undoFailures.length === 0 ? '' : `; undo also failed: ${undoFailures.map((f) => f.message).join('; ')}`;
    super(cause.code, `${cause.message}${extra}`, { hint: cause.hint, cause });
    this.undoFailures = undoFailures;
  }
}

/** A step's failure: what was being done (and its by-hand command), then the cause, its code kept. */
function stepFailure(step: Step, err: unknown, withCommand: boolean): NsnetError {
  return wrap(withCommand ? `${describe(step)} (${firstLine(renderStep(step))})` : describe(step), err);
}

/**
 * Apply steps in order. When one fails, undo the applied ones in reverse (all of them, collecting
 * failures) and throw an error naming the step that failed and its by-hand command.
 */
export function applyPlan(steps: readonly Step[], runner: StepRunner): void {
  const applied: Step[] = [];
  for (const step of steps) {
    try {
      stepFault(step);
      runner.apply(step);
      applied.push(step);
    } catch (err) {
      throw new PlanError(stepFailure(step, err, true), undoAll(applied, runner));
    }
    faultPoint();
  }
}

/** Undo applied steps in reverse order; returns one error per step that could not be undone. */
export function undoAll(applied: readonly Step[], runner: StepRunner): NsnetError[] {
  const failures: NsnetError[] = [];
  for (const step of [...applied].reverse()) {
    try {
      runner.undo(step);
    } catch (err) {
      failures.push(stepFailure(step, err, false));
    }
  }
  return failures;
}

/** Teardown: run every step even when some fail, and return the failures. */
export function applyAll(steps: readonly Step[], runner: StepRunner): NsnetError[] {
  const failures: NsnetError[] = [];
  for (const step of steps) {
    try {
      runner.apply(step);
    } catch (err) {
      failures.push(stepFailure(step, err, false));
    }
    faultPoint();
  }
  return failures;
}

export function describe(step: Step): string {
  switch (step.kind) {
    case 'netns-add':
      return `create namespace ${step.name}`;
    case 'netns-del':
      return `delete namespace ${step.name}`;
    case 'bridge-add':
      return `create bridge ${step.name}`;
    case 'link-up':
      return `bring up ${step.dev}${where(step.ns)}`;
    case 'link-del':
      return `delete link ${step.dev}${where(step.ns)}`;
    case 'veth-add':
      return `create veth pair ${step.hostIf} / ${step.peerIf} in ${step.peerNs}`;
    case 'veth-p2p':
      return `create veth pair ${step.name} in ${step.ns} / ${step.peerName} in ${step.peerNs}`;
    case 'macvlan-add':
    case 'ipvlan-add':
      return `create ${step.kind === 'macvlan-add' ? 'macvlan' : 'ipvlan'} ${step.name} on ${step.parent} in ${step.ns}`;
    case 'dummy-add':
      return `create dummy link ${step.name}`;
    case 'route-dev':
      return `add default route dev ${step.dev}${where(step.ns)}`;
    case 'port-hairpin':
      return `turn hairpin ${step.on ? 'on' : 'off'} on bridge port ${step.dev}`;
    case 'qdisc-netem':
      return `impair ${step.dev}${where(step.ns)} (${netemSummary(step.netem) || 'none'})`;
    case 'qdisc-clear':
      return `clear the impairment of ${step.dev}${where(step.ns)}`;
    case 'link-state':
      return `set link ${step.dev}${where(step.ns)} ${step.up ? 'up' : 'down'}`;
    case 'addr-add':
      return `add address ${step.address}/${step.prefixLen} to ${step.dev}${where(step.ns)}`;
    case 'route-add':
      return `add default route via ${step.via}${where(step.ns)}`;
    case 'sysctl':
      return `set ${step.key}`;
    case 'netns-sysctl':
      return `set ${step.key}${where(step.ns)}`;
    case 'route-to':
      return `add route to ${step.dst} via ${step.via}${where(step.ns)}`;
    case 'overlay-mount':
      return `mount the root filesystem ${step.target}`;
    case 'bind-mount':
      return `bind-mount ${step.source} on /${step.path} in ${step.root}`;
    case 'fs-mount':
      return `mount ${step.fstype} on /${step.path} in ${step.root}`;
    case 'unmount':
      return `unmount ${step.target}`;
    case 'nft':
      return `update firewall: ${step.summary}`;
    case 'xtables-restore':
      return `update firewall (${step.tool} ${step.table}): ${step.summary}`;
    case 'ebtables-ports':
      return `update firewall (ebtables ${step.table}): ${step.summary}`;
    case 'iptables-rules':
      return `update firewall (iptables ${step.table}): ${step.summary}`;
  }
}

const where = (ns: string | undefined): string => (ns === undefined ? '' : ` in ${ns}`);
const firstLine = (text: string): string => text.split('\n')[0] ?? text;
