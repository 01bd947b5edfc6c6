/*
 * GET /services/{id}/logs and GET /tasks/{id}/logs (Docker Engine API):
 * the logs of a service's tasks, or of one task, from every node that
 * runs them, streamed in Docker's multiplexed format (8-byte headers; raw
 * bytes for a TTY service). The leader asks the nodes over their sessions
 * (manager/logs.c, worker/logs.c); each line is sent as
 * "[TIMESTAMP ]DETAILS MESSAGE" where DETAILS (with details=1) names
 * com.docker.swarm.node.id, service.id and task.id, which the docker CLI
 * turns into its "web.1.abc@node    | " prefix.
 *
 * Flow control: a batch that does not fit the response's queue is kept
 * (one pending buffer, bounded by the nodes' credit) and the node that sent
 * it gets its credit back only when the client has drained it; so a slow
 * client slows the nodes, and nothing is dropped.
 *
 * With follow, a service's tasks started later (a scale-up, a restart)
 * are followed as they start, until the service is removed.
 *
 * Refused: a request with neither stdout nor stderr (Docker's 400), a tail
 * or since that does not parse, `until` (not applied). Lines appear in
 * the order batches arrive: interleaved between nodes, in order per task.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "api/services_common.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/logs.h"
#include "manager/manager.h"
#include "manager/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OWED 64

struct slogs {
	struct http_response *res;
	struct mgr_logs *sub; /* NULL once done */
	bool tty, timestamps, details;
	char service_id[WIRE_ID_MAX + 1];
	struct buf pending; /* written once the client drains */
	char owed[MAX_OWED][WIRE_ID_MAX + 1]; /* nodes owed a credit */
	size_t nowed;
	bool finished; /* done() came: end once drained */
	bool gone;     /* the client went away */
};

static void slogs_free(struct slogs *l)
{
	buf_fini(&l->pending);
	shoal_free(l);
}

static int put(struct slogs *l, const void *data, size_t len)
{
	if (l->pending.len)
		return buf_append(&l->pending, data, len);
	int rc = http_response_write(l->res, data, len);
	if (rc == -ENOBUFS)
		return buf_append(&l->pending, data, len);
	return rc;
}

static void end(struct slogs *l)
{
	http_response_end(l->res);
	slogs_free(l);
}

static int frame(struct slogs *l, const struct mgr_log_line *ln,
		 const char *node_id, struct buf *b)
{
	char ts[48] = "", det[400] = "";
	uint8_t h[8] = {(uint8_t)ln->stream, 0, 0, 0, 0, 0, 0, 0};
	if (l->timestamps) {
		time_format_rfc3339(ln->time_ns, ts, sizeof(ts) - 1);
		strcat(ts, " ");
	}
	if (l->details)
		snprintf(det, sizeof(det),
			 "com.docker.swarm.node.id=%s,com.docker.swarm.service."
			 "id=%s,com.docker.swarm.task.id=%s ",
			 node_id, l->service_id, ln->task_id);
	size_t len = strlen(ts) + strlen(det) + ln->len;
	h[4] = (uint8_t)(len >> 24);
	h[5] = (uint8_t)(len >> 16);
	h[6] = (uint8_t)(len >> 8);
	h[7] = (uint8_t)len;
	int rc = 0;
	if (!l->tty)
		rc |= buf_append(b, h, sizeof(h));
	rc |= buf_append(b, ts, strlen(ts));
	rc |= buf_append(b, det, strlen(det));
	rc |= buf_append(b, ln->data, ln->len);
	return rc ? -ENOMEM : 0;
}

static bool on_lines(void *arg, const char *node_id,
		     const struct mgr_log_line *lines, size_t n)
{
	struct slogs *l = arg;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		if (frame(l, &lines[i], node_id, &b) < 0)
			break;
	put(l, b.data, b.len);
	buf_fini(&b);
	if (!l->pending.len)
		return true;
	if (l->nowed < MAX_OWED)
		snprintf(l->owed[l->nowed++], sizeof(l->owed[0]), "%s",
			 node_id);
	return false; /* its credit comes back in on_drain() */
}

