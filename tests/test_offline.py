"""Nothing ragkit does reaches the network or writes outside its own folders, proven at the
system-call level.

A Python audit hook cannot see a socket opened from C or C++ (onnxruntime's telemetry was
exactly that), and a network namespace hides a failed look-up. So every pipeline runs in a
child process under ``GUARD_C``, an ``LD_PRELOAD`` library compiled here with the system
``cc``: it wraps the C library's socket, connect, sendto, sendmsg and name look-ups, and adds
a seccomp filter for socket system calls that bypass the C library; each internet attempt
is logged and refused. It also logs every file opened for writing, created, renamed or
removed. The guard is first shown to catch planted attempts, and onnxruntime's own
telemetry once ragkit's switch is undone.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ragkit import Config

from .helpers import INTAKE, SAMPLES, make_scanned_pdf

GUARD_C = r"""
/* Loaded with LD_PRELOAD; logs to $RAGKIT_GUARD_LOG, one "<pid> <kind> <what>" line per event:
 *   net   an internet socket, connect, send or name look-up, refused (EACCES / EAI_FAIL),
 *         seen by the wrappers below or, for a socket(2) that bypasses the C library (raw
 *         syscall, the C library's own resolver), by the seccomp filter's SIGSYS handler;
 *   fs    a file opened for writing, created, renamed to or removed (not refused);
 *   ready the guard is loaded in this process;  error  the guard could not install itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#define GUARD_ARCH AUDIT_ARCH_X86_64
#define GUARD_ARG0(ctx) ((ctx)->uc_mcontext.gregs[REG_RDI])
#define GUARD_RET(ctx) ((ctx)->uc_mcontext.gregs[REG_RAX])
#elif defined(__aarch64__)
#define GUARD_ARCH AUDIT_ARCH_AARCH64
#define GUARD_ARG0(ctx) ((ctx)->uc_mcontext.regs[0])
#define GUARD_RET(ctx) ((ctx)->uc_mcontext.regs[0])
#endif

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

/* Append one line to the log: raw system calls only, so it is safe in a signal handler and
 * never passes through the wrappers below. */
static void guard_log(const char *kind, const char *a, const char *b) {
    const char *path = getenv("RAGKIT_GUARD_LOG");
    char line[4096];
    if (!path) return;
    int n = snprintf(line, sizeof line, "%ld %s %s %s\n", (long)syscall(SYS_getpid), kind,
                     a ? a : "", b ? b : "");
    if (n < 0) return;
    if (n >= (int)sizeof line) { n = sizeof line; line[n - 1] = '\n'; }
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                          0600);
    if (fd < 0) return;
    (void)!syscall(SYS_write, fd, line, (size_t)n);
    syscall(SYS_close, fd);
}

static int is_inet(int family) {
    return family == AF_INET || family == AF_INET6 || family == AF_PACKET;
}

static int fd_is_inet(int fd) {
    int domain = 0;
    socklen_t len = sizeof domain;
    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && is_inet(domain);
}

static void describe(const struct sockaddr *sa, char *out, size_t size) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (!sa) { snprintf(out, size, "(connected socket)"); return; }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, size, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, size, "family=%d", sa->sa_family);
    }
}

static int net_address(int fd, const struct sockaddr *sa, const char *call) {
    if ((sa && is_inet(sa->sa_family)) || fd_is_inet(fd)) {
        char where[128];
        describe(sa && is_inet(sa->sa_family) ? sa : NULL, where, sizeof where);
        guard_log("net", call, where);
        return 1;
    }
    return 0;
}

#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* --- network ------------------------------------------------------------------------- */

