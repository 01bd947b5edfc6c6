/*
 * docker run's runtime flags (issue 10), each as what a process in the
 * container observes, so that every test fails if its flag were ignored:
 * /proc/1/cmdline and signal delivery for --init, df of /dev/shm, id's
 * groups, /proc/sys values, oom_score_adj, the cgroup files seen through
 * the container's own read-only /sys/fs/cgroup, namespace inodes compared
 * with the host's or another container's, device nodes and what the
 * devices cgroup lets through; and the refusals, with their messages.
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
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/error.h"
#include "fixture.h"

#define OUT 16384

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

static const char *const *sh(const char *script)
{
	static const char *argv[4];

	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = NULL;
	return argv;
}

/* Create must fail with a message containing @want. */
static void refused(struct fx *fx, const struct rt_spec *s, const char *want)
{
	struct shoal_err err = {""};
	char id[RT_ID_LEN + 1];

	assert_true(rt_container_create(fx->rt, s, id, &err) < 0);
	if (!strstr(err.msg, want))
		fail_msg("expected \"%s\" in \"%s\"", want, err.msg);
}

static void has(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("expected \"%s\" in:\n%s", want, out);
}

static void ns_of(pid_t pid, const char *ns, char *out, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(path, out, cap - 1);
	assert_true(n > 0);
	out[n] = '\0';
}

static void init_is_pid1_and_forwards_signals(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT], id[RT_ID_LEN + 1];
	int code = -1;

	fx_spec(fx, &s,
		sh("tr '\\0' ' ' </proc/1/cmdline; echo; "
		   "cat /proc/$$/stat | cut -d' ' -f4"));
	s.init = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "/sbin/docker-init -- /bin/sh -c");
	/* The shell's parent is pid 1, the init. */
	has(out, "\n1\n");
	/* Without the init the command is pid 1 and ignores SIGTERM;
	 * with it the signal reaches sleep, and the exit is 128 + 15. */
	fx_spec(fx, &s, (const char *const[]){"sleep", "60", NULL});
	s.init = true;
	fx_start(fx, &s, id);
	usleep(200 * 1000);
	assert_int_equal(rt_container_kill(fx->rt, id, SIGTERM), 0);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 143);
	/* The child's own status comes out unchanged. */
	fx_spec(fx, &s, sh("exit 7"));
	s.init = true;
	assert_int_equal(fx_run(fx, &s, NULL, 0), 7);
}

static void init_reaps_orphaned_zombies(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	/* The subshell's sleep is orphaned to pid 1 and exits. The command
	 * execs a sleep, which never reaps: without an init that orphan
	 * stays a zombie (Z in ps); the init reaps it. */
	static const char script[] = "(sleep 0.1 &); "
				     "(sleep 0.5; ps -o stat,comm) & "
				     "exec sleep 1";
	fx_spec(fx, &s, sh(script));
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	if (!strstr(out, "\nZ"))
		fail_msg("no zombie without --init (the test proves "
			 "nothing):\n%s",
			 out);
	fx_spec(fx, &s, sh(script));
	s.init = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	if (strstr(out, "\nZ"))
		fail_msg("a zombie is left:\n%s", out);
}

static void shm_size_sets_dev_shm(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	fx_spec(fx, &s, sh("df -k /dev/shm | tail -1"));
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, " 65536 ");
	s.shm_size = 128LL << 20;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, " 131072 ");
	s.shm_size = -1;
	refused(fx, &s, "SHM size can not be less than 0");
}

static void group_add_adds_groups(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	fx_spec(fx, &s, sh("id -G"));
	s.user = "alice:alice";
	s.group_add = (const char *const[]){"staff", "4321", NULL};
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "1000 50 4321");
	/* As in Docker, an unknown name fails the start. */
	s.group_add = (const char *const[]){"nosuchgroup", NULL};
	{
		struct shoal_err err = {""};
		char id[RT_ID_LEN + 1];
		assert_int_equal(rt_container_create(fx->rt, &s, id, &err), 0);
		assert_true(rt_container_start(fx->rt, id, &err) < 0);
		has(err.msg, "Unable to find group nosuchgroup");
	}
}

