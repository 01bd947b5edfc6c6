/*
 * The life cycle as a daemon drives it: exit codes, logs, a daemon restart
 * while a container runs, stop/kill, pause, stats and top, the libuv exit
 * watch, removal that leaves nothing behind, and bad input that leaves
 * nothing half-created.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "fixture.h"

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx_setup(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

static void start_sleeper(struct fx *fx, char id[RT_ID_LEN + 1])
{
	const char *argv[] = {"sleep", "1000", NULL};
	struct shoal_err err = {""};
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	if (rt_container_create(fx->rt, &s, id, &err) < 0 ||
	    rt_container_start(fx->rt, id, &err) < 0)
		fail_msg("%s", err.msg);
}

/* Wait until the container logged "ready" (its trap is in place). */
static void wait_ready(struct fx *fx, const char *id)
{
	char out[64] = "";

	for (int i = 0; i < 1000 && !strstr(out, "ready"); i++) {
		usleep(10 * 1000);
		fx_log(fx, id, out, sizeof(out));
	}
	assert_string_equal(out, "ready\n");
}

static size_t count_entries(const char *dir)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool nothing_created(struct fx *fx)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/containers", fx->data_root);
	if (count_entries(path) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/volumes", fx->data_root);
	if (count_entries(path) != 0)
		return false;
	/* Only the seccomp cache in the exec-root. */
	return count_entries(fx->exec_root) <= 1;
}

static void exit_code_passes_through(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "exit 42", NULL};
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, NULL, 0), 42);
}

static void logs_keep_streams_and_survive_a_daemon_restart(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "echo out; echo err >&2; printf tail",
			      NULL};
	struct rt_log_options opt = {.tail = -1, .stdout_on = true};
	char id[RT_ID_LEN + 1], out[4096];
	struct rt_log_reader *r;
	struct rt_log_entry e;
	struct shoal_err err = {""};
	struct rt_spec s;
	int code;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 30000, &code), 0);
	fx_reopen(fx);
	fx_log(fx, id, out, sizeof(out));
	assert_non_null(strstr(out, "out\n"));
	assert_non_null(strstr(out, "err\n"));
	assert_non_null(strstr(out, "tail"));
	/* stdout only, and the last line only. */
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	assert_int_equal(rt_log_next(r, &e), 0);
	assert_int_equal(e.stream, 1);
	assert_string_equal(e.line, "out\n");
	assert_int_equal(rt_log_next(r, &e), 0);
	assert_string_equal(e.line, "tail");
	assert_true(e.time_ns > 0);
	assert_int_equal(rt_log_next(r, &e), SHOAL_ECLOSED);
	rt_log_close(r);
	opt.tail = 1;
	opt.stderr_on = true;
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	assert_int_equal(rt_log_next(r, &e), 0);
	assert_string_equal(e.line, "tail");
	assert_int_equal(rt_log_next(r, &e), SHOAL_ECLOSED);
	rt_log_close(r);
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	int ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f))
		sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid);
	if (f)
		fclose(f);
	return ppid;
}

static void container_outlives_the_daemon_and_is_reattached(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1];
	struct rt_info a, b;
	int code;

	start_sleeper(fx, id);
	assert_int_equal(rt_container_inspect(fx->rt, id, &a), 0);
	assert_int_equal(a.status, RT_STATUS_RUNNING);
	/* The monitor is not our child: our exit cannot take it along. */
	assert_int_not_equal(parent_of(a.monitor_pid), getpid());
	fx_reopen(fx); /* a new daemon instance reading the state from disk */
	assert_int_equal(rt_container_inspect(fx->rt, id, &b), 0);
	assert_int_equal(b.status, RT_STATUS_RUNNING);
	assert_int_equal(b.pid, a.pid);
	assert_int_equal(kill(a.pid, 0), 0);
	/* The new instance controls it. */
	assert_int_equal(rt_container_stop(fx->rt, id, SIGTERM, 200), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 128 + SIGKILL); /* sleep as pid 1 ignores TERM */
	rt_info_fini(&a);
	rt_info_fini(&b);
}

struct watch_result {
	bool called;
	int code;
};

static void on_exit_cb(struct rt_exit_watch *w, const char *id, int code,
		       bool oom, void *arg)
{
	struct watch_result *r = arg;

	r->called = true;
	r->code = code;
	rt_exit_watch_close(w);
}

/* A "daemon" in another process starts a container and dies; a new one
 * finds it running, watches it on a loop and stops it. */
