/*
 * The merged compose tree into a stack's Engine API objects (compose.h):
 * the top level (version, services, networks, volumes, secrets, configs),
 * the top-level objects, and the stack naming docker's own converter
 * uses (docker/cli cli/compose/convert): every object is STACK_NAME,
 * labelled com.docker.stack.namespace=STACK; a network without a driver
 * is an overlay; a service on no network joins STACK_default, which is
 * then created too. External objects keep their own name and are only
 * referenced. A secret's or config's file is read through the caller's
 * reader and carried base64-encoded in Data, as POST /secrets/create
 * wants it.
 */
#include "compose/internal.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_LABEL "com.docker.stack.namespace"

bool compose_valid_stack_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 63 ||
	    !strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
		    s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == n;
}

void compose__scoped(const struct compose_opts *o, const char *name, char *out,
		     size_t cap)
{
	snprintf(out, cap, "%s_%s", o->stack, name);
}

int compose__resolve(const struct compose_opts *o, const char *rel, char *out,
		     size_t cap, struct shoal_err *err)
{
	int n;
	if (rel[0] == '/')
		n = snprintf(out, cap, "%s", rel);
	else if (!o->dir)
		return compose__errf(err,
				     "\"%s\": a relative path needs the "
				     "compose file's folder",
				     rel);
	else
		n = snprintf(out, cap, "%s/%s", o->dir,
			     rel[0] == '.' && rel[1] == '/' ? rel + 2 : rel);
	if (n < 0 || (size_t)n >= cap)
		return compose__errf(err, "\"%s\": path too long", rel);
	return 0;
}

/* `labels:` (map or list) merged with the stack's namespace label, or
 * for single-host Compose with the project's and com.docker.compose.KIND
 * = @key (KIND "network" or "volume"; NULL: none). */
static int stack_labels(const json_t *v, struct cpath *p,
			const struct compose_opts *o, const char *kind,
			const char *key, json_t **out, struct shoal_err *err)
{
	size_t l = compose__push(p, "labels");
	int rc = compose__kvmap(v, p, NULL, out, err);
	compose__pop(p, l);
	if (rc < 0)
		return rc;
	if (!o->local) {
		json_object_set_new(*out, NS_LABEL, json_string(o->stack));
		return 0;
	}
	json_object_set_new(*out, "com.docker.compose.project",
			    json_string(o->stack));
	if (kind) {
		char k[64];
		snprintf(k, sizeof(k), "com.docker.compose.%s", kind);
		json_object_set_new(*out, k, json_string(key));
	}
	return 0;
}

/* `external: true` or the older `external: {name: X}`; *@name set then. */
static int external(const json_t *def, const char *key, struct cpath *p,
		    char *name, size_t cap, bool *ext, struct shoal_err *err)
{
	const json_t *e = json_object_get(def, "external");
	const json_t *n = json_object_get(def, "name");
	size_t l;
	int rc = 0;
	*ext = false;
	snprintf(name, cap, "%s", key);
	if (!e)
		return 0;
	l = compose__push(p, "external");
	if (json_is_object(e)) {
		static const char *const k[] = {"name", NULL};
		rc = compose__keys(e, k, p, err);
		*ext = true;
		if (rc == 0 && json_object_get(e, "name")) {
			size_t l2 = compose__push(p, "name");
			rc = compose__str(json_object_get(e, "name"), p, name,
					  cap, err);
			compose__pop(p, l2);
		}
	} else {
		rc = compose__bool(e, p, ext, err);
	}
	compose__pop(p, l);
	if (rc == 0 && n) {
		l = compose__push(p, "name");
		rc = compose__str(n, p, name, cap, err);
		compose__pop(p, l);
	}
	return rc;
}

