/*
 * GET /containers/json and GET /containers/{id}/json (Docker Engine API
 * v1.45, "ContainerList" and "ContainerInspect"). The engine's snapshot
 * (the runtime's state, pid, times, exit code and normalised config; the
 * record's resolved command, environment, labels, restart policy and
 * count; Config and HostConfig as the client sent them) is merged into
 * Docker's shapes. Fields Shoal has no notion of (ports, networks beyond
 * the container's own namespace) carry Docker's neutral values so strict
 * decoders are content.
 *
 * List filters (the `filters` query: a JSON map of lists, or the older map
 * of maps): status, name (substring, as Docker's regular expression of a
 * plain name), id (prefix), label ("key" or "key=value"), exited (exit
 * code), ancestor (image reference as created, or image id prefix). Unknown
 * filter names are a 400, as in Docker. The list is newest first.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *time_str(int64_t ns)
{
	char b[48];
	if (ns <= 0)
		return json_string("0001-01-01T00:00:00Z");
	time_format_rfc3339(ns, b, sizeof(b));
	return json_string(b);
}

static json_t *state_json(const struct eng_info *e)
{
	const struct rt_info *i = &e->rt;
	json_t *o = json_object();
	int rc = 0;
	bool ended = e->state == ENG_STATE_EXITED ||
		     e->state == ENG_STATE_RESTARTING;
	rc |= jsonx_set(o, "Status", json_string(eng_state_name(e->state)));
	rc |= jsonx_set(o, "Running", json_boolean(e->running));
	rc |= jsonx_set(o, "Paused",
			json_boolean(e->state == ENG_STATE_PAUSED));
	rc |= jsonx_set(o, "Restarting",
			json_boolean(e->state == ENG_STATE_RESTARTING));
	rc |= jsonx_set(o, "OOMKilled", json_boolean(i->oom_killed));
	rc |= jsonx_set(o, "Dead", json_false());
	rc |= jsonx_set(o, "Pid", json_integer(i->pid));
	rc |= jsonx_set(o, "ExitCode", json_integer(ended ? i->exit_code : 0));
	rc |= jsonx_set(o, "Error", json_string(i->error ? i->error : ""));
	rc |= jsonx_set(o, "StartedAt", time_str(i->started_ns));
	rc |= jsonx_set(o, "FinishedAt", time_str(i->finished_ns));
	if (e->health)
		rc |= jsonx_set(o, "Health", json_incref(e->health));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Mounts as Docker shows them, from the runtime's config.json. */
static json_t *mounts_json(const json_t *rcfg)
{
	json_t *out = json_array();
	const json_t *ms = json_object_get(rcfg, "mounts");
	size_t i;
	const json_t *m;
	if (!json_is_array(ms))
		return out;
	for (i = 0; i < json_array_size(ms); i++) {
		m = json_array_get(ms, i);
		const char *kind = jsonx_str(m, "kind", "");
		const char *type = !strcmp(kind, "tmpfs")  ? "tmpfs"
				   : !strcmp(kind, "bind") ? "bind"
							   : "volume";
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", type,
			"Source", jsonx_str(m, "source", ""), "Destination",
			jsonx_str(m, "target", ""), "Mode", "", "RW",
			!jsonx_bool(m, "readonly", false), "Propagation",
			!strcmp(type, "bind") ? "rprivate" : "");
		const char *vol = jsonx_str(m, "volume", NULL);
		if (o && vol) {
			json_object_set_new(o, "Name", json_string(vol));
			json_object_set_new(o, "Driver", json_string("local"));
		}
		if (o)
			json_array_append_new(out, o);
	}
	return out;
}

static json_t *network_settings(void)
{
	return json_pack("{s:s, s:b, s:{}, s:s, s:s, s:i, s:s, s:s, s:{}}",
			 "Bridge", "", "HairpinMode", 0, "Ports", "SandboxKey",
			 "", "Gateway", "", "IPPrefixLen", 0, "IPAddress", "",
			 "MacAddress", "", "Networks");
}

/*
 * HostConfig.Links as Docker shows them, "/NAME:/ME/ALIAS" (NAME the linked
 * container's current name): the record keeps what the client sent,
 * "NAME[:ALIAS]".
 */
