import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { FakeHost } from '../helpers/fake-host.js';
import { chooseDriverName, DRIVER_SETTING, parseDriverName } from '../../src/ops/firewall-choice.js';
import { openStore } from '../../src/store/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-unit-driver-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('driver names are checked', () => {
  assert.equal(parseDriverName('iptables'), 'iptables');
  assert.throws(() => parseDriverName('pf'), /invalid firewall driver "pf": expected nftables or iptables/);
});

test('the recorded driver wins over detection, and a different request is refused while networks exist', () => {
  const host = new FakeHost();
  const store = openStore(dir);
  try {
    store.settings.set(DRIVER_SETTING, 'iptables');
    assert.equal(chooseDriverName(host, store, undefined), 'iptables');
    // No network yet: asking for another driver is fine (nothing would be mixed).
    assert.equal(chooseDriverName(host, store, 'nftables'), 'nftables');
    store.networks.insert({
      id: 'a'.repeat(64), name: 'n', bridge: 'br-n', subnet: '10.0.0.0/24', gateway: '10.0.0.1', ipRange: null, internal: false,
      mtu: null, options: {}, labels: {}, isDefault: false, created: new Date().toISOString(), ipamCursor: null,
    });
    assert.throws(
      () => chooseDriverName(host, store, 'nftables'),
      (e: unknown) => e instanceof NsnetError && e.code === 'FORBIDDEN' && /use the iptables firewall driver; nsnet does not mix drivers/.test(e.message),
    );
    assert.equal(chooseDriverName(host, store, 'iptables'), 'iptables');
  } finally {
    store.close();
  }
});