static void sysctls_apply_namespaced_only(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	fx_spec(fx, &s,
		sh("cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward"
		   " /proc/sys/fs/mqueue/msg_max"));
	s.sysctls = (const char *const[]){"kernel.shmmax=1073741824",
					  "net.ipv4.ip_forward=1",
					  "fs.mqueue.msg_max=20", NULL};
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "1073741824\n1\n20\n");
	s.sysctls = (const char *const[]){"kernel.panic=1", NULL};
	refused(fx, &s,
		"sysctl \"kernel.panic\" is not in a separate kernel "
		"namespace");
	s.sysctls = (const char *const[]){"net.ipv4.ip_forward=1", NULL};
	s.network = "host";
	refused(fx, &s, "not allowed in host network namespace");
	s.network = NULL;
	s.ipc_mode = "host";
	s.sysctls = (const char *const[]){"kernel.shmmax=1", NULL};
	refused(fx, &s, "host's IPC namespace");
	s.ipc_mode = NULL;
	s.sysctls = (const char *const[]){"../../x=1", NULL};
	refused(fx, &s, "invalid argument");
}

static void oom_score_adj_is_set_and_checked(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	fx_spec(fx, &s, sh("cat /proc/self/oom_score_adj"));
	s.oom_score_adj_set = true;
	s.oom_score_adj = 345;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "345\n");
	s.oom_score_adj = 1001;
	refused(fx, &s, "range for oom score adj is [-1000, 1000]");
}

static void memory_flags_reach_the_cgroup(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	if (rt_cgroup_layout(fx->rt) == RT_CGROUP_V2)
		skip();
	fx_spec(fx, &s,
		sh("cd /sys/fs/cgroup/memory && cat memory.limit_in_bytes "
		   "memory.memsw.limit_in_bytes memory.swappiness "
		   "memory.oom_control"));
	s.memory = 64LL << 20;
	s.memory_swap = 96LL << 20;
	s.memory_swappiness_set = true;
	s.memory_swappiness = 7;
	s.oom_kill_disable = true;
	if (!(rt_cgroup_features(fx->rt) & RT_CG_SWAP)) {
		refused(fx, &s, "does not account swap");
		return;
	}
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "67108864\n100663296\n7\noom_kill_disable 1\n");
	s.memory_swap = 32LL << 20;
	refused(fx, &s,
		"Minimum memoryswap limit should be larger than "
		"memory limit");
	s.memory_swap = 96LL << 20;
	s.memory = 0;
	refused(fx, &s, "You should always set the Memory limit");
	s.memory = 64LL << 20;
	s.memory_swappiness = 101;
	refused(fx, &s, "valid memory swappiness range is 0-100");
}

static void cpuset_reaches_the_cgroup(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	if (rt_cgroup_layout(fx->rt) == RT_CGROUP_V2)
		skip();
	fx_spec(fx, &s,
		sh("cat /sys/fs/cgroup/cpuset/cpuset.cpus "
		   "/sys/fs/cgroup/cpuset/cpuset.mems; grep Cpus_allowed_list "
		   "/proc/self/status"));
	s.cpuset_cpus = "0";
	s.cpuset_mems = "0";
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "0\n0\nCpus_allowed_list:\t0\n");
	s.cpuset_cpus = "1-0";
	refused(fx, &s, "Invalid value 1-0 for cpuset cpus");
	s.cpuset_cpus = "4095";
	refused(fx, &s, "Requested CPUs are not available - requested 4095");
}

