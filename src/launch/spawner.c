/*
 * teamssh-spawner: forks and execs the session launcher on the server's request, so the
 * ~100 MB Node process is forked once (to start this) instead of once per session
 * (child_process.spawn was 17% of the server's main-thread time at 400 logins, ~5.7 ms each).
 *
 * It decides nothing about identity: it only ever execs the launcher given as argv[1], as
 * root, with the argv and environment the server sent; the launcher still drops every
 * inherited descriptor and takes the account's exact uid, gid and groups.
 *
 * Protocol (docs/spawner.md has the full contract). The server starts it with
 * child_process.spawn(..., { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }), so fd
 * NODE_CHANNEL_FD is Node's IPC channel: JSON, one message per line.
 *   server -> spawner  {"cmd":"spawn","id":N,"argv":["...",...],"env":["K=V",...]}
 *   spawner -> server  per stdio stream k = 0, 1, 2, the socket's other end attached (SCM_RIGHTS):
 *                      {"cmd":"NODE_HANDLE","type":"net.Native","msg":{"id":N,"pid":P,"stream":k}}
 *                      then, once reaped: {"id":N,"pid":P,"code":C} or {"id":N,"pid":P,"signal":S}
 *                      or, if it could not start: {"id":N,"error":"reason"}
 * Node answers each handle with {"cmd":"NODE_HANDLE_ACK"}; other lines without "spawn" are ignored.
 * It exits when the channel closes, and gets SIGKILL when the server dies (PR_SET_PDEATHSIG).
 *
 * Usage: teamssh-spawner LAUNCHER SERVER_PID
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner-json.h"

#define MAX_LINE (1024 * 1024)
#define MAX_CHILDREN 65536

static int chan = -1;
static const char *launcher;

/* Live children: pid -> request id, so an exit can be reported under its id. */
static struct child {
	pid_t pid;
	long long id;
} children[MAX_CHILDREN];
static size_t nchildren;
/* Set while skipping the rest of an over-long line. */
static int discarding;

static void fail(const char *what) {
	dprintf(2, "teamssh-spawner: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* One message, with at most one descriptor attached; blocking, small, never split. */
static void send_msg(const char *text, int fd) {
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (iov.iov_len > 0) {
		ssize_t n = sendmsg(chan, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(0); /* the server is gone: nothing left to serve */
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		m.msg_control = NULL; /* the descriptor went with the first byte */
		m.msg_controllen = 0;
	}
}

static void reply_error(long long id, const char *reason) {
	char msg[256];
	snprintf(msg, sizeof msg, "{\"id\":%lld,\"error\":\"%s\"}\n", id, reason);
	send_msg(msg, -1);
}

/*
 * In the vfork child, until exec: only system calls, on the parent's memory. The spawner has
 * no signal handlers, so nothing of ours can run here. posix_spawn was tried first: glibc's
 * leaves its two internal signals (32, 33) ignored in the child, which the launcher cannot
 * reset and test/integration/launch-identity.test.ts rightly refuses.
 */
static void exec_launcher(int pairs[3][2], char **argv, char **envp) {
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Own session and process group (pid = sid = pgid), as child_process's `detached` gave. */
	if (setsid() < 0)
		_exit(126);
	/* Every descriptor of ours is close-on-exec; dup2 makes these three the only ones that stay. */
	for (int k = 0; k < 3; k++)
		if (dup2(pairs[k][1], k) < 0)
			_exit(126);
	execve(launcher, argv, envp);
	static const char msg[] = "teamssh: cannot run the session launcher\n";
	if (write(2, msg, sizeof msg - 1) < 0) {
	}
	_exit(126);
}

/* Kept apart so no caller variable is live across vfork (gcc -Wclobbered). */
static pid_t __attribute__((noinline)) start_child(int pairs[3][2], char **argv, char **envp) {
	pid_t pid = vfork();
	if (pid == 0)
		exec_launcher(pairs, argv, envp);
	return pid;
}

/*
 * vfork returns only once the launcher is exec'd (or failed), so when the server hears the
 * pid the process already leads its own process group: kill(-pid) reaches it at once.
 */
static void spawn_session(long long id, char **argv, char **envp) {
	if (nchildren == MAX_CHILDREN) {
		reply_error(id, "too many sessions");
		return;
	}
	int pairs[3][2];
	int made = 0;
	for (; made < 3; made++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[made]) != 0)
			break;
	pid_t pid = -1;
	if (made == 3)
		pid = start_child(pairs, argv, envp);
	int err = errno;
	for (int k = 0; k < made; k++)
		close(pairs[k][1]);
	if (pid < 0) {
		for (int k = 0; k < made; k++)
			close(pairs[k][0]);
		reply_error(id, made < 3 ? "socketpair failed" : "fork failed");
		dprintf(2, "teamssh-spawner: %s: %s\n", made < 3 ? "socketpair" : "vfork", strerror(err));
		return;
	}
	children[nchildren].pid = pid;
	children[nchildren].id = id;
	nchildren++;
	for (int k = 0; k < 3; k++) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"id\":%lld,\"pid\":%d,\"stream\":%d}}\n",
			 id, (int)pid, k);
		send_msg(msg, pairs[k][0]);
		close(pairs[k][0]);
	}
}

