/*
 * Answers that wait for the managers (api/swarm.h, struct api__answer): a
 * swarm or node change is committed through Raft some milliseconds after
 * the request, so the handler keeps the response and this answers it when
 * the change's callback runs. If the client leaves first (or the server
 * shuts down), the close callback marks the wait orphaned and the later
 * callback only frees it: the change itself still happens, as Docker's
 * does when a client disconnects.
 */
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "manager/manager.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct api__answer {
	struct http_response *res; /* NULL once the client is gone */
	json_t *body;		   /* success body; NULL: empty 200 */
};

static void client_gone(struct http_response *res, void *arg)
{
	struct api__answer *w = arg;
	w->res = NULL;
}

struct api__answer *api__answer_new(struct api_call *call)
{
	struct api__answer *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->res = call->res;
	http_response_on_close(call->res, client_gone, w);
	return w;
}

void api__answer_set_body(struct api__answer *w, json_t *body)
{
	json_decref(w->body);
	w->body = body;
}

void api__answer_cancel(struct api__answer *w)
{
	if (w->res)
		http_response_on_close(w->res, NULL, NULL);
	json_decref(w->body);
	shoal_free(w);
}

int api__status_of(int rc)
{
	switch (rc) {
	case -EINVAL:
	case SHOAL_ETOKEN:
		return 400;
	case SHOAL_ECONFLICT:
		return 400;
	case SHOAL_ENOTFOUND:
		return 404;
	case -EEXIST:
	case SHOAL_ENOTLEADER:
	case -ECANCELED:
		return 503;
	case -ENOTSUP:
		return 501;
	default:
		return 500;
	}
}

void api__answer_done(void *arg, int rc, const char *msg)
{
	struct api__answer *w = arg;
	if (w->res) {
		http_response_on_close(w->res, NULL, NULL);
		if (rc == SHOAL_ESTALE) {
			http_response_send_error(
				w->res, 500,
				"rpc error: code = Unknown desc = update out "
				"of sequence");
		} else if (rc < 0) {
			http_response_send_error(
				w->res, api__status_of(rc),
				msg && *msg ? msg : shoal_strerror(rc));
		} else if (w->body) {
			size_t len;
			char *s = jsonx_dump(w->body, &len);
			if (s)
				http_response_send(w->res, 200,
						   "application/json", s, len);
			else
				http_response_send_error(w->res, 500,
							 "out of memory");
			shoal_free(s);
		} else {
			http_response_send(w->res, 200, NULL, NULL, 0);
		}
	}
	json_decref(w->body);
	shoal_free(w);
}

/* --- reads after a sync ---------------------------------------------------
 *
 * A read at a follower first asks the leader how far the log was committed
 * and waits until this manager has applied that far (mgr_sync()), so a
 * client sees its own writes whichever manager it asks. The handler then
 * runs on a copy of the call (path parameters copied: the router's buffer
 * is gone by then). If the sync fails (no leader reachable: a partition, a
 * dead leader not yet replaced) the read is served from the local copy
 * rather than refused: possibly stale, but the cluster stays observable.
 */
struct deferred {
	struct api_call call;
	char names[API_MAX_PARAMS][32]; /* the router's live on its stack */
	char *values[API_MAX_PARAMS];
	api_handler_fn *fn;
	bool gone;
};

static void deferred_free(struct deferred *d)
{
	for (size_t i = 0; i < d->call.nparams; i++)
		shoal_free(d->values[i]);
	shoal_free(d);
}

static void deferred_gone(struct http_response *res, void *arg)
{
	struct deferred *d = arg;
	d->gone = true;
}

static void synced(void *arg, int rc, const char *msg)
{
	struct deferred *d = arg;
	if (!d->gone) {
		http_response_on_close(d->call.res, NULL, NULL);
		d->fn(&d->call);
	}
	deferred_free(d);
}

void api__after_sync(struct api_call *call, struct mgr *m, api_handler_fn *fn)
{
	struct deferred *d = shoal_calloc(1, sizeof(*d));
	bool ok = d != NULL;
	for (size_t i = 0; ok && i < call->nparams; i++) {
		ok = (d->values[i] = shoal_strdup(call->param_values[i])) !=
		     NULL;
		snprintf(d->names[i], sizeof(d->names[i]), "%s",
			 call->param_names[i]);
	}
	if (!ok) {
		if (d) {
			d->call.nparams = call->nparams;
			deferred_free(d);
		}
		fn(call); /* no memory to wait: answer from here */
		return;
	}
	d->call = *call;
	for (size_t i = 0; i < call->nparams; i++) {
		d->call.param_names[i] = d->names[i];
		d->call.param_values[i] = d->values[i];
	}
	d->fn = fn;
	http_response_on_close(call->res, deferred_gone, d);
	char err[200];
	if (mgr_sync(m, synced, d, err, sizeof(err)) < 0) {
		http_response_on_close(call->res, NULL, NULL);
		deferred_free(d);
		fn(call);
	}
}
