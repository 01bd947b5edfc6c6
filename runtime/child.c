/*
 * The container's init, from clone() to execve(). It runs in the new
 * namespaces the monitor asked for, as a fresh copy of the single-threaded
 * monitor, so it may allocate and use stdio freely.
 *
 * Handshake with the monitor over a SOCK_SEQPACKET pair. In a user
 * namespace, first wait for "U" (uid/gid maps written). Then join or set up
 * the network, set the hostname, build the rootfs, make the tty and send
 * its master (an fd), all while the monitor makes our cgroup in parallel;
 * wait for "G" (we are in the cgroup), unshare the cgroup namespace (so
 * its root is our own cgroup), become the user and exec. A failure is sent as
 * "E" + one sentence; success is the socket closing on exec (CLOEXEC).
 *
 * Seccomp goes last when no_new_privs is set; without it, loading a filter
 * needs CAP_SYS_ADMIN, so it goes before the capabilities are dropped (as
 * runc does) and every later syscall here is one the profile allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/path.h"
#include "runtime/internal.h"

#define MAX_GROUPS 64

/*
 * Docker resolves -u in the daemon, before the OCI runtime runs: its
 * "unable to find user ..." comes without the runtime's wrapping, which
 * every other failure of the init gets (report()). Set once, in the init's
 * own single-threaded process.
 */
static bool user_unresolved;

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int join_netns(const char *path, struct shoal_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int rc = -errno;
		rt__err(err, "cannot join network namespace %s: %s", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* The container's tty: a pty of its own devpts, the slave as stdio and
 * controlling terminal and /dev/console, the master to the monitor. */
static int setup_tty(int sync_fd, struct shoal_err *err)
{
	int master, slave, unlock = 0, n, rc;
	char path[64];

	master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    ioctl(master, TIOCGPTN, &n) < 0) {
		rt__err(err, "cannot allocate a pty: %s", strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "/dev/pts/%d", n);
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		rt__err(err, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	close(open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	if (mount(path, "/dev/console", NULL, MS_BIND, NULL) < 0) {
		rt__err(err, "cannot bind /dev/console: %s", strerror(errno));
		return -errno;
	}
	if (rt__send_fd(sync_fd, master) < 0) {
		rt__err(err, "cannot pass the pty to the monitor");
		return -EPIPE;
	}
	close(master);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
		rt__err(err, "cannot set the controlling tty: %s",
			strerror(errno));
		return -errno;
	}
	rc = rt__stdio_dup((int[3]){slave, slave, slave});
	if (slave > 2)
		close(slave);
	return rc;
}

static const char *env_get(char *const *env, const char *key)
{
	size_t k = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, k) && env[i][k] == '=')
			return env[i] + k + 1;
	return NULL;
}

/* strerror() in Go's words (syscall.Errno.Error() is lowercase): the
 * docker CLI picks its exit code by searching for "permission denied". */
static const char *go_strerror(int e, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* Go's findExecutable(): 0, or -errno from stat, -EISDIR, -EACCES. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	return st.st_mode & 0111 ? 0 : -EACCES;
}

/*
 * argv[0] through the container's PATH as runc finds it (Go's
 * exec.LookPath), with its messages, which Docker passes on and whose
 * words decide the docker CLI's exit code: 127 for "executable file not
 * found" and "no such file or directory", 126 for "permission denied" and
 * "is a directory".
 */
static int find_exec(const char *name, char *const *env, char *out, size_t cap,
		     struct shoal_err *err)
{
	const char *path = env_get(env, "PATH");
	char buf[4096], why[128];
	int rc;

	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		rc = executable(name);
		if (rc == -EISDIR || rc == -EACCES)
			rt__err(err, "exec: \"%s\": %s", name,
				go_strerror(-rc, why, sizeof(why)));
		else if (rc < 0)
			rt__err(err, "exec: \"%s\": stat %s: %s", name, name,
				go_strerror(-rc, why, sizeof(why)));
		return rc;
	}
	snprintf(buf, sizeof(buf), "%s",
		 path ? path
		      : "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			"/usr/bin:/sbin:/bin");
	for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
		snprintf(out, cap, "%s/%s", dir, name);
		if (executable(out) == 0)
			return 0;
	}
	rt__err(err, "exec: \"%s\": executable file not found in $PATH", name);
	return -ENOENT;
}

