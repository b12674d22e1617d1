/*
 * Starting a hook process with vfork + exec, for the spawn addon (spawn-addon.c). Everything here
 * is static.
 *
 * Why vfork: the child borrows the parent's memory until it execs, so starting one copies nothing,
 * like glibc's posix_spawn or Go's fork/exec, but without the stack mapping and file-action
 * bookkeeping posix_spawn does per call (BENCHMARKS.md). Only the calling thread is suspended
 * until the child execs or exits; the child touches nothing but its own stack frames and the plan
 * below, and makes only system calls, so other threads of the parent (the addon lives in Node's)
 * run on unharmed.
 *
 * The child: leads its own process group; stdin /dev/null; stdout and stderr to the given pipes;
 * no other fds; the listed signals back to their default disposition; an empty signal mask.
 * Program lookup is execvp's, over the request's PATH, including the /bin/sh fallback for ENOEXEC.
 */
#ifndef HOOKD_VFORK_EXEC_H
#define HOOKD_VFORK_EXEC_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VFX_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Everything a vfork child needs, prepared by the parent: the child must not allocate. */
struct vfx_plan {
	char **argv;
	char **envp;
	char **sh_argv;   /* "/bin/sh", <file>, argv[1..], NULL: for files the kernel cannot execute */
	const char *cwd;
	const char *path; /* PATH to search; NULL when argv[0] names a file (contains a slash) */
	char *buf;        /* room for one PATH candidate */
	int out_fd, err_fd;
	const int *reset; /* signals to set back to SIG_DFL before exec */
	int nreset;
	volatile int err; /* written by the child when it could not exec */
};

/* One candidate. Like execvp (which Node's spawn uses), a file the kernel cannot execute (ENOEXEC:
 * no "#!" line, not ELF) is run as "/bin/sh file args...", so scripts without one keep working. */
static int vfx_try(struct vfx_plan *p, const char *file)
{
	execve(file, p->argv, p->envp);
	if (errno != ENOEXEC)
		return errno;
	p->sh_argv[1] = (char *)file;
	execve("/bin/sh", p->sh_argv, p->envp);
	return errno;
}

/* The errors execvp moves on to the next PATH entry for. */
static int vfx_try_next_dir(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT;
}

/* Runs in the vfork child; never returns. All signals are blocked on entry (the parent blocked
 * them), so no handler of the parent's can run on the borrowed stack: the handled ones are set
 * back to the default before the mask is emptied. A relative PATH entry means the new working
 * directory, as for execvp after a chdir. */
