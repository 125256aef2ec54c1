/**
 * Small node programs the firewall tests run inside containers and the world namespace (the
 * containers share the host's filesystem, so `node -e` works there).
 */

/** UDP listener on port: prints "<source address> <payload>" per datagram. */
export const UDP_LISTENER = (port: number): string =>
  `const d = require('dgram').createSocket('udp4'); d.on('message', (m, r) => console.log(r.address + ' ' + m)); d.bind(${port}, '0.0.0.0', () => console.log('listening'))`;

/**
 * Probe script (node -e PROBE JSON): for each target {ip, port?} ping once and, when a port is
 * given, open a TCP connection that counts only when data arrives. All targets in parallel; for
 * targets marked retry (expected to connect) a failure is tried once more with a 2 s timeout, so a
 * loaded machine cannot fake a block; a blocked pair never connects, however often it is tried.
 * Prints one JSON array [{ip, ping, tcp}].
 */
export const PROBE = `
const { spawn } = require('child_process');
const net = require('net');
const targets = JSON.parse(process.argv[1]);
const ping = (ip, w) => new Promise((res) => {
  const p = spawn('ping', ['-c1', '-W' + w, ip], { stdio: 'ignore' });
  p.on('error', () => res(false));
  p.on('exit', (c) => res(c === 0));
});
const tcp = (ip, port, w) => new Promise((res) => {
  let done = false;
  const s = net.connect({ host: ip, port });
  const fin = (v) => { if (!done) { done = true; clearTimeout(t); s.destroy(); res(v); } };
  const t = setTimeout(() => fin(false), w * 1000);
  s.on('data', () => fin(true));
  s.on('error', () => fin(false));
  s.on('close', () => fin(false));
});
Promise.all(targets.map(async (t) => {
  const twice = async (f) => (await f(1)) || (t.retry ? await f(2) : false);
  const [p, c] = await Promise.all([twice((w) => ping(t.ip, w)), t.port ? twice((w) => tcp(t.ip, t.port, w)) : null]);
  return { ip: t.ip, ping: p, tcp: c };
})).then((r) => console.log(JSON.stringify(r)));
`;

/** Send a datagram three times (100 ms apart) from src to dst:port (node -e SEND src dst port msg). */
export const SEND = `
const [src, dst, port, msg] = process.argv.slice(1);
const d = require('dgram').createSocket('udp4');
d.bind({ address: src }, async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => d.send(msg, Number(port), dst, () => r()));
    await new Promise((r) => setTimeout(r, 100));
  }
  d.close();
});
`;

/** Published-port tests: a server answering every TCP connection and UDP datagram on 7000 and 7001 with the client's address. */
export const SERVER = `
const net = require('net'), dgram = require('dgram');
for (const port of [7000, 7001]) {
  net.createServer((s) => { s.on('error', () => {}); s.end('tcp ' + port + ' ' + s.remoteAddress.replace('::ffff:', '') + '\\n'); }).listen(port);
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send('udp ' + port + ' ' + r.address + '\\n', r.port, r.address));
  u.bind(port, () => console.log('listening ' + port));
}`;

/** A client printing the server's answer; exit 1 on timeout or error. */
export function client(proto: 'tcp' | 'udp', host: string, port: number): string[] {
  const js =
    proto === 'tcp'
      ? `const s=require('net').connect(${port},'${host}');s.on('data',d=>{process.stdout.write(d);process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),1500)`
      : `const u=require('dgram').createSocket('udp4');u.on('message',m=>{process.stdout.write(m);process.exit(0)});u.send('x',${port},'${host}');setTimeout(()=>process.exit(1),1500)`;
  return ['node', '-e', js];
}

/** A UDP service on the host's 127.0.0.1 only: prints "listening", then each datagram. */
export const loopbackListener = (port: number): string =>
  `const d=require('dgram').createSocket('udp4');d.on('message',(m)=>console.log(String(m)));d.bind(${port},'127.0.0.1',()=>console.log('listening'))`;

/**
 * Run in a container (root in its namespace): route 127.0.0.1 through the gateway, with
 * route_localnet on its own eth0 and the local table looked up after that route — what
 * CVE-2020-8558's exploit does to reach a host's loopback-only services.
 */
export const ROUTE_LOOPBACK_TO_GATEWAY = [
  'sysctl -qw net.ipv4.conf.eth0.route_localnet=1',
  'ip rule add pref 100 lookup local',
  'ip rule del pref 0',
  'ip route add 127.0.0.1/32 via $(ip route show default | cut -d" " -f3) dev eth0 table 100',
  'ip rule add pref 10 to 127.0.0.1 lookup 100',
].join(' && ');

/** Send msg three times, 100 ms apart, to 127.0.0.1:port (node -e). */
export const sendToLoopback = (msg: string, port: number): string =>
  `const d=require('dgram').createSocket('udp4');let i=0;const t=setInterval(()=>{d.send('${msg}',${port},'127.0.0.1');if(++i===3){clearInterval(t);setTimeout(()=>d.close(),100)}},100)`;
