/*
 * Unit tests (no root) of what users type and what the runtime reads back:
 * memory sizes, --cpus, --ulimit, -v, --tmpfs, -u, capabilities, user
 * lookup in a rootfs, config.json round trips and the json-file log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "runtime/internal.h"

/* A process that exited and is not reaped yet keeps its start time, so the
 * join check also reads its state: 'Z' then, no longer 'R'/'S'. */
static void an_unreaped_process_reads_as_a_zombie(void **state)
{
	int p[2];
	char st = '?', b;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		(void)!read(p[0], &b, 1);
		_exit(0);
	}
	close(p[0]);
	uint64_t start = rt__proc_live_start_time(pid, &st);
	assert_true(start > 0);
	assert_true(st == 'S' || st == 'R');
	close(p[1]); /* it exits; not reaped yet */
	for (int i = 0; i < 2000 && st != 'Z'; i++) {
		usleep(1000);
		assert_int_equal(rt__proc_live_start_time(pid, &st), start);
	}
	assert_int_equal(st, 'Z');
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(rt__proc_live_start_time(pid, &st), 0);
	assert_int_equal(st, '\0');
}

static void memory_sizes_parse_like_docker(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} ok[] = {
		{"512m", 512LL << 20},
		{"1g", 1LL << 30},
		{"1.5g", 3LL << 29},
		{"1024", 1024},
		{"10k", 10240},
		{"2GB", 2LL << 30},
		{"3 MiB", 3LL << 20},
		{"64M", 64LL << 20},
		{"1b", 1},
		{"0", 0},
	};
	static const char *const bad[] = {"",	      "m",   "-1", "12x",
					  "1..2",     "1.",  ".5", "1 g b",
					  "9999999p", "1gg", NULL};
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(rt_parse_memory(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].want);
	}
	for (size_t i = 0; bad[i]; i++)
		assert_int_not_equal(rt_parse_memory(bad[i], &v), 0);
}

static void cpus_parse_into_nano_cpus(void **state)
{
	int64_t v;

	assert_int_equal(rt_parse_cpus("1.5", &v), 0);
	assert_int_equal(v, 1500000000LL);
	assert_int_equal(rt_parse_cpus("0.01", &v), 0);
	assert_int_equal(v, 10000000LL);
	assert_int_equal(rt_parse_cpus("2", &v), 0);
	assert_int_equal(v, 2000000000LL);
	assert_int_equal(rt_parse_cpus("abc", &v), -EINVAL);
	assert_int_equal(rt_parse_cpus("-1", &v), -EINVAL);
	assert_int_equal(rt_parse_cpus("", &v), -EINVAL);
	assert_int_equal(rt_parse_cpus("1e400", &v), -EINVAL);
	assert_int_equal(rt_parse_cpus("1.5x", &v), -EINVAL);
}

static void ulimits_parse_soft_and_hard(void **state)
{
	struct rt_rlimit r;

	assert_int_equal(rt_parse_ulimit("nofile=1024:2048", &r), 0);
	assert_int_equal(r.resource, RLIMIT_NOFILE);
	assert_int_equal(r.soft, 1024);
	assert_int_equal(r.hard, 2048);
	assert_int_equal(rt_parse_ulimit("nproc=100", &r), 0);
	assert_int_equal(r.soft, 100);
	assert_int_equal(r.hard, 100);
	assert_int_equal(rt_parse_ulimit("core=-1", &r), 0);
	assert_true(r.soft == RLIM_INFINITY);
	assert_int_equal(rt_parse_ulimit("nofile=10:5", &r), -EINVAL);
	assert_int_equal(rt_parse_ulimit("bogus=1", &r), -EINVAL);
	assert_int_equal(rt_parse_ulimit("nofile=", &r), -EINVAL);
	assert_int_equal(rt_parse_ulimit("nofile", &r), -EINVAL);
}

