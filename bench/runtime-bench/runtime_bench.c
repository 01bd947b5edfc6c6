/*
 * runtime-bench: what it costs to run one short command in a container,
 * Shoal's runtime against runc and crun on the same rootfs and profile.
 *
 * What it compares, one JSON line per runtime: start-to-exit of
 * `/bin/echo shoal-bench` in a busybox rootfs, with Docker's default
 * seccomp profile and capabilities, cgroups and new namespaces (network
 * included), 50 runs after 3 warm-ups by default:
 *
 *   shoal         rt_container_create() + rt_container_start() +
 *                 rt_container_wait(), as the daemon does them (removal is
 *                 outside the window); also create-to-running on its own;
 *   runc          `runc run` of a bundle made by `runc spec` on a copy of
 *                 the same rootfs, its seccomp set to the same Docker
 *                 profile resolved for the default capabilities (runc's
 *                 delete is inside `run`);
 *   crun          `crun run` of the same bundle, where crun is installed
 *                 and can run: Debian's crun 1.8 refuses hybrid cgroup
 *                 layouts (this machine's), and then the line is
 *                 {"skipped":"crun: <crun's own words>"};
 *   bare-unshare  `unshare` of the namespaces around /bin/true: the floor
 *                 (no rootfs, cgroup or seccomp), not a runtime.
 *
 * A runtime counts only if it really ran the container. Before its timed
 * runs each one runs a probe, `sh -c 'echo probe; exit 7'`, and must hand
 * back both the exit status 7 and the output "probe" (Shoal: in the
 * container's json log; runc and crun: on their stdout); a runtime that
 * is missing or fails its probe prints {"skipped":"<runtime>: <why>"}.
 * Every timed run must then exit 0 and print "shoal-bench"; one that does
 * not prints {"error":...} instead of figures and the benchmark exits 1.
 *
 * Figures: median, p90 and min in ms, nearest rank on the sorted runs
 * (bench/common/stats.h, docs/bench.md). Peak memory of the runtime path:
 * for runc and crun, wait4()'s ru_maxrss over the runtime and its
 * descendants; for Shoal, the largest peak RSS of the monitor and of the
 * container's init, which the monitor records at exit.
 *
 *   runtime-bench [runs]      (root only; SHOAL_MONITOR overrides the
 *                              monitor's path; SHOAL_MONITOR_TRACE=1
 *                              prints each start's phases on stderr)
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

#include "bench/common/stats.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "runtime/internal.h"

#define WARMUP 3
#define MARK "shoal-bench"
#define PROBE_SCRIPT "echo probe; exit 7"
#define PROBE_EXIT 7

static char tmp[] = "/tmp/shoal-bench-XXXXXX";
static int exit_status; /* 1 once a runtime failed after its probe */

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

/* @s as a JSON string body: quotes, backslashes and controls escaped. */
static const char *json_text(const char *s, char *buf, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			o += (size_t)snprintf(buf + o, cap - o, "\\%c", ch);
		else if (ch < 0x20)
			o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = '\0';
	return buf;
}

static void report(const char *runtime, double *ms, int n, long rss_kb,
		   const char *extra)
{
	bench_sort(ms, (size_t)n);
	printf("{\"bench\":\"runtime-start-to-exit\",\"runtime\":\"%s\","
	       "\"runs\":%d,\"median_ms\":%.2f,\"p90_ms\":%.2f,"
	       "\"min_ms\":%.2f,\"peak_rss_kb\":%ld%s}\n",
	       runtime, n, bench_median(ms, (size_t)n),
	       bench_percentile(ms, (size_t)n, 90), ms[0], rss_kb,
	       extra ? extra : "");
	fflush(stdout);
}

/* The runtime cannot run here: why, in its own words where it gave some. */
static void skipped(const char *runtime, const char *why)
{
	char buf[1024];

	printf("{\"bench\":\"runtime-start-to-exit\",\"runtime\":\"%s\","
	       "\"skipped\":\"%s: %s\"}\n",
	       runtime, runtime, json_text(why, buf, sizeof(buf)));
	fflush(stdout);
}

