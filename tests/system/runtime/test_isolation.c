/*
 * What a container cannot see or do: host processes, mounts, interfaces;
 * its own hostname; the default seccomp profile and capability set; the
 * memory and pids limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>

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

static void cannot_see_host_processes(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "ls -d /proc/[0-9]* | wc -l; "
			      "cat /proc/1/cmdline",
			      NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	/* sh (pid 1), ls and wc at most: none of the host's processes;
	 * pid 1 is the container's own command (sh execs the last one). */
	assert_true(atoi(out) >= 1 && atoi(out) <= 3);
	assert_memory_equal(strchr(out, '\n') + 1, "cat\0/proc/1/cmdline", 20);
}

static void cannot_see_host_mounts(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"cat", "/proc/self/mountinfo", NULL};
	struct rt_spec s;
	char out[16384];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	/* Mount points (field 5) are the container's own: none of the
	 * host's cgroup mounts (its own, under /sys/fs/cgroup, are rooted
	 * at its cgroup: root field "/") or of its /tmp. */
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[1024], root[1024];
		assert_int_equal(
			sscanf(line, "%*s %*s %*s %1023s %1023s", root, mp), 2);
		if (!strncmp(mp, "/sys/fs/cgroup/", 15))
			assert_string_equal(root, "/");
		assert_true(strncmp(mp, "/tmp/", 5) != 0);
		assert_true(strncmp(mp, "/work", 5) != 0);
	}
}

static void cannot_see_host_interfaces(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"cat", "/proc/net/dev", NULL};
	struct rt_spec s;
	char out[4096];
	int lines = 0;

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	for (char *p = out; (p = strchr(p, ':')); p++)
		lines++;
	assert_int_equal(lines, 1);
	assert_non_null(strstr(out, "lo:"));
}

static void hostname_is_its_own(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "hostname; cat /etc/hostname", NULL};
	struct rt_spec s;
	char out[4096], host[256];

	fx_spec(fx, &s, argv);
	s.hostname = "shoal-box";
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "shoal-box\nshoal-box\n");
	gethostname(host, sizeof(host));
	assert_string_not_equal(host, "shoal-box");
}

static void etc_files_carry_dns_and_extra_hosts(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep db /etc/hosts; "
			      "cat /etc/resolv.conf",
			      NULL};
	const char *dns[] = {"10.0.0.53", NULL},
		   *hosts[] = {"db:10.0.0.7", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.dns = dns;
	s.extra_hosts = hosts;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.7\tdb\nnameserver 10.0.0.53\n");
}

static void default_profile_refuses_mount_unshare_keyctl_reboot(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"probe", "syscalls", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "mount=EPERM unshare=EPERM keyctl=EPERM "
				 "reboot=EPERM vsock=EPERM\n");
}

static void clone3_gets_enosys_under_the_default_profile(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"probe", "clone3", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "clone3=ENOSYS\n");
}

static void unconfined_lets_keyctl_through(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"probe", "syscalls", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.seccomp = "unconfined";
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_null(strstr(out, "keyctl=EPERM"));
	assert_null(strstr(out, "vsock=EPERM"));
	/* Capabilities still refuse mount without CAP_SYS_ADMIN. */
	assert_non_null(strstr(out, "mount=EPERM"));
}

static void default_capabilities_are_dockers(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep -E '^Cap(Eff|Bnd)' "
			      "/proc/self/status",
			      NULL};
	const char *drop[] = {"ALL", NULL}, *add[] = {"NET_ADMIN", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "CapEff:\t00000000a80425fb\n"
				 "CapBnd:\t00000000a80425fb\n");
	s.cap_drop = drop;
	s.cap_add = add;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "CapEff:\t0000000000001000\n"
				 "CapBnd:\t0000000000001000\n");
}

static void non_root_user_has_no_effective_capabilities(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "id; grep CapEff /proc/self/status",
			      NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.user = "alice";
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "uid=1000(alice) gid=1000(alice) "
				 "groups=50(staff),1000(alice)\n"
				 "CapEff:\t0000000000000000\n");
}

