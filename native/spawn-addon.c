/*
 * hookd-spawn.node: starts hook processes from inside hookd (a Node-API addon).
 *
 * Why: Node 20's child_process.spawn (and so execa) forks the whole hookd process on Linux, which
 * costs main-thread CPU per spawn, growing with the heap. Here vfork + exec (vfork-exec.h) runs on
 * a thread of hookd's own (the spawn thread), and the children's pipes and pidfds sit in an epoll
 * set of our own, which Node's event loop (libuv) watches as one fd: everything that happened to
 * any child during one loop iteration reaches JavaScript in one call. Measured in BENCHMARKS.md.
 *
 * Why a thread: vfork suspends the calling thread until the child has exec'd, and the child needs
 * a CPU for that, which under load it queues for behind the running hooks (BENCHMARKS.md); the
 * spawn thread waits instead, and the main thread goes on serving requests. The thread only
 * starts processes: it hands each one's fds to the main thread (a queue and an eventfd in the
 * epoll set), which does all the watching, so nothing else is shared between the two.
 *
 * JavaScript API (src/executor/addon-spawner.ts, AddonSpawner):
 *   open(callback) -> instance: an epoll set, its libuv handle and a spawn thread; callback(events:
 *     Buffer) then receives the events of the children spawned through this instance, several per
 *     call.
 *   spawn(instance, id, strings: Buffer, argc, envc, hasCwd): queues a start; SPAWNED or
 *     SPAWN_ERROR for `id` follows as an event. id: the caller's u32 name for the child in events.
 *     strings: argc + envc (+ 1 if hasCwd) NUL-terminated strings: argv..., "NAME=value"..., cwd.
 *   close(instance): no more spawns; the epoll set and the thread go once the starts queued and
 *     the children watched are done.
 *   pause(instance, id, paused): stops or resumes reading the child's output pipes.
 * Events (spawn-events.h): u32 length-of-the-rest, u8 type, u32 id, then
 *   1 SPAWNED             i32 pid
 *   2 SPAWN_ERROR         i32 errno (positive): nothing was started
 *   3 STDOUT / 4 STDERR   the bytes (1..65536)
 *   5 EOF_STDOUT / 6 EOF_STDERR
 *   7 EXITED              u8 kind (0 exited, 1 killed by a signal), i32 code or signal number,
 *                         u8 group (1 if processes were left in the child's process group when
 *                         it was reaped; 0 if it was empty, so nothing of the hook is left)
 * Per id: SPAWNED or SPAWN_ERROR first, and the child's other events only in later callbacks (so
 * whoever awaits the start has its continuations run before output arrives); EXITED may come
 * before the EOFs (a grandchild holding a pipe). After EXITED and both EOFs the id is forgotten.
 *
 * Requires Linux 5.3+ for pidfd_open; loading fails otherwise, and HOOKD_SPAWNER=auto uses execa.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 6
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn-events.h"
#include "vfork-exec.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define FLUSH_AT (1u << 20) /* hand a batch to JavaScript early past this many bytes */
#define MAX_EVENTS 64
#define PIDFD 2             /* fd[] index of the pidfd */
#define WAKE 3              /* epoll tag of the eventfd: the spawn thread has results */

/* Per Node environment (main thread or worker): what every instance shares. */
struct addon {
	uv_loop_t *loop;
	napi_ref resource;
	napi_async_context context;
	/* Signals the child sets back to the default: 1-31 always (Node and libuv install handlers
	 * whenever they like, and exec resets only handled ones, not ignored ones like Node's
	 * SIGPIPE), as libuv's own spawn does; real-time ones that were not default at load. */
	int reset[_NSIG];
	int nreset;
};

/* A start the main thread asked for: the strings are a copy (the JavaScript buffer may change). */
struct request {
	struct request *next;
	uint32_t id, nargv, nenv, has_cwd;
	size_t len;
	char strings[];
};

/* What the spawn thread did with one request: err, or the pid and its fds (the pidfd last). */
struct result {
	struct result *next;
	uint32_t id;
	int err;
	pid_t pid;
	int fd[3];
};