static void cgroup_fs_is_the_containers_own_and_read_only(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT], want[256];

	fx_spec(fx, &s,
		sh("grep memory /proc/self/cgroup; ls /sys/fs/cgroup/memory/"
		   "memory.limit_in_bytes; touch /sys/fs/cgroup/memory/x "
		   "2>/dev/null || echo read-only"));
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	if (rt_cgroup_layout(fx->rt) != RT_CGROUP_V2)
		has(out, ":memory:/\n");
	has(out, "memory.limit_in_bytes\nread-only\n");
	/* --cgroupns host: the host's view, where our cgroup has a path. */
	s.cgroupns_host = true;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), ":memory:/%s/", fx->cgroup_parent);
	has(out, want);
}

static void host_namespaces_are_shared(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT], want[256], host[200];

	fx_spec(fx, &s,
		sh("for n in pid ipc uts; do readlink /proc/self/ns/$n; done;"
		   " hostname"));
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	ns_of(getpid(), "pid", want, sizeof(want));
	assert_null(strstr(out, want));
	s.pid_mode = "host";
	s.ipc_mode = "host";
	s.uts_mode = "host";
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	for (int i = 0; i < 3; i++) {
		ns_of(getpid(), (const char *[]){"pid", "ipc", "uts"}[i], want,
		      sizeof(want));
		has(out, want);
	}
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "\n%s\n", host);
	has(out, want);
	s.hostname = "other";
	refused(fx, &s, "Conflicting options: hostname and the UTS mode");
	/* With the host's pid namespace the init's exit does not end the
	 * rest: the monitor kills what is left in the container's cgroup. */
	{
		char id[RT_ID_LEN + 1];
		int code = -1;
		fx_spec(fx, &s, sh("sleep 300 & sleep 300 & exit 3"));
		s.pid_mode = "host";
		fx_start(fx, &s, id);
		assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code),
				 0);
		assert_int_equal(code, 3);
		assert_int_equal(fx_cgroup_dirs(fx->cgroup_parent, id), 0);
	}
}

static void container_namespaces_are_joined(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	struct rt_info info;
	char out[OUT], want[256], mode[80], a[RT_ID_LEN + 1];

	fx_spec(fx, &s, sh("echo shared >/dev/shm/x; exec sleep 60"));
	s.ipc_mode = "shareable";
	fx_start(fx, &s, a);
	usleep(200 * 1000);
	assert_int_equal(rt_container_inspect(fx->rt, a, &info), 0);
	assert_true(info.pid > 0);
	snprintf(mode, sizeof(mode), "ctr:%s", a);
	fx_spec(fx, &s,
		sh("readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; "
		   "cat /dev/shm/x; ps -o comm | grep -c sleep"));
	s.pid_mode = mode;
	s.ipc_mode = mode;
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	ns_of(info.pid, "pid", want, sizeof(want));
	has(out, want);
	ns_of(info.pid, "ipc", want, sizeof(want));
	has(out, want);
	has(out, "shared\n1\n");
	rt_info_fini(&info);
	/* A stopped container's namespaces cannot be joined. */
	assert_int_equal(rt_container_stop(fx->rt, a, SIGKILL, 1000), 0);
	{
		struct shoal_err err = {""};
		char b[RT_ID_LEN + 1];
		assert_int_equal(rt_container_create(fx->rt, &s, b, &err), 0);
		assert_true(rt_container_start(fx->rt, b, &err) < 0);
		has(err.msg, "cannot join PID of a non running container");
	}
	s.pid_mode = "ctr:0123";
	refused(fx, &s, "No such container: 0123");
	s.pid_mode = "bogus";
	refused(fx, &s, "invalid PID mode");
}