static void links_docker(struct api__state *st, json_t *hc, const char *me)
{
	json_t *links = json_object_get(hc, "Links"), *out, *v;
	size_t i;
	if (!json_is_array(links) || !(out = json_array()))
		return;
	json_array_foreach(links, i, v)
	{
		const char *s = json_string_value(v), *colon, *alias;
		char name[RT_NAME_MAX + 2], text[3 * RT_NAME_MAX + 8];
		struct eng_info li;
		if (!s)
			continue;
		s += *s == '/';
		colon = strchr(s, ':');
		snprintf(name, sizeof(name), "%.*s",
			 colon ? (int)(colon - s) : (int)strlen(s), s);
		alias = colon ? colon + 1 : name;
		if (strrchr(alias, '/'))
			alias = strrchr(alias, '/') + 1;
		if (eng_inspect(st->eng, name, &li) == 0) {
			if (li.rt.name)
				snprintf(name, sizeof(name), "%s", li.rt.name);
			eng_info_fini(&li);
		}
		snprintf(text, sizeof(text), "/%s:%s/%s", name, me, alias);
		json_array_append_new(out, json_string(text));
	}
	json_object_set_new(hc, "Links", out);
}

static json_t *host_config(const json_t *ann)
{
	json_t *hc = json_deep_copy(jsonx_obj(ann, "HostConfig"));
	if (!hc)
		hc = json_object();
	if (!hc)
		return NULL;
	if (!json_object_get(hc, "NetworkMode"))
		json_object_set_new(hc, "NetworkMode", json_string("none"));
	if (!json_object_get(hc, "LogConfig"))
		json_object_set_new(hc, "LogConfig",
				    json_pack("{s:s, s:{}}", "Type",
					      "json-file", "Config"));
	if (!*jsonx_str(hc, "Runtime", ""))
		json_object_set_new(hc, "Runtime", json_string("runc"));
	/* What the runtime mounts when none was asked for, as Docker shows */
	if (jsonx_int(hc, "ShmSize", 0) <= 0)
		json_object_set_new(hc, "ShmSize", json_integer(64 << 20));
	if (!json_object_get(hc, "RestartPolicy"))
		json_object_set_new(hc, "RestartPolicy",
				    json_pack("{s:s, s:i}", "Name", "no",
					      "MaximumRetryCount", 0));
	const char *keys[] = {"Memory",	   "NanoCpus",	 "CpuShares",
			      "PidsLimit", "Privileged", "AutoRemove"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!json_object_get(hc, keys[i]))
			json_object_set_new(hc, keys[i],
					    i < 4 ? json_integer(0)
						  : json_false());
	return hc;
}

/* Config as sent, with what the engine resolved over it. */
static json_t *config_json(const json_t *r, const char *hostname)
{
	static const char *const resolved[] = {
		"Image",      "Entrypoint", "Cmd",    "Env",
		"WorkingDir", "User",	    "Labels",
	};
	json_t *cfg = json_deep_copy(
		jsonx_obj(jsonx_obj(r, "Annotations"), "Config"));
	if (!cfg)
		cfg = json_object();
	if (!cfg)
		return NULL;
	for (size_t i = 0; i < sizeof(resolved) / sizeof(resolved[0]); i++) {
		const json_t *v = json_object_get(r, resolved[i]);
		if (v)
			json_object_set_new(cfg, resolved[i],
					    json_deep_copy(v));
	}
	json_object_set_new(cfg, "Hostname", json_string(hostname));
	if (!json_object_get(cfg, "Tty"))
		json_object_set_new(cfg, "Tty", json_false());
	if (!json_object_get(cfg, "OpenStdin"))
		json_object_set_new(cfg, "OpenStdin", json_false());
	if (!json_is_object(json_object_get(cfg, "Labels")))
		json_object_set_new(cfg, "Labels", json_object());
	return cfg;
}