/* The spawn thread and what it shares with the main thread: two queues, under `mu`. */
struct starter {
	pthread_t thread;
	int running;        /* the thread was created and not joined yet */
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* requests arrived, or stop */
	struct request *req_head, *req_tail;
	struct result *res_head, *res_tail;
	int idle;           /* the thread waits on `cv`: a new request must signal it */
	int stop;
	int evfd;           /* written by the thread after each result; in the epoll set as WAKE */
	int epfd;
	const int *reset;
	int nreset;
};

/* One open() call: an epoll set of children, watched by one libuv poll handle. */
struct instance {
	struct addon *addon;
	napi_env env;
	napi_ref callback;
	int epfd;
	uv_poll_t poll;
	struct starter st;
	size_t live;        /* children asked for, or with any fd still open */
	int closing;        /* close() was called, or the JavaScript side is gone */
	int gone;           /* the poll handle is closed or closing */
	/* Freed when both owners let go: the JavaScript external and the libuv handle. */
	int js_owned, handle_owned;
	unsigned char *out; /* events batched during one wake-up */
	size_t out_len, out_cap;
	struct proc *procs; /* the children watched, for pause() */
};

/* One running child; freed once its three fds are closed. */
struct proc {
	struct instance *inst;
	uint32_t id;
	pid_t pid;
	int fd[3]; /* stdout, stderr read ends; the pidfd. -1 once closed */
	int paused; /* its pipes are not read until pause(..., 0) */
	struct proc *prev, *next;
};

/* ---- batching events ---- */

static int out_reserve(struct instance *in, size_t n)
{
	if (in->out_len + n <= in->out_cap)
		return 0;
	size_t cap = in->out_cap ? in->out_cap : 128 * 1024;
	while (cap < in->out_len + n)
		cap *= 2;
	unsigned char *p = realloc(in->out, cap);
	if (!p)
		return -1;
	in->out = p;
	in->out_cap = cap;
	return 0;
}

/* Fills in the header of an event whose payload is already in place after it. */
static void event_at(struct instance *in, uint8_t type, uint32_t id, size_t payload)
{
	unsigned char *p = in->out + in->out_len;
	put_u32(p, (uint32_t)(5 + payload));
	p[4] = type;
	put_u32(p + 5, id);
	in->out_len += EVENT_HEADER + payload;
}

/* Appends an event; returns where its payload goes, or NULL out of memory. */
static unsigned char *event(struct instance *in, uint8_t type, uint32_t id, size_t payload)
{
	if (out_reserve(in, EVENT_HEADER + payload) < 0)
		return NULL;
	unsigned char *p = in->out + in->out_len + EVENT_HEADER;
	event_at(in, type, id, payload);
	return p;
}

/* Hands the batch to JavaScript as an async callback (microtasks run after it). */
static void flush(struct instance *in)
{
	if (!in->out_len)
		return;
	napi_env env = in->env;
	napi_handle_scope scope;
	napi_value buf, cb, resource, result;
	void *data;
	napi_open_handle_scope(env, &scope);
	napi_create_buffer_copy(env, in->out_len, in->out, &data, &buf);
	in->out_len = 0;
	/* Give back the memory of one huge batch. */
	if (in->out_cap > 4 * FLUSH_AT) {
		free(in->out);
		in->out = NULL;
		in->out_cap = 0;
	}
	napi_get_reference_value(env, in->callback, &cb);
	napi_get_reference_value(env, in->addon->resource, &resource);
	if (napi_make_callback(env, in->addon->context, resource, cb, 1, &buf, &result) == napi_pending_exception) {
		napi_value err;
		napi_get_and_clear_last_exception(env, &err);
		napi_fatal_exception(env, err); /* 'uncaughtException', as for any callback */
	}
	napi_close_handle_scope(env, scope);
}

/* ---- the instance's lifetime ---- */

static void stop_starter(struct starter *st);

static void on_poll_closed(uv_handle_t *h)
{
	struct instance *in = h->data;
	stop_starter(&in->st);
	close(in->epfd);
	free(in->out);
	in->out = NULL;
	in->handle_owned = 0;
	if (!in->js_owned)
		free(in);
}

