import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignHostPorts, collides, formatMapping, parsePortSpec, portsView } from '../../src/engine/ports.js';

test('port specs in Docker syntax', () => {
  assert.deepEqual(parsePortSpec('8080:80'), [{ hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:5353:53/udp'), [{ hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, proto: 'udp' }]);
  assert.deepEqual(parsePortSpec('0.0.0.0:8080:80'), [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }], '0.0.0.0: every IPv4 address, not IPv6 (Docker)');
  assert.deepEqual(parsePortSpec('80'), [{ hostIp: undefined, hostPort: undefined, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80/sctp'), [{ hostIp: '127.0.0.1', hostPort: undefined, containerPort: 80, proto: 'sctp' }]);
  assert.deepEqual(
    parsePortSpec('9000-9002:7000-7002').map((m) => [m.hostPort, m.containerPort]),
    [[9000, 7000], [9001, 7001], [9002, 7002]],
  );
});

test('bad port specs name the value and what is allowed', () => {
  for (const [spec, msg] of [
    ['8080:80/icmp', /protocol "icmp" is not one of tcp, udp, sctp/],
    ['70000:80', /port 70000 is outside 1-65535/],
    ['9000-9001:80', /differ in length/],
    ['80-79', /ends before it starts/],
    ['a:b:c:d', /expected \[HOST_IP:\]/],
    ['999.0.0.1:80:80', /999\.0\.0\.1/],
    ['', /expected/],
  ] as const) {
    assert.throws(() => parsePortSpec(spec), (e: Error) => msg.test(e.message), spec);
  }
});

test('collisions: same protocol and port, overlapping host addresses', () => {
  const any = { hostIp: undefined, hostPort: 80, proto: 'tcp' as const };
  assert.equal(collides(any, { hostIp: '127.0.0.1', hostPort: 80, proto: 'tcp' }), true);
  assert.equal(collides(any, { hostIp: undefined, hostPort: 80, proto: 'udp' }), false);
  assert.equal(collides({ hostIp: '10.0.0.1', hostPort: 80, proto: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 80, proto: 'tcp' }), false);
});

test('free host ports skip taken mappings and listening sockets', () => {
  const taken = [{ hostIp: undefined, hostPort: 32768, containerPort: 1, proto: 'tcp' as const }];
  const got = assignHostPorts(parsePortSpec('80').concat(parsePortSpec('81')), taken, [32768, 32800], (m) => m.hostPort === 32769);
  assert.deepEqual(got.map((m) => m.hostPort), [32770, 32771]);
  assert.throws(() => assignHostPorts(parsePortSpec('80'), taken, [32768, 32768], () => false), /no free host port for 80\/tcp/);
});

test('Docker shapes for port and inspect', () => {
  const m = { hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' as const };
  assert.equal(formatMapping(m), '80/tcp -> 0.0.0.0:8080');
  assert.deepEqual(portsView([m, { ...m, hostIp: '127.0.0.1', hostPort: 8081 }]), {
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '8080' },
      { HostIp: '127.0.0.1', HostPort: '8081' },
    ],
  });
});
