/**
 * The responder's sockets: UDP and TCP on port 53 of each address it is given (the gateways of
 * nsnet's networks, never a wildcard address), and forwarding to upstream servers with a hard
 * deadline, so a dead upstream gives SERVFAIL in about two seconds instead of a hang.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { decide, relay, servfail, type Transport } from './answer.js';
import type { DnsView } from './view.js';

/** Total time for one forwarded query, over every upstream. */
export const FORWARD_DEADLINE_MS = 1800;
const MAX_PENDING_FORWARDS = 512;
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 128;

export interface ServerOptions {
  view: () => DnsView;
  log: (line: string) => void;
  port?: number;
}

interface Listener {
  udp: dgram.Socket;
  tcp: net.Server;
}

export class DnsServer {
  private readonly listeners = new Map<string, Listener>();
  private pending = 0;
  private tcpConnections = 0;
  private readonly port: number;

  constructor(private readonly opts: ServerOptions) {
    this.port = opts.port ?? 53;
  }

  /** Addresses listened on now. */
  addresses(): string[] {
    return [...this.listeners.keys()].sort();
  }

  /** Listen on exactly these addresses: new ones are bound, gone ones closed. Gives the failures. */
  async listenOn(addresses: readonly string[]): Promise<Record<string, string>> {
    const want = new Set(addresses);
    for (const [addr, l] of this.listeners) {
      if (!want.has(addr)) {
        this.closeListener(l);
        this.listeners.delete(addr);
      }
    }
    const failures: Record<string, string> = {};
    for (const addr of want) {
      if (this.listeners.has(addr)) continue;
      try {
        this.listeners.set(addr, await this.bind(addr));
      } catch (err) {
        failures[addr] = (err as Error).message;
      }
    }
    return failures;
  }

  close(): void {
    for (const l of this.listeners.values()) this.closeListener(l);
    this.listeners.clear();
  }

  private closeListener(l: Listener): void {
    try {
      l.udp.close();
    } catch {
      /* already closed */
    }
    l.tcp.close();
  }

  private async bind(addr: string): Promise<Listener> {
    const udp = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: addr, port: this.port, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.opts.log(`udp ${addr}: ${err.message}`));
    udp.on('message', (msg, rinfo) => this.onUdp(udp, addr, msg, rinfo));
    const tcp = net.createServer((sock) => this.onTcp(sock, addr));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: addr, port: this.port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    tcp.on('error', (err) => this.opts.log(`tcp ${addr}: ${err.message}`));
    return { udp, tcp };
  }

  /** One query in, at most one reply out, whatever the bytes were. */
  async answer(gateway: string, client: string, raw: Buffer, transport: Transport): Promise<Buffer | undefined> {
    const d = decide(this.opts.view(), gateway, client, raw, transport);
    if (d.kind === 'drop') return undefined;
    if (d.kind === 'reply') return d.response;
    if (this.pending >= MAX_PENDING_FORWARDS) return servfail(d.query, d.maxSize);
    this.pending++;
    try {
      const upstream = await forward(d.servers, d.query, transport, FORWARD_DEADLINE_MS, this.port);
      return upstream === undefined ? servfail(d.query, d.maxSize) : relay(d.query, upstream, d.maxSize);
    } finally {
      this.pending--;
    }
  }

  private onUdp(sock: dgram.Socket, gateway: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.answer(gateway, rinfo.address, msg, 'udp').then(
      (out) => {
        if (out !== undefined) sock.send(out, rinfo.port, rinfo.address, () => {});
      },
      (err: unknown) => this.opts.log(`query from ${rinfo.address}: ${String(err)}`),
    );
  }

  private onTcp(sock: net.Socket, gateway: string): void {
    if (this.tcpConnections >= MAX_TCP_CONNECTIONS) {
      sock.destroy();
      return;
    }
    this.tcpConnections++;
    sock.on('close', () => this.tcpConnections--);
    sock.on('error', () => {});
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    const client = sock.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.answer(gateway, client, Buffer.from(msg), 'tcp').then(
          (out) => {
            if (out === undefined || sock.destroyed) return;
            const len2 = Buffer.alloc(2);
            len2.writeUInt16BE(out.length);
            sock.write(Buffer.concat([len2, out]));
          },
          (err: unknown) => this.opts.log(`tcp query from ${client}: ${String(err)}`),
        );
      }
    });
  }
}

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
    const sock = dgram.createSocket('udp4');
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