/* The runtime passed its probe, then a timed run did not run: no figure. */
static void failed(const char *runtime, int run, const char *why)
{
	char buf[1024];

	printf("{\"bench\":\"runtime-start-to-exit\",\"runtime\":\"%s\","
	       "\"error\":\"run %d: %s\"}\n",
	       runtime, run, json_text(why, buf, sizeof(buf)));
	fflush(stdout);
	exit_status = 1;
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

/* The first @cap - 1 bytes of @path, NUL-terminated ("" if unreadable). */
static char *slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* The last non-empty line of @s, trimmed, in place. */
static const char *last_line(char *s)
{
	char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(s, '\n');
	return start ? start + 1 : s;
}

/*
 * Times @argv to its exit, stdout into <tmp>/out, stderr into <tmp>/err;
 * its peak RSS (with descendants) and wait status too.
 */
static double run_cmd(char *const argv[], long *rss_kb, int *status)
{
	struct rusage ru;
	char out[320], err[320];
	int64_t t0;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/out", tmp);
	snprintf(err, sizeof(err), "%s/err", tmp);
	t0 = time_mono_ns();
	pid = fork();
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	*status = -1;
	if (pid < 0 || wait4(pid, status, 0, &ru) < 0)
		return -1;
	*rss_kb = ru.ru_maxrss;
	return (double)(time_mono_ns() - t0) / 1e6;
}

/* After run_cmd(): NULL when it exited @code having printed exactly
 * @want on a line, else why not (in @buf). */
static const char *check_run(int status, int code, const char *want, char *buf,
			     size_t cap)
{
	char out[256], err[512], path[320];

	snprintf(path, sizeof(path), "%s/out", tmp);
	slurp(path, out, sizeof(out));
	snprintf(path, sizeof(path), "%s/err", tmp);
	slurp(path, err, sizeof(err));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
		snprintf(buf, cap, "wanted exit %d, got %s %d: %s", code,
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status)
					   : WTERMSIG(status),
			 *err ? last_line(err) : "(no stderr)");
		return buf;
	}
	if (strncmp(out, want, strlen(want)) != 0 ||
	    strcmp(out + strlen(want), "\n") != 0) {
		snprintf(buf, cap, "exit %d but output '%s', not '%s'", code,
			 last_line(out), want);
		return buf;
	}
	return NULL;
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

/* Phase timestamps of one start, relative to @t0, on stderr. */
static void trace_monitor(const char *run, const char *id, int64_t t0)
{
	char line[512];
	FILE *f;

	snprintf(line, sizeof(line), "%s/%s/monitor.log", run, id);
	f = fopen(line, "r");
	while (f && fgets(line, sizeof(line), f)) {
		long long us;
		char what[64];
		if (sscanf(line, "%lld %63[^\n]", &us, what) == 2)
			fprintf(stderr, "%8.2f %s\n",
				(double)(us - t0 / 1000) / 1e3, what);
	}
	if (f)
		fclose(f);
	fprintf(stderr, "%8.2f exit seen\n",
		(double)(time_mono_ns() - t0) / 1e6);
}

struct shoal {
	struct rt *rt;
	const char *layer;
	char data[300], run[300];
	long rss_kb; /* largest peak RSS of a monitor or init */
};

/*
 * One Shoal container of @argv to its exit, timed into @t (before create,
 * after create, after start, after the exit); NULL when it exited @code
 * and its log holds the stdout line @want, else why not (in @buf).
 */
static const char *shoal_once(struct shoal *sb, const char *const *argv,
			      int code, const char *want, int64_t t[4],
			      char *buf, size_t cap)
{
	const char *lowers[] = {sb->layer, NULL};
	struct rt_spec s = {.lower_dirs = lowers, .argv = argv};
	char id[RT_ID_LEN + 1], path[512], log[2048], line[128];
	struct shoal_err err = {""};
	struct rt_info info;
	const char *why = NULL;
	int got = -1;

	t[0] = time_mono_ns();
	if (rt_container_create(sb->rt, &s, id, &err) < 0) {
		snprintf(buf, cap, "create: %s", err.msg);
		return buf;
	}
	t[1] = time_mono_ns();
	if (rt_container_start(sb->rt, id, &err) < 0) {
		snprintf(buf, cap, "start: %s", err.msg);
		why = buf;
		goto remove;
	}
	t[2] = time_mono_ns();
	if (rt_container_wait(sb->rt, id, 10000, &got) < 0)
		got = -1;
	t[3] = time_mono_ns();
	if (getenv("SHOAL_MONITOR_TRACE"))
		trace_monitor(sb->run, id, t[0]);
	snprintf(path, sizeof(path), "%s/containers/%s/%s-json.log", sb->data,
		 id, id);
	slurp(path, log, sizeof(log));
	snprintf(line, sizeof(line), "\"log\":\"%s\\n\",\"stream\":\"stdout\"",
		 want);
	if (got != code) {
		snprintf(buf, cap, "wanted exit %d, got %d", code, got);
		why = buf;
	} else if (!strstr(log, line)) {
		snprintf(buf, cap, "exit %d but no stdout line '%s' in its log",
			 code, want);
		why = buf;
	}
	if (rt_container_inspect(sb->rt, id, &info) == 0) {
		if (info.monitor_maxrss_kb > sb->rss_kb)
			sb->rss_kb = info.monitor_maxrss_kb;
		if (info.init_maxrss_kb > sb->rss_kb)
			sb->rss_kb = info.init_maxrss_kb;
		rt_info_fini(&info);
	}
remove:
	rt_container_remove(sb->rt, id, true, true);
	return why;
}

