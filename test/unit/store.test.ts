import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { NsnetError } from '../../src/core/errors.js';
import { intToIp, ipToInt, parseCidr } from '../../src/core/ipv4.js';
import { bridgeNameFor, macFor, newId, vethNameFor } from '../../src/engine/ids.js';
import { openStore, SCHEMA_VERSION, type Store } from '../../src/store/index.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../../src/store/types.js';

let tmp = '';
let seq = 0;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-store-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freshRoot(): string {
  return path.join(tmp, `root${seq++}`, 'state');
}

function network(name: string, over: Partial<NetworkRecord> = {}): NetworkRecord {
  const id = newId();
  return {
    id,
    name,
    bridge: bridgeNameFor(id),
    subnet: '10.0.0.0/24',
    gateway: '10.0.0.1',
    ipRange: null,
    internal: false,
    mtu: null,
    options: {},
    labels: {},
    isDefault: false,
    created: new Date().toISOString(),
    ipamCursor: null,
    subnet6: null,
    gateway6: null,
    ipRange6: null,
    ipamCursor6: null,
    auxAddresses: {},
    attachable: false,
    driver: 'bridge',
    ...over,
  };
}

function container(name: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: newId(),
    name,
    hostname: name,
    command: ['sleep', 'infinity'],
    env: { PATH: '/usr/bin:/bin' },
    rootfs: null,
    detached: true,
    status: 'created',
    pid: null,
    pidStart: null,
    exitCode: null,
    logPath: `/var/lib/nsnet/logs/${name}.log`,
    created: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    netns: `/run/netns/${name}`,
    cniContainerId: null,
    runtime: null,
    capAdd: [],
    capDrop: [],
    privileged: false,
    sysctls: {},
    exposedPorts: [],
    publishAll: false,
    links: [],
    networkMode: null,
    publishSpecs: ['8080:80'],
    monitorPid: null,
    monitorStart: null,
    restartPolicy: 'no',
    restartMax: 0,
    restartCount: 0,
    manuallyStopped: false,
    imageId: null,
    imageRef: null,
    imageLayers: null,
    entrypoint: null,
    workingDir: null,
    user: null,
    labels: {},
    autoRemove: false,
    ...over,
  };
}

function endpoint(n: NetworkRecord, c: ContainerRecord, ip: string, ifName = 'eth0'): EndpointRecord {
  const id = newId();
  return {
    id,
    networkId: n.id,
    containerId: c.id,
    ifName,
    hostIf: vethNameFor(id),
    ip,
    ipInt: ipToInt(ip),
    mac: macFor(ipToInt(ip)),
    created: new Date().toISOString(),
    aliases: [],
    requestedIp: null,
    ip6: null,
    requestedIp6: null,
  };
}

function code(c: string, fragment = '') {
  return (err: unknown) => {
    assert.ok(err instanceof NsnetError, `expected NsnetError, got ${String(err)}`);
    assert.equal(err.code, c);
    assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
    return true;
  };
}

function withStore(fn: (s: Store, root: string) => void): void {
  const root = freshRoot();
  const s = openStore(root);
  try {
    fn(s, root);
  } finally {
    s.close();
  }
}

test('creates the state directory 0700 and the database', () => {
  withStore((s, root) => {
    assert.equal(fs.statSync(root).mode & 0o777, 0o700);
    assert.equal(s.path, path.join(root, 'nsnet.db'));
    assert.ok(fs.existsSync(s.path));
    assert.equal(fs.statSync(s.path).mode & 0o077, 0);
  });
});

test('network round trip, lookups and updates', () => {
  withStore((s) => {
    const n = network('study', { options: { 'com.example': 'x' }, labels: { team: 'a' }, internal: true, mtu: 1400, ipRange: '10.0.0.128/25' });
    s.networks.insert(n);
    assert.deepEqual(s.networks.get(n.id), n);
    assert.deepEqual(s.networks.byName('study'), n);
    assert.deepEqual(s.networks.byIdOrName('study'), n);
    assert.deepEqual(s.networks.byIdOrName(n.id), n);
    assert.deepEqual(s.networks.byIdOrName(n.id.slice(0, 3)), n);
    assert.equal(s.networks.byIdOrName(n.id.slice(0, 2)), undefined);
    assert.equal(s.networks.byIdOrName('nope'), undefined);
    assert.throws(() => s.networks.resolve('nope'), code('NOT_FOUND', 'nope'));

    s.networks.update(n.id, { labels: { team: 'b' }, internal: false });
    const u = s.networks.get(n.id)!;
    assert.deepEqual(u.labels, { team: 'b' });
    assert.equal(u.internal, false);
    assert.equal(u.name, 'study');

    s.networks.setCursor(n.id, ipToInt('10.0.0.7'));
    assert.equal(s.networks.get(n.id)!.ipamCursor, ipToInt('10.0.0.7'));

    assert.throws(() => s.networks.insert(network('study')), code('NAME_IN_USE', 'study'));
    assert.throws(() => s.networks.update(n.id + 'x', { mtu: 1 }), code('NOT_FOUND'));
    s.networks.insert(network('other'));
    assert.deepEqual(s.networks.list().map((x) => x.name).sort(), ['other', 'study']);
  });
});

