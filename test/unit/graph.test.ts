/** nsnet graph's renderers, golden-tested from a fixture of store records (see src/engine/graph.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDot, renderMermaid, renderText, topologyFrom, type Topology } from '../../src/engine/graph.js';
import type { EndpointRecord, NetworkRecord, PortRecord } from '../../src/store/index.js';

const T = '2026-01-01T00:00:00.000Z';

function net(id: string, name: string, bridge: string, subnet: string, gateway: string, extra: Partial<NetworkRecord> = {}): NetworkRecord {
  return { id, name, bridge, subnet, gateway, ipRange: null, internal: false, mtu: null, options: {}, labels: {}, isDefault: false, created: T, ipamCursor: null, ...extra };
}

function ep(id: string, networkId: string, containerId: string, ifName: string, hostIf: string, ip: string): EndpointRecord {
  return { id, networkId, containerId, ifName, hostIf, ip, ipInt: 0, mac: '02:42:00:00:00:00', created: T };
}

/** Given out of order on purpose: the model sorts. */
function fixture(reverse = false): Topology {
  const networks = [
    net('n3', 'lab-db', 'nsbr-db', '10.30.3.0/24', '10.30.3.1', { internal: true }),
    net('n1', 'lab-web', 'nsbr-web', '10.30.1.0/24', '10.30.1.1'),
    net('n2', 'lab-api', 'nsbr-api', '10.30.2.0/24', '10.30.2.1', { options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } }),
  ];
  const containers = [
    { id: 'c3', name: 'lab-db', status: 'running' },
    { id: 'c1', name: 'lab-web', status: 'running' },
    { id: 'c2', name: 'lab-api-with-a-rather-long-container-name-to-wrap', status: 'exited' },
    { id: 'c4', name: 'lonely', status: 'created' },
  ];
  const endpoints = [
    ep('e5', 'n3', 'c3', 'eth0', 'veth0005', '10.30.3.2'),
    ep('e2', 'n2', 'c1', 'eth1', 'veth0002', '10.30.2.10'),
    ep('e1', 'n1', 'c1', 'eth0', 'veth0001', '10.30.1.10'),
    ep('e4', 'n3', 'c2', 'eth1', 'veth0004', '10.30.3.20'),
    ep('e3', 'n2', 'c2', 'eth0', 'veth0003', '10.30.2.20'),
    ep('ex', 'gone', 'c1', 'eth2', 'veth9999', '192.0.2.1'),
  ];
  const ports: PortRecord[] = [
    { endpointId: 'e1', containerId: 'c1', hostIp: null, hostPort: 8080, containerPort: 80, proto: 'tcp' },
    { endpointId: 'e1', containerId: 'c1', hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, proto: 'udp' },
  ];
  const order = <X>(xs: X[]): X[] => (reverse ? [...xs].reverse() : xs);
  return topologyFrom({ networks: order(networks), containers: order(containers), endpoints: order(endpoints), ports: order(ports) });
}

const GOLDEN_TEXT = `nsnet topology: 3 networks, 4 containers

network lab-api  subnet 10.30.2.0/24  gateway 10.30.2.1  bridge nsbr-api
  outside <-- host uplink <-- routed, no NAT <--  bridge nsbr-api
  |-- veth0003 <-veth-> lab-api-with-a-rather-long-container-name-to-wrap:eth0
  |       10.30.2.20/24
  \`-- veth0002 <-veth-> lab-web:eth1  10.30.2.10/24

network lab-db  subnet 10.30.3.0/24  gateway 10.30.3.1  bridge nsbr-db
  no uplink, no NAT (internal) --  bridge nsbr-db
  |-- veth0004 <-veth-> lab-api-with-a-rather-long-container-name-to-wrap:eth1
  |       10.30.3.20/24
  \`-- veth0005 <-veth-> lab-db:eth0  10.30.3.2/24

network lab-web  subnet 10.30.1.0/24  gateway 10.30.1.1  bridge nsbr-web
  outside <-- host uplink <-- NAT (masquerade) <--  bridge nsbr-web
  \`-- veth0001 <-veth-> lab-web:eth0  10.30.1.10/24

container lab-api-with-a-rather-long-container-name-to-wrap  (exited)
  eth0  10.30.2.20/24  on lab-api  host side veth0003
  eth1  10.30.3.20/24  on lab-db  host side veth0004

container lab-db  (running)
  eth0  10.30.3.2/24  on lab-db  host side veth0005

container lab-web  (running)
  eth0  10.30.1.10/24  on lab-web  host side veth0001
  eth1  10.30.2.10/24  on lab-api  host side veth0002
  port  127.0.0.1:5353->53/udp  on lab-web
  port  0.0.0.0:8080->80/tcp  on lab-web

container lonely  (created)
  (no interfaces)
`;

const GOLDEN_MERMAID = `flowchart LR
  outside(("outside"))
  n0["network lab-api<br/>bridge nsbr-api<br/>gateway 10.30.2.1<br/>subnet 10.30.2.0/24"]
  n1["network lab-db<br/>bridge nsbr-db<br/>gateway 10.30.3.1<br/>subnet 10.30.3.0/24<br/>internal"]
  n2["network lab-web<br/>bridge nsbr-web<br/>gateway 10.30.1.1<br/>subnet 10.30.1.0/24"]
  c0["container lab-api-with-a-rather-long-container-name-to-wrap<br/>eth0 10.30.2.20/24<br/>eth1 10.30.3.20/24"]
  c1["container lab-db<br/>eth0 10.30.3.2/24"]
  c2["container lab-web<br/>eth0 10.30.1.10/24<br/>eth1 10.30.2.10/24"]
  c3["container lonely"]
  outside ---|"routed via host uplink"| n0
  outside ---|"NAT (masquerade) via host uplink"| n2
  n0 ---|"veth0003 #lt;-#gt; eth0"| c0
  n1 ---|"veth0004 #lt;-#gt; eth1"| c0
  n1 ---|"veth0005 #lt;-#gt; eth0"| c1
  n2 ---|"veth0001 #lt;-#gt; eth0"| c2
  n0 ---|"veth0002 #lt;-#gt; eth1"| c2
  outside -.->|"127.0.0.1:5353-#gt;53/udp"| c2
  outside -.->|"0.0.0.0:8080-#gt;80/tcp"| c2
`;