static void container_outlives_a_daemon_process_that_exits(void **state)
{
	struct fx *fx = *state;
	struct watch_result res = {false, -1};
	char id[RT_ID_LEN + 1] = "";
	struct rt_exit_watch *w;
	struct rt_info info;
	int pfd[2], status;
	uv_loop_t loop;
	pid_t daemon;

	assert_int_equal(pipe(pfd), 0);
	rt_close(fx->rt); /* this process is not the daemon for a while */
	fx->rt = NULL;
	daemon = fork();
	if (daemon == 0) {
		struct shoal_err err = {""};
		const char *argv[] = {"sleep", "1000", NULL};
		struct rt_spec s;
		struct rt *rt;
		close(pfd[0]);
		if (rt_open(&fx->cfg, &rt, &err) < 0)
			_exit(1);
		fx->rt = rt;
		fx_spec(fx, &s, argv);
		if (rt_container_create(rt, &s, id, &err) < 0 ||
		    rt_container_start(rt, id, &err) < 0 ||
		    write(pfd[1], id, RT_ID_LEN) != RT_ID_LEN)
			_exit(2);
		rt_close(rt);
		_exit(0); /* the daemon dies, its container must not */
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], id, RT_ID_LEN), RT_ID_LEN);
	close(pfd[0]);
	assert_int_equal(waitpid(daemon, &status, 0), daemon);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_reopen(fx);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_int_equal(info.status, RT_STATUS_RUNNING);
	assert_int_equal(kill(info.pid, 0), 0);
	rt_info_fini(&info);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(
		rt_exit_watch_start(fx->rt, &loop, id, on_exit_cb, &res, &w),
		0);
	assert_int_equal(rt_container_kill(fx->rt, id, SIGKILL), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(res.called);
	assert_int_equal(res.code, 128 + SIGKILL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void kill_delivers_the_signal(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "trap 'exit 7' USR1; echo ready; "
			      "while true; do sleep 0.05; done",
			      NULL};
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	wait_ready(fx, id);
	assert_int_equal(rt_container_kill(fx->rt, id, SIGUSR1), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 7);
	assert_int_equal(rt_container_kill(fx->rt, id, SIGUSR1), -ESRCH);
}

static void pause_freezes_and_unpause_thaws(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1];
	struct rt_info info;

	start_sleeper(fx, id);
	assert_int_equal(rt_container_pause(fx->rt, id), 0);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_int_equal(info.status, RT_STATUS_PAUSED);
	rt_info_fini(&info);
	assert_int_equal(rt_container_unpause(fx->rt, id), 0);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_int_equal(info.status, RT_STATUS_RUNNING);
	rt_info_fini(&info);
}

static void stats_and_top_see_the_container(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); "
			      "done; echo ready; exec sleep 1000",
			      NULL};
	struct rt_top_row *rows = NULL;
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_spec s;
	struct rt_stats st;
	size_t n = 0;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	wait_ready(fx, id); /* it has burnt some CPU by now */
	for (int i = 0; i < 500; i++) {
		free(rows);
		assert_int_equal(rt_container_top(fx->rt, id, &rows, &n), 0);
		if (n == 1 && !strcmp(rows[0].cmd, "sleep 1000"))
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].cmd, "sleep 1000");
	assert_int_equal(rows[0].uid, 0);
	free(rows);
	assert_int_equal(rt_container_stats(fx->rt, id, &st), 0);
	assert_int_equal(st.pids, 1);
	assert_true(st.mem_usage > 0);
	assert_true(st.mem_limit > 0);
	assert_true(st.cpu_total_ns > 0);
	assert_true(st.system_cpu_ns > 0);
	assert_true(st.online_cpus >= 1);
}

