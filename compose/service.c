/*
 * One compose service into a Docker ServiceSpec, as docker's own stack
 * converter builds it (docker/cli cli/compose/convert/service.go):
 * entrypoint is ContainerSpec.Command and command is Args; the service
 * joins its networks as STACK_NET with its own name added to the
 * aliases; named volumes become volume mounts of STACK_VOL labelled with
 * the stack; secrets and configs are referenced by their stack name;
 * deploy: maps to Mode, Placement, Resources, RestartPolicy,
 * UpdateConfig, RollbackConfig and the service's Labels (that and
 * healthcheck: in service_deploy.c). Every key not listed in `known`
 * below is refused with its path.
 */
#include "compose/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wshadow" /* WITH(), internal.h */

#define NS_LABEL "com.docker.stack.namespace"

int compose__set_str(struct svc *s, json_t *dst, const char *api,
		     const json_t *v)
{
	char buf[4096];
	if (compose__str(v, &s->p, buf, sizeof(buf), s->err) < 0)
		return -EINVAL;
	json_object_set_new(dst, api, json_string(buf));
	return 0;
}

int compose__set_dur(struct svc *s, json_t *dst, const char *api,
		     const json_t *v)
{
	long long ns;
	if (compose__dur(v, &s->p, &ns, s->err) < 0)
		return -EINVAL;
	json_object_set_new(dst, api, json_integer(ns));
	return 0;
}

int compose__set_uint(struct svc *s, json_t *dst, const char *api,
		      const json_t *v)
{
	long long x;
	if (compose__int(v, &s->p, &x, s->err) < 0)
		return -EINVAL;
	if (x < 0)
		return compose__errf(s->err, "%s: must not be negative",
				     s->p.s);
	json_object_set_new(dst, api, json_integer(x));
	return 0;
}

int compose__one_of(struct svc *s, const json_t *v, const char *const *ok,
		    char *out, size_t cap)
{
	if (compose__str(v, &s->p, out, cap, s->err) < 0)
		return -EINVAL;
	for (size_t i = 0; ok[i]; i++)
		if (!strcmp(out, ok[i]))
			return 0;
	char list[256] = "";
	for (size_t i = 0; ok[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", ok[i]);
	return compose__errf(s->err, "%s: \"%s\" is not one of %s", s->p.s, out,
			     list);
}

/* --------------------------------------------------------- environment */

/* KEY=VALUE lines of an env file (docker's format: # comments, blank
 * lines, no quoting) into @env, earlier files overridden by later. */
static int env_file_parse(struct svc *s, const char *path, const char *data,
			  size_t len, json_t *env)
{
	size_t line = 0;
	const char *end = data + len;
	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		size_t n = nl ? (size_t)(nl - data) : (size_t)(end - data);
		char buf[8192];
		line++;
		if (n >= sizeof(buf))
			return compose__errf(s->err,
					     "%s: %s line %zu is too "
					     "long",
					     s->p.s, path, line);
		memcpy(buf, data, n);
		buf[n] = '\0';
		if (n && buf[n - 1] == '\r')
			buf[n - 1] = '\0';
		data += n + (nl ? 1 : 0);
		char *t = buf + strspn(buf, " \t");
		if (!*t || *t == '#')
			continue;
		if (memchr(buf, '\0', n) != buf + strlen(buf) &&
		    strlen(buf) < n - (buf[n - 1] == '\0'))
			return compose__errf(s->err,
					     "%s: %s line %zu holds "
					     "a NUL byte",
					     s->p.s, path, line);
		char *eq = strchr(t, '=');
		if (eq)
			*eq = '\0';
		if (!*t || strpbrk(t, " \t"))
			return compose__errf(s->err,
					     "%s: %s line %zu: variable \"%s\" "
					     "has white space or is empty",
					     s->p.s, path, line, t);
		if (eq) {
			json_object_set_new(env, t, json_string(eq + 1));
		} else {
			const char *e =
				s->o->env && s->o->env->vars
					? json_string_value(json_object_get(
						  s->o->env->vars, t))
					: NULL;
			if (e)
				json_object_set_new(env, t, json_string(e));
		}
	}
	return 0;
}

static int environment(struct svc *s, json_t **out)
{
	json_t *env = json_object(), *more = NULL;
	int rc = 0;
	WITH(s, s->def, "env_file", {
		json_t *files = NULL;
		size_t i;
		const json_t *f;
		rc = compose__strlist(v, &s->p, false, &files, s->err);
		json_array_foreach(files, i, f)
		{
			char path[PATH_MAX + 1], *data = NULL;
			size_t len = 0;
			if (rc < 0)
				break;
			rc = compose__resolve(s->o, json_string_value(f), path,
					      sizeof(path), s->err);
			if (rc == 0 && !s->o->read)
				rc = compose__errf(s->err,
						   "%s: reading files is not "
						   "allowed here",
						   s->p.s);
			if (rc == 0)
				rc = s->o->read(s->o->read_arg, path, &data,
						&len, s->err);
			if (rc == 0)
				rc = env_file_parse(s, path, data, len, env);
			free(data);
		}
		json_decref(files);
	});
	if (rc < 0)
		goto fail;
	WITH(s, s->def, "environment",
	     { rc = compose__kvmap(v, &s->p, s->o->env, &more, s->err); });
	if (rc < 0)
		goto fail;
	if (more)
		json_object_update(env, more);
	json_decref(more);
	*out = env;
	return 0;
fail:
	json_decref(env);
	return rc;
}

static int set_env(struct svc *s)
{
	json_t *env, *list;
	const char *k;
	json_t *v;
	if (environment(s, &env) < 0)
		return -EINVAL;
	if (!json_object_size(env)) {
		json_decref(env);
		return 0;
	}
	list = json_array();
	/* Sorted, so the same file always gives the same spec. */
	void *it;
	const char **keys = calloc(json_object_size(env), sizeof(*keys));
	size_t n = 0;
	json_object_foreach(env, k, v)
	{
		keys[n++] = k;
	}
	(void)it;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0;
		     j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		char *kv;
		if (asprintf(&kv, "%s=%s", keys[i],
			     json_string_value(json_object_get(env, keys[i]))) <
		    0)
			break;
		json_array_append_new(list, json_string(kv));
		free(kv);
	}
	free(keys);
	json_decref(env);
	json_object_set_new(s->cs, "Env", list);
	return 0;
}

