/**
 * Lab files: the published schema is the one nsnet validates with, bad files are refused with
 * errors that point at the line (every address checked before anything is made), an empty file
 * is an error, `up` that would remove the whole lab needs --remove-all, and the same file gives
 * the same plan.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NsnetError } from '../../src/core/errors.js';
import { diffLab, dropsWholeLab, isNoop, type LabState } from '../../src/lab/diff.js';
import { PlanningContext } from '../../src/lab/planning.js';
import { LAB_SCHEMA } from '../../src/lab/schema.js';
import { parseLab, type LabSpec } from '../../src/lab/spec.js';
import { containerSteps, labState, up } from '../../src/lab/up.js';
import { renderPlan } from '../../src/plan/render.js';
import { KernelHost } from '../../src/host/kernel-host.js';
import { openMemoryStore } from '../../src/store/index.js';
import { fixture, ROOTFS } from '../helpers/ops-fixture.js';

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

/** A lab of one network and the containers given (key → ip on it, or undefined for a free one). */
function oneNetwork(network: string, ips: Record<string, string | undefined>): string {
  const containers = Object.entries(ips)
    .map(([key, ip]) => `  ${key}:\n    command: [sleep, "1"]\n    networks:\n      a: ${ip === undefined ? '' : `{ ip: ${ip} }`}\n`)
    .join('');
  return `networks:\n  a: ${network}\ncontainers:\n${containers}`;
}

