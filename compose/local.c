/*
 * Service keys only single-host Compose applies: `restart` (the
 * container's restart policy: no, always, unless-stopped, on-failure[:N])
 * and `depends_on` (a list of services, or a mapping whose conditions are
 * service_started: the start order). A swarm has its own ways
 * (deploy.restart_policy; no start order), so a stack refuses both by
 * path instead of ignoring them. Their values go to the converter's
 * "Local" table: {"SERVICE": {"Restart": {"Name", "MaximumRetryCount"},
 * "DependsOn": [...]}}.
 */
#include "compose/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int restart(const json_t *v, struct cpath *p, json_t *out,
		   struct shoal_err *err)
{
	char s[64], *end;
	long n = 0;
	if (compose__str(v, p, s, sizeof(s), err) < 0)
		return -EINVAL;
	if (!strncmp(s, "on-failure:", 11)) {
		n = strtol(s + 11, &end, 10);
		if (!s[11] || *end || n < 0)
			return compose__errf(err,
					     "%s: invalid retry count in "
					     "\"%s\"",
					     p->s, s);
		s[10] = '\0';
	} else if (strcmp(s, "no") && strcmp(s, "always") &&
		   strcmp(s, "unless-stopped") && strcmp(s, "on-failure")) {
		return compose__errf(err,
				     "%s: \"%s\" is not no, always, "
				     "unless-stopped or on-failure[:N]",
				     p->s, s);
	}
	json_object_set_new(out, "Restart",
			    json_pack("{s:s, s:i}", "Name", s,
				      "MaximumRetryCount", (int)n));
	return 0;
}

static int depends_on(const json_t *doc, const json_t *v, struct cpath *p,
		      json_t *out, struct shoal_err *err)
{
	const json_t *svcs = json_object_get(doc, "services");
	json_t *list = NULL;
	int rc = 0;
	if (json_is_object(v)) {
		static const char *const k[] = {"condition", NULL};
		const char *name;
		json_t *c;
		list = json_array();
		json_object_foreach((json_t *)v, name, c)
		{
			size_t l = compose__push(p, name);
			const char *cond = json_string_value(
				json_object_get(c, "condition"));
			if (!json_is_null(c))
				rc = compose__keys(c, k, p, err);
			if (rc == 0 && cond && strcmp(cond, "service_started"))
				rc = compose__errf(err,
						   "%s.condition: only "
						   "service_started is "
						   "supported",
						   p->s);
			compose__pop(p, l);
			if (rc < 0)
				break;
			json_array_append_new(list, json_string(name));
		}
	} else {
		rc = compose__strlist(v, p, false, &list, err);
	}
	size_t i;
	json_t *x;
	json_array_foreach(rc == 0 ? list : NULL, i, x)
	{
		if (!json_object_get(svcs, json_string_value(x))) {
			rc = compose__errf(err, "%s: undefined service \"%s\"",
					   p->s, json_string_value(x));
			break;
		}
	}
	if (rc == 0)
		json_object_set_new(out, "DependsOn", list);
	else
		json_decref(list);
	return rc;
}

int compose__local(const json_t *doc, const char *name, const json_t *svc,
		   const struct compose_opts *o, json_t *local,
		   struct shoal_err *err)
{
	static const char *const keys[] = {"restart", "depends_on"};
	static const char *const why[] = {
		"a swarm service restarts by deploy.restart_policy: use that",
		"a swarm starts services in no order: remove it"};
	struct cpath p = {{0}};
	json_t *one;
	int rc = 0;
	compose__push(&p, "services");
	compose__push(&p, name);
	for (int i = 0; i < 2 && !o->local; i++)
		if (json_object_get(svc, keys[i])) {
			compose__push(&p, keys[i]);
			return compose__errf(err,
					     "%s: not applied to a stack (%s)",
					     p.s, why[i]);
		}
	one = json_object();
	if (json_object_get(svc, "restart")) {
		size_t l = compose__push(&p, "restart");
		rc = restart(json_object_get(svc, "restart"), &p, one, err);
		compose__pop(&p, l);
	}
	if (rc == 0 && json_object_get(svc, "depends_on")) {
		size_t l = compose__push(&p, "depends_on");
		rc = depends_on(doc, json_object_get(svc, "depends_on"), &p,
				one, err);
		compose__pop(&p, l);
	}
	if (rc < 0 || !json_object_size(one)) {
		json_decref(one);
		return rc;
	}
	json_object_set_new(local, name, one);
	return 0;
}
