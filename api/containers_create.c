/*
 * POST /containers/create (Docker Engine API v1.45, "ContainerCreate"):
 * the request body (Docker's Config with HostConfig inside) becomes a
 * struct rt_spec over the image's layers; what Docker reports later and the
 * runtime does not keep (the image reference, Cmd, Entrypoint, Labels,
 * HostConfig as sent) goes into docker.json beside the runtime's files.
 *
 * Merging follows Docker: the image's Env comes first and the request's
 * variables override it by name; an Entrypoint in the request drops the
 * image's Cmd unless the request also has a Cmd; [""] as Entrypoint resets
 * it; WorkingDir and User fall back to the image's.
 *
 * Failure leaves nothing: every check the runtime makes runs before it
 * writes anything, the image is marked in use only after the container
 * exists, and a failure after that removes the container again. A seccomp
 * profile sent inline (docker run reads the file and sends its text) is
 * written to a private temporary file that is gone when create returns.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ALLOCS 32

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
	struct api__state *st;
	json_t *body;
	json_t *hc; /* HostConfig, borrowed from body, or an empty object */
	struct img_image *img;
	struct arena arena;
	struct rt_spec spec;
	const char **argv;
	json_t *ep_json, *cmd_json, *env_json; /* resolved, for docker.json */
	char seccomp_tmp[256];
	int status; /* the HTTP status of an error */
	char err[600];
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

static bool valid_name(const char *s)
{
	if (*s == '/')
		s++;
	if (!isalnum((unsigned char)s[0]) || !s[1])
		return false;
	for (const char *p = s + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return strlen(s) < 200;
}

/* argv = entrypoint + cmd, Docker's rules; also fills Path/Args. */
static int build_argv(struct create_req *r)
{
	const char **ep, **cmd;
	int rc = strv(r, r->body, "Entrypoint", &ep);
	if (rc == 0)
		rc = strv(r, r->body, "Cmd", &cmd);
	if (rc < 0)
		return rc;
	const char *const *iep = (const char *const *)r->img->config.entrypoint;
	const char *const *icmd = (const char *const *)r->img->config.cmd;
	const char *const *e = iep, *const *c = icmd;
	if (ep) {
		e = ep;
		c = cmd;
		if (vlen(ep) == 1 && ep[0][0] == '\0')
			e = NULL;
	} else if (cmd) {
		c = cmd;
	}
	size_t ne = vlen(e), nc = vlen(c);
	r->argv =
		arena_add(&r->arena, shoal_calloc(ne + nc + 1, sizeof(char *)));
	if (!r->argv)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < ne; i++)
		r->argv[i] = e[i];
	for (size_t i = 0; i < nc; i++)
		r->argv[ne + i] = c[i];
	if (ne + nc == 0)
		return fail(r, 400, "no command specified");
	/* What docker inspect shows as Config.Entrypoint and Config.Cmd. */
	json_t *je = json_array(), *jc = json_array();
	for (size_t i = 0; je && i < ne; i++)
		json_array_append_new(je, json_string(e[i]));
	for (size_t i = 0; jc && i < nc; i++)
		json_array_append_new(jc, json_string(c[i]));
	if (!je || !jc) {
		json_decref(je);
		json_decref(jc);
		return fail(r, 500, "out of memory");
	}
	r->ep_json = ne ? je : json_null();
	if (!ne)
		json_decref(je);
	r->cmd_json = nc ? jc : json_null();
	if (!nc)
		json_decref(jc);
	return 0;
}

static bool same_key(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");
	return la == lb && memcmp(a, b, la) == 0;
}

static int build_env(struct create_req *r)
{
	const char **env;
	int rc = strv(r, r->body, "Env", &env);
	if (rc < 0)
		return rc;
	const char *const *ienv = (const char *const *)r->img->config.env;
	size_t ni = vlen(ienv), nb = vlen(env), n = 0;
	const char **v =
		arena_add(&r->arena, shoal_calloc(ni + nb + 1, sizeof(char *)));
	if (!v)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < ni; i++) {
		bool over = false;
		for (size_t j = 0; j < nb && !over; j++)
			over = same_key(ienv[i], env[j]);
		if (!over)
			v[n++] = ienv[i];
	}
	for (size_t j = 0; j < nb; j++)
		v[n++] = env[j];
	r->spec.env = v;
	json_t *je = json_array();
	for (size_t i = 0; je && i < n; i++)
		json_array_append_new(je, json_string(v[i]));
	r->env_json = je;
	return je ? 0 : fail(r, 500, "out of memory");
}

