/**
 * The responder's decisions, pure: one query in, a reply (or "forward it to these servers", or
 * "drop it") out. Wire format by dns-packet.
 *
 * - Who asks comes first (access.ts): only a container on the network whose gateway was asked is
 *   answered; another nsnet address gets REFUSED, anyone else nothing. What follows is for members.
 * - Names of containers on the network the query arrived on (name, hostname, --network-alias):
 *   A and AAAA records, authoritative, TTL 2 s; a family the name has no address of, and other
 *   types: no data (NOERROR, empty). Then the names on the client's other networks (as Docker
 *   does for a container on several), with their addresses there.
 * - PTR (in-addr.arpa and ip6.arpa) for their addresses; other addresses of any nsnet subnet:
 *   NXDOMAIN (they are nsnet's, no upstream knows them, and a query for them must not tell one
 *   about them).
 * - Names nsnet knows on *other* networks: NXDOMAIN, never forwarded (they must not resolve here
 *   and must not leak upstream).
 * - Everything else: forwarded to the client's upstreams; SERVFAIL when there are none.
 * - Opcodes other than QUERY: NOTIMP. Not one question, or undecodable with a readable header:
 *   FORMERR. Shorter than a header, or a response: dropped.
 * - Over UDP a reply larger than 512 bytes (or the client's EDNS0 size) is cut to the header and
 *   question with TC set, so the client retries over TCP.
 */
import dnsPacket, { type Answer, type Packet, type Question } from 'dns-packet';
import { access } from './access.js';
import { isNsnetAddress, norm, ptrAddress, type DnsView, type NetworkView } from './view.js';

export const TTL = 2;
/** What we advertise in our own OPT record. */
export const EDNS_SIZE = 1232;
const MAX_UDP = 4096;

const QR = 0x8000;
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const TC = dnsPacket.TRUNCATED_RESPONSE;
const RD = dnsPacket.RECURSION_DESIRED;
const RA = dnsPacket.RECURSION_AVAILABLE;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export type Transport = 'udp' | 'tcp';

export type Decision =
  | { kind: 'reply'; response: Buffer }
  /** `network`: the id of the network whose gateway was asked (whose forwarding budget it uses). */
  | { kind: 'forward'; servers: string[]; query: Packet; maxSize: number; network: string }
  | { kind: 'drop'; why: string };

interface Parsed {
  packet: Packet;
  question: Question;
  /** Largest reply the client takes over this transport. */
  maxSize: number;
  edns: boolean;
}

/** The largest reply a client accepts: 512 without EDNS0, its advertised size (512..4096) with it; 65535 over TCP. */
export function clientMaxSize(packet: Packet, transport: Transport): number {
  if (transport === 'tcp') return 65535;
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  if (opt === undefined) return 512;
  return Math.min(MAX_UDP, Math.max(512, opt.udpPayloadSize ?? 512));
}

function hasOpt(packet: Packet): boolean {
  return (packet.additionals ?? []).some((a) => a.type === 'OPT');
}

/** A bare header answer for a packet we could not decode: same id and opcode, the given rcode. */
function headerOnly(raw: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  raw.copy(out, 0, 0, 2);
  const flags = raw.readUInt16BE(2);
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | rcode, 2);
  return out;
}

/** Build a reply, with TC and no records when it would not fit the client's size. */
export function reply(query: Packet, rcode: number, answers: Answer[], opts: { authoritative: boolean; maxSize: number }): Buffer {
  const rd = ((query.flags ?? 0) & RD) !== 0 ? RD : 0;
  const flags = rd | RA | (opts.authoritative ? AA : 0) | rcode;
  const additionals = hasOpt(query) ? [{ type: 'OPT' as const, name: '.', udpPayloadSize: EDNS_SIZE, flags: 0, options: [] } as unknown as Answer] : [];
  const base = { id: query.id ?? 0, type: 'response' as const, flags, questions: query.questions ?? [], additionals };
  const full = dnsPacket.encode({ ...base, answers });
  if (full.length <= opts.maxSize) return full;
  return dnsPacket.encode({ ...base, flags: flags | TC, answers: [] });
}

/** SERVFAIL for a query we had decided to forward (upstreams failed or timed out). */
export function servfail(query: Packet, maxSize: number): Buffer {
  return reply(query, RCODE.SERVFAIL, [], { authoritative: false, maxSize });
}

/** An upstream's reply, passed on with the client's id; cut to TC when the client cannot take it over UDP. */
export function relay(query: Packet, upstreamReply: Buffer, maxSize: number): Buffer {
  const out = Buffer.from(upstreamReply);
  out.writeUInt16BE(query.id ?? 0, 0);
  if (out.length <= maxSize) return out;
  return reply(query, out.readUInt16BE(2) & 0xf, [], { authoritative: false, maxSize: 0 });
}

