/*
 * The matching half of Docker's filters (moby api/types/filters and
 * pkg/timestamp), as pure functions: label terms and `until` times.
 * Parsing the `filters` query itself (a JSON map of lists) is the API's
 * business; what a term means is the engine's, because the worker's
 * clean-up will prune with the same rules.
 *
 * Labels (MatchKVList): a term "key" wants the key present, "key=value"
 * wants that value; every `label` term must hold. `label!` terms leave a
 * container or volume out only when all of them hold, which is what
 * Docker's prune does (matchLabels in daemon/prune.go).
 *
 * until (GetTimestamp): a Go duration means that long before now ("0" is
 * not a duration but the epoch); a value with a '-' is a date or an RFC
 * 3339 time, in local time unless it carries Z or an offset; anything else
 * must be unix seconds with an optional fraction.
 */
#include "common/clock.h"
#include "common/jsonx.h"
#include "engine/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Whether @labels holds the term @t ("key" or "key=value"). */
static bool term_holds(const json_t *labels, const char *t)
{
	const char *eq = strchr(t, '=');
	size_t klen = eq ? (size_t)(eq - t) : strlen(t);
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v)
	{
		if (strlen(k) != klen || memcmp(k, t, klen) != 0)
			continue;
		return !eq || (json_is_string(v) &&
			       !strcmp(json_string_value(v), eq + 1));
	}
	return false;
}

static bool all_hold(const json_t *labels, const char *const *terms)
{
	for (size_t i = 0; terms && terms[i]; i++)
		if (!term_holds(labels, terms[i]))
			return false;
	return true;
}

bool eng_labels_match(const struct eng_label_filter *f, const json_t *labels)
{
	if (!f)
		return true;
	if (!all_hold(labels, f->want))
		return false;
	if (f->reject && f->reject[0] && all_hold(labels, f->reject))
		return false;
	return true;
}

/* --- until ---------------------------------------------------------------- */

/* @n digits at *@p into *@out; advances @p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* ".123456789" into nanoseconds; advances @p. */
static bool fraction(const char **p, int64_t *ns)
{
	int64_t scale = 100000000;

	*ns = 0;
	if (**p != '.')
		return true;
	(*p)++;
	if (!isdigit((unsigned char)**p))
		return false;
	for (; isdigit((unsigned char)**p); (*p)++) {
		*ns += (**p - '0') * scale;
		scale /= 10;
	}
	return true;
}

/* "Z", "+07:00", "-0700" or nothing (local); advances @p. */
static bool zone(const char **p, bool *local, int *offset_s)
{
	int h, m = 0, sign;

	*local = false;
	*offset_s = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return true;
	}
	if (**p != '+' && **p != '-') {
		*local = true;
		return true;
	}
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!digits(p, 2, &h))
		return false;
	if (**p == ':')
		(*p)++;
	if (isdigit((unsigned char)**p) && !digits(p, 2, &m))
		return false;
	*offset_s = sign * (h * 3600 + m * 60);
	return true;
}

static int parse_date(const char *s, int64_t *out_ns)
{
	struct tm tm = {0};
	int64_t frac = 0;
	bool local;
	int off;
	time_t t;

	if (!digits(&s, 4, &tm.tm_year) || *s++ != '-' ||
	    !digits(&s, 2, &tm.tm_mon) || *s++ != '-' ||
	    !digits(&s, 2, &tm.tm_mday))
		return -EINVAL;
	if (*s == 'T' || *s == 't') {
		s++;
		if (!digits(&s, 2, &tm.tm_hour))
			return -EINVAL;
		if (*s == ':' && (s++, !digits(&s, 2, &tm.tm_min)))
			return -EINVAL;
		if (*s == ':' && (s++, !digits(&s, 2, &tm.tm_sec)))
			return -EINVAL;
		if (!fraction(&s, &frac))
			return -EINVAL;
	}
	if (!zone(&s, &local, &off) || *s)
		return -EINVAL;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	t = local ? mktime(&tm) : timegm(&tm) - off;
	if (t == (time_t)-1 && local)
		return -EINVAL;
	*out_ns = (int64_t)t * NSEC_PER_SEC + frac;
	return 0;
}