static void devices_are_made_and_allowed_exactly(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT];

	if (rt_cgroup_layout(fx->rt) == RT_CGROUP_V2)
		skip();
	/* /dev/loop-control (10:237) is not in Docker's default list. */
	fx_spec(fx, &s,
		sh("ls -l /dev/k; : </dev/k && echo read-ok; "
		   "(: >/dev/k) 2>/dev/null || echo write-denied"));
	s.devices = (const char *const[]){"/dev/loop-control:/dev/k:r", NULL};
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "crw-------    1 root     root       10, 237");
	has(out, "read-ok\nwrite-denied\n");
	/* Without --device the same node made in the container is
	 * refused by the devices cgroup... */
	fx_spec(fx, &s,
		sh("mknod /tmp/m c 10 237; (: </tmp/m) 2>/dev/null && "
		   "echo allowed || echo denied"));
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "denied\n");
	/* ...and a --device-cgroup-rule lets it through. */
	s.device_cgroup_rules = (const char *const[]){"c 10:237 r", NULL};
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	has(out, "allowed\n");
	s.device_cgroup_rules = (const char *const[]){"c 10:237 x", NULL};
	refused(fx, &s, "invalid device cgroup format 'c 10:237 x'");
	s.device_cgroup_rules = NULL;
	s.devices = (const char *const[]){"/etc/passwd:/dev/p", NULL};
	refused(fx, &s, "not a device node");
	s.devices = (const char *const[]){"/dev/null:/etc/x", NULL};
	refused(fx, &s, "below /dev");
}

/* The container's log file @suffix ("-json.log.1.gz"): its size, or -1
 * when it does not exist. */
static long long log_file(struct fx *fx, const char *id, const char *suffix)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/containers/%s/%s%s", fx->data_root, id,
		 id, suffix);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* 100 numbered lines of about 40 bytes: records of about 100 bytes. */
#define LINES_SCRIPT "for i in $(seq 1 100); do echo line-$i; done"

static void run_logged(struct fx *fx, struct rt_spec *s, char id[65])
{
	int code = -1;

	fx_start(fx, s, id);
	assert_int_equal(rt_container_wait(fx->rt, id, 10000, &code), 0);
	assert_int_equal(code, 0);
}

static void tail_of(struct fx *fx, const char *id, int64_t tail, char *out,
		    size_t cap)
{
	struct rt_log_options opt = {
		.tail = tail, .stdout_on = true, .stderr_on = true};
	struct rt_log_reader *r;
	struct rt_log_entry e;
	size_t o = 0;

	out[0] = '\0';
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	while (rt_log_next(r, &e) == 0 && o + e.len + 1 < cap) {
		memcpy(out + o, e.line, e.len);
		o += e.len;
		out[o] = '\0';
	}
	rt_log_close(r);
}

static void json_file_logs_rotate_and_read_across_files(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	char out[OUT], id[RT_ID_LEN + 1];
	long long sz;

	fx_spec(fx, &s, sh(LINES_SCRIPT));
	s.log_max_size = 1000;
	s.log_max_file = 3;
	run_logged(fx, &s, id);
	for (int i = 0; i < 3; i++) {
		sz = log_file(fx, id,
			      (const char *[]){"-json.log", "-json.log.1",
					       "-json.log.2"}[i]);
		assert_true(sz > 0 && sz <= 1000);
	}
	assert_int_equal(log_file(fx, id, "-json.log.3"), -1);
	/* All that is kept, in order, ends with the last line; --tail
	 * reaches into the rotated files. */
	tail_of(fx, id, -1, out, sizeof(out));
	assert_non_null(strstr(out, "line-99\nline-100\n"));
	assert_null(strstr(out, "line-1\n"));
	tail_of(fx, id, 15, out, sizeof(out));
	assert_true(!strncmp(out, "line-86\n", 8));
	assert_non_null(strstr(out, "line-100\n"));
	/* compress: the rotated files are gzipped, and still read. */
	s.log_compress = 1;
	run_logged(fx, &s, id);
	assert_true(log_file(fx, id, "-json.log.1.gz") > 0);
	assert_true(log_file(fx, id, "-json.log.2.gz") > 0);
	assert_int_equal(log_file(fx, id, "-json.log.1"), -1);
	tail_of(fx, id, 15, out, sizeof(out));
	assert_true(!strncmp(out, "line-86\n", 8));
	/* max-file 1: the one file is truncated, never grows past the
	 * bound. */
	s.log_compress = 0;
	s.log_max_file = 1;
	run_logged(fx, &s, id);
	sz = log_file(fx, id, "-json.log");
	assert_true(sz > 0 && sz <= 1000);
	assert_int_equal(log_file(fx, id, "-json.log.1"), -1);
	tail_of(fx, id, -1, out, sizeof(out));
	assert_non_null(strstr(out, "line-100\n"));
}

