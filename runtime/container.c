/*
 * The runtime object and the container life cycle as the daemon sees it:
 * open (and re-attach), create, start, kill, stop, wait, pause, remove,
 * inspect, list, attach, resize.
 *
 * Truth lives on disk, not in this process: config.json (written here at
 * create), state.json (written by the monitor) and the monitor process
 * itself, identified by pid AND start time so a recycled pid is never
 * mistaken for it. Every query re-reads state.json, so two struct rt on
 * the same roots (a daemon and its successor) agree. In memory we keep
 * only the parsed configs, indexed by id and name.
 *
 * create is all-or-nothing: every check that can fail on user input runs
 * before the first byte is written, and a failure after that (disk full)
 * removes what was made: folder, run folder, volumes made for it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/map.h"
#include "common/path.h"
#define LOG_MODULE "runtime"
#include "common/log.h"
#include "runtime/internal.h"

extern char **environ;

static bool merged_mounted(const struct rt__config *c);

static int sc_default_path(struct rt *rt, uint64_t caps, char **out,
			   struct shoal_err *err)
{
	void *bpf;
	size_t len;
	char *path;
	int rc;

	for (size_t i = 0; i < rt->n_sc; i++)
		if (rt->sc_cache[i].caps == caps) {
			*out = shoal_strdup(rt->sc_cache[i].path);
			return *out ? 0 : -ENOMEM;
		}
	path = rt__path("%s/seccomp/default-%016llx.bpf", rt->exec_root,
			(unsigned long long)caps);
	if (!path)
		return -ENOMEM;
	rc = rt__seccomp_compile(rt__seccomp_default_profile,
				 strlen(rt__seccomp_default_profile), caps,
				 &bpf, &len, err);
	if (rc == 0) {
		rc = rt__write_atomic(path, bpf, len);
		shoal_free(bpf);
		if (rc < 0)
			rt__err(err, "cannot write %s: %s", path,
				strerror(-rc));
	}
	if (rc < 0) {
		shoal_free(path);
		return rc;
	}
	if (rt->n_sc < RT__SC_CACHE) {
		rt->sc_cache[rt->n_sc].caps = caps;
		rt->sc_cache[rt->n_sc].path = shoal_strdup(path);
		if (rt->sc_cache[rt->n_sc].path)
			rt->n_sc++;
	}
	*out = path;
	return 0;
}

int rt__seccomp_cached(struct rt *rt, uint64_t caps, char **out,
		       struct shoal_err *err)
{
	return sc_default_path(rt, caps, out, err);
}

/* ------------------------------------------------------------- lookup */

static struct rt__ctr *find(struct rt *rt, const char *id)
{
	return id ? hmap_get_str(&rt->by_id, id) : NULL;
}

int rt_container_resolve(struct rt *rt, const char *ref, char id[RT_ID_LEN + 1])
{
	struct rt__ctr *k;
	size_t pos = 0, len, klen;
	const void *key;
	void *val;
	int found = 0;

	if (!ref || !*ref)
		return SHOAL_ENOTFOUND;
	if ((k = find(rt, ref)) ||
	    (k = hmap_get_str(&rt->by_name, ref[0] == '/' ? ref + 1 : ref))) {
		memcpy(id, k->c->id, RT_ID_LEN + 1);
		return 0;
	}
	len = strlen(ref);
	while (hmap_next(&rt->by_id, &pos, &key, &klen, &val))
		if (len < RT_ID_LEN && !strncmp(key, ref, len)) {
			if (found++)
				return -EINVAL;
			memcpy(id, ((struct rt__ctr *)val)->c->id,
			       RT_ID_LEN + 1);
		}
	return found ? 0 : SHOAL_ENOTFOUND;
}

static struct rt__ctr *lookup(struct rt *rt, const char *ref)
{
	char id[RT_ID_LEN + 1];

	if (rt_container_resolve(rt, ref, id) < 0)
		return NULL;
	return find(rt, id);
}

/* The monitor is alive iff its pid still has the recorded start time. */
static bool monitor_alive(const struct rt__state *st)
{
	return st->status == RT_STATUS_RUNNING && st->monitor_pid > 0 &&
	       rt__proc_start_time(st->monitor_pid) == st->monitor_start;
}

/* Fresh state; a "running" container whose monitor is gone (killed, or a
 * reboot) is recorded as exited so it can be started or removed again. */
