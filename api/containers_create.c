/*
 * POST /containers/create (Docker Engine API v1.45, "ContainerCreate"):
 * the request body (Docker's Config with HostConfig inside) becomes a
 * struct eng_spec, which the engine (engine/engine.h) merges with the
 * image and makes into a container. What Docker reports later and only
 * the client's request holds (Config and HostConfig as sent) goes into the
 * record as its annotations; inspect overlays what the engine resolved.
 *
 * Fields the engine does not apply are refused first (create_check.c).
 * docker run's runtime flags (Init, ShmSize, MemorySwap/-Swappiness,
 * OomKillDisable, OomScoreAdj, CpusetCpus/-Mems, GroupAdd, Sysctls,
 * Devices, DeviceCgroupRules, PidMode, IpcMode, UTSMode, CgroupnsMode,
 * VolumesFrom, LogConfig) go to the engine's block of that name.
 * Translation: Binds, Mounts (bind, volume, tmpfs with TmpfsOptions),
 * Tmpfs and Config.Volumes (anonymous volumes) become the runtime's -v and
 * --tmpfs specs; SecurityOpt's seccomp=, no-new-privileges; the limits;
 * RestartPolicy and AutoRemove; StopSignal and StopTimeout; ConsoleSize.
 * SecurityOpt's apparmor= and label= are accepted and ignored: there is no
 * LSM here, as on a Docker host without AppArmor or SELinux.
 *
 * The name is checked before the body is read, as before: an invalid name
 * is a 400 whatever the body.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "worker/attach.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ALLOCS 64

/* Every array made for the spec, freed together. */
struct arena {
	void *p[MAX_ALLOCS];
	size_t n;
};

static void *arena_add(struct arena *a, void *p)
{
	if (!p)
		return NULL;
	if (a->n == MAX_ALLOCS) {
		shoal_free(p);
		return NULL;
	}
	a->p[a->n++] = p;
	return p;
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		shoal_free(a->p[i]);
}

struct create_req {
	struct api_call *call;
	struct api_call call_copy; /* @call while waiting for an attachment */
	struct api__state *st;
	json_t *body;
	json_t *hc; /* HostConfig, borrowed from body, or an empty object */
	json_t *ann;
	struct arena arena;
	struct eng_spec spec;
	struct api__net_spec net;
	int status; /* the HTTP status of an error */
	char err[600];
	/* An attachable overlay (docs/overlay.md): the network asked for,
	 * the request to the managers, and what they granted. */
	const char *overlay;
	struct watt *watt;
	uint64_t attach_id;
	struct watt_grant grant;
	char name[64]; /* drawn here when none was given (attach()) */
};

static int fail(struct create_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct create_req *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->status = status;
	return -EINVAL;
}

/* A JSON array of strings (or null/absent) as a NULL-terminated vector. */
static int strv(struct create_req *r, const json_t *o, const char *key,
		const char ***out)
{
	const json_t *a = json_object_get(o, key);
	*out = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (json_is_string(a)) { /* Docker accepts "Cmd": "sh" too */
		const char **v =
			arena_add(&r->arena, shoal_calloc(2, sizeof(char *)));
		if (!v)
			return fail(r, 500, "out of memory");
		v[0] = json_string_value(a);
		*out = v;
		return 0;
	}
	if (!json_is_array(a))
		return fail(r, 400, "%s must be an array of strings", key);
	size_t n = json_array_size(a);
	const char **v =
		arena_add(&r->arena, shoal_calloc(n + 1, sizeof(char *)));
	if (!v)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i);
		if (!json_is_string(e))
			return fail(r, 400, "%s must be an array of strings",
				    key);
		v[i] = json_string_value(e);
	}
	*out = v;
	return 0;
}

