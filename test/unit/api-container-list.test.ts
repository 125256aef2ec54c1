/**
 * GET /containers/json's body (src/api/routes-containers.ts containerListBody) is kept per store
 * listing and query only while every container's state and status line are unchanged: asked again
 * it is the same text; a container that ends, a change of the store and another query each give
 * a new one, with the new state in it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerListBody } from '../../src/api/routes-containers.js';
import { run } from '../../src/ops/containers.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';

const states = (body: Buffer): Array<[string, string]> => (JSON.parse(body.toString()) as Array<{ Names: string[]; State: string }>).map((c) => [c.Names[0]!, c.State]);

test('the list body is kept while nothing changes and made again when a state, the store or the query does', async () => {
  const fx = fixture();
  await run(fx.ctx, runInput({ name: 'ut-red' }));
  const { container: blue } = await run(fx.ctx, runInput({ name: 'ut-blue' }));
  const all = new URLSearchParams('all=1');

  const first = containerListBody(fx.ctx, all);
  assert.deepEqual(states(first).sort(), [['/ut-blue', 'running'], ['/ut-red', 'running']]);
  assert.equal(containerListBody(fx.ctx, all), first, 'unchanged: the same body');
  const running = containerListBody(fx.ctx, new URLSearchParams());
  assert.notEqual(running, first, 'another query, another body');

  // blue's process ends: nothing in the store changes, its live state does.
  for (const pid of [blue.monitorPid, blue.pid]) if (pid != null) fx.host.exitProcess(pid, 0);
  const ended = containerListBody(fx.ctx, all);
  assert.notEqual(ended, first);
  assert.equal(new Map(states(ended)).get('/ut-blue'), 'exited');
  assert.deepEqual(states(containerListBody(fx.ctx, new URLSearchParams())), [['/ut-red', 'running']], 'ps without -a leaves it out');

  // A change of the store (a rename) is a new listing.
  fx.store.containers.update(blue.id, { name: 'ut-green' });
  assert.equal(new Map(states(containerListBody(fx.ctx, all))).has('/ut-green'), true);
});
