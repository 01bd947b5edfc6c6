/*
 * Parsers for the flags users type: memory sizes ("512m", as Docker's
 * go-units RAMInBytes: binary multiples, an optional "b"/"ib"), --cpus,
 * --ulimit, -v and --tmpfs mount specs and -u user specs. They accept what
 * the docker CLI accepts and reject the rest with a sentence; they touch no
 * files and allocate nothing, so unit tests and the API layer share them.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "runtime/internal.h"

int rt_parse_memory(const char *s, int64_t *out)
{
	const char *p = s;
	double mant = 0, frac_div = 1;
	long double mult = 1;
	bool digits = false;

	if (!s)
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		mant = mant * 10 + (*p++ - '0');
		digits = true;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			frac_div *= 10;
			mant += (*p++ - '0') / frac_div;
		}
	}
	if (!digits)
		return -EINVAL;
	if (*p == ' ')
		p++;
	switch (tolower((unsigned char)*p)) {
	case 'k':
		mult = 1024.0L;
		break;
	case 'm':
		mult = 1024.0L * 1024;
		break;
	case 'g':
		mult = 1024.0L * 1024 * 1024;
		break;
	case 't':
		mult = 1024.0L * 1024 * 1024 * 1024;
		break;
	case 'p':
		mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
		break;
	default:
		break;
	}
	if (mult > 1) {
		p++;
		if (tolower((unsigned char)*p) == 'i')
			p++;
	}
	if (tolower((unsigned char)*p) == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if ((long double)mant * mult >= 9.2e18L)
		return -ERANGE;
	*out = (int64_t)((long double)mant * mult);
	return 0;
}

int rt_parse_cpus(const char *s, int64_t *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e6)
		return -EINVAL;
	*out = (int64_t)llround(v * 1e9);
	return 0;
}

static const struct {
	const char *name;
	int res;
} ulimits[] = {
	{"core", RLIMIT_CORE},	       {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},	       {"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},       {"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},     {"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},	       {"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},       {"as", RLIMIT_AS},
};

static int parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s == end)
		return -EINVAL;
	if (end - s == 2 && !strncmp(s, "-1", 2)) {
		*out = RLIM_INFINITY;
		return 0;
	}
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s) || v > UINT64_MAX / 10 - 9)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int rt_parse_ulimit(const char *s, struct rt_rlimit *out)
{
	const char *eq, *colon, *end;
	size_t i;

	if (!s || !(eq = strchr(s, '=')))
		return -EINVAL;
	for (i = 0; i < sizeof(ulimits) / sizeof(ulimits[0]); i++)
		if (strlen(ulimits[i].name) == (size_t)(eq - s) &&
		    !strncmp(s, ulimits[i].name, (size_t)(eq - s)))
			break;
	if (i == sizeof(ulimits) / sizeof(ulimits[0]))
		return -EINVAL;
	end = eq + strlen(eq);
	colon = strchr(eq + 1, ':');
	if (parse_u64(eq + 1, colon ? colon : end, &out->soft) < 0)
		return -EINVAL;
	if (!colon)
		out->hard = out->soft;
	else if (parse_u64(colon + 1, end, &out->hard) < 0)
		return -EINVAL;
	if (out->soft > out->hard)
		return -EINVAL;
	out->resource = ulimits[i].res;
	return 0;
}

/* Lexical cleaning of an absolute path into @out: no "//", ".", "..". */
static int clean_abs_path(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0, i = 0;

	if (len == 0 || in[0] != '/')
		return -EINVAL;
	while (i < len) {
		size_t start, seg;
		while (i < len && in[i] == '/')
			i++;
		start = i;
		while (i < len && in[i] != '/')
			i++;
		seg = i - start;
		if (seg == 0 || (seg == 1 && in[start] == '.'))
			continue;
		if (seg == 2 && in[start] == '.' && in[start + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o + seg + 2 > cap)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, in + start, seg);
		o += seg;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

static bool valid_volume_name(const char *s, size_t len)
{
	if (len < 2 || len > 255 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/*
 * Docker's -v modes (volume/mounts/linux_parser.go linuxValidMountMode):
 * comma-separated, at most one of each kind: ro|rw, SELinux z|Z, a
 * propagation mode, nocopy, a consistency mode. "" is valid (rw).
 */
static int parse_mode(const char *s, size_t len, bool *readonly)
{
	static const struct {
		const char *name;
		int kind;
	} ok[] = {
		{"rw", 0},     {"ro", 0},	 {"z", 1},
		{"Z", 1},      {"private", 2},	 {"rprivate", 2},
		{"shared", 2}, {"rshared", 2},	 {"slave", 2},
		{"rslave", 2}, {"nocopy", 3},	 {"consistent", 4},
		{"cached", 4}, {"delegated", 4},
	};
	const char *end = s + len;
	unsigned seen = 0;

	*readonly = false;
	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t n = (size_t)((c ? c : end) - s), i;
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			if (strlen(ok[i].name) == n &&
			    !strncmp(s, ok[i].name, n))
				break;
		if (i == sizeof(ok) / sizeof(ok[0]) || seen & 1u << ok[i].kind)
			return -EINVAL;
		seen |= 1u << ok[i].kind;
		*readonly |= i == 1;
		s += n + (c ? 1 : 0);
		if (c && s == end)
			return -EINVAL; /* a trailing comma: an empty mode */
	}
	return 0;
}

/* Docker's ParseMountRaw() failure after the split: "invalid volume
 * specification: '<spec>': invalid mount config for type "<t>": <why>". */
static int bad_config(struct shoal_err *err, const char *spec, bool bind,
		      const char *why)
{
	rt__err(err,
		"invalid volume specification: '%s': invalid mount config "
		"for type \"%s\": %s",
		spec, bind ? "bind" : "volume", why);
	return -EINVAL;
}

/* Docker's local driver's rule for a volume's name, with its words (the
 * create of the volume fails: "create <name>: ..."). */
static int bad_volume_name(struct shoal_err *err, const char *name, size_t len)
{
	if (len == 1)
		rt__err(err,
			"create %.*s: volume name is too short, names should "
			"be at least two alphanumeric characters",
			(int)len, name);
	else
		rt__err(err,
			"create %.*s: \"%.*s\" includes invalid characters for "
			"a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
			"are allowed. If you intended to pass a host directory, "
			"use absolute path",
			(int)len, name, (int)len, name);
	return -EINVAL;
}

/*
 * A -v spec as Docker's daemon reads it (ParseMountRaw): "target",
 * "source:target" or "source:target:mode", a source that is an absolute
 * path being a bind and anything else a volume's name; "target:mode" is
 * refused, as in Docker. Each refusal has Docker's sentence.
 */
int rt_parse_volume(const char *s, struct rt_mount_spec *out,
		    struct shoal_err *err)
{
	const char *parts[4] = {0}, *p = s, *target;
	size_t lens[4] = {0}, n = 0, used = 0, tlen;
	bool ro = false, bind;
	char why[300];

	memset(out, 0, sizeof(*out));
	if (!s || !*s || *s == ':' || strlen(s) >= sizeof(out->buf) / 2)
		goto invalid;
	for (;;) {
		const char *c = n < 3 ? strchr(p, ':') : NULL;
		parts[n] = p;
		lens[n] = c ? (size_t)(c - p) : strlen(p);
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	if (n == 4 || (n == 2 && parse_mode(parts[1], lens[1], &ro) == 0))
		goto invalid;
	if (n == 3 && parse_mode(parts[2], lens[2], &ro) < 0) {
		rt__err(err, "invalid mode: %.*s", (int)lens[2], parts[2]);
		return -EINVAL;
	}
	bind = n > 1 && parts[0][0] == '/';
	target = n == 1 ? parts[0] : parts[1];
	tlen = n == 1 ? lens[0] : lens[1];
	if (tlen == 0)
		return bad_config(err, s, bind,
				  "field Target must not be empty");
	if (target[0] != '/') {
		snprintf(why, sizeof(why),
			 "invalid mount path: '%.*s' mount path must be "
			 "absolute",
			 (int)tlen, target);
		return bad_config(err, s, bind, why);
	}
	if (n == 1) {
		out->kind = RT_MOUNT_ANONYMOUS;
	} else if (bind) {
		out->kind = RT_MOUNT_BIND;
		if (clean_abs_path(parts[0], lens[0], out->buf,
				   sizeof(out->buf) / 2) < 0)
			goto invalid;
	} else {
		if (!valid_volume_name(parts[0], lens[0]))
			return bad_volume_name(err, parts[0], lens[0]);
		out->kind = RT_MOUNT_VOLUME;
		memcpy(out->buf, parts[0], lens[0]);
		out->buf[lens[0]] = '\0';
	}
	if (n > 1) {
		out->source = out->buf;
		used = strlen(out->buf) + 1;
	}
	if (clean_abs_path(target, tlen, out->buf + used,
			   sizeof(out->buf) - used) < 0)
		goto invalid;
	out->target = out->buf + used;
	if (!strcmp(out->target, "/"))
		return bad_config(err, s, bind,
				  "invalid specification: destination can't "
				  "be '/'");
	out->readonly = ro;
	return 0;
invalid:
	rt__err(err, "invalid volume specification: '%s'", s ? s : "");
	return -EINVAL;
}

static bool valid_tmpfs_opt(const char *o, size_t n)
{
	static const char *const flags[] = {
		"ro",	   "rw",       "exec",	      "noexec", "suid",
		"nosuid",  "dev",      "nodev",	      "sync",	"async",
		"noatime", "relatime", "strictatime", NULL};
	static const char *const keyed[] = {
		"size=",      "mode=",	    "uid=", "gid=",
		"nr_inodes=", "nr_blocks=", NULL};

	for (size_t i = 0; flags[i]; i++)
		if (strlen(flags[i]) == n && !strncmp(o, flags[i], n))
			return true;
	for (size_t i = 0; keyed[i]; i++) {
		size_t k = strlen(keyed[i]);
		if (n > k && !strncmp(o, keyed[i], k)) {
			for (size_t j = k; j < n; j++)
				if (!isalnum((unsigned char)o[j]))
					return false;
			return true;
		}
	}
	return false;
}

int rt_parse_tmpfs(const char *s, struct rt_mount_spec *out,
		   struct shoal_err *err)
{
	const char *colon, *o, *end;
	size_t used;

	memset(out, 0, sizeof(*out));
	if (!s || !*s || strlen(s) >= sizeof(out->buf) / 2)
		goto invalid;
	colon = strchr(s, ':');
	if (clean_abs_path(s, colon ? (size_t)(colon - s) : strlen(s), out->buf,
			   sizeof(out->buf) / 2) < 0 ||
	    !strcmp(out->buf, "/"))
		goto invalid;
	out->kind = RT_MOUNT_TMPFS;
	out->target = out->buf;
	used = strlen(out->buf) + 1;
	out->options = out->buf + used;
	if (!colon)
		return 0;
	o = colon + 1;
	end = o + strlen(o);
	if (o == end)
		goto invalid;
	while (o < end) {
		const char *c = memchr(o, ',', (size_t)(end - o));
		size_t n = (size_t)((c ? c : end) - o);
		if (!valid_tmpfs_opt(o, n))
			goto invalid;
		if (n == 2 && !strncmp(o, "ro", 2))
			out->readonly = true;
		o += n + (c ? 1 : 0);
		if (c && o == end)
			goto invalid;
	}
	memcpy(out->buf + used, colon + 1, strlen(colon + 1) + 1);
	return 0;
invalid:
	rt__err(err, "invalid tmpfs specification: '%s'", s ? s : "");
	return -EINVAL;
}

static bool valid_user_part(const char *s, size_t n)
{
	if (n == 0 || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return s[0] != '-';
}

int rt_parse_user(const char *s, struct rt_user_spec *out)
{
	const char *colon;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (!valid_user_part(s, n))
		return -EINVAL;
	memcpy(out->user, s, n);
	if (!colon)
		return 0;
	if (!valid_user_part(colon + 1, strlen(colon + 1)))
		return -EINVAL;
	strcpy(out->group, colon + 1);
	out->has_group = true;
	return 0;
}

/* One number of a cpuset list: digits only, below 65536. */
static const char *cpuset_num(const char *p, long *v)
{
	char *end;

	if (!isdigit((unsigned char)*p))
		return NULL;
	errno = 0;
	*v = strtol(p, &end, 10);
	return errno || *v > 65535 ? NULL : end;
}

int rt_parse_cpuset(const char *s)
{
	const char *p = s;
	long a, b;

	if (!s || !*s || strlen(s) > 512)
		return -EINVAL;
	for (;;) {
		if (!(p = cpuset_num(p, &a)))
			return -EINVAL;
		if (*p == '-') {
			if (!(p = cpuset_num(p + 1, &b)) || b < a)
				return -EINVAL;
		}
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

#define CPUSET_BITS 4096

/* Set the bits of a list rt_parse_cpuset() accepted; false past the
 * bitmap (no host has that many CPUs or nodes). */
static bool cpuset_bits(const char *s, uint64_t *bits)
{
	const char *p = s;
	long a, b;

	memset(bits, 0, CPUSET_BITS / 8);
	while (*p && *p != '\n') {
		if (!(p = cpuset_num(p, &a)))
			return false;
		b = a;
		if (*p == '-' && !(p = cpuset_num(p + 1, &b)))
			return false;
		if (b >= CPUSET_BITS)
			return false;
		for (long i = a; i <= b; i++)
			bits[i / 64] |= 1ULL << (i % 64);
		if (*p == ',')
			p++;
	}
	return true;
}

bool rt__cpuset_within(const char *want, const char *have)
{
	uint64_t w[CPUSET_BITS / 64], h[CPUSET_BITS / 64];

	if (rt_parse_cpuset(want) < 0 || !cpuset_bits(want, w) ||
	    !cpuset_bits(have, h))
		return false;
	for (size_t i = 0; i < CPUSET_BITS / 64; i++)
		if (w[i] & ~h[i])
			return false;
	return true;
}