/* Reports every child that ended; exits of pids we did not start cannot happen but are ignored. */
static void reap(void) {
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < nchildren; i++) {
			if (children[i].pid != pid)
				continue;
			char msg[128];
			if (WIFSIGNALED(status))
				snprintf(msg, sizeof msg, "{\"id\":%lld,\"pid\":%d,\"signal\":%d}\n", children[i].id, (int)pid, WTERMSIG(status));
			else
				snprintf(msg, sizeof msg, "{\"id\":%lld,\"pid\":%d,\"code\":%d}\n", children[i].id, (int)pid, WEXITSTATUS(status));
			children[i] = children[--nchildren];
			send_msg(msg, -1);
			break;
		}
	}
}

static void handle_line(char *line, size_t len) {
	struct spawn_request req;
	if (parse_spawn_request(line, len, &req) != 0) {
		if (req.id >= 0)
			reply_error(req.id, "bad request");
		return;
	}
	if (req.cmd_is_spawn)
		spawn_session(req.id, req.argv, req.envp);
	free_spawn_request(&req);
}

/* Reads whatever arrived; any descriptor sent along is closed, never kept or passed on. */
static void read_channel(char **buf, size_t *used, size_t *cap) {
	if (*cap - *used < 65536) {
		size_t ncap = *cap * 2;
		char *nbuf = realloc(*buf, ncap);
		if (!nbuf)
			fail("out of memory");
		*buf = nbuf;
		*cap = ncap;
	}
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	struct iovec iov = { .iov_base = *buf + *used, .iov_len = *cap - *used };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	ssize_t n = recvmsg(chan, &m, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		_exit(0); /* channel closed: the server is gone or stopped us */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
	*used += (size_t)n;
	size_t start = 0;
	for (size_t i = *used - (size_t)n; i < *used; i++) {
		if ((*buf)[i] != '\n')
			continue;
		if (!discarding)
			handle_line(*buf + start, i - start);
		discarding = 0;
		start = i + 1;
	}
	memmove(*buf, *buf + start, *used - start);
	*used -= start;
	if (*used > MAX_LINE || (discarding && *used > 0)) {
		/* A line this long is not a request we sent: drop it, up to and including its newline. */
		if (!discarding)
			dprintf(2, "teamssh-spawner: dropping an over-long request\n");
		discarding = 1;
		*used = 0;
	}
}

int main(int argc, char **argv) {
	if (argc != 3 || argv[1][0] != '/')
		return dprintf(2, "teamssh-spawner: usage: teamssh-spawner LAUNCHER SERVER_PID\n"), 2;
	launcher = argv[1];
	/* Die with the server; if it died before this call, the parent is already someone else. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fail("prctl");
	if (getppid() != (pid_t)atol(argv[2]))
		return 1;
	const char *fdenv = getenv("NODE_CHANNEL_FD");
	if (!fdenv)
		return dprintf(2, "teamssh-spawner: no NODE_CHANNEL_FD; start it from the server\n"), 2;
	chan = atoi(fdenv);
	if (chan < 3 || fcntl(chan, F_SETFD, FD_CLOEXEC) != 0)
		fail("bad NODE_CHANNEL_FD");
	/* Descriptors 0-2 must be taken, so a socketpair end can never land on them. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fail("open /dev/null");
	if (chdir("/") != 0)
		fail("chdir /");
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0)
		fail("sigprocmask");
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		fail("signalfd");

	size_t cap = 131072, used = 0;
	char *buf = malloc(cap);
	if (!buf)
		fail("out of memory");
	struct pollfd pfd[2] = { { .fd = chan, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
			}
			reap();
		}
		if (pfd[0].revents)
			read_channel(&buf, &used, &cap);
	}
}
