/*
 * The secret and config writes of manager/write.c's table (docs/secrets.md):
 * "secret-create", "secret-update", "secret-remove", "secret-rotate" and
 * the same four for configs, on the store's secrets and configs tables.
 *
 *   create  the id comes with the request (the API draws it with
 *           id_swarm()). The body is Docker's SecretSpec / ConfigSpec:
 *           Name (Docker's rule: 1..64 of [a-zA-Z0-9-_.], first and last
 *           alphanumeric), Labels, Data (base64, 1 byte up to but not
 *           including 500 KiB for a secret, 1000 KiB for a config, as
 *           swarmkit), Templating golang (expanded by the agent for
 *           each task, worker/secrets.c). Driver is refused by name:
 *           there are no secret drivers.
 *   update  labels only, at the client's version (Docker's "only updates
 *           to Labels are allowed").
 *   remove  refused while a service's ContainerSpec names the object by
 *           id (Docker's words, naming the services).
 *   rotate  beyond Docker: new data for the same object (its "Rotation"
 *           counter goes up), and every service that uses it gets
 *           TaskTemplate.ForceUpdate + 1 in the same batch, so the
 *           orchestrator replaces its tasks with its UpdateConfig.
 *
 * Stored: spec is {"Name", "Labels", "Rotation", "Templating"?} as JSON;
 * status is the
 * data itself, raw (so a 1000 KiB config fits the store's 1 MiB blob).
 * The data is never logged here: log lines name ids only. It is
 * encrypted at rest with every Raft entry and snapshot (raft/disk_seal.c).
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "manager/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define INVALID "rpc error: code = InvalidArgument desc = "

const struct secret_kind secret_kind_secret = {
	.table = STORE_SECRETS,
	.word = "secret",
	.max = SECRET_DATA_MAX,
};

const struct secret_kind secret_kind_config = {
	.table = STORE_CONFIGS,
	.word = "config",
	.max = CONFIG_DATA_MAX,
};

bool secret_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		bool inner = c == '-' || c == '_' || c == '.';
		if (!alnum && (!inner || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

int secret_data_decode(const char *b64, size_t max, uint8_t **out, size_t *len,
		       char *err, size_t errlen)
{
	size_t in = strlen(b64);
	size_t cap = in / 4 * 3 + 3;
	*out = NULL;
	*len = 0;
	uint8_t *buf = shoal_malloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	if (sodium_base642bin(buf, cap, b64, in, "\n\r", len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		shoal_free(buf);
		snprintf(err, errlen, INVALID "Data is not valid base64");
		return -EINVAL;
	}
	if (*len < 1 || *len >= max) {
		sodium_memzero(buf, cap);
		shoal_free(buf);
		*len = 0;
		return -ERANGE;
	}
	*out = buf;
	return 0;
}

/* Whether Docker's Driver object @d has no key but Name and Options. */
static bool driver_keys_only(const json_t *d)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)d, key, v)
	{
		if (strcmp(key, "Name") && strcmp(key, "Options"))
			return false;
	}
	return true;
}