static size_t vlen(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* Labels ({"k": "v"}) as "k=v" strings for the spec. */
static int build_labels(struct create_req *r)
{
	json_t *l = json_object_get(r->body, "Labels");
	if (l && !json_is_null(l) && !json_is_object(l))
		return fail(r, 400, "Labels must be an object of strings");
	size_t n = json_is_object(l) ? json_object_size(l) : 0, i = 0;
	const char **v =
		arena_add(&r->arena, shoal_calloc(n + 1, sizeof(char *)));
	struct buf b;
	size_t offs[256];
	if (!v)
		return fail(r, 500, "out of memory");
	if (n > 256)
		return fail(r, 400, "too many labels");
	buf_init(&b, 1 << 20);
	const char *k;
	json_t *val;
	json_object_foreach(l, k, val)
	{
		if (!json_is_string(val)) {
			buf_fini(&b);
			return fail(r, 400, "label %s must be a string", k);
		}
		offs[i++] = b.len;
		buf_printf(&b, "%s=%s", k, json_string_value(val));
		buf_append(&b, "", 1);
	}
	char *all = b.len ? arena_add(&r->arena, buf_take(&b, NULL)) : NULL;
	buf_fini(&b);
	if (n && !all)
		return fail(r, 500, "out of memory");
	for (i = 0; i < n; i++)
		v[i] = all + offs[i];
	r->spec.labels = v;
	return 0;
}

/* A tmpfs Mount's options (TmpfsOptions, ReadOnly) as --tmpfs options. */
static void tmpfs_opts(const json_t *m, char *out, size_t cap)
{
	const json_t *to = json_object_get(m, "TmpfsOptions");
	long long size = (long long)jsonx_int(to, "SizeBytes", 0);
	long long mode = (long long)jsonx_int(to, "Mode", 0);
	size_t n = 0;

	out[0] = '\0';
	if (size > 0)
		n += (size_t)snprintf(out + n, cap - n, "size=%lld", size);
	if (mode > 0 && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "%smode=%llo",
				      n ? "," : "", mode);
	if (jsonx_bool(m, "ReadOnly", false) && n < cap)
		snprintf(out + n, cap - n, "%sro", n ? "," : "");
}

/* Whether a bind ("src:dst[:mode]") or a mount targets @path. */
static bool anon_covered(const char *path, const char **binds,
			 const json_t *mounts)
{
	size_t plen = strlen(path), i;
	const json_t *m;
	for (i = 0; binds && binds[i]; i++) {
		const char *c = strchr(binds[i], ':');
		if (c && !strncmp(c + 1, path, plen) &&
		    (c[1 + plen] == '\0' || c[1 + plen] == ':'))
			return true;
	}
	json_array_foreach(mounts, i, m)
	{
		if (!strcmp(jsonx_str(m, "Target", ""), path))
			return true;
	}
	return false;
}

/*
 * Binds, HostConfig.Mounts ([{Type, Source, Target, ReadOnly,
 * TmpfsOptions}]), HostConfig.Tmpfs and Config.Volumes (anonymous
 * volumes, as `docker run -v /path` sends them) into -v and --tmpfs specs.
 */
static int build_mounts(struct create_req *r, const char **binds,
			const char ***vols, const char ***tmpfs)
{
	const json_t *mounts = json_object_get(r->hc, "Mounts");
	const json_t *tm = json_object_get(r->hc, "Tmpfs");
	const json_t *anon = json_object_get(r->body, "Volumes");
	size_t nm = json_is_array(mounts) ? json_array_size(mounts) : 0;
	size_t nt = json_is_object(tm) ? json_object_size(tm) : 0;
	size_t na = json_is_object(anon) ? json_object_size(anon) : 0;
	size_t nb = vlen(binds), nv = 0, ntf = 0;
	const char **v = arena_add(
		&r->arena, shoal_calloc(nb + nm + na + 1, sizeof(char *)));
	const char **t =
		arena_add(&r->arena, shoal_calloc(nt + nm + 1, sizeof(char *)));
	struct buf b;
	buf_init(&b, 1 << 20);
	if (!v || !t)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < nb; i++)
		v[nv++] = binds[i];
	const char *anon_path;
	json_t *unused;
	json_object_foreach((json_t *)anon, anon_path, unused)
	{
		/* As Docker: a bind or mount at the same path wins over the
		 * anonymous volume (docker-compose sends both). */
		if (!anon_covered(anon_path, binds, mounts))
			v[nv++] = anon_path;
	}
	/* Strings are built into one buffer; offsets fixed up after. */
	size_t offs[64];
	bool is_tmpfs[64];
	size_t nofs = 0;
	for (size_t i = 0; i < nm; i++) {
		const json_t *m = json_array_get(mounts, i);
		const char *type = jsonx_str(m, "Type", "");
		const char *src = jsonx_str(m, "Source", "");
		const char *dst = jsonx_str(m, "Target", "");
		bool ro = jsonx_bool(m, "ReadOnly", false);
		if (nofs == 64) {
			buf_fini(&b);
			return fail(r, 400, "too many mounts");
		}
		if (!*dst) {
			buf_fini(&b);
			return fail(r, 400,
				    "invalid mount config: Target is required");
		}
		offs[nofs] = b.len;
		is_tmpfs[nofs] = strcmp(type, "tmpfs") == 0;
		if (is_tmpfs[nofs]) {
			char opts[128];
			tmpfs_opts(m, opts, sizeof(opts));
			buf_printf(&b, "%s%s%s", dst, *opts ? ":" : "", opts);
		} else if (!strcmp(type, "bind") || !strcmp(type, "volume"))
			buf_printf(&b, "%s%s%s%s", src, *src ? ":" : "", dst,
				   ro ? ":ro" : "");
		else {
			buf_fini(&b);
			return fail(r, 400,
				    "invalid mount config: unsupported mount "
				    "type \"%s\"",
				    type);
		}
		buf_append(&b, "", 1);
		nofs++;
	}
	void *it = json_is_object(tm) ? json_object_iter((json_t *)tm) : NULL;
	for (; it; it = json_object_iter_next((json_t *)tm, it)) {
		const char *path = json_object_iter_key(it);
		const char *opts =
			json_string_value(json_object_iter_value(it));
		if (nofs == 64) {
			buf_fini(&b);
			return fail(r, 400, "too many mounts");
		}
		offs[nofs] = b.len;
		is_tmpfs[nofs] = true;
		buf_printf(&b, "%s%s%s", path, opts && *opts ? ":" : "",
			   opts ? opts : "");
		buf_append(&b, "", 1);
		nofs++;
	}
	char *all = b.len ? arena_add(&r->arena, buf_take(&b, NULL)) : NULL;
	buf_fini(&b);
	if (nofs && !all)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < nofs; i++) {
		if (is_tmpfs[i])
			t[ntf++] = all + offs[i];
		else
			v[nv++] = all + offs[i];
	}
	*vols = v;
	*tmpfs = t;
	return 0;
}