int socket(int domain, int type, int protocol) {
    REAL(socket);
    if (is_inet(domain)) {
        char what[32];
        snprintf(what, sizeof what, "domain=%d", domain);
        guard_log("net", "socket", what);
        errno = EACCES;
        return -1;
    }
    return real_socket(domain, type, protocol);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    REAL(connect);
    if (net_address(fd, addr, "connect")) { errno = EACCES; return -1; }
    return real_connect(fd, addr, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t len) {
    REAL(sendto);
    if (net_address(fd, addr, "sendto")) { errno = EACCES; return -1; }
    return real_sendto(fd, buf, n, flags, addr, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    REAL(sendmsg);
    if (net_address(fd, msg ? (const struct sockaddr *)msg->msg_name : NULL, "sendmsg")) {
        errno = EACCES;
        return -1;
    }
    return real_sendmsg(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags) {
    REAL(sendmmsg);
    for (unsigned int i = 0; i < n; i++) {
        if (net_address(fd, (const struct sockaddr *)vec[i].msg_hdr.msg_name, "sendmmsg")) {
            errno = EACCES;
            return -1;
        }
    }
    return real_sendmmsg(fd, vec, n, flags);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    guard_log("net", "getaddrinfo", node ? node : "(null)");
    (void)service; (void)hints; (void)res;
    return EAI_FAIL;
}

int getaddrinfo_a(int mode, struct gaicb *list[], int n, struct sigevent *sev) {
    for (int i = 0; i < n; i++) guard_log("net", "getaddrinfo_a", list[i] ? list[i]->ar_name : "");
    (void)mode; (void)sev;
    return EAI_FAIL;
}

struct hostent *gethostbyname(const char *name) {
    guard_log("net", "gethostbyname", name);
    h_errno = NO_RECOVERY;
    return NULL;
}

struct hostent *gethostbyname2(const char *name, int af) {
    guard_log("net", "gethostbyname2", name);
    (void)af;
    h_errno = NO_RECOVERY;
    return NULL;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
                    struct hostent **result, int *err) {
    guard_log("net", "gethostbyname_r", name);
    (void)ret; (void)buf; (void)len;
    *result = NULL;
    *err = NO_RECOVERY;
    return EACCES;
}

int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
                     struct hostent **result, int *err) {
    guard_log("net", "gethostbyname2_r", name);
    (void)af; (void)ret; (void)buf; (void)len;
    *result = NULL;
    *err = NO_RECOVERY;
    return EACCES;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
    guard_log("net", "gethostbyaddr", "");
    (void)addr; (void)len; (void)type;
    h_errno = NO_RECOVERY;
    return NULL;
}

/* --- files written ------------------------------------------------------------------- */

static int writes(int flags) {
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0 ||
           (flags & O_TMPFILE) == O_TMPFILE;
}

static void note(const char *call, int dirfd, const char *path) {
    char base[4096] = "", full[8192];
    if (!path) return;
    if (path[0] != '/') {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base)) strcpy(base, "?");
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            base[n > 0 ? n : 0] = '\0';
        }
        snprintf(full, sizeof full, "%s/%s", base, path);
    } else {
        snprintf(full, sizeof full, "%s", path);
    }
    guard_log("fs", call, full);
}

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...) {
    REAL(open);
    va_list ap; va_start(ap, flags); mode_t mode = mode_arg(flags, ap); va_end(ap);
    if (writes(flags)) note("open", AT_FDCWD, path);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    REAL(open64);
    va_list ap; va_start(ap, flags); mode_t mode = mode_arg(flags, ap); va_end(ap);
    if (writes(flags)) note("open", AT_FDCWD, path);
    return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
    REAL(openat);
    va_list ap; va_start(ap, flags); mode_t mode = mode_arg(flags, ap); va_end(ap);
    if (writes(flags)) note("openat", dirfd, path);
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    REAL(openat64);
    va_list ap; va_start(ap, flags); mode_t mode = mode_arg(flags, ap); va_end(ap);
    if (writes(flags)) note("openat", dirfd, path);
    return real_openat64(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags) {
    REAL(__open_2);
    if (writes(flags)) note("open", AT_FDCWD, path);
    return real___open_2(path, flags);
}

int __open64_2(const char *path, int flags) {
    REAL(__open64_2);
    if (writes(flags)) note("open", AT_FDCWD, path);
    return real___open64_2(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags) {
    REAL(__openat_2);
    if (writes(flags)) note("openat", dirfd, path);
    return real___openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags) {
    REAL(__openat64_2);
    if (writes(flags)) note("openat", dirfd, path);
    return real___openat64_2(dirfd, path, flags);
}

int creat(const char *path, mode_t mode) {
    REAL(creat);
    note("creat", AT_FDCWD, path);
    return real_creat(path, mode);
}

int creat64(const char *path, mode_t mode) {
    REAL(creat64);
    note("creat", AT_FDCWD, path);
    return real_creat64(path, mode);
}

static int fwrites(const char *mode) {
    return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
}

FILE *fopen(const char *path, const char *mode) {
    REAL(fopen);
    if (fwrites(mode)) note("fopen", AT_FDCWD, path);
    return real_fopen(path, mode);
}

FILE *fopen64(const char *path, const char *mode) {
    REAL(fopen64);
    if (fwrites(mode)) note("fopen", AT_FDCWD, path);
    return real_fopen64(path, mode);
}

FILE *freopen(const char *path, const char *mode, FILE *stream) {
    REAL(freopen);
    if (fwrites(mode)) note("freopen", AT_FDCWD, path);
    return real_freopen(path, mode, stream);
}

int mkdir(const char *path, mode_t mode) {
    REAL(mkdir);
    note("mkdir", AT_FDCWD, path);
    return real_mkdir(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode) {
    REAL(mkdirat);
    note("mkdirat", dirfd, path);
    return real_mkdirat(dirfd, path, mode);
}

int rename(const char *from, const char *to) {
    REAL(rename);
    note("rename", AT_FDCWD, to);
    return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
    REAL(renameat);
    note("renameat", tofd, to);
    return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
    REAL(renameat2);
    note("renameat2", tofd, to);
    return real_renameat2(fromfd, from, tofd, to, flags);
}

int link(const char *from, const char *to) {
    REAL(link);
    note("link", AT_FDCWD, to);
    return real_link(from, to);
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags) {
    REAL(linkat);
    note("linkat", tofd, to);
    return real_linkat(fromfd, from, tofd, to, flags);
}

int symlink(const char *target, const char *path) {
    REAL(symlink);
    note("symlink", AT_FDCWD, path);
    return real_symlink(target, path);
}

int symlinkat(const char *target, int dirfd, const char *path) {
    REAL(symlinkat);
    note("symlinkat", dirfd, path);
    return real_symlinkat(target, dirfd, path);
}

int unlink(const char *path) {
    REAL(unlink);
    note("unlink", AT_FDCWD, path);
    return real_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags) {
    REAL(unlinkat);
    note("unlinkat", dirfd, path);
    return real_unlinkat(dirfd, path, flags);
}

int rmdir(const char *path) {
    REAL(rmdir);
    note("rmdir", AT_FDCWD, path);
    return real_rmdir(path);
}

int truncate(const char *path, off_t length) {
    REAL(truncate);
    note("truncate", AT_FDCWD, path);
    return real_truncate(path, length);
}

/* --- the system-call layer ------------------------------------------------------------ */

#ifdef GUARD_ARCH
static void on_sigsys(int sig, siginfo_t *info, void *context) {
    ucontext_t *ctx = (ucontext_t *)context;
    char what[64];
    (void)sig;
    snprintf(what, sizeof what, "nr=%d arg0=%ld", info->si_syscall, (long)GUARD_ARG0(ctx));
    guard_log("net", "seccomp", what);
    GUARD_RET(ctx) = -EACCES;
}

static void install_seccomp(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GUARD_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP), /* another ABI (i386, x32): refused */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 7, 0), /* x32 ABI: refused */
#else
        BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigsys;
    action.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &action, NULL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        guard_log("error", "seccomp", strerror(errno));
    }
}
#else
static void install_seccomp(void) { guard_log("error", "seccomp", "unsupported architecture"); }
#endif