int secret_spec_check(const struct secret_kind *k, const json_t *body,
		      uint8_t **data, size_t *len, char *err, size_t errlen)
{
	static const char *const known[] = {"Name",   "Labels",	    "Data",
					    "Driver", "Templating", NULL};
	const char *key;
	json_t *v;
	*data = NULL;
	*len = 0;
	json_object_foreach((json_t *)body, key, v)
	{
		bool ok = false;
		for (const char *const *q = known; *q && !ok; q++)
			ok = !strcmp(*q, key);
		if (!ok) {
			snprintf(err, errlen,
				 INVALID "unknown field %.64s in the %s spec",
				 key, k->word);
			return -EINVAL;
		}
	}
	const char *name = jsonx_str(body, "Name", "");
	if (!json_is_string(json_object_get(body, "Name")) ||
	    !secret_name_valid(name)) {
		snprintf(err, errlen,
			 INVALID "invalid name, only 64 [a-zA-Z0-9-_.] "
				 "characters allowed, and the start and end "
				 "character must be [a-zA-Z0-9]");
		return -EINVAL;
	}
	const json_t *labels = json_object_get(body, "Labels");
	if (labels && !json_is_null(labels)) {
		if (!json_is_object(labels)) {
			snprintf(err, errlen,
				 INVALID "Labels must be an object");
			return -EINVAL;
		}
		json_object_foreach((json_t *)labels, key, v)
		{
			if (!json_is_string(v)) {
				snprintf(err, errlen,
					 INVALID "label %.64s must be a string",
					 key);
				return -EINVAL;
			}
		}
	}
	const json_t *drv = json_object_get(body, "Driver");
	if (drv && !json_is_null(drv) &&
	    (!json_is_object(drv) || *jsonx_str(drv, "Name", "") ||
	     json_object_size(jsonx_obj(drv, "Options")) ||
	     !driver_keys_only(drv))) {
		snprintf(err, errlen,
			 INVALID "%s drivers are not supported (Driver): "
				 "create the %s with its data",
			 k->word, k->word);
		return -EINVAL;
	}
	const json_t *tpl = json_object_get(body, "Templating");
	const char *tname = jsonx_str(tpl, "Name", "");
	if (tpl && !json_is_null(tpl) &&
	    (!json_is_object(tpl) || (*tname && strcmp(tname, "golang")) ||
	     json_object_size(jsonx_obj(tpl, "Options")) ||
	     !driver_keys_only(tpl))) {
		snprintf(err, errlen,
			 INVALID "template driver \"%.32s\" is not supported "
				 "(Templating): use golang, Docker's, without "
				 "options",
			 tname);
		return -EINVAL;
	}
	const json_t *d = json_object_get(body, "Data");
	if (d && !json_is_null(d) && !json_is_string(d)) {
		snprintf(err, errlen, INVALID "Data must be a base64 string");
		return -EINVAL;
	}
	const char *b64 = json_is_string(d) ? json_string_value(d) : "";
	int rc = secret_data_decode(b64, k->max, data, len, err, errlen);
	if (rc == -ERANGE) {
		snprintf(err, errlen,
			 INVALID "%s data must be larger than 0 and less than "
				 "%zu bytes",
			 k->word, k->max);
		rc = -EINVAL;
	}
	return rc;
}

/* --- references from services --------------------------------------------- */

static const char *refs_key(const struct secret_kind *k)
{
	return k->table == STORE_SECRETS ? "Secrets" : "Configs";
}

static const char *ref_id_key(const struct secret_kind *k)
{
	return k->table == STORE_SECRETS ? "SecretID" : "ConfigID";
}

static const char *ref_name_key(const struct secret_kind *k)
{
	return k->table == STORE_SECRETS ? "SecretName" : "ConfigName";
}

const json_t *secret_refs(const struct secret_kind *k, const json_t *spec)
{
	const json_t *tt = jsonx_obj(spec, "TaskTemplate");
	const json_t *c = jsonx_obj(tt ? tt : spec, "ContainerSpec");
	return json_object_get(c, refs_key(k));
}

bool secret_used_by(const struct secret_kind *k, const json_t *spec,
		    const char *id)
{
	size_t i;
	json_t *r;
	json_array_foreach(secret_refs(k, spec), i, r)
	{
		if (!strcmp(jsonx_str(r, ref_id_key(k), ""), id))
			return true;
	}
	return false;
}

