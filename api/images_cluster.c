/*
 * Which nodes of the swarm hold which images (issue 14): GET
 * /swarm/images, Shoal's own route under the Engine API's namespace
 * (Docker has none; `shoal image ls --cluster` reads it). Each node reports
 * its images in its heartbeats and the leader keeps the last report in
 * the node's status (manager/node_images.c); this route reads the store
 * after mgr_sync(), as the node routes do, and groups the reports by
 * image:
 *
 *   {"Images": [{"Id", "RepoTags", "Layers", "Nodes": [{"ID",
 *    "Hostname", "State"}]}], "TruncatedNodes": [node ids]}
 *
 * Images by id; a RepoTags is the union of the nodes' tags, sorted; Nodes
 * by hostname. A node whose report had to be cut (more than
 * WIRE_IMAGES_MAX images) is named in TruncatedNodes: it may hold more
 * than the list says. The route takes no parameters and refuses any.
 */
#include "api/internal.h"
#include "api/services_common.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/manager.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

static int cmp_host(const void *a, const void *b)
{
	return strcmp(jsonx_str(*(json_t *const *)a, "Hostname", ""),
		      jsonx_str(*(json_t *const *)b, "Hostname", ""));
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(jsonx_str(*(json_t *const *)a, "Id", ""),
		      jsonx_str(*(json_t *const *)b, "Id", ""));
}

/* @a's items sorted by @cmp, in place. */
static int sort_array(json_t *a, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(a);
	json_t **v = shoal_calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof(*v), cmp);
	json_array_clear(a);
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		rc |= json_array_append_new(a, v[i]);
	shoal_free(v);
	return rc ? -ENOMEM : 0;
}

static bool has_str(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

/* Image @im (one of a node's report) into @by_id under @node. */
static int add_image(json_t *by_id, const json_t *im, const json_t *node)
{
	const char *id = jsonx_str(im, "Id", NULL);
	if (!id)
		return 0;
	json_t *e = json_object_get(by_id, id);
	if (!e) {
		json_t *layers = json_object_get(im, "Layers");
		e = json_pack("{s:s, s:[], s:o, s:[]}", "Id", id, "RepoTags",
			      "Layers",
			      layers ? json_incref(layers) : json_array(),
			      "Nodes");
		if (!e || json_object_set_new(by_id, id, e) < 0)
			return -ENOMEM;
	}
	int rc = json_array_append(json_object_get(e, "Nodes"), (json_t *)node);
	json_t *tags = json_object_get(e, "RepoTags");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(im, "RepoTags"), i, t)
	{
		if (json_is_string(t) && !has_str(tags, json_string_value(t)))
			rc |= json_array_append(tags, t);
	}
	return rc ? -ENOMEM : 0;
}

static int add_node(json_t *by_id, json_t *cut, const struct store_object *o)
{
	json_t *st = api__obj_parsed(o->status, o->status_len);
	json_t *report = jsonx_obj(st, "Images");
	json_t *node = json_pack(
		"{s:s, s:s, s:s}", "ID", o->id, "Hostname",
		jsonx_str(jsonx_obj(st, "Description"), "Hostname", ""),
		"State",
		jsonx_str(jsonx_obj(st, "Status"), "State", "unknown"));
	int rc = st && node ? 0 : -ENOMEM;
	size_t i;
	json_t *im;
	json_array_foreach(json_object_get(report, "Images"), i, im)
	{
		if (rc == 0)
			rc = add_image(by_id, im, node);
	}
	if (rc == 0 && json_is_true(json_object_get(report, "Truncated")))
		rc = json_array_append_new(cut, json_string(o->id)) ? -ENOMEM
								    : 0;
	json_decref(node);
	json_decref(st);
	return rc;
}

/* The answer's body from every node object in @all, or NULL (no memory). */
static json_t *cluster_images(const struct store_object **all, size_t n)
{
	json_t *by_id = json_object(), *cut = json_array();
	json_t *list = json_array();
	int rc = by_id && cut && list ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_node(by_id, cut, all[i]);
	const char *k;
	json_t *e;
	json_object_foreach(by_id, k, e)
	{
		if (rc == 0)
			rc = sort_array(json_object_get(e, "RepoTags"),
					cmp_str);
		if (rc == 0)
			rc = sort_array(json_object_get(e, "Nodes"), cmp_host);
		if (rc == 0)
			rc = json_array_append(list, e) ? -ENOMEM : 0;
	}
	if (rc == 0)
		rc = sort_array(list, cmp_id);
	json_decref(by_id);
	if (rc < 0) {
		json_decref(cut);
		json_decref(list);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "Images", list, "TruncatedNodes", cut);
}

static void cluster_images_now(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const struct store_object **all;
	size_t n;
	if (store_list(mgr_store(m), STORE_NODES, &all, &n) < 0) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	json_t *body = cluster_images(all, n);
	shoal_free(all);
	if (!body)
		api_reply_error(call, 500, "out of memory");
	else
		api_reply_json(call, 200, body);
}

static void cluster_images_get(struct api_call *call)
{
	if (call->req->nquery > 0) {
		api_reply_error(call, 400,
				"unknown parameter '%s': GET /swarm/images "
				"takes none",
				call->req->query[0].name);
		return;
	}
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, cluster_images_now);
}

static const struct api_route routes[] = {
	{"GET", "/swarm/images", cluster_images_get},
};

const struct api_route_table api_images_cluster_table = {
	.name = "images_cluster",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
