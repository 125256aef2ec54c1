/**
 * Asking the upstream servers for a query the responder does not answer itself: over UDP with a
 * fresh socket and id per attempt, TCP when a truncated answer must reach a TCP client, all within
 * one deadline, so a dead upstream gives SERVFAIL in about two seconds instead of a hang.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import type { Transport } from './answer.js';

/**
 * Ask the servers in turn (each gets its share of what is left of the deadline), over UDP with a
 * fresh socket and id per attempt; a truncated UDP reply is retried over TCP when the client came
 * over TCP. Undefined when nobody answered in time.
 */
export async function forward(servers: readonly string[], query: Packet, transport: Transport, deadlineMs: number, port = 53): Promise<Buffer | undefined> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < servers.length; i++) {
    const left = end - Date.now();
    if (left <= 0) break;
    const share = Math.max(200, Math.floor(left / (servers.length - i)));
    const server = servers[i]!;
    const id = randomInt(0, 65536);
    const wire = dnsPacket.encode({ ...query, id });
    let answer = await askUdp(server, port, wire, id, Math.min(share, left));
    if (answer !== undefined && transport === 'tcp' && (answer.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0) {
      answer = (await askTcp(server, port, wire, id, Math.max(100, end - Date.now()))) ?? answer;
    }
    if (answer !== undefined) return answer;
  }
  return undefined;
}

function askUdp(server: string, port: number, wire: Buffer, id: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    // An upstream may be IPv6 (the host's resolv.conf, --dns): the socket's family follows it.
    const sock = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (v: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        /* closed */
      }
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    // Connected: only the server's replies arrive, and an ICMP "port unreachable" fails fast.
    sock.on('error', () => finish(undefined));
    sock.on('message', (msg) => {
      if (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg.readUInt16BE(2) & 0x8000) !== 0) finish(msg);
    });
    sock.connect(port, server, () => {
      sock.send(wire, (err) => {
        if (err) finish(undefined);
      });
    });
  });
}

function askTcp(server: string, port: number, wire: Buffer, id: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.connect({ host: server, port });
    const finish = (v: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      sock.write(Buffer.concat([len, wire]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        finish(msg.length >= 12 && msg.readUInt16BE(0) === id ? Buffer.from(msg) : undefined);
      }
    });
    sock.on('close', () => finish(undefined));
  });
}