static void volume_specs_parse_like_docker(void **state)
{
	struct rt_mount_spec m;
	struct shoal_err err = {""};

	assert_int_equal(rt_parse_volume("/h:/c", &m, &err), 0);
	assert_int_equal(m.kind, RT_MOUNT_BIND);
	assert_string_equal(m.source, "/h");
	assert_string_equal(m.target, "/c");
	assert_false(m.readonly);
	assert_int_equal(rt_parse_volume("/h//x/../y:/c/./d/:ro", &m, &err), 0);
	assert_string_equal(m.source, "/h/y");
	assert_string_equal(m.target, "/c/d");
	assert_true(m.readonly);
	assert_int_equal(rt_parse_volume("data:/var/lib/db", &m, &err), 0);
	assert_int_equal(m.kind, RT_MOUNT_VOLUME);
	assert_string_equal(m.source, "data");
	assert_int_equal(rt_parse_volume("/anon", &m, &err), 0);
	assert_int_equal(m.kind, RT_MOUNT_ANONYMOUS);
	assert_null(m.source);
	assert_int_equal(rt_parse_volume("/h:/c:rw,z", &m, &err), 0);
	/* An empty mode is Docker's default (rw). */
	assert_int_equal(rt_parse_volume("/h:/c:", &m, &err), 0);
	assert_false(m.readonly);
	assert_int_equal(rt_parse_volume("/h:/c:ro,rprivate,nocopy", &m, &err),
			 0);
	assert_true(m.readonly);

	/* Refused with the sentences of Docker's daemon. */
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{"", "invalid volume specification: ''"},
		{"::", "invalid volume specification: '::'"},
		{"/a:/b:/c:ro", "invalid volume specification: '/a:/b:/c:ro'"},
		{"/anon:ro", "invalid volume specification: '/anon:ro'"},
		{"/h:/c:xx", "invalid mode: xx"},
		{"/h:/c:ro,rw", "invalid mode: ro,rw"},
		{"/h:/c:ro,", "invalid mode: ro,"},
		{"/h::/c", "invalid mode: /c"},
		{"/h:rel",
		 "invalid volume specification: '/h:rel': invalid mount config "
		 "for type \"bind\": invalid mount path: 'rel' mount path "
		 "must be absolute"},
		{"rel", "invalid volume specification: 'rel': invalid mount "
			"config for type \"volume\": invalid mount path: 'rel' "
			"mount path must be absolute"},
		{"/h:/", "invalid volume specification: '/h:/': invalid mount "
			 "config for type \"bind\": invalid specification: "
			 "destination can't be '/'"},
		{"data:/", "invalid volume specification: 'data:/': invalid "
			   "mount config for type \"volume\": invalid "
			   "specification: destination can't be '/'"},
		{"a:/c", "create a: volume name is too short, names should be "
			 "at least two alphanumeric characters"},
		{"n@me:/c",
		 "create n@me: \"n@me\" includes invalid characters for a "
		 "local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
		 "allowed. If you intended to pass a host directory, use "
		 "absolute path"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(rt_parse_volume(bad[i].spec, &m, &err),
				 -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void tmpfs_specs_parse_with_options(void **state)
{
	struct rt_mount_spec m;
	struct shoal_err err = {""};

	assert_int_equal(rt_parse_tmpfs("/run", &m, &err), 0);
	assert_string_equal(m.target, "/run");
	assert_string_equal(m.options, "");
	assert_int_equal(rt_parse_tmpfs("/run:size=64m,mode=1777,ro", &m, &err),
			 0);
	assert_string_equal(m.options, "size=64m,mode=1777,ro");
	assert_true(m.readonly);
	assert_int_equal(rt_parse_tmpfs("rel", &m, &err), -EINVAL);
	assert_int_equal(rt_parse_tmpfs("/run:bogus", &m, &err), -EINVAL);
	assert_int_equal(rt_parse_tmpfs("/run:size=1;rm", &m, &err), -EINVAL);
	assert_int_equal(rt_parse_tmpfs("/", &m, &err), -EINVAL);
	assert_int_equal(rt_parse_tmpfs("/run:", &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid tmpfs specification"));
}

static void user_specs_parse(void **state)
{
	struct rt_user_spec u;

	assert_int_equal(rt_parse_user("1000", &u), 0);
	assert_string_equal(u.user, "1000");
	assert_false(u.has_group);
	assert_int_equal(rt_parse_user("alice:staff", &u), 0);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.group, "staff");
	assert_int_equal(rt_parse_user("1000:50", &u), 0);
	static const char *const bad[] = {"",	   ":",	 "a:",	":b",
					  "a:b:c", "-x", "a b", NULL};
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(rt_parse_user(bad[i], &u), -EINVAL);
}

static void capabilities_follow_dockers_rules(void **state)
{
	const char *all[] = {"ALL", NULL}, *net[] = {"net_admin", NULL},
		   *bad[] = {"CAP_FLY", NULL}, *chown[] = {"CAP_CHOWN", NULL};
	struct shoal_err err = {""};
	uint64_t m;

	assert_int_equal(rt__caps_compute(NULL, NULL, false, &m, &err), 0);
	assert_int_equal(m, 0xa80425fbULL);
	assert_int_equal(rt__caps_compute(net, all, false, &m, &err), 0);
	assert_int_equal(m, 1ULL << 12);
	assert_int_equal(rt__caps_compute(NULL, chown, false, &m, &err), 0);
	assert_int_equal(m, 0xa80425faULL);
	assert_int_equal(rt__caps_compute(NULL, NULL, true, &m, &err), 0);
	assert_int_equal(m, rt__caps_all());
	assert_int_equal(rt__caps_compute(bad, NULL, false, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown capability: \"CAP_FLY\"");
	assert_string_equal(rt__cap_name(21), "SYS_ADMIN");
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void users_resolve_from_the_rootfs_files(void **state)
{
	char root[] = "/tmp/shoal-unit-XXXXXX", etc[64], home[64];
	struct shoal_err err = {""};
	gid_t groups[64], gid;
	size_t ng;
	uid_t uid;

	assert_non_null(mkdtemp(root));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	mkdir(etc, 0755);
	write_file(etc, "passwd",
		   "root:x:0:0:root:/root:/bin/sh\n"
		   "broken line\n"
		   "alice:x:1000:1000::/home/alice:/bin/sh\n");
	write_file(etc, "group",
		   "root:x:0:\nstaff:x:50:bob,alice\n"
		   "alice:x:1000:\n");
	assert_int_equal(rt__user_resolve(root, "alice", &uid, &gid, groups,
					  &ng, home, sizeof(home), &err),
			 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 1000);
	/* Docker's: the primary group, then the groups listing alice. */
	assert_int_equal(ng, 2);
	assert_int_equal(groups[0], 1000);
	assert_int_equal(groups[1], 50);
	assert_string_equal(home, "/home/alice");
	/* By uid: the same user, the same groups. */
	assert_int_equal(rt__user_resolve(root, "1000", &uid, &gid, groups, &ng,
					  home, sizeof(home), &err),
			 0);
	assert_int_equal(ng, 2);
	assert_int_equal(groups[1], 50);
	/* A named group is the only one (runc's explicit form). */
	assert_int_equal(rt__user_resolve(root, "alice:root", &uid, &gid,
					  groups, &ng, home, sizeof(home),
					  &err),
			 0);
	assert_int_equal(gid, 0);
	assert_int_equal(ng, 1);
	assert_int_equal(groups[0], 0);
	assert_int_equal(rt__user_resolve(root, "1000:staff", &uid, &gid,
					  groups, &ng, home, sizeof(home),
					  &err),
			 0);
	assert_int_equal(gid, 50);
	assert_int_equal(ng, 1);
	assert_int_equal(groups[0], 50);
	assert_int_equal(rt__user_resolve(root, "4242", &uid, &gid, groups, &ng,
					  home, sizeof(home), &err),
			 0);
	assert_int_equal(uid, 4242);
	assert_int_equal(gid, 0);
	assert_int_equal(ng, 1);
	assert_int_equal(groups[0], 0);
	assert_int_equal(rt__user_resolve(root, "nobody", &uid, &gid, groups,
					  &ng, home, sizeof(home), &err),
			 -ENOENT);
	assert_string_equal(err.msg, "unable to find user nobody: no matching "
				     "entries in passwd file");
	assert_int_equal(rt__user_resolve(root, "alice:nogroup", &uid, &gid,
					  groups, &ng, home, sizeof(home),
					  &err),
			 -ENOENT);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void config_round_trips_through_json(void **state)
{
	struct rt__config *c = shoal_calloc(1, sizeof(*c)), *back;
	const char *lower[] = {"/l1", "/l2", NULL},
		   *argv[] = {"sh", "-c", "x", NULL};
	struct shoal_err err = {""};
	char *json;

	memset(c->id, 'a', RT_ID_LEN);
	c->name = shoal_strdup("web");
	c->lower = rt__strv_dup(lower, &c->n_lower);
	c->argv = rt__strv_dup(argv, &c->argc);
	c->env = rt__strv_dup(NULL, &c->n_env);
	c->hostname = shoal_strdup("h");
	c->workdir = shoal_strdup("/");
	c->seccomp = shoal_strdup("unconfined");
	c->network = shoal_strdup("none");
	c->cgroup_parent = shoal_strdup("shoal");
	c->dir = shoal_strdup("/d");
	c->run_dir = shoal_strdup("/r");
	c->mounts = shoal_calloc(1, sizeof(*c->mounts));
	c->mounts[0].kind = RT_MOUNT_TMPFS;
	c->mounts[0].target = shoal_strdup("/t");
	c->mounts[0].options = shoal_strdup("size=1m");
	c->n_mounts = 1;
	c->rlimits = shoal_calloc(1, sizeof(*c->rlimits));
	c->rlimits[0] = (struct rt_rlimit){RLIMIT_NOFILE, 10, 20};
	c->n_rlimits = 1;
	c->memory = 64 << 20;
	c->caps = 0xa80425fb;
	c->tty = true;
	c->shm_size = 1 << 20;
	c->memory_swappiness = 0;
	c->oom_score_adj_set = true;
	c->oom_score_adj = -17;
	c->ipc_mode = shoal_strdup("shareable");
	c->sysctls = rt__strv_dup(
		(const char *[]){"net.ipv4.ip_forward=1", NULL}, &c->n_sysctls);
	c->devices = shoal_calloc(1, sizeof(*c->devices));
	c->devices[0] = (struct rt__device){
		.host = shoal_strdup("/dev/fuse"),
		.path = shoal_strdup("/dev/f"),
		.perms = "rw",
		.type = 'c',
		.major = 10,
		.minor = 229,
		.mode = 0600,
	};
	c->n_devices = 1;
	json = rt__config_to_json(c);
	assert_non_null(json);
	assert_int_equal(rt__config_from_json(json, &back, &err), 0);
	assert_string_equal(back->id, c->id);
	assert_string_equal(back->name, "web");
	assert_int_equal(back->n_lower, 2);
	assert_string_equal(back->lower[1], "/l2");
	assert_int_equal(back->argc, 3);
	assert_int_equal(back->n_mounts, 1);
	assert_int_equal(back->shm_size, 1 << 20);
	assert_int_equal(back->memory_swappiness, 0);
	assert_true(back->oom_score_adj_set);
	assert_int_equal(back->oom_score_adj, -17);
	assert_string_equal(back->ipc_mode, "shareable");
	assert_string_equal(back->pid_mode, "private");
	assert_string_equal(back->log_driver, "json-file");
	assert_int_equal(back->n_sysctls, 1);
	assert_int_equal(back->n_devices, 1);
	assert_string_equal(back->devices[0].path, "/dev/f");
	assert_string_equal(back->devices[0].perms, "rw");
	assert_int_equal(back->devices[0].minor, 229);
	assert_int_equal(back->devices[0].mode, 0600);
	assert_int_equal(back->mounts[0].kind, RT_MOUNT_TMPFS);
	assert_string_equal(back->mounts[0].options, "size=1m");
	assert_int_equal(back->rlimits[0].hard, 20);
	assert_int_equal(back->memory, 64 << 20);
	assert_int_equal(back->caps, 0xa80425fb);
	assert_true(back->tty);
	rt__config_free(back);
	/* A config.json written before the run flags existed still loads,
	 * with Docker's defaults. */
	{
		static const char *const added[] = {
			"devices",	     "init_path",
			"shm_size",	     "memory_swap",
			"memory_swappiness", "oom_kill_disable",
			"oom_score_adj",     "cpuset_cpus",
			"cpuset_mems",	     "group_add",
			"sysctls",	     "device_rules",
			"pid_mode",	     "ipc_mode",
			"uts_mode",	     "cgroupns_host",
			"log_driver",	     "log_max_size",
			"log_max_file",	     "log_compress",
		};
		json_t *o = json_loads(json, 0, NULL);
		json_free_t jfree;
		char *old;
		assert_non_null(o);
		for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++)
			assert_int_equal(json_object_del(o, added[i]), 0);
		old = json_dumps(o, 0);
		json_decref(o);
		assert_int_equal(rt__config_from_json(old, &back, &err), 0);
		json_get_alloc_funcs(NULL, &jfree);
		jfree(old);
		assert_string_equal(back->pid_mode, "private");
		assert_string_equal(back->ipc_mode, "private");
		assert_string_equal(back->log_driver, "json-file");
		assert_int_equal(back->memory_swappiness, -1);
		assert_false(back->oom_score_adj_set);
		assert_int_equal(back->n_devices, 0);
		assert_int_equal(back->n_sysctls, 0);
		assert_null(back->init_path);
		rt__config_free(back);
	}
	shoal_free(json);
	rt__config_free(c);
	assert_int_equal(rt__config_from_json("{", &back, &err), -EINVAL);
	assert_int_equal(rt__config_from_json("{\"id\":\"x\"}", &back, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "corrupt container config"));
}

static void log_records_are_dockers_json_lines(void **state)
{
	char path[] = "/tmp/shoal-log-XXXXXX", *text;
	const char msg[] = "a \"q\" \\ \t\x01\xff\xc3\xa9\n";
	int fd = mkstemp(path);
	json_t *o;
	size_t len;

	assert_true(fd >= 0);
	assert_int_equal(rt__log_append(fd, 2, msg, sizeof(msg) - 1,
					1795818312978568259LL),
			 0);
	close(fd);
	assert_int_equal(rt__read_file(path, 65536, &text, &len), 0);
	unlink(path);
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_non_null(strstr(text, "\"stream\":\"stderr\""));
	assert_non_null(strstr(text, "\"time\":\"2026-11-27T"));
	o = json_loads(text, 0, NULL);
	assert_non_null(o);
	/* Invalid UTF-8 becomes U+FFFD; valid multi-byte text is kept. */
	assert_string_equal(json_string_value(json_object_get(o, "log")),
			    "a \"q\" \\ \t\x01\xef\xbf\xbd\xc3\xa9\n");
	json_decref(o);
	shoal_free(text);
}

static void config_parsing_survives_allocation_failures(void **state)
{
	const char *text =
		"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaa\",\"lower\":[\"/l\"],\"argv\":[\"sh\",\"-c\"],"
		"\"env\":[\"A=1\"],\"hostname\":\"h\",\"workdir\":\"/\","
		"\"mounts\":[{\"kind\":\"tmpfs\",\"target\":\"/t\"}],"
		"\"seccomp\":\"unconfined\",\"network\":\"none\","
		"\"rlimits\":[],\"cgroup_parent\":\"shoal\",\"dir\":\"/d\","
		"\"run_dir\":\"/r\"}";
	int64_t live = shoal_alloc_live();
	bool succeeded = false;

	for (int64_t n = 0; n < 200 && !succeeded; n++) {
		struct rt__config *c = NULL;
		struct shoal_err err = {""};
		int rc;
		shoal_alloc_fail_after(n);
		rc = rt__config_from_json(text, &c, &err);
		shoal_alloc_fail_after(-1);
		if (rc == 0) {
			succeeded = true;
			rt__config_free(c);
		} else {
			assert_true(rc == -ENOMEM || rc == -EINVAL);
		}
		assert_int_equal(shoal_alloc_live(), live); /* no leak */
	}
	assert_true(succeeded);
}

static void runtime_roots_are_checked_before_anything_is_made(void **state)
{
	static const struct rt_config bad[] = {
		{.data_root = "relative", .exec_root = "/run/x"},
		{.data_root = "/var/lib/a:b", .exec_root = "/run/x"},
		{.data_root = "/var/lib/x", .exec_root = "/run/a,b"},
		{.data_root = "/var/lib/x",
		 .exec_root = "/run/a-very-long-exec-root-for-sockets"},
		{.data_root = NULL, .exec_root = "/run/x"},
	};
	struct shoal_err err = {""};
	struct rt *rt = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rt_open(&bad[i], &rt, &err), -EINVAL);
		assert_null(rt);
		assert_non_null(strstr(err.msg, "data-root and exec-root"));
	}
}

static void device_specs_parse_like_docker(void **state)
{
	struct rt_device_spec d;
	struct shoal_err err = {""};

	(void)state;
	assert_int_equal(rt_parse_device("/dev/fuse", &d, &err), 0);
	assert_string_equal(d.host, "/dev/fuse");
	assert_string_equal(d.path, "/dev/fuse");
	assert_string_equal(d.perms, "rwm");
	assert_int_equal(rt_parse_device("/dev/fuse:r", &d, &err), 0);
	assert_string_equal(d.path, "/dev/fuse");
	assert_string_equal(d.perms, "r");
	assert_int_equal(rt_parse_device("/dev/sda:/dev/xvda:rw", &d, &err), 0);
	assert_string_equal(d.host, "/dev/sda");
	assert_string_equal(d.path, "/dev/xvda");
	assert_string_equal(d.perms, "rw");
	assert_int_equal(rt_parse_device("/dev/sda:/dev/xvda", &d, &err), 0);
	assert_string_equal(d.path, "/dev/xvda");
	assert_int_equal(rt_parse_device("/dev/sda:/dev/x:rwx", &d, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "invalid device mode: rwx");
	assert_int_equal(rt_parse_device("/dev/sda:/dev/x:rr", &d, &err),
			 -EINVAL);
	assert_int_equal(rt_parse_device("dev/sda", &d, &err), -EINVAL);
	assert_int_equal(rt_parse_device("/dev/sda:/etc/x", &d, &err), -EINVAL);
	assert_int_equal(rt_parse_device("/dev/sda:/dev/../etc", &d, &err),
			 -EINVAL);
	assert_int_equal(rt_parse_device("/dev/sda:/dev/", &d, &err), -EINVAL);
}

static void device_cgroup_rules_follow_dockers_pattern(void **state)
{
	(void)state;
	assert_int_equal(rt_parse_device_rule("c 1:3 rwm", NULL), 0);
	assert_int_equal(rt_parse_device_rule("b *:* m", NULL), 0);
	assert_int_equal(rt_parse_device_rule("a 7:* r", NULL), 0);
	assert_int_equal(rt_parse_device_rule("c 1:3", NULL), -EINVAL);
	assert_int_equal(rt_parse_device_rule("x 1:3 r", NULL), -EINVAL);
	assert_int_equal(rt_parse_device_rule("c 1:3 rwmr", NULL), -EINVAL);
	assert_int_equal(rt_parse_device_rule("c :3 r", NULL), -EINVAL);
	assert_int_equal(rt_parse_device_rule("c 1:3 r\na", NULL), -EINVAL);
	assert_int_equal(rt_parse_device_rule("c 12345678901:3 r", NULL),
			 -EINVAL);
}

static void only_namespaced_sysctls_are_allowed(void **state)
{
	struct rt_sysctl_ns own = {0}, host_net = {.host_net = true},
			    host_ipc = {.host_ipc = true};
	struct shoal_err err = {""};

	(void)state;
	assert_int_equal(rt_sysctl_check("kernel.shmmax=1", &own, &err), 0);
	assert_int_equal(rt_sysctl_check("fs.mqueue.msg_max=20", &own, &err),
			 0);
	assert_int_equal(rt_sysctl_check("net.ipv4.ip_forward=1", &own, &err),
			 0);
	assert_int_equal(rt_sysctl_check("kernel.panic=1", &own, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "sysctl \"kernel.panic\" is not in a "
				     "separate kernel namespace");
	assert_int_equal(
		rt_sysctl_check("net.ipv4.ip_forward=1", &host_net, &err),
		-EINVAL);
	assert_string_equal(err.msg, "sysctl \"net.ipv4.ip_forward\" not "
				     "allowed in host network namespace");
	assert_int_equal(rt_sysctl_check("kernel.sem=1", &host_ipc, &err),
			 -EINVAL);
	assert_int_equal(rt_sysctl_check("net..x=1", &own, &err), -EINVAL);
	assert_int_equal(rt_sysctl_check("net/x=1", &own, &err), -EINVAL);
	assert_int_equal(rt_sysctl_check("net.x", &own, &err), -EINVAL);
	assert_int_equal(rt_sysctl_check("net.x=1\n2", &own, &err), -EINVAL);
}

static void cpuset_lists_parse(void **state)
{
	(void)state;
	assert_int_equal(rt_parse_cpuset("0"), 0);
	assert_int_equal(rt_parse_cpuset("0-3,6,8-9"), 0);
	assert_int_equal(rt_parse_cpuset(""), -EINVAL);
	assert_int_equal(rt_parse_cpuset("3-1"), -EINVAL);
	assert_int_equal(rt_parse_cpuset("1,"), -EINVAL);
	assert_int_equal(rt_parse_cpuset("a"), -EINVAL);
	assert_int_equal(rt_parse_cpuset("-1"), -EINVAL);
	assert_int_equal(rt_parse_cpuset("99999"), -EINVAL);
	assert_true(rt__cpuset_within("0", "0-1\n"));
	assert_true(rt__cpuset_within("1,3", "0-3"));
	assert_false(rt__cpuset_within("2", "0-1"));
	assert_false(rt__cpuset_within("0-2", "0-1"));
}

static void what_the_host_cannot_do_is_refused_naming_it(void **state)
{
	unsigned all = RT_CG_SWAP | RT_CG_CPU | RT_CG_PIDS;
	struct rt_spec s = {.memory = 64 << 20, .memory_swap = 128 << 20};
	struct shoal_err err = {""};

	(void)state;
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_HYBRID, &err),
			 0);
	/* No swap accounting: --memory-swap cannot be applied. */
	assert_int_equal(
		rt__check_host_flags(&s, RT_CG_CPU, RT_CGROUP_HYBRID, &err),
		-EINVAL);
	assert_non_null(strstr(err.msg, "--memory-swap cannot be applied: "
					"this kernel does not account swap"));
	s.memory_swap = 0;
	s.memory_swappiness_set = true;
	s.memory_swappiness = 10;
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_V1, &err), 0);
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_V2, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "--memory-swappiness cannot be "
					"applied: cgroup v2"));
	s.memory_swappiness_set = false;
	s.oom_kill_disable = true;
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_V2, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "--oom-kill-disable"));
	s.oom_kill_disable = false;
	s.devices = (const char *const[]){"/dev/fuse", NULL};
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_V1, &err), 0);
	assert_int_equal(rt__check_host_flags(&s, all, RT_CGROUP_V2, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "this host is cgroup v2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(memory_sizes_parse_like_docker),
		cmocka_unit_test(device_specs_parse_like_docker),
		cmocka_unit_test(device_cgroup_rules_follow_dockers_pattern),
		cmocka_unit_test(only_namespaced_sysctls_are_allowed),
		cmocka_unit_test(cpuset_lists_parse),
		cmocka_unit_test(an_unreaped_process_reads_as_a_zombie),
		cmocka_unit_test(what_the_host_cannot_do_is_refused_naming_it),
		cmocka_unit_test(cpus_parse_into_nano_cpus),
		cmocka_unit_test(ulimits_parse_soft_and_hard),
		cmocka_unit_test(volume_specs_parse_like_docker),
		cmocka_unit_test(tmpfs_specs_parse_with_options),
		cmocka_unit_test(user_specs_parse),
		cmocka_unit_test(capabilities_follow_dockers_rules),
		cmocka_unit_test(users_resolve_from_the_rootfs_files),
		cmocka_unit_test(config_round_trips_through_json),
		cmocka_unit_test(log_records_are_dockers_json_lines),
		cmocka_unit_test(config_parsing_survives_allocation_failures),
		cmocka_unit_test(
			runtime_roots_are_checked_before_anything_is_made),
	};

	shoal_alloc_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