json_t *api__container_json(struct api__state *st, const char *id)
{
	struct eng_info e;
	json_t *rcfg = NULL;
	if (eng_inspect(st->eng, id, &e) < 0)
		return NULL;
	const struct rt_info *i = &e.rt;
	const json_t *r = e.record;
	if (i->config_json)
		rcfg = json_loads(i->config_json, 0, NULL);
	json_t *o = json_object();
	char name[RT_NAME_MAX + 2];
	snprintf(name, sizeof(name), "/%s", i->name ? i->name : "");
	const json_t *args = json_object_get(r, "Args");
	char run[4200];
	int rc = 0;
	rc |= jsonx_set(o, "Id", json_string(i->id));
	rc |= jsonx_set(o, "Created", time_str(i->created_ns));
	rc |= jsonx_set(o, "Path", json_string(jsonx_str(r, "Path", "")));
	rc |= jsonx_set(o, "Args",
			json_is_array(args) ? json_deep_copy(args)
					    : json_array());
	rc |= jsonx_set(o, "State", state_json(&e));
	rc |= jsonx_set(o, "Image", json_string(jsonx_str(r, "ImageID", "")));
	snprintf(run, sizeof(run), "%s/containers/%s/", st->data_root, i->id);
	rc |= jsonx_set(o, "ResolvConfPath",
			json_pack("s++", run, "resolv.conf", ""));
	rc |= jsonx_set(o, "HostnamePath",
			json_pack("s++", run, "hostname", ""));
	rc |= jsonx_set(o, "HostsPath", json_pack("s++", run, "hosts", ""));
	rc |= jsonx_set(o, "LogPath", json_string(i->log_path));
	rc |= jsonx_set(o, "Name", json_string(name));
	rc |= jsonx_set(o, "RestartCount", json_integer(e.restart_count));
	rc |= jsonx_set(o, "Driver", json_string("overlay2"));
	rc |= jsonx_set(o, "Platform", json_string("linux"));
	rc |= jsonx_set(o, "MountLabel", json_string(""));
	rc |= jsonx_set(o, "ProcessLabel", json_string(""));
	rc |= jsonx_set(o, "AppArmorProfile", json_string(""));
	rc |= jsonx_set(o, "ExecIDs", json_null());
	json_t *hc = host_config(jsonx_obj(r, "Annotations"));
	links_docker(st, hc, name);
	rc |= jsonx_set(o, "HostConfig", hc);
	rc |= jsonx_set(o, "GraphDriver",
			json_pack("{s:s, s:{}}", "Name", "overlay2", "Data"));
	rc |= jsonx_set(o, "Mounts", mounts_json(rcfg));
	rc |= jsonx_set(o, "Config",
			config_json(r, jsonx_str(rcfg, "hostname", "")));
	json_t *ns = api__net_settings(
		st, i->id,
		jsonx_obj(jsonx_obj(r, "Annotations"), "HostConfig"));
	rc |= jsonx_set(o, "NetworkSettings", ns ? ns : network_settings());
	json_decref(rcfg);
	eng_info_fini(&e);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * The container's short id among its aliases on every user-defined
 * network, as Docker listed it before API 1.44 (the resolver answers it,
 * net__lookup()). Kept on every version: docker-compose 1.29 negotiates
 * the newest API and, not finding it, disconnects the endpoint it just
 * made to connect it again, which shoald refuses for a container's only
 * network (overlay-net/attach.c) where Docker allows it.
 */
static void short_id_aliases(json_t *o, const char *id)
{
	json_t *nets = jsonx_obj(jsonx_obj(o, "NetworkSettings"), "Networks");
	const char *name;
	json_t *ep;
	json_object_foreach(nets, name, ep)
	{
		if (!strcmp(name, "bridge") || !strcmp(name, "host") ||
		    !strcmp(name, "none"))
			continue;
		json_t *al = json_object_get(ep, "Aliases");
		if (!json_is_array(al)) {
			al = json_array();
			json_object_set_new(ep, "Aliases", al);
		}
		json_array_append_new(al, json_stringn(id, 12));
	}
}

void api__container_inspect(struct api_call *call);
void api__container_inspect(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	json_t *o = api__container_json(st, id);
	if (!o) {
		api_reply_error(call, 404, "No such container: %s",
				api_param(call, "id"));
		return;
	}
	short_id_aliases(o, id);
	api_reply_json(call, 200, o);
}

/* --- list ----------------------------------------------------------------- */

struct filters {
	json_t *f; /* name -> [values] */
};

/* Accept {"k":["v"]} and the older {"k":{"v":true}}. */
static int values(const json_t *f, const char *key, const char **out,
		  size_t max, size_t *n)
{
	const json_t *v = json_object_get(f, key);
	*n = 0;
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && *n < max; i++) {
			const char *s = json_string_value(json_array_get(v, i));
			if (!s)
				return -1;
			out[(*n)++] = s;
		}
	} else if (json_is_object(v)) {
		void *it = json_object_iter((json_t *)v);
		for (; it && *n < max;
		     it = json_object_iter_next((json_t *)v, it))
			out[(*n)++] = json_object_iter_key(it);
	} else if (v) {
		return -1;
	}
	return 0;
}

static bool label_match(const json_t *labels, const char *want)
{
	const char *eq = strchr(want, '=');
	char key[256];
	size_t klen = eq ? (size_t)(eq - want) : strlen(want);
	if (klen >= sizeof(key))
		return false;
	memcpy(key, want, klen);
	key[klen] = '\0';
	const char *v = jsonx_str(labels, key, NULL);
	return v && (!eq || !strcmp(v, eq + 1));
}