static void shoal_runs(struct shoal *sb, int runs)
{
	const char *probe[] = {"/bin/sh", "-c", PROBE_SCRIPT, NULL};
	const char *timed[] = {"/bin/echo", MARK, NULL};
	double *ms = calloc((size_t)runs, sizeof(double)),
	       *cr = calloc((size_t)runs, sizeof(double)),
	       *cc = calloc((size_t)runs, sizeof(double));
	char why[600];
	int64_t t[4];

	if (!ms || !cr || !cc)
		goto out;
	if (shoal_once(sb, probe, PROBE_EXIT, "probe", t, why, sizeof(why))) {
		skipped("shoal", why);
		goto out;
	}
	for (int i = -WARMUP; i < runs; i++) {
		if (shoal_once(sb, timed, 0, MARK, t, why, sizeof(why))) {
			failed("shoal", i + WARMUP + 1, why);
			goto out;
		}
		if (i < 0)
			continue;
		ms[i] = (double)(t[3] - t[0]) / 1e6;
		cr[i] = (double)(t[2] - t[0]) / 1e6;
		cc[i] = (double)(t[1] - t[0]) / 1e6;
	}
	report("shoal", ms, runs, sb->rss_kb, NULL);
	bench_sort(cr, (size_t)runs);
	bench_sort(cc, (size_t)runs);
	printf("{\"bench\":\"runtime-create-to-running\",\"runtime\":\"shoal\","
	       "\"runs\":%d,\"median_ms\":%.2f,\"p90_ms\":%.2f,"
	       "\"create_median_ms\":%.2f}\n",
	       runs, bench_median(cr, (size_t)runs),
	       bench_percentile(cr, (size_t)runs, 90),
	       bench_median(cc, (size_t)runs));
	fflush(stdout);
out:
	free(ms);
	free(cr);
	free(cc);
}

static void bench_shoal(const char *layer, int runs)
{
	static const char *const ctls[] = {"memory", "cpu",	"cpuacct",
					   "pids",   "freezer", "devices",
					   "blkio",  "cpuset"};
	char *monitor = find_monitor();
	struct shoal sb = {.layer = layer};
	struct rt_config cfg = {.data_root = sb.data,
				.exec_root = sb.run,
				.cgroup_parent = "shoal-bench",
				.monitor_path = monitor};
	struct shoal_err err = {""};

	snprintf(sb.data, sizeof(sb.data), "%s/data", tmp);
	snprintf(sb.run, sizeof(sb.run), "%s/run", tmp);
	if (rt_open(&cfg, &sb.rt, &err) < 0) {
		skipped("shoal", err.msg);
		free(monitor);
		return;
	}
	shoal_runs(&sb, runs);
	rt_close(sb.rt);
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/shoal-bench",
			 ctls[i]);
		rmdir(path);
	}
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

