/**
 * `nsnet up` / `nsnet down` with the example labs, in a sandbox: each lab comes up, its
 * reachability matrix holds, `up` again changes nothing (same PIDs, same kernel state), a changed
 * file converges (only what changed is made again), and `down` leaves the sandbox as it was.
 * Lab names carry the sandbox prefix (--name), so every namespace is the sandbox's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { createSandbox, describeResult, netnsEntries, REPO, runAsync, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

const WORLD = '203.0.113.8';
const WORLD6 = '2001:db8:8::8';

type Lab = Record<string, unknown> & { containers: Record<string, Record<string, unknown>>; networks: Record<string, Record<string, unknown> | null> };

function example(name: string): Lab {
  return parse(fs.readFileSync(path.join(REPO, 'examples', name, 'lab.yaml'), 'utf8')) as Lab;
}

/** [from, to (address or container), reachable] */
type Matrix = Array<[string, string, boolean]>;

class LabRun {
  readonly dir: string;
  readonly file: string;
  constructor(
    readonly sb: Sandbox,
    readonly lab: string,
  ) {
    // Inside the sandbox's state directory: it goes with the sandbox, and a residue check run
    // alongside counts it as the sandbox's, not as something left behind.
    this.dir = fs.mkdtempSync(path.join(sb.root, 'lab-'));
    this.file = path.join(this.dir, 'lab.yaml');
  }
  write(doc: Lab): void {
    fs.writeFileSync(this.file, stringify(doc));
  }
  ns(container: string): string {
    return `${this.lab}-${container}`;
  }
  async up(extra: string[] = []): Promise<{ r: RunResult; ms: number }> {
    const t0 = Date.now();
    const r = ok(await this.sb.nsnet(['up', '-f', this.file, '--name', this.lab, ...extra], { timeoutMs: 120_000 }));
    return { r, ms: Date.now() - t0 };
  }
  async down(): Promise<{ r: RunResult; ms: number }> {
    const t0 = Date.now();
    const r = ok(await this.sb.nsnet(['down', '-f', this.file, '--name', this.lab], { timeoutMs: 120_000 }));
    return { r, ms: Date.now() - t0 };
  }
  async inspect(container: string): Promise<{ pid: number; ips: Record<string, string> }> {
    const [c] = JSON.parse(ok(await this.sb.nsnet(['inspect', this.ns(container)])).stdout) as Array<{
      State: { Pid: number };
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
    }>;
    const ips = Object.fromEntries(Object.entries(c!.NetworkSettings.Networks).map(([k, v]) => [k.slice(this.lab.length + 1), v.IPAddress]));
    return { pid: c!.State.Pid, ips };
  }
  async pids(containers: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const c of containers) out[c] = (await this.inspect(c)).pid;
    return out;
  }
  /** Ping from inside each container's namespace, all at once; returns the mismatches. */
  async check(matrix: Matrix, resolve: (to: string) => string): Promise<string[]> {
    const results = await Promise.all(
      matrix.map(async ([from, to, want]) => {
        const ip = resolve(to);
        const r = await runAsync(['ip', 'netns', 'exec', this.ns(from), 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 10_000 });
        const got = r.code === 0;
        return got === want ? undefined : `${from} -> ${to} (${ip}): expected ${want ? 'reachable' : 'unreachable'}, got ${got ? 'reachable' : 'unreachable'}`;
      }),
    );
    return results.filter((x): x is string => x !== undefined);
  }
  /** The kernel state that matters: host links, addresses, routes, firewall, and each container's. */
  snapshot(containers: readonly string[]): string {
    const host = (argv: string[]): string => ok(this.sb.inHost(argv)).stdout;
    const parts = [
      host(['ip', '-br', 'link']),
      host(['ip', '-br', 'addr']),
      host(['ip', 'route']),
      host(['ip', '-6', 'route']),
      host(['nft', 'list', 'ruleset']),
    ];
    for (const c of containers) {
      const ns = this.ns(c);
      parts.push(`== ${c}`, ok(this.sb.inHost(['ip', '-n', ns, '-br', 'addr'])).stdout, ok(this.sb.inHost(['ip', '-n', ns, 'route'])).stdout);
      parts.push(ok(this.sb.inHost(['ip', '-n', ns, '-6', 'route'])).stdout);
      parts.push(ok(this.sb.inHost(['ip', 'netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])).stdout);
    }
    return parts.join('\n');
  }
  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The sandbox host as it was before any lab: the residue check compares against it. */
function hostBaseline(sb: Sandbox): string {
  return [['ip', '-br', 'link'], ['ip', '-br', 'addr'], ['ip', 'route'], ['ip', '-6', 'route'], ['nft', 'list', 'ruleset']]
    .map((argv) => ok(sb.inHost(argv)).stdout)
    .join('\n');
}

interface Case {
  example: string;
  tag: string;
  containers: string[];
  matrix: Matrix;
  /** Additions to the example's file before the first up. */
  extend?: (doc: Lab) => void;
  /** Change the file; says which containers keep running untouched and which are new or made again. */
  change: (doc: Lab) => { kept: string[]; remade: string[]; gone: string[]; matrix: Matrix };
}

/** api gets a name on each of its networks (as Compose's `networks: {NET: {aliases}}`): api-front on api, api-back on db. */
function perNetworkAliases(doc: Lab): void {
  const api = doc.containers['api']!['networks'] as Record<string, Record<string, unknown>>;
  api['api']!['aliases'] = ['api-front'];
  api['db']!['aliases'] = ['api-back'];
}

const cases: Case[] = [
  {
    example: 'red-blue',
    tag: 'rb',
    containers: ['red', 'blue'],
    matrix: [
      ['red', 'blue', true],
      ['blue', 'red', true],
      ['red', '10.0.0.254', true],
      ['red', WORLD, true],
    ],
    change: (doc) => {
      doc.containers['green'] = { command: ['sleep', 'infinity'], networks: { study: { ip: '10.0.0.3' } } };
      doc.containers['blue']!['env'] = { COLOUR: 'blue' };
      return { kept: ['red'], remade: ['blue', 'green'], gone: [], matrix: [['red', 'green', true], ['green', 'blue', true]] };
    },
  },
  {
    example: 'three-tier',
    tag: 'tt',
    containers: ['web', 'api', 'db'],
    extend: perNetworkAliases,
    matrix: [
      ['web', 'api', true],
      ['api', 'db', true],
      ['web', 'db', false],
      ['db', 'web', false],
      ['web', WORLD, true],
      ['api', WORLD, false],
      ['db', WORLD, false],
    ],
    change: (doc) => {
      delete doc.containers['db'];
      return { kept: ['web', 'api'], remade: [], gone: ['db'], matrix: [['web', 'api', true]] };
    },
  },
  {
    example: 'routed',
    tag: 'rt',
    containers: ['router', 'alice', 'bob'],
    matrix: [
      ['alice', 'bob', true],
      ['bob', 'alice', true],
      ['alice', 'router', true],
      ['alice', WORLD, false],
      ['bob', WORLD, false],
    ],
    change: (doc) => {
      // A changed network is made again, and so is every container on it; alice stays.
      doc.networks['right'] = { ...doc.networks['right'], labels: { side: 'right' } };
      return { kept: ['alice'], remade: ['router', 'bob'], gone: [], matrix: [['alice', 'bob', true], ['bob', 'alice', true]] };
    },
  },
  {
    example: 'dual-stack',
    tag: 'ds',
    containers: ['router', 'alice', 'bob'],
    matrix: [
      ['alice', 'bob', true],
      ['bob', 'alice', true],
      ['alice', '2001:db8:42::10', true],
      ['bob', '2001:db8:41::10', true],
      ['alice', '2001:db8:41::254', true],
      ['alice', WORLD, false],
      ['bob', WORLD6, false],
    ],
    change: (doc) => {
      // A changed ip6 makes its container again, as a changed ip does; the others stay.
      const bob = doc.containers['bob']!['networks'] as Record<string, Record<string, string>>;
      bob['b']!['ip6'] = '2001:db8:42::20';
      return { kept: ['router', 'alice'], remade: ['bob'], gone: [], matrix: [['alice', '2001:db8:42::20', true], ['alice', '2001:db8:42::10', false]] };
    },
  },
];

requiredSuite('nsnet up / down: the example labs', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  let baseline: string;
  const timings: string[] = [];
  before(async () => {
    sb = await createSandbox('lab');
    baseline = hostBaseline(sb);
  });
  after(async () => {
    if (timings.length > 0) process.stderr.write(`lab timings:\n${timings.join('\n')}\n`);
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  for (const c of cases) {
    test(`${c.example}: up, reachability, no-op up, change converges, down leaves nothing`, async (t) => {
      const run = new LabRun(sb, `${sb.prefix}${c.tag}`);
      try {
        const doc = example(c.example);
        c.extend?.(doc);
        run.write(doc);
        const first = await run.up();
        assert.match(first.r.stdout, /created \d+ networks and \d+ containers/);
        assert.match(first.r.stderr, /\[1\/\d+\] create network/, 'plain progress lines when not a terminal');
        const ipsOf = async (): Promise<(to: string) => string> => {
          const ips: Record<string, string> = {};
          for (const name of Object.keys((parse(fs.readFileSync(run.file, 'utf8')) as Lab).containers)) {
            ips[name] = Object.values((await run.inspect(name)).ips)[0]!;
          }
          return (to) => ips[to] ?? to;
        };
        assert.deepEqual(await run.check(c.matrix, await ipsOf()), []);
        if (c.example === 'three-tier') {
          // Containers find each other by their names in the file (DNS aliases).
          const r = await runAsync(['ip', 'netns', 'exec', run.ns('web'), 'ping', '-c', '1', '-W', '1', 'api']);
          assert.match(r.stdout, /10\.30\.2\.20/, describeResult(r));
          // A network's aliases answer on that network only: web shares the api network with
          // api, db the db network; neither gets the other network's alias (NXDOMAIN).
          const lookup = (from: string, name: string): Promise<RunResult> => runAsync(['ip', 'netns', 'exec', run.ns(from), 'getent', 'hosts', name]);
          const [webFront, webBack, dbBack, dbFront] = await Promise.all([lookup('web', 'api-front'), lookup('web', 'api-back'), lookup('db', 'api-back'), lookup('db', 'api-front')]);
          assert.match(webFront.stdout, /^10\.30\.2\.20\s+api-front/, describeResult(webFront));
          assert.match(dbBack.stdout, /^10\.30\.3\.20\s+api-back/, describeResult(dbBack));
          assert.equal(webBack.code, 2, `web must not resolve db's alias api-back\n${describeResult(webBack)}`);
          assert.equal(dbFront.code, 2, `db must not resolve the api network's alias api-front\n${describeResult(dbFront)}`);
        }
        if (c.example === 'routed') {
          // Routed, one hop: the reply comes back with its TTL lowered by the router; alice is
          // not on bob's link, and nothing translates on the way (the router has no firewall
          // rules, internal networks no masquerade).
          const bob = (await ipsOf())('bob');
          const r = await runAsync(['ip', 'netns', 'exec', run.ns('alice'), 'ping', '-c', '1', '-W', '1', bob]);
          assert.match(r.stdout, /ttl=63/, describeResult(r));
          const seen = ok(sb.inHost(['ip', 'netns', 'exec', run.ns('bob'), 'ip', 'neigh'])).stdout;
          assert.doesNotMatch(seen, /10\.20\.1\.10/, 'alice is reached through the router, not on the link');
          assert.equal(ok(sb.inHost(['ip', 'netns', 'exec', run.ns('router'), 'nft', 'list', 'ruleset'])).stdout.trim(), '');
          assert.doesNotMatch(ok(sb.inHost(['nft', 'list', 'ruleset'])).stdout, new RegExp(`masquerade comment "nsnet network ${run.lab}-`));
        }
        if (c.example === 'dual-stack') {
          // IPv6 routed one hop as IPv4 is: the reply's hop limit lowered by the router, which
          // forwards IPv6 because its ip_forward brought IPv6 forwarding with it.
          const r = await runAsync(['ip', 'netns', 'exec', run.ns('alice'), 'ping', '-6', '-c', '1', '-W', '1', '2001:db8:42::10']);
          assert.match(r.stdout, /ttl=63/, describeResult(r));
          const inRouter = (argv: string[]): string => ok(sb.inHost(['ip', 'netns', 'exec', run.ns('router'), ...argv])).stdout;
          assert.equal(inRouter(['sysctl', '-n', 'net.ipv6.conf.all.forwarding']).trim(), '1');
          assert.match(inRouter(['ip', '-6', '-br', 'addr']), /2001:db8:41::254\/64.*\n.*2001:db8:42::254\/64/);
          const routes = ok(sb.inHost(['ip', '-n', run.ns('alice'), '-6', 'route'])).stdout;
          assert.match(routes, /^2001:db8:42::\/64 via 2001:db8:41::254 /m, 'the file\'s IPv6 route');
          assert.doesNotMatch(routes, /^default/m, 'an internal network gives no IPv6 default route, as it gives no IPv4 one');
          const seen = ok(sb.inHost(['ip', 'netns', 'exec', run.ns('bob'), 'ip', '-6', 'neigh'])).stdout;
          assert.doesNotMatch(seen, /2001:db8:41::10/, 'alice is reached through the router, not on the link');
        }

        // up again: nothing changes, down to the PIDs and the kernel state.
        const pids = await run.pids(c.containers);
        const before = run.snapshot(c.containers);
        const again = await run.up();
        assert.match(again.r.stdout, /is up to date/);
        assert.deepEqual(await run.pids(c.containers), pids);
        assert.equal(run.snapshot(c.containers), before);

        // A changed file converges.
        const changed = c.change(doc);
        run.write(doc);
        const conv = await run.up();
        const now = await run.pids(changed.kept);
        for (const k of changed.kept) assert.equal(now[k], pids[k], `${k} kept running untouched`);
        for (const m of changed.remade) {
          const pid = (await run.inspect(m)).pid;
          assert.ok(pid > 0 && pid !== pids[m], `${m} made (again): pid ${pid}`);
        }
        for (const g of changed.gone) assert.deepEqual(netnsEntries(run.ns(g)), [], `${g} removed`);
        assert.deepEqual(await run.check(changed.matrix, await ipsOf()), []);

        const down = await run.down();
        assert.match(down.r.stdout, /removed \d+ containers and \d+ networks/);
        assert.deepEqual(netnsEntries(`${run.lab}-`), [], 'no namespace of the lab is left');
        const etc = fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns').filter((e) => e.startsWith(`${run.lab}-`)) : [];
        assert.deepEqual(etc, [], 'no per-container DNS files of the lab are left');
        assert.deepEqual(JSON.parse(ok(await sb.nsnet(['ps', '-a', '--format', 'json'])).stdout), []);
        // Only Docker's predefined host and none, which network ls always lists.
        assert.deepEqual((JSON.parse(ok(await sb.nsnet(['network', 'ls', '--format', 'json'])).stdout) as Array<{ Name: string }>).map((n) => n.Name), ['host', 'none']);
        assert.equal(hostBaseline(sb), baseline, 'the sandbox host is as it was before the lab');
        // down again: nothing to do, not an error.
        assert.match((await run.down()).r.stdout, /removed 0 containers and 0 networks/);
        const line = `${c.example}: up ${first.ms} ms (${c.containers.length} containers), no-op up ${again.ms} ms, converge ${conv.ms} ms, down ${down.ms} ms`;
        timings.push(line);
        t.diagnostic(line);
      } finally {
        run.cleanup();
      }
    });
  }
});

/**
 * The promise to learners: the script `up --dry-run` prints, run with bash in a fresh sandbox,
 * builds the same kernel state as `nsnet up` in another (links, addresses, routes, sysctls,
 * firewall), once generated names (bridges, veths, ids) and the lab's name are normalised.
 */
requiredSuite('nsnet up --dry-run: the script builds the same lab', { needs: [needs.integration], concurrency: false }, () => {
  // A fresh pair of sandboxes per lab: what the script made by hand only goes with its sandbox.

  /** A normalised dump of a sandbox's host namespace and the lab's container namespaces. */
  function state(sb: Sandbox, lab: string, containers: readonly string[]): string {
    const host = (argv: string[]): string => ok(sb.inHost(argv)).stdout;
    const sections: Array<[string, string]> = [
      ['links', host(['ip', '-br', 'link']).replace(/@\S+/g, '')],
      ['addresses', host(['ip', '-br', 'addr'])],
      ['routes', host(['ip', 'route'])],
      // `ip -br addr` lists IPv6 addresses too (link-local ones normalised below).
      ['IPv6 routes', host(['ip', '-6', 'route'])],
      ['forwarding', host(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])],
      ['firewall', host(['nft', 'list', 'ruleset'])],
    ];
    for (const c of containers) {
      const ns = `${lab}-${c}`;
      const inNs = (argv: string[]): string => ok(sb.inHost(['ip', 'netns', 'exec', ns, ...argv])).stdout;
      sections.push([`${c} links`, inNs(['ip', '-br', 'link']).replace(/@\S+/g, '')]);
      sections.push([`${c} addresses`, inNs(['ip', '-br', 'addr'])]);
      sections.push([`${c} routes`, inNs(['ip', 'route'])]);
      sections.push([`${c} IPv6 routes`, inNs(['ip', '-6', 'route'])]);
      sections.push([`${c} forwarding`, inNs(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])]);
    }
    // Bridges by order of creation (ifindex order in `ip -br link`), veths and ids generated.
    const bridges = [...new Set([...(sections[0]![1].matchAll(/nsnet-[0-9a-f]{8}/g))].map((m) => m[0]))];
    const normalise = (text: string): string => {
      let t = text.split(lab).join('LAB');
      bridges.forEach((b, i) => (t = t.split(b).join(`BRIDGE${i}`)));
      t = t.replace(/nsv[0-9a-f]{12}/g, 'VETH').replace(/\b[0-9a-f]{12}\b/g, 'ID');
      // Container MACs are nsnet's (02:42 + the address) and kept; the kernel's random ones
      // (host veth ends, the sandbox uplink), bridge MACs (from the network id) and the IPv6
      // link-local addresses made from them are not.
      // nft lists set elements in its own order (by the generated names): compare them as sets.
      t = t.replace(/elements = \{([^}]*)\}/g, (_, items: string) => `elements = { ${items.split(',').map((i) => i.trim()).sort().join(', ')} }`);
      // A bridge MAC is a hash of the network id, so 1 in 256 starts 02:42 too: masked by its line.
      // (`ip -br` pads its columns with several spaces: they are squeezed only further down.)
      t = t.replace(/^(BRIDGE\d+[ \t]+\S+[ \t]+)([0-9a-f]{2}:){5}[0-9a-f]{2}\b/gm, '$1MAC');
      t = t.replace(/\b(?!02:42:)([0-9a-f]{2}:){5}[0-9a-f]{2}\b/g, 'MAC').replace(/fe80::\S+/g, 'fe80::LL').replace(/@if\d+/g, '');
      return t.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter((l) => l !== '').sort().join('\n');
    };
    return sections.map(([name, text]) => `== ${name}\n${normalise(text)}`).join('\n');
  }

  for (const name of ['red-blue', 'three-tier', 'routed', 'dual-stack', 'ring']) {
    test(`${name}: nsnet up and its --dry-run script give the same state`, async () => {
      const doc = example(name);
      // The ring's point-to-point links, and a partition (set elements in both nsnet tables).
      if (name === 'ring') doc['partitions'] = [{ name: 'cut', between: ['h1'], and: ['h3'] }];
      // Aliases on networks joined at run and by connect (api's second address is static).
      if (name === 'three-tier') perNetworkAliases(doc);
      const containers = Object.keys(doc.containers);
      const real = await createSandbox('ldr');
      const byHand = await createSandbox('ldh');
      const a = new LabRun(real, `${real.prefix}x`);
      const b = new LabRun(byHand, `${byHand.prefix}x`);
      try {
        a.write(doc);
        b.write(doc);
        await a.up();
        const script = ok(await byHand.nsnet(['up', '--dry-run', '-f', b.file, '--name', b.lab])).stdout;
        assert.match(script, /^#!\/usr\/bin\/env bash\n/);
        const ran = byHand.inHost(['bash', '-c', script], { timeoutMs: 60_000 });
        assert.equal(ran.code, 0, `the script runs\n${describeResult(ran)}\n${script}`);
        // A veth's operstate follows its carrier through the kernel's linkwatch, which batches
        // events (up to a second): links the script made a moment ago may still read DOWN.
        let byHandState = state(byHand, b.lab, containers);
        const realState = state(real, a.lab, containers);
        for (let i = 0; i < 10 && byHandState !== realState; i++) {
          await new Promise((r) => setTimeout(r, 300));
          byHandState = state(byHand, b.lab, containers);
        }
        assert.equal(byHandState, realState);
        // The by-hand lab works as well: its first matrix entry answers.
        const first = containers[0]!;
        const peer = (await a.inspect(containers[1] ?? first)).ips;
        const r = await runAsync(['ip', 'netns', 'exec', b.ns(first), 'ping', '-c', '1', '-W', '1', Object.values(peer)[0]!]);
        assert.equal(r.code, 0, describeResult(r));
        await a.down();
      } finally {
        a.cleanup();
        b.cleanup();
        const reports = [await real.destroy(), await byHand.destroy()];
        assert.deepEqual(reports.flatMap((r) => r.problems), []);
      }
    });
  }
});

requiredSuite('labs never touch what is not theirs', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox('lo');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  const lab = (subnet: string): Lab => ({
    networks: { net: { subnet } },
    containers: {
      one: { command: ['sleep', 'infinity'], networks: ['net'] },
      two: { command: ['sleep', 'infinity'], networks: ['net'] },
    },
  });

  test('a name held by hand is refused; two labs side by side; down of one leaves the other', async () => {
    const a = new LabRun(sb, `${sb.prefix}a`);
    const b = new LabRun(sb, `${sb.prefix}b`);
    try {
      a.write(lab('10.61.0.0/24'));
      b.write(lab('10.62.0.0/24'));
      // A container made by hand under a name the lab would use: refused, left alone.
      ok(await sb.nsnet(['run', '-d', '--name', a.ns('two'), '--', 'sleep', 'infinity']));
      const byHand = (await a.inspect('two')).pid;
      const refused = await sb.nsnet(['up', '-f', a.file, '--name', a.lab]);
      assert.equal(refused.code, 1, describeResult(refused));
      assert.match(refused.stderr, new RegExp(`container ${a.lab}-two already exists`));
      assert.equal((await a.inspect('two')).pid, byHand, 'the hand-made container is untouched');
      assert.deepEqual(JSON.parse(ok(await sb.nsnet(['network', 'ls', '--format', 'json'])).stdout).filter((n: { Name: string }) => n.Name.startsWith(a.lab)), []);
      ok(await sb.nsnet(['rm', '-f', a.ns('two')]));

      await a.up();
      await b.up();
      const bPids = await b.pids(['one', 'two']);
      await a.down();
      assert.deepEqual(await b.pids(['one', 'two']), bPids, 'lab b keeps running');
      assert.deepEqual(netnsEntries(`${a.lab}-`), []);
      assert.deepEqual(netnsEntries(`${b.lab}-`).length, 2);
      await b.down();
      assert.deepEqual(netnsEntries(`${b.lab}-`), []);
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });

  test('a container that cannot start: the rest comes up, the error names it, up again finishes the job', async () => {
    const c = new LabRun(sb, `${sb.prefix}c`);
    try {
      const doc = lab('10.63.0.0/24');
      doc.containers['two']!['command'] = ['no-such-command-here'];
      c.write(doc);
      const r = await sb.nsnet(['up', '-f', c.file, '--name', c.lab]);
      assert.equal(r.code, 1, describeResult(r));
      assert.match(r.stderr, new RegExp(`create container ${c.lab}-two: .*no-such-command-here`));
      assert.match(r.stderr, /hint: fix the cause and run up again/);
      const one = (await c.inspect('one')).pid;
      assert.deepEqual(netnsEntries(`${c.lab}-two`), [], 'nothing is left of the failed container');
      doc.containers['two']!['command'] = ['sleep', 'infinity'];
      c.write(doc);
      const again = await c.up();
      assert.match(again.r.stdout, /created 0 networks and 1 containers/);
      assert.equal((await c.inspect('one')).pid, one);
      const two = Object.values((await c.inspect('two')).ips)[0]!;
      assert.deepEqual(await c.check([['one', 'two', true]], (to) => (to === 'two' ? two : to)), []);
      await c.down();
    } finally {
      c.cleanup();
    }
  });
});

/**
 * A careless file never costs a lab: an empty or comment-only file is an error (with or without
 * --remove-all); a file that declares none of the lab's objects is refused unless --remove-all;
 * a file with a bad address is refused before anything is made. Each refusal changes nothing.
 */
requiredSuite('labs: a careless file changes nothing', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox('lb');
  });
  after(async () => {
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  const lab = (): Lab => ({
    networks: { net: { subnet: '10.64.0.0/24' } },
    containers: {
      one: { command: ['sleep', 'infinity'], networks: { net: { ip: '10.64.0.10' } } },
      two: { command: ['sleep', 'infinity'], networks: ['net'] },
    },
  });
  const networkNames = async (): Promise<string[]> =>
    (JSON.parse(ok(await sb.nsnet(['network', 'ls', '--format', 'json'])).stdout) as Array<{ Name: string }>).map((n) => n.Name).sort();
  const refuse = async (run: LabRun, extra: string[], want: RegExp): Promise<RunResult> => {
    const r = await sb.nsnet(['up', '-f', run.file, '--name', run.lab, ...extra], { timeoutMs: 120_000 });
    assert.equal(r.code, 1, `up ${extra.join(' ')} is refused\n${describeResult(r)}`);
    assert.match(r.stderr, want, describeResult(r));
    return r;
  };

  test('an empty file, a comment-only one, and one that declares none of the lab: refused, the lab stays; --remove-all removes only on a declaration', async () => {
    const run = new LabRun(sb, `${sb.prefix}e`);
    try {
      run.write(lab());
      await run.up();
      const pids = await run.pids(['one', 'two']);
      const networks = await networkNames();
      const before = run.snapshot(['one', 'two']);
      const unchanged = async (what: string): Promise<void> => {
        assert.deepEqual(await run.pids(['one', 'two']), pids, `${what}: the containers keep running`);
        assert.deepEqual(await networkNames(), networks, `${what}: network ls unchanged`);
        assert.equal(run.snapshot(['one', 'two']), before, `${what}: the kernel state unchanged`);
      };

      const emptyError = new RegExp(`invalid lab file ${run.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: it is empty`);
      for (const [what, text] of [['an empty file', ''], ['a comment-only file', '# the lab, commented out\n#networks: {}\n']] as const) {
        fs.writeFileSync(run.file, text);
        for (const extra of [[], ['--remove-all'], ['--dry-run'], ['--dry-run', '--remove-all']]) {
          await refuse(run, extra, emptyError);
          await unchanged(`${what}, up ${extra.join(' ')}`);
        }
      }
      // down reads only a name from the file: an empty one names the lab after its directory (which owns nothing).
      const down = await sb.nsnet(['down', '-f', run.file]);
      assert.equal(down.code, 0, describeResult(down));
      assert.match(down.stdout, new RegExp(`lab ${path.basename(run.dir)} down in .*: removed 0 containers and 0 networks`));
      await unchanged('down of the directory-named lab');

      // A file that declares a lab, but none of this lab's objects: up would remove all of them.
      run.write({ networks: {}, containers: {} } as unknown as Lab);
      for (const extra of [[], ['--dry-run']]) {
        const r = await refuse(run, extra, /the file declares none of the lab's objects, so up would remove all of them \(1 network and 2 containers\); nothing was changed/);
        assert.match(r.stderr, /hint: to remove the lab, use nsnet down; .*--remove-all/);
        await unchanged(`a file declaring nothing, up ${extra.join(' ')}`);
      }
      const script = ok(await sb.nsnet(['up', '--dry-run', '--remove-all', '-f', run.file, '--name', run.lab])).stdout;
      assert.match(script, /^ip netns del /m, 'the dry run with --remove-all shows the removal');
      await unchanged('up --dry-run --remove-all');

      // Control: with --remove-all the same file removes the lab, as down would.
      const removed = await run.up(['--remove-all']);
      assert.match(removed.r.stdout, /created 0 networks and 0 containers, removed 1 networks and 2 containers/);
      assert.deepEqual(netnsEntries(`${run.lab}-`), []);
      assert.deepEqual(await networkNames(), networks.filter((n) => !n.startsWith(`${run.lab}-`)));
    } finally {
      await sb.nsnet(['down', '--name', run.lab]);
      run.cleanup();
    }
  });

  test('an address outside the subnet, or the same one twice: refused before anything is made', async () => {
    const run = new LabRun(sb, `${sb.prefix}a`);
    try {
      const networks = await networkNames();
      const baseline = hostBaseline(sb);
      const nothingMade = async (what: string): Promise<void> => {
        assert.deepEqual(await networkNames(), networks, `${what}: network ls unchanged`);
        assert.deepEqual(netnsEntries(`${run.lab}-`), [], `${what}: no namespace made`);
        assert.equal(hostBaseline(sb), baseline, `${what}: the host unchanged`);
      };
      // The bad address is the second container's: today the network and the first container were made first.
      const outside = lab();
      outside.containers['two']!['networks'] = { net: { ip: '10.65.0.20' } };
      run.write(outside);
      await refuse(run, [], /lab\.yaml:\d+:\d+: containers\.two\.networks\.net\.ip: container two: invalid address "10\.65\.0\.20": not inside subnet 10\.64\.0\.0\/24 of network net \(allowed on net: 10\.64\.0\.2 to 10\.64\.0\.254\)/);
      await nothingMade('an address outside the subnet');

      const twice = lab();
      twice.containers['two']!['networks'] = { net: { ip: '10.64.0.10' } };
      run.write(twice);
      await refuse(run, [], /containers\.two\.networks\.net\.ip: container two: address 10\.64\.0\.10 on network net is already container one's/);
      await nothingMade('the same address twice');

      const gateway = lab();
      gateway.containers['two']!['networks'] = { net: { ip: '10.64.0.1' } };
      run.write(gateway);
      await refuse(run, ['--dry-run'], /container two: invalid address "10\.64\.0\.1": it is the gateway of network net/);
      await nothingMade('the gateway, in a dry run');

      // Control: the same lab with a free address comes up (the probes above were refusals, not a broken lab).
      const fixed = lab();
      fixed.containers['two']!['networks'] = { net: { ip: '10.64.0.20' } };
      run.write(fixed);
      await run.up();
      assert.deepEqual((await run.inspect('two')).ips, { net: '10.64.0.20' });
      await run.down();
      await nothingMade('up, then down');
    } finally {
      run.cleanup();
    }
  });
});