/* After close(), once nothing is watched any more: the handle, the epoll set, the callback. */
static void maybe_release(struct instance *in)
{
	if (!in->closing || in->live || in->gone)
		return;
	in->gone = 1;
	napi_delete_reference(in->env, in->callback);
	uv_poll_stop(&in->poll);
	uv_close((uv_handle_t *)&in->poll, on_poll_closed);
}

/* Keeps Node's event loop alive exactly while children are watched (like child_process). */
static void child_added(struct instance *in)
{
	if (in->live++ == 0)
		uv_ref((uv_handle_t *)&in->poll);
}

static void child_removed(struct instance *in)
{
	if (--in->live == 0)
		uv_unref((uv_handle_t *)&in->poll);
}

static void close_fd(struct proc *p, int i)
{
	/* Out of the epoll set first: close() alone would not do it while another reference to the
	 * file exists, and one briefly does: a child vforked later holds copies of all our fds
	 * until its exec has closed them, after we were let go. Its registration would then go on
	 * reporting the EOF with a pointer to a freed proc. */
	epoll_ctl(p->inst->epfd, EPOLL_CTL_DEL, p->fd[i], NULL);
	close(p->fd[i]);
	p->fd[i] = -1;
	if (p->fd[0] < 0 && p->fd[1] < 0 && p->fd[PIDFD] < 0) {
		struct instance *in = p->inst;
		if (p->prev)
			p->prev->next = p->next;
		else
			in->procs = p->next;
		if (p->next)
			p->next->prev = p->prev;
		free(p);
		child_removed(in);
	}
}

/* ---- children's events ---- */

