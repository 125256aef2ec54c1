/*
 * nsnet-monitor: the parent of one detached container, as conmon is for Podman and
 * containerd-shim for Docker. nsnet starts one per detached container and it outlives nsnet:
 *
 *   - it runs the container's launch command (the same argv nsnet ran before it existed:
 *     [ip netns exec NS] unshare --pid --fork ... setpriv ... -- CMD) as its child, with
 *     stdin /dev/null and stdout/stderr on two pipes;
 *   - it writes what comes out of the pipes to the container's log, one JSON object per line
 *     in Docker's json-file shape: {"log":"text\n","stream":"stdout","time":"RFC3339 nano"};
 *   - when the child ends it writes the exit status (128 + signal number for a signal, as
 *     Docker) and the finish time to DIR/state.json, atomically (a temporary file renamed);
 *   - with a restart policy it starts the command again after Docker's back-off (100 ms,
 *     doubling up to a minute, back to 100 ms after 10 s of running), counting restarts.
 *     SIGTERM (nsnet stop) ends the loop: the current run is recorded and nothing restarts;
 *   - with --remove-on-exit (run -d --rm, Docker's AutoRemove) it has the container removed
 *     once its run has ended, by stop or by itself (see remove_container below).
 *
 * How nsnet hears about the start: the monitor's stdout is a pipe to nsnet, and it writes one
 * line there and closes it: "started MONPID MONSTART INITPID INITSTART" once the container's
 * init (unshare's child) has exec'd past the launchers, or "exited MONPID MONSTART CODE" when
 * the command ended before that (`run -d true`, or a command that could not be executed),
 * or "failed MESSAGE".
 *
 * Each start of the command gets fresh UTS and IPC namespaces with the container's hostname
 * (nsnet's own first start does the same in-process): a restarted container has a clean IPC
 * namespace, as Docker's has. The network namespace is the monitor's own, the container's:
 * nsnet starts the monitor in it, so killing every process of the namespace (rm, crash
 * recovery, system reset) ends the monitor with its container.
 *
 * Double fork: the process nsnet spawns forks the monitor and exits, so nsnet reaps it at once
 * and the monitor is nobody's child but init's (or a subreaper's). The monitor is itself a child
 * subreaper, so whatever the container leaves behind is reaped here, not by init.
 *
 * Usage: nsnet-monitor --dir DIR --log FILE --hostname NAME [--launchers a,b,c] [--netns-exec NS]
 *                      [--pid-ns PROCDIR [--bounding-set HEX] [--rootfs DIR [--workdir W] [--user UID:GID]]]
 *                      [--restart no|always|unless-stopped|on-failure] [--max-retries N]
 *                      [--remove-on-exit ID --nsnet BIN --root ROOT --host-ns NET,UTS,IPC
 *                       --remove-log FILE [--remove-env K=V]...] -- ARGV...
 * With --pid-ns the monitor starts the command confined itself (confined_exec below) and ARGV is
 * the container's command; without it ARGV is a launcher chain (unshare ... setpriv ... CMD),
 * which --launchers names so the monitor can tell when the command itself runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384 /* Docker's json-file splits longer lines into 16 KiB parts */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 60000
#define RESET_AFTER_MS 10000
/*
 * How long an ended --rm container stays before it is removed: a client of the Docker API that
 * waits for it (POST /containers/{id}/wait polls every 50 ms; docker run --rm waits for
 * condition=removed) or follows the events must see it exited, with its exit code, first —
 * dockerd hands its waiters the code before it removes. nsnet serve's own AutoRemove waits as long.
 */
#define REMOVE_GRACE_MS 1000
#define REMOVE_ERR_MAX 4096
#define REMOVE_ENV_MAX 64

enum policy { POLICY_NO, POLICY_ALWAYS, POLICY_UNLESS_STOPPED, POLICY_ON_FAILURE };