static void exit_watch_reports_on_the_loop(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "trap 'exit 3' USR1; echo ready; "
			      "while true; do sleep 0.05; done",
			      NULL};
	struct watch_result res = {false, -1};
	struct rt_exit_watch *w;
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_spec s;
	uv_loop_t loop;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(
		rt_exit_watch_start(fx->rt, &loop, id, on_exit_cb, &res, &w),
		0);
	assert_false(res.called);
	wait_ready(fx, id);
	assert_int_equal(rt_container_kill(fx->rt, id, SIGUSR1), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(res.called);
	assert_int_equal(res.code, 3);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/*
 * The race behind a hang of `docker run` under load: a short command exits
 * before the daemon's exit watch opens its monitor's pidfd. The watch must
 * still report that exit, once, on the loop (not inside the call); and a
 * container that never ran has no exit to report.
 */
static void exit_watch_reports_an_exit_that_came_before_it(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "exit 5", NULL};
	struct watch_result res = {false, -1};
	struct rt_exit_watch *w = NULL;
	char id[RT_ID_LEN + 1], idle[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_spec s;
	uv_loop_t loop;
	int code = -1;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_create(fx->rt, &s, idle, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 5);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(
		rt_exit_watch_start(fx->rt, &loop, idle, on_exit_cb, &res, &w),
		-ESRCH);
	assert_int_equal(
		rt_exit_watch_start(fx->rt, &loop, id, on_exit_cb, &res, &w),
		0);
	assert_false(res.called);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(res.called);
	assert_int_equal(res.code, 5);

	/* Closed before the loop runs: no report, nothing left open. */
	res.called = false;
	assert_int_equal(
		rt_exit_watch_start(fx->rt, &loop, id, on_exit_cb, &res, &w),
		0);
	rt_exit_watch_close(w);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_false(res.called);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void removal_leaves_no_mounts_cgroups_or_processes(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1], path[512];
	struct rt_info info;
	struct stat st;
	pid_t pid, mon;

	start_sleeper(fx, id);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	pid = info.pid;
	mon = info.monitor_pid;
	rt_info_fini(&info);
	assert_true(fx_cgroup_dirs(fx->cgroup_parent, id) > 0);
	assert_int_equal(rt_container_remove(fx->rt, id, false, true),
			 SHOAL_ECONFLICT);
	assert_int_equal(rt_container_remove(fx->rt, id, true, true), 0);
	assert_int_equal(fx_mounts_mentioning(id), 0);
	assert_int_equal(fx_mounts_mentioning(fx->root), 0);
	assert_int_equal(fx_cgroup_dirs(fx->cgroup_parent, id), 0);
	assert_true(fx_gone(pid));
	assert_true(fx_gone(mon));
	snprintf(path, sizeof(path), "%s/containers/%s", fx->data_root, id);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/%s", fx->exec_root, id);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info),
			 SHOAL_ENOTFOUND);
}

static void bad_input_is_refused_and_creates_nothing(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"true", NULL}, *none[] = {NULL};
	const char *bad_vol[] = {"/a:/b:/c:ro", NULL};
	const char *rel_vol[] = {"/data:relative", NULL};
	char id[RT_ID_LEN + 1], prof[512];
	struct shoal_err err = {""};
	struct rt_spec s;
	FILE *f;

	fx_spec(fx, &s, argv);
	s.volumes = bad_vol;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "invalid volume specification: '/a:/b:/c:ro'");
	s.volumes = rel_vol;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid volume specification"));
	assert_true(nothing_created(fx));

	fx_spec(fx, &s, none);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_string_equal(err.msg, "no command specified");

	fx_spec(fx, &s, argv);
	s.memory = 4 * 1024 * 1024;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_string_equal(err.msg, "Minimum memory limit allowed is 6MB");
	assert_int_equal(rt_parse_memory("12x", &s.memory), -EINVAL);

	fx_spec(fx, &s, argv);
	snprintf(prof, sizeof(prof), "%s/bad.json", fx->root);
	f = fopen(prof, "w");
	assert_non_null(f);
	fputs("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{", f);
	fclose(f);
	s.seccomp = prof;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid seccomp profile"));
	s.seccomp = NULL;
	const char *dns[] = {"1.2.3.4\nnameserver 6.6.6.6", NULL};
	const char *hosts[] = {"db:not-an-ip", NULL};
	s.dns = dns;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	s.dns = NULL;
	s.extra_hosts = hosts;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid argument \"db:not-an-ip\" for "
				     "\"--add-host\" flag");
	s.extra_hosts = NULL;
	s.name = "bad name!";
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), -EINVAL);
	assert_true(nothing_created(fx));
	assert_int_equal(fx_cgroup_children(fx->cgroup_parent), 0);
}

static void
missing_executable_fails_start_and_leaves_nothing_running(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"no-such-command", NULL};
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_info info;
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_not_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_string_equal(err.msg, "OCI runtime create failed: unable to "
				     "start container process: exec: "
				     "\"no-such-command\": executable file "
				     "not found in $PATH: unknown");
	assert_int_equal(fx_cgroup_dirs(fx->cgroup_parent, id), 0);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_int_equal(info.status, RT_STATUS_CREATED);
	assert_int_equal(info.pid, 0);
	assert_non_null(info.error);
	rt_info_fini(&info);
	assert_int_equal(rt_container_remove(fx->rt, id, false, true), 0);
}

