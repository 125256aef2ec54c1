/** What the report is built from (the orchestrator's facts, the workers' results) and what it derives (rows, targets). */
import type { Method, RuleCounts, Stats, WorkerResult } from '../common.js';
import type { ProfileSummary } from '../jobs/cpu-profile.js';
import type { DockerApiResult } from '../jobs/docker-api.js';

export interface Machine {
  kernel: string;
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  nsnetCommit: string;
  srcDirty: string[];
  iproute2: string;
  nft: string;
  iperf3: string;
  date: string;
  codeMeasured?: string;
  loadAvgStart?: number[];
  loadAvgEnd?: number[];
  /** 1-minute load average every 10 s during the run. */
  loadSamples?: number[];
  /** Other processes using ≥ 5 % CPU at the end (ps: %CPU command). */
  otherLoad?: string[];
  /** bench/what-dominates.md says which commit its explanations were checked against. */
  notesReviewedAgainst?: { commit: string; srcChangedSince: string[] | null };
}

export interface PortsResult {
  driver: string;
  publishable: boolean;
  reason?: string;
  reps?: number;
  many?: number;
  /** The mapping step alone (KernelRunner), one port added then removed, ms. */
  steps?: { add: number[]; remove: number[] };
  /** 1000 mappings added one transaction each, then removed. */
  manyMs?: { add: number[]; remove: number[] };
  counts?: Array<{ label: string; mappings: number } & RuleCounts>;
  /** run()/remove() with and without -p 8080:80, interleaved. */
  lib?: Record<string, number[]>;
  libSteps?: Record<string, number[]>;
  /** Reading /proc/net/{tcp,tcp6,udp,udp6} in the sandbox namespace, ms. */
  procRead?: Record<string, number[]>;
  tcpEhashEntries?: number;
}

export interface DnsResult {
  running?: boolean;
  reason?: string;
  pid?: number;
  containers: number;
  queries: number;
  idle?: Record<string, number>;
  afterQueries?: Record<string, number>;
  load?: { sent?: number; got?: number; ms?: number; medianMs?: number | null; error?: string };
  command?: string;
  note?: string;
  leftRunning?: boolean;
}

export interface Extras {
  noChild?: { checked: boolean; containers?: number; childProcesses?: number; note: string };
  connect?: {
    samples: Record<string, number[]>;
    rssMethod: string;
    straceConnect?: string;
    /** node --cpu-prof of one CLI command: self and inclusive ms per function. */
    profiles?: Record<string, ProfileSummary | { error: string }>;
  };
  vethDel?: { samples: Record<string, number[]> };
  iperf?: { gbps: Record<string, number[]>; seconds: number; rounds?: number; antiSpoofing: 'built'; byHandHost?: string; brNetfilter?: string };
  /** Why the iperf section did not run (the throughput target then fails the run). */
  iperfSkipped?: string;
  features?: { ports: boolean; dns: boolean; iptables: boolean };
  firewall?: Array<{ driver: string; n: number; made: number; attachMs: number[]; detachMs: number[]; counts: Array<{ label: string; containers: number | null } & RuleCounts>; failed?: string }>;
  ports?: PortsResult[];
  dns?: DnsResult;
  /** libnftables: element delete with a fresh context per call vs one kept open. */
  nftCtx?: { samples: Record<string, number[]> };
  /** The library's attach on an IPv4-only and on a dual-stack network, interleaved; nft rules with 1 and n dual-stack containers (the worker's attach-dual job). */
  attachDual?: { reps: number; n: number; samples: Record<string, number[]>; nftRulesAfter1: number | null; nftRulesAfterN: number | null; steps: Record<string, number[]> };
  /** nsnet netem set/clear through the library, with one container on the host and with n (the worker's netem job). */
  netem?: { n: number; reps: number; samples: Record<string, number[]>; steps: Record<string, number[]> };
  /** nsnet partition create/heal through the library, with two containers on the host and with n (the worker's partition job). */
  partition?: { n: number; reps: number; samples: Record<string, number[]>; steps: Record<string, number[]> };
  /** nsnet-cni vs the reference CNI bridge plugin, ADD and DEL (the worker's cni job). */
  cni?: CniBench;
  /** The docker CLI against nsnet serve and against dockerd (the worker's docker-api job). */
  dockerApi?: DockerApiResult;
  /** The per-container monitors' memory (KiB per monitor: VmRSS, VmHWM, Pss, Private_*), after run -d of n containers (the worker's monitor job). */
  monitor?: { n: number; monitors: Array<Record<string, number>>; binaryBytes: number };
}

export interface CniBench {
  available: boolean;
  reason?: string;
  /** Containers per plugin in the interleaved loop. */
  n?: number;
  configs?: Record<string, string>;
  /** How the calls were timed. */
  timing?: string;
  /** Wall ms per call, spawn to exit: 'nsnet-cni ADD', 'bridge ADD', ... DEL, VERSION, 'spawn /bin/true'. */
  samples?: Record<string, number[]>;
  /** The service's own handling ms from its log, aligned with the nsnet-cni ADD/DEL samples (null: no line). */
  service?: { logLines: number; ADD: Array<number | null>; DEL: Array<number | null>; VERSION: number[] };
  /** Calls outside the medians: the first ADD of each plugin, the DEL of those containers. */
  cold?: Record<string, number>;
  serviceUpAfterColdMs?: number;
  reset?: string;
  leftRunning?: Array<{ pid: number; argv: string }>;
  iptablesRulesAfter?: number;
  varLibCni?: { before: boolean; after: boolean };
  notes?: string[];
}

export interface ReportInput {
  machine: Machine;
  ns: number[];
  methods: Method[];
  caps: Partial<Record<Method, number>>;
  runs: WorkerResult[];
  extras: Extras;
  errors: string[];
  durationS: number;
  /** Hand-written notes (bench/what-dominates.md), appended under "What dominates". */
  analysis?: string[];
  /** A full run: every target left "not measured" is an error (a partial run measures only what it selected). */
  everyTargetRequired?: boolean;
}

export interface Row {
  method: Method;
  n: number;
  attach: Stats | null;
  detach: Stats | null;
  attachGrowth: { window: number; ratio: number } | null;
  detachGrowth: { window: number; ratio: number } | null;
  attachTotalS: number;
  nftRulesAfter1: number | null;
  nftRulesAfterN: number | null;
  /** attach median / same-run floor median, / by-hand median (and detach likewise). */
  attachVsFloor: number | null;
  attachVsByhand: number | null;
  detachVsFloor: number | null;
  detachVsByhand: number | null;
}

export interface Target {
  id: string;
  target: string;
  measured: string;
  /** 'measured': a figure the issue asks for without a pass/fail threshold. */
  status: 'pass' | 'miss' | 'not built yet' | 'not measured' | 'measured';
}