test('ambiguous id prefix is an error', () => {
  withStore((s) => {
    const a = network('a', { id: 'abc1' + newId().slice(4) });
    const b = network('b', { id: 'abc2' + newId().slice(4) });
    s.networks.insert(a);
    s.networks.insert(b);
    assert.throws(() => s.networks.byIdOrName('abc'), code('INVALID_VALUE', 'ambiguous network reference "abc"'));
    assert.equal(s.networks.byIdOrName('abc2')!.name, 'b');
  });
});

test('containers and endpoints round trip, constraints and cascade', () => {
  withStore((s) => {
    const n = network('study');
    s.networks.insert(n);
    const c = container('red');
    s.containers.insert(c);
    assert.deepEqual(s.containers.byIdOrName('red'), c);
    assert.deepEqual(s.containers.get(c.id), c);
    assert.throws(() => s.containers.insert(container('red')), code('NAME_IN_USE', 'red'));

    s.containers.update(c.id, { status: 'running', pid: 1234, pidStart: '98765', startedAt: 'now' });
    const r = s.containers.byIdOrName(c.id.slice(0, 12))!;
    assert.equal(r.status, 'running');
    assert.equal(r.pid, 1234);
    assert.equal(r.pidStart, '98765');
    assert.deepEqual(r.command, ['sleep', 'infinity']);
    assert.equal(r.detached, true);

    const e = endpoint(n, c, '10.0.0.2');
    s.endpoints.insert(e);
    assert.deepEqual(s.endpoints.get(n.id, c.id), e);
    assert.deepEqual(s.endpoints.forContainer(c.id), [e]);
    assert.deepEqual(s.endpoints.forNetwork(n.id), [e]);
    assert.deepEqual([...s.networks.usedIps(n.id)], [ipToInt('10.0.0.2')]);

    const blue = container('blue');
    s.containers.insert(blue);
    assert.throws(() => s.endpoints.insert(endpoint(n, blue, '10.0.0.2')), code('ADDRESS_IN_USE', '10.0.0.2'));
    assert.throws(() => s.endpoints.insert(endpoint(n, c, '10.0.0.3', 'eth1')), code('NAME_IN_USE', 'already connected'));
    const n2 = network('n2', { subnet: '10.1.0.0/24', gateway: '10.1.0.1' });
    s.networks.insert(n2);
    assert.throws(() => s.endpoints.insert(endpoint(n2, c, '10.1.0.2', 'eth0')), code('NAME_IN_USE', 'eth0'));
    assert.throws(() => s.endpoints.insert(endpoint(network('ghost'), c, '10.9.0.2', 'eth5')), code('NOT_FOUND'));

    assert.throws(() => s.networks.delete(n.id), code('IN_USE'));
    s.containers.delete(c.id);
    assert.deepEqual(s.endpoints.forNetwork(n.id), []);
    s.networks.delete(n.id);
    assert.equal(s.networks.get(n.id), undefined);
    assert.deepEqual(s.containers.list().map((x) => x.name), ['blue']);

    const e2 = endpoint(n2, blue, '10.1.0.9');
    s.endpoints.insert(e2);
    s.endpoints.delete(e2.id);
    assert.deepEqual(s.endpoints.forContainer(blue.id), []);
  });
});

test('journal add, list, delete', () => {
  withStore((s) => {
    const id = s.journal.add('connect', [{ step: 'veth', done: false }], 't0');
    s.journal.setSteps(id, [{ step: 'veth', done: true }]);
    assert.deepEqual(s.journal.list(), [{ id, op: 'connect', steps: [{ step: 'veth', done: true }], created: 't0' }]);
    s.journal.delete(id);
    assert.deepEqual(s.journal.list(), []);
  });
});