static void names_are_unique_and_resolve(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"true", NULL};
	char id[RT_ID_LEN + 1], got[RT_ID_LEN + 1], prefix[13];
	struct shoal_err err = {""};
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	s.name = "web";
	s.annotations = "{\"Image\":\"busybox\",\"Labels\":{\"a\":\"b\"}}";
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_create(fx->rt, &s, got, &err),
			 SHOAL_ECONFLICT);
	assert_string_equal(err.msg, "Conflict. The container name \"/web\" "
				     "is already in use");
	assert_int_equal(rt_container_resolve(fx->rt, "web", got), 0);
	assert_string_equal(got, id);
	memcpy(prefix, id, 12);
	prefix[12] = '\0';
	assert_int_equal(rt_container_resolve(fx->rt, prefix, got), 0);
	assert_string_equal(got, id);
	fx_reopen(fx);
	assert_int_equal(rt_container_resolve(fx->rt, "/web", got), 0);
	assert_string_equal(got, id);
	/* What the caller stored comes back after the restart. */
	struct rt_info info;
	assert_int_equal(rt_container_inspect(fx->rt, "web", &info), 0);
	assert_string_equal(info.name, "web");
	assert_string_equal(info.annotations,
			    "{\"Image\":\"busybox\",\"Labels\":{\"a\":\"b\"}}");
	rt_info_fini(&info);
}

static void logs_follow_a_running_container(void **state)
{
	struct fx *fx = *state;
	/* "two" waits for a gate the test opens through a bind mount. */
	const char *argv[] = {"sh", "-c",
			      "echo one; until [ -e /gate/go ]; do sleep 0.02; "
			      "done; echo two",
			      NULL};
	struct rt_log_options opt = {
		.tail = -1, .stdout_on = true, .stderr_on = true};
	char id[RT_ID_LEN + 1], got[64] = "", gate[600], vol[700];
	const char *vols[] = {vol, NULL};
	struct rt_log_reader *r;
	struct rt_log_entry e;
	struct shoal_err err = {""};
	struct rt_spec s;
	int rc = 0;
	bool opened = false;

	snprintf(gate, sizeof(gate), "%s/gate", fx->root);
	mkdir(gate, 0755);
	snprintf(vol, sizeof(vol), "%s:/gate", gate);
	fx_spec(fx, &s, argv);
	s.volumes = vols;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	assert_true(rt_log_fd(r) >= 0);
	for (int i = 0; i < 1000; i++) {
		rc = rt_log_next(r, &e);
		if (rc == 0) {
			strncat(got, e.line, sizeof(got) - strlen(got) - 1);
			continue;
		}
		if (rc != -EAGAIN)
			break;
		/* At the end while it runs: once "one" is in, open the
		 * gate and follow on. */
		if (!opened && !strcmp(got, "one\n")) {
			char go[700];
			snprintf(go, sizeof(go), "%s/go", gate);
			fclose(fopen(go, "w"));
			opened = true;
		}
		struct pollfd p = {.fd = rt_log_fd(r), .events = POLLIN};
		poll(&p, 1, 20);
	}
	assert_int_equal(rc, SHOAL_ECLOSED);
	assert_true(opened); /* it waited at the end while running */
	assert_string_equal(got, "one\ntwo\n");
	rt_log_close(r);
}

static void a_paused_container_can_be_stopped(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1];
	int code = -1;

	start_sleeper(fx, id);
	assert_int_equal(rt_container_pause(fx->rt, id), 0);
	assert_int_equal(rt_container_stop(fx->rt, id, SIGTERM, 100), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 128 + SIGKILL);
}

static void an_exited_container_starts_again(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "echo run >> /count; wc -l < /count",
			      NULL};
	char id[RT_ID_LEN + 1], out[256];
	struct shoal_err err = {""};
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
		assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code),
				 0);
		assert_int_equal(code, 0);
	}
	/* The writable layer persists; the log keeps both runs. */
	fx_log(fx, id, out, sizeof(out));
	assert_string_equal(out, "1\n2\n");
}