static int state_of(struct rt *rt, struct rt__ctr *k, struct rt__state *st)
{
	int rc = rt__state_load(k->c->dir, st);

	if (rc < 0)
		return rc;
	if (st->status == RT_STATUS_RUNNING && !monitor_alive(st)) {
		rt__state_load(k->c->dir, st); /* it may just have exited */
		if (st->status == RT_STATUS_RUNNING && !monitor_alive(st)) {
			if (st->pid > 0 && st->pid_start &&
			    rt__proc_start_time(st->pid) == st->pid_start)
				return 0; /* init orphaned but alive */
			st->status = RT_STATUS_EXITED;
			st->exit_code = 255;
			st->finished_ns = time_real_ns();
			snprintf(st->error, sizeof(st->error),
				 "the container's monitor died");
			rt__cgroup_destroy(&rt->cg, k->c);
			rt__state_save(k->c->dir, st);
		}
	}
	return 0;
}

bool rt__container_running(struct rt *rt, const char *id)
{
	struct rt__ctr *k = find(rt, id);
	struct rt__state st;

	return k && state_of(rt, k, &st) == 0 && st.status == RT_STATUS_RUNNING;
}

/* --------------------------------------------------------------- open */

static void ctr_free(struct rt__ctr *k)
{
	if (!k)
		return;
	rt__config_free(k->c);
	shoal_free(k);
}

int rt__register(struct rt *rt, struct rt__config *c)
{
	struct rt__ctr *k = shoal_calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	k->c = c;
	rc = hmap_put_str(&rt->by_id, c->id, k, NULL);
	if (rc == 0 && c->name) {
		rc = hmap_put_str(&rt->by_name, c->name, k, NULL);
		if (rc < 0)
			hmap_del_str(&rt->by_id, c->id);
	}
	if (rc < 0)
		shoal_free(k);
	return rc;
}

/* One folder of <data-root>/containers: register it, drop a copy mount a
 * dead daemon left, and say whether it still runs. */
static void load_one(struct rt *rt, const char *dir, const char *name)
{
	struct shoal_err err = {""};
	struct rt__config *c;
	struct rt__state st;
	char *sub = rt__path("%s/%s", dir, name);

	if (!sub)
		return;
	if (rt__config_load(sub, &c, &err) < 0) {
		log_warn("container=%s skipped: %s", name, err.msg);
	} else if (strcmp(c->id, name) || rt__register(rt, c) < 0) {
		log_warn("container=%s skipped: id mismatch or no memory",
			 name);
		rt__config_free(c);
	} else {
		rt_container_rootfs_release(rt, c->id);
		if (state_of(rt, find(rt, c->id), &st) == 0 &&
		    st.status == RT_STATUS_RUNNING)
			log_info("container=%s re-attached (monitor pid %d)",
				 c->id, (int)st.monitor_pid);
	}
	shoal_free(sub);
}

static void load_containers(struct rt *rt)
{
	char *dir = rt__path("%s/containers", rt->data_root);
	struct dirent *e;
	DIR *d = dir ? opendir(dir) : NULL;

	while (d && (e = readdir(d)))
		if (strlen(e->d_name) == RT_ID_LEN &&
		    id_is_hex(e->d_name, RT_ID_LEN))
			load_one(rt, dir, e->d_name);
	if (d)
		closedir(d);
	shoal_free(dir);
}

static char *default_monitor(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("SHOAL_MONITOR");

	if (env && *env)
		return shoal_strdup(env);
	if (n <= 0)
		return shoal_strdup("shoal-monitor");
	exe[n] = '\0';
	return rt__path("%s/shoal-monitor", dirname(exe));
}

/* shoal-archive: $SHOAL_ARCHIVE_HELPER, else beside the monitor. */
static char *archive_helper(const char *monitor)
{
	const char *env = getenv("SHOAL_ARCHIVE_HELPER");
	char *copy, *path;

	if (env && *env)
		return shoal_strdup(env);
	if (!strchr(monitor, '/'))
		return shoal_strdup("shoal-archive");
	copy = shoal_strdup(monitor);
	path = copy ? rt__path("%s/shoal-archive", dirname(copy)) : NULL;
	shoal_free(copy);
	return path;
}

