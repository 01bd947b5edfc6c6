/*
 * rt_archive_*: the daemon's side of docker cp (see runtime.h). Each call
 * spawns `shoal-archive` (archive_helper.c), which confines itself to the
 * container, and follows it on the caller's libuv loop with three
 * handles:
 *
 *   - a uv_poll_t on the helper's pidfd: readable once it exited; it is
 *     reaped then with waitid(P_PIDFD), so no pid is ever confused;
 *   - a uv_poll_t on our end of the SOCK_SEQPACKET report socket: one
 *     'S' (the path's stat) before any data, or one 'E' (code, sentence);
 *   - for GET, a uv_pipe_t on the read end of the tar stream's pipe,
 *     started only after the 'S' (so the stat always comes first) and
 *     stopped by rt_archive_pause(): the helper then blocks on a full
 *     pipe, and the caller's memory holds one read buffer at most.
 *
 * The result is decided once the helper was reaped and both streams hit
 * EOF (the worker cannot fork, so nothing else holds their write ends):
 * an 'E' wins; else exit status 0 is success; death by a signal is -EINTR.
 * Reports are treated as untrusted input (a worker that libarchive's
 * parsing went wrong in is still only confined code): sizes, codes and
 * strings are checked and an unknown code becomes -EIO.
 *
 * A stopped container is locked (rt__ctr_lock()) before the spawn and the
 * lock goes to the helper, which holds it while its overlay is mounted,
 * so start and remove refuse meanwhile (SHOAL_ECONFLICT) and release never
 * depends on this process. rt_archive_close() stops a helper still
 * running (SIGTERM, on which it kills and reaps its worker; SIGKILL after
 * KILL_GRACE_MS); the memory goes once it is reaped and the handles are
 * closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/path.h"
#include "runtime/internal.h"

#define READ_CHUNK (64 * 1024)
#define PIPE_BYTES (1 << 20)
#define KILL_GRACE_MS 2000 /* after SIGTERM, before SIGKILL */

struct rt_archive {
	uv_loop_t *loop;
	enum rt_archive_op op;
	struct rt_archive_cbs cbs;
	pid_t pid;
	int pidfd;
	int report_fd;
	uv_poll_t exit_poll;
	uv_poll_t report_poll;
	uv_pipe_t data;
	uv_timer_t kill_timer; /* after close: SIGKILL if SIGTERM was not
				* enough */
	int handles;	       /* initialised, not yet closed */
	bool exited, report_eof, data_eof;
	bool stat_seen, reading, paused, closed, done;
	int exit_code;	 /* CLD_EXITED: the status */
	int exit_signal; /* CLD_KILLED/DUMPED: the signal */
	int err_code;	 /* from an 'E' report, or a protocol error */
	char err_msg[512];
	char buf[READ_CHUNK];
};

/* --- life cycle ---------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
	struct rt_archive *a = h->data;

	if (--a->handles > 0)
		return;
	if (a->pidfd >= 0)
		close(a->pidfd);
	if (a->report_fd >= 0)
		close(a->report_fd);
	shoal_free(a);
}

static void close_handle(struct rt_archive *a, uv_handle_t *h)
{
	if (h->data && !uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

/* Reap the helper if it exited; true once reaped. */
static bool reap(struct rt_archive *a)
{
	siginfo_t si;

	if (a->exited)
		return true;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)a->pidfd, &si, WEXITED | WNOHANG) <
		    0 ||
	    si.si_pid == 0)
		return false;
	a->exited = true;
	if (si.si_code == CLD_EXITED)
		a->exit_code = si.si_status;
	else
		a->exit_signal = si.si_status;
	return true;
}

