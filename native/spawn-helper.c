/*
 * hookd-spawn-helper: starts hook processes for hookd and relays their output.
 *
 * Why: Node 20's child_process.spawn forks the whole hookd process on Linux (milliseconds of
 * main-thread CPU per spawn, growing with the heap). This helper is small and starts children with
 * vfork (no copy of anything), and hookd only exchanges a few frames per run with it.
 *
 * hookd starts it once with stdin and stdout as pipes and stderr inherited. It reads requests on
 * stdin, writes events on stdout, reports its own problems on stderr, and exits when stdin
 * reaches EOF (hookd gone). Children keep running then: they lead their own process groups.
 *
 * Protocol (keep in sync with src/executor/spawner.ts). Every frame, both ways, is
 *   u32 length-of-the-rest, then the body; all integers little-endian.
 * Request body (hookd -> helper), always a spawn request:
 *   u32 id, u32 argc, u32 envc, u8 hasCwd,
 *   then argc + envc (+ 1 cwd if hasCwd) NUL-terminated strings: argv..., "NAME=value"..., cwd.
 * Event body (helper -> hookd): u8 type, u32 id, then by type:
 *   1 SPAWNED      i32 pid (also the process group id)
 *   2 SPAWN_ERROR  i32 errno (positive)
 *   3 STDOUT       the bytes (1..65536)
 *   4 STDERR       the bytes (1..65536)
 *   5 EOF_STDOUT   -
 *   6 EOF_STDERR   -
 *   7 EXITED       u8 kind (0 exited, 1 killed by a signal), i32 exit code or signal number,
 *                  u8 group (1 if processes, perhaps zombies, were left in the child's process group
 *                  when it was reaped; 0 if the group was empty then, so hookd need not look)
 * Per id: SPAWNED or SPAWN_ERROR comes first; after SPAWNED come output events, both EOFs and
 * EXITED (EXITED may come before the EOFs when a grandchild keeps a pipe open). After SPAWNED the
 * helper forgets the id once it has sent EXITED and both EOFs.
 * A malformed request makes the helper print the reason on stderr and exit with status 2.
 *
 * Children are started as vfork-exec.h describes (own process group, stdin /dev/null, only fds
 * 0-2, default signal dispositions, empty mask, execvp's PATH search over the request's PATH).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn-events.h"
#include "vfork-exec.h"

#define MAX_REQUEST (64u << 20)      /* a longer request frame can only be garbage */
#define FLUSH_AT (1u << 20)          /* flush batched events early past this many bytes */
#define MAX_EVENTS 64
#define TAG_STDIN UINT64_MAX
#define TAG_SIGNAL (UINT64_MAX - 1)

/* One running child. gen changes whenever the slot is reused, so a stale epoll event (for a
 * slot freed earlier in the same batch) is recognised and ignored. */
struct child {
	int used;
	int reaped;
	uint32_t gen;
	uint32_t id;
	pid_t pid;
	int fd[2]; /* read ends of the child's stdout and stderr pipes, -1 once closed */
};

static struct child *children;
static size_t nchildren;
static int epfd = -1;
static int sigfd = -1;

static unsigned char *out;  /* events batched during one loop iteration */
static size_t out_len, out_cap;
static unsigned char *in;   /* request bytes not yet parsed */
static size_t in_len, in_cap;