static int build_security(struct create_req *r)
{
	const char **opts;
	int rc = strv(r, r->hc, "SecurityOpt", &opts);
	if (rc < 0)
		return rc;
	for (size_t i = 0; opts && opts[i]; i++) {
		const char *o = opts[i];
		const char *eq = strpbrk(o, "=:");
		size_t klen = eq ? (size_t)(eq - o) : strlen(o);
		const char *val = eq ? eq + 1 : "";
		if (klen == 17 && !strncmp(o, "no-new-privileges", klen)) {
			r->spec.no_new_privileges =
				!eq || !strcmp(val, "true") || !*val;
		} else if (klen == 7 && !strncmp(o, "seccomp", klen)) {
			if (val[0] == '{')
				r->spec.seccomp_profile = val;
			else
				r->spec.seccomp = val;
		} else if ((klen == 8 && !strncmp(o, "apparmor", klen)) ||
			   (klen == 5 && !strncmp(o, "label", klen))) {
			continue; /* no AppArmor or SELinux here: ignored */
		} else {
			return fail(r, 400, "invalid --security-opt: \"%s\"",
				    o);
		}
	}
	return 0;
}

static int build_limits(struct create_req *r)
{
	struct eng_spec *s = &r->spec;
	s->memory = jsonx_int(r->hc, "Memory", 0);
	s->memory_reservation = jsonx_int(r->hc, "MemoryReservation", 0);
	s->cpu_shares = jsonx_int(r->hc, "CpuShares", 0);
	s->nano_cpus = jsonx_int(r->hc, "NanoCpus", 0);
	s->pids_limit = jsonx_int(r->hc, "PidsLimit", 0);
	if (s->pids_limit < 0)
		s->pids_limit = 0; /* -1: unlimited, as Docker */
	if (s->memory < 0 || s->memory_reservation < 0)
		return fail(r, 400, "invalid memory limit: must be positive");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (s->nano_cpus < 0 ||
	    (ncpu > 0 && s->nano_cpus > (int64_t)ncpu * 1000000000))
		return fail(r, 400,
			    "Range of CPUs is from 0.01 to %ld.00, as there "
			    "are only %ld CPUs available",
			    ncpu, ncpu);
	const json_t *ul = json_object_get(r->hc, "Ulimits");
	size_t n = json_is_array(ul) ? json_array_size(ul) : 0;
	if (!n)
		return 0;
	struct rt_rlimit *rl =
		arena_add(&r->arena, shoal_calloc(n, sizeof(*rl)));
	if (!rl)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *u = json_array_get(ul, i);
		char spec[128];
		snprintf(spec, sizeof(spec), "%s=%lld:%lld",
			 jsonx_str(u, "Name", ""),
			 (long long)jsonx_int(u, "Soft", 0),
			 (long long)jsonx_int(u, "Hard", 0));
		if (rt_parse_ulimit(spec, &rl[i]) < 0)
			return fail(r, 400, "invalid ulimit: %s", spec);
	}
	s->rlimits = rl;
	s->rlimit_count = n;
	return 0;
}