struct stream {
    int fd;
    const char *name;
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static const char *dir, *log_path, *hostname, *launchers = "", *netns_exec;

/*
 * util-linux 2.38's unshare (Debian 12) cannot pass on a SIGKILL of its child: it calls
 * signal(SIGKILL, SIG_DFL), which fails, says this on stderr and exits 1 — so `kill -9` of a
 * container would read as exit code 1. The monitor takes that line, exactly, as the launcher's
 * (it is not logged) and records 137, what the container's end really was. Later util-linux
 * versions skip the signal() call for SIGKILL and die of it; then this never shows.
 */
static const char UNSHARE_SIGKILL_BUG[] = "unshare: sigprocmask unblock failed: Invalid argument\n";
static int killed_per_unshare;
static char **cmd;
static enum policy policy = POLICY_NO;
static long max_retries;
static int log_fd = -1, devnull = -1;

/* --remove-on-exit: what removes the container, and from where (see remove_container). */
static struct {
    const char *id, *nsnet, *root, *host_ns, *log;
    const char *env[REMOVE_ENV_MAX + 2];
    int nenv;
    int ns_fd[3]; /* the host's net, uts and ipc namespaces, opened at the start */
} rm_on_exit = { NULL, NULL, NULL, NULL, NULL, { NULL }, 0, { -1, -1, -1 } };
static pid_t self_pid;
static char self_start[32];

/* What state.json says; rewritten whole at each change. */
static struct {
    const char *status;
    pid_t pid;
    char pid_start[32];
    char started_at[40];
    char finished_at[40];
    int exit_code; /* -1: none yet */
    long restart_count;
    int removing; /* the run has ended and the monitor has the container removed (--remove-on-exit) */
} st = { "running", 0, "", "", "", -1, 0, 0 };

static void now_rfc3339(char *out, size_t size) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%09ldZ", ts.tv_nsec);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Field 22 of /proc/PID/stat (start time in clock ticks): with the PID, it names one process for good. */
static int start_time_of(pid_t pid, char *out, size_t size) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL) return -1;
    p += 2;
    if (*p == 'Z' || *p == 'X') return -1;
    for (int field = 3; field < 22 && p != NULL; field++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    if (p == NULL) return -1;
    size_t len = strcspn(p, " ");
    if (len + 1 > size) return -1;
    memcpy(out, p, len);
    out[len] = 0;
    return 0;
}

static void write_state(void) {
    char path[4096], tmp[4096], body[1024], code[16];
    if (st.exit_code < 0) snprintf(code, sizeof code, "null");
    else snprintf(code, sizeof code, "%d", st.exit_code);
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"pid\":%d,\"pidStart\":\"%s\",\"startedAt\":\"%s\",\"finishedAt\":\"%s\","
                     "\"exitCode\":%s,\"restartCount\":%ld,\"monitorPid\":%d,\"monitorStart\":\"%s\",\"removing\":%s}\n",
                     st.status, (int)st.pid, st.pid_start, st.started_at, st.finished_at, code, st.restart_count,
                     (int)self_pid, self_start, st.removing ? "true" : "false");
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.state.json.%d", dir, (int)self_pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return; /* the directory is gone: the container was removed */
    /*
     * Only the end is made durable: a start or restart record matters while the processes it
     * names live, which no power loss outlives, and its fsync (0.4-4 ms on this ext4, more
     * under load) was the slowest step between the command's exec and `run -d` returning.
     */
    int final = strcmp(st.status, "exited") == 0;
    int ok = write_all(fd, body, (size_t)n) == 0 && (!final || fsync(fd) == 0);
    close(fd);
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

/* One log entry: {"log":"...","stream":"stdout","time":"..."}; JSON-escaped as Go's encoder does for control characters. */
static void log_entry(const char *stream, const char *text, size_t len) {
    static char out[LINE_MAX_BYTES * 6 + 128];
    char when[40];
    now_rfc3339(when, sizeof when);
    size_t o = (size_t)snprintf(out, sizeof out, "{\"log\":\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        switch (ch) {
        case '"': out[o++] = '\\'; out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
        case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
        case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
        case '\t': out[o++] = '\\'; out[o++] = 't'; break;
        default:
            if (ch < 0x20) o += (size_t)snprintf(out + o, 7, "\\u%04x", ch);
            else out[o++] = (char)ch;
        }
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, when);
    if (log_fd >= 0) write_all(log_fd, out, o);
}

/* Log every complete line of the stream's buffer; a line longer than the buffer goes out in parts. */
static void flush_lines(struct stream *s, int at_end) {
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            size_t len = i + 1 - start;
            if (strcmp(s->name, "stderr") == 0 && len == sizeof UNSHARE_SIGKILL_BUG - 1 && memcmp(s->buf + start, UNSHARE_SIGKILL_BUG, len) == 0) killed_per_unshare = 1;
            else log_entry(s->name, s->buf + start, len);
            start = i + 1;
        }
    }
    if (start < s->len && (at_end || (start == 0 && s->len == sizeof s->buf))) {
        log_entry(s->name, s->buf + start, s->len - start);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
}

/* Read what the stream has; returns 0 at end of file (every writer gone). */
static int pump(struct stream *s) {
    for (;;) {
        ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
        if (n > 0) {
            s->len += (size_t)n;
            flush_lines(s, 0);
            continue;
        }
        if (n == 0) {
            flush_lines(s, 1);
            return 0;
        }
        if (errno == EINTR) continue;
        return errno == EAGAIN ? 1 : 0;
    }
}

static void close_stream(struct stream *s) {
    if (s->fd < 0) return;
    pump(s);
    flush_lines(s, 1);
    close(s->fd);
    s->fd = -1;
}

/* Whether this process is in a VRF's cgroup, which `ip netns exec` would leave (vrf_reset). */
static int in_vrf_cgroup(void) {
    char buf[4096];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    return strstr(buf, "/vrf/") != NULL;
}