int secret_refs_resolve(const struct store *s, json_t *spec, char *err,
			size_t errlen)
{
	const struct secret_kind *kinds[] = {&secret_kind_secret,
					     &secret_kind_config};
	for (size_t t = 0; t < 2; t++) {
		const struct secret_kind *k = kinds[t];
		size_t i, off = 0;
		json_t *r;
		char missing[256] = "";
		json_array_foreach((json_t *)secret_refs(k, spec), i, r)
		{
			const char *id = jsonx_str(r, ref_id_key(k), "");
			const char *name = jsonx_str(r, ref_name_key(k), "");
			const struct store_object *o =
				*id ? store_get(s, k->table, id)
				    : store_get_by_name(s, k->table, name);
			if (o && *name && strcmp(o->name, name))
				o = NULL;
			if (o) {
				if (jsonx_set(r, ref_id_key(k),
					      json_string(o->id)) < 0 ||
				    jsonx_set(r, ref_name_key(k),
					      json_string(o->name)) < 0)
					return -ENOMEM;
				continue;
			}
			if (off < sizeof(missing))
				off += (size_t)snprintf(missing + off,
							sizeof(missing) - off,
							"%s%s", off ? ", " : "",
							*name ? name : id);
		}
		if (*missing) {
			snprintf(err, errlen, INVALID "%s not found: %s",
				 k->word, missing);
			return -EINVAL;
		}
	}
	return 0;
}

/* --- the writes ------------------------------------------------------------
 */

/* Whether @body asks for golang templating. */
static bool templated(const json_t *body)
{
	return !strcmp(jsonx_str(jsonx_obj(body, "Templating"), "Name", ""),
		       "golang");
}