/* Config.Healthcheck (Docker's HealthConfig), checked as the daemon does. */
static int build_health(struct create_req *r)
{
	const json_t *hc = json_object_get(r->body, "Healthcheck");
	struct eng_health *h = &r->spec.health;
	const char *const keys[] = {"Interval", "Timeout", "StartPeriod"};
	int64_t *vals[] = {&h->interval_ns, &h->timeout_ns,
			   &h->start_period_ns};
	int rc;

	if (!hc || json_is_null(hc))
		return 0;
	if (!json_is_object(hc))
		return fail(r, 400, "Healthcheck must be an object");
	if ((rc = strv(r, hc, "Test", (const char ***)&h->test)) < 0)
		return rc;
	if (h->test && h->test[0] && strcmp(h->test[0], "NONE") &&
	    strcmp(h->test[0], "CMD") && strcmp(h->test[0], "CMD-SHELL"))
		return fail(r, 400, "Unknown healthcheck type '%s'",
			    h->test[0]);
	if (h->test && h->test[0] && strcmp(h->test[0], "NONE") && !h->test[1])
		return fail(r, 400, "Healthcheck %s needs a command",
			    h->test[0]);
	for (size_t i = 0; i < 3; i++) {
		json_int_t v = jsonx_int(hc, keys[i], 0);
		if (v != 0 && v < 1000000)
			return fail(r, 400,
				    "%s in Healthcheck cannot be less than 1ms",
				    keys[i]);
		*vals[i] = v;
	}
	json_int_t retries = jsonx_int(hc, "Retries", 0);
	if (retries < 0)
		return fail(r, 400,
			    "Retries in Healthcheck cannot be negative");
	h->retries = retries > 1000000 ? 1000000 : (int)retries;
	return 0;
}

/* RestartPolicy, AutoRemove, StopSignal, StopTimeout, ConsoleSize. */
static int build_lifecycle(struct create_req *r)
{
	struct eng_spec *s = &r->spec;
	const json_t *p = json_object_get(r->hc, "RestartPolicy");
	const json_t *t = json_object_get(r->body, "StopTimeout");
	const json_t *cs = json_object_get(r->hc, "ConsoleSize");
	const char *sig = jsonx_str(r->body, "StopSignal", "");
	struct shoal_err e = {""};

	if (eng_restart_parse(jsonx_str(p, "Name", ""),
			      jsonx_int(p, "MaximumRetryCount", 0), &s->restart,
			      &e) < 0)
		return fail(r, 400, "%s", e.msg);
	s->auto_remove = jsonx_bool(r->hc, "AutoRemove", false);
	if (*sig && (s->stop_signal = eng_signal_parse(sig)) < 0)
		return fail(r, 400, "Invalid signal: %s", sig);
	if (json_is_integer(t)) {
		s->stop_timeout_set = true;
		s->stop_timeout_s = json_integer_value(t);
	}
	json_int_t rows = json_integer_value(json_array_get(cs, 0));
	json_int_t cols = json_integer_value(json_array_get(cs, 1));
	if (rows > 0 && cols > 0 && rows <= 65535 && cols <= 65535) {
		s->console_rows = (unsigned)rows;
		s->console_cols = (unsigned)cols;
	}
	return 0;
}

/* {"k": "v"} as "k=v" strings (Sysctls), all in one allocation. */
static int kv_strings(struct create_req *r, const char *key,
		      const char *const **out)
{
	const json_t *o = json_object_get(r->hc, key);
	const char *k;
	json_t *v;
	size_t n = json_is_object(o) ? json_object_size(o) : 0, i = 0;
	size_t total = 0, at = 0;
	const char **a;
	char *text;

	*out = NULL;
	if (o && !json_is_null(o) && !json_is_object(o))
		return fail(r, 400, "HostConfig.%s must be an object", key);
	if (n > 256)
		return fail(r, 400, "too many HostConfig.%s (256 at most)",
			    key);
	json_object_foreach((json_t *)o, k, v)
	{
		if (!json_is_string(v))
			return fail(r, 400, "HostConfig.%s.%s must be a string",
				    key, k);
		total += strlen(k) + json_string_length(v) + 2;
	}
	a = arena_add(&r->arena, shoal_calloc(n + 1, sizeof(char *)));
	text = arena_add(&r->arena, shoal_malloc(total + 1));
	if (!a || !text)
		return fail(r, 500, "out of memory");
	json_object_foreach((json_t *)o, k, v)
	{
		a[i++] = text + at;
		at += (size_t)sprintf(text + at, "%s=%s", k,
				      json_string_value(v)) +
		      1;
	}
	*out = a;
	return 0;
}

/* Devices: [{PathOnHost, PathInContainer, CgroupPermissions}] as
 * --device specs, all in one allocation. */
