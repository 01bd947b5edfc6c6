/*
 * Typed reads of compose values, each naming the value's path when it is
 * wrong: strings (numbers are accepted and written as YAML wrote them),
 * integers (digit strings accepted, as interpolated values are strings),
 * booleans, Go durations, docker's byte sizes, string lists (shell-split
 * where compose allows a string for a list), KEY=VALUE maps and the
 * `ports:` short and long syntaxes.
 */
#include "compose/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t compose__push(struct cpath *p, const char *key)
{
	size_t old = strlen(p->s);
	snprintf(p->s + old, sizeof(p->s) - old, "%s%s", old ? "." : "", key);
	return old;
}

size_t compose__pushi(struct cpath *p, size_t i)
{
	size_t old = strlen(p->s);
	snprintf(p->s + old, sizeof(p->s) - old, "[%zu]", i);
	return old;
}

void compose__pop(struct cpath *p, size_t len)
{
	p->s[len] = '\0';
}

int compose__keys(const json_t *o, const char *const *known,
		  const struct cpath *p, struct shoal_err *err)
{
	const char *k;
	json_t *v;
	if (!json_is_object(o))
		return compose__errf(err, "%s: must be a mapping", p->s);
	json_object_foreach((json_t *)o, k, v)
	{
		bool ok = !strncmp(k, "x-", 2); /* extension fields */
		for (size_t i = 0; known[i] && !ok; i++)
			ok = !strcmp(k, known[i]);
		if (!ok)
			return compose__errf(err,
					     "%s%s%s: unsupported key (remove "
					     "it; docs/stacks.md lists what "
					     "Shoal reads)",
					     p->s, *p->s ? "." : "", k);
	}
	return 0;
}

int compose__str(const json_t *v, const struct cpath *p, char *out, size_t cap,
		 struct shoal_err *err)
{
	int n;
	if (json_is_string(v))
		n = snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		n = snprintf(out, cap, "%lld",
			     (long long)json_integer_value(v));
	else if (json_is_real(v))
		n = snprintf(out, cap, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		n = snprintf(out, cap, "%s",
			     json_is_true(v) ? "true" : "false");
	else
		return compose__errf(err, "%s: must be a string", p->s);
	if (n < 0 || (size_t)n >= cap)
		return compose__errf(err, "%s: longer than %zu bytes", p->s,
				     cap - 1);
	return 0;
}

int compose__int(const json_t *v, const struct cpath *p, long long *out,
		 struct shoal_err *err)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*s && !*end && !errno && !isspace((unsigned char)*s)) {
			*out = x;
			return 0;
		}
	}
	return compose__errf(err, "%s: must be an integer", p->s);
}

int compose__bool(const json_t *v, const struct cpath *p, bool *out,
		  struct shoal_err *err)
{
	const char *s = json_string_value(v);
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "false"))) {
		*out = !strcasecmp(s, "true");
		return 0;
	}
	return compose__errf(err, "%s: must be true or false", p->s);
}