static int build_labels(struct create_req *r)
{
	json_t *l = json_object_get(r->body, "Labels");
	if (l && !json_is_null(l) && !json_is_object(l))
		return fail(r, 400, "Labels must be an object of strings");
	json_t *m = json_object();
	if (!m)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < r->img->config.n_labels; i++)
		json_object_set_new(
			m, r->img->config.labels[i].key,
			json_string(r->img->config.labels[i].value));
	if (json_is_object(l)) {
		const char *k;
		json_t *v;
		void *it = json_object_iter(l);
		for (; it; it = json_object_iter_next(l, it)) {
			k = json_object_iter_key(it);
			v = json_object_iter_value(it);
			if (!json_is_string(v)) {
				json_decref(m);
				return fail(r, 400, "label %s must be a string",
					    k);
			}
			json_object_set(m, k, v);
		}
	}
	jsonx_set(r->body, "Labels", m);
	return 0;
}

/* HostConfig.Mounts ([{Type, Source, Target, ReadOnly}]) into -v specs. */
static int build_mounts(struct create_req *r, const char **binds,
			const char ***vols, const char ***tmpfs)
{
	const json_t *mounts = json_object_get(r->hc, "Mounts");
	const json_t *tm = json_object_get(r->hc, "Tmpfs");
	size_t nm = json_is_array(mounts) ? json_array_size(mounts) : 0;
	size_t nt = json_is_object(tm) ? json_object_size(tm) : 0;
	size_t nb = vlen(binds), nv = 0, ntf = 0;
	const char **v =
		arena_add(&r->arena, shoal_calloc(nb + nm + 1, sizeof(char *)));
	const char **t =
		arena_add(&r->arena, shoal_calloc(nt + nm + 1, sizeof(char *)));
	struct buf b;
	buf_init(&b, 1 << 20);
	if (!v || !t)
		return fail(r, 500, "out of memory");
	for (size_t i = 0; i < nb; i++)
		v[nv++] = binds[i];
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
		if (is_tmpfs[nofs])
			buf_printf(&b, "%s%s", dst, ro ? ":ro" : "");
		else if (!strcmp(type, "bind") || !strcmp(type, "volume"))
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
			if (val[0] != '{') {
				r->spec.seccomp = val;
				continue;
			}
			snprintf(r->seccomp_tmp, sizeof(r->seccomp_tmp),
				 "/tmp/shoal-seccomp-XXXXXX");
			int fd = mkostemp(r->seccomp_tmp, O_CLOEXEC);
			if (fd < 0) {
				r->seccomp_tmp[0] = '\0';
				return fail(r, 500,
					    "cannot store the seccomp profile: "
					    "%s",
					    strerror(errno));
			}
			size_t len = strlen(val);
			ssize_t w = write(fd, val, len);
			close(fd);
			if (w != (ssize_t)len)
				return fail(r, 500,
					    "cannot store the seccomp profile");
			r->spec.seccomp = r->seccomp_tmp;
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
	struct rt_spec *s = &r->spec;
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

static int build_spec(struct create_req *r)
{
	struct rt_spec *s = &r->spec;
	const char **binds = NULL, **vols = NULL, **tmpfs = NULL;
	int rc = build_argv(r);
	if (rc == 0)
		rc = build_env(r);
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
		rc = strv(r, r->hc, "CapAdd", (const char ***)&s->cap_add);
	if (rc == 0)
		rc = strv(r, r->hc, "CapDrop", (const char ***)&s->cap_drop);
	if (rc == 0)
		rc = strv(r, r->hc, "ExtraHosts",
			  (const char ***)&s->extra_hosts);
	if (rc == 0)
		rc = strv(r, r->hc, "Dns", (const char ***)&s->dns);
	if (rc < 0)
		return rc;
	s->lower_dirs = (const char *const *)r->img->layer_dirs;
	s->argv = r->argv;
	s->volumes = vols;
	s->tmpfs = tmpfs;
	const char *h = jsonx_str(r->body, "Hostname", "");
	s->hostname = *h ? h : NULL;
	const char *u = jsonx_str(r->body, "User", "");
	if (!*u && r->img->config.user)
		u = r->img->config.user;
	s->user = *u ? u : NULL;
	const char *w = jsonx_str(r->body, "WorkingDir", "");
	if (!*w && r->img->config.working_dir)
		w = r->img->config.working_dir;
	if (*w && *w != '/')
		return fail(r, 400,
			    "the working directory '%s' is invalid, it needs "
			    "to be an absolute path",
			    w);
	s->workdir = *w ? w : NULL;
	s->tty = jsonx_bool(r->body, "Tty", false);
	s->open_stdin = jsonx_bool(r->body, "OpenStdin", false);
	s->privileged = jsonx_bool(r->hc, "Privileged", false);
	s->readonly_rootfs = jsonx_bool(r->hc, "ReadonlyRootfs", false);
	const char *net = jsonx_str(r->hc, "NetworkMode", "");
	if (!strcmp(net, "host"))
		s->network = "host";
	else if (!*net || !strcmp(net, "default") || !strcmp(net, "none") ||
		 !strcmp(net, "bridge"))
		s->network = NULL;
	else
		return fail(r, 404, "network %s not found", net);
	return 0;
}

/*
 * A name for a container created without one, in Docker's style
 * ("adjective_scientist"); a number is appended after a few collisions.
 */
static const char *const adjectives[] = {
	"agile",   "bold",   "brave",  "calm",	  "clever", "eager",
	"fervent", "gentle", "happy",  "jolly",	  "keen",   "lucid",
	"modest",  "nimble", "quiet",  "serene",  "sharp",  "steady",
	"swift",   "tender", "upbeat", "vibrant", "wise",   "zealous",
};
static const char *const scientists[] = {
	"babbage", "bohr",     "curie",	  "darwin",  "dijkstra", "euler",
	"faraday", "franklin", "galileo", "gauss",   "hopper",	 "kepler",
	"lamarr",  "lovelace", "maxwell", "meitner", "newton",	 "noether",
	"pasteur", "ritchie",  "shannon", "tesla",   "thompson", "turing",
};

static bool name_free(struct api__state *st, const char *n)
{
	char id[RT_ID_LEN + 1];
	struct rt_info info;
	if (rt_container_resolve(st->rt, n, id) < 0 ||
	    rt_container_inspect(st->rt, id, &info) < 0)
		return true;
	bool same = info.name && !strcmp(info.name, n);
	rt_info_fini(&info);
	return !same;
}

static void random_name(struct api__state *st, char *out, size_t cap)
{
	for (int i = 0; i < 16; i++) {
		uint64_t r = shoal_random_u64();
		size_t a = r % (sizeof(adjectives) / sizeof(adjectives[0]));
		size_t b = (r >> 16) %
			   (sizeof(scientists) / sizeof(scientists[0]));
		if (i < 8)
			snprintf(out, cap, "%s_%s", adjectives[a],
				 scientists[b]);
		else
			snprintf(out, cap, "%s_%s%u", adjectives[a],
				 scientists[b], (unsigned)(r >> 32) % 100);
		if (name_free(st, out))
			return;
	}
}

/* Docker's answer for a taken name. */
static int name_taken(struct create_req *r, const char *name)
{
	char id[RT_ID_LEN + 1];
	struct rt_info info;
	const char *n = name[0] == '/' ? name + 1 : name;
	if (rt_container_resolve(r->st->rt, n, id) < 0 ||
	    rt_container_inspect(r->st->rt, id, &info) < 0)
		return 0;
	bool same = info.name && !strcmp(info.name, n);
	rt_info_fini(&info);
	if (!same)
		return 0;
	return fail(r, 409,
		    "Conflict. The container name \"/%s\" is already in use "
		    "by container \"%s\". You have to remove (or rename) that "
		    "container to be able to reuse that name.",
		    n, id);
}

static json_t *meta(struct create_req *r, const char *id, const char *name)
{
	json_t *m = json_object();
	json_t *cfg = json_deep_copy(r->body);
	if (!m || !cfg) {
		json_decref(m);
		json_decref(cfg);
		return NULL;
	}
	json_object_del(cfg, "HostConfig");
	json_object_del(cfg, "NetworkingConfig");
	const char *image = jsonx_str(r->body, "Image", "");
	int rc = 0;
	rc |= jsonx_set(cfg, "Image", json_string(image));
	rc |= jsonx_set(cfg, "Entrypoint", json_incref(r->ep_json));
	rc |= jsonx_set(cfg, "Cmd", json_incref(r->cmd_json));
	rc |= jsonx_set(cfg, "Env", json_incref(r->env_json));
	rc |= jsonx_set(cfg, "WorkingDir",
			json_string(r->spec.workdir ? r->spec.workdir : ""));
	rc |= jsonx_set(cfg, "User",
			json_string(r->spec.user ? r->spec.user : ""));
	rc |= jsonx_set(m, "Image", json_string(image));
	rc |= jsonx_set(m, "ImageID", json_string(r->img->id));
	rc |= jsonx_set(m, "Name", json_string(name ? name : ""));
	rc |= jsonx_set(m, "Config", cfg);
	rc |= jsonx_set(m, "HostConfig", json_deep_copy(r->hc));
	json_t *args = json_array();
	for (size_t i = 1; args && r->argv[i]; i++)
		json_array_append_new(args, json_string(r->argv[i]));
	rc |= jsonx_set(m, "Path", json_string(r->argv[0]));
	rc |= jsonx_set(m, "Args", args);
	if (rc) {
		json_decref(m);
		return NULL;
	}
	return m;
}

static void reply_created(struct create_req *r, const char *id)
{
	json_t *o = json_pack("{s:s, s:[]}", "Id", id, "Warnings");
	api_reply_json(r->call, 201, o);
}

static int run(struct create_req *r)
{
	char err[256];
	const char *name = http_request_query(r->call->req, "name");
	if (name && *name && !valid_name(name))
		return fail(r, 400,
			    "Invalid container name (%s), only "
			    "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			    name);
	if (name && !*name)
		name = NULL;
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
	const char *image = jsonx_str(r->body, "Image", "");
	if (!*image)
		return fail(r, 400, "no image specified");
	char gen[64];
	if (name && (rc = name_taken(r, name)) < 0)
		return rc;
	if (!name) {
		random_name(r->st, gen, sizeof(gen));
		name = gen;
	}
	struct img_err ie = {""};
	rc = img_resolve(r->st->img, image, &r->img, &ie);
	if (rc < 0)
		return fail(r, rc == SHOAL_ENOTFOUND ? 404 : 400, "%s",
			    ie.msg[0] ? ie.msg : shoal_strerror(rc));
	if ((rc = build_spec(r)) < 0)
		return rc;
	r->spec.name = name ? (name[0] == '/' ? name + 1 : name) : NULL;
	char id[RT_ID_LEN + 1];
	struct rt_err re = {""};
	rc = rt_container_create(r->st->rt, &r->spec, id, &re);
	if (rc < 0)
		return fail(r,
			    rc == SHOAL_ECONFLICT   ? 409
			    : rc == -ENOMEM	    ? 500
			    : rc == SHOAL_ENOTFOUND ? 404
						    : 400,
			    "%s", re.msg[0] ? re.msg : shoal_strerror(rc));
	json_t *m = meta(r, id, r->spec.name);
	rc = m ? api__meta_save(r->st, id, m) : -ENOMEM;
	json_decref(m);
	if (rc == 0)
		rc = img_use(r->st->img, r->img->id, id);
	if (rc < 0) {
		rt_container_remove(r->st->rt, id, true, true);
		return fail(r, 500, "cannot record the container: %s",
			    shoal_strerror(rc));
	}
	log_info("container=%s created from image=%s", id, r->img->id);
	reply_created(r, id);
	return 0;
}

void api__container_create(struct api_call *call)
{
	struct create_req r = {.call = call, .status = 500};
	if (!(r.st = api__need(call)))
		return;
	if (run(&r) < 0)
		api_reply_error(call, r.status, "%s", r.err);
	if (r.seccomp_tmp[0])
		unlink(r.seccomp_tmp);
	img_image_free(r.img);
	json_decref(r.ep_json);
	json_decref(r.cmd_json);
	json_decref(r.env_json);
	json_decref(r.body);
	arena_free(&r.arena);
}
