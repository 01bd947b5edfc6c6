/*
 * Docker's `filters` query parameter (moby api/types/filters): a JSON
 * object from a filter's name to a list of values, {"label":["a=b"]}, or,
 * from clients before API 1.22, to an object whose keys are the values,
 * {"label":{"a=b":true}}. Both are accepted. A name the route does not
 * know is refused with Docker's text, "invalid filter 'x'"; so is a value
 * that is not a string. What each filter means is decided by the route
 * and the engine (engine/filter.c); this file only reads the shape.
 */
#include "api/internal.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool known_name(const char *const *known, const char *k)
{
	for (size_t i = 0; known && known[i]; i++)
		if (!strcmp(known[i], k))
			return true;
	return false;
}

static bool strings_only(const json_t *v)
{
	size_t i;
	const json_t *x;

	if (json_is_object(v))
		return true; /* the keys are the values */
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x))
			return false;
	}
	return true;
}

int api__filters_parse(const char *query, const char *const *known,
		       json_t **out, char *err, size_t cap)
{
	const char *k;
	json_t *f = NULL, *v;

	*out = NULL;
	if (!query || !*query) {
		*out = json_object();
		if (!*out) {
			snprintf(err, cap, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	if (jsonx_parse_object(query, strlen(query), &f, err, cap) < 0)
		return -EINVAL;
	json_object_foreach(f, k, v)
	{
		if (!known_name(known, k)) {
			snprintf(err, cap, "invalid filter '%s'", k);
			json_decref(f);
			return -EINVAL;
		}
		if (!strings_only(v)) {
			snprintf(err, cap, "invalid filter '%s': bad value", k);
			json_decref(f);
			return -EINVAL;
		}
	}
	*out = f;
	return 0;
}

size_t api__filter_values(const json_t *f, const char *name,
			  const char *out[API__FILTER_VALUES + 1])
{
	const json_t *v = json_object_get(f, name);
	size_t n = 0;

	if (json_is_array(v)) {
		for (size_t i = 0;
		     i < json_array_size(v) && n < API__FILTER_VALUES; i++) {
			const char *s = json_string_value(json_array_get(v, i));
			if (s)
				out[n++] = s;
		}
	} else if (json_is_object(v)) {
		void *it = json_object_iter((json_t *)v);
		for (; it && n < API__FILTER_VALUES;
		     it = json_object_iter_next((json_t *)v, it))
			out[n++] = json_object_iter_key(it);
	}
	out[n] = NULL;
	return n;
}

void api__reply_pruned(struct api_call *call, int rc, const char *what,
		       const char *key, struct eng_pruned *p)
{
	if (rc < 0) {
		api_reply_error(call, 500, "cannot prune %s: %s", what,
				shoal_strerror(rc));
		return;
	}
	json_t *gone = json_array();
	for (size_t i = 0; gone && i < p->n; i++)
		json_array_append_new(gone, json_string(p->names[i]));
	uint64_t space = p->space;
	eng_pruned_fini(p);
	api_reply_json(call, 200,
		       gone ? json_pack("{s:o, s:I}", key, gone,
					"SpaceReclaimed", (json_int_t)space)
			    : NULL);
}
