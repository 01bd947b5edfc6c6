/*
 * Unit tests (no root) of rt_cgroup_probe(): fake cgroup trees in a
 * temporary folder, shaped as a v1 host with and without swap accounting,
 * a v2 host with and without controllers, a hybrid host whose unified tree
 * is nearly empty, and no cgroups at all. The answers are what GET /info
 * reports (MemoryLimit, SwapLimit, CPUSet, ...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime.h"

struct tree {
	char root[64];
};

/* Make @rel (folders on the way included) under the tree; a trailing '/'
 * makes a folder, else a file holding @text. */
static void put(struct tree *t, const char *rel, const char *text)
{
	char path[512];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	for (char *p = path + strlen(t->root) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	n = strlen(path);
	if (path[n - 1] == '/')
		return;
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text ? text : "", f);
	fclose(f);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/cgprobe.XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	int rc = system(cmd);
	free(t);
	return rc == 0 ? 0 : -1;
}

/* A v1 controller folder with the files given (NULL-terminated). */
static void v1_controller(struct tree *t, const char *name,
			  const char *const *files)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/cgroup.procs", name);
	put(t, rel, "");
	for (size_t i = 0; files && files[i]; i++) {
		snprintf(rel, sizeof(rel), "%s/%s", name, files[i]);
		put(t, rel, "0\n");
	}
}

static const char *const mem_full[] = {"memory.limit_in_bytes",
				       "memory.memsw.limit_in_bytes",
				       "memory.soft_limit_in_bytes",
				       "memory.kmem.limit_in_bytes",
				       "memory.kmem.tcp.limit_in_bytes",
				       "memory.oom_control",
				       NULL};
static const char *const cpu_full[] = {"cpu.shares", "cpu.cfs_period_us",
				       "cpu.cfs_quota_us", NULL};
static const char *const cpuset_full[] = {"cpuset.cpus", "cpuset.mems", NULL};

static void v1_host(struct tree *t)
{
	v1_controller(t, "memory", mem_full);
	v1_controller(t, "cpu", cpu_full);
	v1_controller(t, "cpuacct", NULL);
	v1_controller(t, "cpuset", cpuset_full);
	v1_controller(t, "pids", NULL);
	v1_controller(t, "freezer", NULL);
	v1_controller(t, "devices", NULL);
}

static void v1_host_reports_every_file_it_has(void **state)
{
	struct tree *t = *state;
	struct rt_cgroup_caps c;

	v1_host(t);
	assert_int_equal(rt_cgroup_probe(t->root, &c), 0);
	assert_int_equal(c.layout, RT_CGROUP_V1);
	assert_true(c.memory_limit);
	assert_true(c.swap_limit);
	assert_true(c.memory_reservation);
	assert_true(c.kernel_memory_tcp);
	assert_true(c.oom_kill_disable);
	assert_true(c.cpu_shares);
	assert_true(c.cpu_cfs_period);
	assert_true(c.cpu_cfs_quota);
	assert_true(c.cpuset);
	assert_true(c.pids_limit);
}

/* A kernel booted without swap accounting or kernel memory accounting,
 * without the CFS bandwidth controller, and without cpuset or pids. */
static void v1_host_without_swap_accounting_says_so(void **state)
{
	struct tree *t = *state;
	static const char *const mem[] = {"memory.limit_in_bytes",
					  "memory.soft_limit_in_bytes", NULL};
	static const char *const cpu[] = {"cpu.shares", NULL};
	struct rt_cgroup_caps c;

	v1_controller(t, "memory", mem);
	v1_controller(t, "cpu", cpu);
	put(t, "cpuset/", NULL); /* a folder, but nothing mounted there */
	assert_int_equal(rt_cgroup_probe(t->root, &c), 0);
	assert_int_equal(c.layout, RT_CGROUP_V1);
	assert_true(c.memory_limit);
	assert_false(c.swap_limit);
	assert_true(c.memory_reservation);
	assert_false(c.kernel_memory_tcp);
	assert_false(c.oom_kill_disable);
	assert_true(c.cpu_shares);
	assert_false(c.cpu_cfs_period);
	assert_false(c.cpu_cfs_quota);
	assert_false(c.cpuset);
	assert_false(c.pids_limit);
}