static void vfx_child(struct vfx_plan *p)
{
	int err;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int in;
	if (setpgid(0, 0) < 0 || (in = open("/dev/null", O_RDONLY)) < 0)
		goto fail;
	if ((in != STDIN_FILENO && dup2(in, STDIN_FILENO) < 0) || dup2(p->out_fd, STDOUT_FILENO) < 0 ||
	    dup2(p->err_fd, STDERR_FILENO) < 0)
		goto fail;
	if (in != STDIN_FILENO)
		close(in);
#ifdef CLOSE_RANGE_CLOEXEC
	/* Our fd table is a copy (no CLONE_FILES): whatever the parent left inheritable stays there. */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
#endif
	if (p->cwd && chdir(p->cwd) < 0)
		goto fail;
	for (int i = 0; i < p->nreset; i++)
		sigaction(p->reset[i], &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	const char *file = p->argv[0];
	if (!p->path) {
		err = vfx_try(p, file);
	} else {
		size_t flen = strlen(file);
		int got_eacces = 0;
		err = ENOENT;
		for (const char *d = p->path;; d++) {
			const char *end = strchrnul(d, ':');
			size_t dlen = (size_t)(end - d);
			/* An empty entry means the current directory, as for execvp. */
			memcpy(p->buf, d, dlen);
			if (dlen)
				p->buf[dlen++] = '/';
			memcpy(p->buf + dlen, file, flen + 1);
			err = vfx_try(p, p->buf);
			if (err == EACCES)
				got_eacces = 1;
			else if (!vfx_try_next_dir(err))
				break;
			d = end;
			if (!*d) {
				err = got_eacces ? EACCES : ENOENT;
				break;
			}
		}
	}
	p->err = err ? err : ENOEXEC;
	_exit(127);
fail:
	p->err = errno ? errno : EINVAL;
	_exit(127);
}

static const char *vfx_env_path(char **envp)
{
	for (; *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return NULL;
}

/* Starts argv with stdout/stderr on out_fd/err_fd; returns 0 and the pid, or an errno (the child,
 * if it got that far, is reaped here). */
static int vfx_spawn(pid_t *pid_out, char **argv, char **envp, const char *cwd, int out_fd, int err_fd,
		     const int *reset, int nreset)
{
	const char *file = argv[0];
	if (!*file)
		return ENOENT;
	struct vfx_plan plan = { .argv = argv, .envp = envp, .cwd = cwd, .out_fd = out_fd, .err_fd = err_fd,
				 .reset = reset, .nreset = nreset };
	if (!strchr(file, '/')) {
		if (strlen(file) > NAME_MAX)
			return ENAMETOOLONG;
		plan.path = vfx_env_path(envp);
		if (!plan.path)
			plan.path = VFX_DEFAULT_PATH;
		plan.buf = malloc(strlen(plan.path) + strlen(file) + 2);
		if (!plan.buf)
			return ENOMEM;
	}
	size_t argc = 0;
	while (argv[argc])
		argc++;
	plan.sh_argv = malloc((argc + 2) * sizeof *plan.sh_argv);
	if (!plan.sh_argv) {
		free(plan.buf);
		return ENOMEM;
	}
	plan.sh_argv[0] = (char *)"/bin/sh";
	for (size_t i = 1; i <= argc; i++)
		plan.sh_argv[i + 1] = argv[i]; /* includes the closing NULL */

	/* No signal may be handled on the stack the child borrows; the child sets its own mask. */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	plan.err = 0;
	pid_t pid = vfork();
	if (pid == 0)
		vfx_child(&plan);
	int err = pid < 0 ? errno : plan.err;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && err) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	free(plan.buf);
	free(plan.sh_argv);
	if (!err)
		*pid_out = pid;
	return err;
}

/* Two pipes and a child writing into them: fds[0]/fds[1] are the non-blocking, close-on-exec read
 * ends of its stdout/stderr. Returns 0 or an errno (then nothing is left open). */
static int vfx_start(pid_t *pid_out, int fds[2], char **argv, char **envp, const char *cwd, const int *reset,
		     int nreset)
{
	int po[2], pe[2], err;
	/* Only O_CLOEXEC here: O_NONBLOCK is a property of the shared open file, so setting it on
	 * the pipe would hand the child a non-blocking stdout. Our read ends get it below. */
	if (pipe2(po, O_CLOEXEC) < 0)
		return errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		err = errno;
		close(po[0]);
		close(po[1]);
		return err;
	}
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);

	/* dup2 clears close-on-exec on the copies, so the child keeps exactly fds 0-2. */
	err = vfx_spawn(pid_out, argv, envp, cwd, po[1], pe[1], reset, nreset);
	close(po[1]);
	close(pe[1]);
	if (err) {
		close(po[0]);
		close(pe[0]);
		return err;
	}
	fds[0] = po[0];
	fds[1] = pe[0];
	return 0;
}

/* Splits [p, end), NUL-terminated strings, into argv[nargv], envp[nenv] and, if has_cwd, *cwd;
 * both arrays get their closing NULL (room for it is the caller's). The layout both native
 * spawners receive: argv..., "NAME=value"..., cwd. Returns -1 when all fit, else the index of
 * the first string without its NUL; *rest is where the strings ended. */
static long long vfx_unpack(char *p, const char *end, char **argv, uint32_t nargv, char **envp, uint32_t nenv,
			    uint32_t has_cwd, const char **cwd, char **rest)
{
	uint64_t nstr = (uint64_t)nargv + nenv + has_cwd;
	for (uint64_t i = 0; i < nstr; i++) {
		char *nul = memchr(p, 0, (size_t)(end - p));
		if (!nul)
			return (long long)i;
		if (i < nargv)
			argv[i] = p;
		else if (i < (uint64_t)nargv + nenv)
			envp[i - nargv] = p;
		else
			*cwd = p;
		p = nul + 1;
	}
	argv[nargv] = NULL;
	envp[nenv] = NULL;
	*rest = p;
	return -1;
}

#endif
