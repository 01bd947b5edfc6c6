/*
 * The classic builder (POST /build, `docker build` with
 * DOCKER_BUILDKIT=0): a Dockerfile's steps run one after the other on the
 * engine's loop, each making an image with img_commit(), as moby's
 * builder/dockerfile does it.
 *
 * A build is a small state machine. Blocking work (unpacking the
 * context, copying files, writing layers, the layer cache) runs on
 * libuv's pool, one job at a time; RUN steps are containers of the
 * engine (network "none", the build args in their environment, the
 * image's entrypoint off), waited for with eng_wait_add(), whose output
 * is read back from their log and whose writable layer is committed.
 * Everything else (ENV, LABEL, CMD, ...) changes the config and commits
 * an empty layer ("empty_layer" history, as Docker's builder).
 *
 * The layer cache: a step's key is the sha256 of the parent image id,
 * the history line the step writes (for RUN with the build args it
 * sees), the resulting config, and for COPY/ADD the digest of the files
 * copied; img_cache_get() maps it to the image made before, when that
 * image still exists. A fully cached build reads the context and
 * metadata only.
 *
 * Output goes through @out as Docker's classic lines ("Step 1/5 : FROM
 * busybox", " ---> 1234abcd5678", " ---> Using cache", " ---> Running in
 * ...", "Removing intermediate container ...", "Successfully built
 * ...", "Successfully tagged ..."). A client that leaves detaches: the
 * build stops before its next step and cleans up.
 *
 * Refused, with a message naming the feature: ONBUILD triggers of a base
 * image, ADD from a URL, --chown by name, a base image that is not in
 * the store (no registry). Done differently from Docker: WORKDIR does not
 * make its folder in the image.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "engine/build_internal.h"
#include "engine/internal.h"
#include "image/image.h"
#include "runtime/runtime.h"

static const char *const init_files[] = {
	"etc/hostname", "etc/hosts",  "etc/resolv.conf",
	"etc/mtab",	".dockerenv", "dev/console",
	"dev/pts",	"dev/shm",    NULL};

struct eng_build {
	struct eng *e;
	char *context, *dockerfile, *target;
	char **tags;
	size_t n_tags;
	json_t *args; /* build args given: name -> value | null */
	json_t *used; /* names consumed by an ARG */
	bool no_cache, quiet, rm, force_rm;
	eng_build_out_fn *out;
	eng_build_done_fn *done;
	void *arg;
	bool detached, finished;

	char *dir; /* <data-root>/build/<hex>: ctx/, empty/, stage-N/ */
	int ctx_fd;
	struct df_file df;
	size_t i, last, step_no;

	/* The stage being built. */
	bool in_stage, scratch, cmd_set;
	char cur[DIGEST_STR_LEN];
	json_t *cfg;	    /* Docker's container config of cur */
	json_t *meta_args;  /* ARGs before the first FROM */
	json_t *stage_args; /* ARGs in scope: name -> value | null */
	json_t *stages;	    /* "0", "1", names -> image id */
	char *stage_name;
	size_t stage_no;
	char *author;

	/* The step on the pool. */
	uv_work_t work;
	void (*job)(struct eng_build *b);
	void (*then)(struct eng_build *b);
	int rc;
	struct shoal_err err;
	const struct df_instr *in;
	char *created_by;
	bool cached;
	char new_id[DIGEST_STR_LEN];
	char *layer_dir; /* the folder to commit as the step's layer */
	/* COPY/ADD */
	char **srcs;
	size_t n_srcs;
	char *dest;
	char *from_ref; /* --from: a stage's image id or a reference */
	struct bc_copy_opts copy;
	/* RUN */
	char ctr[RT_ID_LEN + 1];
	struct eng_waiter waiter;
	size_t cmd_off; /* the command in created_by, after the args */
};

static void next(struct eng_build *b);

/* --- output and the end -------------------------------------------------- */

static void say(struct eng_build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct eng_build *b, const char *fmt, ...)
{
	if (b->detached || b->quiet)
		return;
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->out(line, b->arg);
}

