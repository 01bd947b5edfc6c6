/*
 * The compose file reader: one YAML document, read with libyaml's event
 * parser, into a JSON tree (jansson). Mappings become objects (keys must
 * be scalars, duplicates are an error), sequences arrays, scalars strings,
 * integers, reals, booleans or null. Quoted scalars and those tagged !!str
 * stay strings; plain ones are typed after interpolation as YAML 1.1 plain
 * scalars are (true/false, null/~, decimal, 0o/0 octal and 0x hex
 * integers, reals), which is how `mode: 0440` means octal.
 *
 * Anchors and aliases are expanded (an alias is a deep copy of its
 * anchor's node); `<<` merge keys copy the keys of the mapping (or list of
 * mappings) they name that the mapping does not set itself. Bounds: the
 * nodes produced after expansion (COMPOSE_MAX_NODES: a "billion laughs"
 * file stops there), the nesting depth (COMPOSE_MAX_DEPTH) and the size
 * of the text (COMPOSE_MAX_FILE).
 */
#include "compose/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	json_t *node;
	json_t *merged; /* keys set by `<<`, which an explicit key may set */
	char *key;	/* the key waiting for its value (maps) */
	bool merge_key; /* the pending key is `<<` */
	char *anchor;
	size_t weight; /* nodes under this one, aliases expanded */
};

struct anchor {
	char *name;
	json_t *node;
	size_t weight;
};

struct reader {
	const char *name;
	const struct compose_env *env;
	struct frame stack[COMPOSE_MAX_DEPTH + 1];
	int depth;
	struct anchor *anchors;
	size_t nanchors;
	size_t nodes;
	json_t *root;
	int docs;
	struct shoal_err *err;
};

static int at(struct reader *r, const yaml_mark_t *m, const char *what)
{
	return compose__errf(r->err, "%s: line %zu, column %zu: %s", r->name,
			     m->line + 1, m->column + 1, what);
}