/*
 * What `ip netns exec NAME` does before it execs the command (iproute2's netns_switch and
 * bind_etc, lib/namespace.c), done here instead of exec'ing ip: ip is a large dynamically linked
 * program whose start cost ~1.5 ms of every run -d. Same steps, same messages and the same exit
 * codes (255 when the switch fails, 1 when the command cannot be executed, as ip's cmd_exec).
 * ip also leaves a VRF's cgroup (vrf_reset): a monitor started in one runs ip itself.
 */
static void netns_switch(const char *name, char **argv, int vrf_may_exec_ip) {
    char path[4096];
    if (vrf_may_exec_ip && in_vrf_cgroup()) {
        int n = 0;
        while (argv[n] != NULL) n++;
        char **ip = calloc((size_t)n + 5, sizeof *ip);
        if (ip != NULL) {
            ip[0] = "ip", ip[1] = "netns", ip[2] = "exec", ip[3] = (char *)name;
            memcpy(ip + 4, argv, (size_t)n * sizeof *ip);
            execvp("ip", ip);
        }
        dprintf(2, "nsnet-monitor: failed to execute ip: %s\n", strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dprintf(2, "Cannot open network namespace \"%s\": %s\n", name, strerror(errno));
        _exit(255);
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        dprintf(2, "setting the network namespace \"%s\" failed: %s\n", name, strerror(errno));
        _exit(255);
    }
    close(fd);
    if (unshare(CLONE_NEWNS) < 0) {
        dprintf(2, "unshare failed: %s\n", strerror(errno));
        _exit(255);
    }
    /* Don't let any mounts propagate back to the parent. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL)) {
        dprintf(2, "\"mount --make-rslave /\" failed: %s\n", strerror(errno));
        _exit(255);
    }
    /* A /sys that describes the network namespace; a read-only one can only be shadowed read-only. */
    unsigned long flags = 0;
    struct statvfs fs;
    if (umount2("/sys", MNT_DETACH) < 0 && statvfs("/sys", &fs) == 0 && (fs.f_flag & ST_RDONLY)) flags = MS_RDONLY;
    if (mount(name, "/sys", "sysfs", flags, NULL) < 0) {
        dprintf(2, "mount of /sys failed: %s\n", strerror(errno));
        _exit(255);
    }
    /* /etc/netns/NAME/FILE over /etc/FILE (hosts, resolv.conf). */
    char etc[4096], src[8192], dst[4096];
    snprintf(etc, sizeof etc, "/etc/netns/%s", name);
    DIR *d = strlen(name) < 255 ? opendir(etc) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(src, sizeof src, "%s/%s", etc, e->d_name);
        snprintf(dst, sizeof dst, "/etc/%s", e->d_name);
        if (mount(src, dst, "none", MS_BIND, NULL) < 0) dprintf(2, "Bind %s -> %s failed: %s\n", src, dst, strerror(errno));
    }
    if (d != NULL) closedir(d);
}

static void ip_netns_exec(const char *name, char **argv) {
    netns_switch(name, argv, 1);
    execvp(argv[0], argv);
    dprintf(2, "exec of \"%s\" failed: %s\n", argv[0], strerror(errno));
    _exit(1);
}

/*
 * The confined start (--pid-ns): what `unshare --pid --fork --kill-child --mount
 * --mount-proc[=DIR] --propagation slave`, then `setpriv --bounding-set=... --inh-caps=-all
 * --no-new-privs` and, with a root filesystem, `chroot DIR` or `nsenter --root=DIR --wdns=W -S UID
 * -G GID` do, done here instead of exec'ing them (nsnet's --dry-run still prints them): three
 * dynamically linked programs' starts were ~2 ms of every run -d. This process plays unshare's
 * part: it forks the container's init into a new PID namespace, waits for it and ends as it
 * ended (a signal re-raised). The init mounts its /proc, confines itself and execs the command;
 * the ready pipe (close-on-exec) tells the monitor its PID and, by closing, that the exec
 * happened — no polling of /proc for the launchers to go.
 */
static const char *proc_dir;              /* --pid-ns: where the init mounts its /proc */
static const char *bounding_hex;          /* --bounding-set: the capabilities kept; absent: privileged */
static const char *root_dir, *work_dir, *user_ids;
static int ready_r = -1, ready_w = -1; /* the ready pipe: the monitor's end, the starting child's end */

/* The init could not get to its command: say so on the ready pipe (the monitor then waits for the exit). */
static void init_failed(int code) {
    write_all(ready_w, "!", 1);
    _exit(code);
}