static const char *short_id(const char *id)
{
	static __thread char s[13];
	snprintf(s, sizeof(s), "%.12s",
		 strncmp(id, "sha256:", 7) ? id : id + 7);
	return s;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

static void free_nt(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

static void step_clear(struct eng_build *b)
{
	shoal_free(b->created_by);
	b->created_by = NULL;
	shoal_free(b->layer_dir);
	b->layer_dir = NULL;
	free_strv(b->srcs, b->n_srcs);
	b->srcs = NULL;
	b->n_srcs = 0;
	shoal_free(b->dest);
	b->dest = NULL;
	shoal_free(b->from_ref);
	b->from_ref = NULL;
	b->cached = false;
	b->new_id[0] = '\0';
}

static void build_free(struct eng_build *b)
{
	step_clear(b);
	if (b->ctx_fd >= 0)
		close(b->ctx_fd);
	df_file_fini(&b->df);
	shoal_free(b->context);
	shoal_free(b->dockerfile);
	shoal_free(b->target);
	free_strv(b->tags, b->n_tags);
	json_decref(b->args);
	json_decref(b->used);
	json_decref(b->cfg);
	json_decref(b->meta_args);
	json_decref(b->stage_args);
	json_decref(b->stages);
	shoal_free(b->stage_name);
	shoal_free(b->author);
	shoal_free(b->dir);
	shoal_free(b);
}

static void rm_tree(const char *path)
{
	eng__build_rmrf(path);
}

static void cleanup_work(uv_work_t *w)
{
	struct eng_build *b = w->data;
	if (b->dir)
		rm_tree(b->dir);
}

static void cleanup_after(uv_work_t *w, int status)
{
	build_free(w->data);
}

static void finish(struct eng_build *b, int rc, const char *msg)
{
	if (b->finished)
		return;
	b->finished = true;
	if (!b->detached)
		b->done(rc, rc < 0 ? msg : NULL, rc == 0 ? b->cur : NULL,
			b->arg);
	b->work.data = b;
	if (uv_queue_work(b->e->loop, &b->work, cleanup_work, cleanup_after) <
	    0) {
		cleanup_work(&b->work);
		build_free(b);
	}
}

static void fail_step(struct eng_build *b, int rc)
{
	if (!b->err.msg[0])
		snprintf(b->err.msg, sizeof(b->err.msg), "%s",
			 shoal_strerror(rc));
	finish(b, rc, b->err.msg);
}

/* --- jobs on the pool ---------------------------------------------------- */

static void work_run(uv_work_t *w)
{
	struct eng_build *b = w->data;
	b->job(b);
}

static void work_after(uv_work_t *w, int status)
{
	struct eng_build *b = w->data;
	if (status < 0 && b->rc == 0)
		b->rc = status;
	if (b->rc < 0) {
		fail_step(b, b->rc);
		return;
	}
	b->then(b);
}

static void queue(struct eng_build *b, void (*job)(struct eng_build *),
		  void (*then)(struct eng_build *))
{
	b->job = job;
	b->then = then;
	b->rc = 0;
	b->err.msg[0] = '\0';
	b->work.data = b;
	int rc = uv_queue_work(b->e->loop, &b->work, work_run, work_after);
	if (rc < 0)
		fail_step(b, rc);
}

/* --- lookups ---------------------------------------------------------------
 */

static const char *lookup(const char *name, void *arg)
{
	struct eng_build *b = arg;
	json_t *env = json_object_get(b->cfg, "Env");
	size_t n = strlen(name);
	for (size_t i = json_array_size(env); b->in_stage && i-- > 0;) {
		const char *kv = json_string_value(json_array_get(env, i));
		if (kv && !strncmp(kv, name, n) && kv[n] == '=')
			return kv + n + 1;
	}
	json_t *args = b->in_stage ? b->stage_args : b->meta_args;
	return json_string_value(json_object_get(args, name));
}

static int expand(struct eng_build *b, const char *word, char **out)
{
	return df_expand(word, b->df.escape, lookup, b, out, &b->err);
}

/* The step's cache key into @key (hex). */
static void cache_key(struct eng_build *b, const unsigned char *extra,
		      char key[SHA256_HEX_LEN + 1])
{
	crypto_hash_sha256_state h;
	unsigned char d[32];
	char *cfg = json_dumps(b->cfg, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (unsigned char *)b->cur, strlen(b->cur));
	crypto_hash_sha256_update(&h, (unsigned char *)"\n", 1);
	crypto_hash_sha256_update(&h, (unsigned char *)b->created_by,
				  strlen(b->created_by));
	crypto_hash_sha256_update(&h, (unsigned char *)"\n", 1);
	if (cfg)
		crypto_hash_sha256_update(&h, (unsigned char *)cfg,
					  strlen(cfg));
	if (b->author)
		crypto_hash_sha256_update(&h, (unsigned char *)b->author,
					  strlen(b->author));
	if (extra)
		crypto_hash_sha256_update(&h, extra, 32);
	crypto_hash_sha256_final(&h, d);
	sodium_bin2hex(key, SHA256_HEX_LEN + 1, d, 32);
	shoal_free(cfg);
}

/* Commit @b->layer_dir (or the empty folder) on @b->cur with @b->cfg,
 * unless the cache has the step. On the pool. */
static void commit_step(struct eng_build *b, const unsigned char *extra)
{
	char key[SHA256_HEX_LEN + 1];
	cache_key(b, extra, key);
	if (!b->no_cache && img_cache_get(b->e->img, key, b->new_id) == 0) {
		b->cached = true;
		return;
	}
	char empty[4096];
	snprintf(empty, sizeof(empty), "%s/empty", b->dir);
	struct img_commit_opts o = {
		.parent = b->scratch ? NULL : b->cur,
		.config = b->cfg,
		.author = b->author,
		.created_by = b->created_by,
		.skip = b->ctr[0] ? init_files : NULL,
	};
	b->rc = img_commit(b->e->img, b->layer_dir ? b->layer_dir : empty, &o,
			   b->new_id, &b->err);
	if (b->rc == 0 && img_cache_put(b->e->img, key, b->new_id) < 0)
		log_warn("build: cannot record step %s in the cache", key);
}

static void step_done(struct eng_build *b)
{
	if (b->cached)
		say(b, " ---> Using cache\n");
	snprintf(b->cur, sizeof(b->cur), "%s", b->new_id);
	b->scratch = false;
	say(b, " ---> %s\n", short_id(b->cur));
	step_clear(b);
	next(b);
}

/* --- metadata steps --------------------------------------------------------
 */

static void job_meta(struct eng_build *b)
{
	commit_step(b, NULL);
}

static int meta_commit(struct eng_build *b)
{
	size_t len = strlen(b->in->original) + 32;
	b->created_by = shoal_malloc(len);
	if (!b->created_by)
		return -ENOMEM;
	snprintf(b->created_by, len, "/bin/sh -c #(nop)  %s", b->in->original);
	queue(b, job_meta, step_done);
	return 1;
}

static json_t *cfg_array(struct eng_build *b, const char *key)
{
	json_t *a = json_object_get(b->cfg, key);
	if (json_is_array(a))
		return a;
	a = json_array();
	json_object_set_new(b->cfg, key, a);
	return a;
}

static json_t *cfg_object(struct eng_build *b, const char *key)
{
	json_t *o = json_object_get(b->cfg, key);
	if (json_is_object(o))
		return o;
	o = json_object();
	json_object_set_new(b->cfg, key, o);
	return o;
}

static void set_env(struct eng_build *b, const char *k, const char *v)
{
	json_t *env = cfg_array(b, "Env");
	size_t n = strlen(k), len = n + strlen(v) + 2;
	char *kv = shoal_malloc(len);
	if (!kv)
		return;
	snprintf(kv, len, "%s=%s", k, v);
	for (size_t i = 0; i < json_array_size(env); i++) {
		const char *e = json_string_value(json_array_get(env, i));
		if (e && !strncmp(e, k, n) && e[n] == '=') {
			json_array_set_new(env, i, json_string(kv));
			shoal_free(kv);
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
	shoal_free(kv);
}

/* ENV and LABEL: expanded pairs. */
static int pairs(struct eng_build *b, bool env)
{
	for (size_t i = 0; i + 1 < b->in->nargs; i += 2) {
		char *k, *v;
		int rc = expand(b, b->in->args[i], &k);
		if (rc < 0)
			return rc;
		rc = expand(b, b->in->args[i + 1], &v);
		if (rc < 0) {
			shoal_free(k);
			return rc;
		}
		if (env)
			set_env(b, k, v);
		else
			json_object_set_new(cfg_object(b, "Labels"), k,
					    json_string(v));
		shoal_free(k);
		shoal_free(v);
	}
	return meta_commit(b);
}

/* CMD, ENTRYPOINT, HEALTHCHECK CMD: the exec form as is, the shell form
 * through the stage's SHELL. */
static json_t *command_of(struct eng_build *b, char *const *args, size_t n,
			  bool json)
{
	json_t *a = json_array();
	if (!json) {
		json_t *sh = json_object_get(b->cfg, "Shell");
		json_t *d = json_array_size(sh)
				    ? json_incref(sh)
				    : json_pack("[ss]", "/bin/sh", "-c");
		json_array_extend(a, d);
		json_decref(d);
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(args[i]));
	return a;
}

/* Go's time.ParseDuration for HEALTHCHECK's flags, in ns; -1 on junk. */
static int64_t go_duration(const char *s)
{
	int64_t total = 0;
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
		int64_t unit = !strncmp(s, "ns", 2)   ? 1
			       : !strncmp(s, "us", 2) ? 1000
			       : !strncmp(s, "ms", 2) ? 1000000
			       : *s == 's'	      ? 1000000000LL
			       : *s == 'm'	      ? 60000000000LL
			       : *s == 'h'	      ? 3600000000000LL
						      : 0;
		if (!unit || v < 0)
			return -1;
		s += (unit == 1 || unit == 1000 || unit == 1000000) ? 2 : 1;
		total += (int64_t)(v * (double)unit);
	}
	return total;
}

static int healthcheck(struct eng_build *b)
{
	const struct df_instr *in = b->in;
	json_t *hc = json_object();
	if (!strcmp(in->args[0], "NONE")) {
		json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
	} else {
		json_t *t = in->json ? json_pack("[s]", "CMD")
				     : json_pack("[s]", "CMD-SHELL");
		for (size_t i = 1; i < in->nargs; i++)
			json_array_append_new(t, json_string(in->args[i]));
		json_object_set_new(hc, "Test", t);
	}
	static const char *const keys[][2] = {
		{"interval", "Interval"},
		{"timeout", "Timeout"},
		{"start-period", "StartPeriod"},
		{"start-interval", "StartInterval"}};
	for (size_t i = 0; i < 4; i++) {
		const struct df_flag *f = df_flag(in, keys[i][0]);
		if (!f)
			continue;
		int64_t ns = go_duration(f->value);
		if (ns < 0) {
			json_decref(hc);
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "invalid duration for --%s: %s", keys[i][0],
				 f->value);
			return -EINVAL;
		}
		json_object_set_new(hc, keys[i][1], json_integer(ns));
	}
	const struct df_flag *r = df_flag(in, "retries");
	if (r) {
		char *end;
		long v = strtol(r->value, &end, 10);
		if (*end || v < 0 || end == r->value) {
			json_decref(hc);
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "invalid --retries: %s", r->value);
			return -EINVAL;
		}
		json_object_set_new(hc, "Retries", json_integer(v));
	}
	json_object_set_new(b->cfg, "Healthcheck", hc);
	return meta_commit(b);
}

static int one_string(struct eng_build *b, const char *key)
{
	char *v;
	int rc = expand(b, b->in->args[0], &v);
	if (rc < 0)
		return rc;
	if (!strcmp(key, "WorkingDir") && v[0] != '/') {
		const char *wd = json_string_value(
			json_object_get(b->cfg, "WorkingDir"));
		char joined[4096], clean[4096];
		snprintf(joined, sizeof(joined), "%s/%s", wd ? wd : "", v);
		eng__build_clean(joined, clean, sizeof(clean));
		shoal_free(v);
		size_t n = strlen(clean) + 2;
		v = shoal_malloc(n);
		if (!v)
			return -ENOMEM;
		snprintf(v, n, "/%s", clean);
	}
	json_object_set_new(b->cfg, key, json_string(v));
	shoal_free(v);
	return meta_commit(b);
}

static int word_set(struct eng_build *b, const char *key, bool ports)
{
	json_t *set = cfg_object(b, key);
	for (size_t i = 0; i < b->in->nargs; i++) {
		char *v;
		int rc = expand(b, b->in->args[i], &v);
		if (rc < 0)
			return rc;
		char port[300];
		if (ports && !strchr(v, '/'))
			snprintf(port, sizeof(port), "%s/tcp", v);
		else
			snprintf(port, sizeof(port), "%s", v);
		json_object_set_new(set, port, json_object());
		shoal_free(v);
	}
	return meta_commit(b);
}

/* --- ARG and FROM --------------------------------------------------------- */

static int arg(struct eng_build *b)
{
	json_t *scope = b->in_stage ? b->stage_args : b->meta_args;
	for (size_t i = 0; i < b->in->nargs; i++) {
		char *w;
		int rc = expand(b, b->in->args[i], &w);
		if (rc < 0)
			return rc;
		char *eq = strchr(w, '=');
		if (eq)
			*eq = '\0';
		json_t *given = json_object_get(b->args, w);
		json_t *v =
			json_is_string(given) ? json_incref(given)
			: eq		      ? json_string(eq + 1)
			: b->in_stage
				? json_incref(json_object_get(b->meta_args, w))
				: NULL;
		json_object_set_new(scope, w, v ? v : json_null());
		json_object_set_new(b->used, w, json_true());
		shoal_free(w);
	}
	return b->in_stage ? meta_commit(b) : 0;
}

static void end_stage(struct eng_build *b)
{
	if (!b->in_stage)
		return;
	char n[32];
	snprintf(n, sizeof(n), "%zu", b->stage_no++);
	json_object_set_new(b->stages, n, json_string(b->cur));
	if (b->stage_name)
		json_object_set_new(b->stages, b->stage_name,
				    json_string(b->cur));
}

static int from(struct eng_build *b)
{
	end_stage(b);
	b->in_stage = false; /* FROM expands with the meta ARGs only */
	char *ref;
	int rc = expand(b, b->in->args[0], &ref);
	if (rc < 0)
		return rc;
	json_decref(b->cfg);
	b->cfg = NULL;
	char lower[256];
	snprintf(lower, sizeof(lower), "%s", ref);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *stage =
		json_string_value(json_object_get(b->stages, lower));
	json_t *insp = NULL;
	if (!strcmp(ref, "scratch")) {
		b->scratch = true;
		b->cur[0] = '\0';
		b->cfg = json_object();
	} else {
		rc = img_inspect_json(b->e->img, stage ? stage : ref, &insp,
				      &b->err);
		if (rc == SHOAL_ENOTFOUND)
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "No such image: %s (Shoal has no registry: "
				 "docker load or docker import it first)",
				 ref);
	}
	if (insp) {
		b->scratch = false;
		snprintf(b->cur, sizeof(b->cur), "%s",
			 json_string_value(json_object_get(insp, "Id")));
		json_t *c = json_object_get(insp, "Config");
		b->cfg = json_is_object(c) ? json_deep_copy(c) : json_object();
		json_decref(insp);
		if (json_array_size(json_object_get(b->cfg, "OnBuild"))) {
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "the image %s has ONBUILD triggers, which "
				 "Shoal's builder does not run yet",
				 ref);
			rc = -EINVAL;
		}
	}
	shoal_free(ref);
	if (rc < 0)
		return rc;
	shoal_free(b->stage_name);
	b->stage_name = b->in->nargs == 3 ? shoal_strdup(b->in->args[2]) : NULL;
	for (char *p = b->stage_name; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_clear(b->stage_args);
	b->in_stage = true;
	b->cmd_set = false;
	shoal_free(b->author);
	b->author = NULL;
	say(b, " ---> %s\n", b->scratch ? "scratch" : short_id(b->cur));
	return 0;
}

