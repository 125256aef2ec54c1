/**
 * Docker's exec below the kernel: the stdcopy reader (frames cut anywhere, a foreign header
 * refused), the nsenter argv an exec gets (core/exec-spec.ts) with and without a root
 * filesystem, a terminal, a user and a working directory, Docker's User resolved in the
 * container's account files, the exec environment's order, and the exec instances' inspect shape.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { demux, frame, FrameReader, STDERR, STDOUT } from '../../src/api/stdcopy.js';
import { execArgs } from '../../src/core/exec-spec.js';
import { NsnetError } from '../../src/core/errors.js';
import { execEnv, resolveUser, validateExecOptions } from '../../src/ops/container-exec.js';
import { execInspect, ExecInstances } from '../../src/api/exec-instances.js';
import { sizeFrom } from '../../src/api/routes-exec.js';
import { pipedStdin, sessionInside, terminalStdio } from '../../src/kernel/attach-stdio.js';
import { createInput } from '../../src/api/container-config.js';

describe('stdcopy', () => {
  test('frames written and read back, however the bytes are cut', () => {
    const wire = Buffer.concat([frame(STDOUT, 'out\n'), frame(STDERR, 'err\n'), frame(STDOUT, ''), frame(STDOUT, 'more')]);
    assert.deepEqual(wire.subarray(0, 8), Buffer.from([1, 0, 0, 0, 0, 0, 0, 4]));
    for (let cut = 0; cut <= wire.length; cut++) {
      const reader = new FrameReader();
      const frames = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
      assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [[1, 'out\n'], [2, 'err\n'], [1, ''], [1, 'more']], `cut at ${cut}`);
      assert.equal(reader.buffered, 0);
    }
    assert.deepEqual(demux(wire), { stdout: Buffer.from('out\nmore'), stderr: Buffer.from('err\n'), systemerr: Buffer.alloc(0) });
  });

  test('a header that is not Docker framing, and a cut stream, are errors naming the bytes', () => {
    assert.throws(() => new FrameReader().push(Buffer.from('HTTP/1.1 200 OK\r\n')), /not a Docker stream frame header: 48545450/);
    assert.throws(() => demux(frame(STDOUT, 'abc').subarray(0, 10)), /cut inside a frame \(10 bytes left over\)/);
  });
});

describe('exec argv', () => {
  const DEFAULT_SET = '--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap';

  test('a container on the host root filesystem: the target root and working directory, the default capabilities', () => {
    assert.deepEqual(execArgs({ pid: 42, argv: ['ip', 'addr'], tty: false }), [
      '--target', '42', '--net', '--uts', '--ipc', '--mount', '--pid', '--root', '--wd', '--',
      'setpriv', DEFAULT_SET, '--inh-caps=-all', '--no-new-privs', '--', 'ip', 'addr',
    ]);
  });

  test('a terminal makes a session with it as controlling terminal, before the capabilities go', () => {
    const args = execArgs({ pid: 42, argv: ['sh'], tty: true, privileges: { privileged: true } });
    assert.deepEqual(args, ['--target', '42', '--net', '--uts', '--ipc', '--mount', '--pid', '--root', '--wd', '--', 'setsid', '--ctty', 'sh']);
  });

  test('a working directory without a root filesystem is opened inside the namespace (--wdns)', () => {
    assert.ok(execArgs({ pid: 7, argv: ['pwd'], tty: false, workdir: '/srv' }).includes('--wdns=/srv'));
    assert.ok(execArgs({ pid: 7, argv: ['pwd'], tty: false, workdir: '/' }).includes('--wd'), '/ is the default');
  });

  test('a root filesystem: entered after setpriv, with the user and working directory', () => {
    const args = execArgs({ pid: 9, argv: ['id'], tty: false, rootfs: '/r', user: '33:33', workdir: '/w' });
    const afterCaps = args.slice(args.indexOf('--no-new-privs') + 2);
    assert.deepEqual(afterCaps, ['nsenter', '--root=/r', '--wdns=/w', '-S', '33', '-G', '33', '--', 'id']);
    assert.ok(!args.slice(0, args.indexOf('--') + 1).includes('--root'), 'the outer nsenter stays at the mount namespace root');
  });
});

describe('exec options', () => {
  const accounts = {
    passwd: 'root:x:0:0:root:/root:/bin/sh\n# comment\nwww:x:33:34:www:/var/www:/bin/sh\n',
    group: 'root:x:0:\nwww:x:34:\nstaff:x:50:www\n',
  };

  test("Docker's User forms resolved in the container's files", () => {
    assert.equal(resolveUser('www', accounts), '33:34');
    assert.equal(resolveUser('33', accounts), '33:34', 'a uid of the file takes its group');
    assert.equal(resolveUser('1000', accounts), '1000:0', 'a uid the file lacks: group 0, as runc');
    assert.equal(resolveUser('www:staff', accounts), '33:50');
    assert.equal(resolveUser('0:50', accounts), '0:50');
  });

  test('names the files lack are refused with Docker\'s words', () => {
    assert.throws(() => resolveUser('nobody', accounts), (e: unknown) => e instanceof NsnetError && /unable to find user nobody: no matching entries in passwd file/.test(e.message));
    assert.throws(() => resolveUser('www:nogroup', accounts), /unable to find group nogroup/);
    assert.throws(() => resolveUser('99999999999', accounts), /ids are 0 to 4294967294/);
  });

  test('environment: defaults, TERM with a terminal, the container\'s Env over them, the exec\'s over all', () => {
    const env = execEnv({ hostname: 'red', env: { A: '1', TERM: 'vt100' } }, { tty: true, env: ['A=2', 'B=x=y', 'BARE'] });
    assert.deepEqual(env, { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: 'red', HOME: '/root', TERM: 'vt100', A: '2', B: 'x=y' });
    assert.equal(execEnv({ hostname: 'red', env: {} }, { tty: true }).TERM, 'xterm');
    assert.equal(execEnv({ hostname: 'red', env: {} }, { tty: false }).TERM, undefined);
  });

  test('refused at create: no command, an empty program, a relative working directory, an Env without a name', () => {
    assert.throws(() => validateExecOptions({ cmd: [], tty: false }), /No exec command specified/);
    assert.throws(() => validateExecOptions({ cmd: [' '], tty: false }), /program to run is empty/);
    assert.throws(() => validateExecOptions({ cmd: ['ls'], tty: false, workdir: 'tmp' }), /'tmp' is invalid, it needs to be an absolute path/);
    assert.throws(() => validateExecOptions({ cmd: ['ls'], tty: false, env: ['=x'] }), /invalid environment variable "=x"/);
  });
});

describe('exec instances', () => {
  test("inspect in Docker's shape, by id or unique prefix; a missing one is Docker's 404", () => {
    const store = new ExecInstances();
    const inst = store.add('c0ffee', { AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['sh', '-c', 'exit 3'], User: '33' }, { cmd: ['sh', '-c', 'exit 3'], tty: true, user: '33' });
    assert.match(inst.id, /^[0-9a-f]{64}$/);
    assert.equal(store.get(inst.id.slice(0, 12)), inst);
    store.finished(inst, 3);
    assert.deepEqual(execInspect(inst), {
      ID: inst.id,
      Running: false,
      ExitCode: 3,
      ProcessConfig: { tty: true, entrypoint: 'sh', arguments: ['-c', 'exit 3'], privileged: false, user: '33' },
      OpenStdin: false,
      OpenStderr: true,
      OpenStdout: true,
      CanRemove: false,
      ContainerID: 'c0ffee',
      DetachKeys: '',
      Pid: 0,
    });
    assert.throws(() => store.get('nope'), (e: unknown) => (e as { status?: number }).status === 404 && /No such exec instance: nope/.test((e as Error).message));
  });

  test('resize sizes: h and w whole numbers', () => {
    assert.deepEqual(sizeFrom(new URLSearchParams('h=40&w=120')), { rows: 40, cols: 120 });
    assert.throws(() => sizeFrom(new URLSearchParams('h=40')), /invalid terminal size h=40 w=null/);
    assert.throws(() => sizeFrom(new URLSearchParams('h=-1&w=5')), /whole numbers from 0 to 65535/);
  });
});

describe('attachable containers: the launch argv', () => {
  const launch = ['/usr/sbin/ip', 'netns', 'exec', 'red', '/usr/bin/unshare', '--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--propagation', 'slave', '--', '/usr/bin/setpriv', '--no-new-privs', '--', 'sh'];

  test("a terminal: the slave as stdio, and the session made inside the PID namespace (right after unshare's --)", () => {
    const argv = terminalStdio('/dev/pts/7')(launch);
    assert.deepEqual(argv.slice(1, 4), ['-c', 'exec 0<>"$0" 1>&0 2>&0 && exec "$@"', '/dev/pts/7']);
    const rest = argv.slice(4);
    const at = rest.indexOf('--');
    assert.deepEqual(rest.slice(0, at + 1), launch.slice(0, launch.indexOf('--') + 1));
    assert.match(rest[at + 1]!, /(^|\/)setsid$/);
    assert.deepEqual(rest.slice(at + 2), ['--ctty', ...launch.slice(launch.indexOf('--') + 1)]);
  });

  test('stdin from a named pipe, the launch as it was', () => {
    assert.deepEqual(pipedStdin('/r/c/stdin')(launch).slice(1), ['-c', 'exec 0<"$0" && exec "$@"', '/r/c/stdin', ...launch]);
  });

  test('a launch without unshare is a programming error, said with the argv', () => {
    assert.throws(() => sessionInside(['sleep', '1']), /cannot find unshare's -- in the launch command sleep 1/);
  });
});

describe("docker 28's create body", () => {
  test('EndpointsConfig keyed "default" with NetworkMode "default" is the default bridge, not a network named default', () => {
    const input = createInput(null, { Image: 'busybox', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: {} } } });
    assert.deepEqual(input.networks, ['bridge']);
  });
});
