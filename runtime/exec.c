/*
 * rt_exec_start(): the daemon's side of exec. It spawns
 * `shoal-monitor exec` (exec_helper.c) as its own child with the process's
 * stdio (pipes, or /dev/null when a tty is made inside the container) and a
 * SOCK_SEQPACKET sync socket as fd 3, and no other descriptor of ours,
 * then waits for the exec: EOF on the socket means success, an "E" message
 * carries the reason, and a passed fd is the pty master. The helper's exit
 * status is the process's.
 *
 * Exec sessions do not survive the daemon (as in Docker): the helper is
 * the caller's child, reaped by rt_exec_wait() through its pidfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "runtime/internal.h"

extern char **environ;

static json_t *strv_json(const char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static char *spec_json(const struct rt_exec_spec *s)
{
	json_t *o = json_object();
	json_free_t jfree;
	char *t, *out;

	if (!o)
		return NULL;
	json_object_set_new(o, "argv", strv_json(s->argv));
	json_object_set_new(o, "env", strv_json(s->env));
	if (s->user)
		json_object_set_new(o, "user", json_string(s->user));
	if (s->workdir)
		json_object_set_new(o, "workdir", json_string(s->workdir));
	json_object_set_new(o, "tty", json_boolean(s->tty));
	json_object_set_new(o, "privileged", json_boolean(s->privileged));
	t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!t)
		return NULL;
	out = shoal_strdup(t);
	json_get_alloc_funcs(NULL, &jfree);
	jfree(t);
	return out;
}

static int check_exec_spec(const struct rt_exec_spec *s, struct shoal_err *err)
{
	struct rt_user_spec us;

	if (!s->argv || !s->argv[0] || !s->argv[0][0]) {
		rt__err(err, "No exec command specified");
		return -EINVAL;
	}
	if (s->user && rt_parse_user(s->user, &us) < 0) {
		rt__err(err, "invalid user \"%s\"", s->user);
		return -EINVAL;
	}
	if (s->workdir && s->workdir[0] != '/') {
		rt__err(err, "the working directory '%s' is invalid",
			s->workdir);
		return -EINVAL;
	}
	for (size_t i = 0; s->env && s->env[i]; i++)
		if (!strchr(s->env[i], '=')) {
			rt__err(err, "invalid environment variable: \"%s\"",
				s->env[i]);
			return -EINVAL;
		}
	return 0;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

/* The pipes and sync socket of one exec; [0] read ends, [1] write ends. */
struct exec_fds {
	int in[2], out[2], err[2], sync[2];
};

static void exec_fds_close(struct exec_fds *f)
{
	close_pair(f->in);
	close_pair(f->out);
	close_pair(f->err);
	close_pair(f->sync);
}