int compose_duration(const char *s, long long *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {{"ns", 1},	 {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
		     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	double total = 0;
	bool neg = *s == '-';
	s += (*s == '-' || *s == '+');
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -EINVAL;
		double x = strtod(s, &end);
		if (end == s)
			return -EINVAL;
		s = end;
		size_t best = 0, bi = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (!strncmp(s, units[i].u, l) && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return -EINVAL;
		total += x * units[bi].mul;
		s += best;
	}
	if (!isfinite(total) || total > 9.2e18)
		return -EINVAL;
	*ns = (long long)(neg ? -total : total);
	return 0;
}

int compose_bytes(const char *s, long long *out)
{
	char *end;
	double x;
	long long mul = 1;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	x = strtod(s, &end);
	if (end == s || x < 0)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'b':
		end++;
		break;
	case 'k':
		mul = 1LL << 10;
		end++;
		break;
	case 'm':
		mul = 1LL << 20;
		end++;
		break;
	case 'g':
		mul = 1LL << 30;
		end++;
		break;
	case 't':
		mul = 1LL << 40;
		end++;
		break;
	case 'p':
		mul = 1LL << 50;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (mul > 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (mul > 1 && (*end == 'i' || *end == 'I') &&
	    (end[1] == 'b' || end[1] == 'B'))
		end += 2;
	if (*end || x * (double)mul > 9.2e18)
		return -EINVAL;
	*out = (long long)(x * (double)mul);
	return 0;
}

int compose__dur(const json_t *v, const struct cpath *p, long long *ns,
		 struct shoal_err *err)
{
	char s[64];
	if (json_is_integer(v) && json_integer_value(v) != 0)
		return compose__errf(err,
				     "%s: a duration needs a unit (\"%llds\")",
				     p->s, (long long)json_integer_value(v));
	if (compose__str(v, p, s, sizeof(s), err) < 0)
		return -EINVAL;
	if (compose_duration(s, ns) < 0)
		return compose__errf(err,
				     "%s: invalid duration \"%s\" (write "
				     "\"10s\", \"1m30s\", \"500ms\")",
				     p->s, s);
	return 0;
}

/* A shell-like split of @s: spaces separate, quotes group, backslash
 * escapes outside single quotes. */
static int shell_split(const char *s, const struct cpath *p, json_t *arr,
		       struct shoal_err *err)
{
	size_t n = strlen(s);
	char *w = malloc(n + 1);
	if (!w)
		return -ENOMEM;
	while (*s) {
		size_t l = 0;
		bool any = false;
		char q = 0;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		for (; *s && (q || !isspace((unsigned char)*s)); s++) {
			any = true;
			if (q && *s == q) {
				q = 0;
			} else if (!q && (*s == '"' || *s == '\'')) {
				q = *s;
			} else if (*s == '\\' && q != '\'' && s[1]) {
				w[l++] = *++s;
			} else {
				w[l++] = *s;
			}
		}
		if (q) {
			free(w);
			return compose__errf(err, "%s: unclosed quote", p->s);
		}
		if (any)
			json_array_append_new(arr, json_stringn(w, l));
	}
	free(w);
	return 0;
}

int compose__strlist(const json_t *v, const struct cpath *p,
		     bool shell_split_str, json_t **out, struct shoal_err *err)
{
	json_t *arr = json_array();
	char s[4096];
	size_t i;
	const json_t *x;
	struct cpath q = *p;
	if (!arr)
		return -ENOMEM;
	if (json_is_string(v) || json_is_number(v)) {
		int rc = compose__str(v, p, s, sizeof(s), err);
		if (rc == 0) {
			if (shell_split_str)
				rc = shell_split(s, p, arr, err);
			else
				rc = json_array_append_new(arr, json_string(s));
		}
		if (rc < 0) {
			json_decref(arr);
			return rc;
		}
		*out = arr;
		return 0;
	}
	if (!json_is_array(v)) {
		json_decref(arr);
		return compose__errf(err, "%s: must be a string or a list",
				     p->s);
	}
	json_array_foreach(v, i, x)
	{
		size_t l = compose__pushi(&q, i);
		if (compose__str(x, &q, s, sizeof(s), err) < 0) {
			json_decref(arr);
			return -EINVAL;
		}
		compose__pop(&q, l);
		json_array_append_new(arr, json_string(s));
	}
	*out = arr;
	return 0;
}

static int kv_one(json_t *o, const char *k, const json_t *val,
		  const struct cpath *p, const struct compose_env *env,
		  struct shoal_err *err)
{
	char s[8192];
	if (!*k)
		return compose__errf(err, "%s: empty variable name", p->s);
	if (json_is_null(val)) {
		const char *e = env && env->vars
					? json_string_value(
						  json_object_get(env->vars, k))
					: "";
		if (e)
			json_object_set_new(o, k, json_string(e));
		return 0;
	}
	if (compose__str(val, p, s, sizeof(s), err) < 0)
		return -EINVAL;
	json_object_set_new(o, k, json_string(s));
	return 0;
}

int compose__kvmap(const json_t *v, const struct cpath *p,
		   const struct compose_env *env, json_t **out,
		   struct shoal_err *err)
{
	json_t *o = json_object();
	struct cpath q = *p;
	const char *k;
	json_t *x;
	size_t i;
	int rc = 0;
	if (!o)
		return -ENOMEM;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			size_t l = compose__push(&q, k);
			rc = kv_one(o, k, x, &q, env, err);
			compose__pop(&q, l);
			if (rc < 0)
				break;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			char s[8192];
			size_t l = compose__pushi(&q, i);
			rc = compose__str(x, &q, s, sizeof(s), err);
			if (rc == 0) {
				char *eq = strchr(s, '=');
				json_t *val =
					eq ? json_string(eq + 1) : json_null();
				if (eq)
					*eq = '\0';
				rc = kv_one(o, s, val, &q, env, err);
				json_decref(val);
			}
			compose__pop(&q, l);
			if (rc < 0)
				break;
		}
	} else if (v && !json_is_null(v)) {
		rc = compose__errf(err,
				   "%s: must be a mapping or a list of "
				   "KEY=VALUE",
				   p->s);
	}
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* ---------------------------------------------------------------- ports */

static int port_range(const char *s, long *lo, long *hi)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	*lo = strtol(s, &end, 10);
	*hi = *lo;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		*hi = strtol(end + 1, &end, 10);
	}
	if (*end || *lo < 1 || *hi > 65535 || *hi < *lo)
		return -EINVAL;
	return 0;
}