static int network_def(const char *key, const json_t *def, struct cpath *p,
		       const struct compose_opts *o, json_t **out,
		       struct shoal_err *err)
{
	static const char *const known[] = {
		"driver",   "driver_opts", "attachable", "internal", "labels",
		"external", "name",	   "ipam",	 NULL};
	char name[256], drv[64];
	bool ext, b;
	json_t *n, *x;
	size_t l;
	if (json_is_null(def))
		def = NULL;
	if (def && compose__keys(def, known, p, err) < 0)
		return -EINVAL;
	if (external(def, key, p, name, sizeof(name), &ext, err) < 0)
		return -EINVAL;
	if (ext) {
		if (json_object_size(def) > 1 + !!json_object_get(def, "name"))
			return compose__errf(err,
					     "%s: an external network takes "
					     "no other keys than name",
					     p->s);
		*out = json_pack("{s:b, s:s}", "External", 1, "Name", name);
		return *out ? 0 : -ENOMEM;
	}
	snprintf(drv, sizeof(drv), "%s", o->local ? "bridge" : "overlay");
	if (!json_object_get(def, "name"))
		compose__scoped(o, key, name, sizeof(name));
	n = json_pack("{s:s, s:b, s:b}", "Name", name, "CheckDuplicate", 1,
		      "Attachable", 0);
	if (!n)
		return -ENOMEM;
	if ((x = json_object_get(def, "driver"))) {
		l = compose__push(p, "driver");
		if (compose__str(x, p, drv, sizeof(drv), err) < 0)
			goto err;
		compose__pop(p, l);
	}
	json_object_set_new(n, "Driver", json_string(drv));
	if (stack_labels(json_object_get(def, "labels"), p, o, "network", key,
			 &x, err) < 0)
		goto err;
	json_object_set_new(n, "Labels", x);
	if ((x = json_object_get(def, "driver_opts"))) {
		json_t *m;
		l = compose__push(p, "driver_opts");
		if (!json_is_object(x)) {
			compose__errf(err, "%s: must be a mapping", p->s);
			goto err;
		}
		if (compose__kvmap(x, p, NULL, &m, err) < 0)
			goto err;
		json_object_set_new(n, "Options", m);
		compose__pop(p, l);
	}
	static const char *const bools[] = {"attachable", "internal"};
	static const char *const api[] = {"Attachable", "Internal"};
	for (int i = 0; i < 2; i++) {
		if (!(x = json_object_get(def, bools[i])))
			continue;
		l = compose__push(p, bools[i]);
		if (compose__bool(x, p, &b, err) < 0)
			goto err;
		json_object_set_new(n, api[i], json_boolean(b));
		compose__pop(p, l);
	}
	if ((x = json_object_get(def, "ipam"))) {
		static const char *const ik[] = {"driver", "config", NULL};
		static const char *const ck[] = {"subnet", "gateway",
						 "ip_range", NULL};
		char s[128];
		json_t *ipam =
			json_pack("{s:s, s:[]}", "Driver", "default", "Config");
		json_object_set_new(n, "IPAM", ipam);
		l = compose__push(p, "ipam");
		if (compose__keys(x, ik, p, err) < 0)
			goto err;
		if (json_object_get(x, "driver")) {
			size_t l2 = compose__push(p, "driver");
			if (compose__str(json_object_get(x, "driver"), p, s,
					 sizeof(s), err) < 0)
				goto err;
			json_object_set_new(ipam, "Driver", json_string(s));
			compose__pop(p, l2);
		}
		const json_t *cfg = json_object_get(x, "config"), *c;
		size_t i;
		size_t l2 = compose__push(p, "config");
		if (cfg && !json_is_array(cfg)) {
			compose__errf(err, "%s: must be a list", p->s);
			goto err;
		}
		json_array_foreach(cfg, i, c)
		{
			size_t l3 = compose__pushi(p, i);
			json_t *one = json_object();
			json_array_append_new(json_object_get(ipam, "Config"),
					      one);
			if (compose__keys(c, ck, p, err) < 0)
				goto err;
			static const char *const api_k[] = {"Subnet", "Gateway",
							    "IPRange"};
			for (int k = 0; k < 3; k++) {
				const json_t *y = json_object_get(c, ck[k]);
				if (!y)
					continue;
				size_t l4 = compose__push(p, ck[k]);
				if (compose__str(y, p, s, sizeof(s), err) < 0)
					goto err;
				json_object_set_new(one, api_k[k],
						    json_string(s));
				compose__pop(p, l4);
			}
			compose__pop(p, l3);
		}
		compose__pop(p, l2);
		compose__pop(p, l);
	}
	*out = n;
	return 0;
err:
	json_decref(n);
	return -EINVAL;
}

