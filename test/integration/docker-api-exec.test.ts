/**
 * docker exec and docker attach with the real docker CLI (28.x at /usr/local/bin/docker, and
 * Debian's 20.10 when installed) against `nsnet serve` in a sandbox — never dockerd. exec: output,
 * exit codes, stdout and stderr apart, stdin piped to its end, -w and -e, and `docker exec -it`
 * on a real terminal (python3's pty module plays the user: a prompt, `echo hi`, the terminal's
 * size, `exit 5` gives 5). attach: a foreground `docker run --rm` prints its output and exits with
 * its code, `docker run --rm -i` takes piped stdin, `docker attach` reaches a `run -dit` shell, and
 * `docker run --rm -it busybox sh` is a shell on a real terminal; --rm leaves nothing. Each exec is one request sequence through the hijacked connection; the CLI
 * reads the exit code from GET /exec/{id}/json after the stream ends.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { closeApiSandbox, DOCKER_CLIS, executable, openApiSandbox, type ApiSandbox, type ApiServer, type DockerCli } from '../helpers/api-server.js';
import { ok } from '../helpers/assert.js';
import { busyboxSpec, dockerArchive } from '../helpers/image-fixtures.js';
import { needs, requiredSuite, tools } from '../helpers/requirements.js';
import { describeResult, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';

/**
 * Runs argv on a pseudo-terminal of 30 rows and 90 columns, as a user at a terminal would: waits
 * for the prompt, types each line (waiting for its marker), then prints the exit code and all the
 * terminal showed as JSON.
 */
const TERMINAL_USER = String.raw`
import json, os, pty, select, struct, sys, time, fcntl, termios
script = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 90, 0, 0))
out = b''
def until(marker, timeout=15):
    global out
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return False
            if not d:
                return False
            out += d
            if marker.encode() in out:
                return True
    return False
seen = [until(script['prompt']) if script['prompt'] else True]
for line, marker in script['steps']:
    os.write(fd, line.encode() + b'\r')
    seen.append(until(marker) if marker else True)
until('\x00', 10)
_, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'seen': seen, 'out': out.decode(errors='replace')}))
`;

interface TerminalRun {
  code: number;
  seen: boolean[];
  out: string;
}

for (const cli of DOCKER_CLIS) suite(cli);