static int build_devices(struct create_req *r)
{
	const json_t *d = json_object_get(r->hc, "Devices"), *x;
	size_t n = json_is_array(d) ? json_array_size(d) : 0, i;
	size_t total = 0, at = 0;
	const char **a;
	char *text;

	if (n > 256)
		return fail(r, 400,
			    "too many HostConfig.Devices (256 at most)");
	json_array_foreach(d, i, x)
	{
		total += strlen(jsonx_str(x, "PathOnHost", "")) * 2 +
			 strlen(jsonx_str(x, "PathInContainer", "")) +
			 strlen(jsonx_str(x, "CgroupPermissions", "")) + 6;
	}
	a = arena_add(&r->arena, shoal_calloc(n + 1, sizeof(char *)));
	text = arena_add(&r->arena, shoal_malloc(total + 1));
	if (!a || !text)
		return fail(r, 500, "out of memory");
	json_array_foreach(d, i, x)
	{
		const char *host = jsonx_str(x, "PathOnHost", "");
		const char *ctr = jsonx_str(x, "PathInContainer", "");
		const char *perms = jsonx_str(x, "CgroupPermissions", "");
		a[i] = text + at;
		at += (size_t)sprintf(text + at, "%s:%s:%s", host,
				      *ctr ? ctr : host,
				      *perms ? perms : "rwm") +
		      1;
	}
	r->spec.devices = a;
	return 0;
}

/* LogConfig: Type (empty: json-file, Docker's default) and the options
 * of json-file and local; anything else in Docker's words. */
static int build_log(struct create_req *r)
{
	json_t *lc = json_object_get(r->hc, "LogConfig");
	const char *type = jsonx_str(lc, "Type", ""), *k;
	json_t *v;
	struct eng_spec *s = &r->spec;
	bool bounded;

	if (!*type)
		type = "json-file";
	if (strcmp(type, "json-file") && strcmp(type, "local") &&
	    strcmp(type, "none"))
		return fail(r, 400,
			    "logger: no log driver named '%s' is registered",
			    type);
	s->log_driver = type;
	json_object_foreach(json_object_get(lc, "Config"), k, v)
	{
		const char *val = json_string_value(v);
		bounded = strcmp(type, "none") != 0;
		if (!val)
			return fail(r, 400, "log opt '%s' must be a string", k);
		if (bounded && !strcmp(k, "max-size")) {
			if (rt_parse_memory(val, &s->log_max_size) < 0 ||
			    s->log_max_size <= 0)
				return fail(r, 400, "invalid max-size: %s",
					    val);
		} else if (bounded && !strcmp(k, "max-file")) {
			char *end;
			long n = strtol(val, &end, 10);
			if (*end || end == val || n < 1 || n > 64)
				return fail(r, 400,
					    "max-file must be a number from 1 "
					    "to 64: %s",
					    val);
			s->log_max_file = (int)n;
		} else if (bounded && !strcmp(k, "compress")) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return fail(r, 400,
					    "invalid value for compress: %s",
					    val);
			s->log_compress = !strcmp(val, "true") ? 1 : -1;
		} else {
			return fail(r, 400,
				    "unknown log opt '%s' for %s log driver", k,
				    type);
		}
	}
	if (!strcmp(type, "json-file") && s->log_compress > 0 &&
	    s->log_max_file < 2)
		return fail(r, 400,
			    "compress cannot be true when max-file is "
			    "less than 2");
	return 0;
}

/* The namespace modes and cgroupns, in Docker's spellings. */
static int build_modes(struct create_req *r)
{
	struct eng_spec *s = &r->spec;
	const char *pid = jsonx_str(r->hc, "PidMode", "");
	const char *ipc = jsonx_str(r->hc, "IpcMode", "");
	const char *uts = jsonx_str(r->hc, "UTSMode", "");
	const char *cg = jsonx_str(r->hc, "CgroupnsMode", "");

	if (*pid && strcmp(pid, "host") && strncmp(pid, "container:", 10))
		return fail(r, 400, "invalid PID mode: %s", pid);
	if (*ipc && strcmp(ipc, "host") && strcmp(ipc, "private") &&
	    strcmp(ipc, "shareable") && strncmp(ipc, "container:", 10))
		return fail(r, 400,
			    "invalid IPC mode: %s (Shoal applies private, "
			    "shareable, host and container:<name|id>)",
			    ipc);
	if (*uts && strcmp(uts, "host"))
		return fail(r, 400, "invalid UTS mode: %s", uts);
	if (*cg && strcmp(cg, "host") && strcmp(cg, "private"))
		return fail(r, 400, "invalid cgroup namespace mode: %s", cg);
	s->pid_mode = pid;
	s->ipc_mode = ipc;
	s->uts_mode = uts;
	s->cgroupns_host = !strcmp(cg, "host");
	return 0;
}

