/**
 * The network and container the plan-level unit tests share: the article's "study" network
 * (IPv4 only, gateway .254) and red on it. A test that needs a variant spreads it
 * (`{ ...STUDY, icc: false }`) instead of writing the whole spec again.
 */
import type { EndpointSpec, NetworkSpec } from '../../src/engine/plans.js';

export const STUDY: NetworkSpec = {
  id: 'a'.repeat(64),
  name: 'study',
  bridge: 'br-study',
  subnet: '10.0.0.0/24',
  internal: false,
  gateway: '10.0.0.254',
  prefixLen: 24,
  subnet6: null,
  gateway6: null,
  prefixLen6: null,
  bridgeMac: '02:aa:bb:cc:dd:ee',
  mtu: undefined,
  icc: true,
  masquerade: true,
  antiSpoofing: true,
};

/** red on `network` (STUDY unless given). */
export const redOn = (network: NetworkSpec = STUDY): EndpointSpec => ({ network, hostIf: 'nsv000000000001', ifName: 'eth0', ip: '10.0.0.1', ip6: null, mac: '02:42:0a:00:00:01' });
