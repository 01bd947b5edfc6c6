/*
 * api-bench: the latency from POST /containers/create to a running
 * container (POST start, then GET /containers/{id}/json until
 * State.Running), through shoald's Engine API on a unix socket, with a
 * busybox image (scripts/mkimage-busybox) imported into private roots.
 * Each run's container is removed (DELETE ?force=1) outside the timing.
 * Prints one JSON line: runs, median and p90 (nearest rank,
 * bench/common/stats.h), min and max in milliseconds. Needs root.
 */
#include "bench/common/stats.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/jsonx.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char host[256];

static int call(const char *method, const char *path, const char *body,
		size_t len, const char *ct, struct http_result *r)
{
	struct http_client_req req = {
		.method = method,
		.path = path,
		.body = body,
		.body_len = len,
		.content_type = ct,
		.timeout_ms = 60000,
	};
	return http_client_fetch(host, &req, r);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = n >= 0 ? shoal_malloc((size_t)n + 1) : NULL;
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		shoal_free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static int one_run(double *ms)
{
	static const char body[] =
		"{\"Image\":\"busybox\",\"Cmd\":[\"sleep\",\"60\"]}";
	struct http_result r;
	char path[256], id[65];
	int64_t t0 = time_mono_ns();
	if (call("POST", "/v1.45/containers/create", body, strlen(body), NULL,
		 &r) < 0 ||
	    r.status != 201)
		return -1;
	json_t *v = NULL;
	jsonx_parse(r.body, r.body_len, &v, NULL, 0);
	snprintf(id, sizeof(id), "%s", jsonx_str(v, "Id", ""));
	json_decref(v);
	http_result_fini(&r);
	snprintf(path, sizeof(path), "/v1.45/containers/%s/start", id);
	if (call("POST", path, NULL, 0, NULL, &r) < 0 || r.status != 204)
		return -1;
	http_result_fini(&r);
	snprintf(path, sizeof(path), "/v1.45/containers/%s/json", id);
	for (bool running = false; !running;) {
		if (call("GET", path, NULL, 0, NULL, &r) < 0)
			return -1;
		jsonx_parse(r.body, r.body_len, &v, NULL, 0);
		running = jsonx_bool(jsonx_obj(v, "State"), "Running", false);
		json_decref(v);
		http_result_fini(&r);
	}
	*ms = (double)(time_mono_ns() - t0) / 1e6;
	snprintf(path, sizeof(path), "/v1.45/containers/%s?force=1", id);
	if (call("DELETE", path, NULL, 0, NULL, &r) == 0)
		http_result_fini(&r);
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 50;
	if (runs < 1 || runs > 10000 || geteuid() != 0) {
		fprintf(stderr, "usage: api-bench [RUNS] (as root)\n");
		return 2;
	}
	char dir[] = "/tmp/sb.XXXXXX", cmd[1024], tar[64], sock[64], cg[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(tar, sizeof(tar), "%s/bb.tar", dir);
	snprintf(sock, sizeof(sock), "%s/x/s.sock", dir);
	snprintf(host, sizeof(host), "unix://%s", sock);
	/* Its own cgroup parent, removed at the end: nothing left behind. */
	snprintf(cg, sizeof(cg), "shoal-api-bench-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s/scripts/mkimage-busybox %s >/dev/null",
		 SHOAL_SOURCE_DIR, tar);
	if (system(cmd) != 0)
		return 1;
	pid_t d = fork();
	if (d == 0) {
		char data[64], exec[64], h[80];
		snprintf(data, sizeof(data), "%s/d", dir);
		snprintf(exec, sizeof(exec), "%s/x", dir);
		snprintf(h, sizeof(h), "unix://%s", sock);
		/* A network namespace of its own: the containers' bridge and
		 * nftables table never touch the machine's. */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(126);
		execl(SHOALD_PATH, "shoald", "--data-root", data, "--exec-root",
		      exec, "--host", h, "--cgroup-parent", cg, "--log-level",
		      "error", (char *)NULL);
		_exit(127);
	}
	struct stat st;
	for (int i = 0; i < 200 && stat(sock, &st) < 0; i++)
		usleep(20000);
	size_t len;
	char *body = slurp(tar, &len);
	struct http_result r;
	double *ms = NULL;
	int rc = 1, done = 0;
	if (!body ||
	    call("POST",
		 "/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest", body,
		 len, "application/x-tar", &r) < 0)
		goto out;
	http_result_fini(&r);
	ms = shoal_calloc((size_t)runs, sizeof(double));
	if (ms)
		one_run(&ms[0]); /* warm-up: seccomp cache, page cache */
	for (; ms && done < runs; done++)
		if (one_run(&ms[done]) < 0)
			break;
	if (done == runs) {
		bench_sort(ms, (size_t)runs);
		printf("{\"bench\":\"api-create-to-running\",\"runs\":%d,"
		       "\"median_ms\":%.2f,\"p90_ms\":%.2f,\"min_ms\":%.2f,"
		       "\"max_ms\":%.2f}\n",
		       runs, bench_median(ms, (size_t)runs),
		       bench_percentile(ms, (size_t)runs, 90), ms[0],
		       ms[runs - 1]);
		rc = 0;
	} else {
		fprintf(stderr, "api-bench: run %d failed\n", done);
	}
out:
	shoal_free(ms);
	shoal_free(body);
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s; rmdir /sys/fs/cgroup/*/%s "
		 "2>/dev/null; true",
		 dir, cg);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
