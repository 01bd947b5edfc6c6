/*
 * The findings of the security review (issue 8) that the runtime fixes,
 * each as what a process in a container can observe:
 *
 *  - descriptors: the caller (the daemon, here the test) holds inheritable
 *    descriptors of the host's "/", as a shell's `exec 7</` leaves one to
 *    the daemon it starts; neither a container's init nor an exec'd
 *    process, with or without a tty, may see anything but 0-2 (the class
 *    of runc's CVE-2024-21626, where such a folder was a way out);
 *  - capabilities: the inheritable and ambient sets are empty, bounding =
 *    permitted = effective = the configured set for root and permitted =
 *    effective = empty for a user, in the init and in exec (Docker since
 *    20.10.14); and a user running a file with inheritable file
 *    capabilities gains none (the CVE-2022-24769 analog).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fixture.h"

/* The host's "/", inheritable: a readable folder and an O_PATH one. */
#define HOST_ROOT_FD 7
#define HOST_ROOT_PATH_FD 8

#define NO_FDS "fds: 0 1 2"

#define CAPS_ROOT                                                              \
	"CapInh:\t0000000000000000\n"                                          \
	"CapPrm:\t00000000a80425fb\n"                                          \
	"CapEff:\t00000000a80425fb\n"                                          \
	"CapBnd:\t00000000a80425fb\n"                                          \
	"CapAmb:\t0000000000000000\n"
#define CAPS_USER                                                              \
	"CapInh:\t0000000000000000\n"                                          \
	"CapPrm:\t0000000000000000\n"                                          \
	"CapEff:\t0000000000000000\n"                                          \
	"CapBnd:\t00000000a80425fb\n"                                          \
	"CapAmb:\t0000000000000000\n"

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

/* Deliberately without O_CLOEXEC: what a careless parent hands down. */
static int setup_host_root_fds(void **state)
{
	int a = open("/", O_RDONLY | O_DIRECTORY);
	int b = open("/", O_PATH | O_DIRECTORY);

	int rc = a >= 0 && b >= 0 && dup2(a, HOST_ROOT_FD) >= 0 &&
				 dup2(b, HOST_ROOT_PATH_FD) >= 0
			 ? 0
			 : -1;

	if (a >= 0 && a != HOST_ROOT_FD)
		close(a);
	if (b >= 0 && b != HOST_ROOT_PATH_FD)
		close(b);
	if (rc == 0)
		rc = setup(state);
	if (rc < 0) {
		close(HOST_ROOT_FD);
		close(HOST_ROOT_PATH_FD);
	}
	return rc;
}

static int teardown_host_root_fds(void **state)
{
	close(HOST_ROOT_FD);
	close(HOST_ROOT_PATH_FD);
	return teardown(state);
}

/* The output of @argv exec'd in @id as @user (a tty when @tty), with
 * carriage returns dropped; asserts it exited 0. */