static void on_pipe(struct proc *p, int stream, uint32_t events)
{
	struct instance *in = p->inst;
	for (;;) {
		/* Read straight into the batch, behind a header filled in once the size is known. */
		if (out_reserve(in, EVENT_HEADER + READ_CHUNK) < 0)
			return; /* out of memory: the pipe stays readable, so this comes back */
		ssize_t n = read(p->fd[stream], in->out + in->out_len + EVENT_HEADER, READ_CHUNK);
		if (n > 0) {
			event_at(in, stream ? EV_STDERR : EV_STDOUT, p->id, (size_t)n);
			if (in->out_len >= FLUSH_AT)
				flush(in);
			/* The writers are gone (HUP): what is left in the pipe is all there will be, so
			 * take it and the EOF now instead of one more wake-up. */
			if (!(events & (EPOLLHUP | EPOLLERR)))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF, or an error that leaves nothing more to read. Room for the event first: once
		 * the fd is closed, nothing would bring the EOF back. */
		if (out_reserve(in, EVENT_HEADER) < 0)
			return;
		uint32_t id = p->id;
		close_fd(p, stream);
		event(in, stream ? EV_EOF_STDERR : EV_EOF_STDOUT, id, 0);
		return;
	}
}

static void on_exit_ready(struct proc *p)
{
	int st;
	pid_t r;
	/* Room for the event before reaping: a reaped status cannot be asked for again. Out of
	 * memory, the pidfd stays readable and this comes back. */
	if (out_reserve(p->inst, EVENT_HEADER + 6) < 0)
		return;
	while ((r = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return; /* not yet (a spurious wake-up) */
	unsigned char *e = event(p->inst, EV_EXITED, p->id, 6);
	if (r < 0) {
		/* Someone else reaped it (nothing in hookd does): say killed, never success. */
		e[0] = 1;
		put_u32(e + 1, SIGKILL);
	} else if (WIFSIGNALED(st)) {
		e[0] = 1;
		put_u32(e + 1, (uint32_t)WTERMSIG(st));
	} else {
		e[0] = 0;
		put_u32(e + 1, (uint32_t)WEXITSTATUS(st));
	}
	/* The leader is reaped, so only other members can answer. Cheap here; in JavaScript the
	 * same check costs an exception per run. */
	e[5] = kill(-p->pid, 0) == 0 || errno == EPERM;
	close_fd(p, PIDFD);
}

/* ---- the spawn thread ---- */

/* Kills and reaps a child we cannot watch, so it neither runs on unseen nor stays a zombie. */
static void abandon(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Starts one request: vfork + exec, its pipes and its pidfd. */
static void start_one(struct starter *st, struct request *rq, struct result *res)
{
	res->id = rq->id;
	res->err = 0;
	res->fd[0] = res->fd[1] = res->fd[PIDFD] = -1;
	char **argv = malloc(((size_t)rq->nargv + 1) * sizeof *argv);
	char **envp = malloc(((size_t)rq->nenv + 1) * sizeof *envp);
	const char *cwd = NULL;
	char *rest;
	if (!argv || !envp) {
		res->err = ENOMEM;
	} else if (vfx_unpack(rq->strings, rq->strings + rq->len, argv, rq->nargv, envp, rq->nenv, rq->has_cwd, &cwd, &rest) >= 0) {
		res->err = EINVAL; /* checked by spawn() already */
	} else {
		res->err = vfx_start(&res->pid, res->fd, argv, envp, cwd, st->reset, st->nreset);
		if (!res->err) {
			res->fd[PIDFD] = (int)syscall(SYS_pidfd_open, res->pid, 0);
			if (res->fd[PIDFD] < 0) {
				/* Out of fds: end the child rather than let it run unseen. */
				res->err = errno;
				abandon(res->pid);
				close(res->fd[0]);
				close(res->fd[1]);
			}
		}
	}
	free(argv);
	free(envp);
}

static void *starter_main(void *arg)
{
	struct starter *st = arg;
	/* Node's signals are handled on its own threads; none may run here, least of all on the
	 * stack a vfork child borrows (vfork-exec.h blocks them around the vfork as well). */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (!st->req_head && !st->stop) {
			st->idle = 1;
			pthread_cond_wait(&st->cv, &st->mu);
		}
		st->idle = 0;
		struct request *rq = st->req_head;
		if (!rq) {
			pthread_mutex_unlock(&st->mu);
			return NULL; /* stopped, and nothing is left to start */
		}
		st->req_head = rq->next;
		if (!st->req_head)
			st->req_tail = NULL;
		pthread_mutex_unlock(&st->mu);

		/* Allocated with the request's room in mind: a result always has somewhere to go. */
		struct result *res = (struct result *)(void *)rq;
		struct result tmp;
		start_one(st, rq, &tmp);
		*res = tmp;
		res->next = NULL;

		pthread_mutex_lock(&st->mu);
		/* The main thread takes the whole list per wake-up: only the first result wakes it. */
		int wake = !st->res_head;
		if (st->res_tail)
			st->res_tail->next = res;
		else
			st->res_head = res;
		st->res_tail = res;
		pthread_mutex_unlock(&st->mu);
		uint64_t one = 1;
		while (wake && write(st->evfd, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
}

static int start_starter(struct starter *st, int epfd, void *tag, const int *reset, int nreset)
{
	st->epfd = epfd;
	st->reset = reset;
	st->nreset = nreset;
	st->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->evfd < 0)
		return errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	int err = 0;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, st->evfd, &ev) < 0)
		err = errno;
	else if ((err = pthread_mutex_init(&st->mu, NULL)) == 0 && (err = pthread_cond_init(&st->cv, NULL)) == 0)
		err = pthread_create(&st->thread, NULL, starter_main, st);
	if (err) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, st->evfd, NULL);
		close(st->evfd);
		st->evfd = -1;
		return err;
	}
	st->running = 1;
	return 0;
}

/* Ends the thread once it has started everything queued (called when nothing is pending). */
static void stop_starter(struct starter *st)
{
	if (!st->running)
		return;
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_mutex_unlock(&st->mu);
	pthread_cond_signal(&st->cv);
	pthread_join(st->thread, NULL);
	st->running = 0;
	/* Results nobody took (the JavaScript side went away first): end those children too. */
	for (struct result *r = st->res_head, *next; r; r = next) {
		next = r->next;
		if (!r->err) {
			abandon(r->pid);
			for (int i = 0; i < 3; i++)
				close(r->fd[i]);
		}
		free(r);
	}
	st->res_head = st->res_tail = NULL;
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	epoll_ctl(st->epfd, EPOLL_CTL_DEL, st->evfd, NULL);
	close(st->evfd);
	st->evfd = -1;
}

/* Main thread: the spawn thread's results become watched children and SPAWNED / SPAWN_ERROR
 * events. Their fds join the epoll set now, so their own events come in a later callback. */
static void take_results(struct instance *in)
{
	uint64_t n;
	while (read(in->st.evfd, &n, sizeof n) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&in->st.mu);
	struct result *r = in->st.res_head;
	in->st.res_head = in->st.res_tail = NULL;
	pthread_mutex_unlock(&in->st.mu);
	while (r) {
		struct result *next = r->next;
		/* Room for the event first: out of memory, the rest go back and come again. */
		if (out_reserve(in, EVENT_HEADER + 4) < 0) {
			pthread_mutex_lock(&in->st.mu);
			struct result *last = r;
			while (last->next)
				last = last->next;
			last->next = in->st.res_head;
			if (!in->st.res_head)
				in->st.res_tail = last;
			in->st.res_head = r;
			pthread_mutex_unlock(&in->st.mu);
			uint64_t one = 1;
			(void)!write(in->st.evfd, &one, sizeof one);
			return;
		}
		int err = r->err;
		struct proc *p = NULL;
		if (!err) {
			p = malloc(sizeof *p);
			if (!p)
				err = ENOMEM;
		}
		if (!err) {
			p->inst = in;
			p->id = r->id;
			p->pid = r->pid;
			p->paused = 0;
			for (int i = 0; i < 3; i++)
				p->fd[i] = r->fd[i];
			for (int i = 0; i < 3 && !err; i++) {
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = (void *)((uintptr_t)p | (uintptr_t)i) };
				if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, p->fd[i], &ev) < 0) {
					err = errno;
					for (int j = 0; j < i; j++)
						epoll_ctl(in->epfd, EPOLL_CTL_DEL, p->fd[j], NULL); /* see close_fd */
				}
			}
			if (err) {
				free(p);
				p = NULL;
			} else {
				p->prev = NULL;
				p->next = in->procs;
				if (in->procs)
					in->procs->prev = p;
				in->procs = p;
			}
		}
		if (err && !r->err) {
			/* Started, but it cannot be watched: end it rather than let it run unseen. */
			abandon(r->pid);
			for (int i = 0; i < 3; i++)
				close(r->fd[i]);
		}
		unsigned char *e = event(in, err ? EV_SPAWN_ERROR : EV_SPAWNED, r->id, 4);
		put_u32(e, (uint32_t)(err ? err : r->pid));
		if (err)
			child_removed(in); /* counted when it was asked for */
		free(r);
		r = next;
	}
}