/* ------------------------------------------------------------ networks */

static int net_target(struct svc *s, const char *net, char *out, size_t cap)
{
	const json_t *def =
		json_object_get(json_object_get(s->doc, "networks"), net);
	const json_t *ext = json_object_get(def, "external");
	const json_t *name = json_object_get(def, "name");
	if (!def && strcmp(net, "default") &&
	    !json_object_get(json_object_get(s->doc, "networks"), net))
		return compose__errf(s->err,
				     "%s: undefined network \"%s\" (declare "
				     "it under the top-level networks:)",
				     s->p.s, net);
	if (name && json_is_string(name)) {
		snprintf(out, cap, "%s", json_string_value(name));
		return 0;
	}
	if (json_is_object(ext) &&
	    json_is_string(json_object_get(ext, "name"))) {
		snprintf(out, cap, "%s",
			 json_string_value(json_object_get(ext, "name")));
		return 0;
	}
	if (json_is_true(ext)) {
		snprintf(out, cap, "%s", net);
		return 0;
	}
	compose__scoped(s->o, net, out, cap);
	return 0;
}

static int net_attach(struct svc *s, json_t *arr, const char *net,
		      const json_t *cfg)
{
	char target[300];
	json_t *aliases = json_array();
	size_t l = compose__push(&s->p, net);
	int rc = net_target(s, net, target, sizeof(target));
	if (rc == 0 && cfg && !json_is_null(cfg)) {
		static const char *const k[] = {"aliases", NULL};
		rc = compose__keys(cfg, k, &s->p, s->err);
		if (rc == 0 && json_object_get(cfg, "aliases")) {
			json_t *a = NULL;
			size_t l2 = compose__push(&s->p, "aliases");
			rc = compose__strlist(json_object_get(cfg, "aliases"),
					      &s->p, false, &a, s->err);
			compose__pop(&s->p, l2);
			if (a)
				json_array_extend(aliases, a);
			json_decref(a);
		}
	}
	compose__pop(&s->p, l);
	if (rc < 0) {
		json_decref(aliases);
		return rc;
	}
	json_array_append_new(aliases, json_string(s->name));
	/* Sorted by target, as docker does. */
	size_t at = 0;
	for (; at < json_array_size(arr); at++)
		if (strcmp(json_string_value(json_object_get(
				   json_array_get(arr, at), "Target")),
			   target) > 0)
			break;
	json_array_insert_new(
		arr, at,
		json_pack("{s:s, s:o}", "Target", target, "Aliases", aliases));
	return 0;
}

