/*
 * Docker's shell-word processing for the builder (moby's
 * frontend/dockerfile/shell lexer, ProcessWord): how ADD, COPY, ENV,
 * EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR arguments
 * become values. Outside quotes the escape character takes the next
 * character literally; '...' is literal; "..." expands variables and
 * takes the escape character only before $, ", the escape character
 * itself and a newline; $NAME, ${NAME}, ${NAME:-word}, ${NAME-word},
 * ${NAME:+word} and ${NAME+word} expand (the word expanded in turn);
 * anything else after "${NAME" is Docker's "unsupported modifier".
 * Bounded: results up to DF_MAX_BYTES, words nested 16 deep.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "engine/build.h"

#define DEPTH_MAX 16

struct lex {
	const char *p;
	char esc;
	df_lookup_fn *lookup;
	void *arg;
	struct shoal_err *err;
	int depth;
};

static int fail(struct lex *l, const char *msg, const char *what)
{
	if (l->err)
		snprintf(l->err->msg, sizeof(l->err->msg), "%s%s", msg, what);
	return -EINVAL;
}

static bool name_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) ||
	       (!first && isdigit((unsigned char)c));
}

static int word(struct lex *l, struct buf *out, char stop);

/* After "${": NAME, then "}" or a modifier and a word, then "}". */
static int braced(struct lex *l, struct buf *out)
{
	char name[256];
	size_t n = 0;
	while (name_char(*l->p, n == 0) && n < sizeof(name) - 1)
		name[n++] = *l->p++;
	name[n] = '\0';
	if (n == 0)
		return fail(l, "bad substitution: ${", l->p);
	const char *v = l->lookup(name, l->arg);
	if (*l->p == '}') {
		l->p++;
		return v ? buf_append_str(out, v) : 0;
	}
	bool colon = *l->p == ':';
	if (colon)
		l->p++;
	char mod = *l->p;
	if (mod != '-' && mod != '+') {
		char m[4] = {mod, 0};
		return fail(l, "unsupported modifier in substitution: ", m);
	}
	l->p++;
	struct buf alt;
	buf_init(&alt, DF_MAX_BYTES);
	if (++l->depth > DEPTH_MAX)
		return fail(l, "substitutions nested too deep", "");
	int rc = word(l, &alt, '}');
	l->depth--;
	if (rc == 0 && *l->p != '}')
		rc = fail(l, "missing '}' in substitution of ", name);
	if (rc == 0) {
		l->p++;
		bool set = v && (!colon || *v);
		const char *use = mod == '-' ? (set ? v : alt.data)
					     : (set ? alt.data : NULL);
		if (use)
			rc = buf_append_str(out, use);
	}
	buf_fini(&alt);
	return rc;
}

static int dollar(struct lex *l, struct buf *out)
{
	l->p++; /* '$' */
	if (*l->p == '{') {
		l->p++;
		return braced(l, out);
	}
	if (!name_char(*l->p, true))
		return buf_append(out, "$", 1);
	char name[256];
	size_t n = 0;
	while (name_char(*l->p, n == 0) && n < sizeof(name) - 1)
		name[n++] = *l->p++;
	name[n] = '\0';
	const char *v = l->lookup(name, l->arg);
	return v ? buf_append_str(out, v) : 0;
}

static int double_quoted(struct lex *l, struct buf *out)
{
	int rc = 0;
	l->p++;
	while (rc == 0 && *l->p && *l->p != '"') {
		if (*l->p == l->esc && l->p[1] &&
		    strchr("$\"\n", l->p[1] ? l->p[1] : 'x')) {
			rc = buf_append(out, l->p + 1, 1);
			l->p += 2;
		} else if (*l->p == l->esc && l->p[1] == l->esc) {
			rc = buf_append(out, l->p, 1);
			l->p += 2;
		} else if (*l->p == '$') {
			rc = dollar(l, out);
		} else {
			rc = buf_append(out, l->p++, 1);
		}
	}
	if (rc == 0 && *l->p != '"')
		return fail(l,
			    "unexpected end of statement while looking "
			    "for matching double-quote",
			    "");
	l->p++;
	return rc;
}

/* Up to @stop (not consumed) or the end. */
static int word(struct lex *l, struct buf *out, char stop)
{
	int rc = 0;
	while (rc == 0 && *l->p && *l->p != stop) {
		if (*l->p == '\'') {
			const char *end = strchr(l->p + 1, '\'');
			if (!end)
				return fail(l,
					    "unexpected end of statement "
					    "while looking for matching "
					    "single-quote",
					    "");
			rc = buf_append(out, l->p + 1,
					(size_t)(end - l->p - 1));
			l->p = end + 1;
		} else if (*l->p == '"') {
			rc = double_quoted(l, out);
		} else if (*l->p == l->esc && l->p[1]) {
			rc = buf_append(out, l->p + 1, 1);
			l->p += 2;
		} else if (*l->p == '$') {
			rc = dollar(l, out);
		} else {
			rc = buf_append(out, l->p++, 1);
		}
	}
	return rc;
}

int df_expand(const char *in, char esc, df_lookup_fn *lookup, void *arg,
	      char **out, struct shoal_err *err)
{
	struct lex l = {
		.p = in, .esc = esc, .lookup = lookup, .arg = arg, .err = err};
	struct buf b;
	buf_init(&b, DF_MAX_BYTES);
	int rc = word(&l, &b, '\0');
	if (rc == 0)
		rc = buf_append(&b, "", 1);
	if (rc < 0) {
		buf_fini(&b);
		if (rc == -ENOBUFS && err)
			snprintf(err->msg, sizeof(err->msg),
				 "a word expands past %u bytes", DF_MAX_BYTES);
		return rc == -ENOBUFS ? -E2BIG : rc;
	}
	*out = buf_take(&b, NULL);
	return *out ? 0 : -ENOMEM;
}
