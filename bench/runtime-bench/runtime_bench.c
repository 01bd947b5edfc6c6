/*
 * runtime-bench: start-to-exit of /bin/true in a busybox container with
 * the default seccomp profile, cgroups and a new network namespace, 50
 * runs (after 3 warm-ups), median and p90, side by side in the same run
 * with `runc run` on the same rootfs (a bundle made with `runc spec`, its
 * seccomp set to the same Docker profile resolved for the default
 * capabilities) and crun when present; plus a bare `unshare` as the floor.
 * One JSON line per result on stdout.
 *
 * Shoal is timed from before rt_container_create() to the return of
 * rt_container_wait() (create + start + exit as a daemon would do them;
 * removal is outside the window, as runc's delete is inside runc run).
 * Peak memory of the runtime path: for runc, wait4()'s ru_maxrss over runc
 * and its descendants; for Shoal, the largest peak RSS of the monitor and
 * of the container's init, which the monitor records at exit.
 *
 *   runtime-bench [runs]      (root only; SHOAL_MONITOR overrides the
 *                              monitor's path)
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "runtime/internal.h"

#define WARMUP 3

static char tmp[] = "/tmp/shoal-bench-XXXXXX";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *runtime, double *ms, int n, long rss_kb,
		   const char *extra)
{
	double med, p90;

	qsort(ms, (size_t)n, sizeof(double), cmp_double);
	med = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
	p90 = ms[(int)((n * 9 + 9) / 10) - 1];
	printf("{\"bench\":\"runtime-start-to-exit\",\"runtime\":\"%s\","
	       "\"available\":true,\"runs\":%d,\"median_ms\":%.2f,"
	       "\"p90_ms\":%.2f,\"min_ms\":%.2f,\"peak_rss_kb\":%ld%s}\n",
	       runtime, n, med, p90, ms[0], rss_kb, extra ? extra : "");
	fflush(stdout);
}

static void unavailable(const char *runtime, const char *why)
{
	printf("{\"bench\":\"runtime-start-to-exit\",\"runtime\":\"%s\","
	       "\"available\":false,\"reason\":\"%s\"}\n",
	       runtime, why);
	fflush(stdout);
}

static void make_layer(const char *layer)
{
	if (sh("mkdir -p %s/bin %s/etc %s/tmp %s/proc %s/sys %s/dev && "
	       "cp /bin/busybox %s/bin/busybox && "
	       "for a in $(/bin/busybox --list); do "
	       "[ $a = busybox ] || ln -s busybox %s/bin/$a; done && "
	       "echo 'root:x:0:0:root:/root:/bin/sh' > %s/etc/passwd && "
	       "echo 'root:x:0:' > %s/etc/group",
	       layer, layer, layer, layer, layer, layer, layer, layer, layer,
	       layer) != 0) {
		fprintf(stderr, "runtime-bench: cannot build the rootfs\n");
		exit(1);
	}
}

/* Time a command run to exit; its peak RSS (with descendants) too. */
static double run_cmd(char *const argv[], long *rss_kb, int *status)
{
	struct rusage ru;
	int64_t t0 = time_mono_ns();
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	wait4(pid, status, 0, &ru);
	*rss_kb = ru.ru_maxrss;
	return (double)(time_mono_ns() - t0) / 1e6;
}

static char *find_monitor(void)
{
	char exe[PATH_MAX], *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (getenv("SHOAL_MONITOR"))
		return strdup(getenv("SHOAL_MONITOR"));
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	p = dirname(exe);
	char *path = malloc(PATH_MAX);
	snprintf(path, PATH_MAX, "%s/../../runtime/shoal-monitor", p);
	return path;
}

