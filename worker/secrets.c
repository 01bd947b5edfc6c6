/*
 * Secrets and configs on a node (secrets.h, docs/secrets.md).
 *
 * Items: {"Kind": "secret"|"config", "ID", "Name", "Data": base64}, each
 * field checked (ids as swarm ids, data under the managers' limits). The
 * set is replaced whole at every assignment set; the bytes of an item
 * that leaves are wiped before they are freed.
 *
 * A task's files: ROOT/<task id> is a tmpfs of its own (nosuid, nodev,
 * noexec, sized to its data, a template to the size limit), holding
 * secrets/NAME for each secret (NAME a plain file name, created with
 * O_EXCL|O_NOFOLLOW so nothing existing is followed) and configs/<n> for
 * the n-th config; the
 * container gets ROOT/<task id>/secrets bound read-only at /run/secrets
 * and each config file bound read-only at its target. Files are owned by
 * the reference's UID and GID (default 0) with its Mode (default 0400 for
 * a secret, 0444 for a config, when the reference gives none; the docker
 * CLI always gives 0444).
 *
 * Templates (Templating golang, Docker's subset): {{.Service.ID}},
 * {{.Service.Name}}, {{.Task.ID}}, {{.Task.Name}}, {{.Task.Slot}},
 * {{.Node.ID}}, {{.Node.Hostname}}, {{.Node.Platform.OS}},
 * {{.Node.Platform.Architecture}} (worker/task_util.c's expander), and the
 * functions {{env "NAME"}} (the container's environment), {{secret
 * "TARGET"}} and {{config "TARGET"}} (another of the task's own, not
 * itself a template). Anything else (pipelines, conditionals, ranges) is
 * an error naming the action, and the task is rejected with it.
 */
#define LOG_MODULE "agent"
#include "worker/secrets.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "worker/task.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define ITEMS_MAX 4096
#define DATA_MAX ((size_t)1000 * 1024) /* the larger limit (configs) */

struct item {
	bool secret;
	bool tpl; /* a golang template, expanded per task */
	char id[65];
	char name[129];
	uint8_t *data;
	size_t len;
};

struct wsecrets {
	char root[4096];
	struct item *cur, *next;
	size_t ncur, nnext;
	bool open; /* between begin and commit */
};

static void items_free(struct item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].data)
			sodium_memzero(v[i].data, v[i].len);
		shoal_free(v[i].data);
	}
	shoal_free(v);
}

int wsecrets_new(const char *root, struct wsecrets **out)
{
	struct wsecrets *s = shoal_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->root, sizeof(s->root), "%s", root);
	*out = s;
	return 0;
}

void wsecrets_free(struct wsecrets *s)
{
	if (!s)
		return;
	items_free(s->cur, s->ncur);
	items_free(s->next, s->nnext);
	shoal_free(s);
}

void wsecrets_begin(struct wsecrets *s)
{
	items_free(s->next, s->nnext);
	s->next = NULL;
	s->nnext = 0;
	s->open = true;
}

void wsecrets_commit(struct wsecrets *s)
{
	if (!s->open)
		return;
	items_free(s->cur, s->ncur);
	s->cur = s->next;
	s->ncur = s->nnext;
	s->next = NULL;
	s->nnext = 0;
	s->open = false;
}

size_t wsecrets_count(const struct wsecrets *s)
{
	return s->ncur;
}

