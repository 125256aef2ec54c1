/** latest.md's "Other measurements": one paragraph (and table) per section of the extras. */
import { growth, medianOf, stats } from '../common.js';
import { cniMarkdown } from './cni-markdown.js';
import { dockerApiMarkdown } from './docker-api.js';
import { portDeltas } from './figures.js';
import { f, mdTable, ratio } from './format.js';
import type { Extras, PortsResult, Target } from './types.js';

export function otherMeasurements(e: Extras, targets: Target[]): string[] {
  const notBuilt = targets.filter((t) => t.status === 'not built yet');
  return [
    '## Other measurements',
    '',
    ...(e.connect === undefined ? [] : connectMarkdown(e.connect)),
    ...(e.firewall !== undefined && e.firewall.length > 0 ? firewallMarkdown(e.firewall) : []),
    ...(e.ports ?? []).flatMap(portsMarkdown),
    ...(e.dns === undefined ? [] : dnsMarkdown(e.dns)),
    ...(e.nftCtx === undefined ? [] : nftCtxMarkdown(e.nftCtx)),
    ...(e.netem === undefined ? [] : netemMarkdown(e.netem)),
    ...(e.monitor === undefined ? [] : monitorMarkdown(e.monitor)),
    ...(e.vethDel === undefined ? [] : vethDelMarkdown(e.vethDel)),
    ...(e.iperf === undefined ? [`Throughput: ${e.iperfSkipped ?? 'not measured'}.`, ''] : iperfMarkdown(e.iperf)),
    ...(e.cni === undefined ? [] : cniMarkdown(e.cni)),
    ...(e.dockerApi === undefined ? [] : dockerApiMarkdown(e.dockerApi)),
    ...(e.noChild === undefined ? [] : noChildMarkdown(e.noChild)),
    notBuilt.length === 0 ? 'Everything the issue asks to measure exists in the measured build.' : `Not built yet in the measured build (reported, not faked): ${notBuilt.map((t) => t.target).join('; ')}.`,
    '',
  ];
}

function connectMarkdown(connect: NonNullable<Extras['connect']>): string[] {
  const out: string[] = [];
  out.push(`CLI start-up (${connect.samples['node -e 0']?.length ?? 0} runs each, interleaved) and peak RSS (${connect.rssMethod}):`, '');
  out.push(mdTable([['command', 'median', 'p95', 'min', 'max'], ...Object.entries(connect.samples).map(([k, v]) => { const s = stats(v); return [k, f(s?.median, k.includes('KiB') ? 0 : 1), f(s?.p95, k.includes('KiB') ? 0 : 1), f(s?.min, k.includes('KiB') ? 0 : 1), f(s?.max, k.includes('KiB') ? 0 : 1)]; })]), '');
  for (const [cmd, prof] of Object.entries(connect.profiles ?? {})) {
    if ('error' in prof) {
      out.push(`\`node --cpu-prof\` of \`${cmd}\`: ${prof.error}`, '');
      continue;
    }
    out.push(`\`node --cpu-prof\` of one \`${cmd}\` (${f(prof.spanMs, 1)} ms profiled; nsnet.mjs is the bundle; left: self time per function; right: each sample charged to the nearest nsnet function on its stack, with the Node internals it called, or to Node itself):`, '');
    out.push(mdTable([['function (self time)', 'ms', 'nearest nsnet function (or Node)', 'ms'], ...Array.from({ length: Math.max(prof.self.length, Math.min(12, prof.inclusive.length)) }, (_, i) => [prof.self[i]?.[0] ?? '', prof.self[i] ? f(prof.self[i]![1], 1) : '', prof.inclusive[i]?.[0] ?? '', prof.inclusive[i] ? f(prof.inclusive[i]![1], 1) : ''])]), '');
  }
  if (connect.straceConnect) out.push('`strace -f -c` of one `nsnet network connect` (top syscalls by time):', '', '```', connect.straceConnect.trim(), '```', '');
  return out;
}

function firewallMarkdown(firewall: NonNullable<Extras['firewall']>): string[] {
  const out: string[] = [];
  out.push('Firewall rule counts per driver, one network, containers made with the library run() (nft rules = rules in nsnet\'s tables; set elements = elements of its sets; iptables = `-A` lines of iptables-legacy-save + iptables-nft-save; ebtables = `-A` lines of ebtables-save; all in the sandbox host namespace, where nothing else has rules):', '');
  const cells = [['driver', 'when', 'nft rules', 'nft set elements', 'nft map elements', 'iptables rules', 'ebtables rules']];
  for (const x of firewall) for (const c of x.counts) cells.push([x.driver, c.label, String(c.nftRules ?? '—'), String(c.nftSetElements ?? '—'), String(c.nftMapElements ?? '—'), String(c.iptables), String(c.ebtables)]);
  out.push(mdTable(cells), '');
  out.push(mdTable([['driver', 'N', 'run() median ms', 'p95', 'remove() median ms', 'p95', 'growth (run)'], ...firewall.map((x) => { const a = stats(x.attachMs); const d = stats(x.detachMs); const g = growth(x.attachMs); return [x.driver, String(x.made), f(a?.median), f(a?.p95), f(d?.median), f(d?.p95), g === null ? '—' : `${f(g.ratio)} (${g.window})`]; })]), '');
  return out;
}

