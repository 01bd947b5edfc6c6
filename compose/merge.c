/*
 * Several compose files merged as `docker stack deploy -c a.yml -c b.yml`
 * does (docker/cli cli/compose/loader/merge.go): later files win.
 * Mappings merge key by key, scalars and most lists are replaced, and a
 * service's
 *  - environment, labels, deploy.labels: merged as maps (list entries
 *    "K=V" read as K: V first);
 *  - ports: the union;
 *  - volumes: by target path (a later mount of the same target replaces
 *    the earlier one);
 *  - secrets, configs: by source.
 * Then compose_load(): read, parse, merge and convert in one call.
 */
#include "compose/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A list of "K=V" / "K" as a map (K: V / K: null); a map copied. */
static json_t *as_map(const json_t *v)
{
	json_t *m;
	const json_t *x;
	size_t i;
	if (!json_is_array(v))
		return json_deep_copy(v);
	m = json_object();
	json_array_foreach(v, i, x)
	{
		const char *s = json_string_value(x), *eq;
		if (!s)
			continue;
		eq = strchr(s, '=');
		if (eq) {
			char *k = strndup(s, (size_t)(eq - s));
			if (k)
				json_object_set_new(m, k, json_string(eq + 1));
			free(k);
		} else {
			json_object_set_new(m, s, json_null());
		}
	}
	return m;
}

static int merge_map(json_t *base, const char *key, const json_t *over)
{
	json_t *a = as_map(json_object_get(base, key)), *b = as_map(over);
	if (!json_is_object(a) || !json_is_object(b)) {
		json_decref(a);
		json_decref(b);
		return json_object_set(base, key, (json_t *)over) < 0 ? -ENOMEM
								      : 0;
	}
	json_object_update(a, b);
	json_decref(b);
	return json_object_set_new(base, key, a) < 0 ? -ENOMEM : 0;
}

/* The identity of a list item for merging: a volume's target, a secret's
 * or config's source. */
static void ident(const json_t *x, bool volume, char *out, size_t cap)
{
	const char *s = json_string_value(x);
	out[0] = '\0';
	if (json_is_object(x)) {
		snprintf(out, cap, "%s",
			 json_string_value(json_object_get(
				 x, volume ? "target" : "source"))
				 ?: "");
		return;
	}
	if (!s)
		return;
	if (!volume) {
		snprintf(out, cap, "%s", s);
		return;
	}
	const char *c = strchr(s, ':');
	if (!c) {
		snprintf(out, cap, "%s", s);
		return;
	}
	const char *e = strchr(c + 1, ':');
	snprintf(out, cap, "%.*s", e ? (int)(e - c - 1) : (int)strlen(c + 1),
		 c + 1);
}

static int merge_keyed(json_t *base, const char *key, const json_t *over,
		       bool volume)
{
	json_t *a = json_object_get(base, key);
	const json_t *x;
	size_t i;
	if (!json_is_array(a) || !json_is_array(over))
		return json_object_set(base, key, (json_t *)over) < 0 ? -ENOMEM
								      : 0;
	json_array_foreach(over, i, x)
	{
		char id[PATH_MAX], id2[PATH_MAX];
		size_t j;
		json_t *y;
		bool replaced = false;
		ident(x, volume, id, sizeof(id));
		json_array_foreach(a, j, y)
		{
			ident(y, volume, id2, sizeof(id2));
			if (*id && !strcmp(id, id2)) {
				json_array_set(a, j, (json_t *)x);
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append(a, (json_t *)x);
	}
	return 0;
}

static int merge_union(json_t *base, const char *key, const json_t *over)
{
	json_t *a = json_object_get(base, key);
	const json_t *x;
	size_t i;
	if (!json_is_array(a) || !json_is_array(over))
		return json_object_set(base, key, (json_t *)over) < 0 ? -ENOMEM
								      : 0;
	json_array_foreach(over, i, x)
	{
		bool have = false;
		for (size_t j = 0; j < json_array_size(a) && !have; j++)
			have = json_equal(json_array_get(a, j), x);
		if (!have)
			json_array_append(a, (json_t *)x);
	}
	return 0;
}

static int merge_plain(json_t *base, const json_t *over)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)over, k, v)
	{
		json_t *b = json_object_get(base, k);
		int rc;
		if (json_is_object(b) && json_is_object(v))
			rc = merge_plain(b, v);
		else
			rc = json_object_set_new(base, k, json_deep_copy(v));
		if (rc < 0)
			return -ENOMEM;
	}
	return 0;
}