/* shoal-init (--init): $SHOAL_INIT, else beside the monitor. */
static char *init_path(const char *monitor)
{
	const char *env = getenv("SHOAL_INIT");
	char *copy, *path;

	if (env && *env)
		return shoal_strdup(env);
	if (!strchr(monitor, '/'))
		return shoal_strdup("shoal-init");
	copy = shoal_strdup(monitor);
	path = copy ? rt__path("%s/shoal-init", dirname(copy)) : NULL;
	shoal_free(copy);
	return path;
}

int rt_open(const struct rt_config *cfg, struct rt **out, struct shoal_err *err)
{
	struct rt *rt;
	int rc = -ENOMEM;
	char *p;

	rt__err(err, "%s", "");
	/* ',' and ':' separate overlay options; the socket paths must fit
	 * a sockaddr_un (exec-root + 1 + 64 + "/attach.sock"). */
	if (!cfg->data_root || !cfg->exec_root || cfg->data_root[0] != '/' ||
	    cfg->exec_root[0] != '/' || strpbrk(cfg->data_root, ",:") ||
	    strpbrk(cfg->exec_root, ",:") || strlen(cfg->exec_root) > 30) {
		rt__err(err, "data-root and exec-root must be absolute paths "
			     "without ',' or ':', the exec-root at most 30 "
			     "characters");
		return -EINVAL;
	}
	rt = shoal_calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->data_root = shoal_strdup(cfg->data_root);
	rt->exec_root = shoal_strdup(cfg->exec_root);
	rt->cgroup_parent =
		shoal_strdup(cfg->cgroup_parent ? cfg->cgroup_parent : "shoal");
	rt->monitor = cfg->monitor_path ? shoal_strdup(cfg->monitor_path)
					: default_monitor();
	rt->archive_helper = rt->monitor ? archive_helper(rt->monitor) : NULL;
	rt->init_path = rt->monitor ? init_path(rt->monitor) : NULL;
	if (!rt->data_root || !rt->exec_root || !rt->cgroup_parent ||
	    !rt->monitor || !rt->archive_helper || !rt->init_path)
		goto err_free;
	if (!rt->cgroup_parent[0] || rt->cgroup_parent[0] == '/' ||
	    strstr(rt->cgroup_parent, "..")) {
		rt__err(err, "invalid cgroup parent \"%s\"", rt->cgroup_parent);
		rc = -EINVAL;
		goto err_free;
	}
	rc = rt__cgroup_detect(&rt->cg);
	if (rc < 0) {
		rt__err(err, "no usable cgroup hierarchy under /sys/fs/cgroup");
		goto err_free;
	}
	rt->cg_features = rt__cgroup_features_read(&rt->cg);
	static const char *const subdirs[] = {"containers", "volumes"};
	for (size_t i = 0; i < 2; i++) {
		p = rt__path("%s/%s", rt->data_root, subdirs[i]);
		rc = p ? path_mkdir_p(p, 0711) : -ENOMEM;
		shoal_free(p);
		if (rc < 0)
			goto err_dirs;
	}
	/* 0711: a container's root in a user namespace must traverse it. */
	rc = path_mkdir_p(rt->exec_root, 0711);
	p = rt__path("%s/seccomp", rt->exec_root);
	if (rc == 0)
		rc = p ? path_mkdir_p(p, 0700) : -ENOMEM;
	shoal_free(p);
	if (rc < 0)
		goto err_dirs;
	load_containers(rt);
	*out = rt;
	return 0;
err_dirs:
	rt__err(err, "cannot create the runtime folders under %s and %s: %s",
		rt->data_root, rt->exec_root, strerror(-rc));
err_free:
	rt_close(rt);
	return rc;
}

void rt_close(struct rt *rt)
{
	size_t pos = 0, klen;
	const void *key;
	void *val;

	if (!rt)
		return;
	while (hmap_next(&rt->by_id, &pos, &key, &klen, &val))
		ctr_free(val);
	hmap_fini(&rt->by_id);
	hmap_fini(&rt->by_name);
	for (size_t i = 0; i < rt->n_sc; i++)
		shoal_free(rt->sc_cache[i].path);
	shoal_free(rt->data_root);
	shoal_free(rt->exec_root);
	shoal_free(rt->cgroup_parent);
	shoal_free(rt->monitor);
	shoal_free(rt->init_path);
	shoal_free(rt->archive_helper);
	shoal_free(rt);
}

enum rt_cgroup_layout rt_cgroup_layout(const struct rt *rt)
{
	return rt->cg.layout;
}

/* -------------------------------------------------------------- start */

