/*
 * The API's state beside the engine (struct api__state in internal.h):
 * the borrowed engine, runtime and image store, the exec instances and
 * the attach streams waiting for a start; plus helpers the container
 * routes share (Docker's status text, boolean queries, /info counts).
 *
 * Containers themselves, their records, exit watches, waiters, restart
 * policies and auto-remove live in the engine (engine/engine.h). The API
 * subscribes to its events for one thing: a start, by a client or by a
 * restart policy, connects the attach streams waiting for it.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void on_event(const struct eng_event *ev, void *arg)
{
	if (ev->type == ENG_EVENT_START)
		api__attach_started(arg, ev->id);
}

int api__state_new(const struct api_services *svc, struct api__state **out)
{
	struct api__state *st = shoal_calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	st->eng = svc->engine;
	st->rt = eng_runtime(svc->engine);
	st->img = eng_images(svc->engine);
	st->loop = svc->loop;
	st->data_root = svc->data_root;
	list_init(&st->exec_lru);
	list_init(&st->attaches);
	rc = eng_subscribe(st->eng, on_event, st, &st->sub);
	if (rc < 0) {
		shoal_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void api__state_free(struct api__state *st)
{
	if (!st)
		return;
	eng_unsubscribe(st->sub);
	api__exec_free_all(st);
	hmap_fini(&st->execs);
	shoal_free(st);
}

void api_counts_fill(struct api *api, struct api_counts *out)
{
	struct api__state *st = api__state_for(api);
	struct eng_counts c;
	json_t *l = NULL;

	memset(out, 0, sizeof(*out));
	if (!st)
		return;
	eng_counts(st->eng, &c);
	out->containers_running = c.running;
	out->containers_paused = c.paused;
	out->containers_stopped = c.stopped;
	if (st->img && img_list_json(st->img, &l, NULL) == 0) {
		out->images = (int)json_array_size(l);
		json_decref(l);
	}
}

/* --- helpers -------------------------------------------------------------- */

struct api__state *api__need(struct api_call *call)
{
	struct api__state *st = api__state_of(call);
	if (!st)
		api_reply_error(call, 501,
				"this daemon runs without a container runtime");
	return st;
}

bool api__query_bool(const struct api_call *call, const char *name, bool def)
{
	const char *v = http_request_query(call->req, name);
	if (!v)
		return def;
	if (!*v)
		return true;
	return strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
	       strcasecmp(v, "yes") == 0;
}

void api__status_text(const struct eng_info *info, char *out, size_t cap)
{
	const struct rt_info *i = &info->rt;
	int64_t now = time_real_ns();
	char d[64];

	switch (info->state) {
	case ENG_STATE_RUNNING:
	case ENG_STATE_PAUSED:
		time_format_human((now - i->started_ns) / NSEC_PER_SEC, d,
				  sizeof(d));
		snprintf(out, cap, "Up %s%s%s%s%s", d,
			 info->health_status ? " (" : "",
			 info->health_status && !strcmp(info->health_status,
							"starting")
				 ? "health: "
				 : "",
			 info->health_status ? info->health_status : "",
			 info->health_status ? ")" : "");
		if (info->state == ENG_STATE_PAUSED)
			snprintf(out + strlen(out), cap - strlen(out),
				 " (Paused)");
		break;
	case ENG_STATE_RESTARTING:
	case ENG_STATE_EXITED:
		if (i->finished_ns <= 0) {
			snprintf(out, cap, "%s (%d)",
				 info->state == ENG_STATE_EXITED ? "Exited"
								 : "Restarting",
				 i->exit_code);
			break;
		}
		time_format_human((now - i->finished_ns) / NSEC_PER_SEC, d,
				  sizeof(d));
		snprintf(out, cap, "%s (%d) %s ago",
			 info->state == ENG_STATE_EXITED ? "Exited"
							 : "Restarting",
			 i->exit_code, d);
		break;
	default:
		snprintf(out, cap, "Created");
	}
}
