/*
 * bin/nsnet: the nsnet command as users type it.
 *
 * Node.js takes ~40 ms to start and nsnet another ~50 ms to load, while most commands do 2-15 ms
 * of work; so this small client hands the command line to the nsnet service of the caller's
 * state root and network namespace (src/cli/service.ts), with its environment, working
 * directory, umask and its stdin, stdout and stderr (SCM_RIGHTS): the service writes the output
 * straight to them, and this process exits with the command's exit code.
 *
 * It runs nsnet in-process instead (exec of Node on bin/nsnet.mjs, the same argv) when:
 *  - NSNET_SERVICE=off;
 *  - the command uses the terminal or waits on a container (exec, foreground run, logs -f, ...:
 *    in_process() below; the service checks again, with commander's own parse, and answers
 *    'R' for what this guess let through);
 *  - no service answers (none runs, a stale socket, not root): then the in-process CLI starts
 *    the service for the next command (NSNET_CLIENT_FALLBACK tells it the state root);
 *  - the service answers 'R': nsnet was rebuilt, another state root, test switches...
 * A service that dies after it started the command is reported (exit 125 for run, else 1), never
 * retried: the command may have done part of its work, which the next command's crash recovery
 * (the journal) settles.
 *
 * Speed: this runs for every command, so it is linked statically (no dynamic loader: ~1 ms less
 * per command), builds the request before it connects, and sends the request with its
 * descriptors in one sendmsg(2): the service takes them with the request's first bytes, with no
 * round trip. A service that asks for them anyway ('F': one started by an older nsnet, which
 * read the request without them) gets them again.
 *
 * Build: cc -O2 -static -DNSNET_HOME='"/path/to/checkout"' -DNSNET_NODE='"/usr/bin/node"' -o bin/nsnet
 * native/nsnet-client.c (scripts/build-native.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef NSNET_HOME
#error "build with -DNSNET_HOME='\"/path/to/nsnet\"'"
#endif
#ifndef NSNET_NODE
#error "build with -DNSNET_NODE='\"/path/to/node\"'"
#endif

#define DEFAULT_ROOT "/var/lib/nsnet"
#define MAGIC "NSNETCL1"

extern char **environ;

static int argc_g;
static char **argv_g;
static char fallback_root[4096];

/* nsnet in this process: Node on the launcher, same argv, same descriptors. */
static int in_process(void) {
    if (fallback_root[0] != '\0') setenv("NSNET_CLIENT_FALLBACK", fallback_root, 1);
    char **args = calloc((size_t)argc_g + 2, sizeof *args);
    if (args == NULL) {
        perror("nsnet");
        return 1;
    }
    args[0] = "node";
    args[1] = NSNET_HOME "/bin/nsnet.mjs";
    for (int i = 1; i < argc_g; i++) args[i + 1] = argv_g[i];
    execv(NSNET_NODE, args);
    fprintf(stderr, "nsnet: cannot run %s %s/bin/nsnet.mjs: %s\n", NSNET_NODE, NSNET_HOME, strerror(errno));
    return 1;
}

/* ---- which commands the service takes ---- */

