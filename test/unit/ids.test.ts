import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeMacFor, bridgeNameFor, macFor, newId, shortId, vethNameFor } from '../../src/engine/ids.js';
import { ipToInt } from '../../src/core/ipv4.js';
import { ifName, mac } from '../../src/core/validate.js';

test('ids are 64 lowercase hex and unique', () => {
  const a = newId();
  const b = newId();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, b);
  assert.equal(shortId(a), a.slice(0, 12));
});

test('derived interface names fit IFNAMSIZ', () => {
  const id = newId();
  const br = bridgeNameFor(id);
  const veth = vethNameFor(id);
  assert.equal(br, `nsnet-${id.slice(0, 8)}`);
  assert.equal(veth, `nsv${id.slice(0, 12)}`);
  assert.equal(Buffer.byteLength(veth), 15);
  assert.ok(Buffer.byteLength(br) <= 15);
  assert.equal(ifName(br), br);
  assert.equal(ifName(veth), veth);
});

test('macFor follows the Docker 02:42 scheme', () => {
  assert.equal(macFor(ipToInt('172.17.0.2')), '02:42:ac:11:00:02');
  assert.equal(macFor(ipToInt('255.255.255.255')), '02:42:ff:ff:ff:ff');
  assert.equal(mac(macFor(ipToInt('10.0.0.1'))), '02:42:0a:00:00:01');
});

test('bridgeMacFor is stable, unicast and locally administered', () => {
  const id = newId();
  const m = bridgeMacFor(id);
  assert.equal(m, bridgeMacFor(id));
  assert.notEqual(m, bridgeMacFor(newId()));
  assert.match(m, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(mac(m), m);
});
