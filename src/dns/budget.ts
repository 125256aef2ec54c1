/**
 * A resource shared by the containers of every network (TCP connections, forwards in flight),
 * kept fair, pure: no timers, no sockets; time is given by the caller.
 *
 * A holder is admitted when its client is under `perClient`, its network under `perNetwork` and
 * everyone under `total`. When `total` is reached, a budget that may take back (TCP connections)
 * gives the newcomer the least recently active holding of the network that holds the most — but
 * only when that network holds more than the newcomer's network would after admitting it, so
 * taking back always moves towards equal shares and never just swaps two holders of equal
 * networks. The same happens inside a full network between its clients. A budget that may not
 * take back (forwards in flight) refuses instead.
 */

export interface Limits {
  perClient: number;
  perNetwork: number;
  total: number;
}

export type Admission<Id> =
  | { ok: true; evict?: Id }
  | { ok: false; why: string };

interface Holding {
  client: string;
  network: string;
  lastActive: number;
}

export class Budget<Id> {
  private readonly held = new Map<Id, Holding>();
  private readonly byClient = new Map<string, number>();
  private readonly byNetwork = new Map<string, number>();

  constructor(
    readonly limits: Limits,
    private readonly takeBack: boolean,
  ) {}

  get size(): number {
    return this.held.size;
  }

  clientCount(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  networkCount(network: string): number {
    return this.byNetwork.get(network) ?? 0;
  }

  /**
   * Whether `id` of `client` on `network` may hold one unit now. With `evict`, the caller must
   * release that holder (close its connection) — admit has already counted it out and `id` in.
   */
  admit(id: Id, client: string, network: string, now: number): Admission<Id> {
    const { perClient, perNetwork, total } = this.limits;
    if (this.clientCount(client) >= perClient) return { ok: false, why: `client ${client} holds its ${perClient}` };
    let evict: Id | undefined;
    if (this.networkCount(network) >= perNetwork) {
      evict = this.takeBack ? this.victim((h) => h.network === network, (h) => h.client, client) : undefined;
      if (evict === undefined) return { ok: false, why: `network ${network} holds its ${perNetwork}` };
    } else if (this.held.size >= total) {
      evict = this.takeBack ? this.victim(() => true, (h) => h.network, network) : undefined;
      if (evict === undefined) return { ok: false, why: `all ${total} are held` };
    }
    if (evict !== undefined) this.release(evict);
    this.held.set(id, { client, network, lastActive: now });
    this.bump(this.byClient, client, 1);
    this.bump(this.byNetwork, network, 1);
    return evict === undefined ? { ok: true } : { ok: true, evict };
  }

  /** The holder was active (a query arrived, an answer left): it is taken back last. */
  touch(id: Id, now: number): void {
    const h = this.held.get(id);
    if (h !== undefined) h.lastActive = now;
  }

  /** Give the unit back; releasing an unknown or already released holder does nothing. */
  release(id: Id): void {
    const h = this.held.get(id);
    if (h === undefined) return;
    this.held.delete(id);
    this.bump(this.byClient, h.client, -1);
    this.bump(this.byNetwork, h.network, -1);
  }

  /**
   * Among the holders `within`, grouped by `groupOf`: the least recently active holding of the
   * largest group, when that group holds at least two more than the newcomer's group `mine`.
   */
  private victim(within: (h: Holding) => boolean, groupOf: (h: Holding) => string, mine: string): Id | undefined {
    const counts = new Map<string, number>();
    for (const h of this.held.values()) if (within(h)) this.bump(counts, groupOf(h), 1);
    let largest: string | undefined;
    for (const [g, n] of counts) if (largest === undefined || n > counts.get(largest)!) largest = g;
    if (largest === undefined || counts.get(largest)! < (counts.get(mine) ?? 0) + 2) return undefined;
    let oldest: [Id, Holding] | undefined;
    for (const entry of this.held) {
      const h = entry[1];
      if (within(h) && groupOf(h) === largest && (oldest === undefined || h.lastActive < oldest[1].lastActive)) oldest = entry;
    }
    return oldest?.[0];
  }

  private bump(m: Map<string, number>, key: string, by: number): void {
    const n = (m.get(key) ?? 0) + by;
    if (n <= 0) m.delete(key);
    else m.set(key, n);
  }
}
