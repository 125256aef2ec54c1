/**
 * The lab file's JSON Schema (draft-07). schema/lab.schema.json is this object, written out
 * (a unit test keeps the two equal), so editors can validate lab files as nsnet does.
 */
const NAME = '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$';
const IPV4 = '^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$';
const CIDR = '^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$';
const scalar = { type: ['string', 'number', 'boolean'] };
/** IPv6 in any RFC 4291 spelling: the pattern only tells it from IPv4; nsnet parses it after. */
const IPV6 = '[0-9a-fA-F.]*:[0-9a-fA-F:.]*';
const IP = `^(${IPV4.slice(1, -1)}|${IPV6})$`;
const IP_CIDR = `^(${CIDR.slice(1, -1)}|${IPV6}/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$`;
/** A value per family: one, or a list of one IPv4 and one IPv6 (in either order). */
const perFamily = (pattern: string, description: string) => ({
  type: ['string', 'array'],
  pattern,
  minItems: 1,
  maxItems: 2,
  items: { type: 'string', pattern },
  description,
});
/** CONTAINER:IFACE: a container of the file, and an interface name as the kernel takes one. */
const ENDPOINT = '^[a-zA-Z0-9][a-zA-Z0-9_.-]*:[^/:\\s]{1,15}$';

export const LAB_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://nsnet.dev/schema/lab.schema.json',
  title: 'nsnet lab',
  description: 'A whole lab for `nsnet up -f FILE`: networks, and containers attached to them.',
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {
      description: "The lab's name (default: the file's directory name). Objects are named LAB-NAME and labelled nsnet.lab=LAB.",
      type: 'string',
      pattern: NAME,
      maxLength: 40,
    },
    networks: {
      description: 'Networks by name; each becomes the network LAB-NAME (a bridge).',
      type: 'object',
      propertyNames: { pattern: NAME, maxLength: 40 },
      additionalProperties: { $ref: '#/definitions/network' },
    },
    containers: {
      description: 'Containers by name; each becomes the container (and network namespace) LAB-NAME.',
      type: 'object',
      propertyNames: { pattern: NAME, maxLength: 40 },
      additionalProperties: { $ref: '#/definitions/container' },
    },
    links: {
      description: "Point-to-point links: a veth pair straight between two containers' namespaces, no bridge (nsnet link add)",
      type: 'array',
      items: { $ref: '#/definitions/link' },
    },
    partitions: {
      description: 'Partitions: traffic between groups of containers dropped (nsnet partition create); made by up, healed by down',
      type: 'array',
      items: { $ref: '#/definitions/partition' },
    },
  },
  definitions: {
    partition: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'between', 'and'],
      properties: {
        name: { type: 'string', pattern: NAME, maxLength: 40, description: 'the partition is named LAB-NAME' },
        between: { type: 'array', minItems: 1, items: { type: 'string', pattern: NAME }, description: 'the first group: containers of this file' },
        and: {
          type: 'array',
          minItems: 1,
          items: { anyOf: [{ type: 'string', pattern: NAME }, { type: 'array', minItems: 1, items: { type: 'string', pattern: NAME } }] },
          description: 'the other group (a list of containers), or several groups (a list of lists)',
        },
        one_way: { type: 'boolean', description: 'drop only what the first group sends to the others (their packets still reach it; its answers do not get back)' },
      },
    },
    link: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoints'],
      properties: {
        endpoints: {
          type: 'array',
          minItems: 2,
          maxItems: 2,
          items: { type: 'string', pattern: ENDPOINT },
          description: 'the two ends as CONTAINER:IFACE (containers of this file; IFACE the interface name inside, e.g. eth1)',
        },
        ips: {
          type: 'array',
          minItems: 2,
          maxItems: 2,
          items: { type: 'string', pattern: '^[0-9a-fA-F.:]+/[0-9]{1,3}$' },
          description: "the two ends' addresses with their prefix, in the order of endpoints, e.g. [10.0.12.1/30, 10.0.12.2/30] (or a /31 pair, or IPv6)",
        },
        netem: {
          description: 'impairment of the link: one for both ends (each impairs what it sends), or two in the order of endpoints (null for none)',
          anyOf: [
            { $ref: '#/definitions/netem' },
            { type: 'array', minItems: 2, maxItems: 2, items: { anyOf: [{ $ref: '#/definitions/netem' }, { type: 'null' }] } },
          ],
        },
      },
    },
    network: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        subnet: perFamily(IP_CIDR, 'e.g. 10.0.0.0/24, or one per family: [10.40.1.0/24, 2001:db8:41::/64] (default: the first free one of the pool, and a unique local /64 with ipv6: true)'),
        gateway: perFamily(IP, 'set on the bridge (default: the first host of the subnet); one per family for two subnets'),
        ip_range: perFamily(IP_CIDR, 'allocate container addresses from this sub-range only; one per family for two subnets'),
        ipv6: { type: 'boolean', description: 'IPv6 too (implied by an IPv6 subnet): a unique local /64 (fdXX::/64) when no IPv6 subnet is given' },
        ipv4: { type: 'boolean', description: 'false: IPv6 only (needs IPv6); default true' },
        internal: { type: 'boolean', description: 'no route or NAT to the outside world' },
        options: {
          type: 'object',
          description: 'driver options, as `network create -o` takes them',
          additionalProperties: scalar,
        },
        labels: {
          type: 'object',
          description: 'labels of the network (nsnet.lab* are reserved)',
          propertyNames: { not: { pattern: '^nsnet\\.lab' } },
          additionalProperties: scalar,
        },
      },
    },
    attachment: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        ip: { type: 'string', pattern: IPV4, description: 'static address on this network' },
        ip6: { type: 'string', pattern: `^${IPV6}$`, description: 'static IPv6 address on this network (it needs an IPv6 subnet)' },
        aliases: { type: 'array', items: { type: 'string', pattern: NAME }, description: 'more DNS names of the container on this network only (as network connect --alias); its name in the file is one on every network' },
        netem: { $ref: '#/definitions/netem' },
      },
    },
    netem: {
      type: 'object',
      additionalProperties: false,
      description: "the interface's impairment, as nsnet netem set takes it: changing it changes only the qdisc, the container keeps running",
      properties: {
        delay: { type: ['string', 'number'], description: 'added delay, e.g. 40ms (us, ms, s; a bare number is microseconds)' },
        jitter: { type: ['string', 'number'], description: 'random variation of the delay, e.g. 5ms (needs delay)' },
        loss: { type: ['string', 'number'], description: 'random packet loss, e.g. 2%' },
        rate: { type: ['string', 'number'], description: 'rate limit, e.g. 10mbit (a bare number is bits per second)' },
        duplicate: { type: ['string', 'number'], description: 'random packet duplication, e.g. 1%' },
        corrupt: { type: ['string', 'number'], description: 'random corruption, e.g. 0.1%' },
        reorder: { type: ['string', 'number'], description: 'packets sent ahead of delayed ones, e.g. 25% (needs delay)' },
      },
    },
    container: {
      type: 'object',
      additionalProperties: false,
      required: ['command', 'networks'],
      properties: {
        command: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'argv of the process, e.g. [sleep, infinity]' },
        networks: {
          description: 'networks of the lab, in interface order (eth0, eth1, ...): a list of names, or a map of name to {ip, ip6, aliases}',
          type: ['array', 'object'],
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', pattern: NAME },
          minProperties: 1,
          additionalProperties: { $ref: '#/definitions/attachment' },
        },
        hostname: { type: 'string', pattern: '^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$', description: 'default: the container name in the file' },
        env: { type: 'object', additionalProperties: scalar },
        ports: { type: 'array', items: { type: ['string', 'integer'] }, description: 'published ports, as run -p takes them' },
        rootfs: { type: 'string', minLength: 1, description: 'root filesystem directory to chroot into' },
        cap_add: {
          type: 'array',
          items: { type: 'string' },
          description: "Linux capabilities added to Docker's default set, as run --cap-add takes them (e.g. NET_ADMIN for a router that runs a routing daemon, or ALL)",
        },
        cap_drop: { type: 'array', items: { type: 'string' }, description: "Linux capabilities dropped from Docker's default set, as run --cap-drop takes them" },
        privileged: { type: 'boolean', description: 'every capability and no no_new_privs, as run --privileged (root on the host)' },
        sysctls: {
          type: 'object',
          description: "sysctls of the container's network namespace, e.g. net.ipv4.ip_forward: 1 for a router",
          propertyNames: { pattern: '^net\\.[A-Za-z0-9_./-]+$' },
          additionalProperties: scalar,
        },
        routes: {
          type: 'array',
          description: 'routes added in the container after its networks: to a CIDR (or default) via a gateway on one of them, IPv4 or IPv6',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['to', 'via'],
            properties: {
              to: { type: 'string', anyOf: [{ pattern: IP_CIDR }, { const: 'default' }] },
              via: { type: 'string', pattern: IP },
            },
          },
        },
      },
    },
  },
} as const;
