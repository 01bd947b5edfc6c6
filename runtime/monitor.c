/*
 * The monitor: one small process per running container, conmon's role.
 *
 * `shoal-monitor run <container-dir> <reply-fd> <go-fd>` is spawned by
 * rt_container_start(), which makes the cgroup meanwhile and says "G" on
 * <go-fd> when it is ready. It forks once more and the first process exits, so
 * the monitor is never the daemon's child and survives it (it also calls
 * setsid(), ignores SIGTERM/SIGINT/SIGHUP and keeps no fd of the daemon's).
 * It then clones the container's init (child.c), puts it into its cgroup,
 * waits for the exec, records "running" in state.json and answers the
 * daemon on <fd> with "OK <pid>" or "ERR <sentence>".
 *
 * While the container runs, one epoll loop: stdout/stderr pipes (or the pty
 * master) go line by line into the json-file log and raw (tty) or framed
 * (Docker's 8-byte stream header) to attach clients on
 * <exec-root>/<id>/attach.sock, whose input feeds the container's stdin
 * (with open_stdin, what came out before the first attach is kept, up to
 * 64 KiB, and given to that first client);
 * <exec-root>/<id>/ctl.sock takes "resize <rows> <cols>". A client that
 * cannot keep up is dropped, so a stuck reader never blocks the log.
 *
 * When the init exits, the pid namespace dies with it, every writer of the
 * pipes is gone and the output drains to EOF; the monitor then reads the
 * OOM counter, removes the cgroup, writes "exited" with the exit code
 * (128 + signal when killed) into state.json and exits. Its own exit is
 * what the daemon's pidfd sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/path.h"
#include "runtime/internal.h"

#define MAX_CLIENTS 16
#define LINE_MAX_BYTES 16384
#define EARLY_MAX 65536

struct linebuf {
	char data[LINE_MAX_BYTES];
	size_t len;
};

struct mon {
	struct rt__config *c;
	struct rt__cgroups cg;
	struct rt__state st;
	pid_t pid;
	int ep;
	int sfd;
	int out; /* stdout pipe or pty master */
	int err; /* stderr pipe, -1 with a tty */
	int in;	 /* container stdin (pipe write end or pty), or -1 */
	int listen;
	int ctl;
	struct rt__log_writer log;
	int clients[MAX_CLIENTS];
	struct linebuf lb[3];
	/* Interactive containers: output made before the first attach,
	 * already framed, handed to that first client (bounded). */
	char early[EARLY_MAX];
	size_t early_len;
	bool attached_once;
	bool exited;
	int status;
};

static void trace(const char *what);
static int setup_loop(struct mon *m);

enum {
	TAG_SIG = -1,
	TAG_OUT = -2,
	TAG_ERR = -3,
	TAG_LISTEN = -4,
	TAG_CTL = -5
};

static int ep_add(int ep, int fd, int tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};

	ev.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)(uint32_t)tag << 32);
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void log_flush(struct mon *m, int stream, bool all)
{
	struct linebuf *b = &m->lb[stream];
	int64_t now = time_real_ns();
	size_t start = 0;

	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n') {
			rt__logw_append(&m->log, stream, b->data + start,
					i + 1 - start, now);
			start = i + 1;
		}
	if ((all || start == 0) && b->len == LINE_MAX_BYTES) {
		rt__logw_append(&m->log, stream, b->data, b->len, now);
		start = b->len;
	}
	if (all && start < b->len) {
		rt__logw_append(&m->log, stream, b->data + start,
				b->len - start, now);
		start = b->len;
	}
	memmove(b->data, b->data + start, b->len - start);
	b->len -= start;
}

static void log_data(struct mon *m, int stream, const char *p, size_t n)
{
	struct linebuf *b = &m->lb[stream];

	while (n > 0) {
		size_t take = LINE_MAX_BYTES - b->len;
		if (take > n)
			take = n;
		memcpy(b->data + b->len, p, take);
		b->len += take;
		p += take;
		n -= take;
		log_flush(m, stream, false);
	}
}