static int networks(struct svc *s)
{
	const json_t *v = json_object_get(s->def, "networks"), *x;
	json_t *arr = json_array();
	size_t l = compose__push(&s->p, "networks"), i;
	const char *k;
	int rc = 0;
	if (!v || json_is_null(v)) {
		rc = net_attach(s, arr, "default", NULL);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			char n[256];
			size_t l2 = compose__pushi(&s->p, i);
			rc = compose__str(x, &s->p, n, sizeof(n), s->err);
			compose__pop(&s->p, l2);
			if (rc == 0)
				rc = net_attach(s, arr, n, NULL);
			if (rc < 0)
				break;
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			if ((rc = net_attach(s, arr, k, x)) < 0)
				break;
		}
	} else {
		rc = compose__errf(s->err, "%s: must be a list or a mapping",
				   s->p.s);
	}
	compose__pop(&s->p, l);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	json_object_set_new(s->tt, "Networks", arr);
	return 0;
}

/* ------------------------------------------------------------- volumes */

static int vol_source(struct svc *s, const char *src, json_t *m)
{
	const json_t *def =
		json_object_get(json_object_get(s->doc, "volumes"), src);
	char name[300];
	if (!json_object_get(json_object_get(s->doc, "volumes"), src))
		return compose__errf(s->err,
				     "%s: undefined volume \"%s\" (declare it "
				     "under the top-level volumes:)",
				     s->p.s, src);
	const json_t *ext = json_object_get(def, "external");
	const json_t *nm = json_object_get(def, "name");
	if (json_is_string(nm))
		snprintf(name, sizeof(name), "%s", json_string_value(nm));
	else if (json_is_object(ext) &&
		 json_is_string(json_object_get(ext, "name")))
		snprintf(name, sizeof(name), "%s",
			 json_string_value(json_object_get(ext, "name")));
	else if (json_is_true(ext))
		snprintf(name, sizeof(name), "%s", src);
	else
		compose__scoped(s->o, src, name, sizeof(name));
	json_object_set_new(m, "Source", json_string(name));
	if (ext && !json_is_false(ext))
		return 0;
	json_t *vo = json_pack("{s:{s:s}}", "Labels", NS_LABEL, s->o->stack);
	const json_t *labels = json_object_get(def, "labels");
	json_t *lm = NULL;
	if (labels && compose__kvmap(labels, &s->p, NULL, &lm, s->err) == 0)
		json_object_update(json_object_get(vo, "Labels"), lm);
	json_decref(lm);
	const json_t *drv = json_object_get(def, "driver");
	if (json_is_string(drv)) {
		json_t *dc = json_pack("{s:s}", "Name", json_string_value(drv));
		json_t *opts = NULL;
		const json_t *o = json_object_get(def, "driver_opts");
		if (o && compose__kvmap(o, &s->p, NULL, &opts, s->err) == 0)
			json_object_set_new(dc, "Options", opts);
		json_object_set_new(vo, "DriverConfig", dc);
	}
	json_object_set_new(m, "VolumeOptions", vo);
	return 0;
}