static void create_under_allocation_failures_leaves_nothing(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"true", NULL},
		   *vols[] = {"/anon", "named:/n", NULL};
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_spec s;
	bool created = false;
	int64_t live;

	fx_spec(fx, &s, argv);
	s.volumes = vols;
	s.name = "alloc";
	/* Warm the seccomp cache (it lives as long as the runtime). */
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_remove(fx->rt, id, false, true), 0);
	assert_int_equal(rt_volume_remove(fx->rt, "named"), 0);
	live = shoal_alloc_live();
	for (int64_t n = 0; n < 400 && !created; n++) {
		int rc;
		shoal_alloc_fail_after(n);
		rc = rt_container_create(fx->rt, &s, id, &err);
		shoal_alloc_fail_after(-1);
		if (rc == 0) {
			created = true;
			break;
		}
		if (!nothing_created(fx))
			fail_msg("allocation %lld failed (%s): left things",
				 (long long)n, err.msg);
		if (shoal_alloc_live() != live)
			fail_msg("allocation %lld failed (%s): leaked %lld",
				 (long long)n, err.msg,
				 (long long)(shoal_alloc_live() - live));
	}
	assert_true(created);
}

static void
a_created_container_starts_after_its_exec_root_was_wiped(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"true", NULL};
	char id[RT_ID_LEN + 1], cmd[600];
	struct shoal_err err = {""};
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	/* A reboot empties the exec-root (a tmpfs such as /run). */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", fx->exec_root);
	assert_int_equal(system(cmd), 0);
	fx_reopen(fx);
	if (rt_container_start(fx->rt, id, &err) < 0)
		fail_msg("start: %s", err.msg);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 0);
}

static void a_container_whose_monitor_was_killed_can_be_removed(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1];
	struct rt_info info;
	pid_t pid;

	start_sleeper(fx, id);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	pid = info.pid;
	assert_int_equal(kill(info.monitor_pid, SIGKILL), 0);
	assert_true(fx_gone(info.monitor_pid));
	rt_info_fini(&info);
	/* The init lives on, orphaned: still running, and removable. */
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_int_equal(info.status, RT_STATUS_RUNNING);
	rt_info_fini(&info);
	assert_int_equal(rt_container_remove(fx->rt, id, true, true), 0);
	assert_true(fx_gone(pid));
	assert_int_equal(fx_cgroup_dirs(fx->cgroup_parent, id), 0);
}

static void a_stopped_containers_files_can_be_reached_and_released(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "echo inside > /note", NULL};
	char id[RT_ID_LEN + 1], *path, file[600], line[64];
	struct shoal_err err = {""};
	struct rt_spec s;
	int code = -1;
	FILE *f;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(rt_container_rootfs(fx->rt, id, &path), 0);
	snprintf(file, sizeof(file), "%s/note", path);
	f = fopen(file, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "inside\n");
	snprintf(file, sizeof(file), "%s/bin/busybox", path);
	assert_int_equal(access(file, X_OK), 0); /* the image's files too */
	snprintf(file, sizeof(file), "%s/copied-in", path);
	f = fopen(file, "w"); /* docker cp into a stopped container */
	assert_non_null(f);
	fclose(f);
	/* Start waits for the release. */
	assert_int_equal(rt_container_start(fx->rt, id, &err), SHOAL_ECONFLICT);
	assert_int_equal(rt_container_rootfs_release(fx->rt, id), 0);
	assert_int_equal(fx_mounts_mentioning(id), 0);
	shoal_free(path);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 0);
	/* What was copied in stayed in the writable layer; mounted again
	 * and then removed: removal releases the mount. */
	assert_int_equal(rt_container_rootfs(fx->rt, id, &path), 0);
	snprintf(file, sizeof(file), "%s/copied-in", path);
	assert_int_equal(access(file, F_OK), 0);
	shoal_free(path);
	assert_int_equal(rt_container_remove(fx->rt, id, false, true), 0);
	assert_int_equal(fx_mounts_mentioning(id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(exit_code_passes_through),
		T(logs_keep_streams_and_survive_a_daemon_restart),
		T(container_outlives_the_daemon_and_is_reattached),
		T(container_outlives_a_daemon_process_that_exits),
		T(kill_delivers_the_signal),
		T(pause_freezes_and_unpause_thaws),
		T(stats_and_top_see_the_container),
		T(exit_watch_reports_on_the_loop),
		T(exit_watch_reports_an_exit_that_came_before_it),
		T(removal_leaves_no_mounts_cgroups_or_processes),
		T(bad_input_is_refused_and_creates_nothing),
		T(missing_executable_fails_start_and_leaves_nothing_running),
		T(names_are_unique_and_resolve),
		T(logs_follow_a_running_container),
		T(a_paused_container_can_be_stopped),
		T(an_exited_container_starts_again),
		T(create_under_allocation_failures_leaves_nothing),
		T(a_created_container_starts_after_its_exec_root_was_wiped),
		T(a_container_whose_monitor_was_killed_can_be_removed),
		T(a_stopped_containers_files_can_be_reached_and_released),
	};

	fx_skip_unless_root();
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