/* --- RUN ---------------------------------------------------------------- */

static void run_removed(struct eng_build *b, bool ok)
{
	if (!b->ctr[0])
		return;
	if (ok ? b->rm || b->force_rm : b->force_rm) {
		eng_remove(b->e, b->ctr, true, true);
		say(b, "Removing intermediate container %.12s\n", b->ctr);
	}
	b->ctr[0] = '\0';
}

static void run_committed(struct eng_build *b)
{
	run_removed(b, true);
	step_done(b);
}

static void job_run_commit(struct eng_build *b)
{
	size_t len = strlen(b->e->data_root) + RT_ID_LEN + 32;
	b->layer_dir = shoal_malloc(len);
	if (!b->layer_dir) {
		b->rc = -ENOMEM;
		return;
	}
	snprintf(b->layer_dir, len, "%s/containers/%s/upper", b->e->data_root,
		 b->ctr);
	commit_step(b, NULL);
	b->cached = false;
}

static void run_output(struct eng_build *b)
{
	struct rt_log_options lo = {
		.tail = -1, .stdout_on = true, .stderr_on = true};
	struct rt_log_reader *r;
	if (rt_log_open(b->e->rt, b->ctr, &lo, &r) < 0)
		return;
	struct rt_log_entry le;
	while (rt_log_next(r, &le) == 0)
		say(b, "%.*s", (int)le.len, le.line);
	rt_log_close(r);
}

