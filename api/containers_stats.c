/*
 * GET /containers/{id}/stats and GET /containers/{id}/top (Docker Engine
 * API v1.45). Stats are sampled from the runtime (cgroup files, /proc/stat,
 * the container's network namespace) into Docker's shape, with
 * precpu_stats holding the previous sample so clients compute the CPU
 * percentage as `docker stats` does. stream=false waits one second for the
 * second sample unless one-shot=true; stream=true writes one object per
 * second until the client leaves or the container stops. Memory usage is
 * already net of inactive file pages, so memory_stats.stats is empty.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>

#define INTERVAL_MS 1000

static json_t *cpu_json(const struct rt_stats *s)
{
	return json_pack(
		"{s:{s:I, s:I, s:I}, s:I, s:i, s:{s:i, s:i, s:i}}", "cpu_usage",
		"total_usage", (json_int_t)s->cpu_total_ns,
		"usage_in_kernelmode", (json_int_t)0, "usage_in_usermode",
		(json_int_t)0, "system_cpu_usage", (json_int_t)s->system_cpu_ns,
		"online_cpus", (int)s->online_cpus, "throttling_data",
		"periods", 0, "throttled_periods", 0, "throttled_time", 0);
}

static json_t *time_json(int64_t ns)
{
	char b[48];
	if (ns <= 0)
		return json_string("0001-01-01T00:00:00Z");
	time_format_rfc3339(ns, b, sizeof(b));
	return json_string(b);
}

static json_t *stats_json(const char *id, const char *name,
			  const struct rt_stats *pre, const struct rt_stats *s)
{
	char n[300];
	snprintf(n, sizeof(n), "/%s", name ? name : "");
	json_t *o = json_object();
	int rc = 0;
	rc |= jsonx_set(o, "name", json_string(n));
	rc |= jsonx_set(o, "id", json_string(id));
	rc |= jsonx_set(o, "read", time_json(s->read_ns));
	rc |= jsonx_set(o, "preread", time_json(pre->read_ns));
	rc |= jsonx_set(o, "pids_stats",
			json_pack("{s:I}", "current", (json_int_t)s->pids));
	rc |= jsonx_set(
		o, "blkio_stats",
		json_pack("{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}",
			  "io_service_bytes_recursive", "io_serviced_recursive",
			  "io_queue_recursive", "io_service_time_recursive",
			  "io_wait_time_recursive", "io_merged_recursive",
			  "io_time_recursive", "sectors_recursive"));
	rc |= jsonx_set(o, "num_procs", json_integer(0));
	rc |= jsonx_set(o, "storage_stats", json_object());
	rc |= jsonx_set(o, "cpu_stats", cpu_json(s));
	rc |= jsonx_set(o, "precpu_stats", cpu_json(pre));
	rc |= jsonx_set(o, "memory_stats",
			json_pack("{s:I, s:{}, s:I}", "usage",
				  (json_int_t)s->mem_usage, "stats", "limit",
				  (json_int_t)s->mem_limit));
	rc |= jsonx_set(
		o, "networks",
		json_pack("{s:{s:I, s:i, s:i, s:i, s:I, s:i, s:i, s:i}}",
			  "eth0", "rx_bytes", (json_int_t)s->net_rx_bytes,
			  "rx_packets", 0, "rx_errors", 0, "rx_dropped", 0,
			  "tx_bytes", (json_int_t)s->net_tx_bytes, "tx_packets",
			  0, "tx_errors", 0, "tx_dropped", 0));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct stats_op {
	struct api__state *st;
	struct http_response *res;
	uv_timer_t timer;
	char id[65];
	char *name;
	bool stream;
	struct rt_stats pre;
};

static void op_freed(uv_handle_t *h)
{
	struct stats_op *op = h->data;
	shoal_free(op->name);
	shoal_free(op);
}

static void op_end(struct stats_op *op)
{
	if (op->res) {
		http_response_on_close(op->res, NULL, NULL);
		http_response_end(op->res);
		op->res = NULL;
	}
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, op_freed);
}

static void op_gone(struct http_response *res, void *arg)
{
	struct stats_op *op = arg;
	op->res = NULL;
	op_end(op);
}

/* Take a sample and write it; false when the stream is over. */
static bool sample(struct stats_op *op)
{
	struct rt_stats s = {0};
	bool up = rt_container_stats(op->st->rt, op->id, &s) == 0;
	if (!up)
		s.read_ns = time_real_ns();
	json_t *o = stats_json(op->id, op->name, &op->pre, &s);
	size_t len;
	char *txt = o ? jsonx_dump(o, &len) : NULL;
	json_decref(o);
	int rc = txt ? http_response_write(op->res, txt, len) : -ENOMEM;
	shoal_free(txt);
	op->pre = s;
	return up && (rc == 0 || rc == -ENOBUFS) && op->stream;
}

