/**
 * The listings' pieces without a kernel: docker/cli's durations, Ellipsis and port text, ps's
 * selection (filters, -a, -n, -l, newest first), network ls's filters, and table rendering.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { humanDuration, goTime } from '../../src/cli/listing/docker-time.js';
import { parseFilters } from '../../src/cli/listing/filters.js';
import { NETWORK_FILTERS, NETWORK_SHAPE, networkMatcher, networkRow, type ListedNetwork } from '../../src/cli/listing/network-rows.js';
import { ellipsis, portsText, PS_SHAPE, psRow, type PsItem } from '../../src/cli/listing/ps-rows.js';
import { selectContainers } from '../../src/cli/listing/ps-select.js';
import { renderListing } from '../../src/cli/listing/render.js';
import type { ContainerRecord } from '../../src/store/index.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();

function item(name: string, createdSecondsAgo: number, status: 'running' | 'exited' | 'created', extra: Partial<ContainerRecord> = {}, exitCode: number | null = null): PsItem {
  const container = {
    id: `${name.padEnd(12, '0')}${'a'.repeat(52)}`, name, hostname: name, command: ['sleep', '1000'], env: {}, rootfs: null, detached: true,
    status, pid: null, pidStart: null, exitCode, logPath: '', created: ago(createdSecondsAgo), startedAt: ago(createdSecondsAgo),
    finishedAt: status === 'exited' ? ago(1) : null, netns: '', cniContainerId: null, runtime: null, capAdd: [], capDrop: [], privileged: false,
    ...extra,
  } as ContainerRecord;
  return { container, live: { status, pid: 0, exitCode }, networks: [{ id: 'n1'.padEnd(64, '1'), name: 'front' }], ports: [] };
}

describe('docker/cli text', () => {
  test("go-units' HumanDuration", () => {
    const rows: Array<[number, string]> = [[0.5, 'Less than a second'], [1, '1 second'], [59, '59 seconds'], [60, 'About a minute'], [119, 'About a minute'],
      [120, '2 minutes'], [3599, '59 minutes'], [3600, 'About an hour'], [5400, '2 hours'], [47 * 3600, '47 hours'], [48 * 3600, '2 days'], [15 * 86400, '2 weeks'], [61 * 86400, '2 months'], [800 * 86400, '2 years']];
    for (const [s, want] of rows) assert.equal(humanDuration(s * 1000), want, `${s}s`);
  });
  test('Ellipsis, quoting, ports, CreatedAt', () => {
    assert.equal(ellipsis('sleep 1000', 20), 'sleep 1000');
    assert.equal(ellipsis('sh -c sleep 1001; echo tail', 20), 'sh -c sleep 1001; e…');
    assert.equal(portsText([{ hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' }, { hostIp: '::', hostPort: 8080, containerPort: 80, proto: 'tcp' }], ['80/tcp', '53/udp']),
      '0.0.0.0:8080->80/tcp, :::8080->80/tcp, 53/udp');
    assert.equal(goTime('2026-01-01T12:00:00.123Z'), '2026-01-01 12:00:00 +0000 UTC');
    const row = psRow(item('web', 30, 'running', { command: ['sh', '-c', 'echo "hi" && sleep 1000'], rootfs: '/srv/alpine' }), { trunc: true, now: NOW });
    assert.equal(row['Command'], '"sh -c echo \\"hi\\" && …"');
    assert.equal(row['Image'], '/srv/alpine');
    assert.equal(row['RunningFor'], '30 seconds ago');
    assert.equal(row['Status'], 'Up 30 seconds');
    assert.equal(row['ID'], 'web000000000');
    assert.equal(psRow(item('old', 90, 'exited', {}, 3), { trunc: false, now: NOW })['Status'], 'Exited (3) 1 second ago');
  });
});

describe('ps selection', () => {
  const items = [item('c', 10, 'exited', {}, 3), item('b', 20, 'running', { exposedPorts: ['9000/udp'] }), item('a', 30, 'running')];
  const names = (o: Parameters<typeof selectContainers>[1]): string[] => selectContainers(items, o).map((i) => i.container.name);
  test('running only unless -a, a status/exited filter or -n/-l', () => {
    assert.deepEqual(names({}), ['b', 'a']);
    assert.deepEqual(names({ all: true }), ['c', 'b', 'a']);
    assert.deepEqual(names({ latest: true }), ['c']);
    assert.deepEqual(names({ last: '2' }), ['c', 'b']);
    assert.deepEqual(names({ filter: ['status=exited'] }), ['c']);
    assert.deepEqual(names({ filter: ['exited=3'] }), ['c']);
    assert.deepEqual(names({ all: true, filter: ['name=a', 'name=b'] }), ['b', 'a']);
    assert.deepEqual(names({ all: true, filter: ['name=^b$'] }), ['b']);
    assert.deepEqual(names({ all: true, filter: ['expose=9000/udp'] }), ['b']);
    assert.deepEqual(names({ all: true, filter: ['network=front', 'status=running'] }), ['b', 'a']);
    assert.deepEqual(names({ all: true, filter: ['before=b'] }), ['a']);
    assert.deepEqual(names({ all: true, filter: ['since=b'] }), ['c']);
  });
  test('bad filters are refused before anything is listed', () => {
    assert.throws(() => names({ filter: ['colour=red'] }), { code: 'INVALID_VALUE', message: "invalid filter 'colour'" });
    assert.throws(() => names({ filter: ['colour'] }), { code: 'USAGE' });
    assert.throws(() => names({ filter: ['status=asleep'] }), { code: 'INVALID_VALUE' });
    assert.throws(() => names({ filter: ['before=nobody'] }), { code: 'INVALID_VALUE' });
    assert.throws(() => names({ last: 'x' }), { code: 'USAGE' });
  });
});

describe('network ls filters', () => {
  const nets: ListedNetwork[] = [
    { id: 'a'.repeat(64), name: 'bridge', driver: 'bridge', internal: false, labels: {}, created: ago(100), builtin: true },
    { id: 'b'.repeat(64), name: 'shop', driver: 'bridge', internal: true, labels: { team: 'red' }, created: ago(10), builtin: false },
    { id: 'c'.repeat(64), name: 'none', driver: 'null', internal: false, labels: {}, created: ago(100), builtin: true },
  ];
  const names = (...f: string[]): string[] => nets.filter(networkMatcher(parseFilters(f, NETWORK_FILTERS, 'network ls'))).map((n) => n.name);
  test('name, id, driver, label, type', () => {
    assert.deepEqual(names('name=sho'), ['shop']);
    assert.deepEqual(names('id=bbbb'), ['shop']);
    assert.deepEqual(names('driver=bridge'), ['bridge', 'shop']);
    assert.deepEqual(names('label=team'), ['shop']);
    assert.deepEqual(names('label=team=blue'), []);
    assert.deepEqual(names('type=custom'), ['shop']);
    assert.deepEqual(names('type=builtin', 'driver=null'), ['none']);
    assert.throws(() => names('type=mine'), { code: 'INVALID_VALUE' });
    assert.throws(() => names('dangling=true'), { message: "invalid filter 'dangling'" });
  });
});

describe('listing templates', () => {
  const rows = [{ Names: 'web', Status: 'Up 2 seconds' }, { Names: 'db', Status: 'Exited (0) 1 second ago' }];
  test('table TEMPLATE: a header from the placeholders, tabwriter columns; \\t written in the shell is a tab', () => {
    assert.deepEqual(renderListing('table {{.Names}}\\t{{.Status}}', rows, PS_SHAPE), ['NAMES     STATUS', 'web       Up 2 seconds', 'db        Exited (0) 1 second ago']);
  });
  test('a plain template: one line per row, no header', () => {
    assert.deepEqual(renderListing('{{.Names}}: {{.Status}}', rows, PS_SHAPE), ['web: Up 2 seconds', 'db: Exited (0) 1 second ago']);
  });
  test('{{.Label "KEY"}}: the label of a row, its header from the last dotted part of the key, as docker/cli', () => {
    const nets: ListedNetwork[] = [{ id: 'b'.repeat(64), name: 'shop', driver: 'bridge', internal: false, labels: { 'com.example.team_name': 'red' }, created: ago(10), builtin: false }];
    const rowsOf = nets.map((n) => networkRow(n, { trunc: true }));
    assert.deepEqual(renderListing('table {{.Name}}\\t{{.Label "com.example.team_name"}}', rowsOf, NETWORK_SHAPE), ['NAME      TEAM NAME', 'shop      red']);
    assert.deepEqual(renderListing('{{.Label "nope"}}|{{json .}}', rowsOf, NETWORK_SHAPE).map((l) => l.split('|')[0]), ['']);
    assert.throws(() => renderListing('{{.Label}}', rowsOf, NETWORK_SHAPE), { message: 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0' });
  });
  test("`table` alone is Docker's default table", () => {
    assert.deepEqual(renderListing('table', [], PS_SHAPE), ['CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES']);
  });
});