__attribute__((constructor)) static void guard_start(void) {
    install_seccomp();
    guard_log("ready", "", "");
}
"""

# Variables that switch telemetry or downloads off. They are removed from the children's
# environment, so that what keeps them offline is ragkit itself, not the test runner's shell.
SWITCHES = (
    "ORT_DISABLE_TELEMETRY",
    "HF_HUB_DISABLE_TELEMETRY",
    "DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    # onnxruntime sends no telemetry when it sees a CI runner (measured: none with CI=true),
    # so under CI the pipelines would pass whether or not ragkit switched it off.
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "TF_BUILD",
    "BUILD_ID",
    "JENKINS_URL",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
)

# The one system call the seccomp layer is shown to catch, made raw (no C library wrapper).
SYS_SOCKET = {"x86_64": 41, "aarch64": 198}


@pytest.fixture(scope="session")
def guard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guard library, compiled once for the session."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail(
            "tests/test_offline.py needs a C compiler (`cc`) to build its system-call guard; "
            "install one (e.g. apt-get install gcc). Without it the offline claim is unproven."
        )
    folder = tmp_path_factory.mktemp("guard")
    source = folder / "guard.c"
    source.write_text(GUARD_C)
    library = folder / "guard.so"
    built = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.fail(f"the system-call guard did not compile with {cc}:\n{built.stderr}")
    return library


@dataclass
class Run:
    """A child process under the guard: its own HOME, working folder and temp folder."""

    root: Path
    guard: Path
    ragkit_home: Path

    def __post_init__(self) -> None:
        self.home = self.root / "home"  # also XDG_*: onnxruntime's queue would land here
        self.cwd = self.root / "cwd"
        self.tmp = self.root / "tmp"
        self.log = self.root / "guard.log"
        for folder in (self.home, self.cwd, self.tmp):
            folder.mkdir(parents=True)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SWITCHES and k != "LD_PRELOAD"}
        env.update(
            LD_PRELOAD=str(self.guard),
            RAGKIT_GUARD_LOG=str(self.log),
            RAGKIT_HOME=str(self.ragkit_home),
            HOME=str(self.home),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_STATE_HOME=str(self.home / ".local" / "state"),
            TMPDIR=str(self.tmp),
            # The interpreter's bytecode cache beside the installed sources is Python's, not
            # ragkit's; without this an edited source file would be reported as a write.
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def popen(self, script: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, script: str, *args: str, timeout: float = 300) -> str:
        child = self.popen(script, *args)
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, f"the child failed:\n{err[-4000:]}\n{self.text()}"
        return out

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def events(self, kind: str) -> list[str]:
        """Logged lines of ``kind`` ("net", "fs", "ready" or "error"), without the pid."""
        lines = [line.split(" ", 1) for line in self.text().splitlines()]
        return [rest[len(kind) + 1 :] for _, rest in lines if rest.split(" ", 1)[0] == kind]

    def written(self) -> list[Path]:
        """Every path the child opened for writing, created, renamed to or removed."""
        return [Path(os.path.realpath(e.split(" ", 1)[1])) for e in self.events("fs")]

    def left_behind(self) -> list[Path]:
        """What the child left in its HOME and working folder (both must stay empty)."""
        return sorted([*self.home.rglob("*"), *self.cwd.rglob("*")])


# --- the guard catches what it must ------------------------------------------------------

PLANTED_C = r"""
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(443);
    inet_pton(AF_INET, "192.0.2.7", &to.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    connect(fd, (struct sockaddr *)&to, sizeof to);
    sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to);
    return 0;
}
"""

PLANTED_PY = """
import ctypes, os, socket, sys