/* libuv: our epoll set is readable. Take what is ready, then hand it all over in one call. */
static void on_ready(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct instance *in = h->data;
	struct epoll_event evs[MAX_EVENTS];
	int n, woken = 0;
	do {
		while ((n = epoll_wait(in->epfd, evs, MAX_EVENTS, 0)) < 0 && errno == EINTR)
			;
		for (int i = 0; i < n; i++) {
			/* The low two bits of the pointer name the fd: structs are at least 4-aligned.
			 * An event's fd leaves the set only while handling that same event, and a proc is
			 * freed only when all three have, so no event in this batch points at a freed one. */
			uintptr_t tag = (uintptr_t)evs[i].data.ptr;
			struct proc *p = (struct proc *)(tag & ~(uintptr_t)3);
			int which = (int)(tag & 3);
			if (which == WAKE)
				woken = 1;
			else if (which == PIDFD)
				on_exit_ready(p);
			else
				on_pipe(p, which, evs[i].events);
		}
	} while (n == MAX_EVENTS);
	/* After the children's events: a new child's fds must not report in this same batch. */
	if (woken)
		take_results(in);
	flush(in);
	maybe_release(in);
}

/* ---- JavaScript functions ---- */

static napi_value throw_error(napi_env env, const char *msg)
{
	napi_throw_error(env, NULL, msg);
	return NULL;
}

static void instance_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	/* The JavaScript side is gone: release the instance once its children are done. */
	struct instance *in = data;
	in->js_owned = 0;
	in->closing = 1;
	maybe_release(in);
	if (!in->handle_owned)
		free(in);
}