static void tick(uv_timer_t *t)
{
	struct stats_op *op = t->data;
	if (!sample(op))
		op_end(op);
}

static void stats(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	struct rt_info i;
	if (rt_container_inspect(st->rt, id, &i) < 0) {
		api_reply_error(call, 404, "No such container: %s", id);
		return;
	}
	struct stats_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		rt_info_fini(&i);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->st = st;
	op->name = i.name ? shoal_strdup(i.name) : NULL;
	rt_info_fini(&i);
	memcpy(op->id, id, sizeof(op->id));
	op->stream = api__query_bool(call, "stream", true);
	bool one_shot = api__query_bool(call, "one-shot", false);
	if (http_response_begin(call->res, 200, "application/json") < 0) {
		shoal_free(op->name);
		shoal_free(op);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->res = call->res;
	op->timer.data = op;
	uv_timer_init(st->loop, &op->timer);
	http_response_on_close(call->res, op_gone, op);
	rt_container_stats(st->rt, id, &op->pre);
	if (!op->stream && one_shot) {
		struct rt_stats zero = {0};
		struct rt_stats pre = op->pre;
		op->pre = zero;
		(void)pre;
		sample(op);
		op_end(op);
		return;
	}
	if (op->stream && !sample(op)) {
		op_end(op);
		return;
	}
	uv_timer_start(&op->timer, tick, INTERVAL_MS,
		       op->stream ? INTERVAL_MS : 0);
}

/* --- top ------------------------------------------------------------------ */

static void top(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	struct rt_top_row *rows;
	size_t n;
	int rc = rt_container_top(st->rt, id, &rows, &n);
	if (rc == -ESRCH || rc == SHOAL_ENOTFOUND) {
		api_reply_error(call, 409, "Container %s is not running", id);
		return;
	}
	if (rc < 0) {
		api_reply_error(call, 500, "cannot list processes: %s",
				shoal_strerror(rc));
		return;
	}
	json_t *procs = json_array();
	for (size_t k = 0; procs && k < n; k++) {
		char uid[32], pid[16], ppid[16];
		struct passwd *pw = getpwuid(rows[k].uid);
		snprintf(uid, sizeof(uid), "%s", pw ? pw->pw_name : "");
		if (!pw)
			snprintf(uid, sizeof(uid), "%u", (unsigned)rows[k].uid);
		snprintf(pid, sizeof(pid), "%d", (int)rows[k].pid);
		snprintf(ppid, sizeof(ppid), "%d", (int)rows[k].ppid);
		json_array_append_new(procs,
				      json_pack("[s, s, s, s, s, s, s, s]", uid,
						pid, ppid, "0", "", "?",
						"00:00:00", rows[k].cmd));
	}
	shoal_free(rows);
	api_reply_json(call, 200,
		       json_pack("{s:[s, s, s, s, s, s, s, s], s:o}", "Titles",
				 "UID", "PID", "PPID", "C", "STIME", "TTY",
				 "TIME", "CMD", "Processes", procs));
}

static const struct api_route routes[] = {
	{"GET", "/containers/{id}/stats", stats},
	{"GET", "/containers/{id}/top", top},
};

const struct api_route_table api_containers_stats_table = {
	.name = "containers-stats",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
