/**
 * nsnet's Go text/template interpreter (src/cli/template), table-driven: each row a template, the
 * data, and what Go prints — or Go's error, with its position. Includes every example of Docker's
 * "Format command and log output" page, run on inspect-shaped data.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile, tabulate } from '../../src/cli/template/index.js';

const container = {
  Id: 'f2c3a1b4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2',
  Name: '/web',
  Path: 'sleep',
  Args: ['1000', 'now'],
  Image: 'busybox:latest',
  Mounts: [],
  Names: ['web', 'front'],
  State: { Status: 'running', Pid: 4242, Running: true, ExitCode: 0 },
  Config: { Labels: { tier: 'front', app: 'shop' }, Cmd: ['sleep', '1000'], Hostname: 'web' },
  NetworkSettings: {
    IPAddress: '172.17.0.2',
    Networks: { bridge: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1' }, backend: { IPAddress: '10.0.0.5', Gateway: '10.0.0.1' } },
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] },
  },
  HostConfig: { Dns: null, CapAdd: ['NET_ADMIN'] },
  Count: 3,
  Ratio: 1.5,
};

const render = (template: string, data: unknown = container): string => compile(template).render(data);

describe('Docker\'s documented examples ("Format command and log output")', () => {
  const rows: Array<[string, string]> = [
    ['{{join .Args " , "}}', '1000 , now'],
    ['{{json .Mounts}}', '[]'],
    ['{{lower .Name}}', '/web'],
    ['{{split .Image ":"}}', '[busybox latest]'],
    ['{{title .Name}}', '/Web'],
    ['{{upper .Name}}', '/WEB'],
    ['{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}', '10.0.0.5\n172.17.0.2\n'],
    ['{{join .Names " or "}}', 'web or front'],
    ['{{split (join .Names "/") "/"}}', '[web front]'],
    ['{{.NetworkSettings.IPAddress}}', '172.17.0.2'],
    ['{{json .NetworkSettings.Networks.bridge}}', '{"IPAddress":"172.17.0.2","Gateway":"172.17.0.1"}'],
    ['{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}', ' 80/tcp -> 8080 '],
    ['{{.State.Pid}}', '4242'],
  ];
  for (const [template, want] of rows) test(template, () => assert.equal(render(template), want));
});

describe('the language', () => {
  const rows: Array<[string, string]> = [
    ['plain text', 'plain text'],
    ['{{.}}', `map[Args:[1000 now] Config:map[Cmd:[sleep 1000] Hostname:web Labels:map[app:shop tier:front]] Count:3 HostConfig:map[CapAdd:[NET_ADMIN] Dns:<nil>] Id:${container.Id} Image:busybox:latest Mounts:[] Name:/web Names:[web front] NetworkSettings:map[IPAddress:172.17.0.2 Networks:map[backend:map[Gateway:10.0.0.1 IPAddress:10.0.0.5] bridge:map[Gateway:172.17.0.1 IPAddress:172.17.0.2]] Ports:map[80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]] Path:sleep Ratio:1.5 State:map[ExitCode:0 Pid:4242 Running:true Status:running]]`],
    ['{{.HostConfig.Dns}}', '<nil>'],
    ['{{.Config.Labels}}', 'map[app:shop tier:front]'],
    ['{{.State.Running}} {{.Ratio}}', 'true 1.5'],
    ['{{if .State.Running}}up{{else}}down{{end}}', 'up'],
    ['{{if eq .State.Status "exited"}}x{{else if eq .State.Status "running"}}r{{else}}?{{end}}', 'r'],
    ['{{if not .HostConfig.Dns}}no dns{{end}}', 'no dns'],
    ['{{with .Config}}{{.Hostname}}{{end}}', 'web'],
    ['{{with .HostConfig.Dns}}{{.}}{{else}}none{{end}}', 'none'],
    ['{{with $c := .Config}}{{$c.Hostname}}{{end}}', 'web'],
    ['{{range .Config.Cmd}}[{{.}}]{{end}}', '[sleep][1000]'],
    ['{{range $i, $a := .Args}}{{if $i}},{{end}}{{$a}}{{end}}', '1000,now'],
    ['{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', 'app=shop;tier=front;'],
    ['{{range .Mounts}}x{{else}}no mounts{{end}}', 'no mounts'],
    ['{{range .Args}}{{if eq . "now"}}{{break}}{{end}}{{.}}{{end}}', '1000'],
    ['{{range .Args}}{{if eq . "1000"}}{{continue}}{{end}}{{.}}{{end}}', 'now'],
    ['{{range 3}}{{.}}{{end}}', '012'],
    ['{{$n := .Name}}{{$n}}{{$n = "x"}}{{$n}}', '/webx'],
    ['{{$}}' .slice(0, 0) + '{{$.Name}}', '/web'],
    ['{{range .Args}}{{$.Name}}{{end}}', '/web/web'],
    ['{{len .Args}} {{len .Config.Labels}} {{len .Name}}', '2 2 4'],
    ['{{index .Args 1}} {{index .Config.Labels "tier"}} {{index .NetworkSettings.Networks "bridge" "Gateway"}}', 'now front 172.17.0.1'],
    ['{{index .Config.Labels "nope"}}', '<no value>'],
    ['{{eq .Count 3}} {{ne .Count 3}} {{lt .Count 4}} {{le .Count 3}} {{gt .Count 3}} {{ge .Count 3}}', 'true false true true false true'],
    ['{{eq .Name "/a" "/web"}}', 'true'],
    ['{{lt "a" "b"}}', 'true'],
    ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}}', '0 2 x  true'],
    ['{{or .HostConfig.Dns "default"}}', 'default'],
    ['{{.Name | upper | printf "%s!"}}', '/WEB!'],
    ['{{printf "%s has %d args, %v, %q, %5s|%-5s|%05d %.2f %t %x" .Name 2 .Args "q" "r" "l" 42 .Ratio true 255}}', '/web has 2 args, [1000 now], "q",     r|l    |00042 1.50 true ff'],
    ['{{print "a" 1 2 "b"}}', 'a1 2b'],
    ['{{println "a" 1}}', 'a 1\n'],
    ['{{pad "x" 2 3}}|{{pad "" 2 3}}', '  x   |'],
    ['{{truncate "abcdef" 3}}|{{truncate "ab" 3}}', 'abc|ab'],
    ['{{title "hello wide world"}}', 'Hello Wide World'],
    ['{{json .Config.Labels}}', '{"tier":"front","app":"shop"}'],
    ['{{json "<&>"}}', '"<&>"'],
    ['{{(index .Args 0)}} {{(.Config).Hostname}}', '1000 web'],
    ['a {{- " b " -}} c', 'a b c'],
    ['a  {{- /* a comment */ -}}  b', 'ab'],
    ['{{/* only a comment */}}', ''],
    ['{{"\\t" | printf "%q"}} {{`raw\\n`}}', '"\\t" raw\\n'],
    ['{{1}} {{-2}} {{0x10}} {{true}} {{nil | print}}', '1 -2 16 true <nil>'],
    ['{{.Name}}\n{{.State.Status}}', '/web\nrunning'],
  ];
  for (const [template, want] of rows) test(JSON.stringify(template), () => assert.equal(render(template), want));
});

