/*
 * Node objects in the store. A node's spec is Docker's NodeSpec as JSON
 * ({"Labels":{}, "Role":"worker", "Availability":"active"}, optionally
 * "Name"); its status is {"Description":..., "Status":{"State","Addr"},
 * "ManagerStatus":{...}} in the Engine API's shapes, so the API layer
 * serves them without translation. The spec is the user's (changed only by
 * node update, with the version); the status is the managers' (changed by
 * joins and the dispatcher). mgr_find_node() resolves what a user types
 * (a full id, a unique id prefix or a hostname), as Docker does.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "manager/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

json_t *mgr__node_spec_new(enum wire_role role)
{
	return json_pack("{s:{}, s:s, s:s}", "Labels", "Role",
			 wire_role_name(role), "Availability", "active");
}

/* "10.0.0.1:2377" -> "10.0.0.1" (Docker's Status.Addr has no port). */
static void host_of(const char *addr, char *out, size_t cap)
{
	snprintf(out, cap, "%s", addr);
	char *colon = strrchr(out, ':');
	if (colon && !strchr(colon, ']'))
		*colon = '\0';
	if (out[0] == '[') {
		memmove(out, out + 1, strlen(out));
		char *end = strchr(out, ']');
		if (end)
			*end = '\0';
	}
}

json_t *mgr__node_status_new(const struct mgr_node_desc *d, const char *state,
			     bool manager, const char *manager_addr)
{
	char host[SWARM_ADDR_MAX];
	host_of(d->addr, host, sizeof(host));
	json_t *desc = json_pack(
		"{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:{s:s, s:{}, s:[]}, s:{}}",
		"Hostname", d->hostname, "Platform", "Architecture", d->arch,
		"OS", d->os, "Resources", "NanoCPUs", (json_int_t)d->nano_cpus,
		"MemoryBytes", (json_int_t)d->memory_bytes, "Engine",
		"EngineVersion", d->engine_version, "Labels", "Plugins",
		"TLSInfo");
	json_t *o = json_pack("{s:o, s:{s:s, s:s}}", "Description", desc,
			      "Status", "State", state, "Addr", host);
	if (o && manager)
		jsonx_set(o, "ManagerStatus",
			  json_pack("{s:b, s:s, s:s}", "Leader", 0,
				    "Reachability", "reachable", "Addr",
				    manager_addr));
	return o;
}

json_t *mgr__obj_json(const uint8_t *data, size_t len)
{
	json_t *o = NULL;
	if (len == 0 || jsonx_parse((const char *)data, len, &o, NULL, 0) < 0)
		return NULL;
	return o;
}

const char *mgr__node_state(const struct store_object *o, char *buf, size_t cap)
{
	json_t *st = mgr__obj_json(o->status, o->status_len);
	snprintf(buf, cap, "%s",
		 jsonx_str(jsonx_obj(st, "Status"), "State", "unknown"));
	json_decref(st);
	return buf;
}

enum wire_role mgr__node_role(const struct store_object *o)
{
	json_t *sp = mgr__obj_json(o->spec, o->spec_len);
	enum wire_role r = strcmp(jsonx_str(sp, "Role", ""), "manager") == 0
				   ? WIRE_ROLE_MANAGER
				   : WIRE_ROLE_WORKER;
	json_decref(sp);
	return r;
}

static json_t *desc_json(const struct mgr_node_desc *d)
{
	json_t *st = mgr__node_status_new(d, "ready", false, "");
	json_t *desc =
		st ? json_incref(json_object_get(st, "Description")) : NULL;
	json_decref(st);
	return desc;
}

int mgr__node_set_status(struct mgr *m, const struct store_object *o,
			 const char *state, const struct mgr_node_desc *d)
{
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		st = json_object();
	json_t *s = jsonx_obj(st, "Status");
	if (!s) {
		s = json_object();
		jsonx_set(st, "Status", s);
	}
	int rc = s ? jsonx_set(s, "State", json_string(state)) : -ENOMEM;
	if (rc == 0 && d) {
		char host[SWARM_ADDR_MAX];
		host_of(d->addr, host, sizeof(host));
		rc = jsonx_set(st, "Description", desc_json(d));
		if (rc == 0)
			rc = jsonx_set(s, "Addr", json_string(host));
	}
	size_t len;
	char *text = rc == 0 && st ? jsonx_dump(st, &len) : NULL;
	json_decref(st);
	if (!text)
		return -ENOMEM;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_update(&b, STORE_NODES, o->id, o->version, NULL, 0, text,
			   len);
	shoal_free(text);
	rc = mgr__propose(m, &b, NULL, NULL);
	store_batch_fini(&b);
	return rc;
}

static int check_labels(const json_t *labels, char *err, size_t errlen)
{
	if (!labels)
		return 0;
	if (!json_is_object(labels)) {
		snprintf(err, errlen, "Labels must be an object of strings");
		return -EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (!json_is_string(v) || !*k) {
			snprintf(err, errlen,
				 "label \"%s\" must have a string value", k);
			return -EINVAL;
		}
	}
	return 0;
}

int mgr__validate_spec(const json_t *spec, char *err, size_t errlen)
{
	const char *role = jsonx_str(spec, "Role", NULL);
	const char *av = jsonx_str(spec, "Availability", NULL);
	if (!role || (strcmp(role, "worker") && strcmp(role, "manager"))) {
		snprintf(err, errlen,
			 "invalid role \"%s\": must be worker or manager",
			 role ? role : "");
		return -EINVAL;
	}
	if (!av || (strcmp(av, "active") && strcmp(av, "pause") &&
		    strcmp(av, "drain"))) {
		snprintf(err, errlen,
			 "invalid availability \"%s\": must be active, pause "
			 "or drain",
			 av ? av : "");
		return -EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)spec, k, v)
	{
		if (strcmp(k, "Role") && strcmp(k, "Availability") &&
		    strcmp(k, "Labels") && strcmp(k, "Name")) {
			snprintf(err, errlen,
				 "unknown field \"%s\" in NodeSpec", k);
			return -EINVAL;
		}
	}
	const json_t *name = json_object_get(spec, "Name");
	if (name && !json_is_string(name)) {
		snprintf(err, errlen, "Name must be a string");
		return -EINVAL;
	}
	return check_labels(json_object_get(spec, "Labels"), err, errlen);
}

const struct store_object *mgr_find_node(const struct mgr *m, const char *ref,
					 int *rc)
{
	*rc = 0;
	const struct store_object *o = store_get(m->store, STORE_NODES, ref);
	if (o)
		return o;
	const struct store_object **all;
	size_t n;
	if ((*rc = store_list(m->store, STORE_NODES, &all, &n)) < 0)
		return NULL;
	const struct store_object *found = NULL;
	size_t matches = 0, rlen = strlen(ref);
	for (size_t i = 0; i < n && rlen; i++) {
		json_t *st = mgr__obj_json(all[i]->status, all[i]->status_len);
		const char *host =
			jsonx_str(jsonx_obj(st, "Description"), "Hostname", "");
		bool by_host = strcmp(host, ref) == 0;
		json_decref(st);
		if (by_host || strncmp(all[i]->id, ref, rlen) == 0) {
			found = all[i];
			matches++;
		}
	}
	shoal_free(all);
	if (matches == 1)
		return found;
	*rc = matches ? SHOAL_ECONFLICT : SHOAL_ENOTFOUND;
	return NULL;
}
