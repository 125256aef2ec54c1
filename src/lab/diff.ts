/**
 * What `up` has to do: the declared lab against what the lab has now. Pure, so the same file and
 * the same state always give the same plan (a unit test holds it to that).
 *
 * A network is made again when its declaration changed (its config-hash label differs); a
 * container when its declaration changed, when it is not running, or when one of its networks is
 * made again (a network with containers attached cannot be removed). Everything else is kept,
 * untouched and running.
 */
import { NsnetError } from '../core/errors.js';
import { type LabContainer, type LabNetwork, type LabSpec } from './spec.js';

/** The lab's objects as they are now. */
export interface LabState {
  /** Networks labelled nsnet.lab=LAB: name → config hash. */
  networks: ReadonlyMap<string, string>;
  /** Containers the lab owns and that exist: name → {hash, running}. */
  containers: ReadonlyMap<string, { hash: string; running: boolean }>;
  /** Names taken by objects that are not the lab's (a declared name among them is a conflict). */
  foreignNetworks: ReadonlySet<string>;
  foreignContainers: ReadonlySet<string>;
}

export interface LabPlan {
  removeContainers: string[];
  removeNetworks: string[];
  createNetworks: LabNetwork[];
  createContainers: LabContainer[];
  keepNetworks: string[];
  keepContainers: string[];
}

export function diffLab(spec: LabSpec, state: LabState): LabPlan {
  const conflicts = [
    ...spec.networks.filter((n) => state.foreignNetworks.has(n.name)).map((n) => `network ${n.name}`),
    ...spec.containers.filter((c) => state.foreignContainers.has(c.name)).map((c) => `container ${c.name}`),
  ];
  if (conflicts.length > 0) {
    throw new NsnetError('NAME_IN_USE', `lab ${spec.name}: ${conflicts.join(', ')} already exist${conflicts.length === 1 ? 's' : ''} and belong${conflicts.length === 1 ? 's' : ''} to no lab or another one`, {
      hint: 'remove them, rename them in the file, or give the lab another name (name: or --name)',
    });
  }
  const declaredNets = new Map(spec.networks.map((n) => [n.name, n]));
  const remakeNets = new Set<string>();
  const removeNetworks: string[] = [];
  for (const [name, hash] of [...state.networks].sort(([a], [b]) => a.localeCompare(b))) {
    const want = declaredNets.get(name);
    if (want === undefined) removeNetworks.push(name);
    else if (want.hash !== hash) {
      removeNetworks.push(name);
      remakeNets.add(name);
    }
  }
  const createNetworks = spec.networks.filter((n) => !state.networks.has(n.name) || remakeNets.has(n.name));
  const keepNetworks = spec.networks.filter((n) => state.networks.has(n.name) && !remakeNets.has(n.name)).map((n) => n.name);

  const declared = new Map(spec.containers.map((c) => [c.name, c]));
  const removeContainers: string[] = [];
  const remade = new Set<string>();
  for (const [name, have] of [...state.containers].sort(([a], [b]) => a.localeCompare(b))) {
    const want = declared.get(name);
    if (want === undefined) {
      removeContainers.push(name);
      continue;
    }
    const removedNet = want.networks.some((a) => remakeNets.has(a.name));
    if (want.hash !== have.hash || !have.running || removedNet) {
      removeContainers.push(name);
      remade.add(name);
    }
  }
  // Containers of the lab attached to a network that goes must go first, even if undeclared now.
  const createContainers = spec.containers.filter((c) => !state.containers.has(c.name) || remade.has(c.name));
  const keepContainers = spec.containers.filter((c) => state.containers.has(c.name) && !remade.has(c.name)).map((c) => c.name);
  return { removeContainers, removeNetworks, createNetworks, createContainers, keepNetworks, keepContainers };
}

/** Whether the plan changes nothing. */
export const isNoop = (p: LabPlan): boolean =>
  p.removeContainers.length + p.removeNetworks.length + p.createNetworks.length + p.createContainers.length === 0;


/**
 * Whether `up` would leave nothing of the lab as it is: the lab has objects, and the file declares
 * none of their names (a changed declaration, made again under its name, does not count). That is
 * `down`'s job, or a file gone wrong; `up` asks for --remove-all first.
 */
export function dropsWholeLab(spec: LabSpec, state: LabState): boolean {
  const declared = new Set([...spec.networks.map((n) => n.name), ...spec.containers.map((c) => c.name)]);
  const existing = [...state.networks.keys(), ...state.containers.keys()];
  return existing.length > 0 && existing.every((name) => !declared.has(name));
}
