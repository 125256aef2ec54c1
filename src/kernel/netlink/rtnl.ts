/**
 * The Rtnl interface of ../api.ts over a raw NETLINK_ROUTE socket: the same requests iproute2's
 * `ip link`, `ip addr` and `ip route` send, one round trip each.
 */
import type { AddrInfo, LinkInfo, LowerLinkOpts, QdiscFacts, RouteInfo, Rtnl, VethOpts } from '../api.js';
import { invalid, KernelError, NsnetError } from '../../core/errors.js';
import { qdiscCommand, qdiscParts, type Netem } from '../../core/netem.js';
import { ENODEV, ENOENT } from '../libc.js';
import { ipToBytes, ipv4Broadcast, isV6, macToBytes } from './addr.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_F_NODAD,
  IFA_LOCAL,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_BRPORT_MODE,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_IPVLAN_MODE,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MACVLAN_MODE,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_PROTINFO,
  IPVLAN_MODE_L2,
  IPVLAN_MODE_L3,
  MACVLAN_MODE_BRIDGE,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_ECHO,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_SETLINK,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTPROT_BOOT,
  VETH_INFO_PEER,
} from './constants.js';
import { ifinfomsgBytes, MessageBuilder } from './message.js';
import { parseAddr, parseLink, parseRoute } from './parse.js';
import { NetlinkSocket, type RequestContext } from './socket.js';
import { addQdiscMessage, delRootQdiscMessage, dumpQdiscsMessage, impairmentOf, parseQdisc, pschedClock, RTM_NEWQDISC } from './qdisc.js';

const CHANGE = NLM_F_REQUEST | NLM_F_ACK;
const CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const DUMP = NLM_F_REQUEST | NLM_F_DUMP;

const BRIDGE_DEFAULT_MTU = 1500;

/**
 * Interface names are at most IFNAMSIZ-1 = 15 bytes; the kernel rejects longer ones in attribute
 * validation with a bare ERANGE, so say it plainly instead.
 */
function checkIfName(name: string): void {
  const len = Buffer.byteLength(name, 'utf8');
  if (len === 0 || len > 15 || /[\s/:\0]/.test(name) || name === '.' || name === '..') {
    throw invalid(`invalid interface name ${JSON.stringify(name)}: 1-15 bytes, no spaces, '/' or ':'`);
  }
}

const familyCode = (f: 4 | 6 | undefined): number => (f === undefined ? AF_UNSPEC : f === 6 ? AF_INET6 : AF_INET);

export interface RouteOpts {
  dst?: string;
  dstLen?: number;
  gateway?: string;
  oif?: number;
}


export class RtnlSocket implements Rtnl {
  private readonly sock: NetlinkSocket;
  /** `ip` or `ip -n NAME`, for by-hand commands in errors. */
  private readonly ip: string;

  constructor(netnsName?: string) {
    this.sock = new NetlinkSocket();
    this.ip = netnsName === undefined ? 'ip' : `ip -n ${netnsName}`;
  }

  close(): void {
    this.sock.close();
  }

  private req(msg: MessageBuilder, what: string, command: RequestContext['command']) {
    return this.sock.request(msg, { what, command });
  }