static void run_exited(struct eng_waiter *w, int code, bool removed)
{
	struct eng_build *b = w->arg;
	run_output(b);
	if (b->detached) {
		run_removed(b, false);
		finish(b, -ECANCELED, "the client left");
		return;
	}
	if (code != 0 || removed) {
		/* Docker's words name the command without the build args. */
		const char *cmd = b->created_by + b->cmd_off;
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "The command '%s' returned a non-zero code: %d", cmd,
			 code);
		run_removed(b, false);
		finish(b, -EINVAL, b->err.msg);
		return;
	}
	queue(b, job_run_commit, run_committed);
}

static char **run_env(struct eng_build *b, char *prefix, size_t cap)
{
	json_t *env = json_object_get(b->cfg, "Env");
	size_t n = json_array_size(env), k = 0, nargs = 0;
	char **v = shoal_calloc(n + json_object_size(b->stage_args) + 1,
				sizeof(char *));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[k++] =
			shoal_strdup(json_string_value(json_array_get(env, i)));
	const char *name;
	json_t *val;
	size_t used = 0;
	prefix[0] = '\0';
	json_object_foreach(b->stage_args, name, val)
	{
		if (!json_is_string(val))
			continue;
		size_t len = strlen(name) + json_string_length(val) + 2;
		v[k] = shoal_malloc(len);
		if (v[k])
			snprintf(v[k], len, "%s=%s", name,
				 json_string_value(val));
		if (v[k] && used + len + 1 < cap)
			used += (size_t)snprintf(prefix + used, cap - used,
						 " %s", v[k]);
		k++;
		nargs++;
	}
	if (nargs) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "|%zu%s ", nargs, prefix);
		snprintf(prefix, cap, "%s", tmp);
	}
	return v;
}