static json_t *stored_spec(const json_t *body, json_int_t rotation)
{
	const json_t *labels = json_object_get(body, "Labels");
	json_t *l =
		json_is_object(labels) ? json_deep_copy(labels) : json_object();
	json_t *spec = json_pack("{s:s, s:o, s:I}", "Name",
				 jsonx_str(body, "Name", ""), "Labels", l,
				 "Rotation", rotation);
	if (spec && templated(body) &&
	    jsonx_set(spec, "Templating",
		      json_pack("{s:s}", "Name", "golang")) < 0) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

static int add_spec(struct store_batch *b, const struct secret_kind *k,
		    const char *id, const char *name, uint64_t version,
		    const json_t *spec, const uint8_t *data, size_t len)
{
	size_t slen;
	char *s = jsonx_dump(spec, &slen);
	if (!s)
		return -ENOMEM;
	int rc = name ? store_batch_create(b, k->table, id, name, s, slen, data,
					   len)
		      : store_batch_update(b, k->table, id, version, s, slen,
					   data, len);
	shoal_free(s);
	return rc;
}

static int check_body(const struct secret_kind *k, const json_t *body,
		      char *err, size_t errlen)
{
	uint8_t *data;
	size_t len;
	int rc = secret_spec_check(k, body, &data, &len, err, errlen);
	if (data) {
		sodium_memzero(data, len);
		shoal_free(data);
	}
	return rc;
}

static int create_build(const struct secret_kind *k, struct mgr__write_ctx *w,
			char *err, size_t errlen)
{
	const char *id = w->req->id;
	uint8_t *data;
	size_t len;
	if (!id_is_swarm(id)) {
		snprintf(err, errlen, "invalid %s id \"%.64s\"", k->word, id);
		return -EINVAL;
	}
	int rc = secret_spec_check(k, w->body, &data, &len, err, errlen);
	if (rc < 0)
		return rc;
	const char *name = jsonx_str(w->body, "Name", "");
	if (store_get_by_name(w->m->store, k->table, name) ||
	    store_get(w->m->store, k->table, id)) {
		snprintf(err, errlen,
			 "rpc error: code = AlreadyExists desc = %s %.64s "
			 "already exists",
			 k->word, name);
		rc = SHOAL_ECONFLICT;
	}
	json_t *spec = rc == 0 ? stored_spec(w->body, 0) : NULL;
	if (rc == 0)
		rc = spec ? add_spec(w->b, k, id, name, 0, spec, data, len)
			  : -ENOMEM;
	json_decref(spec);
	sodium_memzero(data, len);
	shoal_free(data);
	return rc;
}

/* The object @w->req->id names, at the client's version when @versioned. */
static const struct store_object *current(const struct secret_kind *k,
					  struct mgr__write_ctx *w,
					  bool versioned, int *rc, char *err,
					  size_t errlen)
{
	const struct store_object *o =
		store_get(w->m->store, k->table, w->req->id);
	*rc = 0;
	if (!o) {
		snprintf(err, errlen, "%s %.64s not found", k->word,
			 w->req->id);
		*rc = SHOAL_ENOTFOUND;
	} else if (versioned && o->version != w->req->version) {
		snprintf(err, errlen,
			 "rpc error: code = Unknown desc = update out of "
			 "sequence");
		*rc = SHOAL_ESTALE;
	}
	return *rc ? NULL : o;
}

/* Whether @d (base64) is the data @o holds: an update may carry it
 * unchanged, as `docker stack deploy` does (swarmkit compares it). */
static bool same_data(const struct secret_kind *k, const struct store_object *o,
		      const json_t *d)
{
	char e[160];
	uint8_t *data;
	size_t len;
	if (!json_is_string(d) ||
	    secret_data_decode(json_string_value(d), k->max, &data, &len, e,
			       sizeof(e)) < 0)
		return false;
	bool same = len == o->status_len &&
		    sodium_memcmp(data, o->status, len) == 0;
	sodium_memzero(data, len);
	shoal_free(data);
	return same;
}

static int update_build(const struct secret_kind *k, struct mgr__write_ctx *w,
			char *err, size_t errlen)
{
	int rc;
	const struct store_object *o = current(k, w, true, &rc, err, errlen);
	if (!o)
		return rc;
	const json_t *d = json_object_get(w->body, "Data");
	if (strcmp(jsonx_str(w->body, "Name", ""), o->name) ||
	    (d && !json_is_null(d) && !same_data(k, o, d))) {
		snprintf(err, errlen,
			 INVALID "only updates to Labels are allowed");
		return -EINVAL;
	}
	json_t *old = mgr__obj_json(o->spec, o->spec_len);
	if (templated(old) != templated(w->body)) {
		json_decref(old);
		snprintf(err, errlen,
			 INVALID "only updates to Labels are allowed");
		return -EINVAL;
	}
	json_t *spec = stored_spec(w->body, jsonx_int(old, "Rotation", 0));
	rc = spec ? add_spec(w->b, k, o->id, NULL, o->version, spec, NULL, 0)
		  : -ENOMEM;
	json_decref(old);
	json_decref(spec);
	return rc;
}

/* Docker's refusal naming the services that use @o, or 0. */
static int in_use(const struct secret_kind *k, const struct store *s,
		  const struct store_object *o, char *err, size_t errlen)
{
	const struct store_object **objs;
	size_t count, n = 0, off = 0;
	char names[512] = "";
	int rc = store_list(s, STORE_SERVICES, &objs, &count);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < count; i++) {
		json_t *spec = mgr__obj_json(objs[i]->spec, objs[i]->spec_len);
		if (spec && secret_used_by(k, spec, o->id)) {
			n++;
			if (off < sizeof(names))
				off += (size_t)snprintf(
					names + off, sizeof(names) - off,
					"%s%s", off ? ", " : "", objs[i]->name);
		}
		json_decref(spec);
	}
	shoal_free(objs);
	if (!n)
		return 0;
	snprintf(err, errlen,
		 INVALID "%s '%s' is in use by the following service%s: %s",
		 k->word, o->name, n > 1 ? "s" : "", names);
	return -EINVAL;
}

static int remove_build(const struct secret_kind *k, struct mgr__write_ctx *w,
			char *err, size_t errlen)
{
	int rc;
	const struct store_object *o = current(k, w, false, &rc, err, errlen);
	if (!o)
		return rc;
	rc = in_use(k, w->m->store, o, err, errlen);
	if (rc < 0)
		return rc;
	return store_batch_delete(w->b, k->table, o->id, o->version);
}