static napi_value js_open(napi_env env, napi_callback_info info)
{
	struct addon *a;
	napi_get_instance_data(env, (void **)&a);
	size_t argc = 1;
	napi_value cb, ext;
	napi_valuetype type;
	napi_get_cb_info(env, info, &argc, &cb, NULL, NULL);
	if (argc < 1 || napi_typeof(env, cb, &type) != napi_ok || type != napi_function)
		return throw_error(env, "open(callback): callback must be a function");
	struct instance *in = calloc(1, sizeof *in);
	if (!in)
		return throw_error(env, "open(): out of memory");
	in->addon = a;
	in->env = env;
	in->js_owned = 1;
	in->st.evfd = -1;
	char msg[120];
	in->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (in->epfd < 0) {
		snprintf(msg, sizeof msg, "open(): cannot make an epoll set: %s", strerror(errno));
		free(in);
		return throw_error(env, msg);
	}
	int err = start_starter(&in->st, in->epfd, (void *)((uintptr_t)in | WAKE), a->reset, a->nreset);
	if (err) {
		snprintf(msg, sizeof msg, "open(): cannot start the spawn thread: %s", strerror(err));
		close(in->epfd);
		free(in);
		return throw_error(env, msg);
	}
	int r = uv_poll_init(a->loop, &in->poll, in->epfd);
	if (r != 0) {
		stop_starter(&in->st);
		close(in->epfd);
		free(in);
	} else {
		in->poll.data = in;
		in->handle_owned = 1;
		r = uv_poll_start(&in->poll, UV_READABLE, on_ready);
		if (r != 0) {
			in->gone = 1;
			in->js_owned = 0;
			uv_close((uv_handle_t *)&in->poll, on_poll_closed); /* stops the thread, frees `in` */
		}
	}
	if (r != 0) {
		snprintf(msg, sizeof msg, "open(): cannot watch an epoll set: %s", uv_strerror(r));
		return throw_error(env, msg);
	}
	uv_unref((uv_handle_t *)&in->poll); /* nothing to wait for yet */
	napi_create_reference(env, cb, 1, &in->callback);
	napi_create_external(env, in, instance_finalize, NULL, &ext);
	return ext;
}

static struct instance *get_instance(napi_env env, napi_value v)
{
	napi_valuetype type;
	void *data = NULL;
	if (napi_typeof(env, v, &type) != napi_ok || type != napi_external || napi_get_value_external(env, v, &data) != napi_ok)
		return NULL;
	return data;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg;
	napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
	struct instance *in = argc < 1 ? NULL : get_instance(env, arg);
	if (!in)
		return throw_error(env, "close(instance): not an instance");
	in->closing = 1;
	maybe_release(in);
	return NULL;
}

/* pause(instance, id, paused): stops (or resumes) reading a child's stdout and stderr, so its
 * writes block once a pipe is full; hookd's consumer of the output is behind. A hang-up is still
 * reported (epoll always does), so what is left in a pipe at the end is read then. */
static napi_value js_pause(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value args[3];
	napi_get_cb_info(env, info, &argc, args, NULL, NULL);
	struct instance *in = argc < 3 ? NULL : get_instance(env, args[0]);
	uint32_t id;
	bool paused;
	if (!in || napi_get_value_uint32(env, args[1], &id) != napi_ok || napi_get_value_bool(env, args[2], &paused) != napi_ok)
		return throw_error(env, "pause(instance, id, paused): bad arguments");
	struct proc *p = in->procs;
	while (p && p->id != id)
		p = p->next;
	if (!p || p->paused == (int)paused)
		return NULL; /* gone already, or no change */
	p->paused = paused;
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] < 0)
			continue;
		struct epoll_event ev = { .events = paused ? 0 : EPOLLIN, .data.ptr = (void *)((uintptr_t)p | (uintptr_t)i) };
		epoll_ctl(in->epfd, EPOLL_CTL_MOD, p->fd[i], &ev);
	}
	return NULL;
}