static int vol_short(struct svc *s, const char *spec, json_t *m)
{
	char buf[PATH_MAX * 2 + 64], *parts[3] = {0};
	int n = 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = buf, *c; n < 3 && t; n++) {
		parts[n] = t;
		c = strchr(t, ':');
		if (c)
			*c++ = '\0';
		t = c;
		if (n == 2 && t)
			return compose__errf(s->err,
					     "%s: \"%s\": too many "
					     "':'",
					     s->p.s, spec);
	}
	if (n == 1) { /* an anonymous volume at a path */
		json_object_set_new(m, "Type", json_string("volume"));
		json_object_set_new(m, "Target", json_string(parts[0]));
		return parts[0][0] == '/'
			       ? 0
			       : compose__errf(s->err,
					       "%s: \"%s\": the target must "
					       "be an absolute path",
					       s->p.s, spec);
	}
	if (parts[1][0] != '/')
		return compose__errf(s->err,
				     "%s: \"%s\": the target must be an "
				     "absolute path",
				     s->p.s, spec);
	json_object_set_new(m, "Target", json_string(parts[1]));
	if (parts[2]) {
		for (char *o = strtok(parts[2], ","); o; o = strtok(NULL, ","))
			if (!strcmp(o, "ro"))
				json_object_set_new(m, "ReadOnly", json_true());
			else if (strcmp(o, "rw"))
				return compose__errf(
					s->err,
					"%s: \"%s\": unsupported mode \"%s\" "
					"(ro or rw)",
					s->p.s, spec, o);
	}
	if (parts[0][0] == '/' || parts[0][0] == '.' || parts[0][0] == '~') {
		char path[PATH_MAX + 1];
		if (parts[0][0] == '~')
			return compose__errf(s->err,
					     "%s: \"%s\": write the "
					     "home folder's path out",
					     s->p.s, spec);
		if (compose__resolve(s->o, parts[0], path, sizeof(path),
				     s->err) < 0)
			return -EINVAL;
		json_object_set_new(m, "Type", json_string("bind"));
		json_object_set_new(m, "Source", json_string(path));
		return 0;
	}
	json_object_set_new(m, "Type", json_string("volume"));
	return vol_source(s, parts[0], m);
}