static void bench_shoal(const char *layer, int runs)
{
	char data[300], run[300], id[RT_ID_LEN + 1];
	const char *lowers[] = {layer, NULL}, *argv[] = {"/bin/true", NULL};
	char *monitor = find_monitor();
	struct rt_config cfg = {.data_root = data,
				.exec_root = run,
				.cgroup_parent = "shoal-bench",
				.monitor_path = monitor};
	struct rt_spec s = {.lower_dirs = lowers, .argv = argv};
	double *ms = calloc((size_t)runs, sizeof(double)),
	       *cr = calloc((size_t)runs, sizeof(double)),
	       *cc = calloc((size_t)runs, sizeof(double));
	struct rt_err err = {""};
	long rss = 0;
	struct rt *rt;

	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(run, sizeof(run), "%s/run", tmp);
	if (rt_open(&cfg, &rt, &err) < 0) {
		unavailable("shoal", err.msg);
		return;
	}
	for (int i = -WARMUP; i < runs; i++) {
		struct rt_info info;
		int64_t t0 = time_mono_ns(), t1, tc;
		int code = -1;
		int rc = rt_container_create(rt, &s, id, &err);
		tc = time_mono_ns();
		if (rc < 0 || rt_container_start(rt, id, &err) < 0) {
			unavailable("shoal", err.msg);
			rt_close(rt);
			return;
		}
		t1 = time_mono_ns();
		rt_container_wait(rt, id, 10000, &code);
		if (i >= 0) {
			ms[i] = (double)(time_mono_ns() - t0) / 1e6;
			cr[i] = (double)(t1 - t0) / 1e6;
			cc[i] = (double)(tc - t0) / 1e6;
		}
		if (code != 0)
			fprintf(stderr, "runtime-bench: shoal exit %d\n", code);
		if (rt_container_inspect(rt, id, &info) == 0) {
			if (info.monitor_maxrss_kb > rss)
				rss = info.monitor_maxrss_kb;
			if (info.init_maxrss_kb > rss)
				rss = info.init_maxrss_kb;
			rt_info_fini(&info);
		}
		if (getenv("SHOAL_MONITOR_TRACE")) {
			/* Phase timestamps, relative to our t0, to stderr. */
			char line[512];
			snprintf(line, sizeof(line), "%s/%s/monitor.log", run,
				 id);
			FILE *f = fopen(line, "r");
			while (f && fgets(line, sizeof(line), f)) {
				long long us;
				char what[64];
				if (sscanf(line, "%lld %63[^\n]", &us, what) ==
				    2)
					fprintf(stderr, "%8.2f %s\n",
						(double)(us - t0 / 1000) / 1e3,
						what);
			}
			if (f)
				fclose(f);
			fprintf(stderr, "%8.2f exit seen\n",
				(double)(time_mono_ns() - t0) / 1e6);
		}
		rt_container_remove(rt, id, true, true);
	}
	rt_close(rt);
	report("shoal", ms, runs, rss, NULL);
	qsort(cr, (size_t)runs, sizeof(double), cmp_double);
	qsort(cc, (size_t)runs, sizeof(double), cmp_double);
	printf("{\"bench\":\"runtime-create-to-running\",\"runtime\":\"shoal\","
	       "\"runs\":%d,\"median_ms\":%.2f,\"p90_ms\":%.2f,"
	       "\"create_median_ms\":%.2f}\n",
	       runs, cr[runs / 2], cr[(runs * 9 + 9) / 10 - 1], cc[runs / 2]);
	free(cc);
	for (int i = 0; i < 8; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/shoal-bench",
			 (const char *[]){"memory", "cpu", "cpuacct", "pids",
					  "freezer", "devices", "blkio",
					  "cpuset"}[i]);
		rmdir(path);
	}
	free(ms);
	free(cr);
	free(monitor);
}

/* Docker's profile resolved for the default caps, in the OCI format. */
static json_t *oci_seccomp(void)
{
	json_t *in = json_loads(rt__seccomp_default_profile, 0, NULL);
	json_t *out = json_pack("{s:s,s:i,s:[s,s,s],s:[]}", "defaultAction",
				"SCMP_ACT_ERRNO", "defaultErrnoRet", 1,
				"architectures", "SCMP_ARCH_X86_64",
				"SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls");
	json_t *rules = json_object_get(out, "syscalls"), *r;
	uint64_t caps = rt__caps_default();
	size_t i;

	json_array_foreach(json_object_get(in, "syscalls"), i, r)
	{
		json_t *inc =
			json_object_get(json_object_get(r, "includes"), "caps");
		json_t *exc =
			json_object_get(json_object_get(r, "excludes"), "caps");
		json_t *arches = json_object_get(json_object_get(r, "includes"),
						 "arches");
		json_t *c, *o;
		bool ok = true;
		size_t j;
		json_array_foreach(inc, j, c) ok &=
			(caps >> rt__cap_from_name(json_string_value(c))) & 1;
		json_array_foreach(exc, j, c) ok &= !(
			(caps >> rt__cap_from_name(json_string_value(c))) & 1);
		if (arches) {
			bool amd = false;
			json_array_foreach(arches, j, c) amd |=
				!strcmp(json_string_value(c), "amd64");
			ok &= amd;
		}
		if (!ok)
			continue;
		o = json_pack("{s:O,s:O}", "names", json_object_get(r, "names"),
			      "action", json_object_get(r, "action"));
		if (json_object_get(r, "args"))
			json_object_set(o, "args", json_object_get(r, "args"));
		if (json_object_get(r, "errnoRet"))
			json_object_set(o, "errnoRet",
					json_object_get(r, "errnoRet"));
		json_array_append_new(rules, o);
	}
	json_decref(in);
	return out;
}

