/*
 * Docker's /networks routes (Engine API 1.44+): list with filters,
 * inspect, create, delete, prune, connect, disconnect. Translation only:
 * the networks are overlay-net's (net.h), reached through the engine
 * (eng_net()); container references are resolved by the engine.
 *
 * Filters of GET /networks: name (substring), id (prefix), driver, label
 * (key or key=value), type (custom or builtin), scope (local), dangling
 * (no containers). Prune: label, label!; `until` is refused by name.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct net *need_net(struct api_call *call, struct api__state **st)
{
	struct net *n;

	*st = api__need(call);
	if (!*st)
		return NULL;
	n = eng_net((*st)->eng);
	if (!n)
		api_reply_error(call, 503, "networking is off in this daemon");
	return n;
}

static void reply_err(struct api_call *call, int rc, const struct shoal_err *e)
{
	api_reply_error(call, net_status(rc), "%s",
			e->msg[0] ? e->msg : shoal_strerror(rc));
}

static bool any_match(const char *const *v, const char *s, bool prefix,
		      bool sub)
{
	if (!v[0])
		return true;
	for (size_t i = 0; v[i]; i++)
		if ((sub && strstr(s, v[i])) ||
		    (prefix && !strncmp(s, v[i], strlen(v[i]))) ||
		    !strcmp(s, v[i]))
			return true;
	return false;
}

static bool labels_match(const char *const *v, const json_t *labels)
{
	for (size_t i = 0; v[i]; i++) {
		const char *eq = strchr(v[i], '=');
		char key[256];
		const char *val;
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - v[i]) : (int)strlen(v[i]), v[i]);
		val = json_string_value(json_object_get(labels, key));
		if (!val || (eq && strcmp(val, eq + 1)))
			return false;
	}
	return true;
}

static bool builtin(const json_t *r)
{
	const char *name = jsonx_str(r, "Name", "");

	return !strcmp(name, "bridge") || !strcmp(name, "host") ||
	       !strcmp(name, "none");
}

static void list(struct api_call *call)
{
	static const char *const known[] = {"name",	"id",	"driver",
					    "label",	"type", "scope",
					    "dangling", NULL};
	const char *names[API__FILTER_VALUES + 1], *ids[API__FILTER_VALUES + 1];
	const char *drv[API__FILTER_VALUES + 1], *lab[API__FILTER_VALUES + 1];
	const char *type[API__FILTER_VALUES + 1],
		*scope[API__FILTER_VALUES + 1];
	const char *dang[API__FILTER_VALUES + 1];
	struct api__state *st;
	struct net *n = need_net(call, &st);
	json_t *f, *all, *out, *r;
	char err[256];
	size_t i;

	if (!n)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "name", names);
	api__filter_values(f, "id", ids);
	api__filter_values(f, "driver", drv);
	api__filter_values(f, "label", lab);
	api__filter_values(f, "type", type);
	api__filter_values(f, "scope", scope);
	api__filter_values(f, "dangling", dang);
	for (i = 0; type[i]; i++)
		if (strcmp(type[i], "custom") && strcmp(type[i], "builtin")) {
			api_reply_error(call, 400,
					"invalid filter: 'type'='%s'", type[i]);
			json_decref(f);
			return;
		}
	for (i = 0; dang[i]; i++)
		if (strcmp(dang[i], "true") && strcmp(dang[i], "false") &&
		    strcmp(dang[i], "1") && strcmp(dang[i], "0")) {
			api_reply_error(call, 400,
					"invalid filter 'dangling=%s'",
					dang[i]);
			json_decref(f);
			return;
		}
	all = net_network_list(n);
	out = json_array();
	json_array_foreach(all, i, r)
	{
		const char *t = builtin(r) ? "builtin" : "custom";
		bool used = json_object_size(jsonx_obj(r, "Containers")) > 0;
		bool d = dang[0] &&
			 (!strcmp(dang[0], "true") || !strcmp(dang[0], "1"));
		if (!any_match(names, jsonx_str(r, "Name", ""), false, true) ||
		    !any_match(ids, jsonx_str(r, "Id", ""), true, false) ||
		    !any_match(drv, jsonx_str(r, "Driver", ""), false, false) ||
		    !any_match(type, t, false, false) ||
		    !any_match(scope, "local", false, false) ||
		    !labels_match(lab, jsonx_obj(r, "Labels")) ||
		    (dang[0] && (d ? used || builtin(r) : !used)))
			continue;
		/* Docker leaves Containers out of the list (empty). */
		json_object_set_new(r, "Containers", json_object());
		json_array_append(out, r);
	}
	json_decref(all);
	json_decref(f);
	api_reply_json(call, 200, out);
}

static void inspect(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	const char *ref = api_param(call, "id");
	int rc;
	json_t *r;

	if (!n)
		return;
	r = net_network_inspect(n, ref, &rc);
	if (!r) {
		api_reply_error(call, net_status(rc), "network %s not found",
				ref);
		return;
	}
	api_reply_json(call, 200, r);
}