static int vol_long(struct svc *s, const json_t *v, json_t *m)
{
	static const char *const k[] = {"type",	     "source", "target",
					"read_only", "volume", "tmpfs",
					"bind",	     NULL};
	static const char *const types[] = {"volume", "bind", "tmpfs", NULL};
	char type[16], src[PATH_MAX + 1] = "";
	int rc = 0;
	bool b;
	if (compose__keys(v, k, &s->p, s->err) < 0)
		return -EINVAL;
	if (!json_object_get(v, "type") || !json_object_get(v, "target"))
		return compose__errf(s->err,
				     "%s: type and target are "
				     "required",
				     s->p.s);
	WITH(s, v, "type",
	     rc = compose__one_of(s, v, types, type, sizeof(type)));
	if (rc < 0)
		return rc;
	json_object_set_new(m, "Type", json_string(type));
	WITH(s, v, "target", {
		rc = compose__set_str(s, m, "Target", v);
		if (rc == 0 &&
		    json_string_value(json_object_get(m, "Target"))[0] != '/')
			rc = compose__errf(s->err,
					   "%s: must be an absolute "
					   "path",
					   s->p.s);
	});
	WITH(s, v, "read_only", {
		if (rc == 0 && (rc = compose__bool(v, &s->p, &b, s->err)) == 0)
			json_object_set_new(m, "ReadOnly", json_boolean(b));
	});
	WITH(s, v, "source", {
		if (rc == 0)
			rc = compose__str(v, &s->p, src, sizeof(src), s->err);
	});
	if (rc < 0)
		return rc;
	if (!strcmp(type, "tmpfs")) {
		if (*src)
			return compose__errf(s->err,
					     "%s: a tmpfs mount takes "
					     "no source",
					     s->p.s);
		WITH(s, v, "tmpfs", {
			static const char *const tk[] = {"size", NULL};
			long long size;
			char sz[64];
			rc = compose__keys(v, tk, &s->p, s->err);
			if (rc == 0 && json_object_get(v, "size")) {
				size_t l = compose__push(&s->p, "size");
				rc = compose__str(json_object_get(v, "size"),
						  &s->p, sz, sizeof(sz),
						  s->err);
				if (rc == 0 && compose_bytes(sz, &size) < 0)
					rc = compose__errf(s->err,
							   "%s: invalid size",
							   s->p.s);
				compose__pop(&s->p, l);
				if (rc == 0)
					json_object_set_new(
						m, "TmpfsOptions",
						json_pack("{s:I}", "SizeBytes",
							  (json_int_t)size));
			}
		});
		return rc;
	}
	if (json_object_get(v, "tmpfs"))
		return compose__errf(s->err, "%s.tmpfs: only for type tmpfs",
				     s->p.s);
	if (!strcmp(type, "bind")) {
		char path[PATH_MAX + 1];
		if (json_object_get(v, "volume"))
			return compose__errf(s->err,
					     "%s.volume: only for "
					     "type volume",
					     s->p.s);
		WITH(s, v, "bind", {
			static const char *const bk[] = {"propagation", NULL};
			rc = compose__keys(v, bk, &s->p, s->err);
			if (rc == 0 && json_object_get(v, "propagation")) {
				json_t *bo = json_object();
				size_t l = compose__push(&s->p, "propagation");
				rc = compose__set_str(
					s, bo, "Propagation",
					json_object_get(v, "propagation"));
				compose__pop(&s->p, l);
				json_object_set_new(m, "BindOptions", bo);
			}
		});
		if (rc < 0)
			return rc;
		if (!*src)
			return compose__errf(s->err,
					     "%s: a bind mount needs a "
					     "source",
					     s->p.s);
		if (compose__resolve(s->o, src, path, sizeof(path), s->err) < 0)
			return -EINVAL;
		json_object_set_new(m, "Source", json_string(path));
		return 0;
	}
	if (json_object_get(v, "bind"))
		return compose__errf(s->err, "%s.bind: only for type bind",
				     s->p.s);
	WITH(s, v, "volume", {
		static const char *const vk[] = {"nocopy", NULL};
		rc = compose__keys(v, vk, &s->p, s->err);
		if (rc == 0 && json_object_get(v, "nocopy")) {
			size_t l = compose__push(&s->p, "nocopy");
			rc = compose__bool(json_object_get(v, "nocopy"), &s->p,
					   &b, s->err);
			compose__pop(&s->p, l);
			if (rc == 0 && b)
				json_object_set_new(
					m, "VolumeOptions",
					json_pack("{s:b}", "NoCopy", 1));
		}
	});
	if (rc < 0 || !*src)
		return rc;
	json_t *keep = json_incref(json_object_get(m, "VolumeOptions"));
	rc = vol_source(s, src, m);
	if (rc == 0 && keep && json_object_get(m, "VolumeOptions"))
		json_object_set(json_object_get(m, "VolumeOptions"), "NoCopy",
				json_true());
	else if (rc == 0 && keep)
		json_object_set(m, "VolumeOptions", keep);
	json_decref(keep);
	return rc;
}

static int volumes(struct svc *s, const json_t *v)
{
	json_t *arr = json_array();
	const json_t *x;
	size_t i;
	if (!json_is_array(v)) {
		json_decref(arr);
		return compose__errf(s->err, "%s: must be a list", s->p.s);
	}
	json_array_foreach(v, i, x)
	{
		json_t *m = json_object();
		size_t l = compose__pushi(&s->p, i);
		int rc;
		json_array_append_new(arr, m);
		if (json_is_object(x)) {
			rc = vol_long(s, x, m);
		} else {
			char spec[PATH_MAX * 2];
			rc = compose__str(x, &s->p, spec, sizeof(spec), s->err);
			if (rc == 0)
				rc = vol_short(s, spec, m);
		}
		compose__pop(&s->p, l);
		if (rc < 0) {
			json_decref(arr);
			return rc;
		}
	}
	json_object_set_new(s->cs, "Mounts", arr);
	return 0;
}

/* ---------------------------------------------------- secrets, configs */

