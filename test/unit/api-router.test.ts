/** The Docker API's router, version negotiation, errors, stream framing and create-body mapping: pure, no socket. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareVersions, negotiate, Router, splitVersion, type Handler } from '../../src/api/router.js';
import { ApiError, errorAnswer } from '../../src/api/errors.js';
import { frame, unframe, STDERR, STDOUT } from '../../src/api/framing.js';
import { createInput, publishSpecs } from '../../src/api/container-config.js';
import { networkInput } from '../../src/api/routes-networks.js';
import { buildRouter } from '../../src/api/routes.js';
import { diffSnapshots, eventMatches, parseEventTime, parseFilterParam, type DockerEvent } from '../../src/api/events.js';
import { signalName } from '../../src/api/routes-containers.js';
import { NsnetError } from '../../src/core/errors.js';

const h = (name: string): Handler => async (_req, res) => res.text(200, name);

describe('router', () => {
  test('a literal segment wins over a {param} whatever the order of registration', () => {
    const r = new Router();
    r.route('GET', '/containers/{id}/json', h('inspect'));
    r.route('GET', '/containers/json', h('list'));
    assert.equal(r.match('GET', '/containers/json')?.pattern, '/containers/json');
    assert.deepEqual(r.match('GET', '/containers/red/json')?.params, { id: 'red' });
  });

  test('params are percent-decoded; {name*} takes the rest of the path; no match is undefined', () => {
    const r = new Router();
    r.route('GET', '/networks/{id}', h('n'));
    r.route('DELETE', '/images/{name*}', h('i'));
    assert.deepEqual(r.match('GET', '/networks/my%20net')?.params, { id: 'my net' });
    assert.deepEqual(r.match('DELETE', '/images/localhost:5000/busybox:latest')?.params, { name: 'localhost:5000/busybox:latest' });
    assert.equal(r.match('GET', '/networks/a/b'), undefined);
    assert.equal(r.match('GET', '/networks/'), undefined, 'an empty {id} is no id');
    assert.equal(r.match('POST', '/networks/x'), undefined, 'another method is no match');
    assert.equal(r.match('GET', '/networks/%E0%A4%A'), undefined, 'a bad escape is no match, not an exception');
  });

  test('GET and HEAD run concurrently, other methods one at a time unless asked; a route twice is refused', () => {
    const r = new Router();
    r.route('GET', '/a', h('a'));
    r.route('POST', '/b', h('b'));
    r.route('POST', '/c', h('c'), { concurrent: true });
    assert.equal(r.match('GET', '/a')?.concurrent, true);
    assert.equal(r.match('POST', '/b')?.concurrent, false);
    assert.equal(r.match('POST', '/c')?.concurrent, true);
    assert.throws(() => r.route('GET', '/a', h('again')), /registered twice/);
  });

  test('a route without {params} answers its own path, lower-case method too, and nothing else', () => {
    const r = new Router();
    r.unsupported('*', '/info', 'info');
    r.route('GET', '/{what}', h('any'));
    r.route('GET', '/info', h('info'));
    assert.equal(r.match('get', '/info')?.pattern, '/info');
    assert.deepEqual(r.match('GET', '/info')?.params, {});
    assert.equal(r.match('POST', '/info')?.pattern, '/info', "the '*' route for another method");
    assert.equal(r.match('GET', '/info/')?.pattern, undefined, 'a trailing slash is another path');
    assert.equal(r.match('GET', '/other')?.pattern, '/{what}');
  });

  test("unsupported('*') matches any method, and a route of the very method wins over it", () => {
    const r = new Router();
    r.unsupported('*', '/volumes/{rest*}', 'volumes');
    r.route('GET', '/volumes/{name}', h('v'));
    assert.equal(r.match('GET', '/volumes/x')?.pattern, '/volumes/{name}');
    assert.equal(r.match('DELETE', '/volumes/x')?.pattern, '/volumes/{rest*}');
  });

  test('the full route table has no clash and covers the endpoints clients use', () => {
    const r = buildRouter({ events: undefined as never });
    for (const [method, path] of [
      ['GET', '/_ping'],
      ['HEAD', '/_ping'],
      ['GET', '/version'],
      ['GET', '/info'],
      ['GET', '/events'],
      ['GET', '/networks'],
      ['POST', '/networks/create'],
      ['POST', '/networks/n/connect'],
      ['POST', '/networks/prune'],
      ['GET', '/containers/json'],
      ['POST', '/containers/create'],
      ['POST', '/containers/c/wait'],
      ['GET', '/containers/c/logs'],
      ['POST', '/containers/prune'],
    ]) {
      assert.notEqual(r.match(method!, path!), undefined, `${method} ${path}`);
    }
    assert.equal(r.match('POST', '/networks/prune')?.pattern, '/networks/prune', 'prune is not connect to a network named prune');
    assert.equal(r.match('POST', '/swarm/init')?.pattern, '/swarm/{rest*}');
  });
});

describe('versions', () => {
  test('the /vX.Y prefix is split off; paths without one are the same endpoints', () => {
    assert.deepEqual(splitVersion('/v1.41/containers/json'), { version: '1.41', path: '/containers/json' });
    assert.deepEqual(splitVersion('/containers/json'), { version: undefined, path: '/containers/json' });
    assert.deepEqual(splitVersion('/v1.41'), { version: undefined, path: '/v1.41' });
  });

  test('versions compare as numbers, not text', () => {
    assert.equal(compareVersions('1.9', '1.12'), -1);
    assert.equal(compareVersions('1.41', '1.41'), 0);
    assert.equal(compareVersions('2.0', '1.41'), 1);
  });

  test("too new and too old are refused with dockerd's words; none means 1.41", () => {
    assert.equal(negotiate(undefined), '1.41');
    assert.equal(negotiate('1.24'), '1.24');
    assert.throws(() => negotiate('1.47'), (e: unknown) => e instanceof ApiError && e.status === 400 && e.message === 'client version 1.47 is too new. Maximum supported API version is 1.41');
    assert.throws(() => negotiate('1.11'), (e: unknown) => e instanceof ApiError && e.status === 400 && /too old. Minimum supported API version is 1.12/.test(e.message));
  });
});

describe('errors', () => {
  test("nsnet's codes get dockerd's statuses; a missing container reads as Docker's", () => {
    assert.deepEqual(errorAnswer(new NsnetError('NOT_FOUND', 'no such container: red')), { status: 404, message: 'No such container: red' });
    assert.equal(errorAnswer(new NsnetError('NAME_IN_USE', 'network with name x already exists')).status, 409);
    assert.equal(errorAnswer(new NsnetError('INVALID_VALUE', 'bad')).status, 400);
    assert.equal(errorAnswer(new NsnetError('FORBIDDEN', 'bridge is the default')).status, 403);
    assert.equal(errorAnswer(new NsnetError('KERNEL', 'x')).status, 500);
    assert.equal(errorAnswer(new Error('boom')).status, 500);
    assert.match(errorAnswer(new NsnetError('IN_USE', 'busy', { hint: 'disconnect them' })).message, /busy \(hint: disconnect them\)/);
  });
});

describe('stream framing', () => {
  test('an 8-byte header: stream, three zeros, big-endian length', () => {
    const f = frame(STDERR, 'hi\n');
    assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 3]);
    assert.equal(f.subarray(8).toString(), 'hi\n');
  });

  test('frames come apart again, an unfinished one is left over', () => {
    const data = Buffer.concat([frame(STDOUT, 'a'), frame(STDERR, 'bc'), frame(STDOUT, 'def').subarray(0, 9)]);
    const { frames, rest } = unframe(data);
    assert.deepEqual(frames.map((x) => [x.stream, x.payload.toString()]), [[1, 'a'], [2, 'bc']]);
    assert.equal(rest.length, 9);
  });
});

describe('request bodies', () => {
  test('network create: IPAM configs per family, options, labels; bad types name the field', () => {
    const input = networkInput({
      Name: 'study',
      Driver: 'bridge',
      Internal: true,
      EnableIPv6: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.30.0.0/24', Gateway: '10.30.0.1', IPRange: '10.30.0.128/25', AuxiliaryAddresses: { r: '10.30.0.2' } }, { Subnet: '2001:db8:30::/64' }] },
      Options: { 'com.docker.network.driver.mtu': '1400' },
      Labels: { app: 'x' },
      CheckDuplicate: true,
    });
    assert.deepEqual(input.subnet, ['10.30.0.0/24', '2001:db8:30::/64']);
    assert.deepEqual(input.gateway, ['10.30.0.1']);
    assert.deepEqual(input.ipRange, ['10.30.0.128/25']);
    assert.deepEqual(input.auxAddresses, { r: '10.30.0.2' });
    assert.equal(input.internal, true);
    assert.equal(input.ipv6, true);
    assert.deepEqual(input.labels, { app: 'x' });
    assert.throws(() => networkInput({ Name: 'x', Internal: 'yes' }), /invalid Internal: expected true or false/);
    assert.throws(() => networkInput({ Name: 'x', IPAM: { Driver: 'dhcp' } }), /IPAM driver "dhcp"/);
    assert.throws(() => networkInput({}), /network name is required/);
    assert.throws(() => networkInput([]), /expected a JSON object/);
  });

  test("container create: Config, HostConfig and NetworkingConfig as run's options", () => {
    const input = createInput('/web', {
      Image: 'busybox',
      Cmd: ['sleep', '1000'],
      Entrypoint: null,
      Env: ['A=1', 'B=x=y'],
      ExposedPorts: { '80/tcp': {} },
      Labels: { 'com.docker.compose.service': 'web' },
      Tty: false,
      HostConfig: {
        NetworkMode: 'study',
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        CapAdd: ['NET_ADMIN'],
        Dns: ['192.0.2.53'],
        ExtraHosts: ['db:10.0.0.5'],
        AutoRemove: true,
      },
      NetworkingConfig: { EndpointsConfig: { study: { Aliases: ['www'], IPAMConfig: { IPv4Address: '10.30.0.9' } } } },
    });
    assert.equal(input.name, 'web');
    assert.deepEqual(input.networks, ['study']);
    assert.equal(input.ip, '10.30.0.9');
    assert.deepEqual(input.env, { A: '1', B: 'x=y' });
    assert.deepEqual(input.argv, ['sleep', '1000']);
    assert.equal(input.entrypoint, undefined);
    assert.deepEqual(input.publish, ['8080:80/tcp', '127.0.0.1::53/udp']);
    assert.equal(input.restart, 'on-failure:3');
    assert.deepEqual(input.expose, ['80/tcp']);
    assert.equal(input.autoRemove, true);
    assert.deepEqual(input.networkAliases, { study: ['www'] });
    assert.deepEqual(input.dns?.aliases, [], 'an endpoint\'s aliases are not names on every network');
    assert.throws(() => createInput(null, { Cmd: ['x'] }), /no image given/);
    assert.throws(() => createInput(null, { Image: 'b', HostConfig: { Mounts: [{ Type: 'volume' }] } }), (e: unknown) => e instanceof ApiError && e.status === 400 && /not supported by nsnet/.test(e.message));
  });

  test('container create: docker 28\'s NetworkMode "default" and EndpointsConfig {"default": ...} are the bridge', () => {
    const input = createInput('/web', { Image: 'busybox', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } } });
    assert.deepEqual(input.networks, ['bridge']);
    assert.equal(input.ip, '172.17.0.9');
    assert.deepEqual(createInput(null, { Image: 'busybox', HostConfig: { NetworkMode: 'default' } }).networks, ['bridge']);
    assert.deepEqual(createInput(null, { Image: 'busybox', HostConfig: { NetworkMode: 'study' }, NetworkingConfig: { EndpointsConfig: { study: {}, default: {} } } }).networks, ['study', 'bridge']);
  });

  test('container create: each network\'s EndpointsConfig Aliases are for that network only', () => {
    const input = createInput('/api', {
      Image: 'busybox',
      HostConfig: { NetworkMode: 'front' },
      NetworkingConfig: { EndpointsConfig: { front: { Aliases: ['api', 'api-front'] }, back: { Aliases: ['api-back'] }, default: {} } },
    });
    assert.deepEqual(input.networks, ['front', 'back', 'bridge']);
    assert.deepEqual(input.networkAliases, { front: ['api', 'api-front'], back: ['api-back'] });
    assert.deepEqual(input.dns?.aliases, []);
    assert.throws(() => createInput(null, { Image: 'b', NetworkingConfig: { EndpointsConfig: { front: { Aliases: [5] } } } }), /EndpointsConfig\["front"\]\.Aliases/);
  });

  test('container create with no Config.Hostname: the id\'s first 12 characters, as dockerd; a given one is kept', () => {
    const none = createInput('/proj_web_1', { Image: 'busybox' });
    assert.deepEqual([none.hostname, none.hostnameFromId], [undefined, true]);
    assert.equal(createInput('/web', { Image: 'busybox', Hostname: 'www' }).hostname, 'www');
  });

  test('port bindings: -p 80 and [::1]:8080:80', () => {
    assert.deepEqual(publishSpecs({ '80/tcp': [{ HostIp: '', HostPort: '' }] }), ['80/tcp']);
    assert.deepEqual(publishSpecs({ '80/tcp': [{ HostIp: '::1', HostPort: '8080' }] }), ['[::1]:8080:80/tcp']);
    assert.throws(() => publishSpecs({ 'x/tcp': [] }), /invalid port "x\/tcp"/);
  });

  test('signals: names with or without SIG, numbers; others refused', () => {
    assert.equal(signalName(''), 'SIGKILL');
    assert.equal(signalName('term'), 'SIGTERM');
    assert.equal(signalName('SIGHUP'), 'SIGHUP');
    assert.equal(signalName('9'), 'SIGKILL');
    assert.throws(() => signalName('SIGBOGUS'), /invalid signal/);
  });
});

describe('events', () => {
  const empty = () => ({ containers: new Map(), networks: new Map(), endpoints: new Set<string>() });
  const c = (running: boolean, startedAt: string | null, extra: Partial<{ exitCode: number | null; manual: boolean }> = {}) => ({ name: 'red', image: 'busybox', labels: { app: 'x' }, running, startedAt, exitCode: null, manual: false, ...extra });

  test('a container made, started, stopped and removed: create, connect, start, die, stop, disconnect, destroy', () => {
    const s0 = empty();
    const s1 = empty();
    s1.networks.set('n1', { name: 'study', driver: 'bridge', labels: {} });
    s1.containers.set('c1', c(true, 't1'));
    s1.endpoints.add('n1 c1');
    const s2 = { ...s1, containers: new Map([['c1', c(false, 't1', { exitCode: 143, manual: true })]]) };
    const s3 = { ...empty(), networks: s1.networks };
    const actions = (a: ReturnType<typeof empty>, b: ReturnType<typeof empty>): string[] => diffSnapshots(a, b, 1_000).map((e) => `${e.Type} ${e.Action}`);
    assert.deepEqual(actions(s0, s1), ['network create', 'container create', 'network connect', 'container start']);
    assert.deepEqual(actions(s1, s2), ['container die', 'container stop']);
    assert.deepEqual(actions(s2, s3), ['network disconnect', 'container destroy']);
    assert.equal(diffSnapshots(s1, s2, 1_000)[0]!.Actor.Attributes['exitCode'], '143');
  });

  test('a run that started and ended between two looks still gives start and die', () => {
    const before = empty();
    before.containers.set('c1', c(false, null));
    const after = empty();
    after.containers.set('c1', c(false, 't1', { exitCode: 3 }));
    const events = diffSnapshots(before, after, 1_000);
    assert.deepEqual(events.map((e) => e.Action), ['start', 'die']);
    assert.equal(events[1]!.Actor.Attributes['exitCode'], '3');
    const restarted = empty();
    restarted.containers.set('c1', c(true, 't2'));
    const running = empty();
    running.containers.set('c1', c(true, 't1'));
    assert.deepEqual(diffSnapshots(running, restarted, 1_000).map((e) => e.Action), ['die', 'start'], 'a restart between looks');
  });

  test('filters in both of Docker\'s forms, and matching', () => {
    assert.deepEqual([...parseFilterParam('{"type":["container"]}', ['type'])], [['type', ['container']]]);
    assert.deepEqual([...parseFilterParam('{"type":{"network":true}}', ['type'])], [['type', ['network']]]);
    assert.throws(() => parseFilterParam('{"bogus":["x"]}', ['type']), /invalid filter 'bogus'/);
    assert.throws(() => parseFilterParam('{', ['type']), /invalid filter/);
    const e: DockerEvent = { Type: 'container', Action: 'start', Actor: { ID: 'abc123', Attributes: { name: 'red', image: 'busybox', app: 'x' } }, scope: 'local', time: 1, timeNano: 1e9 };
    assert.equal(eventMatches(e, new Map([['container', ['red']], ['event', ['start', 'die']]])), true);
    assert.equal(eventMatches(e, new Map([['container', ['abc']]])), true);
    assert.equal(eventMatches(e, new Map([['label', ['app=x']]])), true);
    assert.equal(eventMatches(e, new Map([['type', ['network']]])), false);
  });

  test('since/until as Unix seconds with a fraction or RFC 3339', () => {
    assert.equal(parseEventTime('1700000000.5', 'since'), 1700000000.5e9);
    assert.equal(parseEventTime('2023-11-14T22:13:20Z', 'since'), 1700000000e9);
    assert.equal(parseEventTime(null, 'since'), undefined);
    assert.throws(() => parseEventTime('yesterday', 'since'), /invalid since/);
  });
});
