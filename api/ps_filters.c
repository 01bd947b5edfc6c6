/*
 * The container list's filters beyond status, name, id, label, exited and
 * ancestor (containers_json.c): before, since, volume, network, health
 * and is-task, as moby's daemon/list.go reads them, and `size`.
 *
 * - before / since: a container (name, id or id prefix); only those
 *   created before / after it. An unknown one is Docker's 404-ish 400
 *   "No such container: x".
 * - volume: a mount's volume name, source or destination.
 * - network: a network the container is connected to (the keys of
 *   NetworkSettings.Networks) or its NetworkMode ("host", "none").
 * - health: Shoal runs no health checks (Healthcheck is refused at
 *   create), so every container's health is "none": "none" keeps all,
 *   starting/healthy/unhealthy keep none, anything else is a 400.
 * - is-task: whether a swarm task made the container (its
 *   com.docker.swarm.task.id label); "true" or "false", else a 400.
 * - size (the query, docker ps -s): SizeRw, the writable layer
 *   (rt_container_rw_size()), and SizeRootFs, that plus the image's size.
 */
#include "api/internal.h"
#include "common/jsonx.h"
#include "image/image.h"

#include <stdio.h>
#include <string.h>

static const char *const more[] = {"before",  "since",	"volume",
				   "network", "health", "is-task"};

bool api__ps_filter_known(const char *k)
{
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		if (!strcmp(k, more[i]))
			return true;
	return false;
}

/* The created time of container @ref; -1 when there is none. */
static int64_t created_of(struct api__state *st, const char *ref)
{
	char id[RT_ID_LEN + 1];
	struct eng_info i;
	int64_t t = -1;
	if (eng_resolve(st->eng, ref, id) == 0 &&
	    eng_inspect(st->eng, id, &i) == 0) {
		t = i.rt.created_ns;
		eng_info_fini(&i);
	}
	return t;
}

int api__ps_filter_check(struct api__state *st, const json_t *f, char *err,
			 size_t cap)
{
	const char *v[API__FILTER_VALUES + 1];
	size_t n = api__filter_values(f, "health", v);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], "none") && strcmp(v[i], "starting") &&
		    strcmp(v[i], "healthy") && strcmp(v[i], "unhealthy")) {
			snprintf(err, cap,
				 "Unrecognised filter value for health: %s",
				 v[i]);
			return -1;
		}
	n = api__filter_values(f, "is-task", v);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], "true") && strcmp(v[i], "false")) {
			snprintf(err, cap, "Invalid filter 'is-task=%s'", v[i]);
			return -1;
		}
	const char *const ts[] = {"before", "since"};
	for (size_t k = 0; k < 2; k++) {
		n = api__filter_values(f, ts[k], v);
		for (size_t i = 0; i < n; i++)
			if (created_of(st, v[i]) < 0) {
				snprintf(err, cap, "No such container: %s",
					 v[i]);
				return -1;
			}
	}
	return 0;
}

static bool any_mount(const json_t *o, const char *const *v, size_t n)
{
	const json_t *ms = json_object_get(o, "Mounts");
	for (size_t k = 0; k < json_array_size(ms); k++) {
		const json_t *m = json_array_get(ms, k);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(jsonx_str(m, "Name", ""), v[i]) ||
			    !strcmp(jsonx_str(m, "Source", ""), v[i]) ||
			    !strcmp(jsonx_str(m, "Destination", ""), v[i]))
				return true;
	}
	return false;
}

static bool any_network(const json_t *o, const char *const *v, size_t n)
{
	const json_t *nets =
		jsonx_obj(jsonx_obj(o, "NetworkSettings"), "Networks");
	const char *mode =
		jsonx_str(jsonx_obj(o, "HostConfig"), "NetworkMode", "");
	for (size_t i = 0; i < n; i++)
		if (json_object_get(nets, v[i]) ||
		    ((!strcmp(v[i], "host") || !strcmp(v[i], "none")) &&
		     !strcmp(mode, v[i])))
			return true;
	return false;
}

bool api__ps_filter_pass(struct api__state *st, const json_t *f,
			 const json_t *o)
{
	const char *v[API__FILTER_VALUES + 1];
	size_t n;
	int64_t mine = created_of(st, jsonx_str(o, "Id", ""));
	if (!f)
		return true;
	n = api__filter_values(f, "before", v);
	for (size_t i = 0; i < n; i++)
		if (mine >= created_of(st, v[i]))
			return false;
	n = api__filter_values(f, "since", v);
	for (size_t i = 0; i < n; i++)
		if (mine <= created_of(st, v[i]))
			return false;
	n = api__filter_values(f, "volume", v);
	if (n && !any_mount(o, v, n))
		return false;
	n = api__filter_values(f, "network", v);
	if (n && !any_network(o, v, n))
		return false;
	n = api__filter_values(f, "health", v);
	bool none = false;
	for (size_t i = 0; i < n; i++)
		none |= !strcmp(v[i], "none");
	if (n && !none)
		return false;
	n = api__filter_values(f, "is-task", v);
	bool task = json_object_get(jsonx_obj(jsonx_obj(o, "Config"), "Labels"),
				    "com.docker.swarm.task.id") != NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], "true") != task)
			return false;
	return true;
}

void api__ps_size(struct api__state *st, const json_t *o, json_t *summary)
{
	uint64_t rw = 0;
	json_int_t image = 0;
	json_t *io = NULL;
	if (rt_container_rw_size(st->rt, jsonx_str(o, "Id", ""), &rw) < 0)
		rw = 0;
	if (st->img && img_inspect_json(st->img, jsonx_str(o, "Image", ""), &io,
					NULL) == 0)
		image = json_integer_value(json_object_get(io, "Size"));
	json_decref(io);
	json_object_set_new(summary, "SizeRw", json_integer((json_int_t)rw));
	json_object_set_new(summary, "SizeRootFs",
			    json_integer((json_int_t)rw + image));
}
