/**
 * Issue 17 item 7: exit codes and multi-name commands as Docker's. `run` fails with 125 when the
 * container cannot be made (usage errors included), 126 when its command cannot be invoked, 127
 * when it is not found; `exec` 126/127 likewise; `rm -f` ignores missing containers; `rm`, `stop`,
 * `start` and `network rm` go on past a name that fails and exit 1 at the end. Each case checks
 * the exit code, the message on stderr and what exists afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, type Sandbox, sandboxHas } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

interface Case {
  what: string;
  /** Made before the command runs (containers, networks), by name suffix. */
  setup?: (sb: Sandbox, p: string) => Promise<void>;
  args: (p: string) => string[];
  code: number;
  stderr: RegExp;
  stdout?: (p: string) => RegExp;
  /** Containers or networks (by suffix, `net:` for a network) that exist afterwards, and ones that do not. */
  exists?: string[];
  gone?: string[];
}

const runD = async (sb: Sandbox, name: string, ...extra: string[]): Promise<void> => {
  ok(await sb.nsnet(['run', '-d', '--name', name, ...extra, '--', 'sleep', '1000']));
};

const CASES: Case[] = [
  // run: the container cannot be made → 125, and nothing is left.
  { what: 'run with an unknown flag', args: (p) => ['run', '--bogus', '--name', `${p}a`, '--', 'true'], code: 125, stderr: /unknown option '--bogus'/, gone: ['a'] },
  { what: 'run without a command', args: () => ['run', '-d'], code: 125, stderr: /run needs a command, or an image/ },
  { what: 'run on a missing network', args: (p) => ['run', '-d', '--name', `${p}b`, '--network', `${p}nosuch`, '--', 'true'], code: 125, stderr: /network .*nosuch not found/, gone: ['b'] },
  { what: 'run with a bad --ip', args: (p) => ['run', '-d', '--name', `${p}c`, '--network', `${p}n`, '--ip', '999.1.1.1', '--', 'true'], code: 125, stderr: /999\.1\.1\.1/, gone: ['c'] },
  // run: the command cannot be invoked (126) or found (127), detached and in the foreground.
  { what: 'run -d of a command not on PATH', args: (p) => ['run', '-d', '--name', `${p}d`, '--', 'no-such-command'], code: 127, stderr: /exec: "no-such-command": executable file not found in \$PATH/, gone: ['d'] },
  { what: 'run -d of a missing path', args: (p) => ['run', '-d', '--name', `${p}e`, '--', '/no/such/file'], code: 127, stderr: /exec: "\/no\/such\/file": no such file or directory/, gone: ['e'] },
  { what: 'run -d of a directory', args: (p) => ['run', '-d', '--name', `${p}f`, '--', '/etc'], code: 126, stderr: /exec: "\/etc": permission denied/, gone: ['f'] },
  { what: 'run -d of a file without x bits', args: (p) => ['run', '-d', '--name', `${p}g`, '--', '/etc/passwd'], code: 126, stderr: /exec: "\/etc\/passwd": permission denied/, gone: ['g'] },
  { what: 'run --rm of a command not on PATH', args: (p) => ['run', '--rm', '--name', `${p}h`, '--', 'no-such-command'], code: 127, stderr: /no-such-command/, gone: ['h'] },
  { what: 'run --rm of a directory', args: (p) => ['run', '--rm', '--name', `${p}i`, '--', '/etc'], code: 126, stderr: /\/etc/, gone: ['i'] },
  { what: "run gives the command's own status", args: (p) => ['run', '--rm', '--name', `${p}j`, '--', 'sh', '-c', 'exit 3'], code: 3, stderr: /^$/, gone: ['j'] },
  // exec: the command's status; 126/127 when it cannot be invoked; 1 when nsnet cannot exec at all.
  { what: 'exec of a command not on PATH', args: (p) => ['exec', `${p}up`, 'no-such-command'], code: 127, stderr: /no-such-command/, exists: ['up'] },
  { what: 'exec of a directory', args: (p) => ['exec', `${p}up`, '/etc'], code: 126, stderr: /\/etc/, exists: ['up'] },
  { what: "exec gives the command's own status", args: (p) => ['exec', `${p}up`, 'sh', '-c', 'exit 4'], code: 4, stderr: /^$/, exists: ['up'] },
  { what: 'exec in a missing container', args: (p) => ['exec', `${p}nosuch`, 'true'], code: 1, stderr: /no such container: .*nosuch/ },
  // rm -f ignores missing containers (Docker 20.10); rm without -f reports each, removes the rest.
  {
    what: 'rm -f of a missing and a present container',
    setup: (sb, p) => runD(sb, `${p}k`),
    args: (p) => ['rm', '-f', `${p}missing`, `${p}k`],
    code: 0,
    stderr: /^$/,
    stdout: (p) => new RegExp(`^${p}k\\n$`),
    gone: ['k'],
  },
  {
    what: 'rm of two missing containers and a stopped one',
    setup: async (sb, p) => {
      await runD(sb, `${p}l`);
      ok(await sb.nsnet(['stop', '-t', '0', `${p}l`]));
    },
    args: (p) => ['rm', `${p}missing1`, `${p}l`, `${p}missing2`],
    code: 1,
    stderr: /no such container: .*missing1[^]*no such container: .*missing2/,
    stdout: (p) => new RegExp(`^${p}l\\n$`),
    gone: ['l'],
  },
  {
    what: 'rm of a running container and a stopped one',
    setup: async (sb, p) => {
      await runD(sb, `${p}m1`);
      await runD(sb, `${p}m2`);
      ok(await sb.nsnet(['stop', '-t', '0', `${p}m2`]));
    },
    args: (p) => ['rm', `${p}m1`, `${p}m2`],
    code: 1,
    stderr: /container .*m1 is running/,
    exists: ['m1'],
    gone: ['m2'],
  },
  // network rm goes on past a missing or busy network.
  {
    what: 'network rm of a missing, a busy and a free network',
    setup: async (sb, p) => {
      ok(await sb.nsnet(['network', 'create', `${p}busy`, '--subnet', '10.117.1.0/24']));
      ok(await sb.nsnet(['network', 'create', `${p}free`, '--subnet', '10.117.2.0/24']));
      await runD(sb, `${p}o`, '--network', `${p}busy`);
    },
    args: (p) => ['network', 'rm', `${p}nonet`, `${p}busy`, `${p}free`],
    code: 1,
    stderr: /nonet not found[^]*busy has containers attached/,
    stdout: (p) => new RegExp(`^${p}free\\n$`),
    exists: ['net:busy', 'o'],
    gone: ['net:free'],
  },
  // stop and start go on past a missing container.
  { what: 'stop of a missing and a running container', setup: (sb, p) => runD(sb, `${p}q`), args: (p) => ['stop', '-t', '0', `${p}missing`, `${p}q`], code: 1, stderr: /no such container: .*missing/, stdout: (p) => new RegExp(`^${p}q\\n$`), exists: ['q'] },
  { what: 'start of a missing and a stopped container', args: (p) => ['start', `${p}missing`, `${p}q`], code: 1, stderr: /no such container: .*missing/, stdout: (p) => new RegExp(`^${p}q\\n$`), exists: ['q'] },
];