static void die(int status, const char *fmt, ...)
{
	va_list ap;
	fputs("hookd-spawn-helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

#define die_sys(what) die(1, "%s: %s", (what), strerror(errno))
#define malformed(...) die(2, "malformed request: " __VA_ARGS__)

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die(1, "out of memory");
	return p;
}

/* ---- events to hookd ---- */

static void out_reserve(size_t n)
{
	if (out_len + n <= out_cap)
		return;
	size_t cap = out_cap ? out_cap : 256 * 1024;
	while (cap < out_len + n)
		cap *= 2;
	out = xrealloc(out, cap);
	out_cap = cap;
}

/* A blocking write of everything batched. hookd reads promptly; if it stalls, we stall, and the
 * children block on their full pipes: natural back-pressure. */
static void flush_out(void)
{
	size_t off = 0;
	while (off < out_len) {
		ssize_t n = write(STDOUT_FILENO, out + off, out_len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			/* only if someone made our stdout non-blocking */
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			poll(&p, 1, -1);
		} else if (n < 0 && errno == EPIPE) {
			exit(0); /* hookd is gone; nobody is left to tell */
		} else {
			die_sys("write to hookd");
		}
	}
	out_len = 0;
}

/* Appends an event header and returns where its payload goes. */
static unsigned char *event(uint8_t type, uint32_t id, size_t payload)
{
	out_reserve(EVENT_HEADER + payload);
	unsigned char *p = out + out_len;
	put_u32(p, (uint32_t)(5 + payload));
	p[4] = type;
	put_u32(p + 5, id);
	out_len += EVENT_HEADER + payload;
	return p + EVENT_HEADER;
}

static void event_i32(uint8_t type, uint32_t id, int32_t value)
{
	put_u32(event(type, id, 4), (uint32_t)value);
}

/* ---- the child table ---- */

static uint64_t pipe_tag(size_t idx, int stream)
{
	return (uint64_t)children[idx].gen << 32 | (uint64_t)idx << 1 | (uint64_t)stream;
}

static size_t child_alloc(void)
{
	for (size_t i = 0; i < nchildren; i++)
		if (!children[i].used)
			return i;
	size_t n = nchildren ? nchildren * 2 : 64;
	children = xrealloc(children, n * sizeof *children);
	memset(children + nchildren, 0, (n - nchildren) * sizeof *children);
	size_t idx = nchildren;
	nchildren = n;
	return idx;
}

static void child_maybe_free(struct child *c)
{
	if (c->reaped && c->fd[0] < 0 && c->fd[1] < 0) {
		c->used = 0;
		c->gen++;
	}
}

static void close_stream(struct child *c, int stream)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd[stream], NULL);
	close(c->fd[stream]);
	c->fd[stream] = -1;
	event(stream ? EV_EOF_STDERR : EV_EOF_STDOUT, c->id, 0);
	child_maybe_free(c);
}

/* ---- spawning (vfork-exec.h) ---- */

/* Signals ignored when we started (from hookd: SIGPIPE; from whoever started hookd: maybe more).
 * exec keeps ignored signals ignored, so children set them back to the default. Handled signals
 * need nothing: exec resets those, and we handle none. */
static int ignored_signals[_NSIG];
static int nignored;

/* Starts one child; returns 0 or an errno. The child is in the table before we return to the
 * event loop, so its SIGCHLD (handled only there) always finds it. */
static int start_child(uint32_t id, char **argv, char **envp, const char *cwd)
{
	pid_t pid = -1;
	int fds[2] = { -1, -1 };
	int err = vfx_start(&pid, fds, argv, envp, cwd, ignored_signals, nignored);
	if (err)
		return err;

	size_t idx = child_alloc();
	struct child *c = &children[idx];
	c->used = 1;
	c->reaped = 0;
	c->id = id;
	c->pid = pid;
	c->fd[0] = fds[0];
	c->fd[1] = fds[1];
	for (int s = 0; s < 2; s++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = pipe_tag(idx, s) };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd[s], &ev) < 0)
			die_sys("epoll_ctl(child pipe)");
	}
	event_i32(EV_SPAWNED, id, pid);
	return 0;
}

/* Parses one request body (len bytes) and spawns it. */
static void handle_request(const unsigned char *body, uint32_t len)
{
	if (len < 13)
		malformed("%u bytes is too short", len);
	uint32_t id = get_u32(body), argc = get_u32(body + 4), envc = get_u32(body + 8);
	uint8_t has_cwd = body[12];
	if (has_cwd > 1)
		malformed("hasCwd is %u", has_cwd);
	/* Every string takes at least its NUL, which bounds the counts (and the allocations). */
	uint64_t nstr = (uint64_t)argc + envc + has_cwd;
	if (nstr > len - 13)
		malformed("%u args and %u env entries cannot fit in %u bytes", argc, envc, len);

	char **argv = xrealloc(NULL, ((size_t)argc + 1) * sizeof *argv);
	char **envp = xrealloc(NULL, ((size_t)envc + 1) * sizeof *envp);
	const char *cwd = NULL;
	char *end = (char *)body + len, *rest;
	long long bad = vfx_unpack((char *)body + 13, end, argv, argc, envp, envc, has_cwd, &cwd, &rest);
	if (bad >= 0)
		malformed("string %lld of request %u is not NUL-terminated", bad, id);
	if (rest != end)
		malformed("%zu stray bytes after the strings of request %u", (size_t)(end - rest), id);

	int err = argc ? start_child(id, argv, envp, cwd) : EINVAL;
	if (err)
		event_i32(EV_SPAWN_ERROR, id, err);
	free(argv);
	free(envp);
}

/* ---- event sources ---- */

