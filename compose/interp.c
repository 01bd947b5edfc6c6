/*
 * Variable interpolation in compose files, as the Compose specification
 * defines it (and docker stack deploy / docker-compose implement it):
 * `$$` is a literal dollar, `$VAR` and `${VAR}` the variable's value ("" if
 * unset), `${VAR:-default}` the default when unset or empty,
 * `${VAR-default}` only when unset, `${VAR:?message}` / `${VAR?message}`
 * an error when empty-or-unset / unset, `${VAR:+alt}` / `${VAR+alt}` the
 * alternative when set-and-non-empty / set. Defaults and messages are
 * themselves interpolated (nested `${...}`). Any other use of `$` is an
 * error ("invalid interpolation format"), never passed through silently.
 */
#include "compose/internal.h"

#include "common/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERP_MAX_DEPTH 8

int compose__errf(struct shoal_err *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static const char *lookup(const struct compose_env *env, const char *name,
			  size_t len)
{
	char key[256];
	if (!env || !env->vars || len >= sizeof(key))
		return NULL;
	memcpy(key, name, len);
	key[len] = '\0';
	return json_string_value(json_object_get(env->vars, key));
}

static int expand(const char *s, size_t len, const struct compose_env *env,
		  int depth, struct buf *b, struct shoal_err *err);

/* The end of the ${...} starting at @s (just past "${"): the index of its
 * closing brace within @len, nested braces counted; -1 when unclosed. */
static long closing(const char *s, size_t len)
{
	int level = 1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
			i++;
			continue;
		}
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
			level++;
			i++;
		} else if (s[i] == '}' && --level == 0) {
			return (long)i;
		}
	}
	return -1;
}

/* One ${...} body (@s, @len bytes, between the braces). */
static int braced(const char *s, size_t len, const struct compose_env *env,
		  int depth, struct buf *b, struct shoal_err *err)
{
	size_t n = 0;
	while (n < len && name_char(s[n]))
		n++;
	if (!n || !name_start(s[0]))
		return compose__errf(err,
				     "invalid interpolation format for "
				     "\"${%.*s}\": a variable name must start "
				     "with a letter or '_'",
				     (int)len, s);
	const char *val = lookup(env, s, n);
	if (n == len)
		return val && buf_append_str(b, val) < 0 ? -ENOMEM : 0;
	const char *op = s + n, *rest;
	bool colon = *op == ':';
	if (colon)
		op++;
	rest = op + 1;
	size_t rlen = len - (size_t)(rest - s);
	bool set = val != NULL, nonempty = val && *val;
	bool have = colon ? nonempty : set;
	switch (op < s + len ? *op : '\0') {
	case '-':
		if (have)
			return buf_append_str(b, val) < 0 ? -ENOMEM : 0;
		return expand(rest, rlen, env, depth + 1, b, err);
	case '+':
		if (!have)
			return 0;
		return expand(rest, rlen, env, depth + 1, b, err);
	case '?': {
		if (have)
			return buf_append_str(b, val) < 0 ? -ENOMEM : 0;
		struct buf m;
		buf_init(&m, 4096);
		int rc = expand(rest, rlen, env, depth + 1, &m, err);
		if (rc == 0)
			rc = compose__errf(err,
					   "required variable %.*s is missing "
					   "a value: %.*s",
					   (int)n, s, (int)m.len,
					   m.data ? m.data : "");
		buf_fini(&m);
		return rc;
	}
	default:
		return compose__errf(err,
				     "invalid interpolation format for "
				     "\"${%.*s}\": expected '}', ':-', '-', "
				     "':?', '?', ':+' or '+' after the name",
				     (int)len, s);
	}
}

static int expand(const char *s, size_t len, const struct compose_env *env,
		  int depth, struct buf *b, struct shoal_err *err)
{
	if (depth > INTERP_MAX_DEPTH)
		return compose__errf(err,
				     "interpolation nested more than %d "
				     "levels deep",
				     INTERP_MAX_DEPTH);
	for (size_t i = 0; i < len; i++) {
		int rc = 0;
		if (s[i] != '$') {
			if (buf_append(b, s + i, 1) < 0)
				return -ENOMEM;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '$') {
			rc = buf_append(b, "$", 1);
			i++;
		} else if (i + 1 < len && s[i + 1] == '{') {
			long end = closing(s + i + 2, len - i - 2);
			if (end < 0)
				return compose__errf(
					err,
					"invalid interpolation format for "
					"\"%.*s\": missing '}'",
					(int)(len - i), s + i);
			rc = braced(s + i + 2, (size_t)end, env, depth, b, err);
			i += 2 + (size_t)end;
		} else if (i + 1 < len && name_start(s[i + 1])) {
			size_t n = 1;
			while (i + 1 + n < len && name_char(s[i + 1 + n]))
				n++;
			const char *val = lookup(env, s + i + 1, n);
			rc = val ? buf_append_str(b, val) : 0;
			i += n;
		} else {
			return compose__errf(
				err,
				"invalid interpolation format for \"%.*s\": "
				"write $$ for a literal dollar sign",
				(int)len, s);
		}
		if (rc < 0)
			return rc == -EINVAL ? rc : -ENOMEM;
	}
	return 0;
}

int compose__interp(const char *s, const struct compose_env *env, char **out,
		    struct shoal_err *err)
{
	struct buf b;
	buf_init(&b, COMPOSE_MAX_FILE);
	int rc = expand(s, strlen(s), env, 0, &b, err);
	if (rc == 0) {
		*out = strdup(b.data ? b.data : "");
		rc = *out ? 0 : -ENOMEM;
	}
	buf_fini(&b);
	return rc;
}
