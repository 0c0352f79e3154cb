/*
 * teamssh-launch: the last step between the (root) server and a session's program.
 *
 * node-pty and child_process start this binary as root with the session's
 * allowlisted environment. It drops every inherited descriptor (node-pty 1.1.0
 * leaks the pty masters of other live sessions into each child), takes on
 * exactly the account's uid, gid and supplementary groups (node-pty's own
 * uid/gid option keeps the server's groups), and execs the program.
 *
 * While still root it moves itself into the session's cgroup, so the program and
 * everything it ever forks is inside from its first instruction on; only root can
 * move a process out again. Also while root, it sets the nice value the session starts
 * at: the server runs above its sessions (src/launch/priority.ts) and only root may
 * lower a nice value again, so a session never keeps the server's priority.
 *
 * Usage (built by src/launch/launch-args.ts):
 *   teamssh-launch UID GID GROUPS HOME ROOT CGROUP NICE FILE ARGV0 [ARG...]
 *     GROUPS  comma-separated supplementary gids, or "-" for none
 *     ROOT    "allow-root" or "no-root"
 *     CGROUP  absolute path of the session's cgroup v2 directory, or "-" for none
 *     NICE    the nice value the session starts at, -20..19
 *     FILE    absolute path of the program; ARGV0 is what it sees as argv[0]
 *
 * Failures print one line "teamssh: <reason>" on stderr and exit 126
 * (could not set up / not executable) or 127 (program not found).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MAX_GROUPS 1024
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static void die(int status, const char *what, const char *detail) {
	dprintf(2, "teamssh: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	_exit(status);
}

/* Parses a non-negative decimal id; anything else is a caller bug, not a guess. */
static unsigned long parse_id(const char *s, const char *what) {
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || *s == '-' || v >= (unsigned long)UINT_MAX)
		die(126, "bad id argument", what);
	return v;
}

/* Closes every descriptor >= 3 so no server or other-session fd survives exec. */
static void close_inherited_fds(void) {
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	/* Kernel < 5.9: walk /proc/self/fd, skipping the directory's own fd. */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die(126, "cannot list open descriptors", strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (fd >= 3 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

/* Node ignores SIGPIPE and may block signals; a shell must start with defaults. */
static void reset_signals(void) {
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* fails harmlessly for KILL, STOP and unused numbers */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Writes our pid to DIR/cgroup.procs. Fails closed: the server chose a cgroup for this
 * session, and a session it could not end completely must not start. The file must be
 * on cgroup2 so a wrong path can never make us write a pid into an ordinary file
 * (docs/external-systems.md §9).
 */
static void join_cgroup(const char *dir) {
	char path[PATH_MAX];
	if (dir[0] != '/')
		die(126, "launcher usage", "CGROUP must be an absolute path or -");
	if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path)
		die(126, "cgroup path too long", NULL);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(126, "cannot join the session cgroup", strerror(errno));
	struct statfs fs;
	if (fstatfs(fd, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
		die(126, "cannot join the session cgroup", "not a cgroup2 directory");
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)n) != n)
		die(126, "cannot join the session cgroup", strerror(errno));
	close(fd);
}

/* Parses NICE: a decimal -20..19, nothing else. */
static int parse_nice(const char *s) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < -20 || v > 19)
		die(126, "bad nice argument", s);
	return (int)v;
}

/*
 * Gives the session its nice value. Fails closed: a session left at the server's raised
 * priority would outrank every other session (getpriority can return -1 legitimately,
 * hence errno).
 */
static void set_nice(int nice) {
	errno = 0;
	int now = getpriority(PRIO_PROCESS, 0);
	if (errno != 0)
		die(126, "cannot read the session's priority", strerror(errno));
	if (now != nice && setpriority(PRIO_PROCESS, 0, nice) != 0)
		die(126, "cannot set the session's priority", strerror(errno));
}

static size_t parse_groups(char *list, gid_t *out) {
	size_t n = 0;
	if (strcmp(list, "-") == 0)
		return 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (n == MAX_GROUPS)
			die(126, "too many groups", NULL);
		out[n++] = (gid_t)parse_id(tok, "group");
	}
	return n;
}

int main(int argc, char **argv) {
	close_inherited_fds();
	reset_signals();
	if (argc < 10)
		die(126, "launcher usage", "UID GID GROUPS HOME ROOT CGROUP NICE FILE ARGV0 [ARG...]");

	uid_t uid = (uid_t)parse_id(argv[1], "uid");
	gid_t gid = (gid_t)parse_id(argv[2], "gid");
	static gid_t groups[MAX_GROUPS];
	size_t ngroups = parse_groups(argv[3], groups);
	const char *home = argv[4];
	int allow_root = strcmp(argv[5], "allow-root") == 0;
	const char *cgroup = argv[6];
	int nice = parse_nice(argv[7]);
	const char *file = argv[8];

	if (!allow_root && strcmp(argv[5], "no-root") != 0)
		die(126, "launcher usage", "ROOT must be allow-root or no-root");
	if (uid == 0 && !allow_root)
		die(126, "refusing to start a session as root", NULL);

	/* Before anything the program controls runs, and while we may still write cgroup files. */
	if (strcmp(cgroup, "-") != 0)
		join_cgroup(cgroup);
	set_nice(nice);

	/* Order matters: groups and gid can only be changed while still root. */
	if (setgroups(ngroups, groups) != 0)
		die(126, "setgroups failed", strerror(errno));
	if (setgid(gid) != 0)
		die(126, "setgid failed", strerror(errno));
	if (setuid(uid) != 0)
		die(126, "setuid failed", strerror(errno));
	/* setuid() from root sets real, effective and saved ids; prove there is no way back. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || getuid() != uid || geteuid() != uid))
		die(126, "privileges could not be dropped", NULL);

	const char *cwd = home;
	if (chdir(home) != 0) {
		dprintf(2, "teamssh: cannot enter home directory %s (%s), starting in /\n", home, strerror(errno));
		cwd = "/";
		if (chdir("/") != 0)
			die(126, "cannot enter /", strerror(errno));
	}
	/* node-pty always adds PWD=cwd; keep it truthful if we ended up elsewhere. */
	if (getenv("PWD") && setenv("PWD", cwd, 1) != 0)
		die(126, "setenv PWD failed", strerror(errno));

	/* Only this process knows which terminal it got; OpenSSH exports it the same way. */
	if (isatty(0)) {
		const char *tty = ttyname(0);
		if (tty && setenv("SSH_TTY", tty, 1) != 0)
			die(126, "setenv SSH_TTY failed", strerror(errno));
	}

	/* argv[9] becomes the program's argv[0] (e.g. "-bash" for a login shell). */
	extern char **environ;
	execve(file, argv + 9, environ);
	die(errno == ENOENT || errno == ENOTDIR ? 127 : 126, file, strerror(errno));
	return 126;
}
