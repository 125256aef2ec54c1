/**
 * Mounts on the fake machine: a container's overlay root and the files bind-mounted into it, with
 * the semantics of src/kernel/mounts.ts (a stale mount on the target detached first; unmounting
 * takes what is beneath; what is not mounted is fine).
 */
import path from 'node:path';

export interface FakeMount {
  target: string;
  /** "overlay lowerdir=...,upperdir=...,workdir=...", "bind SOURCE" or "FSTYPE OPTIONS". */
  what: string;
}

export class MountModel {
  state: { mounts: FakeMount[] } = { mounts: [] };

  overlay(target: string, lower: readonly string[], upper: string, work: string): void {
    this.unmountTree(target);
    this.state.mounts.push({ target, what: `overlay lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}` });
  }

  bind(source: string, target: string): void {
    this.state.mounts.push({ target, what: `bind ${source}` });
  }

  /** A kernel filesystem (devpts, tmpfs) with its options. */
  filesystem(fstype: string, target: string, options: string): void {
    this.state.mounts.push({ target, what: `${fstype} ${options}` });
  }

  /** `target` and every mount beneath it. */
  unmountTree(target: string): void {
    this.state.mounts = this.state.mounts.filter((m) => !under(m.target, target));
  }

  isMounted(target: string): boolean {
    return this.state.mounts.some((m) => m.target === target);
  }

  /** Deepest first, as src/kernel/mounts.ts lists them. */
  mountsUnder(dir: string): string[] {
    return [...new Set(this.state.mounts.map((m) => m.target).filter((t) => under(t, dir)))].sort((a, b) => b.length - a.length);
  }

  snapshot(): string[] {
    return this.state.mounts.map((m) => `${m.target}: ${m.what}`).sort();
  }
}

const under = (p: string, dir: string): boolean => {
  const base = path.resolve(dir);
  return p === base || p.startsWith(base + path.sep);
};