/* Whether container @o (inspect shape) passes every filter. */
static bool pass(const json_t *f, const json_t *o)
{
	const char *v[32];
	size_t n;
	bool ok;
	if (!f)
		return true;
	const json_t *state = jsonx_obj(o, "State");
	values(f, "status", v, 32, &n);
	ok = n == 0;
	for (size_t i = 0; i < n && !ok; i++)
		ok = !strcmp(v[i], jsonx_str(state, "Status", ""));
	if (!ok)
		return false;
	values(f, "name", v, 32, &n);
	ok = n == 0;
	const char *name = jsonx_str(o, "Name", "/");
	for (size_t i = 0; i < n && !ok; i++)
		ok = strstr(name + 1, v[i][0] == '/' ? v[i] + 1 : v[i]) != NULL;
	if (!ok)
		return false;
	values(f, "id", v, 32, &n);
	ok = n == 0;
	for (size_t i = 0; i < n && !ok; i++)
		ok = !strncmp(jsonx_str(o, "Id", ""), v[i], strlen(v[i]));
	if (!ok)
		return false;
	values(f, "exited", v, 32, &n);
	ok = n == 0;
	for (size_t i = 0; i < n && !ok; i++)
		ok = (!strcmp(jsonx_str(state, "Status", ""), "exited") ||
		      !strcmp(jsonx_str(state, "Status", ""), "restarting")) &&
		     jsonx_int(state, "ExitCode", -1) == atoi(v[i]);
	if (!ok)
		return false;
	values(f, "ancestor", v, 32, &n);
	ok = n == 0;
	const char *image = jsonx_str(jsonx_obj(o, "Config"), "Image", "");
	const char *image_id = jsonx_str(o, "Image", "");
	for (size_t i = 0; i < n && !ok; i++) {
		size_t l = strlen(v[i]);
		ok = !strcmp(image, v[i]) ||
		     (!strchr(v[i], ':') && !strncmp(image, v[i], l) &&
		      image[l] == ':') ||
		     (l >= 4 && (!strncmp(image_id, v[i], l) ||
				 !strncmp(image_id + 7, v[i], l)));
	}
	if (!ok)
		return false;
	values(f, "label", v, 32, &n);
	const json_t *labels = jsonx_obj(jsonx_obj(o, "Config"), "Labels");
	for (size_t i = 0; i < n; i++)
		if (!label_match(labels, v[i]))
			return false;
	return true;
}

static int check_filters(const json_t *f, char *err, size_t cap)
{
	static const char *const known[] = {"status", "name",	"id",
					    "label",  "exited", "ancestor"};
	void *it = json_object_iter((json_t *)f);
	for (; it; it = json_object_iter_next((json_t *)f, it)) {
		const char *k = json_object_iter_key(it);
		const char *v[32];
		size_t n;
		bool ok = false;
		for (size_t i = 0; i < 6 && !ok; i++)
			ok = !strcmp(k, known[i]);
		ok = ok || api__ps_filter_known(k); /* ps_filters.c */
		if (!ok) {
			snprintf(err, cap, "invalid filter '%s'", k);
			return -1;
		}
		if (values(f, k, v, 32, &n) < 0) {
			snprintf(err, cap, "invalid filter '%s': bad value", k);
			return -1;
		}
		for (size_t i = 0; !strcmp(k, "status") && i < n; i++)
			if (strcmp(v[i], "created") &&
			    strcmp(v[i], "running") && strcmp(v[i], "paused") &&
			    strcmp(v[i], "exited") &&
			    strcmp(v[i], "restarting") &&
			    strcmp(v[i], "removing") && strcmp(v[i], "dead")) {
				snprintf(err, cap, "invalid filter 'status=%s'",
					 v[i]);
				return -1;
			}
	}
	return 0;
}

static json_t *command_of(const json_t *o)
{
	char cmd[4096];
	size_t len = 0;
	cmd[0] = '\0';
	const char *path = jsonx_str(o, "Path", "");
	len += (size_t)snprintf(cmd, sizeof(cmd), "%s", path);
	const json_t *args = json_object_get(o, "Args");
	for (size_t i = 0; i < json_array_size(args) && len < sizeof(cmd); i++)
		len += (size_t)snprintf(
			cmd + len, sizeof(cmd) - len, " %s",
			json_string_value(json_array_get(args, i)));
	return json_string(cmd);
}

