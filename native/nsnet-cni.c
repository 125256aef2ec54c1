/*
 * nsnet-cni: the executable container runtimes call as a CNI plugin.
 *
 * Node.js takes longer to start than a whole ADD of the reference bridge plugin, so this is a
 * thin client: it hands the invocation (the CNI_* environment and the configuration on stdin) to
 * the long-lived nsnet service of the caller's state root and network namespace over a Unix
 * socket (the one bin/nsnet talks to, src/cli/service.ts), and relays the service's answer
 * (stdout and exit code). The wire format is described in src/ops/cni-service.ts.
 *
 * When no service answers, it becomes the Node plugin (`nsnet cni-plugin`, same stdin and
 * environment), which does the work in-process and starts the service for the next call. So
 * the first call is slow and correct, and every later one is fast. It does the same when the
 * service goes away before answering (killed mid-call, or stopping as the call came in): the
 * Node plugin takes the host lock, rolls back whatever the service left half-made, and does the
 * work, so the runtime gets its result instead of "try again later".
 *
 * Build: cc -O2 -DNSNET_HOME='"/path/to/checkout"' -DNSNET_NODE='"/usr/bin/node"' -o bin/nsnet-cni
 * native/nsnet-cni.c (npm run build does this). NSNET_HOME is where bin/nsnet.mjs is and NSNET_NODE
 * the Node.js that runs it, so the binary can be copied into a CNI plugin directory such as
 * /opt/cni/bin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

extern char **environ;

/* The spec's error object (code 11: try again later) when neither the service nor the Node plugin can answer. */
static int fail(const char *msg) {
    printf("{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"nsnet-cni: %s\"}\n", msg);
    return 1;
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The network configuration once read from stdin (to send it to the service), else NULL. */
static char *conf;
static size_t conf_len;

static int read_conf(void) {
    size_t cap = 65536;
    conf = malloc(cap);
    if (conf == NULL) return -1;
    for (;;) {
        if (conf_len == cap) {
            char *bigger = realloc(conf, cap *= 2);
            if (bigger == NULL) return -1;
            conf = bigger;
        }
        ssize_t r = read(STDIN_FILENO, conf + conf_len, cap - conf_len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        conf_len += (size_t)r;
    }
}

/* Stdin was read for the service: the Node plugin gets the configuration from a memfd instead. */
static int restore_stdin(void) {
    int m = memfd_create("nsnet-cni-config", 0);
    if (m < 0) return -1;
    if (write_all(m, conf, conf_len) != 0 || lseek(m, 0, SEEK_SET) != 0 || dup2(m, STDIN_FILENO) < 0) {
        close(m);
        return -1;
    }
    close(m);
    return 0;
}

/*
 * The Node plugin, in this process: same environment, same stdin. Node by its absolute path, and
 * a PATH for the tools nsnet runs, since runtimes may call plugins without one.
 */
static int fall_back(void) {
    if (conf != NULL && restore_stdin() != 0) return fail("the CNI service did not answer, and the configuration cannot be handed to the Node plugin");
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0') setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    char *argv[] = {"node", NSNET_HOME "/bin/nsnet.mjs", "cni-plugin", NULL};
    execv(NSNET_NODE, argv);
    return fail("no nsnet service answers and " NSNET_NODE " " NSNET_HOME "/bin/nsnet.mjs cannot be run");
}

/* A JSON string: quotes, backslashes and control characters escaped as JSON.stringify does. */
static void put_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20) printf("\\u%04x", *p);
            else putchar(*p);
        }
    }
    putchar('"');
}

/*
 * ADD gives the namespace CNI_NETNS names an interface, an address and a default route, so it
 * must be a container's, never the one this client runs in: that is the host's (and the
 * service's, which serves the callers of its own namespace). Compared by device and inode, never
 * by path: /proc/self/ns/net, /proc/thread-self/ns/net, /proc/PID/ns/net of any process here and
 * a /run/netns bind mount of it all lead to one namespace. The Node plugin refuses the same (and
 * the namespaces of nsnet's own containers, which takes the store); refused here, such a call
 * never reaches the service or the plugin. The error is the spec's 4 (an invalid CNI_* variable)
 * with the Node plugin's message, in the current spec version.
 */
static int refuses_own_namespace(const struct stat *own) {
    const char *command = getenv("CNI_COMMAND");
    const char *netns = getenv("CNI_NETNS");
    struct stat target;
    if (command == NULL || strcmp(command, "ADD") != 0 || netns == NULL || netns[0] != '/') return 0;
    if (stat(netns, &target) != 0 || target.st_dev != own->st_dev || target.st_ino != own->st_ino) return 0;
    fputs("{\"cniVersion\":\"1.1.0\",\"code\":4,\"msg\":", stdout);
    char msg[8192];
    snprintf(msg, sizeof msg, "CNI_NETNS %s is nsnet-cni's own network namespace (the host's): ADD attaches a container's namespace, never the host itself", netns);
    put_json_string(msg);
    fputs(",\"details\":\"give the path of the container's network namespace (/run/netns/NAME, /proc/PID/ns/net of its process)\"}\n", stdout);
    return 1;
}

/* The caller's command name (the runtime), recorded on the container. */
static void caller_name(char *out, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL) return;
    if (fgets(out, (int)size, f) != NULL) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

int main(void) {
    /* A service gone mid-call is an error to handle (EPIPE), not a SIGPIPE that kills the call.
     * Node ignores SIGPIPE anyway, and resets signals for the processes it starts. */
    signal(SIGPIPE, SIG_IGN);
    const char *root = getenv("NSNET_ROOT");
    if (root == NULL || root[0] == '\0') root = DEFAULT_ROOT;

    struct stat ns;
    if (stat("/proc/self/ns/net", &ns) != 0) return fall_back();
    if (refuses_own_namespace(&ns)) return 1;
    /* NSNET_SERVICE=off: everything in-process (bin/nsnet honours it the same way). */
    const char *off = getenv("NSNET_SERVICE");
    if (off != NULL && strcmp(off, "off") == 0) return fall_back();
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/service/net-%lu.sock", root, (unsigned long)ns.st_ino);
    if (len < 0 || (size_t)len >= sizeof addr.sun_path) return fall_back();

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fall_back();
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return fall_back();
    }

    /*
     * From here on, a service that goes away before its answer (killed mid-call, or stopping: a
     * dying process closes its sockets one by one, so its listener can still accept after it
     * closed an earlier caller's connection) makes this call the Node plugin's.
     */
    if (read_conf() != 0) return fail("cannot read the network configuration from stdin");

    /* Header: CNI_* variables and the caller, NUL-terminated, then an empty entry. */
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "CNI_", 4) == 0 && write_all(fd, *e, strlen(*e) + 1) != 0) return fall_back();
    }
    char caller[64], entry[80];
    caller_name(caller, sizeof caller);
    int n = snprintf(entry, sizeof entry, "@caller=%s", caller);
    if (write_all(fd, entry, (size_t)n + 1) != 0 || write_all(fd, "", 1) != 0) return fall_back();

    /* Body: the network configuration. */
    if (write_all(fd, conf, conf_len) != 0) return fall_back();
    shutdown(fd, SHUT_WR);

    /* Reply: exit code, newline, then stdout to relay. */
    char code[16];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, code + have, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fall_back();
        if (code[have] == '\n') break;
        if (++have == sizeof code - 1) return fail("malformed answer from the CNI service");
    }
    code[have] = '\0';
    char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail("lost the CNI service while receiving");
        if (r == 0) break;
        if (write_all(STDOUT_FILENO, buf, (size_t)r) != 0) return 1;
    }
    return atoi(code);
}