static void on_done(void *arg, const char *error)
{
	struct slogs *l = arg;
	l->sub = NULL;
	if (error)
		log_info("service logs of %s ended: %s", l->service_id, error);
	if (l->pending.len) {
		l->finished = true; /* on_drain() ends it */
		return;
	}
	end(l);
}

static void on_drain(struct http_response *res, void *arg)
{
	struct slogs *l = arg;
	(void)res;
	if (!l->pending.len)
		return;
	int rc = http_response_write(l->res, l->pending.data, l->pending.len);
	if (rc == -ENOBUFS)
		return;
	buf_reset(&l->pending);
	if (l->finished) {
		end(l);
		return;
	}
	for (size_t i = 0; i < l->nowed && l->sub; i++)
		mgr_logs_credit(l->sub, l->owed[i]);
	l->nowed = 0;
}

static void on_gone(struct http_response *res, void *arg)
{
	struct slogs *l = arg;
	(void)res;
	if (l->sub)
		mgr_logs_stop(l->sub);
	slogs_free(l);
}

/* A task's ServiceID, NodeID and TTY from its store object. */
static bool task_fields(const struct store_object *o, char *svc, char *node,
			bool *tty)
{
	json_t *spec = api__obj_parsed(o->spec, o->spec_len);
	const char *sid = jsonx_str(spec, "ServiceID", "");
	const char *nid = jsonx_str(spec, "NodeID", "");
	bool ok = strlen(sid) <= WIRE_ID_MAX && strlen(nid) <= WIRE_ID_MAX;
	if (ok) {
		snprintf(svc, WIRE_ID_MAX + 1, "%s", sid);
		snprintf(node, WIRE_ID_MAX + 1, "%s", nid);
		*tty = jsonx_bool(
			jsonx_obj(jsonx_obj(spec, "Spec"), "ContainerSpec"),
			"TTY", false);
	}
	json_decref(spec);
	return ok;
}

static const struct store_object *task_find(const struct store *s,
					    const char *ref)
{
	const struct store_object *o = store_get(s, STORE_TASKS, ref);
	const struct store_object **all;
	size_t n, matches = 0;
	if (o || !*ref || store_list(s, STORE_TASKS, &all, &n) < 0)
		return o;
	for (size_t i = 0; i < n; i++)
		if (strncmp(all[i]->id, ref, strlen(ref)) == 0) {
			o = all[i];
			matches++;
		}
	shoal_free(all);
	return matches == 1 ? o : NULL;
}

static int parse_opts(struct api_call *call, struct mgr_logs_opts *o)
{
	const char *tail = http_request_query(call->req, "tail");
	const char *since = http_request_query(call->req, "since");
	const char *until = http_request_query(call->req, "until");
	char *end;
	o->out = api__query_bool(call, "stdout", false);
	o->err = api__query_bool(call, "stderr", false);
	o->follow = api__query_bool(call, "follow", false);
	o->tail = -1;
	o->since_ns = 0;
	if (!o->out && !o->err) {
		api_reply_error(call, 400,
				"Bad parameters: you must choose at "
				"least one stream");
		return -EINVAL;
	}
	if (tail && *tail && strcmp(tail, "all") != 0) {
		long long t = strtoll(tail, &end, 10);
		if (*end || t < 0) {
			api_reply_error(call, 400,
					"invalid value for \"tail\": %s", tail);
			return -EINVAL;
		}
		o->tail = t;
	}
	if (since && *since) {
		double v = strtod(since, &end);
		if (*end || v < 0) {
			api_reply_error(call, 400,
					"invalid value for \"since\": %s",
					since);
			return -EINVAL;
		}
		o->since_ns = (int64_t)(v * 1e9);
	}
	if (until && *until && strcmp(until, "0") != 0) {
		api_reply_error(call, 400,
				"\"until\" is not supported for service logs");
		return -EINVAL;
	}
	return 0;
}