static void job_run_cache(struct eng_build *b)
{
	char key[SHA256_HEX_LEN + 1];
	cache_key(b, NULL, key);
	b->cached =
		!b->no_cache && img_cache_get(b->e->img, key, b->new_id) == 0;
}

static void run_start(struct eng_build *b);

static void run_cached(struct eng_build *b)
{
	if (b->cached) {
		step_done(b);
		return;
	}
	run_start(b);
}

static int run(struct eng_build *b)
{
	const struct df_instr *in = b->in;
	if (b->scratch) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "RUN on FROM scratch: the stage has no shell to run "
			 "a command with");
		return -EINVAL;
	}
	json_t *cmd = command_of(b, in->args, in->nargs, in->json);
	char prefix[4096];
	char **env = run_env(b, prefix, sizeof(prefix));
	char *text = NULL;
	size_t len = 1;
	for (size_t i = 0; i < json_array_size(cmd); i++)
		len += strlen(json_string_value(json_array_get(cmd, i))) + 1;
	text = shoal_malloc(len + strlen(prefix));
	if (!text || !env) {
		shoal_free(text);
		json_decref(cmd);
		free_nt(env);
		return -ENOMEM;
	}
	strcpy(text, prefix);
	b->cmd_off = strlen(prefix);
	for (size_t i = 0; i < json_array_size(cmd); i++) {
		if (i)
			strcat(text, " ");
		strcat(text, json_string_value(json_array_get(cmd, i)));
	}
	free_nt(env);
	json_decref(cmd);
	b->created_by = text;
	queue(b, job_run_cache, run_cached);
	return 1;
}

static void run_start(struct eng_build *b)
{
	const struct df_instr *in = b->in;
	json_t *cmd = command_of(b, in->args, in->nargs, in->json);
	char prefix[4096];
	char **env = run_env(b, prefix, sizeof(prefix));
	size_t n = json_array_size(cmd);
	const char **argv = shoal_calloc(n + 1, sizeof(char *));
	static const char *const no_ep[] = {"", NULL};
	int rc = argv && env ? 0 : -ENOMEM;
	for (size_t i = 0; argv && i < n; i++)
		argv[i] = json_string_value(json_array_get(cmd, i));
	struct eng_spec spec = {
		.image = b->cur,
		.entrypoint = no_ep,
		.cmd = argv,
		.env = (const char *const *)env,
		.user = json_string_value(json_object_get(b->cfg, "User")),
		.workdir = json_string_value(
			json_object_get(b->cfg, "WorkingDir")),
		.network_mode = b->e->net ? "none" : NULL,
		.network = b->e->net ? NULL : "none",
	};
	if (spec.user && !*spec.user)
		spec.user = NULL;
	if (spec.workdir && !*spec.workdir)
		spec.workdir = NULL;
	struct eng_created made;
	if (rc == 0)
		rc = eng_create(b->e, &spec, &made, &b->err);
	if (rc == 0) {
		snprintf(b->ctr, sizeof(b->ctr), "%s", made.id);
		say(b, " ---> Running in %.12s\n", b->ctr);
		rc = eng_start(b->e, b->ctr, &b->err);
	}
	if (rc == 0) {
		b->waiter = (struct eng_waiter){
			.kind = ENG_WAIT_EXIT, .fn = run_exited, .arg = b};
		rc = eng_wait_add(b->e, b->ctr, &b->waiter);
	}
	shoal_free(argv);
	free_nt(env);
	json_decref(cmd);
	if (rc < 0) {
		run_removed(b, false);
		fail_step(b, rc);
	}
}

/* --- COPY and ADD ------------------------------------------------------- */

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) ||
	       !strncmp(s, "git@", 4) || !strncmp(s, "git://", 6);
}