static void drop_client(struct mon *m, int i)
{
	epoll_ctl(m->ep, EPOLL_CTL_DEL, m->clients[i], NULL);
	close(m->clients[i]);
	m->clients[i] = -1;
}

static bool log_none(const struct mon *m)
{
	return m->c->log_driver && !strcmp(m->c->log_driver, "none");
}

/* Output made before the first attach is kept for it (bounded) when that
 * attach cannot read it from the log: `docker run -i`, whose client
 * reads the socket, and the none log driver, which keeps no log. */
static bool keeps_early(const struct mon *m)
{
	return m->c->open_stdin || log_none(m);
}

static void fan_out(struct mon *m, int stream, const char *p, size_t n)
{
	unsigned char hdr[8] = {(unsigned char)stream,
				0,
				0,
				0,
				(unsigned char)(n >> 24),
				(unsigned char)(n >> 16),
				(unsigned char)(n >> 8),
				(unsigned char)n};
	struct iovec iov[2] = {{hdr, 8}, {(void *)p, n}};

	if (!m->attached_once && keeps_early(m)) {
		size_t h = m->c->tty ? 0 : 8;
		if (m->early_len + h + n <= EARLY_MAX) {
			memcpy(m->early + m->early_len, hdr, h);
			memcpy(m->early + m->early_len + h, p, n);
			m->early_len += h + n;
		}
		return;
	}
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct msghdr msg = {.msg_iov = m->c->tty ? iov + 1 : iov,
				     .msg_iovlen = m->c->tty ? 1 : 2};
		size_t want = n + (m->c->tty ? 0 : 8);
		if (m->clients[i] < 0)
			continue;
		if (sendmsg(m->clients[i], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)want)
			drop_client(m, i); /* too slow or gone */
	}
}

/* Read what a stream has; false at EOF (or EIO: the pty slave closed). */
static bool pump(struct mon *m, int fd, int stream)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	log_data(m, stream, buf, (size_t)n);
	fan_out(m, stream, buf, (size_t)n);
	return true;
}

static void close_stream(struct mon *m, int *fd, int stream)
{
	epoll_ctl(m->ep, EPOLL_CTL_DEL, *fd, NULL);
	if (*fd == m->in)
		m->in = -1;
	close(*fd);
	*fd = -1;
	log_flush(m, stream, true);
}

static void on_client(struct mon *m, int i)
{
	char buf[4096];
	ssize_t n = read(m->clients[i], buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The attacher closed its input: close the container's
		 * stdin, as Docker does for `run -i` (StdinOnce). */
		drop_client(m, i);
		if (m->in >= 0 && !m->c->tty) {
			close(m->in);
			m->in = -1;
		}
		return;
	}
	if (m->in >= 0 && write(m->in, buf, (size_t)n) < 0 && errno != EAGAIN) {
		if (!m->c->tty) {
			close(m->in);
			m->in = -1;
		}
	}
}

/* Accept one attach; false when none is pending. */
static bool on_accept(struct mon *m)
{
	int fd = accept4(m->listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return false;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->clients[i] < 0) {
			m->clients[i] = fd;
			if (ep_add(m->ep, fd, i) < 0) {
				drop_client(m, i);
				return true;
			}
			/* `docker run -i` attaches right after start: what
			 * came out before is not lost to it. */
			if (!m->attached_once && m->early_len &&
			    send(fd, m->early, m->early_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL) !=
				    (ssize_t)m->early_len)
				drop_client(m, i);
			m->attached_once = true;
			return true;
		}
	close(fd); /* full: bounded */
	return true;
}

static void on_ctl(struct mon *m)
{
	int fd = accept4(m->ctl, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = {1, 0};
	char buf[128];
	unsigned rows, cols;
	ssize_t n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "resize %u %u", &rows, &cols) == 2 &&
		    m->c->tty && m->out >= 0) {
			struct winsize ws = {.ws_row = (unsigned short)rows,
					     .ws_col = (unsigned short)cols};
			ioctl(m->out, TIOCSWINSZ, &ws);
			(void)!write(fd, "ok\n", 3);
		}
	}
	close(fd);
}