static int obj_refs(struct svc *s, const json_t *v, bool secret)
{
	static const char *const k[] = {"source", "target", "uid",
					"gid",	  "mode",   NULL};
	const char *top = secret ? "secrets" : "configs";
	json_t *arr = json_array();
	const json_t *x;
	size_t i;
	int rc = 0;
	if (!json_is_array(v)) {
		json_decref(arr);
		return compose__errf(s->err, "%s: must be a list", s->p.s);
	}
	json_array_foreach(v, i, x)
	{
		char src[256], target[PATH_MAX + 1], uid[32] = "0",
						     gid[32] = "0";
		long long mode = 0444;
		size_t l = compose__pushi(&s->p, i);
		if (json_is_object(x)) {
			rc = compose__keys(x, k, &s->p, s->err);
			if (rc == 0 && !json_object_get(x, "source"))
				rc = compose__errf(s->err,
						   "%s: source is "
						   "required",
						   s->p.s);
			WITH(s, x, "source",
			     if (rc == 0) rc = compose__str(
				     v, &s->p, src, sizeof(src), s->err));
			snprintf(target, sizeof(target), "%s", src);
			WITH(s, x, "target",
			     if (rc == 0) rc = compose__str(
				     v, &s->p, target, sizeof(target), s->err));
			WITH(s, x, "uid",
			     if (rc == 0) rc = compose__str(
				     v, &s->p, uid, sizeof(uid), s->err));
			WITH(s, x, "gid",
			     if (rc == 0) rc = compose__str(
				     v, &s->p, gid, sizeof(gid), s->err));
			WITH(s, x, "mode", {
				if (rc == 0)
					rc = compose__int(v, &s->p, &mode,
							  s->err);
				if (rc == 0 && (mode < 0 || mode > 07777))
					rc = compose__errf(s->err,
							   "%s: not a file "
							   "mode",
							   s->p.s);
			});
		} else {
			rc = compose__str(x, &s->p, src, sizeof(src), s->err);
			snprintf(target, sizeof(target), "%s", src);
		}
		const json_t *def =
			json_object_get(json_object_get(s->doc, top), src);
		if (rc == 0 && !def)
			rc = compose__errf(s->err,
					   "%s: undefined %s \"%s\" (declare "
					   "it under the top-level %s:)",
					   s->p.s, secret ? "secret" : "config",
					   src, top);
		compose__pop(&s->p, l);
		if (rc < 0)
			break;
		char name[300];
		const json_t *ext = json_object_get(def, "external");
		const json_t *nm = json_object_get(def, "name");
		if (json_is_string(nm))
			snprintf(name, sizeof(name), "%s",
				 json_string_value(nm));
		else if (json_is_object(ext) &&
			 json_is_string(json_object_get(ext, "name")))
			snprintf(name, sizeof(name), "%s",
				 json_string_value(
					 json_object_get(ext, "name")));
		else if (json_is_true(ext))
			snprintf(name, sizeof(name), "%s", src);
		else
			compose__scoped(s->o, src, name, sizeof(name));
		json_array_append_new(
			arr, json_pack("{s:s, s:{s:s, s:s, s:s, s:I}}",
				       secret ? "SecretName" : "ConfigName",
				       name, "File", "Name", target, "UID", uid,
				       "GID", gid, "Mode", (json_int_t)mode));
	}
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	json_object_set_new(s->cs, secret ? "Secrets" : "Configs", arr);
	return 0;
}

/* ------------------------------------------------------------- service */

static const char *const known[] = {
	"image",     "command",	    "entrypoint", "environment",
	"env_file",  "ports",	    "networks",	  "volumes",
	"secrets",   "configs",	    "deploy",	  "healthcheck",
	"user",	     "working_dir", "hostname",	  "stop_grace_period",
	"labels",    "stop_signal", "tty",	  "stdin_open",
	"read_only", "init",	    "restart",	  "depends_on",
	NULL}; /* the last two: local.c */