static void confine_init(void) {
    if (mount("proc", proc_dir, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) != 0) {
        dprintf(2, "nsnet-monitor: mount proc at %s failed: %s\n", proc_dir, strerror(errno));
        init_failed(125);
    }
    if (bounding_hex != NULL) {
        unsigned long long keep = strtoull(bounding_hex, NULL, 16);
        for (int cap = 0; cap < 64; cap++) {
            if (keep & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
                if (errno == EINVAL) break; /* past the kernel's last capability */
                dprintf(2, "nsnet-monitor: drop capability %d: %s\n", cap, strerror(errno));
                init_failed(125);
            }
        }
        struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        if (syscall(SYS_capget, &head, data) != 0 || (data[0].inheritable = data[1].inheritable = 0, syscall(SYS_capset, &head, data) != 0)
            || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            dprintf(2, "nsnet-monitor: confine the container's capabilities: %s\n", strerror(errno));
            init_failed(125);
        }
    }
    if (root_dir != NULL) {
        if (chroot(root_dir) != 0 || chdir("/") != 0) {
            dprintf(2, "nsnet-monitor: cannot change root directory to '%s': %s\n", root_dir, strerror(errno));
            init_failed(125);
        }
        /* Inside the new root: a link in the path cannot lead out of it. */
        if (work_dir != NULL && chdir(work_dir) != 0) {
            dprintf(2, "nsnet-monitor: cannot change directory to %s: %s\n", work_dir, strerror(errno));
            init_failed(125);
        }
        if (user_ids != NULL) {
            char *colon;
            unsigned long uid = strtoul(user_ids, &colon, 10), gid = *colon == ':' ? strtoul(colon + 1, NULL, 10) : 0;
            if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
                dprintf(2, "nsnet-monitor: set user %s: %s\n", user_ids, strerror(errno));
                init_failed(125);
            }
        }
    }
}

/*
 * An empty /run/netns in the container's mount namespace. It follows the host's mounts (slave),
 * and the host's /run/netns gets a mount per container: left there, every container's namespace
 * would receive a copy of each later container's, ~1000 mounts each at 1000 containers — kernel
 * memory growing with the square of the count (bench scale: 1226 mounts per namespace, 508 MiB
 * of mount objects) and every ip netns add/delete walking them all. The container needs none of
 * those handles. The detached mount's files stay as plain files below it (ip netns add makes
 * /run/netns a mount of itself), which ip inside would take for namespaces and complain ("Peer
 * netns reference is invalid"): an empty tmpfs covers them. Not a mount point: nothing to do.
 */
