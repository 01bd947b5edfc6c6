/*
 * Answers that wait for the managers (api/swarm.h, struct api__wait): a
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

#include <errno.h>
#include <string.h>

struct api__wait {
	struct http_response *res; /* NULL once the client is gone */
	json_t *body;		   /* success body; NULL: empty 200 */
};

static void client_gone(struct http_response *res, void *arg)
{
	struct api__wait *w = arg;
	w->res = NULL;
}

struct api__wait *api__wait_new(struct api_call *call)
{
	struct api__wait *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->res = call->res;
	http_response_on_close(call->res, client_gone, w);
	return w;
}

void api__wait_set_body(struct api__wait *w, json_t *body)
{
	json_decref(w->body);
	w->body = body;
}

void api__wait_cancel(struct api__wait *w)
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

void api__wait_done(void *arg, int rc, const char *msg)
{
	struct api__wait *w = arg;
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