static napi_value js_spawn(napi_env env, napi_callback_info info)
{
	size_t argc = 6;
	napi_value args[6];
	napi_get_cb_info(env, info, &argc, args, NULL, NULL);
	struct instance *in = argc < 6 ? NULL : get_instance(env, args[0]);
	uint32_t id, nargv, nenv, has_cwd;
	char *strings;
	size_t len;
	bool is_buffer = false;
	if (!in || napi_get_value_uint32(env, args[1], &id) != napi_ok ||
	    napi_is_buffer(env, args[2], &is_buffer) != napi_ok || !is_buffer ||
	    napi_get_buffer_info(env, args[2], (void **)&strings, &len) != napi_ok ||
	    napi_get_value_uint32(env, args[3], &nargv) != napi_ok || napi_get_value_uint32(env, args[4], &nenv) != napi_ok ||
	    napi_get_value_uint32(env, args[5], &has_cwd) != napi_ok || nargv == 0 || has_cwd > 1)
		return throw_error(env, "spawn(instance, id, strings, argc, envc, hasCwd): bad arguments");
	if (in->closing)
		return throw_error(env, "spawn(): the instance was closed");
	/* Every string takes at least its NUL, which bounds the counts (and the allocations). */
	uint64_t nstr = (uint64_t)nargv + nenv + has_cwd;
	if (nstr > len)
		return throw_error(env, "spawn(): more strings than bytes");
	const char *p = strings, *end = strings + len;
	for (uint64_t i = 0; i < nstr; i++) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		if (!nul)
			return throw_error(env, "spawn(): a string is not NUL-terminated");
		p = nul + 1;
	}

	/* The request's memory becomes its result (starter_main), so it has room for either. */
	size_t size = sizeof(struct request) + len;
	struct request *rq = malloc(size > sizeof(struct result) ? size : sizeof(struct result));
	if (!rq)
		return throw_error(env, "spawn(): out of memory");
	rq->next = NULL;
	rq->id = id;
	rq->nargv = nargv;
	rq->nenv = nenv;
	rq->has_cwd = has_cwd;
	rq->len = len;
	memcpy(rq->strings, strings, len);
	struct starter *st = &in->st;
	pthread_mutex_lock(&st->mu);
	if (st->req_tail)
		st->req_tail->next = rq;
	else
		st->req_head = rq;
	st->req_tail = rq;
	/* A busy thread finds the request itself. Signalled after unlocking, so the woken thread
	 * does not run straight into the held mutex and sleep again (two more system calls). */
	int wake = st->idle;
	st->idle = 0;
	pthread_mutex_unlock(&st->mu);
	if (wake)
		pthread_cond_signal(&st->cv);
	child_added(in); /* until its SPAWN_ERROR, or its fds are closed */
	return NULL;
}

static void addon_finalize(napi_env env, void *data, void *hint)
{
	(void)hint;
	struct addon *a = data;
	napi_delete_reference(env, a->resource);
	napi_async_destroy(env, a->context);
	free(a);
}

NAPI_MODULE_INIT()
{
	/* Without pidfd_open (Linux < 5.3, or a seccomp filter forbids it) exits cannot be watched. */
	int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (probe < 0) {
		char msg[160];
		snprintf(msg, sizeof msg, "the spawn addon needs pidfd_open (Linux 5.3 or later): %s", strerror(errno));
		return throw_error(env, msg);
	}
	close(probe);

	struct addon *a = calloc(1, sizeof *a);
	if (!a)
		return throw_error(env, "the spawn addon: out of memory");
	if (napi_get_uv_event_loop(env, &a->loop) != napi_ok) {
		free(a);
		return throw_error(env, "the spawn addon: no event loop");
	}
	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct sigaction sa;
		/* glibc refuses its two internal signals (32, 33) here; they are not ignored in
		 * children either. */
		if (sig < 32 || (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL))
			a->reset[a->nreset++] = sig;
	}
	napi_value resource, name, fn;
	napi_create_object(env, &resource);
	napi_create_reference(env, resource, 1, &a->resource);
	napi_create_string_utf8(env, "hookd:spawn", NAPI_AUTO_LENGTH, &name);
	napi_async_init(env, resource, name, &a->context);
	napi_set_instance_data(env, a, addon_finalize, NULL);

	napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn);
	napi_set_named_property(env, exports, "open", fn);
	napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, NULL, &fn);
	napi_set_named_property(env, exports, "spawn", fn);
	napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &fn);
	napi_set_named_property(env, exports, "close", fn);
	napi_create_function(env, "pause", NAPI_AUTO_LENGTH, js_pause, NULL, &fn);
	napi_set_named_property(env, exports, "pause", fn);
	return exports;
}