static void leave_netns_handles(void) {
    if (umount2("/run/netns", MNT_DETACH) != 0) return;
    if (mount("tmpfs", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=755") != 0)
        dprintf(2, "nsnet-monitor: an empty /run/netns: %s\n", strerror(errno));
}

static void confined_exec(char **argv) {
    /* ip netns exec's switch already gave this process its own (slave) mount namespace. */
    if (netns_exec == NULL && (unshare(CLONE_NEWNS) != 0 || mount("", "/", "none", MS_SLAVE | MS_REC, NULL) != 0)) {
        dprintf(2, "nsnet-monitor: new mount namespace: %s\n", strerror(errno));
        _exit(125);
    }
    leave_netns_handles();
    if (unshare(CLONE_NEWPID) != 0) {
        dprintf(2, "nsnet-monitor: new PID namespace: %s\n", strerror(errno));
        _exit(125);
    }
    /* As unshare --fork: SIGINT and SIGTERM are the container's to get, not this waiting parent's. */
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    sigprocmask(SIG_BLOCK, &both, &old);
    pid_t init = fork();
    if (init < 0) {
        dprintf(2, "nsnet-monitor: fork: %s\n", strerror(errno));
        _exit(125);
    }
    if (init == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* --kill-child: the container ends with this process (the monitor killed it, or rm did). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) init_failed(125);
        confine_init();
        execvp(argv[0], argv);
        int e = errno;
        dprintf(2, "nsnet-monitor: failed to execute %s: %s\n", argv[0], strerror(e));
        init_failed(e == ENOENT ? 127 : 126);
    }
    write_all(ready_w, (const char *)&init, sizeof init);
    close(ready_w);
    int status;
    while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

/* In a child about to exec: no signal blocked or ignored (the monitor blocks and ignores some), and its stdio. */
static void child_setup(int in, int out, int err) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
}

static pid_t start_child(struct stream *out, struct stream *err) {
    int po[2], pe[2], ready[2] = { -1, -1 };
    if (proc_dir != NULL && pipe2(ready, O_CLOEXEC) != 0) return -1;
    ready_r = ready[0];
    ready_w = ready[1];
    if (pipe2(po, O_CLOEXEC) != 0) return -1;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        child_setup(devnull, po[1], pe[1]);
        /* A fresh UTS and IPC namespace for each start, named as the container. */
        if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) != 0 || sethostname(hostname, strlen(hostname)) != 0) {
            dprintf(2, "nsnet-monitor: new UTS/IPC namespace for %s: %s\n", hostname, strerror(errno));
            _exit(125);
        }
        if (proc_dir != NULL) {
            close(ready_r);
            /* The cgroup VRF ip's vrf_reset leaves never was in mainline Linux: not looked for here. */
            if (netns_exec != NULL) netns_switch(netns_exec, cmd, 0);
            confined_exec(cmd);
        }
        if (netns_exec != NULL) ip_netns_exec(netns_exec, cmd);
        execv(cmd[0], cmd);
        dprintf(2, "nsnet-monitor: failed to execute %s: %s\n", cmd[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(po[1]);
    close(pe[1]);
    if (ready_w >= 0) close(ready_w);
    ready_w = -1;
    if (pid < 0) {
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    out->fd = po[0];
    out->len = 0;
    err->fd = pe[0];
    err->len = 0;
    return pid;
}

static int is_launcher(const char *comm) {
    size_t len = strlen(comm);
    for (const char *p = launchers; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, comm, n) == 0) return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/*
 * unshare --fork runs the command as its only child: the container's init, once it has exec'd
 * past the launchers (unshare, setpriv, chroot). 1: found (st.pid, st.pid_start); 0: the child
 * ended first (*status set); -1: not seen within two seconds.
 */
static int find_init(pid_t child, int *status) {
    char path[96], buf[256], cpath[64], comm[64], t1[32], t2[32];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)child, (int)child);
    for (int i = 0; i < 2000; i++) {
        if (waitpid(child, status, WNOHANG) == child) return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        if (fd >= 0) close(fd);
        pid_t init = n > 0 ? (buf[n] = 0, (pid_t)atoi(buf)) : 0;
        if (init > 0) {
            snprintf(cpath, sizeof cpath, "/proc/%d/comm", (int)init);
            int cfd = open(cpath, O_RDONLY | O_CLOEXEC);
            ssize_t cn = cfd < 0 ? -1 : read(cfd, comm, sizeof comm - 1);
            if (cfd >= 0) close(cfd);
            if (cn > 0) {
                comm[cn] = 0;
                comm[strcspn(comm, "\n")] = 0;
                /* Past the launchers, and not a zombie (no start time): the command runs. */
                if (!is_launcher(comm) && start_time_of(init, t1, sizeof t1) == 0 && start_time_of(init, t2, sizeof t2) == 0 && strcmp(t1, t2) == 0) {
                    st.pid = init;
                    strcpy(st.pid_start, t1);
                    return 1;
                }
            }
        }
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return -1;
}

/*
 * The confined start's find_init: the init's PID comes down the ready pipe, then the pipe closes
 * when the init execs its command (close-on-exec) — or carries "!" first when it could not. Same
 * answers as find_init; *reached says whether the command was exec'd even when it has already
 * ended (`run -d true`).
 */
static int find_init_confined(pid_t child, int *status, int *reached) {
    pid_t init = 0;
    size_t got = 0;
    char mark = 0;
    long long deadline = now_ms() + 10000;
    *reached = 0;
    for (;;) {
        struct pollfd p = { ready_r, POLLIN, 0 };
        long long left = deadline - now_ms();
        if (left <= 0 || (poll(&p, 1, (int)left) < 0 && errno != EINTR)) {
            close(ready_r);
            ready_r = -1;
            return -1;
        }
        ssize_t n = got < sizeof init ? read(ready_r, (char *)&init + got, sizeof init - got) : read(ready_r, &mark, 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n > 0) {
            got += got < sizeof init ? (size_t)n : 0;
            if (mark == '!') break;
            continue;
        }
        break; /* end of file */
    }
    close(ready_r);
    ready_r = -1;
    *reached = got == sizeof init && mark != '!';
    if (*reached && start_time_of(init, st.pid_start, sizeof st.pid_start) == 0) {
        st.pid = init;
        return 1;
    }
    /* Not started, or already ended: its launcher (this monitor's child) tells how. */
    while (waitpid(child, status, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

static int exit_code_of(int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && killed_per_unshare) return 128 + SIGKILL;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

/* Docker's restart manager: whether this exit starts the command again. */
static int should_restart(int code, int stopping, int reached_command) {
    if (stopping) return 0;
    /* A command that could not be executed is nsnet's error to report, not a run to repeat. */
    if (!reached_command && (code == 126 || code == 127)) return 0;
    switch (policy) {
    case POLICY_ALWAYS:
    case POLICY_UNLESS_STOPPED: return 1;
    case POLICY_ON_FAILURE: return code != 0 && (max_retries == 0 || st.restart_count < max_retries);
    default: return 0;
    }
}

static void handshake(const char *line) {
    write_all(1, line, strlen(line));
    close(1);
    dup2(devnull, 1);
}

/* The run has ended for good: recorded, with whether the monitor now has the container removed. */
static void record_end(void) {
    struct stat d;
    st.status = "exited";
    /* A directory already gone: rm got there first, nothing is left to remove. */
    st.removing = rm_on_exit.id != NULL && stat(dir, &d) == 0;
    write_state();
}

/* One line in the log a user reads for what happens in the background (the service's). */
static void removal_note(const char *what) {
    char when[40], parent[4096], line[REMOVE_ERR_MAX + 512];
    now_rfc3339(when, sizeof when);
    snprintf(parent, sizeof parent, "%s", rm_on_exit.log);
    char *slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = 0;
        mkdir(parent, 0700);
    }
    int fd = open(rm_on_exit.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    int n = snprintf(line, sizeof line, "%s nsnet-monitor: removing container %s (--rm): %s\n", when, rm_on_exit.id, what);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    write_all(fd, line, (size_t)n);
    close(fd);
}

/* What a non-blocking pipe has now, kept up to cap bytes (the rest read and dropped); *eof at its end. */
static size_t drain(int fd, char *buf, size_t len, size_t cap, int *eof) {
    char scratch[512];
    for (;;) {
        int keep = len < cap;
        ssize_t n = read(fd, keep ? buf + len : scratch, keep ? cap - len : sizeof scratch);
        if (n > 0) {
            if (keep) len += (size_t)n;
            continue;
        }
        if (n == 0) *eof = 1;
        else if (errno == EINTR) continue;
        else if (errno != EAGAIN) *eof = 1;
        return len;
    }
}

/*
 * Run `NSNET --root ROOT rm -f --auto-remove MONPID:MONSTART ID` and wait for it, keeping what it
 * says on stderr; a failure becomes one line of the log, with it. Returns nothing: this process
 * has no one to tell.
 */
static void run_rm(void) {
    char monitor[64], err[REMOVE_ERR_MAX], what[REMOVE_ERR_MAX + 64];
    snprintf(monitor, sizeof monitor, "%d:%s", (int)self_pid, self_start);
    char *argv[] = { (char *)rm_on_exit.nsnet, "--root", (char *)rm_on_exit.root, "rm", "-f", "--auto-remove", monitor, (char *)rm_on_exit.id, NULL };
    int pe[2];
    if (pipe2(pe, O_CLOEXEC) != 0) {
        snprintf(what, sizeof what, "pipe: %s", strerror(errno));
        removal_note(what);
        return;
    }
    pid_t rm = fork();
    if (rm == 0) {
        child_setup(devnull, devnull, pe[1]);
        execve(rm_on_exit.nsnet, argv, (char **)rm_on_exit.env);
        dprintf(2, "cannot execute %s: %s\n", rm_on_exit.nsnet, strerror(errno));
        _exit(127);
    }
    close(pe[1]);
    if (rm < 0) {
        close(pe[0]);
        snprintf(what, sizeof what, "fork: %s", strerror(errno));
        removal_note(what);
        return;
    }
    /* Read until rm has ended, not until the pipe's end: a service it starts could hold it for hours. */
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    size_t len = 0;
    int status = 0, eof = 0;
    for (;;) {
        struct pollfd pfd = { pe[0], POLLIN, 0 };
        if (!eof) poll(&pfd, 1, 100);
        len = drain(pe[0], err, len, sizeof err - 1, &eof);
        if (eof) {
            waitpid(rm, &status, 0);
            break;
        }
        if (waitpid(rm, &status, WNOHANG) == rm) {
            len = drain(pe[0], err, len, sizeof err - 1, &eof);
            break;
        }
    }
    close(pe[0]);
    err[len] = 0;
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' ')) err[--len] = 0;
    for (size_t k = 0; k < len; k++)
        if (err[k] == '\n') err[k] = ' ';
    /* Removed (or found removed already): what it said on the way, e.g. that it waited for the lock, is no news. */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    snprintf(what, sizeof what, "%s rm failed (%s %d): %s", rm_on_exit.nsnet, WIFEXITED(status) ? "exit code" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), len > 0 ? err : "it said nothing");
    removal_note(what);
}

/*
 * --remove-on-exit: the container's run has ended for good (Docker refuses --rm with --restart,
 * and so does nsnet), so it goes, as dockerd removes an AutoRemove container. Removing is nsnet's
 * work (records, namespace, veths, firewall, under the host lock), so the monitor has the nsnet
 * that started it do it, never through a shell, with only the environment nsnet gave for it:
 *   - from a process of its own, forked here, while the monitor exits at once: rm finds the
 *     monitor gone, its report saying exited, rather than killing the process that removes; and
 *     nothing waits on anything that waits on it (rm takes the host lock, the monitor holds none);
 *   - back in the host's network, UTS and IPC namespaces (nsnet's, opened at the start): rm kills
 *     every process of the container's namespace, and the client finds the service of nsnet's;
 *   - after REMOVE_GRACE_MS, for whoever waits on it, and only if its directory is still there;
 *   - with --auto-remove MONITOR: rm removes it only while its last run is still this monitor's
 *     and has ended (a `start` in the meantime gets a new monitor, which removes it in its turn),
 *     and an rm that finds it gone already (removed by hand, by nsnet serve) succeeds quietly.
 */
static void remove_container(void) {
    pid_t remover = fork();
    if (remover < 0) {
        char what[128];
        snprintf(what, sizeof what, "fork: %s", strerror(errno));
        removal_note(what);
    }
    if (remover != 0) return;
    setsid();
    static const int types[3] = { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC };
    for (int k = 0; k < 3; k++) {
        if (setns(rm_on_exit.ns_fd[k], types[k]) != 0) {
            char what[256];
            snprintf(what, sizeof what, "cannot return to nsnet's namespaces: setns: %s", strerror(errno));
            removal_note(what);
            _exit(1);
        }
        close(rm_on_exit.ns_fd[k]);
    }
    struct timespec grace = { REMOVE_GRACE_MS / 1000, (REMOVE_GRACE_MS % 1000) * 1000000L };
    while (nanosleep(&grace, &grace) != 0 && errno == EINTR) {
    }
    /* Removed meanwhile (by an attached API client, by hand, by system reset, which may have taken
     * the whole state root): nothing to do, and no nsnet to start on a root that is gone. */
    struct stat d;
    if (stat(dir, &d) == 0) run_rm();
    _exit(0);
}

/* --host-ns NET,UTS,IPC: paths nsnet gives while it waits for the handshake (its own descriptors, /proc/PID/fd/N). */
static int open_host_namespaces(void) {
    char paths[3 * 128];
    snprintf(paths, sizeof paths, "%s", rm_on_exit.host_ns);
    char *save = NULL, *p = strtok_r(paths, ",", &save);
    for (int k = 0; k < 3; k++, p = strtok_r(NULL, ",", &save)) {
        if (p == NULL || (rm_on_exit.ns_fd[k] = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
            dprintf(1, "failed open the host namespace %s: %s\n", p == NULL ? "(missing in --host-ns)" : p, p == NULL ? "expected NET,UTS,IPC" : strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int usage(const char *why) {
    dprintf(2, "nsnet-monitor: %s\nusage: nsnet-monitor --dir DIR --log FILE --hostname NAME [--launchers a,b] [--netns-exec NS] [--pid-ns PROCDIR [--bounding-set HEX] [--rootfs DIR [--workdir W] [--user UID:GID]]] [--restart POLICY] [--max-retries N] [--remove-on-exit ID --nsnet BIN --root ROOT --host-ns NET,UTS,IPC --remove-log FILE [--remove-env K=V]...] -- ARGV...\n", why);
    return 2;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) return usage("option without a value");
        const char *v = argv[++i];
        if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--log") == 0) log_path = v;
        else if (strcmp(a, "--hostname") == 0) hostname = v;
        else if (strcmp(a, "--launchers") == 0) launchers = v;
        else if (strcmp(a, "--netns-exec") == 0) netns_exec = v;
        else if (strcmp(a, "--pid-ns") == 0) proc_dir = v;
        else if (strcmp(a, "--bounding-set") == 0) bounding_hex = v;
        else if (strcmp(a, "--rootfs") == 0) root_dir = v;
        else if (strcmp(a, "--workdir") == 0) work_dir = v;
        else if (strcmp(a, "--user") == 0) user_ids = v;
        else if (strcmp(a, "--max-retries") == 0) max_retries = atol(v);
        else if (strcmp(a, "--remove-on-exit") == 0) rm_on_exit.id = v;
        else if (strcmp(a, "--nsnet") == 0) rm_on_exit.nsnet = v;
        else if (strcmp(a, "--root") == 0) rm_on_exit.root = v;
        else if (strcmp(a, "--host-ns") == 0) rm_on_exit.host_ns = v;
        else if (strcmp(a, "--remove-log") == 0) rm_on_exit.log = v;
        else if (strcmp(a, "--remove-env") == 0) {
            if (rm_on_exit.nenv >= REMOVE_ENV_MAX) return usage("too many --remove-env");
            rm_on_exit.env[rm_on_exit.nenv++] = v;
        }
        else if (strcmp(a, "--restart") == 0) {
            if (strcmp(v, "no") == 0) policy = POLICY_NO;
            else if (strcmp(v, "always") == 0) policy = POLICY_ALWAYS;
            else if (strcmp(v, "unless-stopped") == 0) policy = POLICY_UNLESS_STOPPED;
            else if (strcmp(v, "on-failure") == 0) policy = POLICY_ON_FAILURE;
            else return usage("unknown --restart policy");
        } else return usage("unknown option");
    }
    if (dir == NULL || log_path == NULL || hostname == NULL || i >= argc) return usage("--dir, --log, --hostname and a command are required");
    if (proc_dir == NULL && (bounding_hex != NULL || root_dir != NULL)) return usage("--bounding-set and --rootfs confine a --pid-ns start");
    if (root_dir == NULL && (work_dir != NULL || user_ids != NULL)) return usage("--workdir and --user need --rootfs");
    cmd = argv + i;
    if (rm_on_exit.id != NULL && (rm_on_exit.nsnet == NULL || rm_on_exit.root == NULL || rm_on_exit.host_ns == NULL || rm_on_exit.log == NULL))
        return usage("--remove-on-exit needs --nsnet, --root, --host-ns and --remove-log");
    /* Before the double fork: nsnet keeps the descriptors open until it has the handshake. */
    if (rm_on_exit.id != NULL && open_host_namespaces() != 0) return 1;

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    /* Double fork: the process nsnet started ends now; the monitor goes on as init's child. */
    pid_t first = fork();
    if (first < 0) {
        dprintf(1, "failed fork: %s\n", strerror(errno));
        return 1;
    }
    if (first > 0) return 0;
    self_pid = getpid();
    start_time_of(self_pid, self_start, sizeof self_start);
    if (chdir("/") != 0) { /* keep no directory busy */
    }
    dup2(devnull, 0);
    dup2(devnull, 2);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        dprintf(1, "failed open %s: %s\n", log_path, strerror(errno));
        return 1;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    struct stream out = { -1, "stdout", {0}, 0 }, err = { -1, "stderr", {0}, 0 };
    int stopping = 0, first_run = 1;
    char line[160];

    for (;;) {
        pid_t child = start_child(&out, &err);
        if (child < 0) {
            if (first_run) {
                snprintf(line, sizeof line, "failed fork: %s\n", strerror(errno));
                handshake(line);
            }
            st.status = "exited";
            st.exit_code = 125;
            now_rfc3339(st.finished_at, sizeof st.finished_at);
            write_state();
            return 1;
        }
        long long started_ms = now_ms();
        killed_per_unshare = 0;
        now_rfc3339(st.started_at, sizeof st.started_at);
        st.finished_at[0] = 0;
        st.exit_code = -1;
        int status = 0, reached = 0;
        int found = proc_dir != NULL ? find_init_confined(child, &status, &reached) : find_init(child, &status);
        if (proc_dir == NULL) reached = found == 1;
        int exited = found == 0;
        st.status = "running";
        if (found != 1) {
            st.pid = 0;
            st.pid_start[0] = 0;
        }
        write_state();
        if (first_run) {
            /* The log has the launcher's words before nsnet reads them (command not found). */
            if (found == 0) {
                close_stream(&out);
                close_stream(&err);
            }
            if (found == 1) snprintf(line, sizeof line, "started %d %s %d %s\n", (int)self_pid, self_start, (int)st.pid, st.pid_start);
            else if (found == 0) snprintf(line, sizeof line, "exited %d %s %d\n", (int)self_pid, self_start, exit_code_of(status));
            else snprintf(line, sizeof line, "failed the container process did not start (unshare pid %d)\n", (int)child);
            handshake(line);
            first_run = 0;
        }

        /* Pump the output until the child ends (or a stop arrives). */
        while (!exited) {
            struct pollfd fds[3] = { { sfd, POLLIN, 0 }, { out.fd, POLLIN, 0 }, { err.fd, POLLIN, 0 } };
            if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
            if (out.fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) && !pump(&out)) { close(out.fd); out.fd = -1; }
            if (err.fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP)) && !pump(&err)) { close(err.fd); err.fd = -1; }
            if (fds[0].revents & POLLIN) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stopping = 1;
                }
                int s;
                pid_t p;
                while ((p = waitpid(-1, &s, WNOHANG)) > 0) {
                    if (p == child) {
                        status = s;
                        exited = 1;
                    }
                }
            }
        }
        close_stream(&out);
        close_stream(&err);
        /* A stop that raced with the exit is still a stop. */
        sigset_t pending;
        if (sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT))) stopping = 1;

        int code = exit_code_of(status);
        st.exit_code = code;
        st.pid = 0;
        st.pid_start[0] = 0;
        now_rfc3339(st.finished_at, sizeof st.finished_at);
        struct stat dst;
        if (!should_restart(code, stopping, reached) || stat(dir, &dst) != 0) {
            record_end();
            break;
        }
        /* Docker's back-off: reset after 10 s of running, else 100 ms doubling up to a minute. */
        static long backoff_ms;
        if (now_ms() - started_ms >= RESET_AFTER_MS) backoff_ms = 0;
        backoff_ms = backoff_ms == 0 ? BACKOFF_FIRST_MS : backoff_ms * 2;
        if (backoff_ms > BACKOFF_MAX_MS) backoff_ms = BACKOFF_MAX_MS;
        st.restart_count++;
        st.status = "restarting";
        write_state();
        long long until = now_ms() + backoff_ms;
        while (!stopping) {
            long long left = until - now_ms();
            if (left <= 0) break;
            struct pollfd pfd = { sfd, POLLIN, 0 };
            if (poll(&pfd, 1, (int)left) > 0) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stopping = 1;
                while (waitpid(-1, NULL, WNOHANG) > 0) {
                }
            }
        }
        if (stopping || stat(dir, &dst) != 0) {
            record_end();
            break;
        }
    }
    /* Whatever the container left behind is ours to reap. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (st.removing) remove_container();
    return 0;
}
