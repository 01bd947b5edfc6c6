/*
 * GET /events (Docker Engine API v1.45, "Monitor events"): the engine's
 * event log (engine/events.c) as a stream of JSON objects, one per line,
 * as Docker's json.Encoder writes them.
 *
 * Query: since and until (unix seconds with an optional fraction, an RFC
 * 3339 date or time, or a Go duration meaning that long ago: Docker's
 * forms, read by eng_parse_until()), filters (type, container, image,
 * volume, event, label, network, node, service, secret, config, plugin,
 * daemon, scope, applied as moby applies them: eng_event_match()).
 * Without since or until only new events are sent; with either, the recorded
 * events in the range are replayed first (the ring keeps the last
 * ENG_EVENT_RING of this daemon's life). With until the stream ends there: at
 * once when it is not in the future, else by a timer. A client that does not
 * read (its queue past the server's limit) is dropped rather than buffered
 * without bound.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>

struct events_op {
	struct http_response *res; /* NULL once finished */
	struct eng_listener *l;
	uv_timer_t timer;
	json_t *filters; /* owns the strings the filter points at */
	const char *vals[14][API__FILTER_VALUES + 1];
	struct eng_event_filter f;
};

static void op_closed(uv_handle_t *h)
{
	struct events_op *op = h->data;
	json_decref(op->filters);
	shoal_free(op);
}

static void op_end(struct events_op *op, bool gone)
{
	if (op->l)
		eng_event_unlisten(op->l);
	op->l = NULL;
	if (op->res && !gone) {
		http_response_on_close(op->res, NULL, NULL);
		http_response_end(op->res);
	}
	op->res = NULL;
	uv_close((uv_handle_t *)&op->timer, op_closed);
}

static void send_msg(const json_t *msg, int64_t t, void *arg)
{
	struct events_op *op = arg;
	if (!op->res || !eng_event_match(&op->f, msg))
		return;
	char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return;
	size_t n = strlen(s);
	int rc = http_response_write(op->res, s, n);
	if (rc == 0)
		rc = http_response_write(op->res, "\n", 1);
	free(s);
	if (rc == -ENOBUFS) {
		log_warn("events client too slow: dropped");
		op_end(op, false);
	}
}

static void on_live(const json_t *msg, int64_t t, void *arg)
{
	send_msg(msg, t, arg);
}

static void until_due(uv_timer_t *t)
{
	op_end(t->data, false);
}

static void client_gone(struct http_response *res, void *arg)
{
	op_end(arg, true);
}

static int parse_time(struct api_call *call, const char *name, int64_t now,
		      int64_t *out)
{
	const char *v = http_request_query(call->req, name);
	*out = 0;
	if (!v || !*v)
		return 0;
	if (eng_parse_until(v, now, out) < 0) {
		api_reply_error(call, 400,
				"failed to parse value as time or duration: "
				"\"%s\"",
				v);
		return -1;
	}
	return 1;
}

static void events(struct api_call *call)
{
	static const char *const known[] = {
		"type",	  "container", "image",	 "volume",  "event",
		"label",  "network",   "node",	 "service", "secret",
		"config", "plugin",    "daemon", "scope",   NULL};
	struct api__state *st = api__need(call);
	char err[256];
	int64_t now = time_real_ns(), since, until;
	if (!st)
		return;
	int has_since = parse_time(call, "since", now, &since);
	int has_until =
		has_since < 0 ? -1 : parse_time(call, "until", now, &until);
	if (has_since < 0 || has_until < 0)
		return;
	struct events_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &op->filters, err, sizeof(err)) < 0) {
		shoal_free(op);
		api_reply_error(call, 400, "%s", err);
		return;
	}
	for (size_t i = 0; known[i]; i++)
		api__filter_values(op->filters, known[i], op->vals[i]);
	op->f = (struct eng_event_filter){
		.type = op->vals[0],
		.container = op->vals[1],
		.image = op->vals[2],
		.volume = op->vals[3],
		.event = op->vals[4],
		.labels = {.want = op->vals[5], .reject = NULL},
		.network = op->vals[6],
		.node = op->vals[7],
		.service = op->vals[8],
		.secret = op->vals[9],
		.config = op->vals[10],
		.plugin = op->vals[11],
		.daemon = op->vals[12],
		.scope = op->vals[13],
	};
	if (http_response_begin(call->res, 200, "application/json") < 0) {
		json_decref(op->filters);
		shoal_free(op);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->res = call->res;
	uv_timer_init(st->loop, &op->timer);
	op->timer.data = op;
	http_response_on_close(call->res, client_gone, op);
	if (has_since || has_until)
		eng_event_replay(st->eng, has_since ? since : 0,
				 has_until ? until : 0, send_msg, op);
	if (!op->res)
		return; /* dropped during the replay */
	if (has_until && until <= now) {
		op_end(op, false);
		return;
	}
	int rc = eng_event_listen(st->eng, on_live, op, &op->l);
	if (rc < 0) {
		log_warn("events: cannot listen: %s", shoal_strerror(rc));
		http_response_on_close(op->res, NULL, NULL);
		http_response_abort(op->res);
		op->res = NULL;
		op_end(op, true);
		return;
	}
	if (has_until)
		uv_timer_start(&op->timer, until_due,
			       (uint64_t)(until - now) / 1000000 + 1, 0);
}

static const struct api_route routes[] = {
	{"GET", "/events", events},
};

const struct api_route_table api_events_table = {
	.name = "events",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
