/**
 * The responder's sockets: UDP and TCP on port 53 of each address it is given (the IPv4 and IPv6
 * gateways of nsnet's networks, never a wildcard address). Who is answered is access.ts's
 * decision, what is answered answer.ts's; here each query and each TCP connection is also held to
 * its share of the responder (limits.ts), so one container or one network cannot exhaust it for
 * the others.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { access } from './access.js';
import { decide, relay, servfail, type Transport } from './answer.js';
import { Budget } from './budget.js';
import { forward } from './forward.js';
import { FORWARD_DEADLINE_MS, FORWARD_LIMITS, TCP_IDLE_MS, TCP_LIMITS, TCP_MAX_BUFFERED_BYTES } from './limits.js';
import { serveTcpSession } from './tcp-session.js';
import { clientAddress, type DnsView } from './view.js';

export interface ServerOptions {
  /** The current view: re-read when the store changed since the last query. */
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
  private readonly forwards = new Budget<number>(FORWARD_LIMITS, false);
  private readonly connections = new Budget<number>(TCP_LIMITS, true);
  /** Open TCP connections by their id in `connections`, to close one the budget takes back. */
  private readonly sessions = new Map<number, net.Socket>();
  private nextId = 0;
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

  /**
   * An IPv6 gateway is bound like an IPv4 one, on its own address (never the wildcard), with
   * IPV6_V6ONLY (no IPv4-mapped peers on an IPv6 socket). The kernel refuses to bind an IPv6
   * address that is still tentative (duplicate address detection running: EADDRNOTAVAIL); nsnet
   * adds its gateways with nodad, so they are usable at once, and a failed bind is reported in the
   * record and retried on the next sync anyway.
   */
  private async bind(addr: string): Promise<Listener> {
    const v6 = addr.includes(':');
    const udp = dgram.createSocket(v6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
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
        tcp.listen({ host: addr, port: this.port, exclusive: true, ipv6Only: v6 }, () => {
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
    const id = this.nextId++;
    if (!this.forwards.admit(id, client, d.network, Date.now()).ok) return servfail(d.query, d.maxSize);
    try {
      const upstream = await forward(d.servers, d.query, transport, FORWARD_DEADLINE_MS, this.port);
      return upstream === undefined ? servfail(d.query, d.maxSize) : relay(d.query, upstream, d.maxSize);
    } finally {
      this.forwards.release(id);
    }
  }

  private onUdp(sock: dgram.Socket, gateway: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const client = clientAddress(rinfo.address);
    this.answer(gateway, client, msg, 'udp').then(
      (out) => {
        if (out !== undefined) sock.send(out, rinfo.port, rinfo.address, () => {});
      },
      (err: unknown) => this.opts.log(`query from ${rinfo.address}: ${String(err)}`),
    );
  }

  /**
   * A connection from anyone but a container of the gateway's network is closed at once (it would
   * only be refused, and must not hold a slot); a member's takes its share of TCP_LIMITS, maybe
   * taking back an idle connection of whoever holds the most.
   */
  private onTcp(sock: net.Socket, gateway: string): void {
    sock.on('error', () => {});
    const client = clientAddress(sock.remoteAddress ?? '');
    const who = access(this.opts.view(), gateway, client);
    if (who.kind !== 'member') {
      sock.destroy();
      return;
    }
    const id = this.nextId++;
    const admitted = this.connections.admit(id, client, who.net.id, Date.now());
    if (!admitted.ok) {
      sock.destroy();
      return;
    }
    if (admitted.evict !== undefined) this.sessions.get(admitted.evict)?.destroy();
    this.sessions.set(id, sock);
    sock.on('close', () => {
      this.connections.release(id);
      this.sessions.delete(id);
    });
    serveTcpSession(sock, {
      idleMs: TCP_IDLE_MS,
      maxBufferedBytes: TCP_MAX_BUFFERED_BYTES,
      answer: (query) => this.answer(gateway, client, query, 'tcp'),
      active: () => this.connections.touch(id, Date.now()),
      log: this.opts.log,
    });
  }
}
