/** run's name-resolution flags: --dns, --dns-search, --dns-option, --add-host, --network-alias; network options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsInput, validateNetworkDnsOptions } from '../../src/engine/dns-options.js';

test('flags are parsed and kept in order', () => {
  assert.deepEqual(
    dnsInput({ dns: ['203.0.113.8', '192.0.2.1'], dnsSearch: ['corp.example'], dnsOption: ['ndots:2', 'rotate'], addHost: ['db.example:192.0.2.7'], alias: ['web', 'www.internal'] }),
    {
      servers: ['203.0.113.8', '192.0.2.1'],
      search: ['corp.example'],
      options: ['ndots:2', 'rotate'],
      extraHosts: [['db.example', '192.0.2.7']],
      aliases: ['web', 'www.internal'],
    },
  );
  assert.deepEqual(dnsInput({}), { servers: [], search: [], options: [], extraHosts: [], aliases: [] });
});

test('bad values are refused with INVALID_VALUE, naming the flag', () => {
  const bad: Array<[Parameters<typeof dnsInput>[0], RegExp]> = [
    [{ dns: ['8.8.8'] }, /--dns server/],
    [{ dns: ['dns.example'] }, /--dns server/],
    [{ addHost: ['db.example'] }, /--add-host/],
    [{ addHost: ['db.example:300.1.1.1'] }, /--add-host address/],
    [{ addHost: ['bad name:192.0.2.1'] }, /--add-host name/],
    [{ alias: ['-web'] }, /--network-alias/],
    [{ alias: ['a'.repeat(64)] }, /--network-alias/],
    [{ dnsSearch: ['a..b'] }, /--dns-search/],
    [{ dnsOption: ['ndots 2'] }, /--dns-option/],
  ];
  for (const [input, message] of bad) {
    assert.throws(() => dnsInput(input), (err: Error & { code?: string }) => err.code === 'INVALID_VALUE' && message.test(err.message), JSON.stringify(input));
  }
});

test('network option nsnet.dns.servers takes a comma-separated list of IPv4 addresses', () => {
  validateNetworkDnsOptions({ 'nsnet.dns.servers': '192.0.2.1,192.0.2.2' });
  assert.throws(() => validateNetworkDnsOptions({ 'nsnet.dns.servers': '192.0.2.1,nope' }), /nsnet\.dns\.servers/);
});