function parse(raw: Buffer, transport: Transport): Parsed | Decision {
  if (raw.length < 12) return { kind: 'drop', why: 'shorter than a DNS header' };
  if ((raw.readUInt16BE(2) & QR) !== 0) return { kind: 'drop', why: 'a response, not a query' };
  const opcode = (raw.readUInt16BE(2) >> 11) & 0xf;
  if (opcode !== 0) return { kind: 'reply', response: headerOnly(raw, RCODE.NOTIMP) };
  // A query has one question, no answer or authority records and at most an OPT (and a TSIG):
  // anything else is refused from the header alone, before decoding what the counts promise.
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((o) => raw.readUInt16BE(o));
  if (qd !== 1 || an !== 0 || ns !== 0 || ar! > 2) return { kind: 'reply', response: headerOnly(raw, RCODE.FORMERR) };
  let packet: Packet;
  try {
    packet = dnsPacket.decode(raw);
  } catch {
    return { kind: 'reply', response: headerOnly(raw, RCODE.FORMERR) };
  }
  const questions = packet.questions ?? [];
  const question = questions[0];
  if (questions.length !== 1 || question === undefined) return { kind: 'reply', response: headerOnly(raw, RCODE.FORMERR) };
  return { packet, question, maxSize: clientMaxSize(packet, transport), edns: hasOpt(packet) };
}

/**
 * REFUSED, with the question (resolvers such as glibc's ignore a reply whose question does not
 * match theirs), for a well-formed query from a client the responder does not serve; anything
 * else from such a client is dropped unanswered.
 */
function refuse(raw: Buffer, transport: Transport, why: string): Decision {
  const parsed = parse(raw, transport);
  if ('kind' in parsed) return { kind: 'drop', why: `${why}; and not a well-formed query` };
  return { kind: 'reply', response: reply(parsed.packet, RCODE.REFUSED, [], { authoritative: false, maxSize: parsed.maxSize }) };
}

/**
 * Decide what to do with one query that arrived on `gateway` (which network's view applies)
 * from `client` (who may ask at all, and whose upstreams apply).
 */
export function decide(view: DnsView, gateway: string, client: string, raw: Buffer, transport: Transport): Decision {
  const who = access(view, gateway, client);
  if (who.kind === 'ignore') return { kind: 'drop', why: who.why };
  if (who.kind === 'refuse') return refuse(raw, transport, who.why);
  const parsed = parse(raw, transport);
  if ('kind' in parsed) return parsed;
  const { packet, question, maxSize } = parsed;
  const net = who.net;
  const name = norm(question.name);
  const local = (rcode: number, answers: Answer[] = []): Decision => ({
    kind: 'reply',
    response: reply(packet, rcode, answers, { authoritative: true, maxSize }),
  });
  const qclass = question.class ?? 'IN';
  if (qclass === 'IN' || qclass === 'ANY') {
    // The network the query arrived on first, then the client's other networks.
    const nets = [net, ...(net.clientNetworks.get(client) ?? [])];
    const found = lookup(nets, name, question.type as string);
    if (found !== undefined) {
      return local(
        RCODE.NOERROR,
        found.map(([type, ip]) => ({ type, name: question.name, ttl: TTL, class: 'IN', data: ip }) as Answer),
      );
    }
    const ptrIp = ptrAddress(name);
    if (ptrIp !== undefined) {
      const owner = nets.map((n) => n.ptr.get(ptrIp)).find((o) => o !== undefined);
      if (owner !== undefined) {
        if (question.type !== 'PTR') return local(RCODE.NOERROR);
        return local(RCODE.NOERROR, [{ type: 'PTR', name: question.name, ttl: TTL, class: 'IN', data: owner } as Answer]);
      }
      if (isNsnetAddress(view, ptrIp)) return local(RCODE.NXDOMAIN);
    }
    if (view.known.has(name)) return local(RCODE.NXDOMAIN);
  }
  const servers = upstreamsFor(view, net, client);
  if (servers.length === 0) return { kind: 'reply', response: servfail(packet, maxSize) };
  return { kind: 'forward', servers, query: packet, maxSize, network: net.id };
}

/**
 * A container name on the client's networks: its records of the asked type, or undefined when no
 * network the client is on has the name. As Docker's resolver does, each family is looked up on
 * its own: the first network (in the client's order) with an address of that family answers, so
 * a name with an IPv4 address on one network and an IPv6 address on another has both. A name
 * with no address of the asked family (AAAA for a container on IPv4-only networks, A for one on
 * IPv6-only networks) and every other type gets NOERROR with no records ("no data", RFC 2308),
 * never NXDOMAIN: the name exists, and a resolver that asked A and AAAA together keeps the other answer.
 */
function lookup(nets: readonly NetworkView[], name: string, type: string): Array<['A' | 'AAAA', string]> | undefined {
  if (!nets.some((n) => n.names.has(name) || n.names6.has(name))) return undefined;
  const first = (family: 'names' | 'names6'): string[] => nets.map((n) => n[family].get(name)).find((a) => a !== undefined) ?? [];
  const out: Array<['A' | 'AAAA', string]> = [];
  if (type === 'A' || type === 'ANY') out.push(...first('names').map((ip): ['A', string] => ['A', ip]));
  if (type === 'AAAA' || type === 'ANY') out.push(...first('names6').map((ip): ['AAAA', string] => ['AAAA', ip]));
  return out;
}

/** Where a member's other queries go; never to an address the responder itself listens on (a loop). */
export function upstreamsFor(view: DnsView, net: NetworkView, client: string): string[] {
  const servers = net.clientServers.get(client) ?? (net.servers.length > 0 ? net.servers : view.hostServers);
  return servers.filter((s) => !view.byGateway.has(s));
}
