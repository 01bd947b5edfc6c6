/*
 * exec (with and without a tty), attach, users and working dirs, volumes
 * (bind, named, anonymous, tmpfs) and the volume store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int exec_capture(struct fx *fx, const char *id, const char *const *argv,
			const char *user, char *out, size_t cap)
{
	struct rt_exec_spec es = {.argv = argv, .user = user};
	struct shoal_err err = {""};
	struct rt_exec *ex;
	int code = -1;

	if (rt_exec_start(fx->rt, id, &es, &ex, &err) < 0)
		fail_msg("exec: %s", err.msg);
	close(ex->stdin_fd);
	ex->stdin_fd = -1;
	fx_drain(ex->stdout_fd, out, cap);
	assert_int_equal(rt_exec_wait(ex, 10000, &code), 0);
	rt_exec_free(ex);
	return code;
}

static void exec_sees_the_container_filesystem_and_pids(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "echo marker > /tmp/m; exec sleep 1000", NULL};
	const char *cat[] = {"cat", "/tmp/m", NULL};
	const char *ps[] = {"sh", "-c",
			    "echo $$; cat /proc/1/cmdline; "
			    "cat /proc/self/cgroup | head -1",
			    NULL};
	const char *id_argv[] = {"id", "-u", NULL};
	char id[RT_ID_LEN + 1], out[4096];
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	fx_start(fx, &s, id);
	for (int i = 0; i < 100; i++) {
		if (exec_capture(fx, id, cat, NULL, out, sizeof(out)) == 0)
			break;
		usleep(20000);
	}
	assert_string_equal(out, "marker\n");
	assert_int_equal(exec_capture(fx, id, ps, NULL, out, sizeof(out)), 0);
	/* A small pid in the container's namespace; pid 1 is its init. */
	assert_true(atoi(out) > 1 && atoi(out) < 100);
	assert_non_null(strstr(out, "sleep"));
	assert_int_equal(
		exec_capture(fx, id, id_argv, "alice", out, sizeof(out)), 0);
	assert_string_equal(out, "1000\n");
}

static void exec_takes_env_workdir_stdin_and_the_containers_limits(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sleep", "1000", NULL};
	const char *sh[] = {"sh", "-c",
			    "pwd; echo $EXTRA; read line; echo got $line; "
			    "grep CapEff /proc/self/status; "
			    "grep memory /proc/self/cgroup | cut -d: -f3; "
			    "echo oops >&2; exit 4",
			    NULL};
	const char *env[] = {"EXTRA=yes", NULL};
	struct rt_exec_spec es = {.argv = sh, .env = env, .workdir = "/tmp"};
	char id[RT_ID_LEN + 1], out[4096], errout[256];
	struct shoal_err err = {""};
	struct rt_exec *ex;
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	fx_start(fx, &s, id);
	assert_int_equal(rt_exec_start(fx->rt, id, &es, &ex, &err), 0);
	assert_int_equal(write(ex->stdin_fd, "hi\n", 3), 3);
	close(ex->stdin_fd);
	ex->stdin_fd = -1;
	fx_drain(ex->stdout_fd, out, sizeof(out));
	fx_drain(ex->stderr_fd, errout, sizeof(errout));
	assert_int_equal(rt_exec_wait(ex, 10000, &code), 0);
	assert_int_equal(code, 4);
	rt_exec_free(ex);
	/* Same capabilities as the container; inside its cgroup namespace,
	 * whose root is the container's own cgroup. */
	assert_string_equal(out, "/tmp\nyes\ngot hi\n"
				 "CapEff:\t00000000a80425fb\n/\n");
	assert_string_equal(errout, "oops\n");
}

static void exec_with_a_tty_gets_a_pty(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sleep", "1000", NULL};
	const char *tty[] = {"sh", "-c", "tty; exit 5", NULL};
	struct rt_exec_spec es = {.argv = tty, .tty = true};
	char id[RT_ID_LEN + 1], out[4096];
	struct shoal_err err = {""};
	struct rt_exec *ex;
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	fx_start(fx, &s, id);
	assert_int_equal(rt_exec_start(fx->rt, id, &es, &ex, &err), 0);
	assert_true(ex->pty >= 0);
	fx_drain(ex->pty, out, sizeof(out));
	assert_non_null(strstr(out, "/dev/pts/"));
	assert_int_equal(rt_exec_wait(ex, 10000, &code), 0);
	assert_int_equal(code, 5);
	rt_exec_free(ex);
}

static void exec_of_a_missing_command_says_so(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sleep", "1000", NULL};
	const char *bad[] = {"nope", NULL};
	struct rt_exec_spec es = {.argv = bad};
	char id[RT_ID_LEN + 1];
	struct shoal_err err = {""};
	struct rt_exec *ex;
	struct rt_spec s;

	fx_spec(fx, &s, argv);
	fx_start(fx, &s, id);
	assert_int_not_equal(rt_exec_start(fx->rt, id, &es, &ex, &err), 0);
	assert_string_equal(err.msg, "exec: \"nope\": executable file not "
				     "found in $PATH");
}