function portsMarkdown(p: PortsResult): string[] {
  if (!p.publishable) return [`Published ports, ${p.driver} driver: ${p.reason ?? 'not publishable'}.`, ''];
  const out: string[] = [];
  out.push(`Published ports, ${p.driver} driver (ms; "step alone" = the driver's addMappings/removeMappings steps applied with KernelRunner for one port 8080→80, ${p.steps?.add.length ?? 0} times; "${p.many} mappings" = ${p.many} ports added one transaction each, then removed; run()/remove() = ${p.lib?.['run() without -p']?.length ?? 0} interleaved pairs with and without \`publish: ['8080:80']\`):`, '');
  const rowsP: string[][] = [['what', 'median', 'p95', 'min', 'max']];
  const put = (k: string, v: number[] | undefined): void => { const st = stats(v ?? []); rowsP.push([k, f(st?.median, 3), f(st?.p95, 3), f(st?.min, 3), f(st?.max, 3)]); };
  put('step alone: add one mapping', p.steps?.add);
  put('step alone: remove one mapping', p.steps?.remove);
  put(`${p.many} mappings: add (each)`, p.manyMs?.add);
  put(`${p.many} mappings: remove (each)`, p.manyMs?.remove);
  for (const [k, v] of Object.entries(p.lib ?? {})) put(k, v);
  for (const [k, v] of Object.entries(p.libSteps ?? {})) if (k.includes('nft')) put(`step inside ${k}`, v);
  out.push(mdTable(rowsP), '');
  const d = portDeltas(p);
  const g = growth(p.manyMs?.add ?? []);
  out.push(`One port adds ${f(d.run)} ms to run() and ${f(d.remove)} ms to remove() (differences of medians); adding mappings grows ${g === null ? '—' : `${f(g.ratio)}× (last-${g.window}/first-${g.window})`} from the 1st to the ${p.many}th.`, '');
  if (p.procRead !== undefined) {
    out.push(`Reading the files publish() scans for host listeners, in the sandbox namespace (ms, 20 reads each; TCP established hash: ${p.tcpEhashEntries === undefined ? '?' : `${Math.abs(p.tcpEhashEntries)} buckets${p.tcpEhashEntries < 0 ? ', the initial namespace\'s, shared (tcp_ehash_entries is negative here)' : ''}`}): ${Object.entries(p.procRead).map(([k, v]) => `${k} ${f(medianOf(v), 3)}`).join(', ')}.`, '');
  }
  if (p.counts !== undefined) out.push(mdTable([['mappings', 'nft rules', 'nft map elements', 'nft set elements', 'iptables rules', 'ebtables rules'], ...p.counts.map((c) => [c.label, String(c.nftRules ?? '—'), String(c.nftMapElements ?? '—'), String(c.nftSetElements ?? '—'), String(c.iptables), String(c.ebtables)])]), '');
  return out;
}

function dnsMarkdown(d: NonNullable<Extras['dns']>): string[] {
  const out: string[] = [];
  if (d.running === true) {
    const cells = [['when', 'VmHWM (peak RSS) KiB', 'VmRSS KiB', 'threads']];
    for (const [k, v] of [['after start, before queries', d.idle], [`after ${d.load?.got ?? '?'} of ${d.queries} queries`, d.afterQueries]] as const) cells.push([k, String(v?.['VmHWM'] ?? '—'), String(v?.['VmRSS'] ?? '—'), String(v?.['Threads'] ?? '—')]);
    out.push(`DNS responder (\`${d.command ?? 'dns-serve'}\`, started by \`nsnet run -d\` for ${d.containers} containers on one network; queries for the containers' names over UDP from one container, 8 in flight):`, '', mdTable(cells), '');
  } else out.push(`DNS responder: ${d.reason ?? 'did not start'}.`, '');
  return out;
}