static void set_error(struct rt_archive *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(struct rt_archive *a, int code, const char *fmt, ...)
{
	va_list ap;

	if (a->err_code)
		return; /* the first error is the one to tell */
	a->err_code = code;
	va_start(ap, fmt);
	vsnprintf(a->err_msg, sizeof(a->err_msg), fmt, ap);
	va_end(ap);
}

static void finish(struct rt_archive *a)
{
	int rc = a->err_code;
	const char *msg = a->err_msg;

	if (rc == 0 && a->exit_signal) {
		rc = -EINTR;
		snprintf(a->err_msg, sizeof(a->err_msg),
			 "the archive helper was killed by signal %d (%s)",
			 a->exit_signal, strsignal(a->exit_signal));
	} else if (rc == 0 && a->exit_code) {
		rc = -EIO;
		snprintf(a->err_msg, sizeof(a->err_msg),
			 "the archive helper failed (exit status %d)",
			 a->exit_code);
	} else if (rc == 0 && a->op != RT_ARCHIVE_PUT && !a->stat_seen) {
		rc = -EPROTO;
		snprintf(a->err_msg, sizeof(a->err_msg),
			 "the archive helper ended without an answer");
	}
	a->done = true;
	a->cbs.on_done(a, rc, rc ? msg : "", a->cbs.arg);
}

static void maybe_done(struct rt_archive *a)
{
	if (a->done || a->closed || !a->exited || !a->report_eof)
		return;
	if (a->op == RT_ARCHIVE_GET && a->stat_seen && !a->data_eof &&
	    !a->err_code)
		return;
	finish(a);
}

/* --- the streams --------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct rt_archive *a = h->data;

	b->base = a->buf;
	b->len = sizeof(a->buf);
}

static void data_stop(struct rt_archive *a)
{
	if (a->reading)
		uv_read_stop((uv_stream_t *)&a->data);
	a->reading = false;
}

static void on_data(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct rt_archive *a = s->data;

	if (n == 0)
		return;
	if (n < 0) {
		data_stop(a);
		a->data_eof = true;
		if (n != UV_EOF)
			set_error(a, -EIO, "cannot read the archive: %s",
				  uv_strerror((int)n));
		maybe_done(a);
		return;
	}
	if (!a->closed)
		a->cbs.on_data(a, b->base, (size_t)n, a->cbs.arg);
}

static void data_start(struct rt_archive *a)
{
	if (a->reading || a->paused || a->data_eof || a->closed ||
	    !a->stat_seen || a->op != RT_ARCHIVE_GET)
		return;
	if (uv_read_start((uv_stream_t *)&a->data, on_alloc, on_data) == 0)
		a->reading = true;
}

/* Error codes a helper may send; anything else is an I/O error. */
static int known_code(int32_t c)
{
	static const int known[] = {
		SHOAL_ENOTFOUND, SHOAL_ECONFLICT, -ENOTDIR, -EINVAL,
		-EEXIST,	 -EROFS,	  -ENOSPC,  -EDQUOT,
		-EACCES,	 -EPERM,	  -ENOTSUP, -EIO,
		-ESRCH,		 -ENOMEM,	  -EINTR,   -ELOOP,
		-ENAMETOOLONG,
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (c == known[i])
			return c;
	return -EIO;
}

static void on_stat_msg(struct rt_archive *a, const char *m, size_t len)
{
	struct rt_path_stat st;

	if (a->op == RT_ARCHIVE_PUT || a->stat_seen || len != 1 + sizeof(st)) {
		set_error(a, -EPROTO,
			  "the archive helper sent a malformed "
			  "report");
		return;
	}
	memcpy(&st, m + 1, sizeof(st));
	st.name[sizeof(st.name) - 1] = '\0';
	st.link_target[sizeof(st.link_target) - 1] = '\0';
	a->stat_seen = true;
	if (!a->closed && a->cbs.on_stat)
		a->cbs.on_stat(a, &st, a->cbs.arg);
	data_start(a);
}

static void on_error_msg(struct rt_archive *a, const char *m, size_t len)
{
	int32_t code;
	char text[512];
	size_t n;

	if (len < 1 + sizeof(code)) {
		set_error(a, -EPROTO,
			  "the archive helper sent a malformed "
			  "report");
		return;
	}
	memcpy(&code, m + 1, sizeof(code));
	n = len - 1 - sizeof(code);
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, m + 1 + sizeof(code), n);
	text[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20)
			text[i] = ' ';
	set_error(a, known_code(code), "%s", text[0] ? text : "failed");
}

/* Read every report waiting; EOF once the helper and worker are gone. */
static void drain_reports(struct rt_archive *a)
{
	char m[RT__ARCHIVE_MSG_MAX + 1];
	ssize_t n;

	while (!a->report_eof) {
		n = recv(a->report_fd, m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			a->report_eof = true;
			uv_poll_stop(&a->report_poll);
			break;
		}
		if ((size_t)n > sizeof(m) - 1 || (m[0] != 'S' && m[0] != 'E'))
			set_error(a, -EPROTO,
				  "the archive helper sent a "
				  "malformed report");
		else if (m[0] == 'S')
			on_stat_msg(a, m, (size_t)n);
		else
			on_error_msg(a, m, (size_t)n);
	}
}

static void on_report(uv_poll_t *p, int status, int events)
{
	struct rt_archive *a = p->data;

	drain_reports(a);
	maybe_done(a);
}

static void on_exit_ready(uv_poll_t *p, int status, int events)
{
	struct rt_archive *a = p->data;

	if (!reap(a))
		return;
	uv_poll_stop(p);
	if (a->closed) {
		close_handle(a, (uv_handle_t *)&a->kill_timer);
		close_handle(a, (uv_handle_t *)p);
		return;
	}
	drain_reports(a);
	maybe_done(a);
}

/* --- spawning ------------------------------------------------------------ */

/* The fds the helper gets, [0..4]; -1 where none was made. */
struct fds {
	int child[5];
	int report; /* our end */
	int data;   /* GET: our end */
	int devnull;
};

static void fds_close(struct fds *f)
{
	int all[] = {f->child[0], f->child[1], f->child[3], f->child[4],
		     f->report,	  f->data,     f->devnull};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] >= 0)
			close(all[i]);
	memset(f, -1, sizeof(*f));
}