static void on_stdin(void)
{
	if (in_cap - in_len < READ_CHUNK) {
		in_cap = in_len + READ_CHUNK;
		in = xrealloc(in, in_cap);
	}
	ssize_t n = read(STDIN_FILENO, in + in_len, in_cap - in_len);
	if (n == 0) {
		flush_out();
		exit(0); /* hookd closed our stdin: it is done with us */
	}
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die_sys("read from hookd");
	}
	in_len += (size_t)n;

	/* Requests may arrive split or many at once. */
	size_t pos = 0;
	while (in_len - pos >= 4) {
		uint32_t len = get_u32(in + pos);
		if (len > MAX_REQUEST)
			malformed("frame length %u exceeds %u", len, MAX_REQUEST);
		if (in_len - pos - 4 < len)
			break;
		handle_request(in + pos + 4, len);
		pos += 4 + (size_t)len;
	}
	memmove(in, in + pos, in_len - pos);
	in_len -= pos;
	/* Give back the memory of one huge request. */
	if (in_cap > 4 * READ_CHUNK && in_len < READ_CHUNK) {
		in_cap = READ_CHUNK;
		in = xrealloc(in, in_cap);
	}
}

static void on_sigchld(void)
{
	struct signalfd_siginfo si;
	/* Drain: several SIGCHLDs coalesce into one, so the waitpid loop below is what counts. */
	while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		for (size_t i = 0; i < nchildren; i++) {
			struct child *c = &children[i];
			if (!c->used || c->reaped || c->pid != pid)
				continue;
			unsigned char *p = event(EV_EXITED, c->id, 6);
			if (WIFSIGNALED(st)) {
				p[0] = 1;
				put_u32(p + 1, (uint32_t)WTERMSIG(st));
			} else {
				p[0] = 0;
				put_u32(p + 1, (uint32_t)WEXITSTATUS(st));
			}
			/* The leader is reaped, so only other members can answer. Cheap here; in hookd
			 * the same check costs an exception per run. */
			p[5] = kill(-pid, 0) == 0 || errno == EPERM;
			c->reaped = 1;
			child_maybe_free(c);
			break;
		}
	}
}

static void on_pipe(uint64_t tag, uint32_t events)
{
	size_t idx = (size_t)(tag & 0xffffffffu) >> 1;
	int stream = (int)(tag & 1);
	if (idx >= nchildren)
		return;
	struct child *c = &children[idx];
	if (!c->used || c->gen != (uint32_t)(tag >> 32) || c->fd[stream] < 0)
		return;

	for (;;) {
		/* Read straight into the batch, behind a header we fill in once the size is known. */
		out_reserve(EVENT_HEADER + READ_CHUNK);
		ssize_t n = read(c->fd[stream], out + out_len + EVENT_HEADER, READ_CHUNK);
		if (n > 0) {
			event(stream ? EV_STDERR : EV_STDOUT, c->id, (size_t)n);
			/* The writers are gone (HUP): what is left in the pipe is all there will be, so take
			 * it and the EOF now, in this iteration's write, instead of one more round trip. */
			if (!(events & (EPOLLHUP | EPOLLERR)))
				return;
			if (out_len >= FLUSH_AT)
				flush_out();
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			close_stream(c, stream); /* EOF, or an error that leaves nothing more to read */
		return;
	}
}

static void setup(void)
{
	/* hookd's end of our stdio must not leak into hooks (fds 0-2 are replaced in children
	 * anyway, but be explicit), and nothing else we were started with either. */
	int ranged = 0;
	for (int fd = 0; fd <= 2; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0)
			die(1, "fd %d is not open: start me with stdin and stdout as pipes", fd);
		fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		ranged = 1;
#endif
	if (!ranged) {
		for (int fd = 3; fd < 1024; fd++) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0)
				fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
		}
	}

	/* A gone hookd shows up as EPIPE on write, not as a deadly signal. */
	signal(SIGPIPE, SIG_IGN);

	/* SIGCHLD only through the signalfd, handled in the loop. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		die_sys("sigprocmask");
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		die_sys("signalfd");

	/* What children must set back to the default (see child_exec). glibc refuses its two
	 * internal signals here, and they are not ignored in children either. */
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction sa;
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			ignored_signals[nignored++] = sig;
	}

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die_sys("epoll_create1");
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_STDIN };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
		die_sys("epoll_ctl(stdin)");
	ev.data.u64 = TAG_SIGNAL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev) < 0)
		die_sys("epoll_ctl(signalfd)");
}

int main(void)
{
	setup();
	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_sys("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == TAG_STDIN)
				on_stdin();
			else if (tag == TAG_SIGNAL)
				on_sigchld();
			else
				on_pipe(tag, evs[i].events);
			if (out_len >= FLUSH_AT)
				flush_out();
		}
		/* One write per iteration for all the small frames it produced. */
		flush_out();
	}
}