static void proc_paths_are_masked_and_read_only(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {
		"sh", "-c",
		"wc -c < /proc/keys; ls /proc/acpi 2>/dev/null | wc -l; "
		"(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null "
		"&& echo writable || echo read-only; "
		"(touch /sys/x) 2>/dev/null && echo sys-writable || "
		"echo sys-read-only",
		NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "0\n0\nread-only\nsys-read-only\n");
}

static void dev_is_minimal(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "ls /dev | tr '\\n' ' '", NULL};
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "fd full mqueue null ptmx pts random shm "
				 "stderr stdin stdout tty urandom zero ");
}

static void memory_limit_kills_and_reports_oom(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"probe", "hog", NULL};
	struct rt_info info;
	struct shoal_err err = {""};
	char id[RT_ID_LEN + 1];
	struct rt_spec s;
	int code = -1;

	fx_spec(fx, &s, argv);
	assert_int_equal(rt_parse_memory("16m", &s.memory), 0);
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 60000, &code), 0);
	assert_int_equal(code, 128 + SIGKILL);
	assert_int_equal(rt_container_inspect(fx->rt, id, &info), 0);
	assert_true(info.oom_killed);
	assert_int_equal(info.status, RT_STATUS_EXITED);
	rt_info_fini(&info);
}

static void pids_limit_stops_a_fork_bomb(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"probe", "forks", "200", NULL};
	struct rt_spec s;
	char out[4096];
	int forked = -1;

	fx_spec(fx, &s, argv);
	s.pids_limit = 10;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_int_equal(sscanf(out, "forked=%d", &forked), 1);
	assert_true(forked < 10);
	assert_non_null(strstr(out, "err=EAGAIN"));
}

static void user_namespace_maps_root_to_a_host_range(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "cat /proc/self/uid_map; id -u; "
			      "stat -c %u /bin/busybox; "
			      "touch /made && echo wrote",
			      NULL};
	char out[4096], path[512];
	struct rt_spec s;
	struct stat st;

	/* The mapped root must reach its upper dir under the data-root.
	 * The layer stays owned by the host's root: the monitor hands it
	 * over as an idmapped mount. */
	chmod(fx->root, 0755);
	fx_spec(fx, &s, argv);
	s.userns_host_id = 100000;
	s.userns_size = 65536;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "0     100000      65536\n"));
	/* Root in the container, owning the image's files. */
	assert_non_null(strstr(out, "\n0\n0\nwrote\n"));
	/* On the host, the file belongs to the mapped uid. */
	char **ids;
	size_t n;
	assert_int_equal(rt_container_list(fx->rt, &ids, &n), 0);
	assert_int_equal(n, 1);
	snprintf(path, sizeof(path), "%s/containers/%s/upper/made",
		 fx->data_root, ids[0]);
	rt_list_free(ids, n);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 100000);
}

static void privileged_gets_all_caps_devices_and_no_filter(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep CapEff /proc/self/status; "
			      "probe syscalls | cut -d' ' -f3; "
			      "ls /dev | grep -c . ; "
			      "wc -c < /proc/keys | grep -qv '^0$' "
			      "&& echo unmasked",
			      NULL};
	struct rt_spec s;
	char out[4096];
	int ndev = 0;

	fx_spec(fx, &s, argv);
	s.privileged = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	/* Every capability this host lets us hold (a sandbox may have
	 * dropped some from our bounding set). */
	char bnd[64] = "", line[256];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %63s", bnd) == 1)
			break;
	if (f)
		fclose(f);
	snprintf(line, sizeof(line), "CapEff:\t%s\n", bnd);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "keyctl=OK") ? strstr(out, "keyctl=OK")
						 : strstr(out, "keyctl=OTHER"));
	assert_int_equal(sscanf(strstr(out, "\n") + 1, "%*s %d", &ndev), 1);
	assert_true(ndev > 14); /* more than the minimal /dev */
	assert_non_null(strstr(out, "unmasked"));
}

