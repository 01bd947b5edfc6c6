/*
 * The Dockerfile parser of the classic builder (contract in
 * engine/build.h). The input comes from a build context, which anyone
 * sending POST /build controls: every byte is checked, nothing is
 * trusted, and an error names the line and says what is wrong in
 * Docker's words ("dockerfile parse error on line 3: unknown
 * instruction: FROBNICATE").
 *
 * Two passes over lines: parser directives at the top, then logical
 * lines (continuations joined, comments dropped), each split into the
 * instruction's name, flags and arguments. Arguments keep their quotes
 * and `$VAR`s as written: expansion and unquoting belong to the builder,
 * which knows the build args and the environment (Docker's shell lexer
 * does both in one pass).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "engine/build.h"

static const char *const kind_names[] = {
	[DF_ADD] = "ADD",
	[DF_ARG] = "ARG",
	[DF_CMD] = "CMD",
	[DF_COPY] = "COPY",
	[DF_ENTRYPOINT] = "ENTRYPOINT",
	[DF_ENV] = "ENV",
	[DF_EXPOSE] = "EXPOSE",
	[DF_FROM] = "FROM",
	[DF_HEALTHCHECK] = "HEALTHCHECK",
	[DF_LABEL] = "LABEL",
	[DF_MAINTAINER] = "MAINTAINER",
	[DF_ONBUILD] = "ONBUILD",
	[DF_RUN] = "RUN",
	[DF_SHELL] = "SHELL",
	[DF_STOPSIGNAL] = "STOPSIGNAL",
	[DF_USER] = "USER",
	[DF_VOLUME] = "VOLUME",
	[DF_WORKDIR] = "WORKDIR",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *df_kind_name(enum df_kind k)
{
	return (size_t)k < N_KINDS ? kind_names[k] : "?";
}

static int perr(struct shoal_err *err, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct shoal_err *err, int line, const char *fmt, ...)
{
	char msg[SHOAL_ERR_MAX - 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(err->msg, sizeof(err->msg),
			 "dockerfile parse error on line %d: %s", line, msg);
	return -EINVAL;
}

/* --- arguments ------------------------------------------------------------ */

