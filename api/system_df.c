/*
 * GET /system/df (docker system df [-v]) and POST /build/prune, the part
 * of docker system prune that is not a route of its own elsewhere
 * (containers, images, volumes and networks each have theirs).
 *
 * Every size is measured at the request, never assumed: an image's Size
 * is what the image store recorded for its layers, a container's SizeRw
 * is its writable layer walked as Docker walks it
 * (rt_container_rw_size()) and SizeRootFs that plus its image, a volume's
 * UsageData.Size its _data folder (rt_volume_size()) with RefCount the
 * containers that mount it. LayersSize is the images' sizes summed: Shoal
 * keeps each image's layers in a folder of its own, so nothing is shared
 * and SharedSize is 0. The `type` query (container, image, volume,
 * build-cache) limits the work to those parts; an unknown type is a 400.
 * Shoal has no builder: BuildCache is empty and /build/prune reclaims 0.
 */
#include "api/internal.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "image/image.h"

#include <stdio.h>
#include <string.h>

static json_t *df_images(struct api__state *st, json_int_t *layers)
{
	json_t *list = NULL;
	*layers = 0;
	if (!st->img || img_list_json(st->img, &list, NULL) < 0)
		return json_array();
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *im = json_array_get(list, i);
		*layers += jsonx_int(im, "Size", 0);
		json_object_set_new(im, "SharedSize", json_integer(0));
	}
	return list;
}

static json_t *df_container(struct api__state *st, const char *id)
{
	json_t *o = api__container_json(st, id);
	struct eng_info info;
	char status[128] = "";
	if (!o)
		return NULL;
	if (eng_inspect(st->eng, id, &info) == 0) {
		api__status_text(&info, status, sizeof(status));
		eng_info_fini(&info);
	}
	const json_t *cfg = jsonx_obj(o, "Config");
	const json_t *labels = jsonx_obj(cfg, "Labels");
	char cmd[4096];
	size_t n = (size_t)snprintf(cmd, sizeof(cmd), "%s",
				    jsonx_str(o, "Path", ""));
	const json_t *args = json_object_get(o, "Args");
	for (size_t i = 0; i < json_array_size(args) && n < sizeof(cmd); i++)
		n += (size_t)snprintf(
			cmd + n, sizeof(cmd) - n, " %s",
			json_string_value(json_array_get(args, i)));
	int64_t created = 0;
	struct eng_info ci;
	if (eng_inspect(st->eng, id, &ci) == 0) {
		created = ci.rt.created_ns / 1000000000;
		eng_info_fini(&ci);
	}
	const json_t *m = json_object_get(o, "Mounts");
	json_t *lab = labels ? json_deep_copy(labels) : json_object();
	json_t *mounts = json_is_array(m) ? json_deep_copy(m) : json_array();
	json_t *s = json_pack(
		"{s:s, s:[s], s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:o, s:[]}",
		"Id", id, "Names", jsonx_str(o, "Name", "/"), "Image",
		jsonx_str(cfg, "Image", ""), "ImageID",
		jsonx_str(o, "Image", ""), "Command", cmd, "Created",
		(json_int_t)created, "Labels", lab, "State",
		jsonx_str(jsonx_obj(o, "State"), "Status", ""), "Status",
		status, "Mounts", mounts, "Ports");
	if (s)
		api__ps_size(st, o, s);
	json_decref(o);
	return s;
}

static json_t *df_containers(struct api__state *st)
{
	char **ids;
	size_t n;
	json_t *a = json_array();
	if (!a || eng_list(st->eng, &ids, &n) < 0)
		return a;
	for (size_t i = 0; i < n; i++) {
		json_t *c = df_container(st, ids[i]);
		if (c)
			json_array_append_new(a, c);
	}
	rt_list_free(ids, n);
	return a;
}

static json_t *df_volumes(struct api__state *st)
{
	struct eng_volume *v;
	size_t n;
	json_t *a = json_array();
	if (!a || eng_volume_list(st->eng, NULL, &v, &n) < 0)
		return a;
	for (size_t i = 0; i < n; i++) {
		uint64_t bytes = 0;
		char created[48];
		if (rt_volume_size(st->rt, v[i].rt.name, &bytes) < 0)
			bytes = 0;
		time_format_rfc3339(v[i].rt.created_ns, created,
				    sizeof(created));
		json_array_append_new(
			a,
			json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:{}, "
				  "s:{s:I, s:I}}",
				  "Name", v[i].rt.name, "Driver", "local",
				  "Mountpoint", v[i].rt.mountpoint, "CreatedAt",
				  created, "Labels", v[i].labels, "Scope",
				  "local", "Options", "UsageData", "Size",
				  (json_int_t)bytes, "RefCount",
				  (json_int_t)v[i].rt.ref_count));
	}
	eng_volume_list_free(v, n);
	return a;
}

static void df(struct api_call *call)
{
	static const char *const types[] = {"container", "image", "volume",
					    "build-cache"};
	bool want[4] = {true, true, true, true};
	struct api__state *st = api__need(call);
	bool any = false;
	if (!st)
		return;
	for (size_t i = 0; i < call->req->nquery; i++) {
		const char *v = call->req->query[i].value;
		size_t k = 0;
		if (strcmp(call->req->query[i].name, "type") != 0)
			continue;
		while (k < 4 && strcmp(v, types[k]) != 0)
			k++;
		if (k == 4) {
			api_reply_error(call, 400, "unknown object type: %s",
					v);
			return;
		}
		if (!any)
			memset(want, 0, sizeof(want));
		any = want[k] = true;
	}
	json_int_t layers = 0;
	json_t *o = json_object();
	if (want[1])
		json_object_set_new(o, "Images", df_images(st, &layers));
	json_object_set_new(o, "LayersSize", json_integer(layers));
	if (want[0])
		json_object_set_new(o, "Containers", df_containers(st));
	if (want[2])
		json_object_set_new(o, "Volumes", df_volumes(st));
	if (want[3])
		json_object_set_new(o, "BuildCache", json_array());
	api_reply_json(call, 200, o);
}

/* docker system prune asks the builder too; Shoal has none. */
static void build_prune(struct api_call *call)
{
	static const char *const known[] = {"until",  "id",	     "parent",
					    "type",   "description", "inuse",
					    "shared", "private",     NULL};
	json_t *f = NULL;
	char err[256];
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	json_decref(f);
	api_reply_json(
		call, 200,
		json_pack("{s:[], s:i}", "CachesDeleted", "SpaceReclaimed", 0));
}

static const struct api_route routes[] = {
	{"GET", "/system/df", df},
	{"POST", "/build/prune", build_prune},
};

const struct api_route_table api_system_df_table = {
	.name = "system-df",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