/* The default filter lives in the exec-root, which a reboot empties while
 * created containers wait on disk: compile it again if it is gone. */
static int ensure_filter(struct rt *rt, const struct rt__config *c,
			 struct shoal_err *err)
{
	char prefix[4096], *path = NULL;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/seccomp/default-", rt->exec_root);
	if (strncmp(c->seccomp, prefix, strlen(prefix)) ||
	    access(c->seccomp, R_OK) == 0)
		return 0;
	for (size_t i = 0; i < rt->n_sc; i++)
		if (rt->sc_cache[i].caps == c->caps)
			rt->sc_cache[i].caps = ~0ULL; /* stale: recompile */
	rc = rt__seccomp_cached(rt, c->caps, &path, err);
	if (rc == 0 && strcmp(path, c->seccomp)) {
		rt__err(err, "seccomp filter %s cannot be rebuilt", c->seccomp);
		rc = -ENOENT;
	}
	shoal_free(path);
	return rc;
}

static int spawn_monitor(struct rt *rt, struct rt__ctr *k, pid_t *mon, int *rfd,
			 int *gfd, struct shoal_err *err)
{
	char *argv[] = {rt->monitor, (char *)"run", k->c->dir,
			(char *)"3", (char *)"4",   NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int pfd[2], go[2], rc;

	if (access(rt->monitor, X_OK) < 0) {
		rt__err(err, "monitor %s not found: %s", rt->monitor,
			strerror(errno));
		return -ENOENT;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) < 0) {
		rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	posix_spawn_file_actions_adddup2(&fa, 0, 2);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 3);
	posix_spawn_file_actions_adddup2(&fa, go[0], 4);
	/* Whatever the caller left inheritable stays behind. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&def);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSID);
	rc = posix_spawn(mon, rt->monitor, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	close(go[0]);
	if (rc != 0) {
		close(pfd[0]);
		close(go[1]);
		rt__err(err, "cannot run the monitor %s: %s", rt->monitor,
			strerror(rc));
		return -rc;
	}
	*rfd = pfd[0];
	*gfd = go[1];
	return 0;
}

int rt__ctr_lock(const struct rt__config *c, int *fd)
{
	int lfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (lfd < 0)
		return -errno;
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? SHOAL_ECONFLICT : -errno;
		close(lfd);
		return rc;
	}
	*fd = lfd;
	return 0;
}

static int start_monitor(struct rt *rt, struct rt__ctr *k,
			 struct shoal_err *err);

int rt_container_start(struct rt *rt, const char *ref, struct shoal_err *err)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	struct shoal_err local;
	int rc, lock = -1;

	if (!err)
		err = &local;
	rt__err(err, "%s", "");
	if (!k) {
		rt__err(err, "No such container: %s", ref);
		return SHOAL_ENOTFOUND;
	}
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	if (st.status == RT_STATUS_RUNNING)
		return 0; /* Docker: 304, nothing to do */
	if (merged_mounted(k->c)) {
		rt__err(err, "the container's files are mounted for copying; "
			     "release them first");
		return SHOAL_ECONFLICT;
	}
	/* A copy (docker cp) of the stopped container has its overlay
	 * mounted: two overlays on one upper folder must never coexist. */
	rc = rt__ctr_lock(k->c, &lock);
	if (rc < 0) {
		rt__err(err, "the container's files are being copied (docker "
			     "cp); try again once the copy ends");
		return rc;
	}
	rc = start_monitor(rt, k, err);
	close(lock);
	return rc;
}

static int start_monitor(struct rt *rt, struct rt__ctr *k,
			 struct shoal_err *err)
{
	char reply[1024];
	size_t got = 0;
	pid_t mon;
	int rc, rfd = -1, gfd = -1, cg_rc;