/* The target: the init's pidfd (running) or the locked folder (stopped);
 * *@running says which. */
static int target(struct rt *rt, const char *ref, const struct rt__config **c,
		  int *fd, bool *running, struct shoal_err *err)
{
	struct rt__state st;
	int lock, rc;

	rc = rt__ctr_lock(*c, &lock);
	if (rc < 0) {
		rt__err(err,
			"container %s is busy: it is starting, being "
			"removed or its files are being copied; try again",
			(*c)->id);
		return rc;
	}
	*c = rt__config_of(rt, ref, &st); /* fresh state, under the lock */
	if (!*c) {
		close(lock);
		rt__err(err, "No such container: %s", ref);
		return SHOAL_ENOTFOUND;
	}
	*running = st.status == RT_STATUS_RUNNING;
	if (!*running) {
		*fd = lock;
		return 0;
	}
	close(lock);
	rc = rt__pidfd_open_checked(st.pid, st.pid_start, fd);
	if (rc < 0) {
		rt__err(err, "container %s is stopping; try again", (*c)->id);
		return SHOAL_ECONFLICT;
	}
	return 0;
}

/*
 * @fd moved above the helper's 0-4, so that placing one of them never
 * overwrites the source of another; -errno (and @fd closed) on failure.
 */
static int high(int fd)
{
	int h;

	if (fd < 0 || fd > RT__ARCHIVE_TARGET_FD)
		return fd < 0 ? -errno : fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, RT__ARCHIVE_TARGET_FD + 1);
	h = h < 0 ? -errno : h;
	close(fd);
	return h;
}

static int open_fds(const struct rt_archive_req *req, int target_fd,
		    struct fds *f)
{
	char path[64];
	int sp[2], pp[2];

	memset(f, -1, sizeof(*f));
	if ((f->child[4] = high(target_fd)) < 0 ||
	    (f->devnull = high(open("/dev/null", O_RDWR | O_CLOEXEC))) < 0)
		return f->child[4] < 0 ? f->child[4] : f->devnull;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	f->report = high(sp[0]);
	f->child[3] = high(sp[1]);
	if (f->report < 0 || f->child[3] < 0)
		return -EMFILE;
	if (req->op == RT_ARCHIVE_PUT) {
		/* A read-only open file of its own, from offset 0. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", req->input_fd);
		f->child[0] = high(open(path, O_RDONLY | O_CLOEXEC));
		if (f->child[0] < 0)
			return f->child[0];
	}
	if (req->op == RT_ARCHIVE_GET) {
		if (pipe2(pp, O_CLOEXEC) < 0)
			return -errno;
		f->data = high(pp[0]);
		f->child[1] = high(pp[1]);
		if (f->data < 0 || f->child[1] < 0)
			return -EMFILE;
		(void)fcntl(f->child[1], F_SETPIPE_SZ, PIPE_BYTES);
	}
	return 0;
}

/* Only the sanitizers' settings: nothing else of our environment. */
static char **helper_env(char *buf[4])
{
	static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
					   "LSAN_OPTIONS"};
	size_t n = 0;

	for (size_t i = 0; i < 3; i++) {
		const char *v = getenv(keep[i]);
		char *kv = v ? rt__path("%s=%s", keep[i], v) : NULL;
		if (kv)
			buf[n++] = kv;
	}
	buf[n] = NULL;
	return buf;
}

static int spawn(struct rt *rt, const struct rt__config *c,
		 const struct rt_archive_req *req, bool running,
		 const char *bpf, struct fds *f, pid_t *pid,
		 struct shoal_err *err)
{
	static const char *const ops[] = {"stat", "get", "put"};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char ppid[16], flags[4] = "-", *env[4], *path;
	char *argv[9];
	size_t nf = 0;
	int rc;