static int make_bundle(const char *layer, const char *bundle)
{
	char path[512];
	json_t *cfg, *process;

	if (sh("mkdir -p %s && cp -a %s %s/rootfs && cd %s && "
	       "runc spec >/dev/null 2>&1",
	       bundle, layer, bundle, bundle) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	cfg = json_load_file(path, 0, NULL);
	if (!cfg)
		return -1;
	process = json_object_get(cfg, "process");
	json_object_set_new(process, "terminal", json_false());
	json_object_set_new(process, "args", json_pack("[s]", "/bin/true"));
	json_object_set_new(json_object_get(cfg, "root"), "readonly",
			    json_false());
	json_object_set_new(json_object_get(cfg, "linux"), "seccomp",
			    oci_seccomp());
	json_dump_file(cfg, path, JSON_INDENT(1));
	json_decref(cfg);
	return 0;
}

static void bench_runc(const char *layer, int runs)
{
	char bundle[300], state[300], name[64];
	double *ms = calloc((size_t)runs, sizeof(double));
	long rss = 0, r;
	int status;

	if (access("/usr/sbin/runc", X_OK) != 0) {
		unavailable("runc", "/usr/sbin/runc not installed");
		return;
	}
	snprintf(bundle, sizeof(bundle), "%s/bundle", tmp);
	snprintf(state, sizeof(state), "%s/runc-state", tmp);
	if (make_bundle(layer, bundle) < 0) {
		unavailable("runc", "cannot make a bundle with runc spec");
		return;
	}
	for (int i = -WARMUP; i < runs; i++) {
		snprintf(name, sizeof(name), "shoal-bench-%d-%d", (int)getpid(),
			 i + WARMUP);
		char *argv[] = {(char *)"/usr/sbin/runc",
				(char *)"--root",
				state,
				(char *)"run",
				(char *)"--bundle",
				bundle,
				name,
				NULL};
		double t = run_cmd(argv, &r, &status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			unavailable("runc", "runc run failed on this host");
			free(ms);
			return;
		}
		if (i >= 0) {
			ms[i] = t;
			rss = r > rss ? r : rss;
		}
	}
	report("runc", ms, runs, rss, NULL);
	free(ms);
}

static void bench_unshare(int runs)
{
	double *ms = calloc((size_t)runs, sizeof(double));
	char *argv[] = {(char *)"unshare", (char *)"--fork",	(char *)"--pid",
			(char *)"--mount", (char *)"--net",	(char *)"--uts",
			(char *)"--ipc",   (char *)"/bin/true", NULL};
	long rss = 0, r;
	int status;

	for (int i = -WARMUP; i < runs; i++) {
		double t = run_cmd(argv, &r, &status);
		if (i >= 0) {
			ms[i] = t;
			rss = r > rss ? r : rss;
		}
	}
	report("bare-unshare", ms, runs, rss,
	       ",\"note\":\"namespaces only: no rootfs, cgroup or seccomp\"");
	free(ms);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 50;
	char layer[300];

	if (runs < 2)
		runs = 2;
	if (geteuid() != 0) {
		unavailable("shoal", "needs root");
		return 0;
	}
	shoal_alloc_install();
	/* A reader that goes away (| head) must not cut the clean-up. */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp))
		return 1;
	snprintf(layer, sizeof(layer), "%s/layer", tmp);
	make_layer(layer);
	bench_shoal(layer, runs);
	bench_runc(layer, runs);
	if (sh("command -v crun >/dev/null 2>&1") == 0)
		unavailable("crun", "present but not benchmarked: it refuses "
				    "this host's hybrid cgroup layout");
	else
		unavailable("crun", "not installed; crun refuses hybrid "
				    "cgroups (this host)");
	bench_unshare(runs);
	sh("rm -rf %s", tmp);
	return 0;
}