static void exec_output(struct fx *fx, const char *id, const char *const *argv,
			const char *user, bool tty, char *out, size_t cap)
{
	struct rt_exec_spec es = {.argv = argv, .user = user, .tty = tty};
	struct shoal_err err = {""};
	struct rt_exec *ex;
	int code = -1;
	char *w = out;

	if (rt_exec_start(fx->rt, id, &es, &ex, &err) < 0)
		fail_msg("exec %s: %s", argv[0], err.msg);
	if (!tty) {
		close(ex->stdin_fd);
		ex->stdin_fd = -1;
	}
	fx_drain(tty ? ex->pty : ex->stdout_fd, out, cap);
	assert_int_equal(rt_exec_wait(ex, 10000, &code), 0);
	rt_exec_free(ex);
	assert_int_equal(code, 0);
	for (const char *r = out; *r; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
}

/* The init's output, carriage returns (a tty's) dropped. */
static void run_output(struct fx *fx, struct rt_spec *s, char *out, size_t cap)
{
	char *w = out;

	assert_int_equal(fx_run(fx, s, out, cap), 0);
	for (const char *r = out; *r; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
}

static void inherited_descriptors_reach_no_process_in_a_container(void **st)
{
	struct fx *fx = *st;
	const char *fds[] = {"probe", "fds", NULL};
	const char *sleeper[] = {"sleep", "1000", NULL};
	char id[RT_ID_LEN + 1], out[4096];
	struct rt_spec s;

	/* The premise: the test itself holds the host's root, twice. */
	assert_true(fcntl(HOST_ROOT_FD, F_GETFD) == 0);
	assert_true(fcntl(HOST_ROOT_PATH_FD, F_GETFD) == 0);

	fx_spec(fx, &s, fds);
	run_output(fx, &s, out, sizeof(out));
	assert_string_equal(out, NO_FDS "\n");
	s.tty = true;
	run_output(fx, &s, out, sizeof(out));
	assert_string_equal(out, NO_FDS "\n");

	fx_spec(fx, &s, sleeper);
	fx_start(fx, &s, id);
	exec_output(fx, id, fds, NULL, false, out, sizeof(out));
	assert_string_equal(out, NO_FDS "\n");
	exec_output(fx, id, fds, "alice", false, out, sizeof(out));
	assert_string_equal(out, NO_FDS "\n");
	exec_output(fx, id, fds, NULL, true, out, sizeof(out));
	assert_string_equal(out, NO_FDS "\n");
}

static void inheritable_and_ambient_capabilities_are_empty(void **st)
{
	struct fx *fx = *st;
	const char *caps[] = {"probe", "caps", NULL};
	const char *sleeper[] = {"sleep", "1000", NULL};
	char id[RT_ID_LEN + 1], out[4096];
	struct rt_spec s;

	fx_spec(fx, &s, caps);
	run_output(fx, &s, out, sizeof(out));
	assert_string_equal(out, CAPS_ROOT);
	s.user = "alice";
	run_output(fx, &s, out, sizeof(out));
	assert_string_equal(out, CAPS_USER);

	fx_spec(fx, &s, sleeper);
	fx_start(fx, &s, id);
	exec_output(fx, id, caps, NULL, false, out, sizeof(out));
	assert_string_equal(out, CAPS_ROOT);
	exec_output(fx, id, caps, "alice", false, out, sizeof(out));
	assert_string_equal(out, CAPS_USER);
}

/* /bin/capprobe: the probe with every default capability in its file's
 * inheritable set and the effective bit, as `setcap
 * cap_chown,...+ie` would leave it. */
static void add_capprobe(struct fx *fx)
{
	struct vfs_cap_data cap = {
		.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
		.data = {{.permitted = 0, .inheritable = 0xa80425fb}},
	};
	char cmd[1024], path[512];

	snprintf(path, sizeof(path), "%s/bin/capprobe", fx->layer);
	snprintf(cmd, sizeof(cmd), "cp %s/bin/probe %s", fx->layer, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(
		setxattr(path, "security.capability", &cap, XATTR_CAPS_SZ_2, 0),
		0);
}

static void file_inheritable_capabilities_give_a_user_nothing(void **st)
{
	struct fx *fx = *st;
	const char *caps[] = {"capprobe", "caps", NULL};
	const char *sleeper[] = {"sleep", "1000", NULL};
	char id[RT_ID_LEN + 1], out[4096];
	struct rt_spec s;

	add_capprobe(fx);
	fx_spec(fx, &s, caps);
	s.user = "alice";
	run_output(fx, &s, out, sizeof(out));
	assert_string_equal(out, CAPS_USER);

	fx_spec(fx, &s, sleeper);
	fx_start(fx, &s, id);
	exec_output(fx, id, caps, "alice", false, out, sizeof(out));
	assert_string_equal(out, CAPS_USER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			inherited_descriptors_reach_no_process_in_a_container,
			setup_host_root_fds, teardown_host_root_fds),
		cmocka_unit_test_setup_teardown(
			inheritable_and_ambient_capabilities_are_empty, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			file_inheritable_capabilities_give_a_user_nothing,
			setup, teardown),
	};

	fx_skip_unless_root();
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
