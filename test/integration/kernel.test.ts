/**
 * The kernel layer against a real kernel. Needs root. Everything happens inside throwaway network
 * namespaces: a "sandbox" made with `ip netns add` plays the host, and the test process only ever
 * reaches it through openRtnlIn/withNetns (its own thread is checked to be back in the machine's
 * namespace after every step). Container namespaces are made by createNetns.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelError, NsnetError } from '../../src/core/errors.js';
import { sleepSync } from '../../src/kernel/libc.js';
import { acquireLock } from '../../src/kernel/lock.js';
import {
  createNetns,
  deleteNetns,
  isMountedNetns,
  listNetns,
  netnsExists,
  netnsPath,
  openNetnsFd,
  openRtnlIn,
  withNetns,
} from '../../src/kernel/netns.js';
import { listNftTable, nftOutput, runNft } from '../../src/kernel/nft.js';
import { readSysctl, writeSysctl } from '../../src/kernel/sysctl.js';
import { needs, requiredTest, tools } from '../helpers/requirements.js';

const kernelNeeds = [needs.root, tools('the kernel layer tests', ['ip', 'ping', 'nft', 'nsenter'], 'apt-get install iproute2 iputils-ping nftables util-linux')];

const sfx = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const SANDBOX = `nsk-sb-${sfx}`;
const CTR = `nsk-c-${sfx}`;
const CTR2 = `nsk-d-${sfx}`;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const ipJson = <T>(...args: string[]): T => JSON.parse(ip('-j', ...args)) as T;
const ipNetnsList = (): string[] => ip('netns', 'list').split('\n').map((l) => l.split(' ')[0] ?? '').filter((l) => l !== '');

/** Inode of the namespace the test thread is in: must always be the machine's own. */
const myNetns = (): number => fs.statSync('/proc/thread-self/ns/net').ino;

interface IpLink {
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind: string };
}