static void readonly_rootfs_and_rlimits_apply(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "(touch /x) 2>/dev/null || echo ro; "
			      "touch /tmp/../etc/hostname && "
			      "echo etc-ok; ulimit -n",
			      NULL};
	struct rt_rlimit rl;
	struct rt_spec s;
	char out[4096];

	fx_spec(fx, &s, argv);
	s.readonly_rootfs = true;
	assert_int_equal(rt_parse_ulimit("nofile=123:456", &rl), 0);
	s.rlimits = &rl;
	s.rlimit_count = 1;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "ro\netc-ok\n123\n");
}

static void cpu_and_memory_limits_reach_the_cgroup(void **state)
{
	struct fx *fx = *state;
	char id[RT_ID_LEN + 1], path[512], buf[64];
	struct shoal_err err = {""};
	struct rt_spec s;
	bool v2 = rt_cgroup_layout(fx->rt) == RT_CGROUP_V2;
	FILE *f;

	fx_spec(fx, &s, (const char *const[]){"sleep", "1000", NULL});
	assert_int_equal(rt_parse_cpus("0.5", &s.nano_cpus), 0);
	assert_int_equal(rt_parse_memory("64m", &s.memory), 0);
	assert_int_equal(rt_parse_memory("32m", &s.memory_reservation), 0);
	s.cpu_shares = 512;
	assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	/* The files of this host's layout and what they must hold. */
	static const char *const v1[][3] = {
		{"cpu", "cpu.cfs_quota_us", "50000\n"},
		{"cpu", "cpu.shares", "512\n"},
		{"memory", "memory.limit_in_bytes", "67108864\n"},
		{"memory", "memory.soft_limit_in_bytes", "33554432\n"},
	};
	static const char *const v2f[][3] = {
		{"", "cpu.max", "50000 100000\n"},
		{"", "cpu.weight", "20\n"},
		{"", "memory.max", "67108864\n"},
		{"", "memory.low", "33554432\n"},
	};
	for (int i = 0; i < 4; i++) {
		const char *const *e = v2 ? v2f[i] : v1[i];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s%s/%s/%s",
			 e[0], e[0][0] ? "/" : "", fx->cgroup_parent, id, e[1]);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, e[2]);
	}
}

static void custom_profile_file_and_no_new_privileges_apply(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c",
			      "grep NoNewPrivs /proc/self/status; "
			      "mkdir /x 2>&1; probe clone3",
			      NULL};
	char out[4096], prof[512];
	struct rt_spec s;
	FILE *f;

	snprintf(prof, sizeof(prof), "%s/profile.json", fx->root);
	f = fopen(prof, "w");
	assert_non_null(f);
	fputs("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
	      "{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": "
	      "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}",
	      f);
	fclose(f);
	fx_spec(fx, &s, argv);
	s.seccomp = prof;
	s.no_new_privileges = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	/* The custom profile replaces Docker's: clone3 is allowed again. */
	assert_string_equal(out, "NoNewPrivs:\t1\n"
				 "mkdir: can't create directory '/x': "
				 "Permission denied\nclone3=OK\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(cannot_see_host_processes),
		T(cannot_see_host_mounts),
		T(cannot_see_host_interfaces),
		T(hostname_is_its_own),
		T(etc_files_carry_dns_and_extra_hosts),
		T(default_profile_refuses_mount_unshare_keyctl_reboot),
		T(clone3_gets_enosys_under_the_default_profile),
		T(unconfined_lets_keyctl_through),
		T(default_capabilities_are_dockers),
		T(non_root_user_has_no_effective_capabilities),
		T(proc_paths_are_masked_and_read_only),
		T(dev_is_minimal),
		T(memory_limit_kills_and_reports_oom),
		T(pids_limit_stops_a_fork_bomb),
		T(user_namespace_maps_root_to_a_host_range),
		T(privileged_gets_all_caps_devices_and_no_filter),
		T(readonly_rootfs_and_rlimits_apply),
		T(cpu_and_memory_limits_reach_the_cgroup),
		T(custom_profile_file_and_no_new_privileges_apply),
	};

	fx_skip_unless_root();
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