/* docker run's runtime flags (engine.h's block of that name). */
static int build_run_flags(struct create_req *r)
{
	struct eng_spec *s = &r->spec;
	const json_t *sw = json_object_get(r->hc, "MemorySwappiness");
	int rc;

	s->init = jsonx_bool(r->hc, "Init", false);
	s->shm_size = jsonx_int(r->hc, "ShmSize", 0);
	s->memory_swap = jsonx_int(r->hc, "MemorySwap", 0);
	/* null or -1: the parent's (Docker's default) */
	if (json_is_integer(sw) && json_integer_value(sw) != -1) {
		s->memory_swappiness_set = true;
		s->memory_swappiness = json_integer_value(sw);
	}
	s->oom_kill_disable = jsonx_bool(r->hc, "OomKillDisable", false);
	/* 0, Docker's default, leaves the daemon's value (0 too). */
	int64_t adj = jsonx_int(r->hc, "OomScoreAdj", 0);
	if (adj < -1000 || adj > 1000)
		return fail(r, 400,
			    "Invalid value %lld, range for oom score adj is "
			    "[-1000, 1000]",
			    (long long)adj);
	s->oom_score_adj_set = adj != 0;
	s->oom_score_adj = (int)adj;
	s->cpuset_cpus = jsonx_str(r->hc, "CpusetCpus", "");
	s->cpuset_mems = jsonx_str(r->hc, "CpusetMems", "");
	rc = strv(r, r->hc, "GroupAdd", (const char ***)&s->group_add);
	if (rc == 0)
		rc = strv(r, r->hc, "DeviceCgroupRules",
			  (const char ***)&s->device_cgroup_rules);
	if (rc == 0)
		rc = strv(r, r->hc, "VolumesFrom",
			  (const char ***)&s->volumes_from);
	if (rc == 0)
		rc = kv_strings(r, "Sysctls", &s->sysctls);
	if (rc == 0)
		rc = build_devices(r);
	if (rc == 0)
		rc = build_modes(r);
	if (rc == 0)
		rc = build_log(r);
	return rc;
}

/*
 * A network that is not this node's own: an overlay of the swarm. On a
 * manager one that is not attachable is refused at once with Docker's
 * words; otherwise, on any node of a swarm, the agent asks the leader
 * (r->overlay set: run() waits for the answer), which refuses an unknown
 * or non-attachable network with Docker's words. The managers choose the
 * address: --ip and --mac-address are refused on an overlay.
 */
static int overlay_check(struct create_req *r, const char *net)
{
	static const char *const local[] = {"",	    "default", "bridge",
					    "host", "none",    NULL};
	for (size_t i = 0; local[i]; i++)
		if (!strcmp(net, local[i]))
			return 0;
	if (!strncmp(net, "container:", 10))
		return 0;
	int nrc = 0;
	struct net *n = eng_net(r->st->eng);
	json_t *mine = n ? net_network_inspect(n, net, &nrc) : NULL;
	bool own = mine != NULL; /* a network of this node's own */
	json_decref(mine);
	if (own)
		return 0;
	int rc = api__swarm_net_attach_check(r->call, net, r->err,
					     sizeof(r->err));
	if (rc < 0) {
		r->status = 403;
		return -EINVAL;
	}
	r->watt = api__swarm_watt(r->call);
	if (!r->watt)
		return 0; /* not in a swarm: the engine's 404 */
	if (r->net.n_eps &&
	    (*r->net.ep.ip || (r->net.ep.mac && *r->net.ep.mac)))
		return fail(r, 400,
			    "--ip and --mac-address are not supported on the "
			    "overlay network %s: the swarm's managers choose "
			    "the container's address",
			    net);
	r->overlay = net;
	return 0;
}