describe('errors are worded and positioned as Go words them', () => {
  const rows: Array<[string, string]> = [
    // Parse errors: the line.
    ['{{.Name', 'template: :1: unclosed action'],
    ['{{if .Name}}x', 'template: :1: unexpected EOF'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{nope .Name}}', 'template: :1: function "nope" not defined'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['line one\n{{#}}', "template: :2: bad character U+0023 '#'"],
    ['{{if}}x{{end}}', 'template: :1: missing value for if'],
    ['{{}}', 'template: :1: missing value for command'],
    ['{{"abc}}', 'template: :1: unterminated quoted string'],
    ['{{(.Name}}', 'template: :1: unclosed left paren'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{define "x"}}{{end}}', 'template: :1: {{define}} is not supported in --format templates (no named templates)'],
    // Execution errors: line, column (bytes from the start of the line, from 0) and the node.
    ['{{.Foo}}', 'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'],
    ['ab\ncd {{.State.Nope}}', 'template: :2:5: executing "" at <.State.Nope>: map has no entry for key "Nope"'],
    ['{{.HostConfig.Dns.X}}', 'template: :1:2: executing "" at <.HostConfig.Dns.X>: nil pointer evaluating interface {}.X'],
    ['{{.Name.X}}', 'template: :1:2: executing "" at <.Name.X>: can\'t evaluate field X in type string'],
    ['{{index .Args 5}}', 'template: :1:2: executing "" at <index .Args 5>: error calling index: index out of range: 5'],
    ['{{join .Name ","}}', 'template: :1:2: executing "" at <join .Name ",">: error calling join: wrong type for value; expected []string; got string'],
    ['{{lt .Count "a"}}', 'template: :1:2: executing "" at <lt .Count "a">: error calling lt: incompatible types for comparison'],
    ['{{len .Count}}', 'template: :1:2: executing "" at <len .Count>: error calling len: len of type int'],
    ['{{range .Name}}{{end}}', 'template: :1:8: executing "" at <.Name>: range can\'t iterate over /web'],
    ['{{.Name | .Id}}', 'template: :1:10: executing "" at <.Id>: can\'t give argument to non-function .Id'],
  ];
  for (const [template, want] of rows) {
    test(JSON.stringify(template), () => assert.throws(() => render(template), (err: Error) => (assert.equal(err.message, want), true)));
  }

  test('a struct-typed row names its Go type for an unknown field, as docker ps does', () => {
    assert.throws(
      () => compile('{{.Nope}}').render({ ID: 'x' }, { structType: '*formatter.ContainerContext' }),
      { message: 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext' },
    );
  });

  test('parse errors are usage errors, execution errors invalid values', () => {
    assert.throws(() => compile('{{.X'), { code: 'USAGE' });
    assert.throws(() => compile('{{.X}}').render({}), { code: 'INVALID_VALUE' });
  });
});

describe('tabwriter as docker/cli sets it up', () => {
  test('columns are at least 10 wide, padded by 3; the last column is not padded', () => {
    assert.deepEqual(tabulate(['NAMES\tSTATUS', 'a-much-longer-name\tUp 2 seconds', 'b\tExited (0)']), [
      'NAMES                STATUS',
      'a-much-longer-name   Up 2 seconds',
      'b                    Exited (0)',
    ]);
    assert.deepEqual(tabulate(['ID\tX', '1\t2']), ['ID        X', '1         2']);
  });
});