static bool plain_id(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int bad(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct shoal_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A checked secret or config item @o into @it (data owned). */
static int item_from(const json_t *o, bool secret, struct item *it,
		     struct shoal_err *err)
{
	const char *word = secret ? "secret" : "config";
	const char *id = jsonx_str(o, "ID", ""),
		   *name = jsonx_str(o, "Name", "");
	const json_t *d = json_object_get(o, "Data");
	if (!plain_id(id))
		return bad(err, "a %s item without a valid ID", word);
	if (!*name || strlen(name) > 128)
		return bad(err, "a %s item without a valid Name", word);
	if (!json_is_string(d))
		return bad(err, "a %s item without Data", word);
	const char *b64 = json_string_value(d);
	size_t in = strlen(b64), cap = in / 4 * 3 + 3, len = 0;
	if (in > (DATA_MAX / 3 + 1) * 4)
		return bad(err, "a %s item over the size limit", word);
	uint8_t *buf = shoal_malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (sodium_base642bin(buf, cap, b64, in, NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len > DATA_MAX) {
		sodium_memzero(buf, cap);
		shoal_free(buf);
		return bad(err, "a %s item whose Data is not base64", word);
	}
	const json_t *tp = json_object_get(o, "Templating");
	if (tp &&
	    (!json_is_string(tp) || strcmp(json_string_value(tp), "golang"))) {
		sodium_memzero(buf, cap);
		shoal_free(buf);
		return bad(err, "a %s item with an unknown Templating", word);
	}
	*it = (struct item){
		.secret = secret, .tpl = tp != NULL, .data = buf, .len = len};
	snprintf(it->id, sizeof(it->id), "%s", id);
	snprintf(it->name, sizeof(it->name), "%s", name);
	return 0;
}

int wsecrets_item(struct wsecrets *s, const void *data, size_t len,
		  struct shoal_err *err)
{
	json_t *o = NULL;
	if (jsonx_parse(data, len, &o, NULL, 0) < 0 || !json_is_object(o)) {
		json_decref(o);
		return 0; /* the task decoder says what is wrong */
	}
	const json_t *k = json_object_get(o, "Kind");
	const char *kind = json_is_string(k) ? json_string_value(k) : "";
	int rc = 1;
	if (!k || !strcmp(kind, "task")) {
		rc = 0;
	} else if (strcmp(kind, "secret") && strcmp(kind, "config")) {
		log_debug("an assignment of kind \"%.32s\" ignored: not known "
			  "to this node",
			  kind);
	} else if (!s->open || s->nnext == ITEMS_MAX) {
		rc = bad(err, "too many secret and config items (%s)", "4096");
	} else {
		struct item it;
		rc = item_from(o, !strcmp(kind, "secret"), &it, err);
		struct item *v =
			rc == 0 ? shoal_realloc(s->next,
						(s->nnext + 1) * sizeof(*v))
				: NULL;
		if (rc == 0 && !v) {
			sodium_memzero(it.data, it.len);
			shoal_free(it.data);
			rc = -ENOMEM;
		}
		if (rc == 0) {
			v[s->nnext++] = it;
			s->next = v;
			rc = 1;
		}
	}
	json_decref(o);
	return rc;
}

/* --- a task's tmpfs ----------------------------------------------------------
 */

static const struct item *lookup(const struct wsecrets *s, bool secret,
				 const char *id)
{
	for (size_t i = 0; i < s->ncur; i++)
		if (s->cur[i].secret == secret && !strcmp(s->cur[i].id, id))
			return &s->cur[i];
	return NULL;
}

static void task_dir(const struct wsecrets *s, const char *task_id, char *out,
		     size_t cap)
{
	snprintf(out, cap, "%s/%s", s->root, task_id);
}

void wsecrets_release(struct wsecrets *s, const char *task_id)
{
	char dir[4200];
	if (!plain_id(task_id))
		return;
	task_dir(s, task_id, dir, sizeof(dir));
	if (umount2(dir, MNT_DETACH) == 0)
		log_info("task=%s: its secrets and configs are unmounted",
			 task_id);
	rmdir(dir);
}

void wsecrets_binds_free(char **binds)
{
	for (size_t i = 0; binds && binds[i]; i++)
		shoal_free(binds[i]);
	shoal_free(binds);
}

/* Append the bind "@src:@dst:ro" (@dst made absolute) to *@v. */
static int push(char ***v, size_t *n, const char *src, const char *dst)
{
	char **nv = shoal_realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	size_t len = strlen(src) + strlen(dst) + 6;
	char *s = shoal_malloc(len);
	if (!s)
		return -ENOMEM;
	snprintf(s, len, "%s:%s%s:ro", src, dst[0] == '/' ? "" : "/", dst);
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

static bool name_ok(const char *n)
{
	return *n && strlen(n) < 256 && !strchr(n, '/') && strcmp(n, ".") &&
	       strcmp(n, "..");
}

static int write_file(int dfd, const char *name, const uint8_t *data,
		      size_t dlen, const json_t *file, mode_t def,
		      struct shoal_err *err)
{
	const char *uid = jsonx_str(file, "UID", ""),
		   *gid = jsonx_str(file, "GID", "");
	int64_t mode = jsonx_int(file, "Mode", 0);
	char *end;
	unsigned long u = *uid ? strtoul(uid, &end, 10) : 0;
	if (*uid && (*end || u > 0xfffffffeUL))
		return bad(err, "invalid UID \"%.32s\"", uid);
	unsigned long g = *gid ? strtoul(gid, &end, 10) : 0;
	if (*gid && (*end || g > 0xfffffffeUL))
		return bad(err, "invalid GID \"%.32s\"", gid);
	if (mode < 0 || mode > 0777)
		return bad(err, "invalid file mode for \"%.100s\"", name);
	int fd = openat(dfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			return bad(err,
				   "two references to the target "
				   "\"%.100s\"",
				   name);
		return -e;
	}
	size_t off = 0;
	int rc = 0;
	while (rc == 0 && off < dlen) {
		ssize_t w = write(fd, data + off, dlen - off);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (rc == 0 && (fchown(fd, (uid_t)u, (gid_t)g) < 0 ||
			fchmod(fd, mode ? (mode_t)mode : def) < 0))
		rc = -errno;
	close(fd);
	return rc;
}

/* The reference's data, or an error naming it. */
static const struct item *ref_item(const struct wsecrets *s, bool secret,
				   const json_t *r, struct shoal_err *err)
{
	const char *id = jsonx_str(r, secret ? "SecretID" : "ConfigID", "");
	const struct item *it = lookup(s, secret, id);
	if (!it)
		snprintf(err->msg, sizeof(err->msg),
			 "%s %.64s (%.64s) is not in this node's assignments",
			 secret ? "secret" : "config",
			 jsonx_str(r, secret ? "SecretName" : "ConfigName", ""),
			 id);
	return it;
}

/* --- templates (Docker's golang subset)
 * --------------------------------------- */

/* What a template may read besides the task: the task's other secrets
 * and configs by target. */
struct tpl_ctx {
	const struct wsecrets *s;
	const struct wtask *t;
	const struct wtask_node *node;
};

/* The quoted argument of `fn "ARG"` in @a..@e into @out; false if @a does
 * not start with @fn and one quoted word. */
static bool call_arg(const char *a, const char *e, const char *fn, char *out,
		     size_t cap)
{
	size_t fl = strlen(fn);
	if ((size_t)(e - a) < fl + 3 || strncmp(a, fn, fl) || a[fl] != ' ')
		return false;
	a += fl;
	while (a < e && *a == ' ')
		a++;
	if (a >= e || *a != '"' || e[-1] != '"' || e - a < 2 ||
	    (size_t)(e - a - 2) >= cap)
		return false;
	memcpy(out, a + 1, (size_t)(e - a - 2));
	out[e - a - 2] = '\0';
	return !strchr(out, '"');
}

/* The untemplated data of the task's secret (or config) at target @name. */
static const struct item *by_target(const struct tpl_ctx *c, bool secret,
				    const char *name)
{
	const json_t *cs =
		jsonx_obj(jsonx_obj(c->t->json, "Spec"), "ContainerSpec");
	const json_t *refs =
		json_object_get(cs, secret ? "Secrets" : "Configs");
	size_t i;
	json_t *r;
	json_array_foreach((json_t *)refs, i, r)
	{
		const char *f = jsonx_str(jsonx_obj(r, "File"), "Name", "");
		if (secret && !strncmp(f, "/run/secrets/", 13))
			f += 13;
		if (strcmp(f, name))
			continue;
		const struct item *it = lookup(
			c->s, secret,
			jsonx_str(r, secret ? "SecretID" : "ConfigID", ""));
		return it && !it->tpl ? it : NULL;
	}
	return NULL;
}

/* One action's value appended to @b. */
static int action(const struct tpl_ctx *c, const char *a, const char *e,
		  struct buf *b, struct shoal_err *err)
{
	char arg[256], one[1024];
	if (call_arg(a, e, "env", arg, sizeof(arg))) {
		size_t kl = strlen(arg);
		for (char **v = c->t->env; v && *v; v++)
			if (!strncmp(*v, arg, kl) && (*v)[kl] == '=')
				return buf_append_str(b, *v + kl + 1);
		return 0;
	}
	bool sec = call_arg(a, e, "secret", arg, sizeof(arg));
	if (sec || call_arg(a, e, "config", arg, sizeof(arg))) {
		const struct item *it = by_target(c, sec, arg);
		if (!it)
			return bad(err,
				   "template: %s \"%.100s\" is not a target "
				   "of this task's %ss (or is itself a "
				   "template)",
				   sec ? "secret" : "config", arg,
				   sec ? "secret" : "config");
		return buf_append(b, it->data, it->len);
	}
	int n = snprintf(one, sizeof(one), "{{%.*s}}", (int)(e - a), a);
	if (n < 0 || (size_t)n >= sizeof(one))
		return bad(err, "template: an action of %d bytes is too long",
			   (int)(e - a));
	int rc = wtask_expand(c->t, c->node, one, arg, sizeof(arg), err);
	if (rc == -EINVAL)
		snprintf(err->msg + strlen(err->msg),
			 sizeof(err->msg) - strlen(err->msg),
			 "; env \"NAME\", secret \"TARGET\" and config "
			 "\"TARGET\" are the functions");
	return rc < 0 ? rc : buf_append_str(b, arg);
}

/* @it's data expanded for the task into *@out (owned, wipe), or its own
 * bytes when it is no template. */
static int render(const struct tpl_ctx *c, const struct item *it, uint8_t **out,
		  size_t *len, struct shoal_err *err)
{
	struct buf b;
	const char *in = (const char *)it->data, *end = in + it->len;
	int rc = 0;
	*out = NULL;
	if (!it->tpl)
		return 0;
	if (memchr(it->data, '\0', it->len))
		return bad(err, "%s %.64s is a template but not text",
			   it->secret ? "secret" : "config", it->name);
	buf_init(&b, DATA_MAX);
	while (rc == 0 && in < end) {
		const char *open = memmem(in, (size_t)(end - in), "{{", 2);
		const char *lit_end = open ? open : end;
		rc = buf_append(&b, in, (size_t)(lit_end - in));
		if (!open || rc < 0)
			break;
		const char *close =
			memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		if (!close) {
			rc = bad(err,
				 "template parsing error in %s %.64s: "
				 "unclosed action",
				 it->secret ? "secret" : "config", it->name);
			break;
		}
		const char *a = open + 2, *e = close;
		while (a < e && *a == ' ')
			a++;
		while (e > a && e[-1] == ' ')
			e--;
		rc = action(c, a, e, &b, err);
		in = close + 2;
	}
	if (rc == -ENOBUFS)
		rc = bad(err, "%s %.64s is over the size limit once expanded",
			 it->secret ? "secret" : "config", it->name);
	if (rc < 0) {
		if (b.data)
			sodium_memzero(b.data, b.len);
		buf_fini(&b);
		return rc;
	}
	if (b.len == 0) {
		buf_fini(&b);
		*len = 0;
		*out = shoal_malloc(1);
		return *out ? 0 : -ENOMEM;
	}
	*out = (uint8_t *)buf_take(&b, len);
	return *out ? 0 : -ENOMEM;
}

/* Write @it for the task: its bytes, or its template expanded. */
static int write_item(const struct tpl_ctx *c, int dfd, const char *name,
		      const struct item *it, const json_t *file, mode_t def,
		      struct shoal_err *err)
{
	uint8_t *r = NULL;
	size_t rl = 0;
	int rc = render(c, it, &r, &rl, err);
	if (rc < 0)
		return rc;
	rc = write_file(dfd, name, r ? r : it->data, r ? rl : it->len, file,
			def, err);
	if (r) {
		sodium_memzero(r, rl);
		shoal_free(r);
	}
	return rc;
}

static int write_secrets(const struct tpl_ctx *c, const json_t *refs,
			 const char *dir, char ***binds, size_t *nb,
			 struct shoal_err *err)
{
	char sub[4300];
	size_t i;
	json_t *r;
	snprintf(sub, sizeof(sub), "%s/secrets", dir);
	if (mkdir(sub, 0755) < 0)
		return -errno;
	int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = 0;
	json_array_foreach((json_t *)refs, i, r)
	{
		const json_t *f = jsonx_obj(r, "File");
		const char *name = jsonx_str(f, "Name", "");
		const struct item *it = ref_item(c->s, true, r, err);
		if (!strncmp(name, "/run/secrets/", 13))
			name += 13;
		if (!it)
			rc = -EINVAL;
		else if (!name_ok(name))
			rc = bad(err, "invalid secret target \"%.100s\"", name);
		else
			rc = write_item(c, dfd, name, it, f, 0400, err);
		if (rc < 0)
			break;
	}
	close(dfd);
	if (rc == 0)
		rc = push(binds, nb, sub, "/run/secrets");
	return rc;
}

static bool target_ok(const char *t)
{
	const char *c = t;
	if (!*t || strlen(t) > 255 || strchr(t, ':') || strchr(t, ','))
		return false;
	while (*c == '/')
		c++;
	while (*c) {
		size_t l = strcspn(c, "/");
		if (!l || (l == 1 && c[0] == '.') ||
		    (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += l;
		if (*c == '/')
			c++;
	}
	return true;
}

static int write_configs(const struct tpl_ctx *c, const json_t *refs,
			 const char *dir, char ***binds, size_t *nb,
			 struct shoal_err *err)
{
	char sub[4300], src[4400], name[32];
	size_t i;
	json_t *r;
	snprintf(sub, sizeof(sub), "%s/configs", dir);
	if (mkdir(sub, 0755) < 0)
		return -errno;
	int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = 0;
	json_array_foreach((json_t *)refs, i, r)
	{
		const json_t *f = jsonx_obj(r, "File");
		const char *target = jsonx_str(f, "Name", "");
		const struct item *it = ref_item(c->s, false, r, err);
		snprintf(name, sizeof(name), "c%zu", i);
		snprintf(src, sizeof(src), "%s/%s", sub, name);
		if (!it)
			rc = -EINVAL;
		else if (!target_ok(target))
			rc = bad(err, "invalid config target \"%.100s\"",
				 target);
		else
			rc = write_item(c, dfd, name, it, f, 0444, err);
		if (rc == 0)
			rc = push(binds, nb, src, target);
		if (rc < 0)
			break;
	}
	close(dfd);
	return rc;
}

/* Mount a fresh tmpfs at @dir, sized for @bytes of data. */
static int mount_tmpfs(const char *root, const char *dir, size_t bytes)
{
	char opts[64];
	int rc = path_mkdir_p(root, 0700);
	if (rc < 0)
		return rc;
	umount2(dir, MNT_DETACH); /* a stale one (shoald restarted) */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(opts, sizeof(opts), "mode=0755,size=%zu", bytes + 64 * 1024);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  opts) < 0)
		return -errno;
	return 0;
}

int wsecrets_prepare(struct wsecrets *s, const struct wtask *t,
		     const struct wtask_node *node, char ***binds,
		     struct shoal_err *err)
{
	const struct tpl_ctx c = {s, t, node};
	const json_t *cs =
		jsonx_obj(jsonx_obj(t->json, "Spec"), "ContainerSpec");
	const json_t *sr = json_object_get(cs, "Secrets");
	const json_t *cr = json_object_get(cs, "Configs");
	char dir[4200];
	size_t nb = 0, bytes = 0, i;
	json_t *r;
	*binds = NULL;
	if (!json_array_size(sr) && !json_array_size(cr))
		return 0;
	if (!plain_id(t->id))
		return bad(err, "task id \"%.64s\" is not valid", t->id);
	json_array_foreach((json_t *)sr, i, r)
	{
		const struct item *it = ref_item(s, true, r, err);
		if (!it)
			return -EINVAL;
		bytes += (it->tpl ? DATA_MAX : it->len) + 4096;
	}
	json_array_foreach((json_t *)cr, i, r)
	{
		const struct item *it = ref_item(s, false, r, err);
		if (!it)
			return -EINVAL;
		bytes += (it->tpl ? DATA_MAX : it->len) + 4096;
	}
	task_dir(s, t->id, dir, sizeof(dir));
	int rc = mount_tmpfs(s->root, dir, bytes);
	if (rc < 0) {
		snprintf(
			err->msg, sizeof(err->msg),
			"cannot mount the tmpfs of the task's secrets at %.200s: "
			"%s",
			dir, strerror(-rc));
		rmdir(dir);
		return rc;
	}
	if (json_array_size(sr))
		rc = write_secrets(&c, sr, dir, binds, &nb, err);
	if (rc == 0 && json_array_size(cr))
		rc = write_configs(&c, cr, dir, binds, &nb, err);
	if (rc < 0) {
		if (!err->msg[0])
			snprintf(err->msg, sizeof(err->msg),
				 "cannot write the task's secrets and "
				 "configs: %s",
				 strerror(-rc));
		wsecrets_binds_free(*binds);
		*binds = NULL;
		wsecrets_release(s, t->id);
	}
	return rc;
}