static void attach_relays_stdin_and_stdout(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"cat", NULL};
	char id[RT_ID_LEN + 1], out[256];
	unsigned char hdr[8];
	struct rt_spec s;
	int fd, code = -1;

	fx_spec(fx, &s, argv);
	s.open_stdin = true;
	fx_start(fx, &s, id);
	assert_int_equal(rt_container_attach(fx->rt, id, &fd), 0);
	assert_int_equal(write(fd, "ping\n", 5), 5);
	assert_int_equal(read(fd, hdr, 8), 8);
	assert_int_equal(hdr[0], 1); /* stdout */
	assert_int_equal(hdr[7], 5);
	assert_int_equal(read(fd, out, 5), 5);
	assert_memory_equal(out, "ping\n", 5);
	shutdown(fd, SHUT_WR); /* closes cat's stdin: it exits */
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 0);
	close(fd);
	fx_log(fx, id, out, sizeof(out));
	assert_string_equal(out, "ping\n");
}

/* Read from @fd until @want shows up (or 10 s pass). */
static bool read_until(int fd, const char *want, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	while (!strstr(buf, want)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got;
		if (poll(&p, 1, 10000) <= 0 || n + 1 >= cap)
			return false;
		got = read(fd, buf + n, cap - n - 1);
		if (got <= 0)
			return false;
		n += (size_t)got;
		buf[n] = '\0';
	}
	return true;
}

static void interactive_tty_container_is_driven_through_attach(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "echo hello-first; exec sh", NULL};
	char id[RT_ID_LEN + 1], buf[8192] = "";
	struct rt_spec s;
	int fd, code = -1;

	fx_spec(fx, &s, argv);
	s.tty = true;
	s.open_stdin = true;
	fx_start(fx, &s, id);
	/* The greeting is out (it is in the log) before we attach... */
	for (int i = 0; i < 1000 && !strstr(buf, "hello-first"); i++) {
		usleep(10 * 1000);
		fx_log(fx, id, buf, sizeof(buf));
	}
	assert_non_null(strstr(buf, "hello-first"));
	/* ...and the first attach still gets it. */
	assert_int_equal(rt_container_attach(fx->rt, id, &fd), 0);
	assert_true(read_until(fd, "hello-first", buf, sizeof(buf)));
	assert_int_equal(rt_container_resize(fx->rt, id, 33, 120), 0);
	const char *cmd = "stty size; echo mark$((40+2))\n";
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	assert_true(read_until(fd, "mark42", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "33 120"));
	assert_int_equal(write(fd, "exit 3\n", 7), 7);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 3);
	close(fd);
}

static void tty_container_writes_through_its_pty(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "tty; [ -t 0 ] && echo interactive",
			      NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.tty = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "/dev/pts/0\r\ninteractive\r\n");
}

static void user_workdir_and_env_apply(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "id -u; id -g; pwd; echo $FOO $HOME",
			      NULL};
	const char *env[] = {"FOO=bar", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.user = "1000:50";
	s.workdir = "/work/dir";
	s.env = env;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "1000\n50\n/work/dir\nbar /home/alice\n");
	s.user = "nosuchuser";
	s.workdir = NULL;
	struct shoal_err err = {""};
	char id[RT_ID_LEN + 1];
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_not_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_string_equal(err.msg, "unable to find user nosuchuser: no "
				     "matching entries in passwd file");
}

static void bind_mounts_honour_read_only(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {
		"sh", "-c",
		"cat /in/file; echo new > /out/made; "
		"(echo x > /in/other) 2>/dev/null || echo refused",
		NULL};
	char host_in[512], host_out[512], vin[600], vout[600], out[4096];
	const char *vols[3];
	struct rt_spec s;
	FILE *f;

	snprintf(host_in, sizeof(host_in), "%s/in", fx->root);
	snprintf(host_out, sizeof(host_out), "%s/out", fx->root);
	mkdir(host_in, 0755);
	snprintf(vin, sizeof(vin), "%s/file", host_in);
	f = fopen(vin, "w");
	fputs("hello\n", f);
	fclose(f);
	snprintf(vin, sizeof(vin), "%s:/in:ro", host_in);
	snprintf(vout, sizeof(vout), "%s:/out", host_out);
	vols[0] = vin;
	vols[1] = vout;
	vols[2] = NULL;
	fx_spec(fx, &s, argv);
	s.volumes = vols;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "hello\nrefused\n");
	snprintf(vout, sizeof(vout), "%s/made", host_out);
	f = fopen(vout, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof(out), f));
	fclose(f);
	assert_string_equal(out, "new\n");
}