static int build_spec(struct create_req *r)
{
	struct eng_spec *s = &r->spec;
	const char **binds = NULL, **vols = NULL, **tmpfs = NULL;
	int rc = strv(r, r->body, "Entrypoint", (const char ***)&s->entrypoint);
	if (rc == 0)
		rc = strv(r, r->body, "Cmd", (const char ***)&s->cmd);
	if (rc == 0)
		rc = strv(r, r->body, "Env", (const char ***)&s->env);
	if (rc == 0)
		rc = build_labels(r);
	if (rc == 0)
		rc = strv(r, r->hc, "Binds", &binds);
	if (rc == 0)
		rc = build_mounts(r, binds, &vols, &tmpfs);
	if (rc == 0)
		rc = build_security(r);
	if (rc == 0)
		rc = build_limits(r);
	if (rc == 0)
		rc = build_lifecycle(r);
	if (rc == 0)
		rc = build_health(r);
	if (rc == 0)
		rc = strv(r, r->hc, "CapAdd", (const char ***)&s->cap_add);
	if (rc == 0)
		rc = strv(r, r->hc, "CapDrop", (const char ***)&s->cap_drop);
	if (rc == 0)
		rc = strv(r, r->hc, "ExtraHosts",
			  (const char ***)&s->extra_hosts);
	if (rc == 0)
		rc = strv(r, r->hc, "Dns", (const char ***)&s->dns);
	if (rc == 0)
		rc = build_run_flags(r);
	if (rc == 0)
		rc = strv(r, r->hc, "Links", (const char ***)&s->links);
	if (rc == 0)
		rc = strv(r, r->hc, "DnsSearch",
			  (const char ***)&s->dns_search);
	if (rc == 0)
		rc = strv(r, r->hc, "DnsOptions",
			  (const char ***)&s->dns_options);
	if (rc < 0)
		return rc;
	s->image = jsonx_str(r->body, "Image", "");
	s->volumes = vols;
	s->tmpfs = tmpfs;
	s->hostname = jsonx_str(r->body, "Hostname", "");
	s->user = jsonx_str(r->body, "User", "");
	s->workdir = jsonx_str(r->body, "WorkingDir", "");
	s->tty = jsonx_bool(r->body, "Tty", false);
	s->open_stdin = jsonx_bool(r->body, "OpenStdin", false);
	s->privileged = jsonx_bool(r->hc, "Privileged", false);
	s->readonly_rootfs = jsonx_bool(r->hc, "ReadonlyRootfs", false);
	const char *net = jsonx_str(r->hc, "NetworkMode", "");
	if (eng_net(r->st->eng)) {
		rc = api__net_spec(r->body, r->hc, &r->net, &r->status, r->err,
				   sizeof(r->err));
		s->network_mode = r->net.mode;
		s->ports = r->net.ports;
		s->n_ports = r->net.n_ports;
		s->publish_all = jsonx_bool(r->hc, "PublishAllPorts", false);
		s->endpoints = &r->net.ep;
		s->n_endpoints = r->net.n_eps;
		if (rc == 0)
			rc = overlay_check(r, r->net.n_eps ? r->net.ep.network
							   : r->net.mode);
		return rc;
	}
	if (!strcmp(net, "host"))
		s->network = "host";
	else if (!*net || !strcmp(net, "default") || !strcmp(net, "none") ||
		 !strcmp(net, "bridge"))
		s->network = NULL;
	else if (overlay_check(r, net) < 0)
		return -EINVAL;
	else
		return fail(r, 404, "network %s not found", net);
	return 0;
}

/* Config and HostConfig as sent: the record's annotations; what Docker
 * fills in when empty (Runtime, LogConfig.Type) is filled in. */
static json_t *annotations(struct create_req *r)
{
	json_t *cfg = json_deep_copy(r->body);
	json_t *lc = json_object_get(r->hc, "LogConfig");
	if (!cfg)
		return NULL;
	if (!*jsonx_str(r->hc, "Runtime", ""))
		json_object_set_new(r->hc, "Runtime", json_string("runc"));
	if (!json_is_object(lc)) {
		lc = json_pack("{s:s, s:{}}", "Type", "json-file", "Config");
		json_object_set_new(r->hc, "LogConfig", lc);
	} else if (!*jsonx_str(lc, "Type", "")) {
		json_object_set_new(lc, "Type", json_string("json-file"));
	}
	json_object_del(cfg, "HostConfig");
	json_object_del(cfg, "NetworkingConfig");
	return json_pack("{s:o, s:O}", "Config", cfg, "HostConfig", r->hc);
}

static void reply_created(struct create_req *r, const struct eng_created *c)
{
	json_t *w = json_array();
	for (size_t i = 0; w && i < c->n_warnings; i++)
		json_array_append_new(w, json_string(c->warnings[i]));
	api_reply_json(r->call, 201,
		       w ? json_pack("{s:s, s:o}", "Id", c->id, "Warnings", w)
			 : NULL);
}

static int status_of(int rc)
{
	switch (rc) {
	case -EINVAL:
		return 400;
	case SHOAL_ENOTFOUND:
		return 404;
	case SHOAL_ECONFLICT:
		return 409;
	default:
		return 500;
	}
}

/* The container made from the spec, and the 201. */
static int make(struct create_req *r)
{
	struct eng_created c;
	struct shoal_err e = {""};
	int rc = eng_create(r->st->eng, &r->spec, &c, &e);
	if (rc < 0)
		return fail(r, status_of(rc), "%s",
			    e.msg[0] ? e.msg : shoal_strerror(rc));
	reply_created(r, &c);
	return 0;
}

static void req_free(struct create_req *r);

/* The client went away while the managers were asked: nothing is made
 * (an attachment already granted is given back, worker/attach.h). */
static void gone(struct http_response *res, void *arg)
{
	struct create_req *r = arg;
	(void)res;
	watt_cancel(r->watt, r->attach_id);
	req_free(r);
}

/* The managers' answer: the container is made on the overlay with the
 * address they chose (eth0, the default route through its gateway, as a
 * task's first network), or the create is refused with their words. */
