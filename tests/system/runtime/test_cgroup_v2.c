/*
 * The cgroup v2 back-end, exercised on this host's unified hierarchy
 * (hybrid: no controllers there, so no limits, but creation, membership,
 * the freezer, cgroup.kill and removal are all v2's). Skipped when no
 * cgroup2 mount is found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

static struct rt__cgroups cg;

static bool in_cgroup(pid_t pid, const char *want)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3) && strstr(line, want))
			found = true;
	if (f)
		fclose(f);
	return found;
}

static void v2_cgroup_holds_freezes_and_goes(void **state)
{
	struct rt__config c;
	struct shoal_err err = {""};
	char want[700], parent[64], *dir;
	struct stat st;
	int status;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	memset(c.id, 'b', RT_ID_LEN);
	snprintf(parent, sizeof(parent), "shoal-v2test-%d", (int)getpid());
	c.cgroup_parent = parent;
	assert_int_equal(rt__cgv2_create(&cg, &c, false, &err), 0);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(rt__cgv2_enter(&cg, &c, pid), 0);
	snprintf(want, sizeof(want), "/%s/%s", parent, c.id);
	assert_true(in_cgroup(pid, want));
	assert_int_equal(rt__cgv2_freeze(&cg, &c, true), 0);
	assert_true(rt__cgv2_frozen(&cg, &c));
	assert_int_equal(rt__cgv2_freeze(&cg, &c, false), 0);
	assert_false(rt__cgv2_frozen(&cg, &c));
	assert_false(rt__cgv2_oom(&cg, &c));
	/* Removal kills what is left (cgroup.kill) and removes the dir. */
	assert_int_equal(rt__cgv2_destroy(&cg, &c), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	dir = rt__cgv2_dir(&cg, &c);
	assert_int_equal(stat(dir, &st), -1);
	shoal_free(dir);
	snprintf(want, sizeof(want), "%s/%s", cg.v2_root, parent);
	assert_int_equal(rmdir(want), 0);
}

static void v2_device_program_allows_only_dockers_list(void **state)
{
	struct rt__config c;
	struct shoal_err err = {""};
	char parent[64], *dir;
	int status;
	pid_t pid;
	int sync[2];

	memset(&c, 0, sizeof(c));
	memset(c.id, 'd', RT_ID_LEN);
	snprintf(parent, sizeof(parent), "shoal-v2dev-%d", (int)getpid());
	c.cgroup_parent = parent;
	assert_int_equal(rt__cgv2_create(&cg, &c, false, &err), 0);
	dir = rt__cgv2_dir(&cg, &c);
	assert_int_equal(rt__cgv2_devices(dir), 0);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	if (pid == 0) {
		char go;
		int bits = 0, fd;
		close(sync[1]);
		if (read(sync[0], &go, 1) != 1)
			_exit(100);
		fd = open("/dev/null", O_RDONLY);
		bits |= fd >= 0 ? 1 : 0;
		if (fd >= 0)
			close(fd);
		fd = open("/dev/kmsg", O_RDONLY);
		bits |= fd < 0 && errno == EPERM ? 2 : 0;
		if (fd >= 0)
			close(fd);
		_exit(bits);
	}
	close(sync[0]);
	assert_int_equal(rt__cgv2_enter(&cg, &c, pid), 0);
	assert_int_equal(write(sync[1], "g", 1), 1);
	close(sync[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3); /* null ok, kmsg refused */
	assert_int_equal(rt__cgv2_destroy(&cg, &c), 0);
	shoal_free(dir);
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", cg.v2_root, parent);
	assert_int_equal(rmdir(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v2_cgroup_holds_freezes_and_goes),
		cmocka_unit_test(v2_device_program_allows_only_dockers_list),
	};

	if (geteuid() != 0) {
		printf("skipped: needs root\n");
		return 77;
	}
	if (rt__cgroup_detect(&cg) < 0 || !cg.v2_root[0]) {
		printf("skipped: no cgroup2 hierarchy\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