static json_t *port_json(long target, long published, const char *proto,
			 const char *mode)
{
	json_t *o =
		json_pack("{s:s, s:I, s:s}", "Protocol", proto, "TargetPort",
			  (json_int_t)target, "PublishMode", mode);
	if (o && published)
		json_object_set_new(o, "PublishedPort",
				    json_integer(published));
	return o;
}

/* A host address on one host (single-host Compose): IPv4 only. */
static int host_ip(const char *ip, const struct cpath *p, const char *spec,
		   struct shoal_err *err)
{
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) == 1)
		return 0;
	return compose__errf(err, "%s: \"%s\": \"%s\" is not an IPv4 address",
			     p->s, spec, ip);
}

static int port_short(const char *spec, const struct cpath *p, bool local,
		      json_t *arr, struct shoal_err *err)
{
	char buf[256], proto[8] = "tcp", ip[64] = "";
	char *slash, *colon, *s = buf;
	long tlo, thi, plo = 0, phi = 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strrchr(buf, ':');
	if (local && colon && strchr(buf, ':') != colon) {
		/* IP:PUBLISHED:TARGET or IP::TARGET */
		char *first = strchr(buf, ':');
		*first = '\0';
		if (strlen(buf) >= sizeof(ip))
			return compose__errf(err,
					     "%s: \"%s\": not an IPv4 "
					     "address",
					     p->s, spec);
		memcpy(ip, buf, strlen(buf) + 1);
		if (host_ip(ip, p, spec, err) < 0)
			return -EINVAL;
		s = first + 1;
		if (*s == ':')
			s++;
	}
	if ((slash = strchr(s, '/'))) {
		*slash = '\0';
		if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp") &&
		    strcmp(slash + 1, "sctp"))
			return compose__errf(err,
					     "%s: unknown protocol \"%s\" "
					     "(tcp, udp or sctp)",
					     p->s, slash + 1);
		snprintf(proto, sizeof(proto), "%s", slash + 1);
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		return compose__errf(err,
				     "%s: \"%s\": a host IP in a published "
				     "port is not supported in a swarm (write "
				     "PUBLISHED:TARGET)",
				     p->s, spec);
	if (colon) {
		*colon = '\0';
		if (port_range(s, &plo, &phi) < 0)
			return compose__errf(err,
					     "%s: invalid published "
					     "port \"%s\"",
					     p->s, s);
	}
	if (port_range(colon ? colon + 1 : s, &tlo, &thi) < 0)
		return compose__errf(err, "%s: invalid port \"%s\"", p->s,
				     spec);
	if (colon && phi - plo != thi - tlo && phi != plo)
		return compose__errf(err,
				     "%s: \"%s\": the published and target "
				     "ranges differ in size",
				     p->s, spec);
	for (long t = tlo; t <= thi; t++) {
		long pub = !colon ? 0 : plo == phi ? plo : plo + (t - tlo);
		json_t *one = port_json(t, pub, proto, "ingress");
		if (one && *ip)
			json_object_set_new(one, "HostIp", json_string(ip));
		if (json_array_append_new(arr, one) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int port_long(const json_t *v, struct cpath *p, bool local, json_t *arr,
		     struct shoal_err *err)
{
	static const char *const known[] = {"target", "published", "protocol",
					    "mode",   "host_ip",   NULL};
	long long target, published = 0;
	char proto[16] = "tcp", mode[16] = "ingress";
	size_t l;
	if (compose__keys(v, known, p, err) < 0)
		return -EINVAL;
	char ip[64] = "";
	if (local && json_object_get(v, "host_ip")) {
		size_t l2 = compose__push(p, "host_ip");
		if (compose__str(json_object_get(v, "host_ip"), p, ip,
				 sizeof(ip), err) < 0 ||
		    host_ip(ip, p, ip, err) < 0)
			return -EINVAL;
		compose__pop(p, l2);
	} else if (json_object_get(v, "host_ip"))
		return compose__errf(err,
				     "%s.host_ip: not supported in a "
				     "swarm (remove it)",
				     p->s);
	l = compose__push(p, "target");
	if (!json_object_get(v, "target")) {
		compose__pop(p, l);
		return compose__errf(err, "%s: target is required", p->s);
	}
	if (compose__int(json_object_get(v, "target"), p, &target, err) < 0)
		return -EINVAL;
	if (target < 1 || target > 65535)
		return compose__errf(err, "%s: out of range 1-65535", p->s);
	compose__pop(p, l);
	if (json_object_get(v, "published")) {
		l = compose__push(p, "published");
		if (compose__int(json_object_get(v, "published"), p, &published,
				 err) < 0)
			return -EINVAL;
		if (published < 1 || published > 65535)
			return compose__errf(err, "%s: out of range 1-65535",
					     p->s);
		compose__pop(p, l);
	}
	if (json_object_get(v, "protocol")) {
		l = compose__push(p, "protocol");
		if (compose__str(json_object_get(v, "protocol"), p, proto,
				 sizeof(proto), err) < 0)
			return -EINVAL;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
		    strcmp(proto, "sctp"))
			return compose__errf(err,
					     "%s: \"%s\" is not tcp, "
					     "udp or sctp",
					     p->s, proto);
		compose__pop(p, l);
	}
	if (json_object_get(v, "mode")) {
		l = compose__push(p, "mode");
		if (compose__str(json_object_get(v, "mode"), p, mode,
				 sizeof(mode), err) < 0)
			return -EINVAL;
		if (strcmp(mode, "ingress") && strcmp(mode, "host"))
			return compose__errf(err,
					     "%s: \"%s\" is not ingress "
					     "or host",
					     p->s, mode);
		compose__pop(p, l);
	}
	json_t *one = port_json(target, published, proto, mode);
	if (one && *ip)
		json_object_set_new(one, "HostIp", json_string(ip));
	return json_array_append_new(arr, one) < 0 ? -ENOMEM : 0;
}

int compose__ports(const json_t *v, const struct cpath *p, bool local,
		   json_t *arr, struct shoal_err *err)
{
	struct cpath q = *p;
	const json_t *x;
	size_t i;
	if (!json_is_array(v))
		return compose__errf(err, "%s: must be a list", p->s);
	json_array_foreach(v, i, x)
	{
		size_t l = compose__pushi(&q, i);
		int rc;
		if (json_is_object(x)) {
			rc = port_long(x, &q, local, arr, err);
		} else {
			char s[256];
			rc = compose__str(x, &q, s, sizeof(s), err);
			if (rc == 0)
				rc = port_short(s, &q, local, arr, err);
		}
		if (rc < 0)
			return rc;
		compose__pop(&q, l);
	}
	return 0;
}