/* ADD of a local archive: unpacked; false when @src is not one. */
static bool add_archive(struct eng_build *b, int root, const char *src,
			int dst_root, const char *dest, unsigned char *hash)
{
	char proc[64], tmp[4096];
	struct stat st;
	if (fstatat(root, src, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	int fd = openat(root, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	snprintf(tmp, sizeof(tmp), "%s/add-%zu", b->dir, b->step_no);
	struct shoal_err e;
	bool ok = img_unpack_tar(proc, tmp, &e) == 0;
	close(fd);
	if (!ok) {
		rm_tree(tmp);
		return false;
	}
	int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct bc_copy_opts o = b->copy;
	o.keep_owner = !o.chown;
	b->rc = tfd < 0 ? -errno
			: eng__build_copy(tfd, ".", dst_root, dest, true, &o,
					  hash, &b->err);
	if (tfd >= 0)
		close(tfd);
	rm_tree(tmp);
	return true;
}

/* The sources into @stage (a fresh folder), committed. */
static void copy_sources(struct eng_build *b, int root, int dst,
			 const char *stage)
{
	char **all = NULL;
	size_t n_all = 0;
	for (size_t i = 0; b->rc == 0 && i < b->n_srcs; i++) {
		char clean[4096];
		if (eng__build_clean(b->srcs[i], clean, sizeof(clean)) < 0) {
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "forbidden path outside the build context: "
				 "%s",
				 b->srcs[i]);
			b->rc = -EPERM;
			break;
		}
		char **m = NULL;
		size_t nm = 0;
		if (strpbrk(clean, "*?[")) {
			b->rc = eng__build_glob(root, clean, &m, &nm, &b->err);
		} else {
			m = shoal_calloc(2, sizeof(char *));
			if (m && (m[0] = shoal_strdup(clean)))
				nm = 1;
			else
				b->rc = -ENOMEM;
		}
		char **grown =
			b->rc == 0 ? shoal_realloc(all, (n_all + nm + 1) *
								sizeof(char *))
				   : NULL;
		if (grown) {
			all = grown;
			for (size_t k = 0; k < nm; k++)
				all[n_all++] = m[k];
			all[n_all] = NULL;
			shoal_free(m);
		} else {
			free_strv(m, nm);
			if (b->rc == 0)
				b->rc = -ENOMEM;
		}
	}
	if (b->rc == 0 && n_all == 0) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "no source files were specified");
		b->rc = -ENOENT;
	}
	/* A destination ending in "/" or "." (WORKDIR's ".") is a folder. */
	size_t dl = strlen(b->dest);
	bool dir = dl && (b->dest[dl - 1] == '/' ||
			  (b->dest[dl - 1] == '.' &&
			   (dl == 1 || b->dest[dl - 2] == '/')));
	if (b->rc == 0 && n_all > 1 && !dir) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "When using %s with more than one source file, the "
			 "destination must be a directory and end with a /",
			 df_kind_name(b->in->kind));
		b->rc = -EINVAL;
	}
	char dclean[4096] = "";
	if (b->rc == 0)
		eng__build_clean(b->dest, dclean, sizeof(dclean));
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	for (size_t i = 0; b->rc == 0 && i < n_all; i++) {
		unsigned char one[32];
		crypto_hash_sha256_update(&h, (unsigned char *)all[i],
					  strlen(all[i]) + 1);
		if (b->in->kind == DF_ADD && !b->from_ref &&
		    add_archive(b, root, all[i], dst, dclean, one)) {
			if (b->rc == 0)
				crypto_hash_sha256_update(&h, one, 32);
			continue;
		}
		b->rc = eng__build_copy(root, all[i], dst, dclean, dir,
					&b->copy, one, &b->err);
		if (b->rc == 0)
			crypto_hash_sha256_update(&h, one, 32);
	}
	free_strv(all, n_all);
	if (b->rc < 0)
		return;
	unsigned char d[32];
	char hex[SHA256_HEX_LEN + 1];
	crypto_hash_sha256_final(&h, d);
	sodium_bin2hex(hex, sizeof(hex), d, 32);
	size_t len = strlen(b->dest) + 128;
	b->created_by = shoal_malloc(len);
	b->layer_dir = shoal_strdup(stage);
	if (!b->created_by || !b->layer_dir) {
		b->rc = -ENOMEM;
		return;
	}
	snprintf(b->created_by, len, "/bin/sh -c #(nop) %s %s:%s in %s ",
		 df_kind_name(b->in->kind), n_all > 1 ? "multi" : "file", hex,
		 b->dest);
	commit_step(b, d);
}

static void job_copy(struct eng_build *b)
{
	int root = b->ctx_fd, from_fd = -1, dst = -1;
	char from_dir[4096] = "", stage[4096];
	if (b->from_ref) {
		struct img_image *img;
		b->rc = img_resolve(b->e->img, b->from_ref, &img, &b->err);
		if (b->rc < 0)
			return;
		snprintf(from_dir, sizeof(from_dir), "%s/from-%zu", b->dir,
			 b->step_no);
		mkdir(from_dir, 0755);
		from_fd = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		b->rc = from_fd < 0 ? -errno
				    : eng__build_flatten(img->layer_dirs,
							 img->n_layers, from_fd,
							 &b->err);
		img_image_free(img);
		root = from_fd;
	}
	snprintf(stage, sizeof(stage), "%s/stage-%zu", b->dir, b->step_no);
	if (b->rc == 0 && mkdir(stage, 0755) < 0)
		b->rc = -errno;
	if (b->rc == 0) {
		dst = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		b->rc = dst < 0 ? -errno : 0;
	}
	if (b->rc == 0)
		copy_sources(b, root, dst, stage);
	if (dst >= 0)
		close(dst);
	if (from_fd >= 0)
		close(from_fd);
	if (from_dir[0])
		rm_tree(from_dir);
	rm_tree(stage);
}

static int parse_chown(struct eng_build *b, const char *v)
{
	char *end;
	unsigned long uid = strtoul(v, &end, 10), gid = uid;
	if (end != v && *end == ':') {
		const char *g = end + 1;
		gid = strtoul(g, &end, 10);
		if (end == g)
			end = (char *)"x";
	}
	if (end == v || *end) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "--chown=%s: user and group names are not supported "
			 "by Shoal's builder yet; give numeric ids (uid:gid)",
			 v);
		return -EINVAL;
	}
	b->copy.chown = true;
	b->copy.uid = (uid_t)uid;
	b->copy.gid = (gid_t)gid;
	return 0;
}

