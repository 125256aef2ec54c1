/** Image references normalised as Docker's distribution/reference does, and shown in its familiar form. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { familiarReference, isImageIdPrefix, normaliseReference, parseReference } from '../../src/image/reference.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('image references', () => {
  test('normalised as Docker does', () => {
    const cases: [string, string][] = [
      ['busybox', 'docker.io/library/busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox:1.36'],
      ['library/busybox', 'docker.io/library/busybox:latest'],
      ['docker.io/busybox', 'docker.io/library/busybox:latest'],
      ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
      ['me/app', 'docker.io/me/app:latest'],
      ['me/app/part:v2', 'docker.io/me/app/part:v2'],
      ['localhost/busybox', 'localhost/busybox:latest'],
      ['localhost:5000/busybox', 'localhost:5000/busybox:latest'],
      ['localhost:5000/busybox:v1', 'localhost:5000/busybox:v1'],
      ['registry.example.com/team/app:1.0-rc_1', 'registry.example.com/team/app:1.0-rc_1'],
      ['127.0.0.1:5000/x', '127.0.0.1:5000/x:latest'],
      [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
      [`busybox:1@${DIGEST}`, `docker.io/library/busybox:1@${DIGEST}`],
      ['me/a-b__c.d', 'docker.io/me/a-b__c.d:latest'],
      // IPv6 registries in brackets (distribution/reference v0.6, Docker 25), kept as written.
      ['[fd00::1]:5000/busybox:latest', '[fd00::1]:5000/busybox:latest'],
      ['[fd00::1]:5000/busybox', '[fd00::1]:5000/busybox:latest'],
      ['[::1]/team/app:v1', '[::1]/team/app:v1'],
      ['[2001:DB8::10]:443/x', '[2001:DB8::10]:443/x:latest'],
      [`[fd00::1]:5000/busybox@${DIGEST}`, `[fd00::1]:5000/busybox@${DIGEST}`],
    ];
    for (const [input, want] of cases) assert.equal(normaliseReference(input), want, input);
  });

  test('shown in the familiar form', () => {
    const cases: [string, string][] = [
      ['docker.io/library/busybox:latest', 'busybox:latest'],
      ['busybox', 'busybox:latest'],
      ['docker.io/me/app:v1', 'me/app:v1'],
      ['localhost:5000/busybox:latest', 'localhost:5000/busybox:latest'],
      ['[fd00::1]:5000/busybox:latest', '[fd00::1]:5000/busybox:latest'],
      [`docker.io/library/busybox@${DIGEST}`, `busybox@${DIGEST}`],
    ];
    for (const [input, want] of cases) assert.equal(familiarReference(input), want, input);
  });

  test('the parts', () => {
    assert.deepEqual(parseReference('localhost:5000/a/b:t'), { domain: 'localhost:5000', path: 'a/b', tag: 't' });
    assert.deepEqual(parseReference(`x@${DIGEST}`), { domain: 'docker.io', path: 'library/x', digest: DIGEST });
    assert.deepEqual(parseReference('[fd00::1]:5000/a/b:t'), { domain: '[fd00::1]:5000', path: 'a/b', tag: 't' });
    assert.deepEqual(parseReference('[fd00::1]/b'), { domain: '[fd00::1]', path: 'b', tag: 'latest' });
  });

  test('bad references are refused, naming the value and what is allowed', () => {
    const bad: [string, RegExp][] = [
      ['', /empty reference/],
      ['BusyBox', /must be lowercase/],
      ['busybox:', /tag "" must be/],
      ['busybox:-x', /tag "-x"/],
      ['bus box', /component "bus box"/],
      ['busybox@sha256:xyz', /digest is sha256:/],
      ['busybox@md5:' + 'a'.repeat(32), /digest is sha256:/],
      ['a//b', /component ""/],
      ['localhost:port/x', /registry "localhost:port"/],
      ['-x', /component "-x"/],
      [`a/${'b'.repeat(260)}`, /longer than 255/],
      ['fd00::1/busybox', /"fd00::1" looks like an IPv6 address without brackets/],
      ['fd00::1:5000/busybox:latest', /"fd00::1:5000" looks like an IPv6 address without brackets/],
      ['[fd00::g]:5000/x', /"fd00::g" is not an IPv6 address/],
      ['[fd00:::1]/x', /"fd00:::1" is not an IPv6 address/],
      ['[::ffff:10.0.0.1]/x', /"::ffff:10\.0\.0\.1" is not an IPv6 address/],
      ['[fe80::1%eth0]/x', /is not an IPv6 address/],
      ['[fd00::1]:port/x', /port "port" is not a number/],
      ['[]/x', /"" is not an IPv6 address/],
    ];
    for (const [input, why] of bad) {
      assert.throws(
        () => parseReference(input),
        (err: Error & { code?: string }) => err.code === 'INVALID_VALUE' && why.test(err.message) && err.message.includes(`"${input}"`),
        `${JSON.stringify(input)} should be refused with ${why}`,
      );
    }
  });

  test('upper case in the first component makes it a registry, as in Docker', () => {
    assert.equal(normaliseReference('MyRegistry/app'), 'MyRegistry/app:latest');
  });

  test('image id prefixes', () => {
    assert.equal(isImageIdPrefix('08d08f843fe1'), true);
    assert.equal(isImageIdPrefix(`sha256:${'0'.repeat(64)}`), true);
    assert.equal(isImageIdPrefix('busybox'), false);
    assert.equal(isImageIdPrefix('0'.repeat(65)), false);
  });
});
