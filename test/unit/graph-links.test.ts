/** `graph` draws point-to-point links between their two containers, in text, Mermaid and dot. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDot, renderMermaid, renderText, topologyFrom } from '../../src/engine/graph.js';
import type { P2pLinkRecord } from '../../src/store/index.js';

const link = (id: string, a: string, aIf: string, aIp: string | null, b: string, bIf: string, bIp: string | null): P2pLinkRecord => ({ id, aContainer: a, aIf, aIp, bContainer: b, bIf, bIp, created: '2026-01-01T00:00:00Z' });

const topology = topologyFrom({
  networks: [],
  containers: ['r1', 'r2', 'r3'].map((n) => ({ id: n, name: n, status: 'running' })),
  endpoints: [],
  ports: [],
  links: [link('1', 'r1', 'eth1', '10.0.12.1/30', 'r2', 'eth1', '10.0.12.2/30'), link('2', 'r1', 'eth2', null, 'r3', 'eth1', null), link('3', 'r2', 'eth2', '10.0.23.1/30', 'gone', 'eth2', null)],
});

test('links between containers of the topology; one to a container left out is not drawn', () => {
  assert.equal(topology.links?.length, 2);
});

test('text: each container lists its link ends, and a section lists the pairs', () => {
  const text = renderText(topology, 100);
  assert.match(text, /^ {2}eth1 10\.0\.12\.1\/30 \(p2p to r2:eth1\)$/m);
  assert.match(text, /^point-to-point links \(veth pairs between containers, no bridge\)\n {2}r1:eth1 10\.0\.12\.1\/30 {2}<-veth-> {2}r2:eth1 10\.0\.12\.2\/30\n {2}r1:eth2 {2}<-veth-> {2}r3:eth1$/m);
});

test('mermaid and dot: an edge between the two containers', () => {
  assert.match(renderMermaid(topology), /^ {2}c0 ===\|"r1:eth1 10\.0\.12\.1\/30 #lt;-#gt; r2:eth1 10\.0\.12\.2\/30"\| c1$/m);
  assert.match(renderDot(topology), /^ {2}"ctr:r1" -- "ctr:r3" \[style=bold, label="p2p\\nr1:eth2\\nr3:eth1"\];$/m);
});