static int set_rlimits(const struct rt__config *c, struct shoal_err *err)
{
	for (size_t i = 0; i < c->n_rlimits; i++) {
		struct rlimit rl = {c->rlimits[i].soft, c->rlimits[i].hard};
		if (setrlimit(c->rlimits[i].resource, &rl) < 0) {
			rt__err(err, "cannot set rlimit %d: %s",
				c->rlimits[i].resource, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int load_seccomp(const struct rt__bpf *bpf, bool privileged,
			struct shoal_err *err)
{
	int rc;

	if (privileged)
		return 0;
	rc = rt__seccomp_install(bpf);
	if (rc < 0)
		rt__err(err, "cannot load the seccomp filter: %s",
			strerror(-rc));
	return rc;
}

static int switch_user(const struct rt__config *c, const char *user,
		       uint64_t caps, char *home, size_t home_len,
		       struct shoal_err *err)
{
	gid_t groups[MAX_GROUPS];
	size_t n_groups;
	uid_t uid;
	gid_t gid;
	int rc;

	rc = rt__user_resolve("/", user, &uid, &gid, groups, &n_groups, home,
			      home_len, err);
	if (rc == 0)
		rc = rt__group_add("/", c->group_add, c->n_group_add, groups,
				   &n_groups, MAX_GROUPS, err);
	if (rc < 0) {
		user_unresolved = true;
		return rc;
	}
	rc = rt__caps_bound(caps);
	if (rc < 0) {
		rt__err(err, "cannot drop capabilities: %s", strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		rt__err(err, "cannot become user %s: %s", user ? user : "0",
			strerror(errno));
		return -errno;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	rc = rt__caps_apply(caps);
	if (rc < 0)
		rt__err(err, "cannot set capabilities: %s", strerror(-rc));
	return rc;
}

/* The environment: the container's, then HOME, HOSTNAME, TERM, PATH when
 * unset (Docker's defaults). */
static char **build_env(const struct rt__config *c, char *const *extra,
			const char *home, bool tty)
{
	size_t n = 0, cap = c->n_env + 8;
	char **env;

	for (size_t i = 0; extra && extra[i]; i++)
		cap++;
	env = shoal_calloc(cap, sizeof(char *));
	if (!env)
		return NULL;
	env[n++] = rt__path("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			    "/usr/bin:/sbin:/bin");
	env[n++] = rt__path("HOSTNAME=%s", c->hostname);
	if (tty)
		env[n++] = rt__path("TERM=xterm");
	env[n++] = rt__path("HOME=%s", home);
	/* Later entries override earlier ones with the same key. */
	for (int pass = 0; pass < 2; pass++) {
		char *const *src = pass ? extra : c->env;
		for (size_t i = 0; src && src[i]; i++) {
			size_t k = strcspn(src[i], "=");
			for (size_t j = 0; j < n; j++)
				if (env[j] && !strncmp(env[j], src[i], k) &&
				    env[j][k] == '=') {
					shoal_free(env[j]);
					env[j] = env[--n];
					env[n] = NULL;
					break;
				}
			env[n++] = shoal_strdup(src[i]);
		}
	}
	return env;
}

/*
 * Nothing but stdio reaches the program: a descriptor inherited from
 * whoever started the daemon, or one a path here forgot to mark, could
 * be a folder of the host (runc's CVE-2024-21626). The sync socket stays
 * open for the error report should execve() fail, and closes on exec.
 */
static int close_inherited(int sync_fd, struct shoal_err *err)
{
	int rc = fd_close_from(3, &sync_fd, 1);

	if (rc == 0 && fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0)
		rc = -errno;
	if (rc < 0)
		rt__err(err, "cannot close inherited descriptors: %s",
			strerror(-rc));
	return rc;
}

int rt__finish_process(const struct rt__config *c, char *const *argv,
		       char *const *env, const char *user, const char *cwd,
		       bool privileged, const struct rt__bpf *bpf, int sync_fd,
		       struct shoal_err *err)
{
	uint64_t caps = privileged ? rt__caps_all() : c->caps;
	char home[256], exe[4096], why[128];
	char **full_env;
	sigset_t all;
	int rc;

	if ((rc = set_rlimits(c, err)) < 0)
		return rc;
	/* Docker makes a missing working dir; on a read-only root this may
	 * fail, and chdir() below reports it. */
	(void)path_mkdir_p(cwd, 0755);
	if (!c->no_new_privs && (rc = load_seccomp(bpf, privileged, err)) < 0)
		return rc;
	rc = switch_user(c, user, caps, home, sizeof(home), err);
	if (rc < 0)
		return rc;
	if (chdir(cwd) < 0) {
		rt__err(err,
			"chdir to cwd (\"%s\") set in config.json failed: "
			"%s",
			cwd, strerror(errno));
		return -errno;
	}
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rt__err(err, "cannot set no_new_privs: %s", strerror(errno));
		return -errno;
	}
	full_env = build_env(c, env, home, c->tty);
	if (!full_env)
		return -ENOMEM;
	if ((rc = find_exec(argv[0], full_env, exe, sizeof(exe), err)) < 0)
		return rc;
	/* Before the last filter: a custom profile may refuse close_range
	 * (the fallback then lists /proc/self/fd). */
	if ((rc = close_inherited(sync_fd, err)) < 0)
		return rc;
	if (c->no_new_privs && (rc = load_seccomp(bpf, privileged, err)) < 0)
		return rc;
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	execve(exe, argv, full_env);
	rc = -errno;
	rt__err(err, "exec %s: %s", exe, go_strerror(-rc, why, sizeof(why)));
	return rc;
}

/*
 * The init's failure, in the words Docker passes on from containerd and
 * runc ("OCI runtime create failed: ...: unknown"), but for an unknown
 * user, which Docker finds before the runtime runs: the sentence is what
 * `docker run` prints and what decides its exit code (see find_exec()).
 */
static void report(int fd, const struct shoal_err *err)
{
	char msg[sizeof(err->msg) + 1];
	int len;

	if (user_unresolved)
		len = snprintf(msg, sizeof(msg), "E%s", err->msg);
	else
		len = snprintf(msg, sizeof(msg),
			       "EOCI runtime create failed: unable to start "
			       "container process: %s: unknown",
			       err->msg);
	if (len < 0 || (size_t)len >= sizeof(msg))
		len = (int)sizeof(msg) - 1;
	if (send(fd, msg, (size_t)len, MSG_NOSIGNAL) < 0)
		_exit(126);
}

/* --oom-score-adj, from the init so every process it starts inherits
 * it. */
static int set_oom_score_adj(const struct rt__config *c, struct shoal_err *err)
{
	char val[16];
	int n = snprintf(val, sizeof(val), "%d", c->oom_score_adj);
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, val, (size_t)n) != n) {
		int e = errno;
		rt__err(err, "cannot set oom_score_adj to %d: %s",
			c->oom_score_adj, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* --init: /sbin/docker-init -- argv... (shoal-init, bound there by
 * mounts.c), as Docker runs tini. */
static char **init_argv(const struct rt__config *c)
{
	char **v = shoal_calloc(c->argc + 3, sizeof(char *));

	if (!v)
		return NULL;
	v[0] = (char *)RT__INIT_TARGET;
	v[1] = (char *)"--";
	for (size_t i = 0; i < c->argc; i++)
		v[i + 2] = c->argv[i];
	return v;
}

void rt__child_main(struct rt__child_args *a)
{
	const struct rt__config *c = a->c;
	struct shoal_err err = {""};
	struct rt__bpf bpf;
	int layers[RT_MAX_LOWER], n_layers = 0;
	char **argv, go;
	int rc;

	/* Read now: after pivot_root the host's file is out of sight. */
	if ((rc = rt__seccomp_read(c->seccomp, &bpf)) < 0) {
		rt__err(&err, "cannot read seccomp filter %s: %s", c->seccomp,
			strerror(-rc));
		goto fail;
	}
	/* In a user namespace nothing works before the maps are written;
	 * the monitor first sends idmapped mounts of the layers, if it
	 * could make them, then "U". */
	while (c->userns_size) {
		char msg[8];
		int fd;
		ssize_t n = rt__recv_msg(a->sync_fd, msg, sizeof(msg), &fd);
		if (n <= 0)
			_exit(126);
		if (fd >= 0 && n_layers < RT_MAX_LOWER)
			layers[n_layers++] = fd;
		else if (fd < 0 && msg[0] == 'U')
			break;
	}
	/* Our kuid is still the host's root, unmapped here: become the
	 * namespace's root, so files we make belong to the mapped range. */
	if (c->userns_size &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		rt__err(&err, "cannot become root in the user namespace: %s",
			strerror(errno));
		goto fail;
	}
	if (!c->tty && rt__stdio_dup(a->stdio) < 0)
		_exit(126);
	if (!strncmp(c->network, "/", 1) && join_netns(c->network, &err) < 0)
		goto fail;
	if (!strcmp(c->network, "none") && (rc = lo_up()) < 0) {
		rt__err(&err, "cannot bring up lo: %s", strerror(-rc));
		goto fail;
	}
	if (strcmp(c->uts_mode, "host") &&
	    sethostname(c->hostname, strlen(c->hostname)) < 0) {
		rt__err(&err, "cannot set hostname: %s", strerror(errno));
		goto fail;
	}
	umask(022);
	if (rt__rootfs_setup(c, n_layers == (int)c->n_lower ? layers : NULL,
			     &err) < 0)
		goto fail;
	if (c->tty && setup_tty(a->sync_fd, &err) < 0)
		goto fail;
	/* The monitor made our cgroup meanwhile; once we are in it, our
	 * cgroup namespace can be rooted there. */
	if (read(a->sync_fd, &go, 1) != 1 || go != 'G')
		_exit(126);
	if (!c->cgroupns_host && unshare(CLONE_NEWCGROUP) < 0 &&
	    errno != EINVAL) {
		rt__err(&err, "cannot unshare the cgroup namespace: %s",
			strerror(errno));
		goto fail;
	}
	/* /sys/fs/cgroup as Docker shows it: the namespace's view, read-only
	 * (mounted now, so that it is rooted at our own cgroup). */
	if (!c->userns_size && rt__cgroup_mount(c, &err) < 0)
		goto fail;
	if (c->oom_score_adj_set && set_oom_score_adj(c, &err) < 0)
		goto fail;
	argv = c->init_path ? init_argv(c) : c->argv;
	if (!argv) {
		rt__err(&err, "out of memory");
		goto fail;
	}
	rt__finish_process(c, argv, NULL, c->user, c->workdir, c->privileged,
			   &bpf, a->sync_fd, &err);
fail:
	report(a->sync_fd, &err);
	_exit(127);
}
