/** latest.json: the machine, the configuration, rows, targets, statistics of every sample and the raw matrix samples. */
import { growth, METHOD_SCOPE, stats } from '../common.js';
import { dockerApiJson } from './docker-api.js';
import { cniFigures, portDeltas } from './figures.js';
import { quantile, round } from './format.js';
import type { CniBench, Extras, ReportInput, Row, Target } from './types.js';

/** Statistics per key of a record of samples. */
function statsOf(rec: Record<string, number[]>): Record<string, ReturnType<typeof stats>> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, stats(v)]));
}

export function buildJson(rows: Row[], targets: Target[], input: ReportInput): unknown {
  const { runs } = input;
  return {
    machine: input.machine,
    config: { ns: input.ns, methods: input.methods, caps: input.caps, scope: METHOD_SCOPE },
    durationS: input.durationS,
    rows,
    targets,
    breakdowns: Object.fromEntries(runs.map((r) => [`${r.method} N=${r.n}`, statsOf(r.breakdown)])),
    extras: summarizeExtras(input.extras),
    errors: input.errors,
    raw: runs.map((r) => ({ method: r.method, n: r.n, attachMs: r.attachMs.map(round), detachMs: r.detachMs.map(round), attachTotalMs: round(r.attachTotalMs), detachTotalMs: round(r.detachTotalMs), notes: r.notes })),
  };
}

function summarizeExtras(e: Extras): unknown {
  const s = (rec: Record<string, number[]> | undefined): unknown => (rec === undefined ? undefined : statsOf(rec));
  return {
    noChild: e.noChild,
    connect: e.connect === undefined ? undefined : { rssMethod: e.connect.rssMethod, stats: s(e.connect.samples), straceConnect: e.connect.straceConnect, profiles: e.connect.profiles },
    vethDel: e.vethDel === undefined ? undefined : s(e.vethDel.samples),
    iperf: e.iperf ?? e.iperfSkipped,
    features: e.features,
    firewall: e.firewall?.map((x) => ({ driver: x.driver, n: x.n, made: x.made, counts: x.counts, attach: stats(x.attachMs), detach: stats(x.detachMs), failed: x.failed })),
    ports: e.ports?.map((p) => ({
      driver: p.driver,
      publishable: p.publishable,
      reason: p.reason,
      deltas: p.publishable ? portDeltas(p) : undefined,
      steps: p.steps === undefined ? undefined : { add: stats(p.steps.add), remove: stats(p.steps.remove) },
      many: p.many,
      manyMs: p.manyMs === undefined ? undefined : { add: stats(p.manyMs.add), remove: stats(p.manyMs.remove), addGrowth: growth(p.manyMs.add) },
      counts: p.counts,
      lib: s(p.lib),
      libSteps: s(p.libSteps),
      procRead: s(p.procRead),
      tcpEhashEntries: p.tcpEhashEntries,
    })),
    dns: e.dns,
    nftCtx: s(e.nftCtx?.samples),
    netem: e.netem === undefined ? undefined : { n: e.netem.n, reps: e.netem.reps, samples: s(e.netem.samples), steps: s(e.netem.steps) },
    partition: e.partition === undefined ? undefined : { n: e.partition.n, reps: e.partition.reps, samples: s(e.partition.samples), steps: s(e.partition.steps) },
    attachDual: e.attachDual === undefined ? undefined : { reps: e.attachDual.reps, n: e.attachDual.n, samples: s(e.attachDual.samples), nftRulesAfter1: e.attachDual.nftRulesAfter1, nftRulesAfterN: e.attachDual.nftRulesAfterN },
    cni: e.cni === undefined ? undefined : summarizeCni(e.cni),
    dockerApi: e.dockerApi === undefined ? undefined : dockerApiJson(e.dockerApi),
  };
}

function summarizeCni(c: CniBench): unknown {
  if (c.available !== true || c.samples === undefined) return { available: c.available, reason: c.reason };
  const x = cniFigures(c);
  const withP90 = (v: number[]): unknown => ({ ...stats(v), p90: quantile(v, 0.9) });
  return {
    n: c.n,
    configs: c.configs,
    timing: c.timing,
    calls: Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, withP90(v)])),
    ratios: { add: x.add.ratio, del: x.del.ratio, addNetOfSpawn: x.add.ratioNetOfSpawn, delNetOfSpawn: x.del.ratioNetOfSpawn },
    growth: Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, growth(v)])),
    nsnetBreakdown: { addService: x.addService, addRest: x.addRest, delService: x.delService, delRest: x.delRest, versionService: x.versionService, serviceLogLines: c.service?.logLines },
    cold: c.cold,
    serviceUpAfterColdMs: c.serviceUpAfterColdMs,
    cleanup: { reset: c.reset, leftRunning: c.leftRunning, iptablesRulesAfter: c.iptablesRulesAfter, varLibCni: c.varLibCni },
    notes: c.notes,
    raw: { ...Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, v.map(round)])), 'nsnet-cni ADD: service': c.service?.ADD, 'nsnet-cni DEL: service': c.service?.DEL },
  };
}
