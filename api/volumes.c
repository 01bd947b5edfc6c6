/*
 * Volume routes of the Docker Engine API v1.45 over the runtime's volumes:
 * POST /volumes/create, GET /volumes, GET /volumes/{name}, DELETE
 * /volumes/{name}, POST /volumes/prune. Only the "local" driver exists;
 * another driver is a 400. Labels and driver options are not kept by the
 * runtime, so they are reported as sent only in create's answer. Prune
 * follows Docker since API 1.42: anonymous volumes only, unless the filter
 * all=true asks for every unused one.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *volume_json(const struct rt_volume_info *v)
{
	char created[48];
	time_format_rfc3339(v->created_ns, created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:s, s:{}}", "Name",
			 v->name, "Driver", "local", "Mountpoint",
			 v->mountpoint, "CreatedAt", created, "Labels", "Scope",
			 "local", "Options");
}

static void create(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	json_t *body = NULL;
	char err[256];
	if (call->req->body_len &&
	    jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const char *name = jsonx_str(body, "Name", "");
	const char *driver = jsonx_str(body, "Driver", "local");
	if (*driver && strcmp(driver, "local") != 0) {
		api_reply_error(call, 400,
				"error looking up volume plugin %s: plugin "
				"\"%s\" not found",
				driver, driver);
		json_decref(body);
		return;
	}
	struct rt_volume_info v;
	struct rt_err e = {""};
	int rc = rt_volume_create(st->rt, *name ? name : NULL, &v, &e);
	if (rc < 0) {
		api_reply_error(call, rc == -EINVAL ? 400 : 500, "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		json_decref(body);
		return;
	}
	json_t *o = volume_json(&v);
	const json_t *labels = jsonx_obj(body, "Labels");
	if (o && labels)
		json_object_set(o, "Labels", (json_t *)labels);
	json_decref(body);
	api_reply_json(call, 201, o);
}

static void list(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	struct rt_volume_info *vols;
	size_t n;
	if (rt_volume_list(st->rt, &vols, &n) < 0) {
		api_reply_error(call, 500, "cannot list volumes");
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, volume_json(&vols[i]));
	shoal_free(vols);
	api_reply_json(call, 200,
		       a ? json_pack("{s:o, s:[]}", "Volumes", a, "Warnings")
			 : NULL);
}

static void inspect(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	struct rt_volume_info v;
	const char *name = api_param(call, "name");
	if (rt_volume_inspect(st->rt, name, &v) < 0) {
		api_reply_error(call, 404, "get %s: no such volume", name);
		return;
	}
	api_reply_json(call, 200, volume_json(&v));
}

static void remove_(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	const char *name = api_param(call, "name");
	int rc = rt_volume_remove(st->rt, name);
	if (rc == SHOAL_ENOTFOUND && api__query_bool(call, "force", false))
		rc = 0;
	if (rc == SHOAL_ENOTFOUND) {
		api_reply_error(call, 404, "get %s: no such volume", name);
		return;
	}
	if (rc == SHOAL_ECONFLICT) {
		char users[1024];
		rt_volume_users(st->rt, name, users, sizeof(users));
		api_reply_error(call, 409, "remove %s: volume is in use - [%s]",
				name, users);
		return;
	}
	if (rc < 0) {
		api_reply_error(call, 500, "remove %s: %s", name,
				shoal_strerror(rc));
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

static bool prune_all(struct api_call *call)
{
	const char *f = http_request_query(call->req, "filters");
	json_t *o = NULL;
	bool all = false;
	if (f && *f && jsonx_parse_object(f, strlen(f), &o, NULL, 0) == 0) {
		const json_t *v = json_object_get(o, "all");
		const char *s = json_string_value(json_array_get(v, 0));
		all = s && (!strcmp(s, "true") || !strcmp(s, "1"));
		if (json_is_object(v))
			all = json_object_get(v, "true") != NULL ||
			      json_object_get(v, "1") != NULL;
		json_decref(o);
	}
	return all;
}

static void prune(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	struct rt_volume_info *before, *after;
	size_t nb, na, removed;
	if (rt_volume_list(st->rt, &before, &nb) < 0) {
		api_reply_error(call, 500, "cannot list volumes");
		return;
	}
	int rc = rt_volume_prune(st->rt, prune_all(call), &removed);
	if (rc < 0 || rt_volume_list(st->rt, &after, &na) < 0) {
		shoal_free(before);
		api_reply_error(call, 500, "cannot prune volumes: %s",
				shoal_strerror(rc));
		return;
	}
	json_t *gone = json_array();
	for (size_t i = 0; gone && i < nb; i++) {
		bool still = false;
		for (size_t j = 0; j < na && !still; j++)
			still = !strcmp(before[i].name, after[j].name);
		if (!still)
			json_array_append_new(gone,
					      json_string(before[i].name));
	}
	shoal_free(before);
	shoal_free(after);
	api_reply_json(call, 200,
		       gone ? json_pack("{s:o, s:i}", "VolumesDeleted", gone,
					"SpaceReclaimed", 0)
			    : NULL);
}

static const struct api_route routes[] = {
	{"POST", "/volumes/create", create},
	{"GET", "/volumes", list},
	{"POST", "/volumes/prune", prune},
	{"GET", "/volumes/{name}", inspect},
	{"DELETE", "/volumes/{name}", remove_},
};

const struct api_route_table api_volumes_table = {
	.name = "volumes",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