static void on_signal(struct mon *m)
{
	struct signalfd_siginfo si;
	int status;
	pid_t p;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((p = waitpid(-1, &status, WNOHANG)) > 0)
		if (p == m->pid) {
			trace("init exited");
			m->exited = true;
			m->status = status;
		}
}

static bool tracing;

/* SHOAL_MONITOR_TRACE=1: phase timestamps (µs) into monitor.log. */
static void trace(const char *what)
{
	if (tracing)
		fprintf(stderr, "%lld %s\n", (long long)(time_mono_ns() / 1000),
			what);
}

static void unlink_sockets(struct mon *m)
{
	char *path;

	if ((path = rt__path("%s/attach.sock", m->c->run_dir))) {
		unlink(path);
		shoal_free(path);
	}
	if ((path = rt__path("%s/ctl.sock", m->c->run_dir))) {
		unlink(path);
		shoal_free(path);
	}
}

/*
 * In a pid namespace of its own, the init's exit kills everything else
 * of the container. With --pid host or container:X it does not: kill what
 * is left in the container's cgroup, as runc does for a shared pid
 * namespace, so the cgroup can go and nothing outlives its container.
 */
static void kill_leftovers(struct mon *m)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (!strcmp(m->c->pid_mode, "private") ||
	    rt__cgroup_pids(&m->cg, m->c, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	shoal_free(pids);
}

static void finish(struct mon *m)
{
	struct rusage ru;
	char *path;

	/* An attach that connected while the container was exiting waits in
	 * the listen backlog: closing the socket would reset it and lose
	 * the early output it came for. Remove the path first (a later
	 * attach fails to connect and reads the log instead), then take
	 * what is queued. */
	if ((path = rt__path("%s/attach.sock", m->c->run_dir))) {
		unlink(path);
		shoal_free(path);
	}
	while (on_accept(m))
		;
	if (m->out >= 0)
		close_stream(m, &m->out, 1);
	if (m->err >= 0)
		close_stream(m, &m->err, 2);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->clients[i] >= 0)
			drop_client(m, i);
	trace("drained");
	kill_leftovers(m);
	m->st.oom_killed = rt__cgroup_oom_killed(&m->cg, m->c);
	rt__cgroup_destroy(&m->cg, m->c);
	rt__shm_release(m->c);
	trace("cgroup removed");
	m->st.status = RT_STATUS_EXITED;
	m->st.exit_code = WIFEXITED(m->status) ? WEXITSTATUS(m->status)
					       : 128 + WTERMSIG(m->status);
	m->st.finished_ns = time_real_ns();
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		m->st.monitor_maxrss_kb = ru.ru_maxrss;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		m->st.init_maxrss_kb = ru.ru_maxrss;
	rt__state_save(m->c->dir, &m->st);
	unlink_sockets(m);
}

static void loop(struct mon *m)
{
	struct epoll_event evs[16];
	int64_t deadline = 0;

	for (;;) {
		int timeout = -1, n;
		if (m->exited) {
			/* With no log, output nobody has seen yet waits a
			 * moment for the attach of `docker run`, which
			 * connects right after the start: a short command
			 * can be gone by then. */
			bool waiting = log_none(m) && !m->attached_once &&
				       m->early_len > 0;
			if (m->out < 0 && m->err < 0 && !waiting)
				break;
			if (!deadline)
				deadline = time_mono_ns() + 2 * NSEC_PER_SEC;
			if (time_mono_ns() >= deadline)
				break; /* a writer outlived the pid ns?! */
			timeout = 100;
		}
		n = epoll_wait(m->ep, evs, 16, timeout);
		for (int i = 0; i < n; i++) {
			int tag = (int)(evs[i].data.u64 >> 32);
			if (tag == TAG_SIG)
				on_signal(m);
			else if (tag == TAG_OUT && m->out >= 0 &&
				 !pump(m, m->out, 1))
				close_stream(m, &m->out, 1);
			else if (tag == TAG_ERR && m->err >= 0 &&
				 !pump(m, m->err, 2))
				close_stream(m, &m->err, 2);
			else if (tag == TAG_LISTEN)
				on_accept(m);
			else if (tag == TAG_CTL)
				on_ctl(m);
			else if (tag >= 0 && tag < MAX_CLIENTS &&
				 m->clients[tag] >= 0)
				on_client(m, tag);
		}
	}
	finish(m);
}

