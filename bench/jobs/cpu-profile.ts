/** `node --cpu-prof` of one CLI command, summarised per function. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  spanMs: number;
  self: Array<[string, number]>;
  inclusive: Array<[string, number]>;
}

/** Self and inclusive time per function of a V8 CPU profile (top entries), ms. */
function summarizeProfile(file: string): ProfileSummary {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of doc.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (id: number): string => {
    const cf = byId.get(id)!.callFrame;
    return `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop() ?? ''}:${cf.lineNumber + 1}`.trim();
  };
  const self = new Map<string, number>();
  const owner = new Map<string, number>();
  const inBundle = (id: number): boolean => /nsnet\.mjs$|\/dist\/src\//.test(byId.get(id)!.callFrame.url);
  doc.samples.forEach((id, i) => {
    const dt = (doc.timeDeltas[i] ?? 0) / 1000;
    self.set(name(id), (self.get(name(id)) ?? 0) + dt);
    // Charged to the nearest nsnet function up the stack (with the Node internals it called), or
    // to Node itself (start-up, module loading, GC) when no nsnet code is on the stack.
    let x: number | undefined = id;
    while (x !== undefined && !inBundle(x)) x = parent.get(x);
    const k = x === undefined ? `(node: ${name(id).split(' ')[0]})` : name(x);
    owner.set(k, (owner.get(k) ?? 0) + dt);
  });
  const top = (m: Map<string, number>, k: number): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([a, b]) => [a, Math.round(b * 100) / 100]);
  return { spanMs: (doc.endTime - doc.startTime) / 1000, self: top(self, 12), inclusive: top(owner, 12) };
}

/** Profile `nsnet ARGS` (bin/nsnet, as a user runs it), writing the profile under `dir`. */
export function profileCli(nsnet: string, args: readonly string[], env: NodeJS.ProcessEnv, dir: string): ProfileSummary | { error: string } {
  const out = fs.mkdtempSync(path.join(dir, 'prof-'));
  const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', out, nsnet, ...args], { encoding: 'utf8', env });
  const file = fs.readdirSync(out).find((x) => x.endsWith('.cpuprofile'));
  if (r.status !== 0 || file === undefined) return { error: (r.stderr || 'no profile').slice(0, 300) };
  return summarizeProfile(path.join(out, file));
}