describe('lab addresses are checked before anything is made', () => {
  const net = '{ subnet: 10.0.0.0/24 }';

  test('control: addresses inside the subnet, one per container, the first and last host among them', () => {
    const spec = parseLab(oneNetwork(net, { c: '10.0.0.2', d: '10.0.0.254', e: undefined }), 'lab.yaml', 'demo');
    assert.deepEqual(spec.containers.map((c) => c.networks[0]!.ip), ['10.0.0.2', '10.0.0.254', undefined]);
    const gatewayLast = parseLab(oneNetwork('{ subnet: 10.0.0.0/24, gateway: 10.0.0.254 }', { c: '10.0.0.1' }), 'lab.yaml', 'demo');
    assert.equal(gatewayLast.containers[0]!.networks[0]!.ip, '10.0.0.1', 'the first host is free when the gateway is elsewhere');
    // The same address on two networks of different labs' subnets is not "twice": routers hold one per network.
    for (const example of examples) parseLab(readExample(example), 'lab.yaml', example);
  });

  test('an address outside the subnet: the container, the network, the address and what is allowed', () => {
    const msg = errorOf(oneNetwork(net, { c: '10.0.1.5' }));
    assert.match(msg, /^lab\.yaml:7:16: containers\.c\.networks\.a\.ip: container c: invalid address "10\.0\.1\.5": not inside subnet 10\.0\.0\.0\/24 of network a \(allowed on a: 10\.0\.0\.2 to 10\.0\.0\.254\)$/m);
  });

  test('the same address twice on one network, at the second', () => {
    const msg = errorOf(oneNetwork(net, { c: '10.0.0.5', d: '10.0.0.6', e: '10.0.0.5' }));
    assert.match(msg, /^lab\.yaml:15:16: containers\.e\.networks\.a\.ip: container e: address 10\.0\.0\.5 on network a is already container c's: each container needs an address of its own \(allowed on a: 10\.0\.0\.2 to 10\.0\.0\.254\)$/m);
    assert.doesNotMatch(msg, /containers\.[cd]\.networks/, 'only the second holder is wrong');
  });

  test('the gateway (default or declared), the network and the broadcast address', () => {
    assert.match(errorOf(oneNetwork(net, { c: '10.0.0.1' })), /containers\.c\.networks\.a\.ip: container c: invalid address "10\.0\.0\.1": it is the gateway of network a \(allowed on a: 10\.0\.0\.2 to 10\.0\.0\.254\)$/m);
    const declared = '{ subnet: 10.0.0.0/24, gateway: 10.0.0.100 }';
    assert.match(errorOf(oneNetwork(declared, { c: '10.0.0.100' })), /invalid address "10\.0\.0\.100": it is the gateway of network a \(allowed on a: 10\.0\.0\.1 to 10\.0\.0\.254, except the gateway 10\.0\.0\.100\)$/m);
    assert.match(errorOf(oneNetwork(net, { c: '10.0.0.0' })), /container c: invalid address "10\.0\.0\.0": it is the network address of 10\.0\.0\.0\/24 \(allowed on a:/m);
    assert.match(errorOf(oneNetwork(net, { c: '10.0.0.255' })), /container c: invalid address "10\.0\.0\.255": it is the broadcast address of 10\.0\.0\.0\/24 \(allowed on a:/m);
  });

  test('a static address on a network without a subnet (it is picked at up, so nothing could be checked)', () => {
    assert.match(errorOf(oneNetwork('', { c: '10.0.0.5' })), /^lab\.yaml:7:16: containers\.c\.networks\.a\.ip: container c has the static address 10\.0\.0\.5 on network a, which declares no subnet: a static address needs one \(add subnet: to networks\.a/m);
    parseLab(oneNetwork('', { c: undefined }), 'lab.yaml', 'demo');
  });

  test("each network's own addressing, as network create checks it, and subnets of the lab that overlap", () => {
    const msg = errorOf('networks:\n  a: { subnet: 10.0.0.1/24 }\n  b: { subnet: 127.0.0.0/24 }\n  c: { gateway: 10.0.0.1 }\n  d: { subnet: 10.9.0.0/24, gateway: 10.8.0.1 }\n  e: { subnet: 10.10.0.0/24, ip_range: 10.11.0.0/24 }\n  f: { subnet: 10.10.0.0/16 }\n');
    assert.match(msg, /^lab\.yaml:2:16: networks\.a\.subnet: network a: invalid subnet "10\.0\.0\.1\/24": host bits set; did you mean 10\.0\.0\.0\/24\?$/m);
    assert.match(msg, /^lab\.yaml:3:16: networks\.b\.subnet: network b: invalid subnet "127\.0\.0\.0\/24": it overlaps 127\.0\.0\.0\/8, loopback/m);
    assert.match(msg, /^lab\.yaml:4:17: networks\.c\.gateway: network c: it declares no subnet: a gateway needs one/m);
    assert.match(msg, /^lab\.yaml:5:38: networks\.d\.gateway: network d: invalid gateway "10\.8\.0\.1": not inside subnet 10\.9\.0\.0\/24$/m);
    assert.match(msg, /^lab\.yaml:6:40: networks\.e\.ip_range: network e: invalid ip range "10\.11\.0\.0\/24": not inside subnet 10\.10\.0\.0\/24$/m);
    assert.match(msg, /^lab\.yaml:7:16: networks\.f\.subnet: network f: subnet 10\.10\.0\.0\/16 overlaps network e's 10\.10\.0\.0\/24: each network of a lab needs a subnet of its own$/m);
  });
});

describe('an empty lab file is an error', () => {
  for (const [what, text] of [
    ['an empty file', ''],
    ['blank lines', '\n  \n\n'],
    ['only comments', '# the lab\n\n  # is gone\n'],
    ['only a document marker', '---\n# nothing\n'],
  ] as const) {
    test(`${what}: refused, naming the file`, () => {
      const msg = errorOf(text, 'labs/x/lab.yaml');
      assert.equal(msg, 'invalid lab file labs/x/lab.yaml: it is empty (nothing but blank lines and comments), so it declares no networks and no containers');
    });
  }

  test('control: a file that declares an empty lab parses; down (allowEmpty) reads a name from an empty file', () => {
    assert.deepEqual(parseLab('networks: {}\n', 'f', 'dir'), { name: 'dir', networks: [], containers: [], links: [], impairments: [], partitions: [] });
    assert.deepEqual(parseLab('# gone\n', 'f', 'dir', undefined, { allowEmpty: true }), { name: 'dir', networks: [], containers: [], links: [], impairments: [], partitions: [] });
  });
});

describe('up that would remove the whole lab needs --remove-all', () => {
  const LAB = `name: ut-ra\nnetworks:\n  a: { subnet: 10.71.0.0/24 }\ncontainers:\n  c:\n    command: [sleep, infinity]\n    rootfs: ${ROOTFS}\n    networks: [a]\n`;
  const spec = (text: string): LabSpec => parseLab(text, 'lab.yaml', 'x');
  const names = (ctx: Parameters<typeof labState>[0]): string[] => {
    const s = labState(ctx, 'ut-ra');
    return [...s.networks.keys(), ...s.containers.keys()].sort();
  };

  test('dropsWholeLab: the lab has objects and the file declares none of them', () => {
    const built = spec(LAB);
    const state: LabState = { ...empty, networks: new Map([['ut-ra-a', 'h']]), containers: new Map([['ut-ra-c', { hash: 'h', running: true }]]) };
    assert.equal(dropsWholeLab(spec('name: ut-ra\n'), state), true);
    const renamed = LAB.replace('  c:\n', '  d:\n').replace('  a: {', '  b: {').replace('[a]', '[b]');
    assert.equal(dropsWholeLab(spec(renamed), state), true, 'every name changed');
    assert.equal(dropsWholeLab(built, state), false, 'control: the same lab');
    assert.equal(dropsWholeLab(spec(LAB.replace('10.71.0.0', '10.72.0.0')), state), false, 'control: a changed network is made again, not dropped');
    assert.equal(dropsWholeLab(spec(LAB.replace('  c:\n', '  d:\n')), state), false, 'control: the network stays');
    assert.equal(dropsWholeLab(spec('name: ut-ra\n'), empty), false, 'control: no lab yet');
  });

  test('refused (also as a dry run), nothing changed; with removeAll the lab goes', async () => {
    const fx = fixture();
    try {
      await up(fx.ctx, spec(LAB), { parallel: 1 });
      assert.deepEqual(names(fx.ctx), ['ut-ra-a', 'ut-ra-c']);
      const before = fx.state();
      for (const text of ['name: ut-ra\n', 'name: ut-ra\nnetworks: {}\ncontainers: {}\n']) {
        await assert.rejects(up(fx.ctx, spec(text)), (err: unknown) => {
          assert.ok(err instanceof NsnetError, String(err));
          assert.equal(err.code, 'FORBIDDEN');
          assert.equal(err.message, "up ut-ra: the file declares none of the lab's objects, so up would remove all of them (1 network and 1 container); nothing was changed");
          assert.match(err.hint ?? '', /use nsnet down; .* --remove-all/);
          return true;
        });
        assert.deepEqual(fx.state(), before, 'nothing changed');
      }
      // --dry-run decides on a copy of the state: refused there too.
      const planning = new PlanningContext({ root: fx.root, firewallDriver: 'nftables', host: fx.host, store: openMemoryStore(fx.store.serialize()) });
      try {
        await assert.rejects(up(planning, spec('name: ut-ra\n')), /up would remove all of them/);
      } finally {
        planning.close();
      }
      const planned = new PlanningContext({ root: fx.root, firewallDriver: 'nftables', host: fx.host, store: openMemoryStore(fx.store.serialize()) });
      try {
        await up(planned, spec('name: ut-ra\n'), { removeAll: true });
        assert.match(planned.planned.join('\n'), /^ip netns del ut-ra-c\n[^]*^ip link del nsnet-/m, '--dry-run --remove-all plans the removal');
      } finally {
        planned.close();
      }
      assert.deepEqual(fx.state(), before, 'a dry run changes nothing');
      // Control: the same file with --remove-all: the lab goes.
      const result = await up(fx.ctx, spec('name: ut-ra\n'), { removeAll: true });
      assert.deepEqual([result.plan.removeNetworks, result.plan.removeContainers], [['ut-ra-a'], ['ut-ra-c']]);
      assert.deepEqual(names(fx.ctx), []);
    } finally {
      fx.close();
    }
  });
});

test('up --dry-run of a converge: each decision sees the removals before it (a container made again, a network removed)', async () => {
  const LAB = `name: ut-dc\nnetworks:\n  a: { subnet: 10.73.0.0/24 }\n  b: { subnet: 10.74.0.0/24 }\ncontainers:\n  c:\n    command: [sleep, infinity]\n    rootfs: ${ROOTFS}\n    networks: [a]\n  d:\n    command: [sleep, infinity]\n    rootfs: ${ROOTFS}\n    networks: [b]\n`;
  const fx = fixture();
  try {
    await up(fx.ctx, parseLab(LAB, 'f', 'x'), { parallel: 1 });
    const before = fx.state();
    // c changes (removed, then made again under its name); d and its network b go.
    const changed = LAB.replace('networks: [a]\n', 'networks: [a]\n    env: { X: "1" }\n').replace(/ {2}b: \{[^}]*\}\n/, '').replace(/ {2}d:\n(?: {4}.*\n)+/, '');
    const ctx = new PlanningContext({ root: fx.root, firewallDriver: 'nftables', host: fx.host, store: openMemoryStore(fx.store.serialize()) });
    try {
      const result = await up(ctx, parseLab(changed, 'f', 'x'));
      assert.deepEqual([result.plan.removeContainers, result.plan.removeNetworks, result.plan.createContainers.map((c) => c.name)], [['ut-dc-c', 'ut-dc-d'], ['ut-dc-b'], ['ut-dc-c']]);
      const script = ctx.planned.join('\n');
      assert.ok(script.indexOf('ip netns del ut-dc-c') < script.indexOf('ip netns add ut-dc-c'), script);
    } finally {
      ctx.close();
    }
    assert.deepEqual(fx.state(), before, 'a dry run changes nothing');
  } finally {
    fx.close();
  }
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

    // The db network moves (and the api's static address on it with it).
    const changed = parseLab(readExample('three-tier').replace('subnet: 10.30.3.0/24', 'subnet: 10.30.4.0/24').replace('10.30.3.20', '10.30.4.20'), 'f', 'x');
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