static void serve(struct api_call *call, bool of_task)
{
	struct mgr *m = api__svc_manager(call);
	struct mgr_logs_opts o;
	const char *ref = api_param(call, "id");
	char sid[WIRE_ID_MAX + 1] = "", nid[WIRE_ID_MAX + 1], err[300];
	bool tty = false;
	const struct store_object **all = NULL;
	size_t n = 0, k = 0;
	static const struct mgr_logs_cb cb = {on_lines, on_done};
	int rc;
	if (!m || parse_opts(call, &o) < 0)
		return;
	const struct store *s = mgr_store(m);
	const struct store_object *one = NULL;
	if (of_task) {
		one = task_find(s, ref);
		if (!one || !task_fields(one, sid, nid, &tty)) {
			api_reply_error(call, 404, "task %s not found", ref);
			return;
		}
	} else {
		const struct store_object *svc = api__svc_find(s, ref);
		if (!svc) {
			api_reply_error(call, 404, "service %s not found", ref);
			return;
		}
		snprintf(sid, sizeof(sid), "%s", svc->id);
	}
	if (!one && store_list(s, STORE_TASKS, &all, &n) < 0) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	struct mgr_logs_task *ts = shoal_calloc(n ? n : 1, sizeof(*ts));
	char(*nodes)[WIRE_ID_MAX + 1] = shoal_calloc(n ? n : 1, sizeof(*nodes));
	struct slogs *l = shoal_calloc(1, sizeof(*l));
	if (!ts || !nodes || !l) {
		api_reply_error(call, 500, "out of memory");
		goto out;
	}
	if (one) {
		ts[0] = (struct mgr_logs_task){one->id, nid};
		k = 1;
	}
	for (size_t i = 0; i < n; i++) {
		char tsid[WIRE_ID_MAX + 1];
		bool t_tty;
		if (!task_fields(all[i], tsid, nodes[k], &t_tty) ||
		    strcmp(tsid, sid) != 0)
			continue;
		tty |= t_tty;
		ts[k] = (struct mgr_logs_task){all[i]->id, nodes[k]};
		k++;
	}
	buf_init(&l->pending, 64u << 20);
	l->res = call->res;
	l->tty = tty;
	l->timestamps = api__query_bool(call, "timestamps", false);
	l->details = api__query_bool(call, "details", false);
	snprintf(l->service_id, sizeof(l->service_id), "%s", sid);
	/* A followed service: its later tasks too (manager/logs.c). */
	o.service_id = of_task ? NULL : sid;
	rc = mgr_logs_start(m, ts, k, &o, &cb, l, &l->sub, err, sizeof(err));
	if (rc < 0) {
		api_reply_error(call, rc == SHOAL_ENOTLEADER ? 503 : 500, "%s",
				err);
		slogs_free(l);
		l = NULL;
		goto out;
	}
	if (http_response_begin(call->res, 200,
				tty ? "application/vnd.docker.raw-stream"
				    : "application/vnd.docker.multiplexed-"
				      "stream") < 0) {
		mgr_logs_stop(l->sub);
		api_reply_error(call, 500, "out of memory");
		slogs_free(l);
		l = NULL;
		goto out;
	}
	http_response_on_close(call->res, on_gone, l);
	http_response_on_drain(call->res, on_drain, l);
	l = NULL;
out:
	shoal_free(l);
	shoal_free(nodes);
	shoal_free(ts);
	shoal_free(all);
}

static void service_logs(struct api_call *call)
{
	serve(call, false);
}

static void task_logs(struct api_call *call)
{
	serve(call, true);
}

static const struct api_route routes[] = {
	{"GET", "/services/{id}/logs", service_logs},
	{"GET", "/tasks/{id}/logs", task_logs},
};

const struct api_route_table api_service_logs_table = {
	.name = "service-logs",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
