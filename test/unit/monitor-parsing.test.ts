/**
 * What the per-container monitor's features parse: run --restart (Docker's policies and its error
 * texts), system boot's rule, the json-file log lines the monitor writes, and docker logs'
 * --since/--until/--tail with the selection they make.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { comesBackAtBoot, parseRestartPolicy } from '../../src/core/restart-policy.js';
import { NsnetError } from '../../src/core/errors.js';
import { fixedNano, parseGoDuration, parseLog, parseLogLine, parseLogTime, parseTail, renderLogLine, selectLog } from '../../src/engine/log-lines.js';

const refused = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof NsnetError && message.test(err.message));
};

describe('run --restart', () => {
  test("Docker's policies, with on-failure's maximum retry count", () => {
    assert.deepEqual(parseRestartPolicy(''), { name: 'no', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('no'), { name: 'no', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { name: 'on-failure', maximumRetryCount: 3 });
  });

  test("refused with Docker's words, naming the value", () => {
    refused(() => parseRestartPolicy('sometimes'), /^invalid restart policy 'sometimes'$/);
    refused(() => parseRestartPolicy('always:2'), /^maximum retry count cannot be used with restart policy 'always'$/);
    refused(() => parseRestartPolicy('unless-stopped:1'), /restart policy 'unless-stopped'/);
    refused(() => parseRestartPolicy('on-failure:x'), /"on-failure:x": maximum retry count must be an integer/);
    refused(() => parseRestartPolicy('on-failure:-1'), /^maximum retry count cannot be negative$/);
    refused(() => parseRestartPolicy('on-failure:1:2'), /invalid restart policy format "on-failure:1:2"/);
  });

  test('system boot brings back always, unless-stopped unless the user stopped it, on-failure after a failure', () => {
    const p = (text: string) => parseRestartPolicy(text);
    assert.equal(comesBackAtBoot(p('always'), { manuallyStopped: true, lastExitCode: 0 }), true);
    assert.equal(comesBackAtBoot(p('unless-stopped'), { manuallyStopped: false, lastExitCode: null }), true);
    assert.equal(comesBackAtBoot(p('unless-stopped'), { manuallyStopped: true, lastExitCode: 137 }), false);
    assert.equal(comesBackAtBoot(p('on-failure'), { manuallyStopped: false, lastExitCode: 1 }), true);
    assert.equal(comesBackAtBoot(p('on-failure'), { manuallyStopped: false, lastExitCode: null }), true);
    assert.equal(comesBackAtBoot(p('on-failure'), { manuallyStopped: false, lastExitCode: 0 }), false);
    assert.equal(comesBackAtBoot(p('no'), { manuallyStopped: false, lastExitCode: null }), false);
  });
});

describe('the log the monitor writes (json-file)', () => {
  test('one entry per line: text with its newline, stream, time', () => {
    assert.deepEqual(parseLogLine('{"log":"a \\"b\\"\\tc\\n","stream":"stderr","time":"2026-12-06T04:10:44.144482118Z"}'), {
      stream: 'stderr',
      time: '2026-12-06T04:10:44.144482118Z',
      text: 'a "b"\tc\n',
    });
    // A last line without a newline, and a time with fewer digits (as Go's RFC3339Nano trims them).
    assert.deepEqual(parseLogLine('{"log":"partial","stream":"stdout","time":"2026-12-06T04:10:44.1Z"}'), { stream: 'stdout', time: '2026-12-06T04:10:44.100000000Z', text: 'partial' });
  });

  test('plain text (a container from before the monitor) is kept as it is, without a time', () => {
    assert.deepEqual(parseLogLine('hello'), { stream: 'stdout', time: undefined, text: 'hello\n' });
    assert.deepEqual(parseLogLine('{"log": broken'), { stream: 'stdout', time: undefined, text: '{"log": broken\n' });
  });

  test('a line still being written (no newline yet) waits', () => {
    assert.equal(parseLog('{"log":"a\\n","stream":"stdout","time":"2026-12-06T04:10:44Z"}\n{"log":"b').length, 1);
  });

  test('times in RFC3339NanoFixed, UTC', () => {
    assert.equal(fixedNano('2026-12-06T04:10:44Z'), '2026-12-06T04:10:44.000000000Z');
    assert.equal(fixedNano('2026-12-06T05:10:44.5+01:00'), '2026-12-06T04:10:44.500000000Z');
  });
});

describe('docker logs options', () => {
  const now = Date.parse('2026-12-06T04:10:44Z');

  test('--since/--until: a time, a date, a Unix time or a Go duration before now', () => {
    assert.equal(parseLogTime('2026-12-06T04:10:00Z', '--since', now), '2026-12-06T04:10:00.000000000Z');
    assert.equal(parseLogTime('2026-12-06T04:10:00.123456789Z', '--since', now), '2026-12-06T04:10:00.123456789Z');
    assert.equal(parseLogTime('2026-12-06T05:10:00+01:00', '--since', now), '2026-12-06T04:10:00.000000000Z');
    assert.equal(parseLogTime('1796530200.5', '--since', now), '2026-12-06T04:10:00.500000000Z');
    assert.equal(parseLogTime('10m', '--since', now), '2026-12-06T04:00:44.000000000Z');
    assert.equal(parseLogTime('1h30m', '--until', now), '2026-12-06T02:40:44.000000000Z');
    refused(() => parseLogTime('yesterday', '--since', now), /^invalid --since "yesterday": failed to parse value as time or duration$/);
    refused(() => parseLogTime('2026-13-45', '--until', now), /invalid --until "2026-13-45"/);
  });

  test("Go's durations", () => {
    assert.equal(parseGoDuration('1.5s'), 1.5);
    assert.equal(parseGoDuration('300ms'), 0.3);
    assert.equal(parseGoDuration('2h45m'), 9900);
    assert.equal(parseGoDuration('10'), undefined);
  });

  test('--tail: a number of lines or all; a negative number is all, as Docker', () => {
    assert.equal(parseTail('all'), 'all');
    assert.equal(parseTail('3'), 3);
    assert.equal(parseTail('0'), 0);
    assert.equal(parseTail('-1'), 'all');
    refused(() => parseTail('some'), /^invalid --tail "some": expected a number of lines or "all"$/);
  });

  test('tail first, then the time window (at or after --since, at or before --until), as Docker', () => {
    const at = (s: number, text: string) => ({ stream: 'stdout' as const, time: `2026-12-06T04:10:0${s}.000000000Z`, text });
    const lines = [at(1, 'a\n'), at(2, 'b\n'), at(3, 'c\n'), at(4, 'd\n')];
    assert.deepEqual(selectLog(lines, { tail: 2 }).map((l) => l.text), ['c\n', 'd\n']);
    assert.deepEqual(selectLog(lines, { tail: 0 }), []);
    assert.deepEqual(selectLog(lines, { since: '2026-12-06T04:10:02.000000000Z', until: '2026-12-06T04:10:03.000000000Z' }).map((l) => l.text), ['b\n', 'c\n']);
    assert.deepEqual(selectLog(lines, { tail: 3, since: '2026-12-06T04:10:04.000000000Z' }).map((l) => l.text), ['d\n']);
    assert.equal(renderLogLine(lines[0]!, true), '2026-12-06T04:10:01.000000000Z a\n');
    assert.equal(renderLogLine(lines[0]!, false), 'a\n');
  });
});
