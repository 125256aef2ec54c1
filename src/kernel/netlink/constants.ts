/** rtnetlink numbers from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>. */

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10; // errors carry only the request header, not the whole request
export const NETLINK_EXT_ACK = 11; // errors carry a text message ("Master device not found", ...)

// nlmsghdr.nlmsg_type, generic
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

// nlmsghdr.nlmsg_flags
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
// flags on NLMSG_ERROR replies
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

// rtnetlink message types
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19; // with AF_BRIDGE: a bridge port's settings (`bridge link set`)
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_BRIDGE = 7;

// net_device flags
export const IFF_UP = 0x1;

// IFLA_*
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
// A bridge port's settings: inside IFLA_PROTINFO of an AF_BRIDGE RTM_SETLINK (what `bridge link
// set` sends), and inside IFLA_LINKINFO's IFLA_INFO_SLAVE_DATA of every link dump.
export const IFLA_PROTINFO = 12;
export const IFLA_INFO_SLAVE_DATA = 5;
export const IFLA_BRPORT_MODE = 4; // u8: hairpin mode (a frame may leave by the port it came in)
export const IFLA_LINK = 5; // the lower device of a macvlan/ipvlan, by index in the socket's namespace
// <linux/if_link.h>: IFLA_MACVLAN_* and IFLA_IPVLAN_* inside IFLA_INFO_DATA
export const IFLA_MACVLAN_MODE = 1;
export const MACVLAN_MODE_BRIDGE = 4;
export const IFLA_IPVLAN_MODE = 1;
export const IPVLAN_MODE_L2 = 0;
export const IPVLAN_MODE_L3 = 1;

// IFA_*
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_BROADCAST = 4;
/** ifa_flags: IFA_F_NODAD, an IPv6 address usable at once, with no duplicate address detection. */
export const IFA_F_NODAD = 0x02;

// RTA_*
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;

/** Attribute flags carried in the top bits of rta_type. */
export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;

export const NLMSG_HDRLEN = 16;
export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;
export const RTMSG_LEN = 12;