static int volume_def(const char *key, const json_t *def, struct cpath *p,
		      const struct compose_opts *o, json_t **out,
		      struct shoal_err *err)
{
	static const char *const known[] = {"driver",	"driver_opts", "labels",
					    "external", "name",	       NULL};
	char name[256], drv[64] = "local";
	bool ext;
	json_t *v, *x;
	size_t l;
	if (json_is_null(def))
		def = NULL;
	if (def && compose__keys(def, known, p, err) < 0)
		return -EINVAL;
	if (external(def, key, p, name, sizeof(name), &ext, err) < 0)
		return -EINVAL;
	if (ext) {
		*out = json_pack("{s:b, s:s}", "External", 1, "Name", name);
		return *out ? 0 : -ENOMEM;
	}
	if (!json_object_get(def, "name"))
		compose__scoped(o, key, name, sizeof(name));
	if ((x = json_object_get(def, "driver"))) {
		l = compose__push(p, "driver");
		if (compose__str(x, p, drv, sizeof(drv), err) < 0)
			return -EINVAL;
		compose__pop(p, l);
	}
	if (stack_labels(json_object_get(def, "labels"), p, o, "volume", key,
			 &x, err) < 0)
		return -EINVAL;
	v = json_pack("{s:s, s:s, s:o, s:{}}", "Name", name, "Driver", drv,
		      "Labels", x, "DriverOpts");
	if (!v)
		return -ENOMEM;
	if ((x = json_object_get(def, "driver_opts"))) {
		json_t *m;
		l = compose__push(p, "driver_opts");
		if (!json_is_object(x) ||
		    compose__kvmap(x, p, NULL, &m, err) < 0) {
			if (!json_is_object(x))
				compose__errf(err, "%s: must be a mapping",
					      p->s);
			json_decref(v);
			return -EINVAL;
		}
		json_object_set_new(v, "DriverOpts", m);
		compose__pop(p, l);
	}
	*out = v;
	return 0;
}

