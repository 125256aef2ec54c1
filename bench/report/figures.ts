/** Figures derived from raw samples that several parts of the report use: the CNI comparison, one published port. */
import { medianOf, stats, type Stats } from '../common.js';
import { quantile, ratio } from './format.js';
import type { CniBench, PortsResult } from './types.js';

/** One command of both plugins: stats, p90, nsnet/bridge median ratio, and that ratio with the process floor (/bin/true) taken off both. */
interface CniPair {
  nsnet: Stats | null;
  bridge: Stats | null;
  nsnetP90: number;
  bridgeP90: number;
  ratio: number | null;
  ratioNetOfSpawn: number | null;
}

/** The figures the CNI section reports, from the raw samples. */
export function cniFigures(c: CniBench): {
  add: CniPair;
  del: CniPair;
  /** nsnet-cni per call: the service's handling (its log) and the rest (wall − handling), for calls with a log line. */
  addService: Stats | null;
  addRest: Stats | null;
  delService: Stats | null;
  delRest: Stats | null;
  trueSpawn: Stats | null;
  nsnetVersion: Stats | null;
  bridgeVersion: Stats | null;
  versionService: Stats | null;
} {
  const sm = c.samples ?? {};
  const split = (wall: number[], svc: Array<number | null> | undefined): { service: number[]; rest: number[] } => {
    const service: number[] = [];
    const rest: number[] = [];
    wall.forEach((w, i) => {
      const x = svc?.[i];
      if (x === null || x === undefined) return;
      service.push(x);
      rest.push(w - x);
    });
    return { service, rest };
  };
  const a = split(sm['nsnet-cni ADD'] ?? [], c.service?.ADD);
  const d = split(sm['nsnet-cni DEL'] ?? [], c.service?.DEL);
  const floor = medianOf(sm['spawn /bin/true'] ?? []);
  const pair = (k: 'ADD' | 'DEL'): CniPair => {
    const x = stats(sm[`nsnet-cni ${k}`] ?? []);
    const y = stats(sm[`bridge ${k}`] ?? []);
    return {
      nsnet: x,
      bridge: y,
      nsnetP90: quantile(sm[`nsnet-cni ${k}`] ?? [], 0.9),
      bridgeP90: quantile(sm[`bridge ${k}`] ?? [], 0.9),
      ratio: ratio(x?.median, y?.median),
      ratioNetOfSpawn: ratio((x?.median ?? NaN) - floor, (y?.median ?? NaN) - floor),
    };
  };
  return {
    add: pair('ADD'),
    del: pair('DEL'),
    addService: stats(a.service),
    addRest: stats(a.rest),
    delService: stats(d.service),
    delRest: stats(d.rest),
    trueSpawn: stats(sm['spawn /bin/true'] ?? []),
    nsnetVersion: stats(sm['nsnet-cni VERSION'] ?? []),
    bridgeVersion: stats(sm['bridge VERSION'] ?? []),
    versionService: stats(c.service?.VERSION ?? []),
  };
}

/** What one published port adds to run() and remove(): differences of medians of the interleaved samples. */
export function portDeltas(p: PortsResult): { run: number; remove: number; total: number; runWith: number; runWithout: number; removeWith: number; removeWithout: number } {
  const m = (k: string): number => medianOf(p.lib?.[k] ?? []);
  const runWith = m('run() with -p 8080:80');
  const runWithout = m('run() without -p');
  const removeWith = m('remove() with -p 8080:80');
  const removeWithout = m('remove() without -p');
  return { run: runWith - runWithout, remove: removeWith - removeWithout, total: runWith + removeWith - runWithout - removeWithout, runWith, runWithout, removeWith, removeWithout };
}