	rc = ensure_filter(rt, k->c, err);
	if (rc < 0)
		return rc;
	rc = spawn_monitor(rt, k, &mon, &rfd, &gfd, err);
	if (rc < 0)
		return rc;
	/* Make the cgroup while the monitor starts up and clones the init
	 * (it waits for "G" on fd 4 before moving the init in). */
	cg_rc = rt__cgroup_create(&rt->cg, k->c, 0, err);
	if (write(gfd, cg_rc == 0 ? "G" : "E", 1) != 1 && cg_rc == 0)
		cg_rc = -EPIPE;
	close(gfd);
	while (waitpid(mon, NULL, 0) < 0 && errno == EINTR)
		;
	for (;;) {
		ssize_t n = read(rfd, reply + got, sizeof(reply) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(rfd);
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (!strncmp(reply, "OK ", 3))
		return 0;
	rt__cgroup_destroy(&rt->cg, k->c);
	if (cg_rc < 0)
		return cg_rc; /* @err says why */
	if (!strncmp(reply, "ERR ", 4)) {
		rt__err(err, "%s", reply + 4);
		return strstr(reply, "not found") ? -ENOENT : -EINVAL;
	}
	rt__err(err,
		"the monitor died before starting the container (see "
		"%s/monitor.log)",
		k->c->run_dir);
	return -EIO;
}

/* ------------------------------------------------------- kill, stop, wait */

static int monitor_pidfd(struct rt__state *st, int *fd)
{
	if (st->status != RT_STATUS_RUNNING)
		return -ESRCH;
	return rt__pidfd_open_checked(st->monitor_pid, st->monitor_start, fd);
}

int rt_container_exit_fd(struct rt *rt, const char *ref, int *fd)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc;

	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	return rc < 0 ? rc : monitor_pidfd(&st, fd);
}

int rt_container_kill(struct rt *rt, const char *ref, int sig)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc, pfd;

	if (!k)
		return SHOAL_ENOTFOUND;
	if (sig <= 0 || sig >= _NSIG)
		return -EINVAL;
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	if (st.status != RT_STATUS_RUNNING || st.pid <= 0)
		return -ESRCH;
	rc = rt__pidfd_open_checked(st.pid, st.pid_start, &pfd);
	if (rc < 0)
		return rc;
	rc = syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0 ? -errno : 0;
	close(pfd);
	/* A frozen init would never see it (Docker thaws on kill too). */
	if (rc == 0 && rt__cgroup_frozen(&rt->cg, k->c))
		rt__cgroup_freeze(&rt->cg, k->c, false);
	return rc;
}

static int wait_fd(int fd, int64_t timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t deadline = time_mono_ns() + timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		int64_t left = timeout_ms < 0 ? -1
					      : (deadline - time_mono_ns()) /
							NSEC_PER_MSEC;
		int n;
		if (timeout_ms >= 0 && left < 0)
			left = 0;
		n = poll(&p, 1, (int)(left > INT_MAX ? INT_MAX : left));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int rt_container_wait(struct rt *rt, const char *ref, int64_t timeout_ms,
		      int *exit_code)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc, fd;

	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	if (st.status == RT_STATUS_RUNNING) {
		rc = monitor_pidfd(&st, &fd);
		if (rc == 0) {
			rc = wait_fd(fd, timeout_ms);
			close(fd);
			if (rc < 0)
				return rc;
		}
		rc = state_of(rt, k, &st);
		if (rc < 0)
			return rc;
	}
	if (st.status == RT_STATUS_CREATED)
		return -EINVAL;
	if (exit_code)
		*exit_code = st.exit_code;
	return 0;
}

int rt_container_stop(struct rt *rt, const char *ref, int sig,
		      int64_t timeout_ms)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc, fd;

	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	if (rc < 0 || st.status != RT_STATUS_RUNNING)
		return rc;
	rc = monitor_pidfd(&st, &fd);
	/* No monitor but a live init (the monitor was killed): wait for the
	 * init itself. */
	if (rc < 0 && rt__pidfd_open_checked(st.pid, st.pid_start, &fd) < 0)
		return 0;
	rc = rt_container_kill(rt, ref, sig ? sig : SIGTERM);
	if (rc == 0 || rc == -ESRCH)
		rc = wait_fd(fd, timeout_ms < 0 ? 10000 : timeout_ms);
	if (rc < 0) {
		rt_container_kill(rt, ref, SIGKILL);
		rc = wait_fd(fd, 30000);
	}
	close(fd);
	return rc;
}

/* ----------------------------------------------------- pause, remove */

int rt_container_pause(struct rt *rt, const char *ref)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;

	if (!k)
		return SHOAL_ENOTFOUND;
	if (state_of(rt, k, &st) < 0 || st.status != RT_STATUS_RUNNING)
		return -ESRCH;
	return rt__cgroup_freeze(&rt->cg, k->c, true);
}