/* The list entry of a container from its inspect object. */
static json_t *summary(struct api__state *st, const json_t *o, int64_t created)
{
	const json_t *state = jsonx_obj(o, "State");
	const json_t *cfg = jsonx_obj(o, "Config");
	struct eng_info i;
	char status[128] = "";
	if (eng_inspect(st->eng, jsonx_str(o, "Id", ""), &i) == 0) {
		api__status_text(&i, status, sizeof(status));
		eng_info_fini(&i);
	}
	const json_t *labels = jsonx_obj(cfg, "Labels");
	json_t *s = json_object();
	int rc = 0;
	rc |= jsonx_set(s, "Id", json_string(jsonx_str(o, "Id", "")));
	rc |= jsonx_set(s, "Names",
			json_pack("[s]", jsonx_str(o, "Name", "/")));
	rc |= jsonx_set(s, "Image", json_string(jsonx_str(cfg, "Image", "")));
	rc |= jsonx_set(s, "ImageID", json_string(jsonx_str(o, "Image", "")));
	rc |= jsonx_set(s, "Command", command_of(o));
	rc |= jsonx_set(s, "Created", json_integer(created / 1000000000));
	rc |= jsonx_set(s, "Ports",
			api__net_ports_list(st, jsonx_str(o, "Id", "")));
	rc |= jsonx_set(s, "Labels",
			labels ? json_deep_copy(labels) : json_object());
	rc |= jsonx_set(s, "State",
			json_string(jsonx_str(state, "Status", "")));
	rc |= jsonx_set(s, "Status", json_string(status));
	rc |= jsonx_set(s, "HostConfig",
			json_pack("{s:s}", "NetworkMode",
				  jsonx_str(jsonx_obj(o, "HostConfig"),
					    "NetworkMode", "none")));
	rc |= jsonx_set(s, "NetworkSettings",
			json_pack("{s:O*}", "Networks",
				  jsonx_obj(jsonx_obj(o, "NetworkSettings"),
					    "Networks")));
	rc |= jsonx_set(s, "Mounts",
			json_deep_copy(json_object_get(o, "Mounts")));
	if (rc) {
		json_decref(s);
		return NULL;
	}
	return s;
}

struct row {
	int64_t created;
	json_t *j;
};

static int newest_first(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return x->created < y->created ? 1 : x->created > y->created ? -1 : 0;
}

void api__container_list(struct api_call *call);
void api__container_list(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	bool all = api__query_bool(call, "all", false);
	bool size = api__query_bool(call, "size", false);
	const char *fq = http_request_query(call->req, "filters");
	const char *lq = http_request_query(call->req, "limit");
	long limit = lq && *lq ? strtol(lq, NULL, 10) : -1;
	json_t *f = NULL;
	char err[256];
	if (fq && *fq &&
	    (jsonx_parse_object(fq, strlen(fq), &f, err, sizeof(err)) < 0 ||
	     check_filters(f, err, sizeof(err)) < 0 ||
	     api__ps_filter_check(st, f, err, sizeof(err)) < 0)) {
		json_decref(f);
		api_reply_error(call, 400, "%s", err);
		return;
	}
	char **ids;
	size_t n;
	if (eng_list(st->eng, &ids, &n) < 0) {
		json_decref(f);
		api_reply_error(call, 500, "cannot list containers");
		return;
	}
	struct row *rows = shoal_calloc(n + 1, sizeof(*rows));
	size_t nr = 0;
	for (size_t k = 0; rows && k < n; k++) {
		struct eng_info i;
		if (eng_inspect(st->eng, ids[k], &i) < 0)
			continue;
		bool up = i.running;
		int64_t created = i.rt.created_ns;
		eng_info_fini(&i);
		if (!up && !all && !(f && json_object_get(f, "status")))
			continue;
		json_t *o = api__container_json(st, ids[k]);
		if (!o)
			continue;
		if (pass(f, o) && api__ps_filter_pass(st, f, o)) {
			rows[nr].created = created;
			rows[nr].j = summary(st, o, created);
			if (rows[nr].j && size)
				api__ps_size(st, o, rows[nr].j);
			if (rows[nr].j)
				nr++;
		}
		json_decref(o);
	}
	rt_list_free(ids, n);
	json_decref(f);
	if (!rows) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	qsort(rows, nr, sizeof(*rows), newest_first);
	json_t *out = json_array();
	for (size_t k = 0; k < nr; k++) {
		if (out && (limit < 0 || (long)k < limit))
			json_array_append(out, rows[k].j);
		json_decref(rows[k].j);
	}
	shoal_free(rows);
	api_reply_json(call, 200, out);
}
