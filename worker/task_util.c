/*
 * The helpers of task decoding (task.c) that do not depend on the
 * container spec's shape: Docker's task states, typed reads of JSON
 * fields that record the first spec error, bounded string vectors, and
 * Docker's service templates. Pure, like task.c.
 */
#define LOG_MODULE "agent"
#include "worker/task_internal.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
	"new",	  "pending",  "assigned", "accepted", "preparing",
	"ready",  "starting", "running",  "complete", "shutdown",
	"failed", "rejected", "remove",	  "orphaned",
};

const char *wtask_state_name(enum wtask_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

int wtask_state_parse(const char *s, enum wtask_state *out)
{
	for (size_t i = 0; s && i < sizeof(state_names) / sizeof(*state_names);
	     i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum wtask_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool wtask_state_final(enum wtask_state s)
{
	return s >= WT_COMPLETE;
}

/* ------------------------------------------------------------- helpers */

bool wtask__is_default(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) == 0;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (json_is_object(v))
		return json_object_size(v) == 0;
	return false;
}

/* The first spec error wins; later ones are not looked for. */
int wtask__bad(struct wtask *t, const char *fmt, ...)
{
	va_list ap;
	if (t->spec_error[0])
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(t->spec_error, sizeof(t->spec_error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int wtask__unsupported(struct wtask *t, const char *field)
{
	return wtask__bad(
		t,
		"%s is not supported by Shoal's agent; remove it from the "
		"service",
		field);
}

void wtask__strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

int wtask__strv_push(char ***v, size_t *n, const char *s)
{
	if (*n >= WTASK_MAX_LIST)
		return -E2BIG;
	char **nv = shoal_realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = shoal_strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

/* A JSON array of strings into *@out (NULL when absent or null). */
int wtask__strv_from(struct wtask *t, const json_t *v, const char *field,
		     char ***out)
{
	size_t i, n = 0;
	json_t *e;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return wtask__bad(t, "%s must be a list of strings", field);
	if (json_array_size(v) > WTASK_MAX_LIST)
		return wtask__bad(t, "%s has more than %d entries", field,
				  WTASK_MAX_LIST);
	char **r = shoal_calloc(1, sizeof(char *));
	if (!r)
		return -ENOMEM;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			wtask__strv_free(r);
			return wtask__bad(t, "%s must be a list of strings",
					  field);
		}
		int rc = wtask__strv_push(&r, &n, json_string_value(e));
		if (rc < 0) {
			wtask__strv_free(r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

int wtask__str_from(struct wtask *t, const json_t *o, const char *key,
		    const char *field, char **out)
{
	const json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return wtask__bad(t, "%s must be a string", field);
	*out = shoal_strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int wtask__int_from(struct wtask *t, const json_t *o, const char *key,
		    const char *field, int64_t *out)
{
	const json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return wtask__bad(t, "%s must be a non-negative integer",
				  field);
	*out = json_integer_value(v);
	return 0;
}

int wtask__bool_from(struct wtask *t, const json_t *o, const char *key,
		     const char *field, bool *out)
{
	const json_t *v = json_object_get(o, key);
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return wtask__bad(t, "%s must be true or false", field);
	*out = json_is_true(v);
	return 0;
}

/* -------------------------------------------------------------- templates */

int wtask_expand(const struct wtask *t, const struct wtask_node *node,
		 const char *in, char *out, size_t cap, struct shoal_err *err)
{
	size_t o = 0;
	char slot[24];
	snprintf(slot, sizeof(slot), "%lld", (long long)t->slot);
	const struct {
		const char *name;
		const char *value;
	} vars[] = {
		{".Service.ID", t->service_id},
		{".Service.Name", t->service_name},
		{".Task.ID", t->id},
		{".Task.Name", t->task_name},
		{".Task.Slot", t->slot ? slot : t->node_id},
		{".Node.ID", t->node_id},
		{".Node.Hostname",
		 node && node->hostname ? node->hostname : ""},
		{".Node.Platform.OS",
		 node && node->platform_os ? node->platform_os : ""},
		{".Node.Platform.Architecture",
		 node && node->platform_arch ? node->platform_arch : ""},
	};
	while (*in) {
		const char *open = strstr(in, "{{");
		size_t lit = open ? (size_t)(open - in) : strlen(in);
		if (o + lit >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, in, lit);
		o += lit;
		in += lit;
		if (!open)
			break;
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			snprintf(err->msg, sizeof(err->msg),
				 "template parsing error: unclosed action in "
				 "\"%.100s\"",
				 open);
			return -EINVAL;
		}
		const char *b = open + 2, *e = close;
		while (b < e && *b == ' ')
			b++;
		while (e > b && e[-1] == ' ')
			e--;
		const char *val = NULL;
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (strlen(vars[i].name) == (size_t)(e - b) &&
			    memcmp(vars[i].name, b, (size_t)(e - b)) == 0)
				val = vars[i].value;
		if (!val) {
			snprintf(err->msg, sizeof(err->msg),
				 "template: unknown field %.*s (Shoal expands "
				 ".Service.ID, .Service.Name, .Task.ID, "
				 ".Task.Name, .Task.Slot, .Node.ID, "
				 ".Node.Hostname, .Node.Platform.OS and "
				 ".Node.Platform.Architecture)",
				 (int)(e - b > 60 ? 60 : e - b), b);
			return -EINVAL;
		}
		size_t vl = strlen(val);
		if (o + vl >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, val, vl);
		o += vl;
		in = close + 2;
	}
	out[o] = '\0';
	return 0;
}

int wtask__expand_dup(struct wtask *t, const struct wtask_node *node,
		      const char *field, char **s)
{
	struct shoal_err err = {""};
	char buf[4096];
	if (!*s || !strstr(*s, "{{"))
		return 0;
	int rc = wtask_expand(t, node, *s, buf, sizeof(buf), &err);
	if (rc == -ENAMETOOLONG)
		return wtask__bad(t, "%s is too long once expanded", field);
	if (rc < 0)
		return wtask__bad(t, "%s: %s", field, err.msg);
	char *n = shoal_strdup(buf);
	if (!n)
		return -ENOMEM;
	shoal_free(*s);
	*s = n;
	return 0;
}
