/**
 * Schema migrations, keyed by PRAGMA user_version: migration i brings a database from
 * version i to i+1. Append only; never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bridge TEXT NOT NULL UNIQUE,
    subnet TEXT NOT NULL,
    gateway TEXT NOT NULL,
    ip_range TEXT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    mtu INTEGER NULL,
    options TEXT NOT NULL DEFAULT '{}',
    labels TEXT NOT NULL DEFAULT '{}',
    is_default INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    ipam_cursor INTEGER NULL
  );
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT '[]',
    env TEXT NOT NULL DEFAULT '{}',
    rootfs TEXT NULL,
    detached INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('created', 'running', 'exited')),
    pid INTEGER NULL,
    pid_start TEXT NULL,
    exit_code INTEGER NULL,
    log_path TEXT NOT NULL,
    created TEXT NOT NULL,
    started_at TEXT NULL,
    finished_at TEXT NULL,
    netns TEXT NOT NULL
  );
  CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    if_name TEXT NOT NULL,
    host_if TEXT NOT NULL UNIQUE,
    ip TEXT NOT NULL,
    ip_int INTEGER NOT NULL,
    mac TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (network_id, ip_int),
    UNIQUE (container_id, if_name),
    UNIQUE (container_id, network_id)
  );
  CREATE INDEX endpoints_network ON endpoints(network_id);
  CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    op TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL
  );
  `,
  // 2: host-wide settings that later commands must not change behind the user's back
  // (the firewall driver in use).
  `
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 3: published ports; they belong to the endpoint that carries them, so they go with a
  // network disconnect as well as with the container.
  `
  CREATE TABLE ports (
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    host_ip TEXT NULL,
    host_port INTEGER NOT NULL,
    container_port INTEGER NOT NULL,
    proto TEXT NOT NULL CHECK (proto IN ('tcp', 'udp', 'sctp')),
    PRIMARY KEY (endpoint_id, proto, container_port, host_port)
  );
  CREATE INDEX ports_host ON ports(proto, host_port);
  `,
  // 4: a container's name-resolution settings (--dns, --dns-search, --dns-option, --add-host,
  // --network-alias), JSON arrays; they go with the container.
  `
  CREATE TABLE container_dns (
    container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
    servers TEXT NOT NULL DEFAULT '[]',
    search TEXT NOT NULL DEFAULT '[]',
    options TEXT NOT NULL DEFAULT '[]',
    extra_hosts TEXT NOT NULL DEFAULT '[]',
    aliases TEXT NOT NULL DEFAULT '[]'
  );
  `,
  // 5: containers a runtime attached through CNI: the runtime's container id (one record per
  // runtime container, whatever the number of networks) and which runtime it was.
  `
  ALTER TABLE containers ADD COLUMN cni_container_id TEXT NULL;
  ALTER TABLE containers ADD COLUMN runtime TEXT NULL;
  CREATE UNIQUE INDEX containers_cni ON containers(cni_container_id) WHERE cni_container_id IS NOT NULL;
  `,
  // 6: a container's capabilities as run --cap-add/--cap-drop/--privileged gave them (JSON arrays
  // of normalised names); kept for start and exec, shown by inspect.
  `
  ALTER TABLE containers ADD COLUMN cap_add TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE containers ADD COLUMN cap_drop TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE containers ADD COLUMN privileged INTEGER NOT NULL DEFAULT 0;
  `,
  // 7: Docker's run and network create flags: a container's --sysctl (JSON object), --expose
  // (JSON array of "PORT/PROTO") and -P; an endpoint's own aliases (network connect --alias,
  // --link), JSON array; a network's --aux-address (JSON object name → address), --attachable
  // and -d driver.
  `
  ALTER TABLE containers ADD COLUMN sysctls TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE containers ADD COLUMN exposed_ports TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE containers ADD COLUMN publish_all INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE endpoints ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE networks ADD COLUMN aux_addresses TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE networks ADD COLUMN attachable INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE networks ADD COLUMN driver TEXT NOT NULL DEFAULT 'bridge';
  `,
  // 8: the address the user asked for on an endpoint (run --ip, network connect --ip), null when
  // IPAM chose it: Docker's IPAMConfig.IPv4Address in inspect.
  `
  ALTER TABLE endpoints ADD COLUMN requested_ip TEXT NULL;
  `,
  // 9: a container's Docker network mode when it is not on nsnet's networks: 'host' (the host's
  // namespace), 'none' (a namespace with only lo) or 'container:<id>' (another container's
  // namespace, joined); NULL for a container on nsnet's networks (its endpoints say which).
  `
  ALTER TABLE containers ADD COLUMN network_mode TEXT NULL;
  `,
  // 10: run --link NAME[:ALIAS], JSON array of {name, alias}: the alias resolves to the linked
  // container on the default network (the responder's view, dns/load.ts).
  `
  ALTER TABLE containers ADD COLUMN links TEXT NOT NULL DEFAULT '[]';
  `,
  // 11: run -p as the user gave it (JSON array of the specs): Docker's HostConfig.PortBindings,
  // which keeps "" for a host port or address nsnet chose. NULL for containers made before.
  `
  ALTER TABLE containers ADD COLUMN publish_specs TEXT NULL;
  `,
  // 12: what nsnet set on a container's interface (bridge-attached or point-to-point) besides its
  // addresses: an impairment (netem set; JSON of core/netem.ts Netem) and the link held down (link
  // down). Keyed by the interface's name in the container; goes with the container.
  `
  CREATE TABLE interface_state (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    if_name TEXT NOT NULL,
    netem TEXT NULL,
    link_down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (container_id, if_name)
  );
  `,
  // 13: IPv6. A network has an IPv4 subnet, an IPv6 subnet or both (Docker's --ipv4=false, --ipv6),
  // so networks.subnet/gateway and endpoints.ip/ip_int become nullable: SQLite cannot drop a
  // NOT NULL, so both tables are rebuilt (openStore turns foreign keys off around a migration and
  // checks them after). IPv6 cursors are decimal text: 128-bit integers do not fit SQLite's.
  `
  CREATE TABLE networks_v12 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bridge TEXT NOT NULL UNIQUE,
    subnet TEXT NULL,
    gateway TEXT NULL,
    ip_range TEXT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    mtu INTEGER NULL,
    options TEXT NOT NULL DEFAULT '{}',
    labels TEXT NOT NULL DEFAULT '{}',
    is_default INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    ipam_cursor INTEGER NULL,
    aux_addresses TEXT NOT NULL DEFAULT '{}',
    attachable INTEGER NOT NULL DEFAULT 0,
    driver TEXT NOT NULL DEFAULT 'bridge',
    subnet6 TEXT NULL,
    gateway6 TEXT NULL,
    ip_range6 TEXT NULL,
    ipam_cursor6 TEXT NULL,
    CHECK (subnet IS NOT NULL OR subnet6 IS NOT NULL)
  );
  INSERT INTO networks_v12 (id, name, bridge, subnet, gateway, ip_range, internal, mtu, options, labels, is_default, created, ipam_cursor, aux_addresses, attachable, driver)
    SELECT id, name, bridge, subnet, gateway, ip_range, internal, mtu, options, labels, is_default, created, ipam_cursor, aux_addresses, attachable, driver FROM networks;
  DROP TABLE networks;
  ALTER TABLE networks_v12 RENAME TO networks;
  CREATE TABLE endpoints_v12 (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    if_name TEXT NOT NULL,
    host_if TEXT NOT NULL UNIQUE,
    ip TEXT NULL,
    ip_int INTEGER NULL,
    mac TEXT NOT NULL,
    created TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]',
    requested_ip TEXT NULL,
    ip6 TEXT NULL,
    requested_ip6 TEXT NULL,
    UNIQUE (network_id, ip_int),
    UNIQUE (network_id, ip6),
    UNIQUE (container_id, if_name),
    UNIQUE (container_id, network_id),
    CHECK (ip IS NOT NULL OR ip6 IS NOT NULL)
  );
  INSERT INTO endpoints_v12 (id, network_id, container_id, if_name, host_if, ip, ip_int, mac, created, aliases, requested_ip)
    SELECT id, network_id, container_id, if_name, host_if, ip, ip_int, mac, created, aliases, requested_ip FROM endpoints;
  DROP TABLE endpoints;
  ALTER TABLE endpoints_v12 RENAME TO endpoints;
  CREATE INDEX endpoints_network ON endpoints(network_id);
  `,
  // 14: the per-container monitor (native/nsnet-monitor.c) of a detached container: its PID and start
  // time (a PID reused by another process is not the monitor), run --restart (Docker's policy name
  // and maximum retry count), the restarts nsnet last saw the monitor make, and whether the user
  // stopped the container (unless-stopped ones are not brought back by system boot then).
  `
  ALTER TABLE containers ADD COLUMN monitor_pid INTEGER NULL;
  ALTER TABLE containers ADD COLUMN monitor_start TEXT NULL;
  ALTER TABLE containers ADD COLUMN restart_policy TEXT NOT NULL DEFAULT 'no';
  ALTER TABLE containers ADD COLUMN restart_max INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE containers ADD COLUMN manually_stopped INTEGER NOT NULL DEFAULT 0;
  `,
  // 15: point-to-point links between two containers (nsnet link add) and partitions (nsnet
  // partition create): both go with the containers they name. A partition's members are in
  // groups 0, 1, ...; traffic between groups is dropped (one_way: only from group 0 to the others).
  `
  CREATE TABLE p2p_links (
    id TEXT PRIMARY KEY,
    a_container TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    a_if TEXT NOT NULL,
    a_ip TEXT NULL,
    b_container TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    b_if TEXT NOT NULL,
    b_ip TEXT NULL,
    created TEXT NOT NULL,
    CHECK (a_container <> b_container)
  );
  CREATE UNIQUE INDEX p2p_links_a ON p2p_links(a_container, a_if);
  CREATE UNIQUE INDEX p2p_links_b ON p2p_links(b_container, b_if);
  CREATE TABLE partitions (
    name TEXT PRIMARY KEY,
    one_way INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
  );
  CREATE TABLE partition_members (
    partition TEXT NOT NULL REFERENCES partitions(name) ON DELETE CASCADE,
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    grp INTEGER NOT NULL,
    PRIMARY KEY (partition, container_id)
  );
  CREATE INDEX partition_members_container ON partition_members(container_id);
  `,
  // 16: an interface's impairment and link state go with the interface: when its endpoint (network
  // disconnect) or its point-to-point link (link rm) is deleted, its interface_state row is too, so a
  // later interface of the same name starts clean. (Triggers, because interface_state is keyed by the
  // name in the container, which both tables hold; a rebuild of either table must make them again.)
  `
  CREATE TRIGGER endpoints_interface_state AFTER DELETE ON endpoints BEGIN
    DELETE FROM interface_state WHERE container_id = OLD.container_id AND if_name = OLD.if_name;
  END;
  CREATE TRIGGER p2p_links_interface_state AFTER DELETE ON p2p_links BEGIN
    DELETE FROM interface_state WHERE (container_id = OLD.a_container AND if_name = OLD.a_if) OR (container_id = OLD.b_container AND if_name = OLD.b_if);
  END;
  `,
  // 17: images (issue 18). An image is its config blob (the id is the blob's sha256, as Docker's), its
  // layers bottom first, and the references that name it (normalised: docker.io/library/busybox:latest,
  // or NAME@sha256:... for a digest). A layer is stored once, extracted under ROOT/images/layers/<chain
  // id hex>, and kept while an image_layers row names it (the refcount). A container made from an image
  // records the image's id and the reference it was given (nothing references images from here, so an
  // image in use is found by querying containers.image_id).
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY,
    config BLOB NOT NULL,
    created TEXT NULL,
    size INTEGER NOT NULL,
    loaded TEXT NOT NULL
  );
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT NULL,
    size INTEGER NOT NULL,
    created TEXT NOT NULL
  );
  CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, position)
  );
  CREATE INDEX image_layers_chain ON image_layers(chain_id);
  CREATE TABLE image_refs (
    ref TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created TEXT NOT NULL
  );
  CREATE INDEX image_refs_image ON image_refs(image_id);
  ALTER TABLE containers ADD COLUMN image_id TEXT NULL;
  ALTER TABLE containers ADD COLUMN image_ref TEXT NULL;
  `,
  // 18: a container made from an image (issue 18): the image's config as the container was given it
  // (Docker's Config.Entrypoint, WorkingDir, User, Labels; the command stays in `command`), the
  // layer directories its overlay root is made of (top first, as the overlay's lowerdir lists them:
  // start mounts them again without asking the image store), and run/create --rm (AutoRemove).
  `
  ALTER TABLE containers ADD COLUMN entrypoint TEXT NULL;
  ALTER TABLE containers ADD COLUMN working_dir TEXT NULL;
  ALTER TABLE containers ADD COLUMN user_spec TEXT NULL;
  ALTER TABLE containers ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE containers ADD COLUMN image_layers TEXT NULL;
  ALTER TABLE containers ADD COLUMN auto_remove INTEGER NOT NULL DEFAULT 0;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