static bool all_in(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* A plain scalar typed as YAML 1.1 would (a subset compose files use). */
static json_t *typed(const char *s)
{
	const char *d = s + (*s == '-' || *s == '+');
	char *end;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	    !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (all_in(d, "0123456789")) {
		int base =
			d[0] == '0' && d[1] && all_in(d, "01234567") ? 8 : 10;
		errno = 0;
		long long v = strtoll(s, &end, base);
		if (!errno && !*end)
			return json_integer(v);
		return json_string(s);
	}
	if ((d[0] == '0' && (d[1] == 'x' || d[1] == 'o')) && d[2] &&
	    all_in(d + 2,
		   d[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
		errno = 0;
		long long v = strtoll(d + 2, &end, d[1] == 'x' ? 16 : 8);
		if (!errno && !*end)
			return json_integer(*s == '-' ? -v : v);
		return json_string(s);
	}
	if (all_in(d, "0123456789.eE+-") && strchr(d, '.') &&
	    strspn(d, "0123456789.") > 0 && d[0] != 'e' && d[0] != 'E') {
		errno = 0;
		double v = strtod(s, &end);
		if (!errno && !*end)
			return json_real(v);
	}
	return json_string(s);
}

static int scalar(struct reader *r, const yaml_event_t *ev, json_t **out)
{
	const char *raw = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	char *v = NULL;
	if (strlen(raw) != ev->data.scalar.length)
		return at(r, &ev->start_mark, "NUL byte in a scalar");
	if (tag && strcmp(tag, YAML_STR_TAG) && strcmp(tag, "!") &&
	    strcmp(tag, YAML_INT_TAG) && strcmp(tag, YAML_BOOL_TAG) &&
	    strcmp(tag, YAML_NULL_TAG) && strcmp(tag, YAML_FLOAT_TAG)) {
		char m[300];
		snprintf(m, sizeof(m), "unsupported YAML tag %.200s", tag);
		return at(r, &ev->start_mark, m);
	}
	int rc = compose__interp(raw, r->env, &v, r->err);
	if (rc == -EINVAL) {
		char m[SHOAL_ERR_MAX];
		snprintf(m, sizeof(m), "%s", r->err->msg);
		return at(r, &ev->start_mark, m);
	}
	if (rc < 0)
		return rc;
	if (tag && !strcmp(tag, YAML_STR_TAG))
		plain = false;
	else if (tag && strcmp(tag, "!"))
		plain = true;
	*out = plain ? typed(v) : json_string(v);
	free(v);
	if (!*out)
		return at(r, &ev->start_mark, "scalar is not valid UTF-8");
	return 0;
}

static int remember(struct reader *r, const char *name, json_t *node,
		    size_t weight)
{
	struct anchor *a =
		realloc(r->anchors, (r->nanchors + 1) * sizeof(*r->anchors));
	if (!a)
		return -ENOMEM;
	r->anchors = a;
	/* A redefined anchor replaces the earlier one for later aliases. */
	a[r->nanchors].name = strdup(name);
	a[r->nanchors].node = json_incref(node);
	a[r->nanchors].weight = weight;
	if (!a[r->nanchors].name) {
		json_decref(node);
		return -ENOMEM;
	}
	r->nanchors++;
	return 0;
}

static const struct anchor *find_anchor(const struct reader *r,
					const char *name)
{
	for (size_t i = r->nanchors; i-- > 0;)
		if (!strcmp(r->anchors[i].name, name))
			return &r->anchors[i];
	return NULL;
}

/* `<<: MAP` or `<<: [MAP, ...]` into the mapping of @f. */
static int merge_into(struct reader *r, struct frame *f, const json_t *v,
		      const yaml_mark_t *m)
{
	const json_t *one;
	size_t i;
	if (json_is_array(v)) {
		json_array_foreach(v, i, one)
		{
			if (merge_into(r, f, one, m) < 0)
				return -EINVAL;
		}
		return 0;
	}
	if (!json_is_object(v))
		return at(r, m,
			  "the value of a << merge key must be a "
			  "mapping or a list of mappings");
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x)
	{
		if (json_object_get(f->node, k))
			continue;
		if (json_object_set(f->node, k, x) < 0 ||
		    json_object_set(f->merged, k, json_true()) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The finished node @v (reference taken) into the frame on top, or the
 * root. */
static int place(struct reader *r, json_t *v, size_t weight,
		 const yaml_event_t *ev, bool is_key_candidate)
{
	if (r->depth == 0) {
		r->root = v;
		return 0;
	}
	struct frame *f = &r->stack[r->depth];
	int rc = 0;
	if (json_is_array(f->node)) {
		rc = json_array_append_new(f->node, v) < 0 ? -ENOMEM : 0;
		f->weight += weight;
		return rc;
	}
	if (!f->key) {
		if (!is_key_candidate || !json_is_string(v)) {
			/* A plain key like `80` or `true` is still a key. */
			if (is_key_candidate && !json_is_object(v) &&
			    !json_is_array(v)) {
				char *t = json_dumps(v, JSON_ENCODE_ANY);
				json_decref(v);
				if (!t)
					return -ENOMEM;
				f->key = t;
				return 0;
			}
			json_decref(v);
			return at(r, &ev->start_mark,
				  "mapping keys must be scalars");
		}
		f->key = strdup(json_string_value(v));
		f->merge_key =
			ev->type == YAML_SCALAR_EVENT &&
			ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			!strcmp(f->key, "<<");
		json_decref(v);
		return f->key ? 0 : -ENOMEM;
	}
	f->weight += weight;
	if (f->merge_key) {
		rc = merge_into(r, f, v, &ev->start_mark);
		json_decref(v);
	} else if (json_object_get(f->node, f->key) &&
		   !json_object_get(f->merged, f->key)) {
		char m[400];
		snprintf(m, sizeof(m), "duplicate key \"%.300s\"", f->key);
		json_decref(v);
		rc = at(r, &ev->start_mark, m);
	} else {
		json_object_del(f->merged, f->key);
		rc = json_object_set_new(f->node, f->key, v) < 0 ? -ENOMEM : 0;
	}
	free(f->key);
	f->key = NULL;
	return rc;
}

static int count(struct reader *r, size_t n, const yaml_mark_t *m)
{
	r->nodes += n;
	if (r->nodes > COMPOSE_MAX_NODES) {
		at(r, m, "document too large once its aliases are expanded");
		return -E2BIG;
	}
	return 0;
}

static int open_node(struct reader *r, const yaml_event_t *ev, json_t *node,
		     const yaml_char_t *anchor)
{
	if (!node)
		return -ENOMEM;
	if (r->depth >= COMPOSE_MAX_DEPTH) {
		json_decref(node);
		at(r, &ev->start_mark, "nested too deeply");
		return -E2BIG;
	}
	struct frame *f = &r->stack[++r->depth];
	memset(f, 0, sizeof(*f));
	f->node = node;
	f->merged = json_object();
	f->weight = 1;
	if (anchor)
		f->anchor = strdup((const char *)anchor);
	if (!f->merged || (anchor && !f->anchor))
		return -ENOMEM;
	return count(r, 1, &ev->start_mark);
}

static int close_node(struct reader *r, const yaml_event_t *ev)
{
	struct frame f = r->stack[r->depth--];
	int rc = 0;
	json_decref(f.merged);
	free(f.key);
	if (f.anchor)
		rc = remember(r, f.anchor, f.node, f.weight);
	free(f.anchor);
	if (rc < 0) {
		json_decref(f.node);
		return rc;
	}
	return place(r, f.node, f.weight, ev, false);
}

static int on_event(struct reader *r, const yaml_event_t *ev)
{
	json_t *v = NULL;
	const struct anchor *a;
	int rc;
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++r->docs > 1)
			return at(r, &ev->start_mark,
				  "a compose file holds one YAML document");
		return 0;
	case YAML_MAPPING_START_EVENT:
		return open_node(r, ev, json_object(),
				 ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_START_EVENT:
		return open_node(r, ev, json_array(),
				 ev->data.sequence_start.anchor);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return close_node(r, ev);
	case YAML_SCALAR_EVENT:
		if ((rc = scalar(r, ev, &v)) < 0)
			return rc;
		if ((rc = count(r, 1, &ev->start_mark)) < 0 ||
		    (ev->data.scalar.anchor &&
		     (rc = remember(r, (const char *)ev->data.scalar.anchor, v,
				    1)) < 0)) {
			json_decref(v);
			return rc;
		}
		return place(r, v, 1, ev, true);
	case YAML_ALIAS_EVENT:
		a = find_anchor(r, (const char *)ev->data.alias.anchor);
		if (!a)
			return at(r, &ev->start_mark, "undefined alias");
		if ((rc = count(r, a->weight, &ev->start_mark)) < 0)
			return rc;
		v = json_deep_copy(a->node);
		if (!v)
			return -ENOMEM;
		return place(r, v, a->weight, ev, true);
	default:
		return 0;
	}
}

static void reader_fini(struct reader *r)
{
	while (r->depth > 0) {
		struct frame *f = &r->stack[r->depth--];
		json_decref(f->node);
		json_decref(f->merged);
		free(f->key);
		free(f->anchor);
	}
	for (size_t i = 0; i < r->nanchors; i++) {
		free(r->anchors[i].name);
		json_decref(r->anchors[i].node);
	}
	free(r->anchors);
}

int compose_parse(const char *data, size_t len, const char *name,
		  const struct compose_env *env, json_t **out,
		  struct shoal_err *err)
{
	struct reader r = {
		.name = name ? name : "compose file", .env = env, .err = err};
	struct shoal_err scratch;
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;
	bool done = false;
	if (!err)
		r.err = &scratch;
	if (len > COMPOSE_MAX_FILE) {
		compose__errf(r.err, "%s: larger than %u bytes", r.name,
			      COMPOSE_MAX_FILE);
		return -E2BIG;
	}
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = compose__errf(
				r.err, "%s: line %zu, column %zu: %s%s%s",
				r.name, p.problem_mark.line + 1,
				p.problem_mark.column + 1,
				p.problem ? p.problem : "invalid YAML",
				p.context ? " " : "",
				p.context ? p.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&r, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	reader_fini(&r);
	if (rc == 0 && !json_is_object(r.root))
		rc = compose__errf(r.err,
				   "%s: the top level must be a mapping "
				   "(services:, networks:, ...)",
				   r.name);
	if (rc < 0) {
		json_decref(r.root);
		return rc;
	}
	*out = r.root;
	return 0;
}