/* Service @o (using the rotated object) with ForceUpdate + 1, in @b. */
static int roll_service(struct store_batch *b, const struct store_object *o)
{
	json_t *spec = mgr__obj_json(o->spec, o->spec_len);
	json_t *st = mgr__obj_json(o->status, o->status_len);
	json_t *tt = jsonx_obj(spec, "TaskTemplate");
	int rc = spec && tt ? 0 : -ENOMEM;
	if (!st && rc == 0)
		st = json_object();
	if (rc == 0 && st) {
		json_t *prev = json_deep_copy(spec);
		rc = jsonx_set(
			tt, "ForceUpdate",
			json_integer(jsonx_int(tt, "ForceUpdate", 0) + 1));
		rc |= jsonx_set(st, "PreviousSpec", prev);
		rc |= jsonx_set(
			st, "Generation",
			json_integer(jsonx_int(st, "Generation", 1) + 1));
		json_object_del(st, "UpdateStatus");
		json_object_del(st, "UpdateStartedNs");
	}
	size_t sl = 0, tl = 0;
	char *s = rc == 0 ? jsonx_dump(spec, &sl) : NULL;
	char *t = rc == 0 && st ? jsonx_dump(st, &tl) : NULL;
	if (rc == 0)
		rc = s && t ? store_batch_update(b, STORE_SERVICES, o->id,
						 o->version, s, sl, t, tl)
			    : -ENOMEM;
	shoal_free(s);
	shoal_free(t);
	json_decref(spec);
	json_decref(st);
	return rc;
}

static int roll_services(const struct secret_kind *k, struct mgr__write_ctx *w,
			 const char *id)
{
	const struct store_object **objs;
	size_t count;
	int rc = store_list(w->m->store, STORE_SERVICES, &objs, &count);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		json_t *spec = mgr__obj_json(objs[i]->spec, objs[i]->spec_len);
		if (spec && secret_used_by(k, spec, id))
			rc = roll_service(w->b, objs[i]);
		json_decref(spec);
	}
	shoal_free(objs);
	return rc;
}