test('tx commits, and rolls back when fn throws', () => {
  withStore((s) => {
    assert.equal(s.tx(() => { s.networks.insert(network('kept')); return 42; }), 42);
    assert.throws(
      () => s.tx(() => {
        s.networks.insert(network('lost'));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(s.networks.list().map((n) => n.name), ['kept']);
  });
});

test('data persists across reopen', () => {
  const root = freshRoot();
  const a = openStore(root);
  const n = network('persist');
  a.networks.insert(n);
  a.close();
  const b = openStore(root);
  try {
    assert.deepEqual(b.networks.byName('persist'), n);
  } finally {
    b.close();
  }
});

test('a held write lock makes another handle time out with LOCK_TIMEOUT', () => {
  const root = freshRoot();
  const a = openStore(root);
  const b = openStore(root, { busyTimeoutMs: 50 });
  try {
    a.tx(() => {
      a.networks.insert(network('first'));
      assert.throws(() => b.tx(() => b.networks.insert(network('second'))), code('LOCK_TIMEOUT'));
    });
    assert.deepEqual(b.networks.list().map((n) => n.name), ['first']);
  } finally {
    a.close();
    b.close();
  }
});

test('database from a newer nsnet is rejected', () => {
  const root = freshRoot();
  openStore(root).close();
  const file = path.join(root, 'nsnet.db');
  // user_version lives at byte offset 60 of the SQLite header, big-endian.
  const fd = fs.openSync(file, 'r+');
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(SCHEMA_VERSION + 7);
  fs.writeSync(fd, buf, 0, 4, 60);
  fs.closeSync(fd);
  assert.throws(
    () => openStore(root),
    code('STATE', `was written by a newer nsnet (schema ${SCHEMA_VERSION + 7}, this nsnet knows ${SCHEMA_VERSION})`),
  );
});

test('a corrupt database is reported, not reset', () => {
  const root = freshRoot();
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, 'nsnet.db');
  const junk = Buffer.from('this is not an sqlite database, just some bytes '.repeat(100));
  fs.writeFileSync(file, junk);
  assert.throws(() => openStore(root), (err: unknown) => {
    code('STATE', file)(err);
    assert.ok(err instanceof NsnetError && err.hint !== undefined && err.hint.includes('move'));
    return true;
  });
  assert.deepEqual(fs.readFileSync(file), junk);
});

test('concurrent allocation through tx from two handles never double-allocates', async () => {
  const root = freshRoot();
  const s = openStore(root);
  const n = network('busy', { subnet: '10.20.0.0/24', gateway: '10.20.0.1' });
  s.networks.insert(n);
  const perWorker = 100;
  const containers: string[][] = [[], []];
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < perWorker; i++) {
      const c = container(`w${w}c${i}`);
      s.containers.insert(c);
      containers[w]!.push(c.id);
    }
  }
  s.close();

  const workerSource = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const { openStore } = await import(workerData.store);
      const { allocate } = await import(workerData.ipam);
      const { parseCidr, ipToInt, intToIp } = await import(workerData.ipv4);
      const { newId, vethNameFor, macFor } = await import(workerData.ids);
      const s = openStore(workerData.root);
      // Barrier: start allocating only when both workers are ready, so their transactions overlap.
      const gate = new Int32Array(workerData.gate);
      Atomics.add(gate, 0, 1);
      Atomics.notify(gate, 0);
      while (Atomics.load(gate, 0) < 2) Atomics.wait(gate, 0, Atomics.load(gate, 0), 100);
      const got = [];
      for (const cid of workerData.containers) {
        const ip = s.tx(() => {
          const net = s.networks.get(workerData.net);
          const pool = { subnet: parseCidr(net.subnet), gateway: ipToInt(net.gateway) };
          const r = allocate(pool, s.networks.usedIps(net.id), net.ipamCursor ?? undefined);
          const id = newId();
          s.endpoints.insert({ id, networkId: net.id, containerId: cid, ifName: 'eth0', hostIf: vethNameFor(id),
            ip: intToIp(r.address), ipInt: r.address, mac: macFor(r.address), created: new Date().toISOString() });
          s.networks.setCursor(net.id, r.cursor);
          return r.address;
        });
        got.push(ip);
        // SQLite's busy handler backs off in sleeps; pausing lets the other worker in, or one would do all its work first.
        Atomics.wait(gate, 1, 0, 2);
      }
      s.close();
      parentPort.postMessage(got);
    })().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
  `;
  const mod = (p: string) => new URL(p, import.meta.url).href;
  const gate = new SharedArrayBuffer(8);
  const run = (w: number) =>
    new Promise<number[]>((resolve, reject) => {
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: {
          root,
          gate,
          net: n.id,
          containers: containers[w],
          store: mod('../../src/store/index.js'),
          ipam: mod('../../src/engine/ipam.js'),
          ipv4: mod('../../src/core/ipv4.js'),
          ids: mod('../../src/engine/ids.js'),
        },
      });
      worker.once('message', (m: number[] | { error: string }) => (Array.isArray(m) ? resolve(m) : reject(new Error(m.error))));
      worker.once('error', reject);
    });
  const [a, b] = await Promise.all([run(0), run(1)]);
  const all = [...a, ...b];
  assert.equal(all.length, 2 * perWorker);
  assert.equal(new Set(all).size, all.length, 'every address handed out once');
  const subnet = parseCidr('10.20.0.0/24');
  for (const ip of all) {
    assert.ok(ip > subnet.network + 1 && ip < subnet.network + 255, intToIp(ip));
  }
  // Round robin across both handles: together they used the lowest hosts after the gateway.
  assert.deepEqual([...all].sort((x, y) => x - y), Array.from({ length: all.length }, (_, i) => ipToInt('10.20.0.2') + i));

  const check = openStore(root);
  try {
    assert.equal(check.endpoints.forNetwork(n.id).length, all.length);
    assert.equal(check.networks.get(n.id)!.ipamCursor, Math.max(...all));
  } finally {
    check.close();
  }
});