static int parse_unix(const char *s, int64_t *out_ns)
{
	int64_t sec = 0, frac;
	bool neg = *s == '-';

	if (neg)
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (sec > (INT64_MAX / NSEC_PER_SEC) / 10)
			return -ERANGE;
		sec = sec * 10 + (*s - '0');
	}
	if (!fraction(&s, &frac) || *s)
		return -EINVAL;
	*out_ns = (neg ? -1 : 1) * (sec * NSEC_PER_SEC + frac);
	return 0;
}

int eng_parse_until(const char *s, int64_t now_ns, int64_t *out_ns)
{
	int64_t d;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") != 0 && time_parse_duration(s, &d) == 0) {
		*out_ns = now_ns - d;
		return 0;
	}
	if (strchr(s, '-') && isdigit((unsigned char)s[0]))
		return parse_date(s, out_ns);
	return parse_unix(s, out_ns);
}

/* --- events filters ------------------------------------------------------- */

/* Docker's Args.ExactMatch: no values, or one equal to @s. */
static bool exact(const char *const *vals, const char *s)
{
	if (!vals || !vals[0])
		return true;
	for (; *vals; vals++)
		if (s && !strcmp(*vals, s))
			return true;
	return false;
}

/* Docker's Args.FuzzyMatch: no values, or one equal to or a prefix of
 * @s. */
static bool fuzzy(const char *const *vals, const char *s)
{
	if (!vals || !vals[0])
		return true;
	for (; *vals; vals++)
		if (s && !strncmp(s, *vals, strlen(*vals)))
			return true;
	return false;
}

/* @ref without its tag (not a port: only a ':' after the last '/'). */
static void strip_tag(const char *ref, char *out, size_t cap)
{
	snprintf(out, cap, "%s", ref ? ref : "");
	char *colon = strrchr(out, ':'), *slash = strrchr(out, '/');
	if (colon && (!slash || colon > slash) && strncmp(out, "sha256:", 7))
		*colon = '\0';
}

static bool match_image(const char *const *vals, const char *type,
			const char *id, const json_t *attrs)
{
	if (!vals || !vals[0])
		return true;
	const char *name = jsonx_str(
		attrs, !strcmp(type, "image") ? "name" : "image", NULL);
	char a[256], b[256];
	strip_tag(id, a, sizeof(a));
	strip_tag(name, b, sizeof(b));
	return exact(vals, id) || exact(vals, name) || exact(vals, a) ||
	       exact(vals, b);
}

static bool match_event(const char *const *vals, const char *action)
{
	static const char *const loose[] = {"exec_create", "exec_start",
					    "health_status"};
	if (!vals || !vals[0])
		return true;
	for (const char *const *v = vals; *v; v++)
		for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++)
			if (!strcmp(*v, loose[i]))
				return fuzzy(vals, action);
	return exact(vals, action);
}

bool eng_event_match(const struct eng_event_filter *f, const json_t *msg)
{
	const char *type = jsonx_str(msg, "Type", "");
	const char *action = jsonx_str(msg, "Action", "");
	const json_t *actor = json_object_get(msg, "Actor");
	const char *id = jsonx_str(actor, "ID", "");
	const json_t *attrs = json_object_get(actor, "Attributes");
	const char *name = jsonx_str(attrs, "name", NULL);

	const char *const *by_name[] = {f->container, f->volume,  f->network,
					f->node,      f->service, f->secret,
					f->config,    f->plugin,  f->daemon};
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
		if (!fuzzy(by_name[i], id) && !fuzzy(by_name[i], name))
			return false;
	return exact(f->type, type) && match_event(f->event, action) &&
	       exact(f->scope, jsonx_str(msg, "scope", "local")) &&
	       match_image(f->image, type, id, attrs) &&
	       eng_labels_match(&f->labels, attrs);
}