	path = req->path[0] == '/' ? rt__path("%s", req->path)
				   : rt__path("/%s", req->path);
	if (!path)
		return -ENOMEM;
	if (req->no_overwrite_dir_non_dir)
		flags[nf++] = 'n';
	if (req->copy_uid_gid)
		flags[nf++] = 'u';
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	argv[0] = rt->archive_helper;
	argv[1] = (char *)ops[req->op];
	argv[2] = (char *)(running ? "running" : "stopped");
	argv[3] = c->dir;
	argv[4] = (char *)bpf;
	argv[5] = flags;
	argv[6] = ppid;
	argv[7] = path;
	argv[8] = NULL;
	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 5; i++)
		posix_spawn_file_actions_adddup2(&fa,
						 i == 2 ? 2
						 : f->child[i] >= 0
							 ? f->child[i]
							 : f->devnull,
						 i);
	posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	/* Default dispositions (shoald ignores SIGPIPE), nothing blocked,
	 * and a session of its own: no terminal's signals. */
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSID);
	rc = -posix_spawn(pid, rt->archive_helper, &fa, &at, argv,
			  helper_env(env));
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	for (size_t i = 0; env[i]; i++)
		shoal_free(env[i]);
	shoal_free(path);
	if (rc < 0)
		rt__err(err, "cannot run %s: %s", rt->archive_helper,
			strerror(-rc));
	return rc;
}

/* --- the handles --------------------------------------------------------- */

static int watch(struct rt_archive *a, struct fds *f)
{
	int rc;

	a->exit_poll.data = a;
	rc = uv_poll_init(a->loop, &a->exit_poll, a->pidfd);
	if (rc < 0) {
		a->exit_poll.data = NULL;
		return rc;
	}
	a->handles++;
	a->report_poll.data = a;
	a->report_fd = f->report;
	rc = uv_poll_init(a->loop, &a->report_poll, a->report_fd);
	if (rc < 0) {
		a->report_poll.data = NULL;
		return rc;
	}
	a->handles++;
	f->report = -1; /* closed with the handle: see on_handle_closed */
	if (a->op == RT_ARCHIVE_GET) {
		a->data.data = a;
		rc = uv_pipe_init(a->loop, &a->data, 0);
		if (rc < 0) {
			a->data.data = NULL;
			return rc;
		}
		a->handles++;
		rc = uv_pipe_open(&a->data, f->data);
		if (rc < 0)
			return rc;
		f->data = -1;
	}
	rc = uv_poll_start(&a->exit_poll, UV_READABLE, on_exit_ready);
	if (rc == 0)
		rc = uv_poll_start(&a->report_poll, UV_READABLE, on_report);
	return rc;
}

static void close_handles(struct rt_archive *a)
{
	data_stop(a);
	if (a->op == RT_ARCHIVE_GET)
		close_handle(a, (uv_handle_t *)&a->data);
	close_handle(a, (uv_handle_t *)&a->report_poll);
	if (a->exited)
		close_handle(a, (uv_handle_t *)&a->exit_poll);
}

static int check_req(const struct rt_archive_req *req,
		     const struct rt_archive_cbs *cbs, struct shoal_err *err)
{
	if ((unsigned)req->op > RT_ARCHIVE_PUT || !req->path || !*req->path ||
	    (req->op == RT_ARCHIVE_PUT && req->input_fd < 0) || !cbs->on_done ||
	    (req->op == RT_ARCHIVE_GET && !cbs->on_data)) {
		rt__err(err, "invalid archive request");
		return -EINVAL;
	}
	return 0;
}

/* What the helper needs made: the seccomp filter for its capabilities
 * (*@bpf, owned) and a stopped container's mount point. */
static int prepare(struct rt *rt, const struct rt__config *c,
		   enum rt_archive_op op, char **bpf, struct shoal_err *err)
{
	char *dir;
	int rc;

	rc = rt__seccomp_cached(rt,
				op == RT_ARCHIVE_PUT ? RT__ARCHIVE_WRITE_CAPS
						     : RT__ARCHIVE_READ_CAPS,
				bpf, err);
	if (rc < 0)
		return rc;
	dir = rt__path("%s/copy", c->run_dir);
	rc = dir ? path_mkdir_p(dir, 0700) : -ENOMEM;
	if (rc < 0) {
		rt__err(err, "cannot make %s/copy: %s", c->run_dir,
			strerror(-rc));
		shoal_free(*bpf);
		*bpf = NULL;
	}
	shoal_free(dir);
	return rc;
}