int rt_container_unpause(struct rt *rt, const char *ref)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;

	if (!k)
		return SHOAL_ENOTFOUND;
	if (state_of(rt, k, &st) < 0 || st.status != RT_STATUS_RUNNING)
		return -ESRCH;
	return rt__cgroup_freeze(&rt->cg, k->c, false);
}

int rt_container_remove(struct rt *rt, const char *ref, bool force,
			bool volumes)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc, lock = -1;

	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	if (st.status == RT_STATUS_RUNNING) {
		if (!force)
			return SHOAL_ECONFLICT;
		rc = rt_container_stop(rt, ref, SIGKILL, 0);
		if (rc < 0)
			return rc;
	}
	/* Not while a copy has its overlay mounted; the lock goes with
	 * the folder. */
	rc = rt__ctr_lock(k->c, &lock);
	if (rc < 0)
		return rc;
	close(lock);
	rt_container_rootfs_release(rt, ref);
	rc = rt__cgroup_destroy(&rt->cg, k->c);
	if (rc < 0)
		log_warn("container=%s cgroup removal: %s", k->c->id,
			 strerror(-rc));
	hmap_del_str(&rt->by_id, k->c->id);
	if (k->c->name)
		hmap_del_str(&rt->by_name, k->c->name);
	rt__shm_release(k->c);
	rt__rm_rf(k->c->run_dir);
	rc = rt__rm_rf(k->c->dir);
	if (volumes)
		for (size_t i = 0; i < k->c->n_mounts; i++)
			if (k->c->mounts[i].kind == RT_MOUNT_ANONYMOUS)
				rt_volume_remove(rt, k->c->mounts[i].volume);
	ctr_free(k);
	return rc;
}

/* ------------------------------------------------------ inspect, list */

void rt_info_fini(struct rt_info *info)
{
	shoal_free(info->name);
	shoal_free(info->error);
	shoal_free(info->log_path);
	shoal_free(info->rootfs);
	shoal_free(info->config_json);
	shoal_free(info->annotations);
	memset(info, 0, sizeof(*info));
}

int rt_container_inspect(struct rt *rt, const char *ref, struct rt_info *out)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct rt__state st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	memcpy(out->id, k->c->id, RT_ID_LEN + 1);
	out->status = st.status;
	if (st.status == RT_STATUS_RUNNING && rt__cgroup_frozen(&rt->cg, k->c))
		out->status = RT_STATUS_PAUSED;
	out->pid = st.status == RT_STATUS_RUNNING ? st.pid : 0;
	out->monitor_pid = st.status == RT_STATUS_RUNNING ? st.monitor_pid : 0;
	out->exit_code = st.exit_code;
	out->oom_killed = st.oom_killed;
	out->created_ns = k->c->created_ns;
	out->started_ns = st.started_ns;
	out->finished_ns = st.finished_ns;
	out->monitor_maxrss_kb = st.monitor_maxrss_kb;
	out->init_maxrss_kb = st.init_maxrss_kb;
	out->name = k->c->name ? shoal_strdup(k->c->name) : NULL;
	out->error = st.error[0] ? shoal_strdup(st.error) : NULL;
	/* Docker shows no path for the none driver. */
	out->log_path = k->c->log_driver && !strcmp(k->c->log_driver, "none")
				? shoal_strdup("")
				: rt__log_path(k->c);
	out->rootfs =
		out->pid ? rt__path("/proc/%d/root", (int)out->pid) : NULL;
	out->config_json = rt__config_to_json(k->c);
	out->annotations =
		k->c->annotations ? shoal_strdup(k->c->annotations) : NULL;
	if (!out->log_path || !out->config_json) {
		rt_info_fini(out);
		return -ENOMEM;
	}
	return 0;
}

int rt_container_list(struct rt *rt, char ***ids, size_t *count)
{
	size_t pos = 0, klen, n = 0;
	const void *key;
	void *val;
	char **v = shoal_calloc(hmap_len(&rt->by_id) + 1, sizeof(char *));

	if (!v)
		return -ENOMEM;
	while (hmap_next(&rt->by_id, &pos, &key, &klen, &val)) {
		v[n] = shoal_strdup(((struct rt__ctr *)val)->c->id);
		if (!v[n]) {
			rt_list_free(v, n);
			return -ENOMEM;
		}
		n++;
	}
	*ids = v;
	*count = n;
	return 0;
}

void rt_list_free(char **ids, size_t count)
{
	rt__strv_free(ids, count);
}

/* ---------------------------------------------------- attach, resize */