static void create(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	json_t *body = NULL, *cfg;
	char err[256], id[65];
	int rc;

	if (!n)
		return;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const json_t *ipam = jsonx_obj(body, "IPAM");
	cfg = json_object_get(ipam, "Config");
	const char *ipam_drv = jsonx_str(ipam, "Driver", "default");
	struct net_create_opts o = {
		.name = jsonx_str(body, "Name", ""),
		.driver = jsonx_str(body, "Driver", "bridge"),
		.internal = jsonx_bool(body, "Internal", false),
		.attachable = jsonx_bool(body, "Attachable", false),
		.ipv6 = jsonx_bool(body, "EnableIPv6", false),
		.labels = jsonx_obj(body, "Labels"),
		.options = jsonx_obj(body, "Options"),
		.subnet = jsonx_str(json_array_get(cfg, 0), "Subnet", ""),
		.gateway = jsonx_str(json_array_get(cfg, 0), "Gateway", ""),
		.ip_range = jsonx_str(json_array_get(cfg, 0), "IPRange", ""),
	};
	if (*ipam_drv && strcmp(ipam_drv, "default")) {
		api_reply_error(call, 400,
				"IPAM driver %s is not supported "
				"(only default)",
				ipam_drv);
	} else if (json_array_size(cfg) > 1) {
		api_reply_error(call, 400,
				"only one IPAM config (one IPv4 "
				"subnet) per network is supported");
	} else if (json_object_size(jsonx_obj(json_array_get(cfg, 0),
					      "AuxiliaryAddresses"))) {
		api_reply_error(call, 400,
				"IPAM AuxiliaryAddresses are not supported");
	} else if (json_object_size(jsonx_obj(ipam, "Options")) ||
		   jsonx_bool(body, "Ingress", false) ||
		   jsonx_bool(body, "ConfigOnly", false) ||
		   *jsonx_str(jsonx_obj(body, "ConfigFrom"), "Network", "")) {
		api_reply_error(call, 400,
				"IPAM.Options, Ingress, ConfigOnly and "
				"ConfigFrom are not supported");
	} else if ((rc = net_network_create(n, &o, id, &e)) < 0) {
		reply_err(call, rc, &e);
	} else {
		api_reply_json(
			call, 201,
			json_pack("{s:s, s:s}", "Id", id, "Warning", ""));
	}
	json_decref(body);
}

static void remove_(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	int rc;

	if (!n)
		return;
	rc = net_network_remove(n, api_param(call, "id"), &e);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

struct prune_filter {
	const char *const *want, *const *reject;
};

static bool keep(const json_t *r, void *arg)
{
	struct prune_filter *pf = arg;
	const json_t *labels = jsonx_obj(r, "Labels");

	if (pf->want[0] && !labels_match(pf->want, labels))
		return true;
	if (pf->reject[0] && labels_match(pf->reject, labels))
		return true;
	return false;
}

static void prune(struct api_call *call)
{
	static const char *const known[] = {"label", "label!", "until", NULL};
	const char *want[API__FILTER_VALUES + 1];
	const char *reject[API__FILTER_VALUES + 1];
	const char *until[API__FILTER_VALUES + 1];
	struct api__state *st;
	struct net *n = need_net(call, &st);
	json_t *f, *removed;
	char err[256];

	if (!n)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "label", want);
	api__filter_values(f, "label!", reject);
	api__filter_values(f, "until", until);
	if (until[0]) {
		api_reply_error(call, 400,
				"the until filter of network prune "
				"is not supported yet");
		json_decref(f);
		return;
	}
	struct prune_filter pf = {want, reject};
	removed = json_array();
	net_network_prune(n, keep, &pf, removed);
	json_decref(f);
	api_reply_json(call, 200,
		       json_pack("{s:o}", "NetworksDeleted", removed));
}

static void connect_(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	struct eng_info info;
	json_t *body = NULL;
	const char *al[65] = {NULL};
	char err[256], id[RT_ID_LEN + 1];
	int rc;

	if (!n)
		return;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const json_t *ec = jsonx_obj(body, "EndpointConfig");
	const json_t *aliases = json_object_get(ec, "Aliases"), *x;
	size_t i;
	json_array_foreach(aliases, i, x)
	{
		if (i < 64)
			al[i] = json_string_value(x);
	}
	struct net_ep_req req = {
		.network = api_param(call, "id"),
		.aliases = al,
		.ip = jsonx_str(jsonx_obj(ec, "IPAMConfig"), "IPv4Address", ""),
		.mac = jsonx_str(ec, "MacAddress", ""),
	};
	if (json_array_size(aliases) > 64 ||
	    json_object_size(jsonx_obj(ec, "DriverOpts")) ||
	    json_array_size(json_object_get(ec, "Links")) ||
	    *jsonx_str(jsonx_obj(ec, "IPAMConfig"), "IPv6Address", "")) {
		api_reply_error(call, 400,
				"EndpointConfig: more than 64 "
				"aliases, DriverOpts, Links and "
				"IPv6Address are not supported");
		json_decref(body);
		return;
	}
	if (api__resolve(call, st, jsonx_str(body, "Container", ""), id) < 0) {
		json_decref(body);
		return;
	}
	rc = eng_inspect(st->eng, id, &info);
	if (rc == 0) {
		rc = net_connect(n, id, info.rt.name ? info.rt.name : "", &req,
				 &e);
		eng_info_fini(&info);
	}
	json_decref(body);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static void disconnect(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	json_t *body = NULL;
	char err[256], id[RT_ID_LEN + 1];
	int rc;

	if (!n)
		return;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	if (api__resolve(call, st, jsonx_str(body, "Container", ""), id) < 0) {
		json_decref(body);
		return;
	}
	json_decref(body);
	rc = net_disconnect(n, id, api_param(call, "id"), &e);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static const struct api_route routes[] = {
	{"GET", "/networks", list},
	{"POST", "/networks/create", create},
	{"POST", "/networks/prune", prune},
	{"GET", "/networks/{id}", inspect},
	{"DELETE", "/networks/{id}", remove_},
	{"POST", "/networks/{id}/connect", connect_},
	{"POST", "/networks/{id}/disconnect", disconnect},
};

const struct api_route_table api_networks_table = {
	.name = "networks",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