  /** Interface name for an index, for error messages; falls back to "ifindex N". */
  private nameOf(index: number): string {
    try {
      const msg = new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST).ifinfomsg({ index });
      const [reply] = this.req(msg, `get link ${index}`, '');
      if (reply !== undefined) return parseLink(reply.payload).name;
    } catch {
      /* fall through */
    }
    return `ifindex ${index}`;
  }

  // ---------------------------------------------------------------------------------------------
  // queries

  listLinks(): LinkInfo[] {
    const msg = new MessageBuilder(RTM_GETLINK, DUMP).ifinfomsg({ family: AF_UNSPEC });
    return this.req(msg, 'list links', `${this.ip} link show`)
      .filter((m) => m.type === RTM_NEWLINK)
      .map((m) => parseLink(m.payload));
  }

  getLink(name: string): LinkInfo | undefined {
    checkIfName(name);
    const msg = new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST).ifinfomsg().str(IFLA_IFNAME, name);
    try {
      const [reply] = this.req(msg, `get link ${name}`, `${this.ip} link show ${name}`);
      return reply === undefined ? undefined : parseLink(reply.payload);
    } catch (err) {
      if (err instanceof KernelError && err.errno === ENODEV) return undefined;
      throw err;
    }
  }

  listAddrs(family?: 4 | 6): AddrInfo[] {
    const msg = new MessageBuilder(RTM_GETADDR, DUMP).ifaddrmsg({ family: familyCode(family) });
    return this.req(msg, 'list addresses', `${this.ip} addr show`)
      .filter((m) => m.type === RTM_NEWADDR)
      .map((m) => parseAddr(m.payload))
      .filter((a) => family === undefined || a.family === family);
  }

  listRoutes(family?: 4 | 6): RouteInfo[] {
    const msg = new MessageBuilder(RTM_GETROUTE, DUMP).rtmsg({ family: familyCode(family) });
    const raw = this.req(msg, 'list routes', `${this.ip} route show`)
      .filter((m) => m.type === RTM_NEWROUTE)
      .filter((m) => {
        const fam = m.payload.readUInt8(0);
        return fam === AF_INET || fam === AF_INET6; // an AF_UNSPEC dump also returns MPLS etc.
      })
      .map((m) => parseRoute(m.payload))
      .filter((r) => r.table === RT_TABLE_MAIN && (family === undefined || r.family === family));
    return raw.map(({ family: f, dst, dstLen, gateway, oif, table }) => ({ family: f, dst, dstLen, gateway, oif, table }));
  }

  // ---------------------------------------------------------------------------------------------
  // links

  /**
   * The new link's index: taken from the NLM_F_ECHO copy of the new link when the kernel sends one
   * (rtnl_newlink honours ECHO since Linux 6.3), else looked up by name.
   */
  private createdIndex(replies: { type: number; payload: Buffer }[], name: string): number {
    for (const m of replies) {
      if (m.type !== RTM_NEWLINK) continue;
      const l = parseLink(m.payload);
      if (l.name === name) return l.index;
    }
    const l = this.getLink(name);
    if (l === undefined) throw new KernelError(`created link ${name} vanished`, ENODEV, 'ENODEV', `${this.ip} link show ${name}`);
    return l.index;
  }

  createBridge(opts: { name: string; mtu?: number; mac?: string; up?: boolean }): number {
    checkIfName(opts.name);
    const up = opts.up === true ? IFF_UP : 0;
    const msg = new MessageBuilder(RTM_NEWLINK, CREATE | NLM_F_ECHO)
      .ifinfomsg({ flags: up, change: up })
      .str(IFLA_IFNAME, opts.name);
    // No IFLA_MTU here: an MTU given at creation is written straight into the device without
    // marking it "set by user", so the bridge still auto-adjusts to the smallest port MTU and the
    // first port with a larger MTU silently raises it (measured on 6.18). Setting it afterwards via
    // dev_set_mtu (br_change_mtu) pins it. A new bridge starts at 1500, and setting the MTU it
    // already has is a no-op that pins nothing, so 1500 stays auto-adjusting — harmless while all
    // ports are created with the network's MTU.
    // A bridge normally takes the lowest MAC of its ports and changes it as ports come and go
    // (br_stp_recalculate_bridge_id). An address given at creation marks it NET_ADDR_SET and the
    // bridge keeps it for good, so the gateway MAC the containers learned never goes stale.
    if (opts.mac !== undefined) msg.attr(IFLA_ADDRESS, macToBytes(opts.mac));
    msg.begin(IFLA_LINKINFO).str(IFLA_INFO_KIND, 'bridge').end();
    const cmd = [
      `${this.ip} link add ${opts.name}`,
      opts.mtu !== undefined ? ` mtu ${opts.mtu}` : '',
      opts.mac !== undefined ? ` address ${opts.mac}` : '',
      opts.up === true ? ' up' : '',
      ' type bridge',
    ].join('');
    const replies = this.req(msg, `create bridge ${opts.name}`, cmd);
    const index = this.createdIndex(replies, opts.name);
    if (opts.mtu !== undefined && opts.mtu !== BRIDGE_DEFAULT_MTU) {
      try {
        this.setMtu(index, opts.mtu);
      } catch (err) {
        this.deleteLink(opts.name); // do not leave a half-configured bridge behind
        throw err;
      }
    }
    return index;
  }

  createVeth(opts: VethOpts): number {
    checkIfName(opts.hostName);
    checkIfName(opts.peerName);
    const up = opts.up === true ? IFF_UP : 0;
    const msg = new MessageBuilder(RTM_NEWLINK, CREATE | NLM_F_ECHO)
      .ifinfomsg({ flags: up, change: up })
      .str(IFLA_IFNAME, opts.hostName);
    if (opts.mtu !== undefined) msg.u32(IFLA_MTU, opts.mtu);
    if (opts.hostMac !== undefined) msg.attr(IFLA_ADDRESS, macToBytes(opts.hostMac));
    if (opts.netnsFd !== undefined) msg.u32(IFLA_NET_NS_FD, opts.netnsFd);
    // Enslaving and IFF_UP are applied by rtnl_newlink right after the device registers, in the
    // same request, so the host end is never visible half-configured.
    if (opts.masterIndex !== undefined) msg.u32(IFLA_MASTER, opts.masterIndex);
    msg.begin(IFLA_LINKINFO).str(IFLA_INFO_KIND, 'veth').begin(IFLA_INFO_DATA);
    // VETH_INFO_PEER's payload is a whole ifinfomsg followed by the peer's own IFLA_* attributes.
    // The peer is created directly in the namespace behind IFLA_NET_NS_FD; it does not inherit
    // the MTU, so that is given again. The peer cannot be brought up in this request: IFF_UP in
    // the peer's ifinfomsg is applied before the two ends are linked and veth_open fails with
    // ENOTCONN; bring it up afterwards from a socket in its namespace.
    msg.begin(VETH_INFO_PEER).raw(ifinfomsgBytes());
    msg.str(IFLA_IFNAME, opts.peerName).u32(IFLA_NET_NS_FD, opts.peerNetnsFd);
    if (opts.mtu !== undefined) msg.u32(IFLA_MTU, opts.mtu);
    if (opts.peerMac !== undefined) msg.attr(IFLA_ADDRESS, macToBytes(opts.peerMac));
    msg.end().end().end();
    const cmd = (): string =>
      [
        `${this.ip} link add ${opts.hostName}`,
        opts.mtu !== undefined ? ` mtu ${opts.mtu}` : '',
        opts.hostMac !== undefined ? ` address ${opts.hostMac}` : '',
        opts.masterIndex !== undefined ? ` master ${this.nameOf(opts.masterIndex)}` : '',
        opts.up === true ? ' up' : '',
        opts.netnsFd !== undefined ? ` netns ${opts.netnsName ?? `/proc/self/fd/${opts.netnsFd}`}` : '',
        ` type veth peer name ${opts.peerName}`,
        ` netns ${opts.peerNetnsName ?? `/proc/self/fd/${opts.peerNetnsFd}`}`,
        opts.mtu !== undefined ? ` mtu ${opts.mtu}` : '',
        opts.peerMac !== undefined ? ` address ${opts.peerMac}` : '',
      ].join('');
    const replies = this.req(msg, `create veth pair ${opts.hostName}/${opts.peerName}`, cmd);
    // An end made in another namespace has an index there, not in this socket's.
    return opts.netnsFd === undefined ? this.createdIndex(replies, opts.hostName) : 0;
  }

  createLowerLink(opts: LowerLinkOpts): void {
    checkIfName(opts.name);
    const msg = new MessageBuilder(RTM_NEWLINK, CREATE).ifinfomsg().str(IFLA_IFNAME, opts.name);
    // The lower device is looked up by index in this socket's namespace (the host), while
    // IFLA_NET_NS_FD makes the new device directly inside the container's namespace: the same
    // request as `ip link add link eth0 name eth0 netns red type macvlan`, with no moment in which
    // the device sits in the host under a name that could clash.
    if (opts.lowerIndex !== undefined) msg.u32(IFLA_LINK, opts.lowerIndex);
    if (opts.netnsFd !== undefined) msg.u32(IFLA_NET_NS_FD, opts.netnsFd);
    if (opts.mtu !== undefined) msg.u32(IFLA_MTU, opts.mtu);
    // An ipvlan always carries its parent's MAC; only a macvlan (or a dummy) takes its own.
    if (opts.mac !== undefined && opts.kind !== 'ipvlan') msg.attr(IFLA_ADDRESS, macToBytes(opts.mac));
    msg.begin(IFLA_LINKINFO).str(IFLA_INFO_KIND, opts.kind);
    if (opts.kind === 'macvlan') msg.begin(IFLA_INFO_DATA).u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE).end();
    if (opts.kind === 'ipvlan') {
      // IFLA_IPVLAN_MODE is a u16 in the kernel's policy.
      const mode = Buffer.alloc(2);
      mode.writeUInt16LE(opts.ipvlanMode === 'l3' ? IPVLAN_MODE_L3 : IPVLAN_MODE_L2);
      msg.begin(IFLA_INFO_DATA).attr(IFLA_IPVLAN_MODE, mode).end();
    }
    msg.end();
    const mode = opts.kind === 'macvlan' ? ' mode bridge' : opts.kind === 'ipvlan' ? ` mode ${opts.ipvlanMode ?? 'l2'}` : '';
    const cmd = [
      `${this.ip} link add`,
      opts.lowerName !== undefined ? ` link ${opts.lowerName}` : '',
      ` name ${opts.name}`,
      opts.netnsName !== undefined ? ` netns ${opts.netnsName}` : '',
      opts.mtu !== undefined ? ` mtu ${opts.mtu}` : '',
      opts.mac !== undefined && opts.kind !== 'ipvlan' ? ` address ${opts.mac}` : '',
      ` type ${opts.kind}${mode}`,
    ].join('');
    this.req(msg, `create ${opts.kind} ${opts.name}`, cmd);
  }

  setLinkUp(index: number, up: boolean): void {
    const msg = new MessageBuilder(RTM_NEWLINK, CHANGE).ifinfomsg({ index, flags: up ? IFF_UP : 0, change: IFF_UP });
    this.req(msg, `set link ${index} ${up ? 'up' : 'down'}`, () => `${this.ip} link set dev ${this.nameOf(index)} ${up ? 'up' : 'down'}`);
  }

  setMaster(index: number, masterIndex: number | 0): void {
    const msg = new MessageBuilder(RTM_NEWLINK, CHANGE).ifinfomsg({ index }).u32(IFLA_MASTER, masterIndex);
    this.req(msg, `set master of link ${index}`, () =>
      masterIndex === 0
        ? `${this.ip} link set dev ${this.nameOf(index)} nomaster`
        : `${this.ip} link set dev ${this.nameOf(index)} master ${this.nameOf(masterIndex)}`,
    );
  }

  setMtu(index: number, mtu: number): void {
    const msg = new MessageBuilder(RTM_NEWLINK, CHANGE).ifinfomsg({ index }).u32(IFLA_MTU, mtu);
    this.req(msg, `set mtu of link ${index}`, () => `${this.ip} link set dev ${this.nameOf(index)} mtu ${mtu}`);
  }

  setHairpin(index: number, on: boolean): void {
    // What `bridge link set` sends: the port's settings nested in IFLA_PROTINFO of an AF_BRIDGE
    // RTM_SETLINK (without NLA_F_NESTED the kernel reads the attribute as an old STP state byte).
    const msg = new MessageBuilder(RTM_SETLINK, CHANGE)
      .ifinfomsg({ family: AF_BRIDGE, index })
      .begin(IFLA_PROTINFO, true)
      .attr(IFLA_BRPORT_MODE, Buffer.from([on ? 1 : 0]))
      .end();
    this.req(msg, `set hairpin of link ${index}`, () => `${this.ip.replace(/^ip/, 'bridge')} link set dev ${this.nameOf(index)} hairpin ${on ? 'on' : 'off'}`);
  }

  deleteLink(name: string): void {
    checkIfName(name);
    // Deleting one end of a veth pair deletes both, wherever the other end lives.
    const msg = new MessageBuilder(RTM_DELLINK, CHANGE).ifinfomsg().str(IFLA_IFNAME, name);
    try {
      this.req(msg, `delete link ${name}`, `${this.ip} link del ${name}`);
    } catch (err) {
      if (err instanceof KernelError && err.errno === ENODEV) return;
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // addresses

  private addrMsg(type: number, flags: number, index: number, address: string, prefixLen: number, withBroadcast: boolean, nodad = false) {
    const v6 = isV6(address);
    const bytes = ipToBytes(address);
    const msg = new MessageBuilder(type, flags)
      .ifaddrmsg({ family: v6 ? AF_INET6 : AF_INET, prefixLen, flags: v6 && nodad ? IFA_F_NODAD : 0, scope: RT_SCOPE_UNIVERSE, index })
      .attr(IFA_LOCAL, bytes)
      .attr(IFA_ADDRESS, bytes);
    if (!v6 && withBroadcast) {
      const brd = ipv4Broadcast(address, prefixLen);
      if (brd !== undefined) msg.attr(IFA_BROADCAST, brd);
    }
    return msg;
  }

  /** `nodad`: an IPv6 address is usable at once instead of "tentative" for a second (ip's nodad). */
  addAddr(index: number, address: string, prefixLen: number, opts: { nodad?: boolean } = {}): void {
    const msg = this.addrMsg(RTM_NEWADDR, CREATE, index, address, prefixLen, true, opts.nodad === true);
    const brd = isV6(address) ? '' : ' broadcast +';
    const nodad = isV6(address) && opts.nodad === true ? ' nodad' : '';
    this.req(msg, `add address ${address}/${prefixLen} to link ${index}`, () =>
      `${this.ip} addr add ${address}/${prefixLen}${brd} dev ${this.nameOf(index)}${nodad}`,
    );
  }

  delAddr(index: number, address: string, prefixLen: number): void {
    const msg = this.addrMsg(RTM_DELADDR, CHANGE, index, address, prefixLen, false);
    this.req(msg, `delete address ${address}/${prefixLen} from link ${index}`, () =>
      `${this.ip} addr del ${address}/${prefixLen} dev ${this.nameOf(index)}`,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // routes

  private routeMsg(type: number, flags: number, opts: RouteOpts, del: boolean): MessageBuilder {
    const v6 = [opts.dst, opts.gateway].some((a) => a !== undefined && isV6(a));
    const dstLen = opts.dst === undefined ? 0 : (opts.dstLen ?? (v6 ? 128 : 32));
    const msg = new MessageBuilder(type, flags).rtmsg({
      family: v6 ? AF_INET6 : AF_INET,
      dstLen,
      table: RT_TABLE_MAIN,
      // A delete with scope NOWHERE, protocol 0 and type 0 matches any route with this
      // destination/gateway/device, as `ip route del` does.
      protocol: del ? 0 : RTPROT_BOOT,
      scope: del ? RT_SCOPE_NOWHERE : opts.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
      type: del ? 0 : RTN_UNICAST,
    });
    if (opts.dst !== undefined) msg.attr(RTA_DST, ipToBytes(opts.dst));
    if (opts.gateway !== undefined) msg.attr(RTA_GATEWAY, ipToBytes(opts.gateway));
    if (opts.oif !== undefined) msg.u32(RTA_OIF, opts.oif);
    return msg;
  }

  private routeCommand(verb: string, opts: RouteOpts): string {
    const dst = opts.dst === undefined ? 'default' : `${opts.dst}/${opts.dstLen ?? (isV6(opts.dst) ? 128 : 32)}`;
    const via = opts.gateway === undefined ? '' : ` via ${opts.gateway}`;
    const dev = opts.oif === undefined ? '' : ` dev ${this.nameOf(opts.oif)}`;
    return `${this.ip} route ${verb} ${dst}${via}${dev}`;
  }

  addRoute(opts: RouteOpts): void {
    const msg = this.routeMsg(RTM_NEWROUTE, CREATE, opts, false);
    this.req(msg, `add route ${opts.dst ?? 'default'}`, () => this.routeCommand('add', opts));
  }

  // ---------------------------------------------------------------------------------------------
  // traffic control

  /**
   * An impairment on a link (see kernel/netlink/qdisc.ts for the messages). When the link's root
   * qdiscs are already of the kinds the new impairment needs (a changed delay, a changed rate),
   * their parameters are changed in place: one request each, no moment without an impairment, and
   * no graft, which waits for an RCU grace period. Otherwise (and when a change is refused: qdiscs
   * of the same kinds made by someone else, under other handles) the root qdisc is deleted
   * (nothing to delete is fine: a veth's default, noqueue, has no handle and answers ENOENT) and
   * the new ones are added, root first. netem's change keeps any setting a request leaves out, so
   * its requests always carry every setting nsnet makes (reorder and corrupt too, as zeros).
   */
  setImpairment(index: number, netem: Netem, dev: string): void {
    const tc = `${this.ip === 'ip' ? '' : `ip netns exec ${this.ip.slice('ip -n '.length)} `}tc qdisc`;
    const clock = pschedClock();
    const parts = qdiscParts(netem);
    if (parts.length > 0 && this.getImpairment(index).kinds.join() === parts.map((p) => p.kind).join()) {
      try {
        for (const part of parts) this.req(addQdiscMessage(CHANGE, index, part, netem, clock), `change the ${part.kind} qdisc of ${dev}`, `${tc} ${qdiscCommand('change', dev, part, netem)}`);
        return;
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
      }
    }
    try {
      this.req(delRootQdiscMessage(CHANGE, index), `delete the root qdisc of ${dev}`, `${tc} del dev ${dev} root`);
    } catch (err) {
      if (!(err instanceof KernelError && err.errno === ENOENT)) throw err;
    }
    for (const part of parts) {
      try {
        this.req(addQdiscMessage(CREATE, index, part, netem, clock), `add a ${part.kind} qdisc to ${dev}`, `${tc} ${qdiscCommand('add', dev, part, netem)}`);
      } catch (err) {
        // "Specified qdisc kind is unknown": the kernel was built without it (and has no module for it).
        if (err instanceof KernelError && err.errno === ENOENT) {
          const option = part.kind === 'netem' ? 'CONFIG_NET_SCH_NETEM' : 'CONFIG_NET_SCH_TBF';
          throw new NsnetError('KERNEL', `${err.message}: this kernel has no ${part.kind} qdisc`, {
            hint: `load it (modprobe sch_${part.kind}) or use a kernel built with ${option}${part.kind === 'netem' ? '; a rate alone (--rate) needs only tbf' : ''}`,
            cause: err,
          });
        }
        throw err;
      }
    }
  }

  getImpairment(index: number): QdiscFacts {
    const replies = this.req(dumpQdiscsMessage(DUMP), 'list qdiscs', `${this.ip === 'ip' ? '' : `ip netns exec ${this.ip.slice('ip -n '.length)} `}tc qdisc show`);
    return impairmentOf(replies.filter((m) => m.type === RTM_NEWQDISC).map((m) => parseQdisc(m.payload)), index, pschedClock());
  }

  delRoute(opts: RouteOpts): void {
    const msg = this.routeMsg(RTM_DELROUTE, CHANGE, opts, true);
    this.req(msg, `delete route ${opts.dst ?? 'default'}`, () => this.routeCommand('del', opts));
  }
}

/**
 * A netlink route socket in the network namespace of the calling thread. `netnsName` only labels
 * by-hand commands in errors (`ip -n NAME ...`).
 */
export function openRtnl(netnsName?: string): RtnlSocket {
  return new RtnlSocket(netnsName);
}