static void attached(void *arg, int code, const char *error,
		     const struct watt_grant *g)
{
	struct create_req *r = arg;
	int rc = -EINVAL;
	http_response_on_close(r->call->res, NULL, NULL);
	if (code == SHOAL_ENOTFOUND)
		fail(r, 404, "network %s not found", r->overlay);
	else if (code == -EPERM)
		fail(r, 403, "Could not attach to network %s: %s", r->overlay,
		     error);
	else if (code < 0)
		fail(r, code == -ENOTCONN || code == -ETIMEDOUT ? 503 : 500,
		     "Could not attach to network %s: %s", r->overlay, error);
	if (code == 0) {
		r->grant = *g;
		r->net.ep.network = r->grant.net_id;
		r->net.ep.ip = r->grant.addr;
		r->net.ep.aliases = r->net.aliases;
		r->net.ep.mac = NULL;
		r->net.n_eps = 1;
		r->spec.network_mode = r->grant.net_id;
		r->spec.endpoints = &r->net.ep;
		r->spec.n_endpoints = 1;
		rc = make(r);
		watt_release(r->watt, r->grant.task_id);
	}
	if (rc < 0)
		api_reply_error(r->call, r->status, "%s", r->err);
	req_free(r);
}

/* Ask the managers for an address on r->overlay, named by the
 * container's name and its aliases there; 1: waiting. */
static int attach(struct create_req *r)
{
	const char *names[API__NET_ALIASES + 2];
	size_t n = 0;
	const char *name = r->spec.name;
	if (name && *name == '/')
		name++;
	if (!name || !*name) {
		/* The container answers to its name on the overlay, as in
		 * Docker: drawn now, as the engine would draw it. */
		eng_name_new(r->st->eng, r->name, sizeof(r->name));
		r->spec.name = name = r->name;
	}
	names[n++] = name;
	for (size_t i = 0; i < API__NET_ALIASES && r->net.aliases[i]; i++)
		names[n++] = r->net.aliases[i];
	/* The container's id is drawn by the runtime later, in the create:
	 * the attachment is known by its address (worker/attach.h). */
	struct agent_attach_req ar = {
		.network = r->overlay,
		.container_id = "",
		.names = names,
		.n = n,
	};
	int rc = watt_attach(r->watt, &ar, attached, r, &r->attach_id);
	if (rc == -ENOTCONN)
		return fail(r, 503,
			    "Could not attach to network %s: this node has no "
			    "session with the swarm's managers; try again",
			    r->overlay);
	if (rc < 0)
		return fail(r, rc == -EBUSY ? 503 : 500,
			    "Could not attach to network %s: %s", r->overlay,
			    rc == -EBUSY ? "too many attachments in flight; "
					   "try again"
					 : shoal_strerror(rc));
	http_response_on_close(r->call->res, gone, r);
	return 1;
}

static int run(struct create_req *r)
{
	char err[256];
	const char *name = http_request_query(r->call->req, "name");
	if (name && *name && !rt_name_valid(name[0] == '/' ? name + 1 : name))
		return fail(r, 400,
			    "Invalid container name (%s), only "
			    "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			    name);
	int rc = jsonx_parse_object(r->call->req->body, r->call->req->body_len,
				    &r->body, err, sizeof(err));
	if (rc < 0)
		return fail(r, 400, "%s", err);
	r->hc = json_object_get(r->body, "HostConfig");
	if (r->hc && !json_is_object(r->hc) && !json_is_null(r->hc))
		return fail(r, 400, "HostConfig must be an object");
	if (!json_is_object(r->hc)) {
		r->hc = json_object();
		if (!r->hc || json_object_set_new(r->body, "HostConfig", r->hc))
			return fail(r, 500, "out of memory");
	}
	if (!*jsonx_str(r->body, "Image", ""))
		return fail(r, 400, "no image specified");
	if ((rc = api__create_check(r->body, r->err, sizeof(r->err))) < 0) {
		r->status = rc == SHOAL_ENOTFOUND ? 404 : 400;
		return -EINVAL;
	}
	if ((rc = build_spec(r)) < 0)
		return rc;
	r->spec.name = name && *name ? name : NULL;
	r->ann = annotations(r);
	if (!r->ann)
		return fail(r, 500, "out of memory");
	r->spec.annotations = r->ann;
	if (r->overlay)
		return attach(r);
	return make(r);
}

static void req_free(struct create_req *r)
{
	json_decref(r->ann);
	json_decref(r->body);
	arena_free(&r->arena);
	api__net_spec_fini(&r->net);
	shoal_free(r);
}

void api__container_create(struct api_call *call)
{
	struct create_req *r = shoal_calloc(1, sizeof(*r));
	if (!r) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	r->call_copy = *call;
	r->call = &r->call_copy;
	r->status = 500;
	if (!(r->st = api__need(call))) {
		req_free(r);
		return;
	}
	int rc = run(r);
	if (rc > 0)
		return; /* waiting for the managers (attach()) */
	if (rc < 0)
		api_reply_error(r->call, r->status, "%s", r->err);
	req_free(r);
}