static int rotate_build(const struct secret_kind *k, struct mgr__write_ctx *w,
			char *err, size_t errlen)
{
	int rc;
	uint8_t *data;
	size_t len;
	const struct store_object *o = current(k, w, false, &rc, err, errlen);
	if (!o)
		return rc;
	const json_t *d = json_object_get(w->body, "Data");
	if (json_object_size(w->body) != 1 || !json_is_string(d)) {
		snprintf(err, errlen,
			 INVALID "a rotation's body is {\"Data\": base64}");
		return -EINVAL;
	}
	rc = secret_data_decode(json_string_value(d), k->max, &data, &len, err,
				errlen);
	if (rc == -ERANGE) {
		snprintf(err, errlen,
			 INVALID "%s data must be larger than 0 and less than "
				 "%zu bytes",
			 k->word, k->max);
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	json_t *spec = mgr__obj_json(o->spec, o->spec_len);
	rc = spec ? jsonx_set(spec, "Rotation",
			      json_integer(jsonx_int(spec, "Rotation", 0) + 1))
		  : -ENOMEM;
	if (rc == 0)
		rc = add_spec(w->b, k, o->id, NULL, o->version, spec, data,
			      len);
	if (rc == 0)
		rc = roll_services(k, w, o->id);
	json_decref(spec);
	sodium_memzero(data, len);
	shoal_free(data);
	return rc;
}

/* --- the table entries ------------------------------------------------------
 */

/* An update's body: the spec as read back (Name, Labels), with no Data or
 * with the data the object holds (checked on the leader, update_build());
 * the shape rules of a create otherwise. */
static int update_check(const struct secret_kind *k, const json_t *body,
			char *err, size_t errlen)
{
	const json_t *d = json_object_get(body, "Data");
	json_t *copy = json_deep_copy(body);
	if (!copy)
		return -ENOMEM;
	/* Checked as a create, with one byte of data if none is given. */
	int rc = d && !json_is_null(d)
			 ? 0
			 : jsonx_set(copy, "Data", json_string("eA=="));
	if (rc == 0)
		rc = check_body(k, copy, err, errlen);
	json_decref(copy);
	return rc;
}

static int su_check(const json_t *body, const struct mgr_write_req *req,
		    char *err, size_t errlen)
{
	return update_check(&secret_kind_secret, body, err, errlen);
}

static int cu_check(const json_t *body, const struct mgr_write_req *req,
		    char *err, size_t errlen)
{
	return update_check(&secret_kind_config, body, err, errlen);
}

static int s_check(const json_t *body, const struct mgr_write_req *req,
		   char *err, size_t errlen)
{
	return check_body(&secret_kind_secret, body, err, errlen);
}

static int c_check(const json_t *body, const struct mgr_write_req *req,
		   char *err, size_t errlen)
{
	return check_body(&secret_kind_config, body, err, errlen);
}

#define BUILDS(p, kind)                                                        \
	static int p##_create(struct mgr__write_ctx *w, char *e, size_t n)     \
	{                                                                      \
		return create_build(kind, w, e, n);                            \
	}                                                                      \
	static int p##_update(struct mgr__write_ctx *w, char *e, size_t n)     \
	{                                                                      \
		return update_build(kind, w, e, n);                            \
	}                                                                      \
	static int p##_remove(struct mgr__write_ctx *w, char *e, size_t n)     \
	{                                                                      \
		return remove_build(kind, w, e, n);                            \
	}                                                                      \
	static int p##_rotate(struct mgr__write_ctx *w, char *e, size_t n)     \
	{                                                                      \
		return rotate_build(kind, w, e, n);                            \
	}

BUILDS(s, &secret_kind_secret)
BUILDS(c, &secret_kind_config)

static void logged(const char *what, const char *id, int rc)
{
	if (rc == 0)
		log_info("%s=%s", what, id);
}

static void s_created(struct mgr *m, const char *id, int rc)
{
	logged("created secret", id, rc);
}

static void s_removed(struct mgr *m, const char *id, int rc)
{
	logged("removed secret", id, rc);
}

static void s_rotated(struct mgr *m, const char *id, int rc)
{
	logged("rotated secret", id, rc);
}

static void c_created(struct mgr *m, const char *id, int rc)
{
	logged("created config", id, rc);
}

static void c_removed(struct mgr *m, const char *id, int rc)
{
	logged("removed config", id, rc);
}

static void c_rotated(struct mgr *m, const char *id, int rc)
{
	logged("rotated config", id, rc);
}

const struct mgr__write_op mgr__op_secret_create = {
	.name = "secret-create",
	.want_body = true,
	.check = s_check,
	.build = s_create,
	.committed = s_created,
};

const struct mgr__write_op mgr__op_secret_update = {
	.name = "secret-update",
	.want_body = true,
	.check = su_check,
	.build = s_update,
};

const struct mgr__write_op mgr__op_secret_remove = {
	.name = "secret-remove",
	.build = s_remove,
	.committed = s_removed,
};

const struct mgr__write_op mgr__op_secret_rotate = {
	.name = "secret-rotate",
	.want_body = true,
	.build = s_rotate,
	.committed = s_rotated,
};

const struct mgr__write_op mgr__op_config_create = {
	.name = "config-create",
	.want_body = true,
	.check = c_check,
	.build = c_create,
	.committed = c_created,
};

const struct mgr__write_op mgr__op_config_update = {
	.name = "config-update",
	.want_body = true,
	.check = cu_check,
	.build = c_update,
};

const struct mgr__write_op mgr__op_config_remove = {
	.name = "config-remove",
	.build = c_remove,
	.committed = c_removed,
};

const struct mgr__write_op mgr__op_config_rotate = {
	.name = "config-rotate",
	.want_body = true,
	.build = c_rotate,
	.committed = c_rotated,
};