static void named_volume_persists_and_is_protected_while_used(void **state)
{
	struct fx *fx = *state;
	const char *w[] = {"sh", "-c", "echo kept > /v/f", NULL};
	const char *r[] = {"cat", "/v/f", NULL};
	const char *vols[] = {"data1:/v", NULL};
	struct rt_volume_info vi, *list;
	char id[RT_ID_LEN + 1], out[4096];
	struct shoal_err err = {""};
	struct rt_spec s;
	size_t n, removed;
	int code;

	fx_spec(fx, &s, w);
	s.volumes = vols;
	assert_int_equal(fx_run(fx, &s, NULL, 0), 0);
	fx_spec(fx, &s, r);
	s.volumes = vols;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	fx_log(fx, id, out, sizeof(out));
	assert_string_equal(out, "kept\n");
	assert_int_equal(rt_volume_inspect(fx->rt, "data1", &vi), 0);
	assert_int_equal(vi.ref_count, 2);
	assert_false(vi.anonymous);
	assert_int_equal(rt_volume_remove(fx->rt, "data1"), SHOAL_ECONFLICT);
	assert_int_equal(rt_volume_list(fx->rt, &list, &n), 0);
	assert_int_equal(n, 1);
	free(list);
	/* Remove both containers, then the volume goes. */
	char **ids;
	assert_int_equal(rt_container_list(fx->rt, &ids, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
			rt_container_remove(fx->rt, ids[i], false, true), 0);
	rt_list_free(ids, n);
	assert_int_equal(rt_volume_prune(fx->rt, false, &removed), 0);
	assert_int_equal(removed, 0); /* named volumes survive a prune */
	assert_int_equal(rt_volume_remove(fx->rt, "data1"), 0);
	assert_int_equal(rt_volume_inspect(fx->rt, "data1", &vi),
			 SHOAL_ENOTFOUND);
}

static void anonymous_volume_and_tmpfs_are_mounted(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep -E ' /(anon|scratch) ' "
			      "/proc/self/mounts | cut -d' ' -f2,3",
			      NULL};
	const char *vols[] = {"/anon", NULL},
		   *tmpfs[] = {"/scratch:size=1m", NULL};
	struct rt_volume_info *list;
	struct rt_spec s;
	char out[4096];
	size_t n, removed;

	fx_spec(fx, &s, argv);
	s.volumes = vols;
	s.tmpfs = tmpfs;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "/anon ext4\n/scratch tmpfs\n");
	assert_int_equal(rt_volume_list(fx->rt, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_true(list[0].anonymous);
	assert_int_equal(list[0].ref_count, 1);
	free(list);
	assert_int_equal(rt_volume_prune(fx->rt, false, &removed), 0);
	assert_int_equal(removed, 0); /* still used */
}

static void image_symlinks_cannot_steer_mounts_out_of_the_rootfs(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep ' /t ' /proc/self/mounts | "
			      "cut -d' ' -f2,3",
			      NULL};
	char link[600], host_dir[512], out[4096], vol[600], id[RT_ID_LEN + 1];
	const char *vols[2] = {vol, NULL}, *tmpfs[] = {"/outside/t", NULL};
	struct shoal_err err = {""};
	struct rt_spec s;
	struct stat st;

	/* The image links /evil to a host path, absolute, and /outside
	 * to a chain of "..". */
	snprintf(host_dir, sizeof(host_dir), "%s/hostside", fx->root);
	mkdir(host_dir, 0755);
	snprintf(link, sizeof(link), "%s/evil", fx->layer);
	assert_int_equal(symlink(host_dir, link), 0);
	snprintf(link, sizeof(link), "%s/outside", fx->layer);
	assert_int_equal(symlink("../../../../../../../..", link), 0);
	/* /evil resolves inside the rootfs, where its target does not
	 * exist: a clear refusal, and nothing made on the host. */
	snprintf(vol, sizeof(vol), "%s:/evil/x", fx->root);
	fx_spec(fx, &s, argv);
	s.volumes = vols;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_not_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_non_null(strstr(err.msg, "cannot create mount point"));
	snprintf(link, sizeof(link), "%s/x", host_dir);
	assert_int_equal(stat(link, &st), -1);
	/* ".." stops at the container's root: /outside/t is /t. */
	fx_spec(fx, &s, argv);
	s.tmpfs = tmpfs;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "/t tmpfs\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(exec_sees_the_container_filesystem_and_pids),
		T(exec_takes_env_workdir_stdin_and_the_containers_limits),
		T(exec_with_a_tty_gets_a_pty),
		T(exec_of_a_missing_command_says_so),
		T(attach_relays_stdin_and_stdout),
		T(tty_container_writes_through_its_pty),
		T(interactive_tty_container_is_driven_through_attach),
		T(user_workdir_and_env_apply),
		T(bind_mounts_honour_read_only),
		T(named_volume_persists_and_is_protected_while_used),
		T(anonymous_volume_and_tmpfs_are_mounted),
		T(image_symlinks_cannot_steer_mounts_out_of_the_rootfs),
	};

	fx_skip_unless_root();
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
