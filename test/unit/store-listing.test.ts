/**
 * The store's container listing (store/containers-listing.ts), kept while the store is unchanged:
 * read again after a write of this connection, after a commit of another connection (another
 * nsnet process), and never kept from inside a transaction, whose writes may be rolled back.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/ops/containers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';

async function withContainer(): Promise<{ store: Store; id: string; image: Buffer }> {
  const fx = fixture();
  const { container } = await run(fx.ctx, runInput({ name: 'ut-red', publish: ['8080:80'] }));
  return { store: fx.store, id: container.id, image: fx.store.serialize() };
}

test('the listing is kept while nothing changes, and read again after a write of this connection', async () => {
  const { store, id } = await withContainer();
  const first = store.listing();
  assert.deepEqual(first.containers.map((c) => c.name), ['ut-red']);
  assert.equal(first.endpoints.get(id)?.length, 1);
  assert.equal(first.ports.get(id)?.length, 1);
  assert.equal(store.listing(), first, 'unchanged: the same listing');
  store.containers.update(id, { status: 'exited', exitCode: 3 });
  const second = store.listing();
  assert.notEqual(second, first);
  assert.deepEqual(second.containers.map((c) => [c.status, c.exitCode]), [['exited', 3]]);
});

test('a listing read inside a transaction is not kept: a rollback leaves no trace of it', async () => {
  const { store, id } = await withContainer();
  store.listing();
  assert.throws(() =>
    store.tx(() => {
      store.containers.update(id, { status: 'exited' });
      assert.equal(store.listing().containers[0]?.status, 'exited');
      throw new Error('roll back');
    }),
  );
  assert.equal(store.listing().containers[0]?.status, 'running');
});

test("another connection's commit (another nsnet process) is read at the next listing", async () => {
  const { id, image } = await withContainer();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-listing-'));
  try {
    fs.writeFileSync(path.join(root, 'nsnet.db'), image);
    const serve = openStore(root);
    const cli = openStore(root);
    try {
      const first = serve.listing();
      assert.equal(serve.listing(), first);
      cli.containers.update(id, { status: 'exited', exitCode: 137 });
      assert.deepEqual(serve.listing().containers.map((c) => [c.status, c.exitCode]), [['exited', 137]]);
      cli.containers.update(id, { name: 'ut-blue' });
      assert.deepEqual(serve.listing().containers.map((c) => c.name), ['ut-blue']);
    } finally {
      serve.close();
      cli.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