static int copy(struct eng_build *b)
{
	const struct df_instr *in = b->in;
	b->copy = (struct bc_copy_opts){0};
	const struct df_flag *f = df_flag(in, "chown");
	int rc = 0;
	if (f) {
		char *v;
		rc = expand(b, f->value, &v);
		if (rc == 0)
			rc = parse_chown(b, v);
		shoal_free(v);
		if (rc < 0)
			return rc;
	}
	f = df_flag(in, "from");
	if (f) {
		char *v;
		rc = expand(b, f->value, &v);
		if (rc < 0)
			return rc;
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		const char *stage =
			json_string_value(json_object_get(b->stages, v));
		b->from_ref = shoal_strdup(stage ? stage : v);
		shoal_free(v);
	}
	b->srcs = shoal_calloc(in->nargs, sizeof(char *));
	if (!b->srcs)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < in->nargs; i++) {
		rc = expand(b, in->args[i], &b->srcs[i]);
		if (rc < 0)
			return rc;
		b->n_srcs++;
		if (in->kind == DF_ADD && is_url(b->srcs[i])) {
			snprintf(b->err.msg, sizeof(b->err.msg),
				 "ADD from a URL or git (%s) is not supported "
				 "by Shoal's builder: put the file in the "
				 "build context",
				 b->srcs[i]);
			return -EINVAL;
		}
	}
	char *d;
	rc = expand(b, in->args[in->nargs - 1], &d);
	if (rc < 0)
		return rc;
	if (d[0] != '/') {
		const char *wd = json_string_value(
			json_object_get(b->cfg, "WorkingDir"));
		size_t len = strlen(d) + (wd ? strlen(wd) : 0) + 3;
		b->dest = shoal_malloc(len);
		if (b->dest)
			snprintf(b->dest, len, "%s/%s", wd ? wd : "", d);
		shoal_free(d);
	} else {
		b->dest = d;
	}
	if (!b->dest)
		return -ENOMEM;
	queue(b, job_copy, step_done);
	return 1;
}

/* --- the driver --------------------------------------------------------------
 */

/* 0: done, go on; 1: a job or a container is on its way; < 0: failed. */
static int dispatch(struct eng_build *b)
{
	const struct df_instr *in = b->in;
	json_t *a;
	switch (in->kind) {
	case DF_ARG:
		return arg(b);
	case DF_FROM:
		return from(b);
	case DF_ENV:
		return pairs(b, true);
	case DF_LABEL:
		return pairs(b, false);
	case DF_CMD:
	case DF_ENTRYPOINT:
		a = command_of(b, in->args, in->nargs, in->json);
		json_object_set_new(
			b->cfg, in->kind == DF_CMD ? "Cmd" : "Entrypoint", a);
		if (in->kind == DF_CMD)
			b->cmd_set = true;
		else if (!b->cmd_set)
			json_object_set_new(b->cfg, "Cmd", json_null());
		return meta_commit(b);
	case DF_SHELL:
		a = json_array();
		for (size_t i = 0; i < in->nargs; i++)
			json_array_append_new(a, json_string(in->args[i]));
		json_object_set_new(b->cfg, "Shell", a);
		return meta_commit(b);
	case DF_WORKDIR:
		return one_string(b, "WorkingDir");
	case DF_USER:
		return one_string(b, "User");
	case DF_STOPSIGNAL:
		return one_string(b, "StopSignal");
	case DF_EXPOSE:
		return word_set(b, "ExposedPorts", true);
	case DF_VOLUME:
		return word_set(b, "Volumes", false);
	case DF_HEALTHCHECK:
		return healthcheck(b);
	case DF_ONBUILD:
		json_array_append_new(cfg_array(b, "OnBuild"),
				      json_string(in->args[0]));
		return meta_commit(b);
	case DF_MAINTAINER:
		shoal_free(b->author);
		b->author = shoal_strdup(in->args[0]);
		return meta_commit(b);
	case DF_RUN:
		return run(b);
	case DF_COPY:
	case DF_ADD:
		return copy(b);
	}
	return -EINVAL;
}

static void unused_args(struct eng_build *b)
{
	const char *k;
	json_t *v;
	char list[2048] = "";
	size_t n = 0;
	json_object_foreach(b->args, k, v)
	{
		if (json_object_get(b->used, k))
			continue;
		n += (size_t)snprintf(list + n,
				      n < sizeof(list) ? sizeof(list) - n : 0,
				      "%s%s", n ? " " : "", k);
	}
	if (list[0])
		say(b,
		    "[Warning] One or more build-args [%s] were not "
		    "consumed\n",
		    list);
}

static void succeed(struct eng_build *b)
{
	if (b->scratch || !b->cur[0]) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "the build made no image (FROM scratch and nothing "
			 "else)");
		finish(b, -EINVAL, b->err.msg);
		return;
	}
	for (size_t i = 0; i < b->n_tags; i++) {
		int rc = img_tag(b->e->img, b->cur, b->tags[i], &b->err);
		if (rc < 0) {
			finish(b, rc, b->err.msg);
			return;
		}
		eng_event_post(b->e, "image", "tag", b->cur,
			       json_pack("{s:s}", "name", b->tags[i]));
	}
	unused_args(b);
	finish(b, 0, NULL);
}

static void next(struct eng_build *b)
{
	while (!b->finished) {
		if (b->detached) {
			finish(b, -ECANCELED, "the client left");
			return;
		}
		if (b->i >= b->last) {
			succeed(b);
			return;
		}
		b->in = &b->df.v[b->i++];
		b->step_no++;
		b->err.msg[0] = '\0';
		say(b, "Step %zu/%zu : %s\n", b->step_no, b->last,
		    b->in->original);
		int rc = dispatch(b);
		if (rc < 0) {
			fail_step(b, rc);
			return;
		}
		if (rc == 1)
			return;
	}
}

/* --- start --------------------------------------------------------------- */