static int connect_sock(const char *dir, const char *name, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
			     name) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = errno == ENOENT || errno == ECONNREFUSED ? -ESRCH
								  : -errno;
		close(s);
		return rc;
	}
	*fd = s;
	return 0;
}

int rt_container_attach(struct rt *rt, const char *ref, int *fd)
{
	struct rt__ctr *k = lookup(rt, ref);

	if (!k)
		return SHOAL_ENOTFOUND;
	return connect_sock(k->c->run_dir, "attach.sock", fd);
}

int rt_container_resize(struct rt *rt, const char *ref, unsigned rows,
			unsigned cols)
{
	struct rt__ctr *k = lookup(rt, ref);
	char buf[64];
	int fd, rc, n;

	if (!k)
		return SHOAL_ENOTFOUND;
	if (!k->c->tty || rows == 0 || cols == 0 || rows > 65535 ||
	    cols > 65535)
		return -EINVAL;
	rc = connect_sock(k->c->run_dir, "ctl.sock", &fd);
	if (rc < 0)
		return rc;
	n = snprintf(buf, sizeof(buf), "resize %u %u\n", rows, cols);
	if (write(fd, buf, (size_t)n) != n || read(fd, buf, sizeof(buf)) <= 0)
		rc = -EIO;
	close(fd);
	return rc;
}

int rt_log_open(struct rt *rt, const char *ref,
		const struct rt_log_options *opt, struct rt_log_reader **out)
{
	struct rt__ctr *k = lookup(rt, ref);
	char *path;
	int rc;

	if (!k)
		return SHOAL_ENOTFOUND;
	/* Docker: the none driver keeps nothing to read (a 501). */
	if (k->c->log_driver && !strcmp(k->c->log_driver, "none"))
		return -ENOTSUP;
	path = rt__log_path(k->c);
	if (!path)
		return -ENOMEM;
	rc = rt__log_open_path(rt, k->c->id, path, k->c->log_max_file, opt,
			       out);
	shoal_free(path);
	return rc;
}

const struct rt__config *rt__config_of(struct rt *rt, const char *ref,
				       struct rt__state *st)
{
	struct rt__ctr *k = lookup(rt, ref);

	if (!k || state_of(rt, k, st) < 0)
		return NULL;
	return k->c;
}

/* --------------------------------------------------------- file access */

static char *merged_path(const struct rt__config *c)
{
	return rt__path("%s/merged", c->run_dir);
}

static bool merged_mounted(const struct rt__config *c)
{
	char *path = merged_path(c), *parent;
	struct stat a, b;
	bool mounted = false;

	parent = path ? rt__path("%s/..", path) : NULL;
	if (parent && stat(path, &a) == 0 && stat(parent, &b) == 0)
		mounted = a.st_dev != b.st_dev;
	shoal_free(parent);
	shoal_free(path);
	return mounted;
}

int rt_container_rootfs(struct rt *rt, const char *ref, char **path)
{
	struct rt__ctr *k = lookup(rt, ref);
	struct shoal_err err = {""};
	struct rt__state st;
	int rc;

	*path = NULL;
	if (!k)
		return SHOAL_ENOTFOUND;
	rc = state_of(rt, k, &st);
	if (rc < 0)
		return rc;
	if (st.status == RT_STATUS_RUNNING) {
		*path = rt__path("/proc/%d/root", (int)st.pid);
		return *path ? 0 : -ENOMEM;
	}
	*path = merged_path(k->c);
	if (!*path)
		return -ENOMEM;
	if (merged_mounted(k->c))
		return 0;
	rc = path_mkdir_p(*path, 0755);
	if (rc == 0)
		rc = rt__overlay_mount(k->c, *path, &err);
	if (rc < 0) {
		log_warn("container=%s rootfs mount: %s", k->c->id, err.msg);
		shoal_free(*path);
		*path = NULL;
	}
	return rc;
}

int rt_container_rootfs_release(struct rt *rt, const char *ref)
{
	struct rt__ctr *k = lookup(rt, ref);
	char *path;
	int rc = 0;

	if (!k)
		return SHOAL_ENOTFOUND;
	if (!merged_mounted(k->c))
		return 0;
	path = merged_path(k->c);
	if (!path)
		return -ENOMEM;
	if (umount2(path, MNT_DETACH) < 0)
		rc = -errno;
	else
		rmdir(path);
	shoal_free(path);
	return rc;
}