const GOLDEN_DOT = `graph nsnet {
  rankdir=LR;
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
  outside [shape=ellipse, style=dashed, label="outside"];
  "net:lab-api" [shape=box, style=rounded, label="network lab-api\\nbridge nsbr-api\\ngateway 10.30.2.1\\nsubnet 10.30.2.0/24"];
  "net:lab-db" [shape=box, style=rounded, label="network lab-db\\nbridge nsbr-db\\ngateway 10.30.3.1\\nsubnet 10.30.3.0/24\\ninternal"];
  "net:lab-web" [shape=box, style=rounded, label="network lab-web\\nbridge nsbr-web\\ngateway 10.30.1.1\\nsubnet 10.30.1.0/24"];
  "ctr:lab-api-with-a-rather-long-container-name-to-wrap" [shape=box, label="container lab-api-with-a-rather-long-container-name-to-wrap\\neth0 10.30.2.20/24\\neth1 10.30.3.20/24"];
  "ctr:lab-db" [shape=box, label="container lab-db\\neth0 10.30.3.2/24"];
  "ctr:lab-web" [shape=box, label="container lab-web\\neth0 10.30.1.10/24\\neth1 10.30.2.10/24"];
  "ctr:lonely" [shape=box, label="container lonely"];
  outside -- "net:lab-api" [label="routed\\nvia host uplink"];
  outside -- "net:lab-web" [label="NAT (masquerade)\\nvia host uplink"];
  "net:lab-api" -- "ctr:lab-api-with-a-rather-long-container-name-to-wrap" [label="veth0003 <-> eth0"];
  "net:lab-db" -- "ctr:lab-api-with-a-rather-long-container-name-to-wrap" [label="veth0004 <-> eth1"];
  "net:lab-db" -- "ctr:lab-db" [label="veth0005 <-> eth0"];
  "net:lab-web" -- "ctr:lab-web" [label="veth0001 <-> eth0"];
  "net:lab-api" -- "ctr:lab-web" [label="veth0002 <-> eth1"];
  outside -- "ctr:lab-web" [style=dotted, label="port 127.0.0.1:5353->53/udp"];
  outside -- "ctr:lab-web" [style=dotted, label="port 0.0.0.0:8080->80/tcp"];
}
`;

test('text: golden, sorted, every line within 80 columns', () => {
  const text = renderText(fixture());
  assert.equal(text, GOLDEN_TEXT);
  for (const line of text.split('\n')) assert.ok(line.length <= 80, `too wide (${line.length}): ${line}`);
});

test('mermaid: golden', () => {
  assert.equal(renderMermaid(fixture()), GOLDEN_MERMAID);
});

test('dot: golden', () => {
  assert.equal(renderDot(fixture()), GOLDEN_DOT);
});

test('the same state in any order draws the same', () => {
  const a = fixture();
  const b = fixture(true);
  assert.deepEqual(b, a);
  assert.equal(renderText(b), renderText(a));
  assert.equal(renderMermaid(b), renderMermaid(a));
  assert.equal(renderDot(b), renderDot(a));
});

test('names longer than a line wrap (and split) instead of overflowing', () => {
  const long = 'x'.repeat(150);
  const t: Topology = {
    networks: [{ name: `net-${long}`, bridge: 'nsbr0', subnet: '10.1.0.0/16', gateway: '10.1.0.1', uplink: 'nat' }],
    containers: [
      {
        name: `ctr-${long}`,
        status: 'running',
        interfaces: [{ ifName: 'eth0', hostIf: 'veth0', network: `net-${long}`, address: '10.1.0.2/16' }],
        ports: [{ hostIp: null, hostPort: 80, containerPort: 8080, proto: 'tcp', network: `net-${long}` }],
      },
    ],
  };
  for (const width of [80, 40]) {
    const text = renderText(t, width);
    for (const line of text.split('\n')) assert.ok(line.length <= width, `too wide for ${width} (${line.length}): ${line}`);
    // Nothing is lost: the whole name is there, split over lines.
    const joined = text.replace(/\n[ |`]*/g, '');
    assert.ok(joined.includes(`ctr-${long}`) && joined.includes(`net-${long}`) && joined.includes('10.1.0.2/16'));
  }
});

test('dot and mermaid escape quotes and backslashes in names', () => {
  const t: Topology = { networks: [], containers: [{ name: 'a"b\\c<d>', status: 'running', interfaces: [], ports: [] }] };
  assert.match(renderDot(t), /"ctr:a\\"b\\\\c<d>" \[shape=box, label="container a\\"b\\\\c<d>"\];/);
  assert.match(renderMermaid(t), /c0\["container a#quot;b\\c#lt;d#gt;"\]/);
});

test('an empty state draws an empty picture', () => {
  const t = topologyFrom({ networks: [], containers: [], endpoints: [], ports: [] });
  assert.equal(renderText(t), 'nsnet topology: 0 networks, 0 containers\n');
  assert.equal(renderMermaid(t), 'flowchart LR\n');
  assert.doesNotMatch(renderDot(t), /outside/);
});
