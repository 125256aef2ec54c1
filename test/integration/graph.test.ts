/**
 * `nsnet graph` against a live lab, in a sandbox: examples/three-tier comes up with `nsnet up -f`,
 * `graph --format svg` is a well-formed SVG (parsed with an XML parser) naming every container and
 * address of the lab, `graph --format text` lists them too (within 80 columns), -f and --network
 * limit what is drawn, and `nsnet down` takes the lab away. The lab's name carries the sandbox
 * prefix, so every namespace is the sandbox's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { parse, stringify } from 'yaml';
import { createSandbox, describeResult, REPO, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

const ok = (r: RunResult): RunResult => {
  assert.equal(r.code, 0, describeResult(r));
  return r;
};

/** Every <text> of the SVG, parsed (a malformed document throws). */
function svgTexts(svg: string): string[] {
  const doc = new DOMParser({
    onError: (level: string, message: string) => {
      if (level !== 'warning') throw new Error(`SVG does not parse (${level}): ${message}`);
    },
  }).parseFromString(svg, 'image/svg+xml');
  const root = doc.documentElement;
  assert.ok(root !== null, 'the SVG has a root element');
  assert.equal(root.localName, 'svg');
  assert.equal(root.namespaceURI, SVG_NS);
  const texts: string[] = [];
  const nodes = root.getElementsByTagNameNS(SVG_NS, 'text');
  for (let i = 0; i < nodes.length; i++) texts.push(((nodes.item(i) as Element | null)?.textContent ?? '').trim());
  return texts;
}

/** The text names `word` as a whole token (an address is followed by /prefix or a space). */
const names = (texts: readonly string[], word: string): boolean => texts.some((t) => t.split(/[\s/:]+/).includes(word));

requiredSuite('nsnet graph: the live topology of a lab', { needs: [needs.integration, needs.graphviz], concurrency: false }, () => {
  let sb: Sandbox;
  let dir: string;
  let file: string;
  let lab: string;
  let containers: string[];
  let upDone = false;

  before(async () => {
    sb = await createSandbox('grph');
    lab = `${sb.prefix}g`;
    // The lab file lives in the sandbox's state directory (it goes with the sandbox); its name:
    // carries the sandbox prefix, so `-f` alone finds the lab.
    dir = fs.mkdtempSync(path.join(sb.root, 'lab-'));
    file = path.join(dir, 'lab.yaml');
    const doc = parse(fs.readFileSync(path.join(REPO, 'examples', 'three-tier', 'lab.yaml'), 'utf8')) as { name: string; containers: Record<string, unknown> };
    doc.name = lab;
    containers = Object.keys(doc.containers).map((c) => `${lab}-${c}`);
    fs.writeFileSync(file, stringify(doc));
  });

  after(async () => {
    try {
      if (upDone && sb !== undefined) await sb.nsnet(['down', '-f', file], { timeoutMs: 120_000 });
    } finally {
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
      const report = await sb?.destroy();
      if (report !== undefined) assert.deepEqual(report.problems, [], 'sandbox teardown');
    }
  });

  test('svg and text name every container and address; -f and --network limit the picture; down', async () => {
    upDone = true;
    ok(await sb.nsnet(['up', '-f', file], { timeoutMs: 120_000 }));
    // Something that is not the lab's: -f leaves it out, no option draws it.
    const other = `${sb.prefix}other`;
    ok(await sb.nsnet(['network', 'create', other, '--subnet', '10.31.9.0/24']));

    // What the lab is, from nsnet's own views.
    const addresses: string[] = [];
    for (const c of containers) {
      const [view] = JSON.parse(ok(await sb.nsnet(['inspect', c])).stdout) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>;
      const ips = Object.values(view!.NetworkSettings.Networks).map((n) => n.IPAddress);
      assert.ok(ips.length > 0, `${c} has addresses`);
      addresses.push(...ips);
    }
    const nets = (JSON.parse(ok(await sb.nsnet(['network', 'ls', '--format', 'json'])).stdout) as Array<{ Name: string; Gateway: string; Subnet: string }>).filter((n) =>
      n.Name.startsWith(`${lab}-`),
    );
    assert.equal(nets.length, 3);
    for (const n of nets) addresses.push(n.Gateway);
    assert.ok(addresses.includes('10.30.2.20') && addresses.includes('10.30.1.10'), addresses.join(' '));

    const svg = ok(await sb.nsnet(['graph', '-f', file, '--format', 'svg'])).stdout;
    const texts = svgTexts(svg);
    for (const c of containers) assert.ok(names(texts, c), `the SVG names container ${c}\n${texts.join('\n')}`);
    for (const a of addresses) assert.ok(names(texts, a), `the SVG names address ${a}\n${texts.join('\n')}`);
    for (const n of nets) assert.ok(names(texts, n.Name), `the SVG names network ${n.Name}`);
    assert.ok(texts.some((t) => t.includes('NAT (masquerade)')), 'the web network is drawn with its NAT');
    assert.ok(!names(texts, other), 'graph -f draws only the lab');

    const text = ok(await sb.nsnet(['graph', '-f', file, '--format', 'text'])).stdout;
    const lines = text.split('\n');
    for (const line of lines) assert.ok(line.length <= 80, `text fits 80 columns (${line.length}): ${line}`);
    for (const c of containers) assert.ok(names(lines, c), `the text lists container ${c}\n${text}`);
    for (const a of addresses) assert.ok(names(lines, a), `the text lists address ${a}\n${text}`);
    for (const n of nets) assert.match(text, new RegExp(`^network ${n.Name}  subnet ${n.Subnet.replace(/\./g, '\\.')}`, 'm'));
    assert.doesNotMatch(text, new RegExp(other));
    // Deterministic: the same state draws the same.
    assert.equal(ok(await sb.nsnet(['graph', '-f', file])).stdout, text);

    // No option: everything, the other network included. --network: one network and its containers.
    assert.match(ok(await sb.nsnet(['graph'])).stdout, new RegExp(`^network ${other} `, 'm'));
    const dbOnly = ok(await sb.nsnet(['graph', '--network', `${lab}-db`])).stdout;
    assert.match(dbOnly, /^nsnet topology: 1 network, 2 containers$/m);
    assert.match(dbOnly, new RegExp(`^container ${lab}-api `, 'm'));
    assert.doesNotMatch(dbOnly, new RegExp(`^container ${lab}-web `, 'm'));
    const dot = ok(await sb.nsnet(['graph', '--network', `${lab}-db`, '--format', 'dot'])).stdout;
    assert.match(dot, /^graph nsnet \{/);
    const mermaid = ok(await sb.nsnet(['graph', '-f', file, '--format', 'mermaid'])).stdout;
    assert.match(mermaid, /^flowchart LR\n/);

    ok(await sb.nsnet(['network', 'rm', other]));
    ok(await sb.nsnet(['down', '-f', file], { timeoutMs: 120_000 }));
    upDone = false;
    assert.equal(ok(await sb.nsnet(['graph'])).stdout, 'nsnet topology: 0 networks, 0 containers\n');
    const gone = await sb.nsnet(['graph', '-f', file]);
    assert.equal(gone.code, 1, describeResult(gone));
    assert.match(gone.stderr, /has nothing up/);
  });
});
