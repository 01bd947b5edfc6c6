/*
 * `shoal-monitor exec <container-dir> <pid> <spec-json>`: run one process
 * inside a running container, spawned by rt_exec_start() as the caller's
 * child with the process's stdio as fds 0-2 and a SOCK_SEQPACKET sync
 * socket as fd 3.
 *
 * It opens the init's namespace files first (before joining the mount
 * namespace changes what /proc shows), joins the container's cgroup,
 * setns()es user (if any), cgroup, ipc, uts, net, pid and mnt, and forks
 * so the process is born inside the pid namespace. The child takes the
 * container's capabilities, seccomp filter, no_new_privs, user and env
 * (rt__finish_process(), shared with the init) and execs; a tty is a pty
 * of the container's devpts whose master goes back over fd 3. The helper
 * waits and exits with the process's status (128 + signal if killed).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "runtime/internal.h"

#define SYNC_FD 3

static void fail_msg(const struct shoal_err *err)
{
	char msg[sizeof(err->msg) + 1] = "E";

	snprintf(msg + 1, sizeof(msg) - 1, "%s", err->msg);
	(void)!send(SYNC_FD, msg, strlen(msg), MSG_NOSIGNAL);
}

static int join_namespaces(pid_t pid, bool userns, struct shoal_err *err)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = {
		{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP},
		{"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS},
		{"net", CLONE_NEWNET},	 {"pid", CLONE_NEWPID},
		{"mnt", CLONE_NEWNS},
	};
	int fds[7];
	char path[64];

	for (size_t i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid,
			 ns[i].name);
		fds[i] = (i == 0 && !userns) ? -1
					     : open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && (i > 0 || userns)) {
			rt__err(err, "container is not running (%s: %s)", path,
				strerror(errno));
			return -ESRCH;
		}
	}
	for (size_t i = 0; i < 7; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], ns[i].type) < 0) {
			rt__err(err, "cannot join the %s namespace: %s",
				ns[i].name, strerror(errno));
			return -errno;
		}
		close(fds[i]);
	}
	return 0;
}

static int open_tty(struct shoal_err *err)
{
	int master, slave, unlock = 0, n, rc;
	char path[64];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
	    ioctl(master, TIOCGPTN, &n) < 0) {
		rt__err(err, "cannot allocate a pty: %s", strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "/dev/pts/%d", n);
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || rt__send_fd(SYNC_FD, master) < 0) {
		rt__err(err, "cannot open %s: %s", path, strerror(errno));
		return -EIO;
	}
	close(master);
	setsid();
	ioctl(slave, TIOCSCTTY, 0);
	rc = rt__stdio_dup((int[3]){slave, slave, slave});
	if (slave > 2)
		close(slave);
	if (rc < 0)
		rt__err(err, "cannot make the pty stdio: %s", strerror(-rc));
	return rc;
}

static char **strv_of(json_t *a)
{
	size_t n = json_array_size(a), i;
	char **v = shoal_calloc(n + 1, sizeof(char *));
	json_t *s;

	if (!v)
		return NULL;
	json_array_foreach(a, i, s) v[i] =
		shoal_strdup(json_is_string(s) ? json_string_value(s) : "");
	return v;
}

int rt__exec_helper_main(int argc, char **argv)
{
	struct shoal_err err = {""};
	struct rt__config *c;
	struct rt__cgroups cg;
	struct rt__bpf bpf;
	json_t *spec;
	const char *user, *cwd;
	char **pargv, **penv;
	bool tty, priv;
	int status, rc;
	pid_t pid, child;

	if (argc != 5)
		return 2;
	/* Only stdio and the sync socket: nothing else of the caller's
	 * comes along into the container's namespaces. */
	fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC);
	rc = fd_close_from(SYNC_FD + 1, NULL, 0);
	if (rc < 0) {
		rt__err(&err, "exec: cannot close inherited descriptors: %s",
			strerror(-rc));
		goto fail;
	}
	pid = (pid_t)atoi(argv[3]);
	spec = json_loads(argv[4], 0, NULL);
	if (!spec || !json_array_size(json_object_get(spec, "argv"))) {
		rt__err(&err, "exec: malformed process spec");
		goto fail;
	}
	if (rt__config_load(argv[2], &c, &err) < 0)
		goto fail;
	pargv = strv_of(json_object_get(spec, "argv"));
	penv = strv_of(json_object_get(spec, "env"));
	user = json_string_value(json_object_get(spec, "user"));
	cwd = json_string_value(json_object_get(spec, "workdir"));
	tty = json_is_true(json_object_get(spec, "tty"));
	priv = json_is_true(json_object_get(spec, "privileged"));
	if (!pargv || !penv)
		goto fail;
	if (rt__seccomp_read(c->seccomp, &bpf) < 0) {
		rt__err(&err, "exec: cannot read seccomp filter %s",
			c->seccomp);
		goto fail;
	}
	if (rt__cgroup_detect(&cg) == 0)
		rt__cgroup_enter(&cg, c, getpid());
	if (join_namespaces(pid, c->userns_size > 0, &err) < 0)
		goto fail;
	child = fork();
	if (child < 0) {
		rt__err(&err, "exec: fork: %s", strerror(errno));
		goto fail;
	}
	if (child == 0) {
		if (tty && open_tty(&err) < 0)
			goto fail;
		rt__finish_process(c, pargv, penv, user ? user : c->user,
				   cwd ? cwd : c->workdir,
				   priv || c->privileged, &bpf, SYNC_FD, &err);
		goto fail;
	}
	close(SYNC_FD);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
fail:
	fail_msg(&err);
	_exit(127);
}