function nftCtxMarkdown(nftCtx: NonNullable<Extras['nftCtx']>): string[] {
  const out: string[] = [];
  out.push('nftables transactions that delete a set element, libnftables in-process, on a table of the benchmark\'s own (ms): a fresh context per call (what nsnet does) closes its netlink socket after every transaction, and that close waits for the kernel to free the deleted element after an RCU grace period; with one context kept open the delete itself is as cheap as the add, and the wait moves to the close:', '');
  out.push(mdTable([['what', 'n', 'median', 'p95', 'min', 'max'], ...Object.entries(nftCtx.samples).map(([k, v]) => { const st = stats(v); return [k, String(st?.n ?? 0), f(st?.median, 3), f(st?.p95, 3), f(st?.min, 3), f(st?.max, 3)]; })]), '');
  return out;
}

function monitorMarkdown(m: NonNullable<Extras['monitor']>): string[] {
  const rows = ['VmRSS', 'VmHWM', 'Pss', 'Private_Dirty'].map((k) => {
    const st = stats(m.monitors.map((x) => x[k] ?? NaN).filter((v) => !Number.isNaN(v)));
    return [k, String(st?.n ?? 0), f(st?.median, 0), f(st?.min, 0), f(st?.max, 0)];
  });
  const pss = stats(m.monitors.map((x) => x['Pss'] ?? NaN).filter((v) => !Number.isNaN(v)))?.median;
  return [
    `Per-container monitors (\`bin/nsnet-monitor\`, static, ${Math.round(m.binaryBytes / 1024)} KiB on disk), one per detached container, after \`nsnet run -d --network none -- sleep 1000\` of ${m.n} containers (KiB per monitor; Pss shares the pages the monitors have in common):`,
    '',
    mdTable([['what', 'n', 'median', 'min', 'max'], ...rows]),
    '',
    ...(pss === undefined ? [] : [`1000 monitors at the median Pss: ${f((pss * 1000) / 1024, 0)} MiB.`, '']),
  ];
}

function netemMarkdown(netem: NonNullable<Extras['netem']>): string[] {
  const rows = [...Object.entries(netem.samples), ...Object.entries(netem.steps).map(([k, v]): [string, number[]] => [`${k}(kernel runner only)`, v])];
  return [
    `\`nsnet netem set\` through the library (lock, decision, journal, records, the qdisc over rtnetlink), a rate alternating between two values on one container's eth0, with 1 container on the host and with ${netem.n} (ms):`,
    '',
    mdTable([['what', 'n', 'median', 'p95', 'min', 'max'], ...rows.map(([k, v]) => { const st = stats(v); return [k, String(st?.n ?? 0), f(st?.median, 3), f(st?.p95, 3), f(st?.min, 3), f(st?.max, 3)]; })]),
    '',
  ];
}

function vethDelMarkdown(vethDel: NonNullable<Extras['vethDel']>): string[] {
  const out: string[] = [];
  out.push('Detach by deleting the veth vs deleting the namespace (same run, containers made with KernelRunner, ms):', '');
  out.push(mdTable([['how', 'median', 'p95', 'min', 'max'], ...Object.entries(vethDel.samples).map(([k, v]) => { const s = stats(v); return [k, f(s?.median), f(s?.p95), f(s?.min), f(s?.max)]; })]), '');
  return out;
}

function iperfMarkdown(iperf: NonNullable<Extras['iperf']>): string[] {
  const out: string[] = [];
  out.push(`Throughput, iperf3 TCP, ${iperf.seconds} s per run, ${iperf.rounds ?? 2} rounds (each round runs every configuration once, rotating the order), two containers on one bridge, Gbit/s (anti-spoofing: ${iperf.antiSpoofing}; by-hand bridge: ${iperf.byHandHost ?? 'in the sandbox host namespace, beside nsnet\'s tables'}; br_netfilter bridge-nf-call-iptables in the sandbox: ${iperf.brNetfilter ?? '?'}):`, '');
  const hand = Math.max(...(iperf.gbps['by-hand bridge'] ?? [NaN]));
  const handMed = medianOf(iperf.gbps['by-hand bridge'] ?? []);
  out.push(mdTable([['configuration', 'runs', 'best', 'median', 'best ×by-hand', 'median ×by-hand'], ...Object.entries(iperf.gbps).map(([k, v]) => [k, v.map((x) => x.toFixed(1)).join(', '), f(Math.max(...v), 1), f(medianOf(v), 1), f(ratio(Math.max(...v), hand)), f(ratio(medianOf(v), handMed))])]), '');
  return out;
}

function noChildMarkdown(noChild: NonNullable<Extras['noChild']>): string[] {
  const out: string[] = [];
  out.push(`No-child check (lib-kernel attach loop under \`strace -f -e trace=process\`): ${noChild.checked ? `${noChild.childProcesses} child processes during ${noChild.containers} attaches` : noChild.note}.`, '');
  return out;
}