/* A top-level secret or config: {Name, Labels, Data} or external. */
static int object_def(const char *key, const json_t *def, struct cpath *p,
		      const struct compose_opts *o, size_t max, json_t **out,
		      struct shoal_err *err)
{
	static const char *const known[] = {"file", "external", "name",
					    "labels", NULL};
	char name[256], file[PATH_MAX + 1], path[PATH_MAX + 1];
	bool ext;
	json_t *labels;
	char *data = NULL, *b64;
	size_t len = 0, l;
	if (compose__keys(def, known, p, err) < 0)
		return -EINVAL;
	if (external(def, key, p, name, sizeof(name), &ext, err) < 0)
		return -EINVAL;
	if (ext) {
		if (json_object_get(def, "file"))
			return compose__errf(err,
					     "%s: external and file "
					     "exclude each other",
					     p->s);
		*out = json_pack("{s:b, s:s}", "External", 1, "Name", name);
		return *out ? 0 : -ENOMEM;
	}
	if (!json_object_get(def, "file"))
		return compose__errf(err,
				     "%s: needs file: (or external: "
				     "true)",
				     p->s);
	if (!json_object_get(def, "name"))
		compose__scoped(o, key, name, sizeof(name));
	l = compose__push(p, "file");
	if (compose__str(json_object_get(def, "file"), p, file, sizeof(file),
			 err) < 0 ||
	    compose__resolve(o, file, path, sizeof(path), err) < 0)
		return -EINVAL;
	if (!o->read)
		return compose__errf(err,
				     "%s: reading files is not allowed "
				     "here",
				     p->s);
	int rc = o->read(o->read_arg, path, &data, &len, err);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	if (len > max) {
		free(data);
		return compose__errf(err, "%s: %s is larger than %zu bytes",
				     p->s, path, max);
	}
	compose__pop(p, l);
	if (stack_labels(json_object_get(def, "labels"), p, o, NULL, NULL,
			 &labels, err) < 0) {
		free(data);
		return -EINVAL;
	}
	size_t cap =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(cap);
	if (!b64) {
		free(data);
		json_decref(labels);
		return -ENOMEM;
	}
	sodium_bin2base64(b64, cap, (const unsigned char *)data, len,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(data, len);
	free(data);
	*out = json_pack("{s:s, s:o, s:s, s:s}", "Name", name, "Labels", labels,
			 "Data", b64, "File", path);
	sodium_memzero(b64, cap);
	free(b64);
	return *out ? 0 : -ENOMEM;
}

enum kind { K_NETWORK, K_VOLUME, K_SECRET, K_CONFIG };

static int table(const json_t *doc, const char *key, enum kind kind,
		 const struct compose_opts *o, json_t *out,
		 struct shoal_err *err)
{
	const json_t *t = json_object_get(doc, key), *def;
	struct cpath p = {{0}};
	const char *name;
	compose__push(&p, key);
	if (!t || json_is_null(t))
		return 0;
	if (!json_is_object(t))
		return compose__errf(err, "%s: must be a mapping", p.s);
	json_object_foreach((json_t *)t, name, def)
	{
		json_t *one = NULL;
		size_t l;
		int rc;
		if (!strncmp(name, "x-", 2))
			continue;
		l = compose__push(&p, name);
		if (!compose_valid_stack_name(name))
			return compose__errf(err,
					     "%s: invalid name (letters, "
					     "digits, '_', '.', '-')",
					     p.s);
		switch (kind) {
		case K_NETWORK:
			rc = network_def(name, def, &p, o, &one, err);
			break;
		case K_VOLUME:
			rc = volume_def(name, def, &p, o, &one, err);
			break;
		default:
			rc = object_def(name, def, &p, o,
					kind == K_SECRET ? 500 * 1024
							 : 1000 * 1024,
					&one, err);
		}
		if (rc < 0)
			return rc;
		json_object_set_new(out, name, one);
		compose__pop(&p, l);
	}
	return 0;
}

int compose_convert(const json_t *doc, const struct compose_opts *o,
		    json_t **out, struct shoal_err *err)
{
	static const char *const top[] = {"version", "services", "networks",
					  "volumes", "secrets",	 "configs",
					  NULL};
	static const char *const keys[] = {"Networks", "Volumes", "Secrets",
					   "Configs"};
	static const char *const yk[] = {"networks", "volumes", "secrets",
					 "configs"};
	struct cpath p = {{0}};
	const json_t *svcs = json_object_get(doc, "services"), *svc;
	const char *name;
	json_t *res;
	int rc;
	if (!o->stack || !compose_valid_stack_name(o->stack))
		return compose__errf(err,
				     "invalid stack name \"%s\": letters, "
				     "digits, '_', '.' and '-', starting with "
				     "a letter or digit",
				     o->stack ? o->stack : "");
	if (compose__keys(doc, top, &p, err) < 0)
		return -EINVAL;
	res = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}, s:{}}", "Services",
			"Networks", "Volumes", "Secrets", "Configs", "Local");
	if (!res)
		return -ENOMEM;
	for (int i = 0; i < 4; i++) {
		rc = table(doc, yk[i], (enum kind)i, o,
			   json_object_get(res, keys[i]), err);
		if (rc < 0)
			goto fail;
	}
	if (!json_is_object(svcs) || !json_object_size(svcs)) {
		rc = compose__errf(err, "services: at least one service is "
					"needed");
		goto fail;
	}
	json_object_foreach((json_t *)svcs, name, svc)
	{
		json_t *spec = NULL;
		if (!strncmp(name, "x-", 2))
			continue;
		rc = compose__service(doc, name, svc, o, &spec, err);
		if (rc == 0)
			rc = compose__local(doc, name, svc, o,
					    json_object_get(res, "Local"), err);
		if (rc < 0) {
			json_decref(spec);
			goto fail;
		}
		json_object_set_new(json_object_get(res, "Services"), name,
				    spec);
		/* The implicit default network, created when used. */
		const json_t *nets = json_object_get(
			json_object_get(spec, "TaskTemplate"), "Networks");
		char def[300];
		compose__scoped(o, "default", def, sizeof(def));
		size_t i;
		const json_t *n;
		json_array_foreach(nets, i, n)
		{
			json_t *all = json_object_get(res, "Networks");
			if (strcmp(json_string_value(
					   json_object_get(n, "Target")),
				   def) ||
			    json_object_get(all, "default"))
				continue;
			json_t *labels = NULL;
			struct cpath dp = {{0}};
			rc = stack_labels(NULL, &dp, o, "network", "default",
					  &labels, err);
			if (rc < 0)
				goto fail;
			json_object_set_new(
				all, "default",
				json_pack("{s:s, s:b, s:s, s:o}", "Name", def,
					  "CheckDuplicate", 1, "Driver",
					  o->local ? "bridge" : "overlay",
					  "Labels", labels));
		}
	}
	*out = res;
	return 0;
fail:
	json_decref(res);
	return rc;
}