requiredSuite('Docker exit codes and multi-name commands (issue 17 item 7)', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await createSandbox('ex');
    ok(await sb.nsnet(['network', 'create', `${sb.prefix}n`, '--subnet', '10.117.0.0/24']));
    await runD(sb, `${sb.prefix}up`);
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  const exists = sandboxHas;

  for (const c of CASES) {
    test(c.what, async () => {
      assert.ok(sb, 'before() made the sandbox');
      const p = sb.prefix;
      await c.setup?.(sb, p);
      const r = await sb.nsnet(c.args(p));
      assert.equal(r.code, c.code, describeResult(r));
      assert.match(r.stderr, c.stderr, describeResult(r));
      if (c.stdout !== undefined) assert.match(r.stdout, c.stdout(p), describeResult(r));
      for (const thing of c.exists ?? []) assert.ok(await exists(sb, thing), `${thing} should exist after: ${describeResult(r)}`);
      for (const thing of c.gone ?? []) {
        assert.ok(!(await exists(sb, thing)), `${thing} should not exist after: ${describeResult(r)}`);
        if (!thing.startsWith('net:')) assert.equal(sb.netnsInode(`${p}${thing}`), undefined, `namespace ${thing} is left`);
      }
    });
  }

  test('afterwards: stop left q exited and start brought it back; the store and the kernel agree', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const view = JSON.parse(ok(await sb.nsnet(['inspect', `${sb.prefix}q`])).stdout) as Array<{ State: { Status: string } }>;
    assert.equal(view[0]!.State.Status, 'running');
    const check = await sb.nsnet(['system', 'check']);
    assert.equal(check.code, 0, describeResult(check));
  });
});