/* The pidfd of the helper just spawned (our unreaped child: its pid
 * cannot be reused meanwhile); on failure it is killed and reaped. */
static int open_pidfd(struct rt_archive *a)
{
	int rc;

	a->pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
	if (a->pidfd >= 0)
		return 0;
	rc = -errno;
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	return rc;
}

/* watch() failed (libuv out of memory): kill and reap at once; the
 * handles made close and free @a, or it goes now. */
static void abandon(struct rt_archive *a)
{
	syscall(SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
	waitpid(a->pid, NULL, 0);
	a->exited = a->closed = true;
	if (a->handles > 0) {
		close_handles(a);
		return;
	}
	close(a->pidfd);
	if (a->report_fd >= 0)
		close(a->report_fd);
	shoal_free(a);
}

int rt_archive_start(struct rt *rt, uv_loop_t *loop, const char *ref,
		     const struct rt_archive_req *req,
		     const struct rt_archive_cbs *cbs, struct rt_archive **out,
		     struct shoal_err *err)
{
	const struct rt__config *c;
	struct rt__state st;
	struct rt_archive *a;
	struct shoal_err local;
	struct fds f;
	char *bpf = NULL;
	bool running;
	int rc, tfd = -1;

	if (!err)
		err = &local;
	rt__err(err, "%s", "");
	if ((rc = check_req(req, cbs, err)) < 0)
		return rc;
	c = rt__config_of(rt, ref, &st);
	if (!c) {
		rt__err(err, "No such container: %s", ref);
		return SHOAL_ENOTFOUND;
	}
	if ((rc = prepare(rt, c, req->op, &bpf, err)) < 0)
		return rc;
	rc = target(rt, ref, &c, &tfd, &running, err);
	if (rc < 0)
		goto err_bpf;
	a = shoal_calloc(1, sizeof(*a));
	if (!a) {
		rc = -ENOMEM;
		goto err_target;
	}
	a->loop = loop;
	a->op = req->op;
	a->cbs = *cbs;
	a->pidfd = a->report_fd = -1;
	rc = open_fds(req, tfd, &f);
	tfd = -1; /* f.child[4] now, or closed */
	if (rc == 0)
		rc = spawn(rt, c, req, running, bpf, &f, &a->pid, err);
	if (rc == 0)
		rc = open_pidfd(a);
	if (rc < 0)
		goto err_fds;
	rc = watch(a, &f);
	fds_close(&f);
	shoal_free(bpf);
	if (rc < 0) {
		rt__err(err, "cannot watch the archive helper: %s",
			uv_strerror(rc));
		abandon(a);
		return rc;
	}
	*out = a;
	return 0;
err_fds:
	fds_close(&f);
	shoal_free(a);
err_target:
	if (tfd >= 0)
		close(tfd);
err_bpf:
	shoal_free(bpf);
	if (!err->msg[0])
		rt__err(err, "cannot copy: %s", strerror(-rc));
	return rc;
}

void rt_archive_pause(struct rt_archive *a)
{
	a->paused = true;
	data_stop(a);
}

void rt_archive_resume(struct rt_archive *a)
{
	a->paused = false;
	data_start(a);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct rt_archive *a = t->data;

	if (!a->exited)
		syscall(SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
	close_handle(a, (uv_handle_t *)t);
}

/*
 * Stop a helper still running: SIGTERM, on which it kills and reaps its
 * worker and dies; SIGKILL after a grace if that did not happen (the
 * worker then dies of PR_SET_PDEATHSIG). The exit poll reaps it.
 */
static void stop_helper(struct rt_archive *a)
{
	syscall(SYS_pidfd_send_signal, a->pidfd, SIGTERM, NULL, 0);
	a->kill_timer.data = a;
	if (uv_timer_init(a->loop, &a->kill_timer) < 0) {
		a->kill_timer.data = NULL;
		syscall(SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
		return;
	}
	a->handles++;
	if (uv_timer_start(&a->kill_timer, on_kill_timer, KILL_GRACE_MS, 0) <
	    0) {
		syscall(SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
		close_handle(a, (uv_handle_t *)&a->kill_timer);
	}
}

void rt_archive_close(struct rt_archive *a)
{
	if (!a || a->closed)
		return;
	a->closed = true;
	if (!a->exited && !reap(a))
		stop_helper(a);
	close_handles(a);
}
