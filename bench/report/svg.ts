/** latest.svg: median attach and detach time per container against N, one line per method, log-log. */
import { METHOD_LABEL, type Method } from '../common.js';
import { escapeXml } from './format.js';
import type { ReportInput, Row } from './types.js';

const COLORS: Record<Method, string> = { floor: '#222222', byhand: '#d62728', cli: '#ff7f0e', 'lib-kernel': '#2ca02c', 'lib-run': '#1f77b4' };

export function renderSvg(rows: Row[], input: Pick<ReportInput, 'ns' | 'methods'>): string {
  const W = 980;
  const H = 440;
  const panels = [
    { title: 'attach: median ms per container', get: (r: Row) => r.attach?.median, x0: 0 },
    { title: 'detach: median ms per container', get: (r: Row) => r.detach?.median, x0: W / 2 },
  ];
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  const ns = input.ns.length ? input.ns : [1];
  const xMin = Math.min(...ns);
  const xMax = Math.max(...ns);
  for (const p of panels) {
    const vals = rows.map(p.get).filter((v): v is number => v !== undefined && v > 0);
    if (vals.length === 0) continue;
    const yMin = 10 ** Math.floor(Math.log10(Math.min(...vals)));
    const yMax = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
    const L = p.x0 + 60;
    const R = p.x0 + W / 2 - 20;
    const T = 40;
    const B = H - 110;
    const sx = (n: number): number => (xMax === xMin ? (L + R) / 2 : L + ((Math.log10(n) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (R - L));
    const sy = (v: number): number => B - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (B - T);
    parts.push(`<text x="${(L + R) / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${p.title}</text>`);
    parts.push(`<rect x="${L}" y="${T}" width="${R - L}" height="${B - T}" fill="none" stroke="#999"/>`);
    for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
      for (const mul of [1, 2, 5]) {
        const v = d * mul;
        if (v > yMax * 1.0001) break;
        parts.push(`<line x1="${L}" x2="${R}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="${mul === 1 ? '#ccc' : '#eee'}"/>`);
        parts.push(`<text x="${L - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v >= 1 ? v : v.toPrecision(1)}</text>`);
      }
    }
    for (const n of ns) {
      parts.push(`<line x1="${sx(n).toFixed(1)}" x2="${sx(n).toFixed(1)}" y1="${T}" y2="${B}" stroke="#eee"/>`);
      parts.push(`<text x="${sx(n).toFixed(1)}" y="${B + 16}" text-anchor="middle" fill="#555">${n}</text>`);
    }
    parts.push(`<text x="${(L + R) / 2}" y="${B + 34}" text-anchor="middle">N containers on one bridge (log scale)</text>`);
    parts.push(`<text x="${p.x0 + 16}" y="${(T + B) / 2}" text-anchor="middle" transform="rotate(-90 ${p.x0 + 16} ${(T + B) / 2})">ms per container (log scale)</text>`);
    for (const m of input.methods) {
      const pts = rows.filter((r) => r.method === m).map((r) => [r.n, p.get(r)] as const).filter((x): x is readonly [number, number] => x[1] !== undefined && x[1] > 0);
      if (pts.length === 0) continue;
      parts.push(`<polyline fill="none" stroke="${COLORS[m]}" stroke-width="2" points="${pts.map(([n, v]) => `${sx(n).toFixed(1)},${sy(v).toFixed(1)}`).join(' ')}"/>`);
      for (const [n, v] of pts) parts.push(`<circle cx="${sx(n).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${COLORS[m]}"><title>${m} N=${n}: ${v.toFixed(2)} ms</title></circle>`);
    }
  }
  input.methods.forEach((m, i) => {
    const x = 60 + (i % 3) * 310;
    const y = H - 50 + Math.floor(i / 3) * 20;
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${COLORS[m]}" stroke-width="3"/>`);
    parts.push(`<text x="${x + 30}" y="${y}">${escapeXml(METHOD_LABEL[m])}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