static int exec_fds_open(struct exec_fds *f, bool tty)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->sync) < 0)
		return -errno;
	if (tty)
		return 0;
	if (pipe2(f->in, O_CLOEXEC) < 0 || pipe2(f->out, O_CLOEXEC) < 0 ||
	    pipe2(f->err, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* `shoal-monitor exec <dir> <pid> <spec>` with its stdio and fd 3. */
static int spawn_helper(struct rt *rt, const struct rt__config *c, pid_t pid,
			char *json, bool tty, struct exec_fds *f, pid_t *helper)
{
	char pidbuf[16], *argv[6];
	posix_spawn_file_actions_t fa;
	int rc;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	argv[0] = rt->monitor;
	argv[1] = (char *)"exec";
	argv[2] = c->dir;
	argv[3] = pidbuf;
	argv[4] = json;
	argv[5] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (tty) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR,
						 0);
		posix_spawn_file_actions_adddup2(&fa, 0, 1);
		posix_spawn_file_actions_adddup2(&fa, 0, 2);
	} else {
		posix_spawn_file_actions_adddup2(&fa, f->in[0], 0);
		posix_spawn_file_actions_adddup2(&fa, f->out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, f->err[1], 2);
	}
	posix_spawn_file_actions_adddup2(&fa, f->sync[1], 3);
	/* Whatever the caller left inheritable stays behind. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	rc = -posix_spawn(helper, rt->monitor, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Hand the caller's ends of the stdio to @ex; close the helper's. */
static void take_stdio(struct rt_exec *ex, struct exec_fds *f, bool tty,
		       int master)
{
	if (tty) {
		ex->pty = master;
		return;
	}
	ex->stdin_fd = f->in[1];
	ex->stdout_fd = f->out[0];
	ex->stderr_fd = f->err[0];
	f->in[1] = f->out[0] = f->err[0] = -1;
}

static const struct rt__config *running(struct rt *rt, const char *ref,
					struct rt__state *st, int *rc,
					struct shoal_err *err)
{
	const struct rt__config *c = rt__config_of(rt, ref, st);

	*rc = 0;
	if (!c) {
		rt__err(err, "No such container: %s", ref);
		*rc = SHOAL_ENOTFOUND;
	} else if (st->status != RT_STATUS_RUNNING) {
		rt__err(err, "Container %s is not running", c->id);
		*rc = SHOAL_ECONFLICT;
		c = NULL;
	}
	return c;
}

int rt_exec_start(struct rt *rt, const char *ref,
		  const struct rt_exec_spec *spec, struct rt_exec **out,
		  struct shoal_err *err)
{
	struct exec_fds f = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
	const struct rt__config *c;
	struct rt__state st;
	struct shoal_err local;
	struct rt_exec *ex;
	int rc, master = -1;
	char *json;

	if (!err)
		err = &local;
	rt__err(err, "%s", "");
	if ((rc = check_exec_spec(spec, err)) < 0)
		return rc;
	if (!(c = running(rt, ref, &st, &rc, err)))
		return rc;
	json = spec_json(spec);
	ex = shoal_calloc(1, sizeof(*ex));
	rc = json && ex ? exec_fds_open(&f, spec->tty) : -ENOMEM;
	if (rc < 0)
		goto err_free;
	ex->pty = ex->stdin_fd = ex->stdout_fd = ex->stderr_fd = -1;
	rc = spawn_helper(rt, c, st.pid, json, spec->tty, &f, &ex->pid);
	close(f.sync[1]);
	f.sync[1] = -1;
	if (rc < 0) {
		rt__err(err, "cannot run %s: %s", rt->monitor, strerror(-rc));
		goto err_free;
	}
	ex->pidfd = (int)syscall(SYS_pidfd_open, ex->pid, 0);
	rc = rt__wait_sync(f.sync[0], &master, err);
	if (rc < 0) {
		rt_exec_wait(ex, -1, NULL);
		if (ex->pidfd >= 0)
			close(ex->pidfd);
		goto err_free;
	}
	take_stdio(ex, &f, spec->tty, master);
	exec_fds_close(&f);
	shoal_free(json);
	*out = ex;
	return 0;
err_free:
	exec_fds_close(&f);
	shoal_free(ex);
	shoal_free(json);
	if (!err->msg[0])
		rt__err(err, "exec failed: %s", strerror(-rc));
	return rc;
}

int rt_exec_wait(struct rt_exec *ex, int64_t timeout_ms, int *exit_code)
{
	struct pollfd p = {.fd = ex->pidfd, .events = POLLIN};
	siginfo_t si;

	if (ex->pid <= 0)
		return -ECHILD;
	if (ex->pidfd >= 0 && timeout_ms >= 0) {
		int n = poll(&p, 1, (int)timeout_ms);
		if (n == 0)
			return -ETIMEDOUT;
	}
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)ex->pid, &si, WEXITED) < 0)
		if (errno != EINTR)
			return -errno;
	ex->pid = 0;
	if (exit_code)
		*exit_code = si.si_code == CLD_EXITED ? si.si_status
						      : 128 + si.si_status;
	return 0;
}

void rt_exec_free(struct rt_exec *ex)
{
	if (!ex)
		return;
	if (ex->pid > 0) {
		kill(ex->pid, SIGKILL);
		rt_exec_wait(ex, -1, NULL);
	}
	int fds[] = {ex->pidfd, ex->pty, ex->stdin_fd, ex->stdout_fd,
		     ex->stderr_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	shoal_free(ex);
}