static int merge_service(json_t *base, const json_t *over)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)over, k, v)
	{
		json_t *b = json_object_get(base, k);
		int rc;
		if (!b)
			rc = json_object_set_new(base, k, json_deep_copy(v));
		else if (!strcmp(k, "environment") || !strcmp(k, "labels"))
			rc = merge_map(base, k, v);
		else if (!strcmp(k, "ports"))
			rc = merge_union(base, k, v);
		else if (!strcmp(k, "volumes"))
			rc = merge_keyed(base, k, v, true);
		else if (!strcmp(k, "secrets") || !strcmp(k, "configs"))
			rc = merge_keyed(base, k, v, false);
		else if (!strcmp(k, "deploy") && json_is_object(b) &&
			 json_is_object(v)) {
			json_t *lb = json_object_get(v, "labels");
			json_t *copy = json_deep_copy(v);
			json_object_del(copy, "labels");
			rc = merge_plain(b, copy);
			json_decref(copy);
			if (rc == 0 && lb)
				rc = merge_map(b, "labels", lb);
		} else if (json_is_object(b) && json_is_object(v))
			rc = merge_plain(b, v);
		else
			rc = json_object_set_new(base, k, json_deep_copy(v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int compose_merge(json_t *base, const json_t *over, struct shoal_err *err)
{
	const char *k;
	json_t *v;
	if (!json_is_object(base) || !json_is_object(over))
		return compose__errf(err, "only mappings can be merged");
	json_object_foreach((json_t *)over, k, v)
	{
		json_t *b = json_object_get(base, k);
		int rc = 0;
		if (!strcmp(k, "services") && json_is_object(b) &&
		    json_is_object(v)) {
			const char *name;
			json_t *svc;
			json_object_foreach(v, name, svc)
			{
				json_t *bs = json_object_get(b, name);
				if (json_is_object(bs) && json_is_object(svc))
					rc = merge_service(bs, svc);
				else
					rc = json_object_set_new(
						b, name, json_deep_copy(svc));
				if (rc < 0)
					return rc;
			}
			continue;
		}
		if (json_is_object(b) && json_is_object(v))
			rc = merge_plain(b, v);
		else
			rc = json_object_set_new(base, k, json_deep_copy(v));
		if (rc < 0)
			return -ENOMEM;
	}
	return 0;
}

int compose_read_file(void *arg, const char *path, char **data, size_t *len,
		      struct shoal_err *err)
{
	size_t max = arg ? *(const size_t *)arg : COMPOSE_MAX_OBJFILE;
	/* Non-blocking: a FIFO named as a file must not hang the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf;
	size_t n = 0;
	if (fd < 0) {
		int e = errno;
		compose__errf(err, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		compose__errf(err, "%s: not a regular file", path);
		return -EINVAL;
	}
	buf = malloc(max + 2);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			compose__errf(err, "%s: %s", path, strerror(e));
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			close(fd);
			compose__errf(err, "%s: larger than %zu bytes", path,
				      max);
			return -EFBIG;
		}
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int compose_load(const char *const *paths, size_t n,
		 const struct compose_opts *o, json_t **out,
		 struct shoal_err *err)
{
	struct compose_opts opts = *o;
	char dir[PATH_MAX + 1];
	json_t *doc = NULL;
	int rc = 0;
	if (!n)
		return compose__errf(err, "no compose file given");
	if (!opts.dir) {
		const char *slash = strrchr(paths[0], '/');
		if (slash && slash != paths[0])
			snprintf(dir, sizeof(dir), "%.*s",
				 (int)(slash - paths[0]), paths[0]);
		else if (slash)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), ".");
		if (dir[0] != '/') {
			char cwd[PATH_MAX], abs[PATH_MAX * 2 + 2];
			if (strlen(dir) > PATH_MAX / 2)
				return compose__errf(err, "path too long");
			if (!getcwd(cwd, sizeof(cwd)))
				return compose__errf(err, "cannot read the "
							  "current folder");
			snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
			if (!strcmp(dir, "."))
				snprintf(abs, sizeof(abs), "%s", cwd);
			if (strlen(abs) >= sizeof(dir))
				return compose__errf(err, "path too long");
			memcpy(dir, abs, strlen(abs) + 1);
		}
		opts.dir = dir;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *data = NULL;
		size_t len = 0, max = COMPOSE_MAX_FILE;
		json_t *one = NULL;
		rc = o->read ? o->read(o->read_arg ? o->read_arg : &max,
				       paths[i], &data, &len, err)
			     : compose__errf(err, "no reader for %s", paths[i]);
		if (rc < 0)
			break;
		rc = compose_parse(data, len, paths[i], o->env, &one, err);
		free(data);
		if (rc < 0)
			break;
		if (!doc)
			doc = one;
		else {
			rc = compose_merge(doc, one, err);
			json_decref(one);
		}
	}
	if (rc == 0)
		rc = compose_convert(doc, &opts, out, err);
	json_decref(doc);
	return rc;
}
