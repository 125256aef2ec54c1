/**
 * Lab files: the published schema is the one nsnet validates with, bad files are refused with
 * errors that point at the line, and the same file gives the same plan.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NsnetError } from '../../src/core/errors.js';
import { diffLab, isNoop, type LabState } from '../../src/lab/diff.js';
import { PlanningContext } from '../../src/lab/planning.js';
import { LAB_SCHEMA } from '../../src/lab/schema.js';
import { parseLab, type LabSpec } from '../../src/lab/spec.js';
import { containerSteps, up } from '../../src/lab/up.js';
import { renderPlan } from '../../src/plan/render.js';
import { KernelHost } from '../../src/host/kernel-host.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const examples = ['red-blue', 'three-tier', 'routed'];
const readExample = (name: string): string => fs.readFileSync(path.join(repo, 'examples', name, 'lab.yaml'), 'utf8');

/** The error text of parsing `text`, which must fail. */
function errorOf(text: string, file = 'lab.yaml'): string {
  try {
    parseLab(text, file, 'demo');
  } catch (err) {
    assert.ok(err instanceof NsnetError, String(err));
    assert.equal(err.code, 'INVALID_VALUE');
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be refused`);
}

const empty: LabState = { networks: new Map(), containers: new Map(), foreignNetworks: new Set(), foreignContainers: new Set() };

describe('lab schema', () => {
  test('schema/lab.schema.json is the schema nsnet validates with', () => {
    const published = JSON.parse(fs.readFileSync(path.join(repo, 'schema', 'lab.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(published, JSON.parse(JSON.stringify(LAB_SCHEMA)), 'regenerate schema/lab.schema.json from src/lab/schema.ts');
  });

  for (const name of examples) {
    test(`examples/${name}/lab.yaml is valid`, () => {
      const spec = parseLab(readExample(name), `examples/${name}/lab.yaml`, name);
      assert.equal(spec.name, name);
      assert.ok(spec.containers.length > 0 && spec.networks.length > 0);
    });
  }
});

describe('lab file errors point at the line', () => {
  test('unknown property, at its key, with the properties allowed there', () => {
    const msg = errorOf('networks:\n  a: {}\ncontainers:\n  c:\n    command: [sleep, "1"]\n    networks: [a]\n    comand: [x]\n');
    assert.match(msg, /^lab\.yaml:7:5: containers\.c: unknown property "comand" \(expected one of: command, networks,/m);
  });

  test('missing command', () => {
    const msg = errorOf('networks:\n  a:\ncontainers:\n  c:\n    networks: [a]\n');
    assert.match(msg, /^lab\.yaml:5:5: containers\.c: missing "command"$/m);
  });

  test('a bad subnet and a bad address, each on its own line', () => {
    const msg = errorOf('networks:\n  a:\n    subnet: 10.0.0.0/33\n    gateway: 10.0.0.300\n');
    assert.match(msg, /^lab\.yaml:3:13: networks\.a\.subnet: invalid value "10\.0\.0\.0\/33": expected a CIDR/m);
    assert.match(msg, /^lab\.yaml:4:14: networks\.a\.gateway: invalid value "10\.0\.0\.300": expected an IPv4 address/m);
  });

  test('a network the file does not declare, in either form', () => {
    const list = errorOf('networks:\n  a:\ncontainers:\n  c:\n    command: [sleep, "1"]\n    networks: [a, b]\n');
    assert.match(list, /^lab\.yaml:6:19: containers\.c\.networks: network "b" is not declared under networks \(declared: a\)$/m);
    const map = errorOf('networks:\n  a:\ncontainers:\n  c:\n    command: [sleep, "1"]\n    networks:\n      zz: { ip: 10.0.0.2 }\n');
    assert.match(map, /^lab\.yaml:7:7: containers\.c\.networks: network "zz" is not declared/m);
  });

  test('wrong types and a route without a gateway', () => {
    const msg = errorOf('networks:\n  a:\n    internal: yes please\ncontainers:\n  c:\n    command: sleep\n    networks: [a]\n    routes:\n      - to: 10.1.0.0/24\n');
    assert.match(msg, /^lab\.yaml:3:15: networks\.a\.internal: expected boolean$/m);
    assert.match(msg, /^lab\.yaml:6:14: containers\.c\.command: expected array$/m);
    assert.match(msg, /^lab\.yaml:9:9: containers\.c\.routes\[0\]: missing "via"$/m);
  });

  test('YAML syntax errors and duplicate keys', () => {
    assert.match(errorOf('networks:\n  a: {}\n  a: {}\n'), /^lab\.yaml:3:3: Map keys must be unique/m);
    assert.match(errorOf('networks: [unclosed\n'), /^lab\.yaml:\d+:\d+: /m);
  });

  test('a namespace name over 63 characters, at the container', () => {
    const long = 'c'.repeat(40);
    const msg = errorOf(`name: ${'l'.repeat(30)}\nnetworks:\n  a:\ncontainers:\n  ${long}:\n    command: [sleep, "1"]\n    networks: [a]\n`);
    assert.match(msg, /^lab\.yaml:5:3: container c+: its namespace name l+-c+ is longer than 63 characters$/m);
  });

  test('the lab name: from the file, else the directory, else refused with a hint', () => {
    assert.equal(parseLab('networks: {}\n', 'f', 'dir').name, 'dir');
    assert.equal(parseLab('name: mine\n', 'f', 'dir').name, 'mine');
    assert.equal(parseLab('name: mine\n', 'f', 'dir', 'override').name, 'override');
    try {
      parseLab('networks: {}\n', 'f', 'my lab');
      assert.fail('a directory name with a space is not a lab name');
    } catch (err) {
      assert.match((err as Error).message, /invalid lab name "my lab" \(the directory's name; set name: in the file or use --name\)/);
    }
  });
});

describe('lab plans', () => {
  test('names, hashes and order: the same file gives the same spec', () => {
    const a = parseLab(readExample('routed'), 'f', 'x');
    const b = parseLab(readExample('routed'), 'f', 'x');
    assert.deepEqual(a, b);
    assert.deepEqual(a.containers.map((c) => c.name), ['routed-router', 'routed-alice', 'routed-bob']);
    assert.deepEqual(a.networks.map((n) => n.name), ['routed-left', 'routed-right']);
  });

  test('router steps: a sysctl in the namespace and routes through it, as by-hand commands', () => {
    const spec = parseLab(readExample('routed'), 'f', 'x');
    const [router, alice] = spec.containers;
    assert.equal(renderPlan(containerSteps(router!)), 'ip netns exec routed-router sysctl -w net.ipv4.ip_forward=1');
    assert.equal(renderPlan(containerSteps(alice!)), 'ip -n routed-alice route add 10.20.2.0/24 via 10.20.1.254');
  });

  test('diff: everything new on an empty host; nothing to do when all is there; only changes otherwise', () => {
    const spec = parseLab(readExample('three-tier'), 'f', 'x');
    const fresh = diffLab(spec, empty);
    assert.deepEqual(fresh.createNetworks.map((n) => n.name), ['three-tier-web', 'three-tier-api', 'three-tier-db']);
    assert.deepEqual(fresh.createContainers.map((c) => c.name), ['three-tier-web', 'three-tier-api', 'three-tier-db']);
    assert.deepEqual(diffLab(spec, empty), fresh, 'stable');

    const built: LabState = {
      ...empty,
      networks: new Map(spec.networks.map((n) => [n.name, n.hash])),
      containers: new Map(spec.containers.map((c) => [c.name, { hash: c.hash, running: true }])),
    };
    assert.ok(isNoop(diffLab(spec, built)));

    const changed = parseLab(readExample('three-tier').replace('subnet: 10.30.3.0/24', 'subnet: 10.30.4.0/24'), 'f', 'x');
    const plan = diffLab(changed, built);
    assert.deepEqual(plan.removeNetworks, ['three-tier-db']);
    assert.deepEqual(plan.createNetworks.map((n) => n.name), ['three-tier-db']);
    // Both containers on db are made again (a network with containers cannot go); web stays.
    assert.deepEqual(plan.removeContainers, ['three-tier-api', 'three-tier-db']);
    assert.deepEqual(plan.keepContainers, ['three-tier-web']);

    const stopped: LabState = { ...built, containers: new Map([...built.containers].map(([k, v]) => [k, { ...v, running: k !== 'three-tier-db' }])) };
    assert.deepEqual(diffLab(spec, stopped).createContainers.map((c) => c.name), ['three-tier-db'], 'a stopped container is made again');

    const gone = diffLab(parseLab('name: three-tier\n', 'f', 'x'), built);
    assert.deepEqual(gone.removeContainers.length, 3);
    assert.deepEqual(gone.removeNetworks.length, 3);
  });

  test('names held by others (another lab, by hand) are refused, never touched', () => {
    const spec = parseLab(readExample('red-blue'), 'f', 'x');
    assert.throws(() => diffLab(spec, { ...empty, foreignContainers: new Set(['red-blue-red']) }), /container red-blue-red already exists/);
    assert.throws(() => diffLab(spec, { ...empty, foreignNetworks: new Set(['red-blue-study']) }), /network red-blue-study already exists/);
  });

  test('--dry-run: the same file gives the same script (generated names aside)', async () => {
    const script = async (spec: LabSpec): Promise<string> => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-unit-lab-'));
      const ctx = new PlanningContext({ root, firewallDriver: 'nftables', host: new KernelHost() });
      try {
        await up(ctx, spec);
        return ctx.planned.join('\n');
      } finally {
        ctx.close();
        fs.rmSync(root, { recursive: true, force: true });
      }
    };
    const normalise = (s: string): string =>
      s.replace(/nsnet-[0-9a-f]{8}/g, 'BRIDGE').replace(/nsv[0-9a-f]{12}/g, 'VETH').replace(/address 02(:[0-9a-f]{2}){5} type bridge/g, 'address MAC type bridge').replace(/[0-9a-f]{12}"/g, 'ID"');
    const spec = parseLab(readExample('routed'), 'f', 'x');
    const first = await script(spec);
    assert.equal(normalise(await script(spec)), normalise(first));
    const lines = first.split('\n');
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^ip netns add routed-router$/) > at(/^ip link add nsnet-\S+ .*type bridge$/), 'networks before containers');
    assert.ok(at(/^ip netns exec routed-router sysctl -w net.ipv4.ip_forward=1$/) > at(/^ip -n routed-router addr add 10\.20\.2\.254\/24/), 'the router forwards once wired');
    assert.match(first, /^ip netns exec routed-alice unshare .* sleep infinity <\/dev\/null >\/dev\/null 2>&1 &$/m, 'processes start in the background');
  });
});
