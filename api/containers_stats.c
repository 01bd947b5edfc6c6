/*
 * GET /containers/{id}/stats and GET /containers/{id}/top (Docker Engine
 * API v1.45). Stats are sampled from the runtime (cgroup files, /proc/stat,
 * the container's network namespace) into Docker's shape, with
 * precpu_stats holding the previous sample so clients compute the CPU
 * percentage as `docker stats` does. stream=false waits one second for the
 * second sample unless one-shot=true; stream=true writes one object per
 * second until the client leaves or the container stops. Memory usage is
 * already net of inactive file pages, so memory_stats.stats is empty.
 * "networks" lists the interfaces the runtime found in the container's
 * network namespace, lo aside, and is left out when there is none (a
 * container has only lo today), as Docker leaves it out for --network
 * none. Top answers `ps -ef`'s columns, computed as procps does from what
 * the runtime read in /proc; ps_args is not supported (always -ef).
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
#include <time.h>

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

static json_t *networks_json(const struct rt_stats *s)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < s->n_nets; i++) {
		const struct rt_net_stats *n = &s->nets[i];
		json_t *c =
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				  "rx_bytes", (json_int_t)n->rx_bytes,
				  "rx_packets", (json_int_t)n->rx_packets,
				  "rx_errors", (json_int_t)n->rx_errors,
				  "rx_dropped", (json_int_t)n->rx_dropped,
				  "tx_bytes", (json_int_t)n->tx_bytes,
				  "tx_packets", (json_int_t)n->tx_packets,
				  "tx_errors", (json_int_t)n->tx_errors,
				  "tx_dropped", (json_int_t)n->tx_dropped);
		if (jsonx_set(o, n->name, c)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
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
	if (s->n_nets >
	    0) /* none: omitted, as Docker does for --network none */
		rc |= jsonx_set(o, "networks", networks_json(s));
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

/* ps's C: CPU time over the process's life, in percent, at most 99. */
static unsigned ps_c(const struct rt_top_row *r, int64_t now_ns)
{
	int64_t life = (now_ns - r->start_ns) / NSEC_PER_SEC;
	uint64_t pcpu =
		life > 0 ? r->cpu_ns / (NSEC_PER_SEC / 100) / (uint64_t)life
			 : 0;
	return pcpu > 99 ? 99 : (unsigned)pcpu;
}

/* ps's STIME: HH:MM today, MonDD this year, else the year (local time). */
static void ps_stime(int64_t start_ns, time_t now, char *out, size_t cap)
{
	time_t t = (time_t)(start_ns / NSEC_PER_SEC);
	struct tm st, nt;
	size_t n;

	if (!localtime_r(&t, &st) || !localtime_r(&now, &nt))
		n = 0;
	else if (nt.tm_year != st.tm_year)
		n = strftime(out, cap, "%Y", &st);
	else if (nt.tm_yday != st.tm_yday)
		n = strftime(out, cap, "%b%d", &st);
	else
		n = strftime(out, cap, "%H:%M", &st);
	if (n == 0)
		snprintf(out, cap, "?");
}

/* ps's TIME: [DD-]HH:MM:SS of CPU time. */
static void ps_time(uint64_t cpu_ns, char *out, size_t cap)
{
	uint64_t t = cpu_ns / NSEC_PER_SEC;
	unsigned ss = t % 60, mm = t / 60 % 60, hh = t / 3600 % 24;
	unsigned long long dd = t / 86400;

	if (dd)
		snprintf(out, cap, "%llu-%02u:%02u:%02u", dd, hh, mm, ss);
	else
		snprintf(out, cap, "%02u:%02u:%02u", hh, mm, ss);
}

/* One row of `ps -ef` (the user named from the host's passwd, as ps on
 * the host does, else the number). */
static json_t *top_json(const struct rt_top_row *r, int64_t now_ns)
{
	char uid[64], pid[16], ppid[16], c[8], stime[32], tm[32];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(r->uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(uid, sizeof(uid), "%s", res->pw_name);
	else
		snprintf(uid, sizeof(uid), "%u", (unsigned)r->uid);
	snprintf(pid, sizeof(pid), "%d", (int)r->pid);
	snprintf(ppid, sizeof(ppid), "%d", (int)r->ppid);
	snprintf(c, sizeof(c), "%u", ps_c(r, now_ns));
	ps_stime(r->start_ns, (time_t)(now_ns / NSEC_PER_SEC), stime,
		 sizeof(stime));
	ps_time(r->cpu_ns, tm, sizeof(tm));
	return json_pack("[s, s, s, s, s, s, s, s]", uid, pid, ppid, c, stime,
			 r->tty, tm, r->cmd);
}

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
	int64_t now = time_real_ns();
	json_t *procs = json_array();
	for (size_t k = 0; procs && k < n; k++)
		json_array_append_new(procs, top_json(&rows[k], now));
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