function suite(cli: DockerCli): void {
  requiredSuite(
    `Docker API: exec and attach with ${cli.label}`,
    { needs: [needs.integration, needs.busybox, executable(cli.path, 'the docker exec tests', cli.install), tools('the terminal tests', ['python3'], 'apt-get install python3')], concurrency: false, timeout: 240_000 },
    () => {
      let box: ApiSandbox | undefined;
      let sb: Sandbox;
      let api: ApiServer;
      let red = '';
      const docker = (args: readonly string[], input?: string): Promise<RunResult> => runAsync([cli.path, ...args], { env: api.env, timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
      const why = (r: RunResult): string => `${describeResult(r)}\n--- nsnet serve log (end):\n${api.log().slice(-3000)}`;
      /** docker ARGS on a terminal, typing `steps` ([line, marker to wait for]). */
      const onTerminal = async (args: readonly string[], prompt: string, steps: Array<[string, string]>): Promise<TerminalRun> => {
        const r = await runAsync(['python3', '-c', TERMINAL_USER, JSON.stringify({ prompt, steps }), cli.path, ...args], { env: api.env, timeoutMs: 60_000 });
        assert.equal(r.code, 0, why(r));
        return JSON.parse(r.stdout) as TerminalRun;
      };

      before(async () => {
        box = await openApiSandbox('dx');
        ({ sb, api } = box);
        red = `${sb.prefix}red`;
        ok(await sb.nsnet(['run', '-d', '--name', red, '--', 'sleep', '1000']));
        const archive = path.join(box.dir, 'busybox.tar');
        fs.writeFileSync(archive, dockerArchive([busyboxSpec()]));
        ok(await sb.nsnet(['image', 'load', '-i', archive]));
      });
      after(() => closeApiSandbox(box));

      it('docker exec red ip addr show eth0: the container\'s eth0 and its address', async () => {
        const r = await docker(['exec', red, 'ip', 'addr', 'show', 'eth0']);
        assert.equal(r.code, 0, why(r));
        assert.match(r.stdout, /eth0@if\d+: .*UP/);
        assert.match(r.stdout, /inet 172\.17\.0\.\d+\/16/);
      });

      it("exit codes: sh -c 'exit 3' exits 3, a missing command 127; stdout and stderr stay apart", async () => {
        assert.equal((await docker(['exec', red, 'sh', '-c', 'exit 3'])).code, 3);
        const missing = await docker(['exec', red, 'no-such-command']);
        assert.equal(missing.code, 127, why(missing));
        const r = await docker(['exec', red, 'sh', '-c', 'echo out; echo err >&2']);
        assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'out\n', 'err\n'], why(r));
      });

      it('docker exec -i red cat: stdin piped in, to its end', async () => {
        const r = await docker(['exec', '-i', red, 'cat'], 'hello\nworld\n');
        assert.deepEqual([r.code, r.stdout], [0, 'hello\nworld\n'], why(r));
      });

      it('-w and -e: the working directory and the environment', async () => {
        const r = await docker(['exec', '-w', '/tmp', '-e', 'X=1', red, 'sh', '-c', 'echo "$(pwd) $X $HOSTNAME"']);
        assert.equal(r.stdout, `/tmp 1 ${red}\n`, why(r));
      });

      it("refusals in Docker's shape: bad exec bodies, an unknown exec, a second start, a bad size, attach without a stream", async () => {
        const create = (body: unknown) => api.request('POST', `/v1.41/containers/${red}/exec`, body as object);
        for (const [body, message] of [
          [{ Cmd: [] }, /No exec command specified/],
          [{ Cmd: ['ls'], User: 5 }, /invalid User: a string/],
          [{ Cmd: ['ls'], Env: 'A=1' }, /invalid Env/],
          [{ Cmd: [1] }, /invalid Cmd/],
          [{ Cmd: ['ls'], WorkingDir: 'tmp' }, /needs to be an absolute path/],
          [[1], /expected a JSON object/],
        ] as const) {
          const r = await create(body);
          assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body.toString()}`);
          assert.match(r.json<{ message: string }>().message, message);
        }
        assert.equal((await api.request('POST', '/v1.41/exec/nope/start', {}, { Connection: 'Upgrade', Upgrade: 'tcp' })).status, 404);
        assert.equal((await api.request('GET', '/v1.41/exec/nope/json')).json<{ message: string }>().message, 'No such exec instance: nope');
        const id = (await create({ Cmd: ['true'], AttachStdout: true })).json<{ Id: string }>().Id;
        assert.equal((await api.request('POST', `/v1.41/exec/${id}/start`, { Detach: false })).status, 200);
        const again = await api.request('POST', `/v1.41/exec/${id}/start`, { Detach: false });
        assert.deepEqual([again.status, again.json<{ message: string }>().message], [409, `Exec command ${id} has already run`]);
        assert.equal((await api.request('GET', `/v1.41/exec/${id}/json`)).json<{ ExitCode: number; Running: boolean }>().ExitCode, 0);
        assert.equal((await api.request('POST', `/v1.41/exec/${id}/resize?h=x&w=1`)).status, 400);
        assert.equal((await api.request('POST', `/v1.41/containers/${red}/attach?stream=1`)).status, 400);
        assert.equal((await api.request('GET', '/_ping')).status, 200, 'the server still serves');
      });

      it('docker exec -it red sh on a terminal: a prompt, echo hi, the terminal size, exit 5', async () => {
        const t = await onTerminal(['exec', '-it', red, 'sh'], '# ', [['echo hi; stty size; tty', 'pts/'], ['exit 5', '']]);
        assert.deepEqual(t.seen, [true, true, true], t.out);
        assert.match(t.out, /hi\r\n30 90\r\n\/dev\/pts\/\d+\r\n/);
        assert.equal(t.code, 5, t.out);
      });

      it("docker exec -it in an image's container: the terminal is one of its own /dev/pts, with job control", async () => {
        const name = `${sb.prefix}pts`;
        assert.equal((await docker(['run', '-d', '--name', name, 'busybox', 'sleep', '1000'])).code, 0);
        try {
          const t = await onTerminal(['exec', '-it', name, 'sh'], '# ', [
            ['tty; ls -1 /dev/pts; readlink /dev/ptmx', 'ptmx\r\npts/ptmx'],
            ['sleep 100 & jobs', 'Running'],
            ['kill %1; exit 4', ''],
          ]);
          assert.deepEqual(t.seen, [true, true, true, true], t.out);
          // The container's own devpts (newinstance): its first terminal, and only its own listed.
          assert.match(t.out, /\/dev\/pts\/0\r\n0\r\nptmx\r\npts\/ptmx\r\n/);
          assert.match(t.out, /\[1\]\+ +Running +sleep 100/);
          assert.doesNotMatch(t.out, /job control turned off|not a tty/);
          assert.equal(t.code, 4, t.out);
        } finally {
          await docker(['rm', '-f', name]);
        }
      });

      it('docker run (foreground): the output on the terminal, stdout and stderr apart, the exit code', async () => {
        const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n'], why(r));
      });

      it('docker run -i: piped stdin reaches the container and its end ends cat', async () => {
        const r = await docker(['run', '--rm', '-i', 'busybox', 'cat'], 'piped\nlines\n');
        assert.deepEqual([r.code, r.stdout], [0, 'piped\nlines\n'], why(r));
      });

      it('docker run -d --rm: no client is attached, and still the container goes when it ends or is stopped', async () => {
        const ended = `${sb.prefix}rmend`;
        const stopped = `${sb.prefix}rmstop`;
        assert.equal((await docker(['run', '-d', '--rm', '--name', ended, 'busybox', 'sh', '-c', 'sleep 1'])).code, 0);
        assert.equal((await docker(['run', '-d', '--rm', '--name', stopped, 'busybox', 'sleep', '1000'])).code, 0);
        assert.equal((await docker(['stop', '-t', '1', stopped])).code, 0);
        const names = async (): Promise<string> => (await docker(['ps', '-a', '--filter', `name=${sb.prefix}rm`, '--format', '{{.Names}}'])).stdout;
        let left = await names();
        for (let i = 0; i < 100 && left !== ''; i++) {
          await new Promise((r) => setTimeout(r, 100));
          left = await names();
        }
        assert.equal(left, '', 'both removed by nsnet serve');
      });

      it('docker start -ai of a stopped run -di container: the attach waits for the new run, which reads the new input', async () => {
        const name = `${sb.prefix}di`;
        assert.equal((await docker(['run', '-di', '--name', name, 'busybox', 'sh', '-c', 'head -n1; echo done'])).code, 0);
        assert.equal((await docker(['stop', '-t', '1', name])).code, 0);
        const r = await docker(['start', '-ai', name], 'again\n');
        assert.deepEqual([r.code, r.stdout], [0, 'again\ndone\n'], why(r));
      });

      it('docker attach to a run -dit shell: input reaches it, exit 7 ends both with 7; docker logs has the terminal raw', async () => {
        const name = `${sb.prefix}tt`;
        const run = await docker(['run', '-dit', '--name', name, 'busybox', 'sh']);
        assert.equal(run.code, 0, why(run));
        const seen = await docker(['inspect', '-f', '{{.Config.Tty}} {{.Config.OpenStdin}}', name]);
        assert.equal(seen.stdout, 'true true\n', why(seen));
        // The prompt was printed before the attach: the first marker is the typed line's echo.
        const t = await onTerminal(['attach', name], '', [['echo attached', 'attached\r\n'], ['exit 7', '']]);
        assert.equal(t.code, 7, t.out);
        const state = await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
        assert.equal(state.stdout, 'exited 7\n', why(state));
        const logs = await docker(['logs', name]);
        assert.match(logs.stdout, /echo attached\r\nattached\r\n/, 'raw, no stream headers');
      });

      it('docker run --rm -it busybox sh on a terminal: a prompt, echo hi, the size, exit 5; --rm removed them all', async () => {
        const t = await onTerminal(['run', '--rm', '-it', 'busybox', 'sh'], '# ', [['echo hi; stty size', '90'], ['tty; ls -1 /dev/pts', 'ptmx'], ['exit 5', '']]);
        assert.deepEqual(t.seen, [true, true, true, true], t.out);
        assert.match(t.out, /hi\r\n30 90\r\n/);
        // The terminal is the container's own (its devpts), as Docker's: `tty` names it.
        assert.match(t.out, /\/dev\/pts\/0\r\n0\r\nptmx\r\n/);
        assert.equal(t.code, 5, t.out);
        const left = await docker(['ps', '-a', '--filter', 'ancestor=busybox', '--format', '{{.Names}} {{.Status}}']);
        // The run -di and run -dit containers of the tests above were made without --rm.
        const kept = [`${sb.prefix}tt `, `${sb.prefix}di `];
        assert.equal(left.stdout.split('\n').filter((l) => l !== '' && !kept.some((k) => l.startsWith(k))).join('\n'), '', why(left));
      });
    },
  );
}
