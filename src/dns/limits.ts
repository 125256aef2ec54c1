/**
 * Every limit of the responder in one place, and why it has the value it has. Each resource one
 * client could exhaust has three budgets (see budget.ts): per client address, per network, and in
 * total; a full budget takes back from whoever holds the most (TCP) or refuses the newcomer
 * (forwards), so one container cannot take all of its network's share, and one network cannot
 * deny another.
 */
import type { Limits } from './budget.js';

/**
 * TCP connections. glibc's resolver opens one connection per lookup (A and AAAA share it) and
 * closes it after the answer, so even a busy multi-threaded container rarely holds more than a
 * few at once: 8 per client. 64 per network: eight such clients. 512 in total: far below the
 * file-descriptor limit (Node raises the soft limit to the hard one, at least 4096 on common
 * hosts), and enough for 8 networks at their full share; beyond that a newcomer from a network
 * holding less takes an idle connection from the network holding the most.
 */
export const TCP_LIMITS: Limits = { perClient: 8, perNetwork: 64, total: 512 };

/**
 * A TCP connection with no query in flight is closed after this long. RFC 7766 (6.2.3) asks for an
 * idle timeout "of the order of seconds" and allows less under load; a stub resolver sends its
 * query as soon as it connects, so 3 s is generous for a real client and short for a hoarder. A
 * connection waiting for an upstream (up to FORWARD_DEADLINE_MS) is not idle.
 */
export const TCP_IDLE_MS = 3000;

/**
 * Unanswered replies buffered on one TCP connection before the responder stops reading from it:
 * a client that pipelines queries and never reads the answers must not grow the responder's
 * memory without bound. Two full-size (64 KiB) DNS messages.
 */
export const TCP_MAX_BUFFERED_BYTES = 128 * 1024;

/**
 * Queries forwarded upstream and not yet answered: each holds a UDP socket for up to
 * FORWARD_DEADLINE_MS. A client flooding names of a slow upstream gets SERVFAIL beyond 32 of its
 * own (a stub resolver has a handful in flight), a network beyond 128, everyone beyond 1024, so
 * the containers of other networks keep being forwarded for.
 */
export const FORWARD_LIMITS: Limits = { perClient: 32, perNetwork: 128, total: 1024 };

/** Total time for one forwarded query, over every upstream: SERVFAIL within about two seconds, never a hang. */
export const FORWARD_DEADLINE_MS = 1800;