static int write_maps(const struct rt__config *c, pid_t pid)
{
	char path[64], map[64];
	int rc;

	snprintf(map, sizeof(map), "0 %u %u\n", c->userns_host_id,
		 c->userns_size);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	rc = rt__write_str(path, map);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	return rt__write_str(path, map);
}

static void reply(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 &&
	    write(fd, buf,
		  (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1))
		return;
}

/*
 * With a user namespace, the image's layers (owned by the host's root) are
 * handed to the init as idmapped mounts: host ids shifted into the
 * container's range, so its root owns /bin as it should. Made here, where
 * we are privileged over the host's mounts; the init attaches them in its
 * own mount namespace. Without idmapped mount support the init gets none
 * and uses the layers as they are (then they must be shifted on disk).
 */
static void send_idmapped_layers(struct mon *m, int sock)
{
	const struct rt__config *c = m->c;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
	char path[4096];
	int ns;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)m->pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return;
	attr.userns_fd = (uint64_t)ns;
	for (size_t i = 0; i < c->n_lower; i++) {
		int fd = open_tree(AT_FDCWD, c->lower[i],
				   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					   AT_RECURSIVE);
		snprintf(path, sizeof(path), "%s/lower%zu", c->run_dir, i);
		if (fd < 0 || (mkdir(path, 0755) < 0 && errno != EEXIST) ||
		    mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) <
			    0 ||
		    rt__send_fd(sock, fd) < 0) {
			fprintf(stderr,
				"idmapped layer %s unavailable (%s): "
				"layers are used as they are\n",
				c->lower[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
	}
	close(ns);
}

/* The daemon makes the cgroup while we start (fd 4 says "G" when it is
 * there); we only move the init in. */
static int enter_cgroup(struct mon *m, struct shoal_err *err)
{
	char go = 0;
	int rc;

	while (read(4, &go, 1) < 0 && errno == EINTR)
		;
	close(4);
	if (go != 'G') {
		rt__err(err, "the daemon could not make the cgroup");
		return -EIO;
	}
	rc = rt__cgroup_enter(&m->cg, m->c, m->pid);
	if (rc < 0)
		rt__err(err, "cannot move pid %d into its cgroup: %s",
			(int)m->pid, strerror(-rc));
	return rc;
}

/* The init's stdio without a tty: pipes for its output and, with
 * open_stdin, its input (else /dev/null). Our ends land in @m. */
static int make_stdio(struct mon *m, struct rt__child_args *a, int child[3])
{
	int pout[2], perr[2], pin[2] = {-1, -1};

	if (pipe2(pout, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(perr, O_CLOEXEC) < 0)
		return -errno;
	if (m->c->open_stdin
		    ? pipe2(pin, O_CLOEXEC) < 0
		    : (pin[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	a->stdio[0] = child[0] = pin[0];
	a->stdio[1] = child[1] = pout[1];
	a->stdio[2] = child[2] = perr[1];
	m->out = pout[0];
	m->err = perr[0];
	m->in = pin[1];
	return 0;
}

static int clone_init(struct mon *m, struct rt__child_args *a, int sp[2],
		      struct shoal_err *err)
{
	const struct rt__config *c = m->c;
	unsigned long flags =
		CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	int child[3] = {-1, -1, -1}, rc;
	char path[4096];

	if (!strcmp(c->network, "none"))
		flags |= CLONE_NEWNET;
	if (c->userns_size)
		flags |= CLONE_NEWUSER;
	if ((rc = rt__ns_prepare(m->c, &flags, err)) < 0 ||
	    (rc = rt__shm_prepare(c, err)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/rootfs", c->run_dir);
	if (path_mkdir_p(path, 0755) < 0) {
		rt__err(err, "cannot create %s", path);
		return -EIO;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	if (!c->tty && (rc = make_stdio(m, a, child)) < 0)
		return rc;
	m->pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (m->pid < 0) {
		rc = -errno;
		rt__err(err, "clone: %s", strerror(errno));
		return rc;
	}
	if (m->pid == 0) {
		close(sp[0]);
		a->sync_fd = sp[1];
		rt__child_main(a);
	}
	trace("cloned");
	close(sp[1]);
	for (int i = 0; i < 3; i++)
		if (child[i] >= 0)
			close(child[i]);
	return 0;
}

/* Maps and layers (user namespace), our loop, the cgroup, then "G" and
 * the init's answer: EOF once it has exec'd, or its reason. */
static int handshake(struct mon *m, int sock, int *master,
		     struct shoal_err *err)
{
	const struct rt__config *c = m->c;
	int rc = c->userns_size ? write_maps(c, m->pid) : 0;
	bool sent;

	if (rc < 0) {
		rt__err(err, "cannot write the user namespace maps: %s",
			strerror(-rc));
		return rc;
	}
	if (c->userns_size) {
		send_idmapped_layers(m, sock);
		if (write(sock, "U", 1) != 1)
			return -EPIPE;
	}
	/* The init builds its rootfs meanwhile; it waits for "G" only
	 * before its exec. */
	if ((rc = setup_loop(m)) < 0) {
		rt__err(err, "monitor set-up failed: %s", strerror(-rc));
		return rc;
	}
	rc = enter_cgroup(m, err);
	trace("in cgroup");
	if (rc < 0)
		return rc;
	/* If the init already failed, "G" finds it gone; its reason is
	 * still queued on the socket, so read it either way. */
	sent = write(sock, "G", 1) == 1;
	rc = rt__wait_sync(sock, master, err);
	if (rc == 0 && !sent) {
		rt__err(err, "the container's init died during set-up");
		rc = -EPIPE;
	}
	trace("exec'd");
	return rc;
}

/* Clone the init and see it to its exec. 0, or -errno with @err. */
static int spawn(struct mon *m, struct shoal_err *err)
{
	struct rt__child_args a = {.c = m->c};
	const struct rt__config *c = m->c;
	int sp[2], rc, master = -1;

	rc = clone_init(m, &a, sp, err);
	if (rc < 0)
		return rc;
	rc = handshake(m, sp[0], &master, err);
	close(sp[0]);
	if (rc < 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		rt__cgroup_destroy(&m->cg, c);
		rt__shm_release(c);
		return rc;
	}
	if (c->tty) {
		if (master < 0) {
			rt__err(err, "the container's init sent no pty");
			return -EPROTO;
		}
		m->out = master;
		m->in = c->open_stdin ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
	}
	if (m->in >= 0)
		fcntl(m->in, F_SETFL, O_NONBLOCK);
	return 0;
}

static void monitor_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* After the clone, while the init builds its rootfs. */
static int setup_loop(struct mon *m)
{
	char *path;
	sigset_t set;
	int rc;

	monitor_signals(&set);
	m->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	m->ep = epoll_create1(EPOLL_CLOEXEC);
	if (m->sfd < 0 || m->ep < 0)
		return -errno;
	path = rt__path("%s/attach.sock", m->c->run_dir);
	m->listen = path ? listen_unix(path) : -ENOMEM;
	shoal_free(path);
	path = rt__path("%s/ctl.sock", m->c->run_dir);
	m->ctl = path ? listen_unix(path) : -ENOMEM;
	shoal_free(path);
	if (m->listen < 0 || m->ctl < 0)
		return m->listen < 0 ? m->listen : m->ctl;
	if ((rc = rt__logw_open(&m->log, m->c)) < 0)
		return rc;
	for (int i = 0; i < MAX_CLIENTS; i++)
		m->clients[i] = -1;
	if (ep_add(m->ep, m->sfd, TAG_SIG) < 0 ||
	    ep_add(m->ep, m->listen, TAG_LISTEN) < 0 ||
	    ep_add(m->ep, m->ctl, TAG_CTL) < 0)
		return -errno;
	return 0;
}

static int run(struct mon *m, int result_fd)
{
	struct shoal_err err = {""};
	sigset_t set;
	int rc;

	rc = path_mkdir_p(m->c->run_dir, 0700);
	if (rc == 0)
		rc = rt__cgroup_detect(&m->cg);
	if (rc < 0) {
		rt__err(&err, "no usable cgroup hierarchy");
		goto fail;
	}
	/* SIGCHLD is blocked before the clone: no exit can be missed. */
	monitor_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rc = spawn(m, &err);
	if (rc < 0)
		goto fail;
	if (ep_add(m->ep, m->out, TAG_OUT) < 0 ||
	    (m->err >= 0 && ep_add(m->ep, m->err, TAG_ERR) < 0))
		goto fail;
	m->st.status = RT_STATUS_RUNNING;
	m->st.pid = m->pid;
	m->st.pid_start = rt__proc_start_time(m->pid);
	m->st.monitor_pid = getpid();
	m->st.monitor_start = rt__proc_start_time(getpid());
	m->st.started_ns = time_real_ns();
	rt__state_save(m->c->dir, &m->st);
	reply(result_fd, "OK %d\n", (int)m->pid);
	close(result_fd);
	loop(m);
	return 0;
fail:
	if (!err.msg[0])
		rt__err(&err, "monitor: %s", strerror(-rc));
	snprintf(m->st.error, sizeof(m->st.error), "%s", err.msg);
	unlink_sockets(m);
	m->st.status = RT_STATUS_CREATED;
	rt__state_save(m->c->dir, &m->st);
	reply(result_fd, "ERR %s\n", err.msg);
	return 1;
}

int rt__monitor_main(int argc, char **argv)
{
	struct mon m = {.out = -1, .err = -1, .in = -1, .log = {.fd = -1}};
	struct shoal_err err = {""};
	int result_fd, null_fd, rc;
	char *logp;
	pid_t p;

	if (argc != 5)
		return 2;
	tracing = getenv("SHOAL_MONITOR_TRACE") != NULL;
	trace("exec");
	result_fd = atoi(argv[3]);
	/* Only the reply fd survives: nothing else of the daemon's stays
	 * open in the monitor or leaks into the container. */
	if (result_fd != 3 && dup2(result_fd, 3) < 0)
		return 1;
	result_fd = 3;
	fcntl(result_fd, F_SETFD, FD_CLOEXEC);
	if (atoi(argv[4]) != 4 && dup2(atoi(argv[4]), 4) < 0)
		return 1;
	fcntl(4, F_SETFD, FD_CLOEXEC);
	rc = fd_close_from(5, NULL, 0);
	if (rc < 0) {
		reply(result_fd,
		      "ERR monitor: cannot close inherited descriptors: %s\n",
		      strerror(-rc));
		return 1;
	}
	if (rt__config_load(argv[2], &m.c, &err) < 0) {
		reply(result_fd, "ERR %s\n", err.msg);
		return 1;
	}
	/* Detach: the daemon reaps the intermediate at once; we belong to
	 * init (or a subreaper) from here on. */
	p = fork();
	if (p < 0) {
		reply(result_fd, "ERR monitor fork: %s\n", strerror(errno));
		return 1;
	}
	if (p > 0)
		_exit(0);
	setsid();
	signal(SIGPIPE, SIG_IGN);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	logp = rt__path("%s/monitor.log", m.c->run_dir);
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
	}
	if (logp) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0600);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		shoal_free(logp);
	}
	_exit(run(&m, result_fd));
}