/* This machine's shape: v1 controllers and a cgroup2 at unified/ whose
 * only controller is hugetlb. The runtime drives v1 there, so the answers
 * are v1's (a v2 reading would deny memory, cpu and pids limits). */
static void hybrid_host_is_answered_from_v1(void **state)
{
	struct tree *t = *state;
	struct rt_cgroup_caps c;

	v1_host(t);
	put(t, "unified/cgroup.controllers", "hugetlb\n");
	put(t, "unified/cgroup.procs", "");
	assert_int_equal(rt_cgroup_probe(t->root, &c), 0);
	assert_int_equal(c.layout, RT_CGROUP_HYBRID);
	assert_true(c.memory_limit);
	assert_true(c.swap_limit);
	assert_true(c.oom_kill_disable);
	assert_true(c.kernel_memory_tcp);
	assert_true(c.cpu_cfs_quota);
	assert_true(c.cpuset);
	assert_true(c.pids_limit);
}

static void v2_host_reports_its_controllers(void **state)
{
	struct tree *t = *state;
	struct rt_cgroup_caps c;

	put(t, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	put(t, "cgroup.procs", "");
	/* The root cgroup never has memory.swap.max; its children do. */
	put(t, "system.slice/memory.max", "max\n");
	put(t, "system.slice/memory.swap.max", "max\n");
	assert_int_equal(rt_cgroup_probe(t->root, &c), 0);
	assert_int_equal(c.layout, RT_CGROUP_V2);
	assert_true(c.memory_limit);
	assert_true(c.swap_limit);
	assert_true(c.memory_reservation);
	assert_false(c.kernel_memory_tcp);
	assert_false(c.oom_kill_disable);
	assert_true(c.cpu_shares);
	assert_true(c.cpu_cfs_period);
	assert_true(c.cpu_cfs_quota);
	assert_true(c.cpuset);
	assert_true(c.pids_limit);
}

/* "cpuset" must not count as "cpu", nor "hugetlb" as anything; without
 * swap accounting no child has memory.swap.max. */
static void v2_host_without_controllers_denies_their_limits(void **state)
{
	struct tree *t = *state;
	struct rt_cgroup_caps c;

	put(t, "cgroup.controllers", "cpuset hugetlb memory\n");
	put(t, "cgroup.procs", "");
	put(t, "init.scope/memory.max", "max\n");
	assert_int_equal(rt_cgroup_probe(t->root, &c), 0);
	assert_int_equal(c.layout, RT_CGROUP_V2);
	assert_true(c.memory_limit);
	assert_false(c.swap_limit);
	assert_false(c.cpu_shares);
	assert_false(c.cpu_cfs_period);
	assert_false(c.cpu_cfs_quota);
	assert_true(c.cpuset);
	assert_false(c.pids_limit);
}

static void no_cgroups_at_all_is_enoent(void **state)
{
	struct tree *t = *state;
	struct rt_cgroup_caps c;

	put(t, "memory/", NULL);
	assert_int_equal(rt_cgroup_probe(t->root, &c), -ENOENT);
	assert_false(c.memory_limit);
	assert_false(c.pids_limit);
	assert_int_equal(rt_cgroup_probe("/nonexistent-cgroup-root", &c),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			v1_host_reports_every_file_it_has, tree_setup,
			tree_teardown),
		cmocka_unit_test_setup_teardown(
			v1_host_without_swap_accounting_says_so, tree_setup,
			tree_teardown),
		cmocka_unit_test_setup_teardown(hybrid_host_is_answered_from_v1,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(v2_host_reports_its_controllers,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(
			v2_host_without_controllers_denies_their_limits,
			tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(no_cgroups_at_all_is_enoent,
						tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
