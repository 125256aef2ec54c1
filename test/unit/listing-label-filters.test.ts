/**
 * Label filters as Docker applies them (MatchKVList): every label= given must match, where the
 * other filters take any of their values. docker-compose finds a service's container with
 * label=project, label=service, label=container-number together: with any-of, `compose exec api`
 * ran in whichever container of the project came first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFilters } from '../../src/cli/listing/filters.js';
import { NETWORK_FILTERS, networkMatcher, type ListedNetwork } from '../../src/cli/listing/network-rows.js';
import type { PsItem } from '../../src/cli/listing/ps-rows.js';
import { selectContainers } from '../../src/cli/listing/ps-select.js';
import type { ContainerRecord } from '../../src/store/index.js';

const CREATED = '2026-01-01T12:00:00Z';

function item(name: string, labels: Record<string, string>): PsItem {
  const container = {
    id: `${name.padEnd(12, '0')}${'a'.repeat(52)}`, name, hostname: name, command: ['sleep', '1000'], env: {}, rootfs: null, detached: true,
    status: 'running', pid: null, pidStart: null, exitCode: null, logPath: '', created: CREATED, startedAt: CREATED, finishedAt: null, netns: '',
    cniContainerId: null, runtime: null, capAdd: [], capDrop: [], privileged: false, labels,
  } as unknown as ContainerRecord;
  return { container, live: { status: 'running', pid: 0, exitCode: null }, networks: [], ports: [] };
}

test('ps: every label filter must match (compose: project and service)', () => {
  const project = 'com.docker.compose.project=p';
  const items = [item('p_db_1', { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'db' }), item('p_api_1', { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'api' })];
  const names = (...filter: string[]): string[] => selectContainers(items, { all: true, filter }).map((i) => i.container.name);
  assert.deepEqual(names(`label=${project}`, 'label=com.docker.compose.service=api'), ['p_api_1']);
  assert.deepEqual(names(`label=${project}`, 'label=com.docker.compose.service=web'), []);
  assert.deepEqual(names(`label=${project}`).sort(), ['p_api_1', 'p_db_1']);
});

test('network ls: every label filter must match', () => {
  const net = (name: string, labels: Record<string, string>): ListedNetwork => ({ id: name.padEnd(64, 'a'), name, driver: 'bridge', internal: false, labels, created: CREATED, builtin: false });
  const nets = [net('p_front', { project: 'p', network: 'front' }), net('p_back', { project: 'p', network: 'back' })];
  const names = (...f: string[]): string[] => nets.filter(networkMatcher(parseFilters(f, NETWORK_FILTERS, 'network ls'))).map((n) => n.name);
  assert.deepEqual(names('label=project=p', 'label=network=back'), ['p_back']);
  assert.deepEqual(names('label=project=p', 'label=network'), ['p_front', 'p_back']);
  assert.deepEqual(names('label=project=q', 'label=network=back'), []);
});