requiredTest('kernel layer', { needs: kernelNeeds }, async (t) => {
  const home = myNetns();
  ip('netns', 'add', SANDBOX);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsk-'));
  const stayHome = (): void => assert.equal(myNetns(), home, 'test thread left the machine namespace');
  let sbHandle: { close(): void } | undefined;
  try {
    const sb = openRtnlIn(SANDBOX);
    sbHandle = sb;
    await t.test('sandbox socket sees only the sandbox', () => {
      assert.deepEqual(
        sb.listLinks().map((l) => l.name),
        ['lo'],
      );
      stayHome();
    });

    await t.test('createNetns/deleteNetns round trip, visible to ip netns', () => {
      const name = `nsk-r-${sfx}`;
      createNetns(name);
      try {
        assert.ok(ipNetnsList().includes(name));
        assert.ok(netnsExists(name));
        assert.ok(isMountedNetns(name));
        assert.ok(listNetns().includes(name));
        execFileSync('ip', ['netns', 'exec', name, 'true']);
        assert.throws(
          () => createNetns(name),
          (e: unknown) => e instanceof KernelError && e.errnoName === 'EEXIST' && e.command === `ip netns add ${name}`,
        );
        // a namespace made by iproute2 is usable by us, and the two are distinct
        assert.notEqual(fs.statSync(netnsPath(name)).ino, fs.statSync(netnsPath(SANDBOX)).ino);
      } finally {
        deleteNetns(name);
      }
      assert.ok(!ipNetnsList().includes(name));
      assert.ok(!netnsExists(name));
      assert.ok(!isMountedNetns(name));
      deleteNetns(name); // missing = success
      stayHome();
    });

    createNetns(CTR);
    createNetns(CTR2);
    let brIndex = 0;

    await t.test('bridge with mac, mtu and up', () => {
      brIndex = sb.createBridge({ name: 'nsk-br0', mtu: 1400, mac: '02:42:0a:63:00:01', up: true });
      const [link] = ipJson<IpLink[]>('-n', SANDBOX, '-d', 'link', 'show', 'nsk-br0');
      assert.ok(link);
      assert.equal(link.mtu, 1400);
      assert.equal(link.address, '02:42:0a:63:00:01');
      assert.ok(link.flags.includes('UP'));
      assert.equal(link.linkinfo?.info_kind, 'bridge');
      const mine = sb.getLink('nsk-br0');
      assert.deepEqual(mine, { index: brIndex, name: 'nsk-br0', kind: 'bridge', mtu: 1400, up: true, mac: '02:42:0a:63:00:01', masterIndex: undefined });
      assert.throws(
        () => sb.createBridge({ name: 'nsk-br0' }),
        (e: unknown) =>
          e instanceof KernelError && e.errnoName === 'EEXIST' && e.errno === 17 && e.command === `ip -n ${SANDBOX} link add nsk-br0 type bridge`,
      );
      stayHome();
    });

    await t.test('veth into a named namespace, enslaved and up in one request', () => {
      const fd = openNetnsFd(CTR);
      try {
        const idx = sb.createVeth({
          hostName: 'nsk-v0',
          peerName: 'eth0',
          peerNetnsFd: fd,
          mtu: 1400,
          masterIndex: brIndex,
          up: true,
          peerMac: '02:42:0a:63:00:02',
        });
        assert.equal(sb.getLink('nsk-v0')?.index, idx);
      } finally {
        fs.closeSync(fd);
      }
      const [host] = ipJson<IpLink[]>('-n', SANDBOX, 'link', 'show', 'nsk-v0');
      assert.ok(host);
      assert.equal(host.master, 'nsk-br0');
      assert.ok(host.flags.includes('UP'));
      assert.equal(host.mtu, 1400);
      const [peer] = ipJson<IpLink[]>('-n', CTR, 'link', 'show', 'eth0');
      assert.ok(peer);
      assert.equal(peer.address, '02:42:0a:63:00:02');
      assert.equal(peer.mtu, 1400);
      // the bridge keeps its explicit MTU and MAC with a port attached
      const br = sb.getLink('nsk-br0');
      assert.equal(br?.mtu, 1400);
      assert.equal(br?.mac, '02:42:0a:63:00:01');
      stayHome();
    });

    await t.test('addresses and routes inside the container namespace', () => {
      sb.addAddr(brIndex, '10.99.0.1', 24);
      const c = openRtnlIn(CTR);
      try {
        const lo = c.getLink('lo');
        const eth = c.getLink('eth0');
        assert.ok(lo && eth);
        c.setLinkUp(lo.index, true);
        c.setLinkUp(eth.index, true);
        c.addAddr(eth.index, '10.99.0.2', 24);
        c.addRoute({ gateway: '10.99.0.1', oif: eth.index });
        c.addRoute({ dst: '10.98.0.0', dstLen: 16, gateway: '10.99.0.1', oif: eth.index });

        const routes = ipJson<{ dst: string; gateway?: string; dev: string }[]>('-n', CTR, 'route');
        assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.99.0.1' && r.dev === 'eth0'));
        assert.ok(routes.some((r) => r.dst === '10.98.0.0/16' && r.gateway === '10.99.0.1'));
        const addrs = ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number; broadcast?: string }[] }[]>(
          '-n', CTR, 'addr', 'show', 'eth0',
        );
        const a = addrs[0]?.addr_info.find((x) => x.local === '10.99.0.2');
        assert.deepEqual(a && { prefixlen: a.prefixlen, broadcast: a.broadcast }, { prefixlen: 24, broadcast: '10.99.0.255' });

        assert.ok(c.listAddrs(4).some((x) => x.index === eth.index && x.address === '10.99.0.2' && x.prefixLen === 24));
        assert.ok(c.listAddrs(4).some((x) => x.address === '127.0.0.1' && x.prefixLen === 8));
        const mine = c.listRoutes(4);
        assert.ok(mine.some((r) => r.dst === undefined && r.dstLen === 0 && r.gateway === '10.99.0.1' && r.oif === eth.index && r.table === 254));
        assert.ok(mine.some((r) => r.dst === '10.99.0.0' && r.dstLen === 24 && r.gateway === undefined));

        c.delRoute({ dst: '10.98.0.0', dstLen: 16, gateway: '10.99.0.1', oif: eth.index });
        assert.ok(!c.listRoutes(4).some((r) => r.dst === '10.98.0.0'));

        assert.throws(
          () => c.addAddr(eth.index, '10.99.0.2', 24),
          (e: unknown) =>
            e instanceof KernelError &&
            e.errnoName === 'EEXIST' &&
            e.command === `ip -n ${CTR} addr add 10.99.0.2/24 broadcast + dev eth0`,
        );
        assert.throws(
          () => c.addRoute({ gateway: '10.99.0.1', oif: eth.index }),
          (e: unknown) => e instanceof KernelError && e.errnoName === 'EEXIST' && e.command === `ip -n ${CTR} route add default via 10.99.0.1 dev eth0`,
        );

        // IPv6 takes the same paths (no broadcast)
        c.addAddr(eth.index, 'fd00:99::2', 64);
        assert.ok(c.listAddrs(6).some((x) => x.family === 6 && x.address === 'fd00:99::2' && x.prefixLen === 64));
        c.addRoute({ dst: 'fd00:98::', dstLen: 64, gateway: 'fd00:99::1', oif: eth.index });
        const r6 = ipJson<{ dst: string; gateway?: string }[]>('-n', CTR, '-6', 'route');
        assert.ok(r6.some((r) => r.dst === 'fd00:98::/64' && r.gateway === 'fd00:99::1'));
        assert.ok(c.listRoutes(6).some((r) => r.family === 6 && r.dst === 'fd00:98::' && r.gateway === 'fd00:99::1'));
        c.delRoute({ dst: 'fd00:98::', dstLen: 64, gateway: 'fd00:99::1', oif: eth.index });
        c.delAddr(eth.index, 'fd00:99::2', 64);
        assert.ok(!c.listAddrs(6).some((x) => x.address === 'fd00:99::2'));

        // an address can be removed and put back
        c.addAddr(eth.index, '10.99.0.3', 24);
        c.delAddr(eth.index, '10.99.0.3', 24);
        assert.ok(!c.listAddrs(4).some((x) => x.address === '10.99.0.3'));
      } finally {
        c.close();
      }
      stayHome();
    });

    await t.test('ping from the container to the bridge address', () => {
      const r = spawnSync('ip', ['netns', 'exec', CTR, 'ping', '-c', '1', '-W', '2', '10.99.0.1'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    await t.test('setMaster, setMtu, setLinkUp and deleteLink', () => {
      const v = sb.getLink('nsk-v0');
      assert.ok(v);
      sb.setMaster(v.index, 0);
      assert.equal(sb.getLink('nsk-v0')?.masterIndex, undefined);
      sb.setMaster(v.index, brIndex);
      assert.equal(sb.getLink('nsk-v0')?.masterIndex, brIndex);
      sb.setMtu(v.index, 1300);
      assert.equal(sb.getLink('nsk-v0')?.mtu, 1300);
      sb.setLinkUp(v.index, false);
      assert.equal(sb.getLink('nsk-v0')?.up, false);
      assert.throws(
        () => sb.setMaster(v.index, 999999),
        (e: unknown) => e instanceof KernelError && e.command === `ip -n ${SANDBOX} link set dev nsk-v0 master ifindex 999999`,
      );

      sb.deleteLink('nsk-nolink'); // ENODEV is success
      assert.equal(sb.getLink('nsk-nolink'), undefined);
      // names over IFNAMSIZ-1 bytes: the kernel says only ERANGE; we say what is wrong
      assert.throws(() => sb.deleteLink('nsk-name-too-long'), (e: unknown) => e instanceof NsnetError && e.code === 'INVALID_VALUE');

      // a second pair, deleted from the host side: the container end goes with it
      const fd = openNetnsFd(CTR2);
      try {
        sb.createVeth({ hostName: 'nsk-v1', peerName: 'eth0', peerNetnsFd: fd, masterIndex: brIndex, up: true });
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(ipJson<IpLink[]>('-n', CTR2, 'link', 'show', 'eth0').length, 1);
      sb.deleteLink('nsk-v1');
      assert.equal(sb.getLink('nsk-v1'), undefined);
      assert.ok(!ipJson<IpLink[]>('-n', CTR2, 'link').some((l) => l.ifname === 'eth0'));
      stayHome();
    });

    await t.test('openRtnl binds to the namespace of the process (nsenter child)', () => {
      const rtnlJs = fileURLToPath(new URL('../../src/kernel/netlink/rtnl.js', import.meta.url));
      const script = `import { openRtnl } from ${JSON.stringify(rtnlJs)}; const r = openRtnl(); console.log(JSON.stringify(r.listLinks().map((l) => l.name))); r.close();`;
      const out = execFileSync('nsenter', [`--net=${netnsPath(SANDBOX)}`, process.execPath, '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      assert.deepEqual((JSON.parse(out) as string[]).sort(), ['lo', 'nsk-br0', 'nsk-v0']);
    });

    await t.test('sysctl is per namespace of the calling thread', () => {
      const before = withNetns(SANDBOX, () => readSysctl('net.ipv4.ip_forward'));
      withNetns(CTR, () => writeSysctl('net.ipv4.ip_forward', 1));
      assert.equal(withNetns(CTR, () => readSysctl('net.ipv4.ip_forward')), '1');
      assert.equal(withNetns(SANDBOX, () => readSysctl('net.ipv4.ip_forward')), before);
      assert.throws(
        () => withNetns(CTR, () => writeSysctl('net.ipv4.no_such_key', 1)),
        (e: unknown) => e instanceof KernelError && e.errnoName === 'ENOENT' && e.command === 'sysctl -w net.ipv4.no_such_key=1',
      );
      stayHome();
    });

    await t.test('withNetns switches back after a throw', () => {
      assert.throws(() =>
        withNetns(CTR, () => {
          throw new Error('boom');
        }),
      /boom/);
      stayHome();
    });

    await t.test('runNft creates and deletes a table in the sandbox only', () => {
      const table = `nsk_${sfx}`;
      withNetns(SANDBOX, () =>
        runNft(
          [
            `add table inet ${table}`,
            `add chain inet ${table} fwd_c { type filter hook forward priority 0; policy accept; }`,
            `add rule inet ${table} fwd_c iifname "nsk-br0" counter accept`,
          ].join('\n'),
        ),
      );
      try {
        const listed = withNetns(SANDBOX, () => listNftTable('inet', table));
        assert.match(listed ?? '', /iifname "nsk-br0" counter/);
        assert.match(withNetns(SANDBOX, () => nftOutput(['-j', 'list', 'tables'])), new RegExp(`"name": "${table}"`));
        assert.equal(withNetns(CTR, () => listNftTable('inet', table)), undefined);
        const viaNsenter = execFileSync('nsenter', [`--net=${netnsPath(SANDBOX)}`, 'nft', 'list', 'tables'], { encoding: 'utf8' });
        assert.match(viaNsenter, new RegExp(`table inet ${table}`));
        // a failing script changes nothing: one transaction
        assert.throws(
          () => withNetns(SANDBOX, () => runNft(`add table inet ${table}_x\nadd rule inet ${table}_x nope drop\n`)),
          (e: unknown) => e instanceof NsnetError && e.code === 'FIREWALL' && /No such file or directory/.test(e.message),
        );
        assert.equal(withNetns(SANDBOX, () => listNftTable('inet', `${table}_x`)), undefined);
      } finally {
        withNetns(SANDBOX, () => runNft(`delete table inet ${table}`));
      }
      assert.equal(withNetns(SANDBOX, () => listNftTable('inet', table)), undefined);
      stayHome();
    });

    await t.test('lock: exclusive, times out, reports waiting, released', () => {
      const lockPath = path.join(tmp, 'lock');
      const held = acquireLock(lockPath, { timeoutMs: 100 });
      assert.equal(fs.statSync(lockPath).mode & 0o777, 0o600);
      let waits = 0;
      const t0 = Date.now();
      assert.throws(
        () => acquireLock(lockPath, { timeoutMs: 60, onWait: () => waits++ }),
        (e: unknown) => e instanceof NsnetError && e.code === 'LOCK_TIMEOUT' && e.message.includes(lockPath),
      );
      assert.ok(Date.now() - t0 >= 60);
      assert.equal(waits, 0);
      assert.throws(() => acquireLock(lockPath, { timeoutMs: 1100, onWait: () => waits++ }), /another nsnet command holds the lock/);
      assert.equal(waits, 1);
      held.release();
      held.release(); // idempotent
      acquireLock(lockPath, { timeoutMs: 100 }).release();
    });

    await t.test('sleepSync blocks for about the time asked', () => {
      const t0 = process.hrtime.bigint();
      sleepSync(20);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms >= 19 && ms < 200, `slept ${ms} ms`);
    });
  } finally {
    sbHandle?.close();
    for (const n of [CTR, CTR2]) {
      try {
        deleteNetns(n);
      } catch {
        /* keep cleaning */
      }
    }
    spawnSync('ip', ['netns', 'del', SANDBOX]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  assert.ok(!ipNetnsList().some((n) => n.endsWith(sfx)), 'namespaces left behind');
});