/* An installed executable among the usual places, or NULL. */
static const char *find_exe(const char *name, char *buf, size_t cap)
{
	static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin",
					   "/usr/sbin",	      "/usr/bin",
					   "/sbin",	      "/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, cap, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/*
 * An OCI bundle in <tmp>/<name> running @args, on the shared copy of the
 * rootfs at <tmp>/oci-rootfs, from the default spec of @spec_tool (runc or
 * crun; the two write the same config shape).
 */
static int make_bundle(const char *spec_tool, const char *name, json_t *args)
{
	char dir[320], path[400], rootfs[320];
	json_t *cfg, *process;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	snprintf(rootfs, sizeof(rootfs), "%s/oci-rootfs", tmp);
	if (sh("mkdir -p %s && cd %s && %s spec >/dev/null 2>&1", dir, dir,
	       spec_tool) != 0) {
		json_decref(args);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	cfg = json_load_file(path, 0, NULL);
	if (!cfg) {
		json_decref(args);
		return -1;
	}
	process = json_object_get(cfg, "process");
	json_object_set_new(process, "terminal", json_false());
	json_object_set_new(process, "args", args);
	json_object_set_new(json_object_get(cfg, "root"), "path",
			    json_string(rootfs));
	json_object_set_new(json_object_get(cfg, "root"), "readonly",
			    json_false());
	json_object_set_new(json_object_get(cfg, "linux"), "seccomp",
			    oci_seccomp());
	rc = json_dump_file(cfg, path, JSON_INDENT(1));
	json_decref(cfg);
	return rc < 0 ? -1 : 0;
}

/* Bundles "probe" and "timed" for the OCI runtimes; NULL or why not. */
static const char *make_bundles(const char *layer)
{
	char tool[PATH_MAX];
	const char *spec = find_exe("runc", tool, sizeof(tool));

	if (!spec)
		spec = find_exe("crun", tool, sizeof(tool));
	if (!spec)
		return "not installed";
	if (sh("cp -a %s %s/oci-rootfs", layer, tmp) != 0 ||
	    make_bundle(spec, "probe",
			json_pack("[s,s,s]", "/bin/sh", "-c", PROBE_SCRIPT)) <
		    0 ||
	    make_bundle(spec, "timed", json_pack("[s,s]", "/bin/echo", MARK)) <
		    0)
		return "cannot make a bundle with `spec`";
	return NULL;
}

/* `<runtime> --root <tmp>/<name>-state run --bundle <tmp>/<bundle> <id>`. */
static double oci_run(const char *exe, const char *name, const char *bundle,
		      int n, long *rss, int *status)
{
	char root[320], dir[320], id[64];
	char *argv[] = {(char *)exe,
			(char *)"--root",
			root,
			(char *)"run",
			(char *)"--bundle",
			dir,
			id,
			NULL};

	snprintf(root, sizeof(root), "%s/%s-state", tmp, name);
	snprintf(dir, sizeof(dir), "%s/%s", tmp, bundle);
	snprintf(id, sizeof(id), "shoal-bench-%s-%d-%d", bundle, (int)getpid(),
		 n);
	return run_cmd(argv, rss, status);
}

/* runc or crun: the probe, then the timed runs. */
static void bench_oci(const char *name, const char *bundles_why, int runs)
{
	double *ms = calloc((size_t)runs, sizeof(double));
	char exe[PATH_MAX], why[600];
	long rss = 0, r = 0;
	int status;

	if (!ms)
		return;
	if (!find_exe(name, exe, sizeof(exe))) {
		skipped(name, "not installed");
		goto out;
	}
	if (bundles_why) {
		skipped(name, bundles_why);
		goto out;
	}
	oci_run(exe, name, "probe", 0, &r, &status);
	if (check_run(status, PROBE_EXIT, "probe", why, sizeof(why))) {
		skipped(name, why);
		goto out;
	}
	for (int i = -WARMUP; i < runs; i++) {
		double t = oci_run(exe, name, "timed", i + WARMUP, &r, &status);
		if (check_run(status, 0, MARK, why, sizeof(why))) {
			failed(name, i + WARMUP + 1, why);
			goto out;
		}
		if (i >= 0) {
			ms[i] = t;
			rss = r > rss ? r : rss;
		}
	}
	report(name, ms, runs, rss, NULL);
out:
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

	for (int i = -WARMUP; ms && i < runs; i++) {
		double t = run_cmd(argv, &r, &status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			failed("bare-unshare", i + WARMUP + 1,
			       "unshare did not exit 0");
			free(ms);
			return;
		}
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
	const char *bundles_why;
	char layer[300];

	if (runs < 2)
		runs = 2;
	if (geteuid() != 0) {
		skipped("shoal", "needs root");
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
	bundles_why = make_bundles(layer);
	bench_oci("runc", bundles_why, runs);
	bench_oci("crun", bundles_why, runs);
	bench_unshare(runs);
	sh("rm -rf %s", tmp);
	return exit_status;
}
