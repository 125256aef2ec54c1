/**
 * Issue 17 items 1, 4 (listing flags) and 6, as a Docker user meets them, on the real kernel in a
 * sandbox: --format Go templates on inspect, network inspect, ps and network ls (Docker's own
 * examples from "Format command and log output" among them), ps's Docker columns and order,
 * `ps --filter/--no-trunc/-n/-l`, `network ls --filter`, and the errors: a bad template or an
 * unknown filter is refused with Go's or Docker's wording and exit code, and changes nothing.
 * Table-driven: each row is a command line, what it must print, and its exit code.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { exitCodeFor } from '../../src/cli/output.js';
import { createSandbox, describeResult, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const ok = (r: RunResult, what = 'command'): RunResult => {
  assert.equal(r.code, 0, `${what}\n${describeResult(r)}`);
  return r;
};
/** The exit code nsnet gives a usage error (a bad flag value, a template that does not parse). */
const USAGE_EXIT = exitCodeFor(new NsnetError('USAGE', ''));

interface Row {
  args: string[];
  /** The exact output, or a check of it. */
  out: string | ((stdout: string) => void);
  code?: number;
  stderr?: RegExp;
}

requiredSuite('Docker --format templates, ps columns and listing filters', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  const nsnet = (args: readonly string[]): Promise<RunResult> => sb!.nsnet(args);
  let p = '';
  let net = '';
  const ids: Record<string, string> = {};
  let inspected: Record<string, Record<string, unknown>> = {};

  const check = async (rows: readonly Row[]): Promise<void> => {
    for (const row of rows) {
      const r = await nsnet(row.args);
      const what = `nsnet ${row.args.map((a) => JSON.stringify(a)).join(' ')}\n${describeResult(r)}`;
      assert.equal(r.code, row.code ?? 0, what);
      if (row.stderr !== undefined) assert.match(r.stderr, row.stderr, what);
      if (typeof row.out === 'string') assert.equal(r.stdout, row.out, what);
      else row.out(r.stdout);
    }
  };
  const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

  before(async () => {
    sb = await createSandbox('fmt');
    p = sb.prefix;
    net = `${p}net`;
    ok(await nsnet(['network', 'create', '--subnet', '10.77.0.0/24', '--label', 'team=red', net]));
    ok(await nsnet(['run', '-d', '--name', `${p}a`, '--network', net, '-p', '18080:80', '--', 'sleep', '1000']));
    ok(await nsnet(['run', '-d', '--name', `${p}b`, '--', 'sh', '-c', 'sleep 1001; echo a-long-tail']));
    const c = await nsnet(['run', '--name', `${p}c`, '--', 'sh', '-c', 'exit 3']);
    assert.equal(c.code, 3, describeResult(c));
    for (const n of ['a', 'b', 'c']) {
      const view = (JSON.parse(ok(await nsnet(['inspect', `${p}${n}`])).stdout) as Array<Record<string, unknown>>)[0]!;
      inspected[n] = view;
      ids[n] = String(view['Id']);
    }
  });
  after(async () => {
    inspected = {};
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], [], 'no residue');
  });

  test("the issue's examples and Docker's documented ones", async () => {
    const a = inspected['a']!;
    const networks = (a['NetworkSettings'] as { Networks: Record<string, { IPAddress: string }> }).Networks;
    const ip = networks[net]!.IPAddress;
    assert.match(ip, /^10\.77\.0\.\d+$/);
    await check([
      { args: ['inspect', '-f', `{{.NetworkSettings.Networks.${net}.IPAddress}}`, `${p}a`], out: `${ip}\n` },
      { args: ['inspect', '--format', '{{json .NetworkSettings.Networks}}', `${p}a`], out: (s) => assert.deepEqual(JSON.parse(s), networks) },
      { args: ['inspect', '-f', '{{.Name}} {{.State.Running}}', `${p}a`, `${p}c`], out: `/${p}a true\n/${p}c false\n` },
      { args: ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', net], out: '10.77.0.0/24\n' },
      { args: ['network', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels.team}}', net], out: `${net} bridge red\n` },
      { args: ['network', 'ls', '--format', '{{.Name}}'], out: (s) => assert.deepEqual(lines(s).sort(), ['bridge', 'host', net, 'none'].sort()) },
      { args: ['ps', '--format', 'table {{.Names}}\\t{{.Status}}'], out: (s) => {
        const [header, ...rows] = lines(s);
        assert.match(header!, /^NAMES +STATUS$/);
        assert.deepEqual(rows.map((r) => r.split(/ {3,}/)[0]), [`${p}b`, `${p}a`], 'newest first, running only');
        for (const r of rows) assert.match(r, / {3}Up (Less than a second|\d+ seconds?)$/);
      } },
      // "Format command and log output": join, json, lower, split, title, upper, println, {{json .}}.
      { args: ['inspect', '--format', '{{join .Args " , "}}', `${p}b`], out: '-c , sleep 1001; echo a-long-tail\n' },
      { args: ['inspect', '--format', '{{lower .Name}}|{{upper .Name}}|{{title .Name}}', `${p}a`], out: `/${p}a|/${p.toUpperCase()}A|/${p[0]!.toUpperCase()}${p.slice(1)}a\n` },
      { args: ['inspect', '--format', '{{split .Name "/"}}', `${p}a`], out: `[ ${p}a]\n` },
      { args: ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}', `${p}a`], out: `${ip}\n\n` },
      'Mounts' in a
        ? { args: ['inspect', '--format', '{{json .Mounts}}', `${p}a`], out: `${JSON.stringify(a['Mounts'])}\n` }
        : { args: ['inspect', '--format', '{{json .Mounts}}', `${p}a`], out: '', code: 1, stderr: /map has no entry for key "Mounts"/ },
      { args: ['ps', '--format', '{{json .}}'], out: (s) => {
        const rows = lines(s).map((l) => JSON.parse(l) as Record<string, string>);
        assert.deepEqual(Object.keys(rows[0]!).sort(), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status'].sort());
        assert.deepEqual(rows.map((r) => r['Names']), [`${p}b`, `${p}a`]);
      } },
      { args: ['ps', '--format', '{{.Names}}: {{.Networks}} {{.Ports}} {{.State}}', '--filter', `name=${p}a`], out: `${p}a: ${net} 0.0.0.0:18080->80/tcp running\n` },
      { args: ['ps', '--format', '{{.Names}} {{.Networks}}', '--filter', `name=${p}b`], out: `${p}b bridge\n` },
    ]);
  });

  test("ps: Docker's columns, newest first, commands quoted and cut as Docker cuts them", async () => {
    const table = lines(ok(await nsnet(['ps', '-a'])).stdout);
    assert.match(table[0]!, /^CONTAINER ID {3}IMAGE {5}COMMAND {3,}CREATED {3,}STATUS {3,}PORTS {3,}NAMES$/);
    const cols = (line: string): string[] => line.split(/ {3,}|(?<=\S) {3,}/);
    const rows = table.slice(1);
    assert.deepEqual(rows.map((r) => r.split(' ').pop()), [`${p}c`, `${p}b`, `${p}a`], 'newest first');
    assert.ok(rows[0]!.startsWith(ids['c']!.slice(0, 12)), rows[0]);
    assert.match(rows[1]!, /"sh -c sleep 1001; e…"/, 'cut to 20 characters with …, in quotes');
    assert.match(rows[2]!, /"sleep 1000"/);
    assert.match(rows[0]!, /Exited \(3\) (Less than a second|\d+ seconds?) ago/);
    assert.match(rows[2]!, /\d+ seconds? ago|Less than a second ago/);
    assert.match(rows[2]!, /0\.0\.0\.0:18080->80\/tcp/);
    assert.ok(cols(table[0]!).length >= 6);
    await check([
      { args: ['ps', '--no-trunc', '--format', '{{.ID}} {{.Command}}', '--filter', `name=${p}b`], out: `${ids['b']} "sh -c sleep 1001; echo a-long-tail"\n` },
      { args: ['ps', '-q', '--no-trunc', '--filter', `name=${p}a`], out: `${ids['a']}\n` },
      { args: ['ps', '-q'], out: `${ids['b']!.slice(0, 12)}\n${ids['a']!.slice(0, 12)}\n` },
      { args: ['ps', '-l', '-q'], out: `${ids['c']!.slice(0, 12)}\n` },
      { args: ['ps', '-n', '2', '--format', '{{.Names}}'], out: `${p}c\n${p}b\n` },
      { args: ['ps', '--format', 'table'], out: (s) => assert.match(lines(s)[0]!, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/) },
      { args: ['ps', '--format', 'json', '-a'], out: (s) => assert.deepEqual((JSON.parse(s) as Array<{ Id: string }>).map((c) => c.Id), [ids['c'], ids['b'], ids['a']]) },
    ]);
  });

  test('ps --filter and network ls --filter', async () => {
    const names = (...n: string[]): string => n.map((x) => `${x}\n`).join('');
    const F = ['ps', '-a', '--format', '{{.Names}}'];
    await check([
      { args: [...F, '--filter', `name=${p}a`], out: names(`${p}a`) },
      { args: [...F, '--filter', `name=${p}a`, '--filter', `name=${p}c`], out: names(`${p}c`, `${p}a`) },
      { args: [...F, '--filter', `id=${ids['b']!.slice(0, 8)}`], out: names(`${p}b`) },
      { args: ['ps', '--format', '{{.Names}}', '--filter', 'status=exited'], out: names(`${p}c`) },
      { args: [...F, '--filter', 'status=running', '--filter', `name=${p}`], out: names(`${p}b`, `${p}a`) },
      { args: [...F, '--filter', 'exited=3'], out: names(`${p}c`) },
      { args: [...F, '--filter', 'exited=0'], out: '' },
      { args: [...F, '--filter', `network=${net}`], out: names(`${p}a`) },
      { args: [...F, '--filter', 'publish=80'], out: names(`${p}a`) },
      { args: [...F, '--filter', 'publish=80/udp'], out: '' },
      { args: [...F, '--filter', 'expose=70-90/tcp'], out: names(`${p}a`) },
      { args: [...F, '--filter', 'label=team'], out: '' },
      { args: [...F, '--filter', 'ancestor=/nonexistent-rootfs'], out: '' },
      { args: [...F, '--filter', `before=${p}b`, '--filter', `name=${p}`], out: names(`${p}a`) },
      { args: [...F, '--filter', `since=${p}a`, '--filter', `name=${p}`], out: names(`${p}c`, `${p}b`) },
      { args: ['network', 'ls', '--format', '{{.Name}}', '--filter', `name=${net}`], out: names(net) },
      { args: ['network', 'ls', '--format', '{{.Name}}', '--filter', 'type=custom'], out: names(net) },
      { args: ['network', 'ls', '--format', '{{.Name}}', '--filter', 'type=builtin'], out: (s) => assert.deepEqual(lines(s).sort(), ['bridge', 'host', 'none']) },
      { args: ['network', 'ls', '--format', '{{.Name}}', '--filter', 'driver=bridge'], out: (s) => assert.deepEqual(lines(s).sort(), ['bridge', net].sort()) },
      { args: ['network', 'ls', '--format', '{{.Name}} {{.Labels}}', '--filter', 'label=team=red'], out: `${net} team=red\n` },
      { args: ['network', 'ls', '-q', '--no-trunc', '--filter', `name=${net}`], out: (s) => assert.match(s, /^[0-9a-f]{64}\n$/) },
      { args: ['network', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}', '--filter', 'driver=null'], out: 'NAME      DRIVER\nnone      null\n' },
    ]);
  });

  test('bad templates and unknown filters: Go\'s and Docker\'s errors, exit codes, nothing changed', async () => {
    const state = async (): Promise<string> => ok(await nsnet(['ps', '-a', '--format', 'json'])).stdout + ok(await nsnet(['network', 'ls', '--format', 'json'])).stdout;
    const before = await state();
    await check([
      { args: ['ps', '--filter', 'foo=bar'], out: '', code: 1, stderr: /invalid filter 'foo'\nhint: ps filters: id, name, status/ },
      { args: ['ps', '--filter', 'foo'], out: '', code: USAGE_EXIT, stderr: /bad format of filter \(expected name=value\)/ },
      { args: ['ps', '--filter', 'status=sleeping'], out: '', code: 1, stderr: /invalid filter 'status=sleeping': expected one of created, restarting, running/ },
      { args: ['ps', '--filter', 'exited=x'], out: '', code: 1, stderr: /invalid filter 'exited=x'/ },
      { args: ['ps', '--filter', 'publish=http'], out: '', code: 1, stderr: /invalid filter 'publish=http'/ },
      { args: ['network', 'ls', '--filter', 'colour=red'], out: '', code: 1, stderr: /invalid filter 'colour'\nhint: network ls filters: name, id, driver, label, type/ },
      { args: ['network', 'ls', '--filter', 'type=mine'], out: '', code: 1, stderr: /invalid filter 'type=mine': expected custom or builtin/ },
      { args: ['inspect', '-f', '{{.Name', `${p}a`], out: '', code: USAGE_EXIT, stderr: /template: :1: unclosed action/ },
      { args: ['inspect', '-f', '{{.Nope}}', `${p}a`], out: '', code: 1, stderr: /template: :1:2: executing "" at <\.Nope>: map has no entry for key "Nope"/ },
      { args: ['inspect', '-f', '{{nope .Name}}', `${p}a`], out: '', code: USAGE_EXIT, stderr: /template: :1: function "nope" not defined/ },
      { args: ['ps', '--format', '{{.Nope}}'], out: '', code: 1, stderr: /at <\.Nope>: can't evaluate field Nope in type \*formatter\.ContainerContext/ },
      { args: ['network', 'ls', '--format', '{{if .Name}}'], out: '', code: USAGE_EXIT, stderr: /template: :1: unexpected EOF/ },
      { args: ['network', 'inspect', '-f', '{{index .IPAM.Config 3}}', net], out: '', code: 1, stderr: /error calling index: index out of range: 3/ },
      { args: ['network', 'create', '--format', '{{.Name}}', `${p}other`], out: '', code: 2, stderr: /Allowed choices are table, json/ },
    ]);
    assert.equal(await state(), before, 'nothing changed');
  });
});
