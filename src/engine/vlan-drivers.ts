/**
 * The macvlan and ipvlan drivers, as Docker, netavark and the CNI plugins have them: a container's
 * interface sits directly on a host link (the network's parent), with its own MAC (macvlan, in
 * bridge mode) or the parent's MAC (ipvlan, l2 or l3). No bridge, no NAT, no nsnet firewall rules:
 * the gateway is a router on the parent's LAN. Pure: options in, a LinkDriver out.
 */
import { NsnetError } from '../core/errors.js';
import type { IpvlanMode } from '../plan/steps.js';

export const PARENT_OPTION = 'parent';
export const IPVLAN_MODE_OPTION = 'ipvlan_mode';
/** Docker's macvlan_mode; nsnet offers bridge only (containers on one parent reach each other). */
export const MACVLAN_MODE_OPTION = 'macvlan_mode';
const IPVLAN_MODES: readonly IpvlanMode[] = ['l2', 'l3'];

/** How a network's containers are wired: into its bridge, or onto a parent link. */
export type LinkDriver =
  | { kind: 'bridge' }
  | {
      kind: 'macvlan' | 'ipvlan';
      /** The host link the containers' interfaces sit on. */
      parent: string;
      /** The parent is a dummy nsnet made for an --internal network (made and removed with it). */
      ownParent: boolean;
      /** ipvlan's mode (l2 for macvlan, where it means nothing). */
      mode: IpvlanMode;
    };

export const BRIDGE_DRIVER: LinkDriver = { kind: 'bridge' };

export const isParentDriver = (name: string | undefined): name is 'macvlan' | 'ipvlan' => name === 'macvlan' || name === 'ipvlan';

/** The options each parent driver understands (Docker's names). */
export const PARENT_DRIVER_OPTIONS: Readonly<Record<'macvlan' | 'ipvlan', readonly string[]>> = {
  macvlan: [PARENT_OPTION, MACVLAN_MODE_OPTION],
  ipvlan: [PARENT_OPTION, IPVLAN_MODE_OPTION],
};

/**
 * A network record's wiring. An internal network without a parent uses its own dummy link, named
 * like a bridge (`device`), as Docker does (its dm-ID).
 */
export function linkDriverOf(n: { driver?: string | undefined; options: Record<string, string>; bridge: string }): LinkDriver {
  if (!isParentDriver(n.driver)) return BRIDGE_DRIVER;
  const parent = n.options[PARENT_OPTION];
  const mode = n.options[IPVLAN_MODE_OPTION] === 'l3' ? 'l3' : 'l2';
  return { kind: n.driver, parent: parent ?? n.bridge, ownParent: parent === undefined, mode };
}

/**
 * Validate a macvlan/ipvlan network's options: `-o parent=IFACE` unless --internal (then a dummy
 * parent is made; an internal network with a real parent is refused, as its containers would
 * still be on the parent's LAN), the modes, and the parent's existence (`parentExists`).
 */
export function validateParentOptions(
  driver: 'macvlan' | 'ipvlan',
  options: Record<string, string>,
  internal: boolean,
  parentExists: (name: string) => boolean,
): void {
  const parent = options[PARENT_OPTION];
  if (parent === undefined && !internal) {
    throw new NsnetError('INVALID_VALUE', `a ${driver} network needs its parent interface: -o ${PARENT_OPTION}=IFACE`, {
      hint: `name the host link the containers sit on (e.g. -o ${PARENT_OPTION}=eth0), or make it --internal (a dummy parent, no way out)`,
    });
  }
  if (parent !== undefined && internal) {
    throw new NsnetError('INVALID_VALUE', `an --internal ${driver} network has no parent: -o ${PARENT_OPTION}=${parent} would put its containers on ${parent}'s LAN`, {
      hint: `leave out -o ${PARENT_OPTION} (nsnet makes a dummy parent, as Docker does), or leave out --internal`,
    });
  }
  if (parent === 'lo') throw new NsnetError('INVALID_VALUE', `the loopback interface is not a valid ${driver} parent`, { hint: 'name an Ethernet link' });
  const mode = options[IPVLAN_MODE_OPTION];
  if (mode !== undefined && !(IPVLAN_MODES as readonly string[]).includes(mode)) {
    throw new NsnetError('INVALID_VALUE', `invalid ${IPVLAN_MODE_OPTION} "${mode}": expected ${IPVLAN_MODES.join(' or ')}`);
  }
  const macvlanMode = options[MACVLAN_MODE_OPTION];
  if (macvlanMode !== undefined && macvlanMode !== 'bridge') {
    throw new NsnetError('INVALID_VALUE', `invalid ${MACVLAN_MODE_OPTION} "${macvlanMode}": nsnet supports bridge only`);
  }
  if (parent !== undefined && !parentExists(parent)) {
    throw new NsnetError('NOT_FOUND', `parent interface ${parent} of the ${driver} network does not exist on the host`, {
      hint: 'see ip link for the host\'s interfaces, and name one with -o parent=IFACE',
    });
  }
}