static int simple(struct svc *s)
{
	int rc = 0;
	bool b;
	json_t *l = NULL;
	WITH(s, s->def, "image", rc = compose__set_str(s, s->cs, "Image", v));
	WITH(s, s->def, "user",
	     if (rc == 0) rc = compose__set_str(s, s->cs, "User", v));
	WITH(s, s->def, "working_dir",
	     if (rc == 0) rc = compose__set_str(s, s->cs, "Dir", v));
	WITH(s, s->def, "hostname",
	     if (rc == 0) rc = compose__set_str(s, s->cs, "Hostname", v));
	WITH(s, s->def, "stop_signal",
	     if (rc == 0) rc = compose__set_str(s, s->cs, "StopSignal", v));
	WITH(s, s->def, "stop_grace_period",
	     if (rc == 0) rc =
		     compose__set_dur(s, s->cs, "StopGracePeriod", v));
	static const char *const bools[] = {"tty", "stdin_open", "read_only",
					    "init"};
	static const char *const api[] = {"TTY", "OpenStdin", "ReadOnly",
					  "Init"};
	for (int i = 0; i < 4 && rc == 0; i++)
		WITH(s, s->def, bools[i], {
			rc = compose__bool(v, &s->p, &b, s->err);
			if (rc == 0)
				json_object_set_new(s->cs, api[i],
						    json_boolean(b));
		});
	WITH(s, s->def, "command", {
		if (rc == 0)
			rc = compose__strlist(v, &s->p, true, &l, s->err);
		if (l)
			json_object_set_new(s->cs, "Args", l);
		l = NULL;
	});
	WITH(s, s->def, "entrypoint", {
		if (rc == 0)
			rc = compose__strlist(v, &s->p, true, &l, s->err);
		if (l)
			json_object_set_new(s->cs, "Command", l);
		l = NULL;
	});
	WITH(s, s->def, "labels", {
		if (rc == 0)
			rc = compose__kvmap(v, &s->p, NULL, &l, s->err);
		if (l)
			json_object_update(json_object_get(s->cs, "Labels"), l);
		json_decref(l);
		l = NULL;
	});
	return rc;
}

int compose__service(const json_t *doc, const char *name, const json_t *svc,
		     const struct compose_opts *o, json_t **out,
		     struct shoal_err *err)
{
	struct svc s = {
		.doc = doc, .name = name, .def = svc, .o = o, .err = err};
	char full[300];
	int rc;
	compose__push(&s.p, "services");
	compose__push(&s.p, name);
	if (!compose_valid_stack_name(name))
		return compose__errf(err, "%s: invalid service name", s.p.s);
	if (compose__keys(svc, known, &s.p, err) < 0)
		return -EINVAL;
	if (!json_object_get(svc, "image"))
		return compose__errf(err,
				     "%s: image is required (building "
				     "images from a stack is not "
				     "supported)",
				     s.p.s);
	compose__scoped(o, name, full, sizeof(full));
	s.spec = json_pack("{s:s, s:{s:s}, s:{s:{s:{s:s}}}, s:{s:s}}", "Name",
			   full, "Labels", NS_LABEL, o->stack, "TaskTemplate",
			   "ContainerSpec", "Labels", NS_LABEL, o->stack,
			   "EndpointSpec", "Mode", "vip");
	if (!s.spec)
		return -ENOMEM;
	s.tt = json_object_get(s.spec, "TaskTemplate");
	s.cs = json_object_get(s.tt, "ContainerSpec");
	json_object_set_new(
		s.spec, "Mode",
		json_pack("{s:{s:i}}", "Replicated", "Replicas", 1));
	rc = simple(&s);
	if (rc == 0)
		rc = set_env(&s);
	if (rc == 0)
		rc = networks(&s);
	WITH(&s, svc, "volumes", if (rc == 0) rc = volumes(&s, v));
	WITH(&s, svc, "secrets", if (rc == 0) rc = obj_refs(&s, v, true));
	WITH(&s, svc, "configs", if (rc == 0) rc = obj_refs(&s, v, false));
	WITH(&s, svc, "healthcheck",
	     if (rc == 0) rc = compose__healthcheck(&s, v));
	WITH(&s, svc, "deploy", if (rc == 0) rc = compose__deploy(&s, v));
	WITH(&s, svc, "ports", {
		json_t *ports = json_array();
		json_object_set_new(json_object_get(s.spec, "EndpointSpec"),
				    "Ports", ports);
		if (rc == 0)
			rc = compose__ports(v, &s.p, o->local, ports, err);
	});
	if (rc == 0) {
		/* docker's stack label naming the image as written. */
		json_object_set(json_object_get(s.spec, "Labels"),
				"com.docker.stack.image",
				json_object_get(s.cs, "Image"));
		*out = s.spec;
		return 0;
	}
	json_decref(s.spec);
	return rc;
}