static int push(struct df_instr *in, const char *s, size_t n)
{
	char **v = shoal_realloc(in->args, (in->nargs + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	in->args = v;
	v[in->nargs] = shoal_strndup(s, n);
	if (!v[in->nargs])
		return -ENOMEM;
	v[++in->nargs] = NULL;
	return 0;
}

/* The exec form: @s a JSON array of strings. false (and nothing pushed)
 * when it is not one: the caller takes the shell form then, as Docker. */
static bool try_json(struct df_instr *in, const char *s, int *rc)
{
	*rc = 0;
	if (*s != '[')
		return false;
	json_error_t je;
	json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	bool ok = json_is_array(a);
	for (size_t i = 0; ok && i < json_array_size(a); i++)
		ok = json_is_string(json_array_get(a, i));
	for (size_t i = 0; ok && *rc == 0 && i < json_array_size(a); i++) {
		const json_t *v = json_array_get(a, i);
		if (strlen(json_string_value(v)) != json_string_length(v))
			*rc = -EINVAL; /* a NUL inside */
		else
			*rc = push(in, json_string_value(v),
				   json_string_length(v));
	}
	json_decref(a);
	if (ok)
		in->json = true;
	return ok;
}

/* Words split at blanks outside quotes, quotes and escapes kept. */
static int split_words(struct df_instr *in, const char *s, char esc)
{
	int rc = 0;
	while (rc == 0 && *s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		const char *start = s;
		char quote = 0;
		for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
			if (*s == esc && s[1] && quote != '\'')
				s++;
			else if (!quote && (*s == '"' || *s == '\''))
				quote = *s;
			else if (quote && *s == quote)
				quote = 0;
		}
		rc = push(in, start, (size_t)(s - start));
	}
	return rc;
}

/* ENV and LABEL: key=value words, or the legacy "KEY value". */
static int name_values(struct df_instr *in, const char *rest, char esc,
		       struct shoal_err *err)
{
	const char *what = df_kind_name(in->kind);
	struct df_instr words = {0};
	int rc = split_words(&words, rest, esc);
	if (rc == 0 && words.nargs == 0)
		rc = perr(err, in->line, "%s requires at least one argument",
			  what);
	if (rc == 0 && !strchr(words.args[0], '=')) {
		/* Legacy: the first word is the key, the rest the value. */
		const char *v = rest + strspn(rest, " \t");
		v += strlen(words.args[0]);
		v += strspn(v, " \t");
		if (!*v)
			rc = perr(err, in->line, "%s must have two arguments",
				  what);
		if (rc == 0)
			rc = push(in, words.args[0], strlen(words.args[0]));
		if (rc == 0)
			rc = push(in, v, strlen(v));
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < words.nargs; i++) {
		const char *w = words.args[i], *eq = strchr(w, '=');
		if (!eq)
			rc = perr(err, in->line,
				  "Syntax error - can't find = in \"%s\". Must "
				  "be of the form: name=value",
				  w);
		else if (eq == w)
			rc = perr(err, in->line, "%s names can not be blank",
				  what);
		if (rc == 0)
			rc = push(in, w, (size_t)(eq - w));
		if (rc == 0)
			rc = push(in, eq + 1, strlen(eq + 1));
	}
out:
	for (size_t i = 0; i < words.nargs; i++)
		shoal_free(words.args[i]);
	shoal_free(words.args);
	return rc;
}

/* CMD, ENTRYPOINT, RUN and HEALTHCHECK CMD: exec or shell form. */
static int command(struct df_instr *in, const char *rest)
{
	int rc;
	if (try_json(in, rest, &rc) || rc < 0)
		return rc;
	return *rest ? push(in, rest, strlen(rest)) : 0;
}

/* --- flags ---------------------------------------------------------------- */

struct flag_rule {
	enum df_kind kind;
	const char *name;
	bool buildkit; /* only BuildKit has it: refused by name */
};

static const struct flag_rule flag_rules[] = {
	{DF_FROM, "platform", false},
	{DF_COPY, "from", false},
	{DF_COPY, "chown", false},
	{DF_COPY, "chmod", true},
	{DF_COPY, "link", true},
	{DF_COPY, "parents", true},
	{DF_COPY, "exclude", true},
	{DF_ADD, "chown", false},
	{DF_ADD, "chmod", true},
	{DF_ADD, "link", true},
	{DF_ADD, "checksum", true},
	{DF_ADD, "keep-git-dir", true},
	{DF_ADD, "exclude", true},
	{DF_RUN, "mount", true},
	{DF_RUN, "network", true},
	{DF_RUN, "security", true},
	{DF_HEALTHCHECK, "interval", false},
	{DF_HEALTHCHECK, "timeout", false},
	{DF_HEALTHCHECK, "start-period", false},
	{DF_HEALTHCHECK, "start-interval", false},
	{DF_HEALTHCHECK, "retries", false},
};

static int check_flag(const struct df_instr *in, const char *name,
		      struct shoal_err *err)
{
	for (size_t i = 0; i < sizeof(flag_rules) / sizeof(flag_rules[0]);
	     i++) {
		const struct flag_rule *r = &flag_rules[i];
		if (r->kind != in->kind || strcmp(r->name, name) != 0)
			continue;
		if (r->buildkit)
			return perr(err, in->line,
				    "the --%s option requires BuildKit, which "
				    "Shoal's classic builder is not",
				    name);
		return 0;
	}
	return perr(err, in->line, "Unknown flag: %s", name);
}

/* Leading "--name[=value]" words of @*rest into in->flags. */
static int parse_flags(struct df_instr *in, const char **rest,
		       struct shoal_err *err)
{
	const char *s = *rest;
	int rc = 0;
	while (rc == 0 && s[0] == '-' && s[1] == '-') {
		size_t n = strcspn(s, " \t");
		if (n == 2) { /* a bare "--" ends the flags */
			s += n;
			break;
		}
		const char *eq = memchr(s, '=', n);
		size_t nl = (eq ? (size_t)(eq - s) : n) - 2;
		struct df_flag *f =
			shoal_realloc(in->flags, (in->nflags + 1) * sizeof(*f));
		if (!f)
			return -ENOMEM;
		in->flags = f;
		f = &in->flags[in->nflags];
		*f = (struct df_flag){.has_value = eq != NULL};
		f->name = shoal_strndup(s + 2, nl);
		f->value = eq ? shoal_strndup(eq + 1, n - nl - 3)
			      : shoal_strdup("");
		in->nflags++;
		if (!f->name || !f->value)
			return -ENOMEM;
		if (nl == 0)
			return perr(err, in->line, "Unknown flag: %.*s", (int)n,
				    s);
		rc = check_flag(in, f->name, err);
		for (size_t i = 0; rc == 0 && i + 1 < in->nflags; i++)
			if (!strcmp(in->flags[i].name, f->name))
				rc = perr(err, in->line,
					  "Duplicate flag specified: %s",
					  f->name);
		s += n;
		s += strspn(s, " \t");
	}
	*rest = s;
	return rc;
}

const struct df_flag *df_flag(const struct df_instr *in, const char *name)
{
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			return &in->flags[i];
	return NULL;
}

/* --- instructions --------------------------------------------------------- */

static bool heredoc(const char *s)
{
	for (const char *p = strstr(s, "<<"); p; p = strstr(p + 2, "<<")) {
		const char *q = p + 2;
		if (*q == '-')
			q++;
		if (*q == '"' || *q == '\'')
			q++;
		if (isalpha((unsigned char)*q) || *q == '_')
			return true;
	}
	return false;
}

static bool stage_name_ok(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) &&
		    !isdigit((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_from(struct df_instr *in, const char *rest, char esc,
		      struct shoal_err *err)
{
	int rc = split_words(in, rest, esc);
	if (rc < 0)
		return rc;
	if (in->nargs != 1 &&
	    !(in->nargs == 3 && !strcasecmp(in->args[1], "AS")))
		return perr(err, in->line,
			    "FROM requires either one or three arguments");
	if (in->nargs == 3 && !stage_name_ok(in->args[2]))
		return perr(err, in->line,
			    "invalid name for build stage: \"%s\", name "
			    "can't start with a number or contain symbols",
			    in->args[2]);
	return 0;
}

static int parse_healthcheck(struct df_instr *in, const char *rest,
			     struct shoal_err *err)
{
	size_t n = strcspn(rest, " \t");
	if (n == 0)
		return perr(err, in->line,
			    "HEALTHCHECK requires at least one argument");
	const char *after = rest + n + strspn(rest + n, " \t");
	if (n == 4 && !strncasecmp(rest, "NONE", 4)) {
		if (*after || in->nflags)
			return perr(err, in->line,
				    "HEALTHCHECK NONE takes no arguments");
		return push(in, "NONE", 4);
	}
	if (n != 3 || strncasecmp(rest, "CMD", 3) != 0)
		return perr(err, in->line,
			    "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)",
			    (int)n, rest);
	int rc = push(in, "CMD", 3);
	if (rc == 0)
		rc = command(in, after);
	if (rc == 0 && in->nargs < 2)
		rc = perr(err, in->line,
			  "Missing command after HEALTHCHECK "
			  "CMD");
	return rc;
}

static int exactly_one(struct df_instr *in, const char *rest,
		       struct shoal_err *err)
{
	if (!*rest)
		return perr(err, in->line, "%s requires exactly one argument",
			    df_kind_name(in->kind));
	return push(in, rest, strlen(rest));
}

static int parse_instr(struct df_instr *in, const char *text, char esc,
		       int depth, struct shoal_err *err);

static int parse_onbuild(struct df_instr *in, const char *rest, char esc,
			 int depth, struct shoal_err *err)
{
	if (!*rest)
		return perr(err, in->line,
			    "ONBUILD requires at least one argument");
	size_t n = strcspn(rest, " \t");
	if (n == 7 && !strncasecmp(rest, "ONBUILD", 7))
		return perr(err, in->line,
			    "Chaining ONBUILD via `ONBUILD "
			    "ONBUILD` isn't allowed");
	if ((n == 4 && !strncasecmp(rest, "FROM", 4)) ||
	    (n == 10 && !strncasecmp(rest, "MAINTAINER", 10)))
		return perr(err, in->line,
			    "%.*s isn't allowed as an ONBUILD trigger", (int)n,
			    rest);
	in->onbuild = shoal_calloc(1, sizeof(*in->onbuild));
	if (!in->onbuild)
		return -ENOMEM;
	in->onbuild->line = in->line;
	int rc = parse_instr(in->onbuild, rest, esc, depth + 1, err);
	return rc == 0 ? push(in, rest, strlen(rest)) : rc;
}

static int args_of(struct df_instr *in, const char *rest, char esc, int depth,
		   struct shoal_err *err)
{
	const char *what = df_kind_name(in->kind);
	int rc = 0;
	switch (in->kind) {
	case DF_FROM:
		return parse_from(in, rest, esc, err);
	case DF_RUN:
		rc = command(in, rest);
		if (rc == 0 && in->nargs == 0 && !in->json)
			rc = perr(err, in->line,
				  "RUN requires at least one argument");
		return rc;
	case DF_CMD:
	case DF_ENTRYPOINT:
		return command(in, rest);
	case DF_SHELL:
		if (!try_json(in, rest, &rc) && rc == 0)
			rc = perr(err, in->line,
				  "SHELL requires the arguments "
				  "to be in JSON form");
		if (rc == 0 && in->nargs == 0)
			rc = perr(err, in->line,
				  "SHELL requires at least one argument");
		return rc;
	case DF_ENV:
	case DF_LABEL:
		return name_values(in, rest, esc, err);
	case DF_ADD:
	case DF_COPY:
		if (!try_json(in, rest, &rc) && rc == 0)
			rc = split_words(in, rest, esc);
		if (rc == 0 && in->nargs < 2)
			rc = perr(
				err, in->line,
				"%s requires at least two arguments, but only "
				"one was provided. Destination could not be "
				"determined",
				what);
		return rc;
	case DF_ARG:
		rc = split_words(in, rest, esc);
		if (rc == 0 && in->nargs == 0)
			rc = perr(err, in->line,
				  "ARG requires at least one argument");
		for (size_t i = 0; rc == 0 && i < in->nargs; i++)
			if (in->args[i][0] == '=')
				rc = perr(err, in->line,
					  "ARG names can not be blank");
		return rc;
	case DF_EXPOSE:
	case DF_VOLUME:
		if (in->kind == DF_EXPOSE || !try_json(in, rest, &rc))
			rc = rc ? rc : split_words(in, rest, esc);
		if (rc == 0 && in->nargs == 0)
			rc = perr(err, in->line,
				  "%s requires at least one argument", what);
		for (size_t i = 0; rc == 0 && i < in->nargs; i++)
			if (!in->args[i][0])
				rc = perr(err, in->line,
					  "VOLUME specified can not be an "
					  "empty string");
		return rc;
	case DF_WORKDIR:
	case DF_USER:
	case DF_MAINTAINER:
		return exactly_one(in, rest, err);
	case DF_STOPSIGNAL:
		if (strcspn(rest, " \t") != strlen(rest))
			return perr(err, in->line,
				    "STOPSIGNAL requires exactly one argument");
		return exactly_one(in, rest, err);
	case DF_HEALTHCHECK:
		return parse_healthcheck(in, rest, err);
	case DF_ONBUILD:
		return parse_onbuild(in, rest, esc, depth, err);
	}
	return -EINVAL;
}

static bool takes_flags(enum df_kind k)
{
	return k == DF_ADD || k == DF_COPY || k == DF_FROM || k == DF_RUN ||
	       k == DF_HEALTHCHECK;
}

/* One logical line @text (continuations joined, trimmed at the left). */
static int parse_instr(struct df_instr *in, const char *text, char esc,
		       int depth, struct shoal_err *err)
{
	size_t n = strcspn(text, " \t");
	size_t k;
	for (k = 0; k < N_KINDS; k++)
		if (strlen(kind_names[k]) == n &&
		    !strncasecmp(text, kind_names[k], n))
			break;
	if (k == N_KINDS)
		return perr(err, in->line, "unknown instruction: %.*s",
			    (int)(n > 64 ? 64 : n), text);
	in->kind = (enum df_kind)k;
	in->original = shoal_strdup(text);
	if (!in->original)
		return -ENOMEM;
	/* Trailing blanks are not part of the arguments. */
	size_t len = strlen(in->original);
	while (len > n &&
	       (in->original[len - 1] == ' ' || in->original[len - 1] == '\t'))
		in->original[--len] = '\0';
	const char *rest = in->original + n;
	rest += strspn(rest, " \t");
	int rc = 0;
	if (takes_flags(in->kind))
		rc = parse_flags(in, &rest, err);
	if (rc == 0 &&
	    (in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD) &&
	    rest[0] != '[' && heredoc(rest))
		rc = perr(err, in->line,
			  "heredocs (<<WORD) are a BuildKit feature; Shoal's "
			  "classic builder does not take them: write the "
			  "lines with RUN, or COPY a file");
	if (rc == 0)
		rc = args_of(in, rest, esc, depth, err);
	if (rc == 0 && in->kind == DF_COPY && df_flag(in, "from") &&
	    !df_flag(in, "from")->value[0])
		rc = perr(err, in->line, "COPY --from needs a stage or image");
	return rc;
}

/* --- lines ---------------------------------------------------------------- */

struct lines {
	const char *p, *end;
	int no; /* of the line last read */
};

/* The next line without its end (\n or \r\n) into @s/@n; false at EOF. */
static bool next_line(struct lines *l, const char **s, size_t *n)
{
	if (l->p >= l->end)
		return false;
	const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	const char *e = nl ? nl : l->end;
	*s = l->p;
	*n = (size_t)(e - l->p);
	if (*n && (*s)[*n - 1] == '\r')
		(*n)--;
	l->p = nl ? nl + 1 : l->end;
	l->no++;
	return true;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static bool comment(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == '#';
}

/* Whether the line ends with @esc (blanks after it allowed): then @n is
 * cut before it. */
static bool continues(const char *s, size_t *n, char esc)
{
	size_t k = *n;
	while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (!k || s[k - 1] != esc)
		return false;
	*n = k - 1;
	return true;
}

/* "# name=value" at the top. Returns 1 for a directive, 0 otherwise. */
static int directive(const char *s, size_t n, struct df_file *f, bool *seen,
		     int line, struct shoal_err *err)
{
	char buf[256];
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char name[32], value[200];
	if (sscanf(buf, " # %31[a-zA-Z] = %199s", name, value) != 2)
		return 0;
	if (!strcasecmp(name, "escape")) {
		if (seen[0])
			return perr(err, line,
				    "only one escape parser "
				    "directive can be used");
		seen[0] = true;
		if (strcmp(value, "\\") && strcmp(value, "`"))
			return perr(err, line,
				    "invalid escape token '%s' does not match "
				    "` or \\",
				    value);
		f->escape = value[0];
		return 1;
	}
	/* syntax= and check= choose a BuildKit frontend and its checks;
	 * the classic builder reads them as comments, as Docker's does. */
	return !strcasecmp(name, "syntax") || !strcasecmp(name, "check");
}

static int add_instr(struct df_file *f, struct buf *text, int line,
		     struct shoal_err *err)
{
	if (f->n == DF_MAX_INSTR) {
		perr(err, line, "more than %d instructions", DF_MAX_INSTR);
		return -E2BIG;
	}
	struct df_instr *v = shoal_realloc(f->v, (f->n + 1) * sizeof(*f->v));
	if (!v)
		return -ENOMEM;
	f->v = v;
	struct df_instr *in = &f->v[f->n++];
	*in = (struct df_instr){.line = line};
	const char *t = text->data + strspn(text->data, " \t");
	return parse_instr(in, t, f->escape, 0, err);
}

static int parse_lines(struct df_file *f, struct lines *l,
		       struct shoal_err *err)
{
	struct buf text;
	buf_init(&text, DF_MAX_BYTES + 1);
	const char *s;
	size_t n;
	int rc = 0;
	bool top = true, seen[1] = {false};
	while (rc == 0 && next_line(l, &s, &n)) {
		if (top) {
			rc = directive(s, n, f, seen, l->no, err);
			if (rc == 1) {
				rc = 0;
				continue;
			}
			top = false;
			if (rc < 0)
				break;
		}
		if (blank(s, n) || comment(s, n))
			continue;
		int first = l->no;
		buf_reset(&text);
		bool more = continues(s, &n, f->escape);
		rc = buf_append(&text, s, n);
		while (rc == 0 && more && next_line(l, &s, &n)) {
			if (blank(s, n) || comment(s, n))
				continue;
			more = continues(s, &n, f->escape);
			rc = buf_append(&text, s, n);
		}
		if (rc == 0)
			rc = buf_append(&text, "", 1);
		if (rc == 0 && !blank(text.data, text.len - 1))
			rc = add_instr(f, &text, first, err);
	}
	buf_fini(&text);
	return rc;
}

static int check_order(const struct df_file *f, struct shoal_err *err)
{
	if (f->n == 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "the Dockerfile has no instructions");
		return -EINVAL;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].kind == DF_FROM)
			return 0;
		if (f->v[i].kind != DF_ARG)
			return perr(err, f->v[i].line,
				    "no build stage in current context: %s "
				    "before the first FROM",
				    df_kind_name(f->v[i].kind));
	}
	return perr(err, f->v[f->n - 1].line,
		    "no build stage in current context: no FROM");
}

int df_parse(const char *data, size_t len, struct df_file *out,
	     struct shoal_err *err)
{
	*out = (struct df_file){.escape = '\\'};
	if (err)
		err->msg[0] = '\0';
	if (len > DF_MAX_BYTES) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "the Dockerfile is larger than %u bytes",
				 DF_MAX_BYTES);
		return -E2BIG;
	}
	if (memchr(data, '\0', len)) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "the Dockerfile holds a NUL byte: it is not "
				 "a text file");
		return -EINVAL;
	}
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
		data += 3;
		len -= 3;
	}
	struct lines l = {.p = data, .end = data + len};
	int rc = parse_lines(out, &l, err);
	if (rc == 0)
		rc = check_order(out, err);
	if (rc < 0)
		df_file_fini(out);
	return rc;
}

static void instr_fini(struct df_instr *in)
{
	shoal_free(in->original);
	for (size_t i = 0; i < in->nargs; i++)
		shoal_free(in->args[i]);
	shoal_free(in->args);
	for (size_t i = 0; i < in->nflags; i++) {
		shoal_free(in->flags[i].name);
		shoal_free(in->flags[i].value);
	}
	shoal_free(in->flags);
	if (in->onbuild) {
		instr_fini(in->onbuild);
		shoal_free(in->onbuild);
	}
}

void df_file_fini(struct df_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		instr_fini(&f->v[i]);
	shoal_free(f->v);
	*f = (struct df_file){.escape = '\\'};
}