libc = ctypes.CDLL(None, use_errno=True)
results = {}

class SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ushort),
                ("addr", ctypes.c_ubyte * 4), ("zero", ctypes.c_ubyte * 8)]

address = (ctypes.c_ubyte * 4)(*socket.inet_aton("192.0.2.8"))
to = SockaddrIn(socket.AF_INET, socket.htons(9), address)
results["ctypes socket"] = libc.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
results["raw syscall socket"] = libc.syscall(int(sys.argv[1]), socket.AF_INET6, 1, 0)
results["ctypes connect"] = libc.connect(-1, ctypes.byref(to), ctypes.sizeof(to))
results["ctypes sendto"] = libc.sendto(-1, b"x", 1, 0, ctypes.byref(to), ctypes.sizeof(to))
for name, attempt in [
    ("create_connection", lambda: socket.create_connection(("192.0.2.9", 80), timeout=1)),
    ("socket.socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM)),
    ("getaddrinfo", lambda: socket.getaddrinfo("planted.example", 443)),
]:
    try:
        attempt()
        results[name] = "went through"
    except OSError as exc:
        results[name] = type(exc).__name__
socket.socket(socket.AF_UNIX).close()  # local IPC is not network
with open(os.path.join(os.environ["HOME"], "planted.txt"), "w") as f:
    f.write("a file written outside the allowed folders")
print(results)
"""


def test_guard_catches_planted_network_attempts_and_writes(guard: Path, tmp_path: Path) -> None:
    machine = platform.machine()
    if machine not in SYS_SOCKET:
        pytest.fail(f"the guard's seccomp layer knows x86_64 and aarch64, not {machine}")
    run = Run(tmp_path, guard, ragkit_home=tmp_path)

    # A C program: socket, connect and sendto, from C.
    planted = tmp_path / "planted"
    (tmp_path / "planted.c").write_text(PLANTED_C)
    subprocess.run(["cc", "-o", str(planted), str(tmp_path / "planted.c")], check=True)
    subprocess.run([str(planted)], env=run.env, cwd=run.cwd, check=True, timeout=30)
    # Python: C calls through ctypes, a raw system call, and the socket module.
    out = run.run(PLANTED_PY, str(SYS_SOCKET[machine]), timeout=60)

    assert "went through" not in out, out
    net = run.events("net")
    assert net == [
        "socket domain=2",  # the C program
        "connect 192.0.2.7:443",
        "sendto 192.0.2.7:443",
        "socket domain=2",  # ctypes
        f"seccomp nr={SYS_SOCKET[machine]} arg0=10",  # raw syscall(2): only seccomp sees it
        "connect 192.0.2.8:9",
        "sendto 192.0.2.8:9",
        "getaddrinfo 192.0.2.9",  # socket.create_connection
        "socket domain=10",  # socket.socket
        "getaddrinfo planted.example",
    ], run.text()
    assert run.events("error") == []
    assert len(run.events("ready")) == 2  # the C program and Python
    assert run.home / "planted.txt" in run.written()
    assert run.left_behind() == [run.home / "planted.txt"]


TELEMETRY_BACK_ON = """
import os, sys, time
from pathlib import Path

import ragkit  # switches the telemetry off...

assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
assert "onnxruntime" not in sys.modules, "importing ragkit loaded onnxruntime"
os.environ["ORT_DISABLE_TELEMETRY"] = "0"  # ...and this undoes it before onnxruntime loads

from ragkit import Config, ModelPacks
from ragkit.models import Encoder

config = Config(home=Path(os.environ["RAGKIT_HOME"]))
encoder = Encoder(ModelPacks(config).get(config.encoder_pack(), "encoder"), threads=1)
encoder.encode(["does anything leave this machine?"])
log = Path(os.environ["RAGKIT_GUARD_LOG"])
deadline = time.monotonic() + 90  # onnxruntime 1.32 sends its first batch after ~10 s
while time.monotonic() < deadline:
    if log.exists() and "getaddrinfo mobile.events.data.microsoft.com" in log.read_text():
        break
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def telemetry_back_on(
    guard: Path, tmp_path_factory: pytest.TempPathFactory, home: Path
) -> Iterator[tuple[Run, subprocess.Popen[str]]]:
    """onnxruntime loaded through ragkit with its switch undone, started at once so that
    its wait for the telemetry runs alongside the pipelines below."""
    run = Run(tmp_path_factory.mktemp("telemetry"), guard, home)
    child = run.popen(TELEMETRY_BACK_ON)
    yield run, child
    if child.poll() is None:
        child.kill()
        child.communicate()


# --- every pipeline, under the guard -----------------------------------------------------

PIPELINES = """
import io, json, sys
from pathlib import Path

from ragkit import Assistant, Config
from ragkit.cli import main as cli

home, generator, db, corpus = sys.argv[1:]
# One thread: llama.cpp's threads wait on one another, and on a busy machine with two cores
# two of them can make an answer take minutes instead of seconds.
config = Config(home=Path(home), generator=generator, threads=1)
done = {}
with Assistant(Path(db), config) as kb:
    report = kb.add(Path(corpus))
    assert report.added and not report.failed, report
    done["ingest"] = len(report.added)
    done["search"] = len(kb.search("parking level for visitors"))
    # The scanned intake form is read by OCR in the parse worker, under the guard too.
    done["ocr"] = [p.page for p in kb.search("allergy to penicillin", k=3) if p.ocr]
    stream = kb.ask_stream("On which garage level should visitors park?")
    done["ask stream"] = len(list(stream))
    answers = [stream.answer]
    answers.append(kb.ask("What does a lost key fob cost?", mode="extractive"))
    chat = kb.chat()
    answers.append(chat.ask("What does a lost key fob cost?"))
    answers.append(chat.ask("Who do I report it to?"))
done["answers"] = [[a.mode, a.abstained, len(a.citations)] for a in answers]

# The command line, the way the data protection officer ran it (without the model, which
# it would run on every core: the generator was exercised above).
base = ["--home", home, "--generator", generator, "--db", db]
for args, typed in [
    (["search", "visitor parking"], ""),
    (["ask", "--extractive", "What does a lost key fob cost?"], ""),
    (["chat", "--extractive"], "What does a lost key fob cost?\\n/sources\\n/exit\\n"),
]:
    sys.stdin = io.StringIO(typed)
    cli.main([*base, *args], standalone_mode=False)
    done["cli " + args[0]] = "ok"
print("RESULT " + json.dumps(done))
"""


def test_every_pipeline_stays_offline_and_writes_only_its_folders(
    guard: Path,
    tmp_path: Path,
    config: Config,
    telemetry_back_on: tuple[Run, subprocess.Popen[str]],
) -> None:
    run = Run(tmp_path, guard, config.home)
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    make_scanned_pdf(corpus / "scanned-intake.pdf", [["Intake form"], INTAKE])
    index = tmp_path / "index"
    index.mkdir()
    out = run.run(
        PIPELINES, str(config.home), str(config.generator), str(index / "i.db"), str(corpus)
    )

    done = json.loads(out.rsplit("RESULT ", 1)[1])
    assert done["ingest"] and done["search"] and done["ask stream"], done
    assert 2 in done["ocr"], done
    modes = [mode for mode, _, _ in done["answers"]]
    assert modes == ["generate", "extractive", "generate", "generate"], done
    assert all(abstained != bool(cited) for _, abstained, cited in done["answers"]), done
    assert {"cli search", "cli ask", "cli chat"} <= done.keys(), done

    assert run.events("error") == []
    assert run.events("ready"), "the guard was not loaded into the child"
    assert run.events("net") == [], run.text()
    written = run.written()
    assert any(p.is_relative_to(index) for p in written), "the guard saw no index write"
    allowed = [index.resolve(), config.home.resolve(), run.tmp.resolve()]
    stray = [
        p
        for p in written
        if p != Path(os.devnull) and not any(p.is_relative_to(a) for a in allowed)
    ]
    assert stray == [], stray
    assert run.left_behind() == []


def test_the_guard_sees_onnxruntime_telemetry_when_ragkit_does_not_switch_it_off(
    telemetry_back_on: tuple[Run, subprocess.Popen[str]],
) -> None:
    """The control: what the test above would report if ragkit's switch were missing."""
    run, child = telemetry_back_on
    _, err = child.communicate(timeout=150)
    assert child.returncode == 0, err[-4000:]
    assert "getaddrinfo mobile.events.data.microsoft.com" in run.events("net"), (
        "onnxruntime's telemetry did not show up with ORT_DISABLE_TELEMETRY=0; if this "
        f"onnxruntime no longer has any, this control can go.\n{run.text()}"
    )
    queue = run.home / ".cache" / "Microsoft" / "DeveloperTools" / ".onnxruntime"
    assert queue in run.left_behind()


def test_audit_hook_guard_catches_a_python_connection(no_network: list) -> None:
    # The in-process `no_network` fixture (used by test_encoder) sees Python-level sockets
    # only; it must still work, or the tests using it prove nothing.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.5)
    assert no_network