static int is(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

/* Global options that take a value (withCommon in src/cli/common.ts). */
static int takes_value(const char *opt) { return is(opt, "--root") || is(opt, "--firewall-driver") || is(opt, "--format"); }

/*
 * Index of the first word that is not an option, after the program's own options; argc when none.
 */
static int command_index(int from) {
    for (int i = from; i < argc_g; i++) {
        const char *a = argv_g[i];
        if (is(a, "--")) return i + 1 < argc_g ? i + 1 : argc_g;
        if (a[0] != '-') return i;
        if (takes_value(a)) i++;
    }
    return argc_g;
}

/* Whether a short-option cluster (-dP) before `--` has letter c before a letter that takes a value. */
static int has_flag(int from, char c, const char *longname, const char *values) {
    for (int i = from; i < argc_g; i++) {
        const char *a = argv_g[i];
        if (is(a, "--")) return 0;
        if (is(a, longname)) return 1;
        if (a[0] == '-' && a[1] != '-' && a[1] != '\0') {
            for (const char *p = a + 1; *p != '\0'; p++) {
                if (*p == c) return 1;
                if (strchr(values, *p) != NULL) break;
            }
        }
    }
    return 0;
}

/* Commands that use the terminal or wait on a container: never worth a trip to the service. */
static int runs_in_process(void) {
    static const char *const always[] = {"exec", "demo", "wait", "attach", "events", "stats", "top", "cni-plugin", "cni-service", "dns-serve", "service", NULL};
    int c = command_index(1);
    if (c >= argc_g) return 0;
    const char *cmd = argv_g[c];
    for (const char *const *p = always; *p != NULL; p++) if (is(cmd, *p)) return 1;
    if (is(cmd, "run")) return !has_flag(c + 1, 'd', "--detach", "ep");
    if (is(cmd, "logs")) return has_flag(c + 1, 'f', "--follow", "n");
    if (is(cmd, "system")) {
        int s = command_index(c + 1);
        return s < argc_g && is(argv_g[s], "reset");
    }
    return 0;
}

/* The state root as the CLI computes it: --root (the last one before `--`), NSNET_ROOT, the default. Empty: let the CLI say why. */
static const char *state_root(void) {
    const char *root = NULL;
    for (int i = 1; i < argc_g; i++) {
        const char *a = argv_g[i];
        if (is(a, "--")) break;
        if (is(a, "--root") && i + 1 < argc_g) root = argv_g[++i];
        else if (strncmp(a, "--root=", 7) == 0) root = a + 7;
    }
    if (root == NULL) root = getenv("NSNET_ROOT");
    if (root == NULL) root = DEFAULT_ROOT;
    return root;
}

/* ---- the request ---- */

struct buf {
    char *data;
    size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 65536 : b->cap;
        while (cap < b->len + n) cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int field(struct buf *b, const char *key, const char *value) {
    return put(b, key, strlen(key) + 1) || put(b, value, strlen(value) + 1);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int build_request(struct buf *b) {
    char cwd[4096], num[32];
    if (getcwd(cwd, sizeof cwd) == NULL) return -1;
    if (put(b, MAGIC, 8) || put(b, "\0\0\0\0", 4)) return -1;
    if (field(b, "cwd", cwd)) return -1;
    mode_t mask = umask(022);
    umask(mask);
    snprintf(num, sizeof num, "%o", (unsigned)mask);
    if (field(b, "umask", num)) return -1;
    char ttys[4] = {0};
    int n = 0;
    for (int fd = 0; fd < 3; fd++) if (isatty(fd)) ttys[n++] = (char)('0' + fd);
    if (field(b, "tty", ttys)) return -1;
    struct winsize ws;
    for (int fd = 1; fd < 3; fd++) {
        if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
            snprintf(num, sizeof num, "%u", (unsigned)ws.ws_col);
            if (field(b, "columns", num)) return -1;
            break;
        }
    }
    for (int i = 1; i < argc_g; i++) if (field(b, "arg", argv_g[i])) return -1;
    for (char **e = environ; *e != NULL; e++) if (strchr(*e, '=') != NULL && **e != '=' && field(b, "env", *e)) return -1;
    uint32_t len = (uint32_t)(b->len - 12);
    memcpy(b->data + 8, &len, 4); /* little-endian hosts: x86-64, aarch64 */
    return 0;
}

/*
 * Send n bytes from p with our stdin, stdout and stderr attached (SCM_RIGHTS) to the first
 * byte, then the rest. The kernel hands the descriptors over with the first read that takes any
 * of those bytes, and only a recvmsg(2) gets them (src/kernel/service-socket.ts).
 */
static int send_with_stdio(int sock, const char *p, size_t n) {
    int fds[3] = {0, 1, 2};
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t sent;
    do sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent <= 0) return -1;
    return write_all(sock, p + sent, n - (size_t)sent);
}

/* The service's answer, read in blocks (it is a few bytes: one read(2) usually). */
struct reader {
    int sock;
    char buf[512];
    size_t pos, len;
};

static int read_byte(struct reader *r, char *c) {
    if (r->pos == r->len) {
        ssize_t n;
        do n = read(r->sock, r->buf, sizeof r->buf);
        while (n < 0 && errno == EINTR);
        if (n <= 0) return -1;
        r->pos = 0;
        r->len = (size_t)n;
    }
    *c = r->buf[r->pos++];
    return 0;
}

/* The rest of a line after its type byte. */
static void read_line(struct reader *r, char *out, size_t size) {
    size_t n = 0;
    char c;
    while (n + 1 < size && read_byte(r, &c) == 0 && c != '\n') out[n++] = c;
    out[n] = '\0';
}

int main(int argc, char **argv) {
    argc_g = argc;
    argv_g = argv;
    signal(SIGPIPE, SIG_IGN);
    const char *off = getenv("NSNET_SERVICE");
    if (off != NULL && strcmp(off, "off") == 0) return in_process();
    if (runs_in_process()) return in_process();

    const char *root = state_root();
    if (root[0] == '\0') return in_process();
    char cwd[2048];
    int rl;
    if (root[0] != '/') {
        if (getcwd(cwd, sizeof cwd) == NULL) return in_process();
        rl = snprintf(fallback_root, sizeof fallback_root, "%s/%.2000s", cwd, root);
    } else {
        rl = snprintf(fallback_root, sizeof fallback_root, "%s", root);
    }
    if (rl < 0 || (size_t)rl >= sizeof fallback_root) {
        fallback_root[0] = '\0';
        return in_process();
    }
    struct stat ns;
    if (stat("/proc/self/ns/net", &ns) != 0) return in_process();
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/service/net-%lu.sock", fallback_root, (unsigned long)ns.st_ino);
    if (len < 0 || (size_t)len >= sizeof addr.sun_path) return in_process();
    struct buf req = {0};
    if (build_request(&req) != 0) return in_process();
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return in_process();
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(sock);
        return in_process();
    }
    /* From here on a fallback still asks for a service: the one that answered may be stopping
     * (rebuilt nsnet); the in-process CLI starts one only when none is alive. */
    if (send_with_stdio(sock, req.data, req.len) != 0) {
        close(sock);
        return in_process();
    }
    free(req.data);

    int started = 0;
    char line[4096];
    struct reader r = {.sock = sock};
    for (;;) {
        char type;
        if (read_byte(&r, &type) != 0) break;
        switch (type) {
        case 'F':
            if (send_with_stdio(sock, "f", 1) != 0) goto lost;
            break;
        case 'S':
            started = 1;
            break;
        case 'D':
            read_line(&r, line, sizeof line);
            return atoi(line);
        case 'R':
            read_line(&r, line, sizeof line);
            if (getenv("NSNET_SERVICE_DEBUG") != NULL) fprintf(stderr, "nsnet: in-process: %s\n", line);
            close(sock);
            return in_process();
        case 'E':
            read_line(&r, line, sizeof line);
            fprintf(stderr, "nsnet: %s\n", line);
            fprintf(stderr, "hint: run nsnet as root, or with NSNET_SERVICE=off to run the command in this process\n");
            return 1;
        default:
            fprintf(stderr, "nsnet: malformed answer from the nsnet service (%s)\n", addr.sun_path);
            return 1;
        }
    }
lost:
    close(sock);
    if (!started) return in_process();
    fprintf(stderr, "nsnet: the nsnet service (%s) went away while it ran this command; the next nsnet command recovers what it left unfinished\n", addr.sun_path);
    int c = command_index(1);
    return c < argc && is(argv[c], "run") ? 125 : 1;
}
