/*
 * Volume routes of the Docker Engine API v1.45 over the engine's volumes
 * (engine/engine.h): POST /volumes/create, GET /volumes, GET
 * /volumes/{name}, DELETE /volumes/{name}, POST /volumes/prune. Only the
 * "local" driver exists; another driver, or driver options, are a 400.
 *
 * Filters are Docker's. List: name (substring), driver, dangling
 * (true/false/1/0), label (key or key=value). Prune: label, label!, all;
 * what prune takes depends on the request's version, as in Docker (moby
 * api/server/router/volume): below API 1.42 every unused volume, from
 * 1.42 on anonymous ones only unless all=true. SpaceReclaimed is what the
 * removed volumes' data used.
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

static json_t *volume_json(const struct eng_volume *v)
{
	char created[48];
	time_format_rfc3339(v->rt.created_ns, created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:{}}", "Name",
			 v->rt.name, "Driver", "local", "Mountpoint",
			 v->rt.mountpoint, "CreatedAt", created, "Labels",
			 v->labels, "Scope", "local", "Options");
}

/* Labels ({"k": "v"}) of a create body as "k=v" strings in @buf. */
static int label_terms(const json_t *labels, char *buf, size_t cap,
		       const char *out[API__FILTER_VALUES + 1], char *err,
		       size_t errcap)
{
	const char *k;
	json_t *v;
	size_t n = 0, used = 0;

	json_object_foreach((json_t *)labels, k, v)
	{
		int w;
		if (!json_is_string(v)) {
			snprintf(err, errcap, "label %s must be a string", k);
			return -EINVAL;
		}
		w = snprintf(buf + used, cap - used, "%s=%s", k,
			     json_string_value(v));
		if (n == API__FILTER_VALUES || w < 0 ||
		    (size_t)w >= cap - used) {
			snprintf(err, errcap, "too many or too long labels");
			return -EINVAL;
		}
		out[n++] = buf + used;
		used += (size_t)w + 1;
	}
	out[n] = NULL;
	return 0;
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
	const json_t *opts = json_object_get(body, "DriverOpts");
	if (json_is_object(opts) && json_object_size(opts)) {
		api_reply_error(call, 400, "DriverOpts is not supported yet");
		json_decref(body);
		return;
	}
	const char *terms[API__FILTER_VALUES + 1];
	char buf[16384];
	if (label_terms(jsonx_obj(body, "Labels"), buf, sizeof(buf), terms, err,
			sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		json_decref(body);
		return;
	}
	struct eng_volume v;
	struct shoal_err e = {""};
	int rc = eng_volume_create(st->eng, *name ? name : NULL, terms, &v, &e);
	json_decref(body);
	if (rc < 0) {
		api_reply_error(call, rc == -EINVAL ? 400 : 500, "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	api_reply_json(call, 201, volume_json(&v));
	eng_volume_fini(&v);
}

/* dangling=true|1 / false|0 into -1 (absent), 1, 0; -EINVAL. */
static int dangling_of(const char *const *v, int *out)
{
	*out = -1;
	for (size_t i = 0; v[i]; i++) {
		int d = !strcmp(v[i], "true") || !strcmp(v[i], "1")    ? 1
			: !strcmp(v[i], "false") || !strcmp(v[i], "0") ? 0
								       : -1;
		if (d < 0 || (*out >= 0 && *out != d))
			return -EINVAL;
		*out = d;
	}
	return 0;
}

static void list(struct api_call *call)
{
	static const char *const known[] = {"name", "driver", "dangling",
					    "label", NULL};
	const char *names[API__FILTER_VALUES + 1];
	const char *drivers[API__FILTER_VALUES + 1];
	const char *dangling[API__FILTER_VALUES + 1];
	const char *labels[API__FILTER_VALUES + 1];
	struct api__state *st = api__need(call);
	json_t *f;
	char err[256];
	if (!st)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "name", names);
	api__filter_values(f, "driver", drivers);
	api__filter_values(f, "dangling", dangling);
	api__filter_values(f, "label", labels);
	struct eng_volume_filter vf = {names, drivers, -1, {labels, NULL}};
	if (dangling_of(dangling, &vf.dangling) < 0) {
		api_reply_error(call, 400, "invalid filter 'dangling=%s'",
				dangling[0]);
		json_decref(f);
		return;
	}
	struct eng_volume *vols;
	size_t n;
	int rc = eng_volume_list(st->eng, &vf, &vols, &n);
	json_decref(f);
	if (rc < 0) {
		api_reply_error(call, 500, "cannot list volumes");
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, volume_json(&vols[i]));
	eng_volume_list_free(vols, n);
	api_reply_json(call, 200,
		       a ? json_pack("{s:o, s:[]}", "Volumes", a, "Warnings")
			 : NULL);
}

static void inspect(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	struct eng_volume v;
	const char *name = api_param(call, "name");
	if (eng_volume_inspect(st->eng, name, &v) < 0) {
		api_reply_error(call, 404, "get %s: no such volume", name);
		return;
	}
	api_reply_json(call, 200, volume_json(&v));
	eng_volume_fini(&v);
}

static void remove_(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	const char *name = api_param(call, "name");
	int rc = eng_volume_remove(st->eng, name);
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

/* The `all` filter: -1 absent, else 0 or 1; -EINVAL. */
static int all_of(const char *const *v, int *out)
{
	*out = -1;
	for (size_t i = 0; v[i]; i++) {
		if (!strcmp(v[i], "true") || !strcmp(v[i], "1"))
			*out = 1;
		else if (!strcmp(v[i], "false") || !strcmp(v[i], "0"))
			*out = *out < 0 ? 0 : *out;
		else
			return -EINVAL;
	}
	return 0;
}

static void prune(struct api_call *call)
{
	static const char *const known[] = {"label", "label!", "all", NULL};
	const char *want[API__FILTER_VALUES + 1];
	const char *reject[API__FILTER_VALUES + 1];
	const char *allv[API__FILTER_VALUES + 1];
	struct api__state *st = api__need(call);
	json_t *f;
	char err[256];
	int all;
	if (!st)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "label", want);
	api__filter_values(f, "label!", reject);
	api__filter_values(f, "all", allv);
	if (all_of(allv, &all) < 0) {
		api_reply_error(call, 400, "invalid filter 'all=%s'", allv[0]);
		json_decref(f);
		return;
	}
	/* Before API 1.42 prune took every unused volume (Docker adds
	 * all=true for such clients). */
	if (call->version_minor < 42)
		all = 1;
	struct eng_label_filter lf = {want, reject};
	struct eng_pruned p;
	int rc = eng_volume_prune(st->eng, &lf, all == 1, &p);
	json_decref(f);
	api__reply_pruned(call, rc, "volumes", "VolumesDeleted", &p);
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