static void job_prepare(struct eng_build *b)
{
	char ctx[4096], empty[4096];
	snprintf(ctx, sizeof(ctx), "%s/ctx", b->dir);
	snprintf(empty, sizeof(empty), "%s/empty", b->dir);
	if (mkdir(empty, 0755) < 0) {
		b->rc = -errno;
		return;
	}
	b->rc = img_unpack_tar(b->context, ctx, &b->err);
	if (b->rc < 0) {
		char m[SHOAL_ERR_MAX];
		snprintf(m, sizeof(m), "%s", b->err.msg);
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "cannot read the build context: %.500s", m);
		return;
	}
	b->ctx_fd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->ctx_fd < 0) {
		b->rc = -errno;
		return;
	}
	char clean[4096];
	if (eng__build_clean(b->dockerfile, clean, sizeof(clean)) < 0 ||
	    !clean[0]) {
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "the Dockerfile (%s) must be within the build context",
			 b->dockerfile);
		b->rc = -EINVAL;
		return;
	}
	int fd = openat(b->ctx_fd, clean, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *text = fd >= 0 ? shoal_malloc(DF_MAX_BYTES + 1) : NULL;
	ssize_t len = text ? read(fd, text, DF_MAX_BYTES + 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len < 0) {
		shoal_free(text);
		snprintf(b->err.msg, sizeof(b->err.msg),
			 "Cannot locate specified Dockerfile: %s",
			 b->dockerfile);
		b->rc = -ENOENT;
		return;
	}
	b->rc = df_parse(text, (size_t)len, &b->df, &b->err);
	shoal_free(text);
	if (b->rc == 0)
		b->rc = eng__build_dockerignore(b->ctx_fd, clean, &b->err);
}

/* The instruction count up to the end of the target stage. */
static int find_last(struct eng_build *b)
{
	b->last = b->df.n;
	if (!b->target || !*b->target)
		return 0;
	for (size_t i = 0; i < b->df.n; i++) {
		const struct df_instr *in = &b->df.v[i];
		if (in->kind != DF_FROM || in->nargs != 3 ||
		    strcasecmp(in->args[2], b->target))
			continue;
		for (size_t j = i + 1; j < b->df.n; j++)
			if (b->df.v[j].kind == DF_FROM) {
				b->last = j;
				return 0;
			}
		return 0;
	}
	snprintf(b->err.msg, sizeof(b->err.msg),
		 "failed to reach build target %s in Dockerfile", b->target);
	return -EINVAL;
}

static void prepared(struct eng_build *b)
{
	int rc = find_last(b);
	if (rc < 0) {
		fail_step(b, rc);
		return;
	}
	next(b);
}

static int copy_opts(struct eng_build *b, const struct eng_build_opts *o)
{
	b->context = shoal_strdup(o->context);
	b->dockerfile = shoal_strdup(
		o->dockerfile && *o->dockerfile ? o->dockerfile : "Dockerfile");
	b->target = o->target ? shoal_strdup(o->target) : NULL;
	b->tags = shoal_calloc(o->n_tags + 1, sizeof(char *));
	b->args = o->build_args ? json_deep_copy(o->build_args) : json_object();
	b->used = json_object();
	b->meta_args = json_object();
	b->stage_args = json_object();
	b->stages = json_object();
	if (!b->context || !b->dockerfile || (o->target && !b->target) ||
	    !b->tags || !b->args || !b->used || !b->meta_args ||
	    !b->stage_args || !b->stages)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_tags; i++) {
		if (!(b->tags[i] = shoal_strdup(o->tags[i])))
			return -ENOMEM;
		b->n_tags++;
	}
	/* Docker's predefined args need no ARG. */
	static const char *const predefined[] = {
		"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
		"FTP_PROXY",  "ftp_proxy",  "NO_PROXY",	   "no_proxy",
		"ALL_PROXY",  "all_proxy",  NULL};
	for (size_t i = 0; predefined[i]; i++)
		if (json_is_string(json_object_get(b->args, predefined[i]))) {
			json_object_set(
				b->stage_args, predefined[i],
				json_object_get(b->args, predefined[i]));
			json_object_set_new(b->used, predefined[i],
					    json_true());
		}
	return 0;
}

int eng_build_start(struct eng *e, const struct eng_build_opts *o,
		    eng_build_out_fn *out, eng_build_done_fn *done, void *arg,
		    struct eng_build **bp, struct shoal_err *err)
{
	for (size_t i = 0; i < o->n_tags; i++) {
		/* Tags are checked before anything runs. */
		if (!o->tags[i][0] || strchr(o->tags[i], '@')) {
			snprintf(err->msg, sizeof(err->msg),
				 "invalid reference format: %s", o->tags[i]);
			return -EINVAL;
		}
	}
	struct eng_build *b = shoal_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->e = e;
	b->ctx_fd = -1;
	b->out = out;
	b->done = done;
	b->arg = arg;
	b->no_cache = o->no_cache;
	b->quiet = o->quiet;
	b->rm = o->rm;
	b->force_rm = o->force_rm;
	b->df.escape = '\\';
	int rc = copy_opts(b, o);
	char rnd[17];
	unsigned char r[8];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(rnd, sizeof(rnd), r, sizeof(r));
	size_t len = strlen(e->data_root) + 64;
	b->dir = rc == 0 ? shoal_malloc(len) : NULL;
	if (rc == 0 && !b->dir)
		rc = -ENOMEM;
	if (rc == 0) {
		snprintf(b->dir, len, "%s/build", e->data_root);
		mkdir(b->dir, 0700);
		snprintf(b->dir, len, "%s/build/%s", e->data_root, rnd);
		if (mkdir(b->dir, 0700) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "cannot start the build: %s", shoal_strerror(rc));
		shoal_free(b->dir);
		b->dir = NULL;
		build_free(b);
		return rc;
	}
	b->job = job_prepare;
	b->then = prepared;
	b->work.data = b;
	rc = uv_queue_work(e->loop, &b->work, work_run, work_after);
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "cannot start the build: %s", uv_strerror(rc));
		rm_tree(b->dir);
		build_free(b);
		return rc;
	}
	*bp = b;
	return 0;
}

void eng_build_detach(struct eng_build *b)
{
	b->detached = true;
	/* A RUN in progress is not waited for: its exit ends the build. */
	if (b->ctr[0])
		eng_kill(b->e, b->ctr, SIGKILL);
}