/* Follow (docker logs -f) across rotations: a reader that keeps up sees
 * every line once, in order, though the files it started on are renamed,
 * gzipped and dropped meanwhile. */
static void a_follower_reads_across_rotations(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	struct rt_log_options opt = {
		.tail = -1, .stdout_on = true, .stderr_on = true};
	struct rt_log_reader *r;
	struct rt_log_entry e;
	char id[RT_ID_LEN + 1], want[32];
	int next = 1, rc;

	fx_spec(fx, &s,
		sh("for i in $(seq 1 60); do echo line-$i; sleep 0.02; done"));
	s.log_max_size = 1000;
	s.log_max_file = 2;
	s.log_compress = 1;
	fx_start(fx, &s, id);
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	for (;;) {
		rc = rt_log_next(r, &e);
		if (rc == -EAGAIN) {
			struct pollfd p = {.fd = rt_log_fd(r),
					   .events = POLLIN};
			poll(&p, 1, 50);
			continue;
		}
		if (rc != 0)
			break;
		snprintf(want, sizeof(want), "line-%d\n", next++);
		assert_int_equal(e.len, strlen(want));
		assert_memory_equal(e.line, want, e.len);
	}
	rt_log_close(r);
	assert_int_equal(rc, SHOAL_ECLOSED);
	assert_int_equal(next, 61);
	assert_true(log_file(fx, id, "-json.log.1.gz") > 0);
}

static void local_and_none_log_drivers(void **state)
{
	struct fx *fx = *state;
	struct rt_spec s;
	struct rt_log_options opt = {.tail = -1, .stdout_on = true};
	struct rt_log_reader *r;
	char out[OUT], id[RT_ID_LEN + 1];

	fx_spec(fx, &s, sh(LINES_SCRIPT));
	s.log_driver = "local";
	s.log_max_size = 1000;
	run_logged(fx, &s, id);
	/* local: compressed by default, five files at most. */
	assert_true(log_file(fx, id, "-local.log") > 0);
	assert_true(log_file(fx, id, "-local.log.1.gz") > 0);
	assert_true(log_file(fx, id, "-local.log.4.gz") > 0);
	assert_int_equal(log_file(fx, id, "-local.log.5.gz"), -1);
	assert_int_equal(log_file(fx, id, "-json.log"), -1);
	tail_of(fx, id, 3, out, sizeof(out));
	assert_string_equal(out, "line-98\nline-99\nline-100\n");
	s.log_driver = "none";
	run_logged(fx, &s, id);
	assert_int_equal(log_file(fx, id, "-json.log"), -1);
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), -ENOTSUP);
	s.log_driver = "syslog";
	refused(fx, &s, "no log driver named 'syslog' is registered");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(init_is_pid1_and_forwards_signals),
		T(init_reaps_orphaned_zombies),
		T(shm_size_sets_dev_shm),
		T(group_add_adds_groups),
		T(sysctls_apply_namespaced_only),
		T(oom_score_adj_is_set_and_checked),
		T(memory_flags_reach_the_cgroup),
		T(cpuset_reaches_the_cgroup),
		T(cgroup_fs_is_the_containers_own_and_read_only),
		T(host_namespaces_are_shared),
		T(container_namespaces_are_joined),
		T(devices_are_made_and_allowed_exactly),
		T(json_file_logs_rotate_and_read_across_files),
		T(a_follower_reads_across_rotations),
		T(local_and_none_log_drivers),
#undef T
	};

	fx_skip_unless_root();
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
