/*
 * The volume store: <data-root>/volumes/<name>/_data, plus a small
 * meta.json (created time, anonymous flag). A volume is in use while any
 * container, running or not, mounts it; such a volume is not removed (and
 * not pruned). Names follow Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+;
 * anonymous volumes get a random 64-hex name.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/path.h"
#include "runtime/internal.h"

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 255 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* Remove a volume's folder; allocates nothing, so undo paths can use it
 * when memory has run out. */
int rt__volume_drop(struct rt *rt, const char *name)
{
	char dir[4096];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/volumes/%s", rt->data_root,
			     name) >= sizeof(dir))
		return -ENAMETOOLONG;
	return rt__rm_rf(dir);
}

static size_t ref_count(struct rt *rt, const char *name)
{
	size_t pos = 0, klen, n = 0;
	const void *key;
	void *val;

	while (hmap_next(&rt->by_id, &pos, &key, &klen, &val)) {
		const struct rt__config *c = ((struct rt__ctr *)val)->c;
		for (size_t i = 0; i < c->n_mounts; i++)
			if (c->mounts[i].volume &&
			    !strcmp(c->mounts[i].volume, name))
				n++;
	}
	return n;
}

int rt_volume_users(struct rt *rt, const char *name, char *out, size_t cap)
{
	size_t pos = 0, klen, len = 0, n = 0;
	const void *key;
	void *val;

	if (cap)
		out[0] = '\0';
	while (hmap_next(&rt->by_id, &pos, &key, &klen, &val)) {
		const struct rt__config *c = ((struct rt__ctr *)val)->c;
		bool uses = false;
		for (size_t i = 0; i < c->n_mounts && !uses; i++)
			uses = c->mounts[i].volume &&
			       !strcmp(c->mounts[i].volume, name);
		if (!uses)
			continue;
		/* Whole ids only: a list cut short loses the last ones. */
		if (len + (n ? 2 : 0) + RT_ID_LEN < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%s",
						n ? ", " : "", c->id);
		n++;
	}
	return (int)n;
}

static int fill_info(struct rt *rt, const char *name,
		     struct rt_volume_info *out)
{
	char *meta = rt__path("%s/volumes/%s/meta.json", rt->data_root, name);
	char *text = NULL;
	struct stat st;
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!meta)
		return -ENOMEM;
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->mountpoint, sizeof(out->mountpoint),
		 "%s/volumes/%s/_data", rt->data_root, name);
	if (stat(out->mountpoint, &st) < 0) {
		shoal_free(meta);
		return SHOAL_ENOTFOUND;
	}
	rc = rt__read_file(meta, 65536, &text, NULL);
	shoal_free(meta);
	o = rc == 0 ? json_loads(text, 0, NULL) : NULL;
	shoal_free(text);
	out->created_ns =
		o ? (int64_t)json_integer_value(json_object_get(o, "created"))
		  : (int64_t)st.st_mtime * NSEC_PER_SEC;
	out->anonymous = o && json_is_true(json_object_get(o, "anonymous"));
	json_decref(o);
	out->ref_count = ref_count(rt, name);
	return 0;
}

int rt_volume_inspect(struct rt *rt, const char *name,
		      struct rt_volume_info *out)
{
	if (!name || !valid_name(name))
		return SHOAL_ENOTFOUND;
	return fill_info(rt, name, out);
}

int rt_volume_create(struct rt *rt, const char *name,
		     struct rt_volume_info *out, struct shoal_err *err)
{
	char gen[ID_HEX_LEN + 1], meta[128], *dir, *path;
	int rc;

	if (!name) {
		id_hex(gen);
		name = gen;
	} else if (!valid_name(name)) {
		rt__err(err,
			"create %s: volume name is too short or has "
			"characters other than [a-zA-Z0-9_.-]",
			name);
		return -EINVAL;
	}
	if (fill_info(rt, name, out) == 0)
		return 0; /* Docker: creating an existing volume is a no-op */
	dir = rt__path("%s/volumes/%s/_data", rt->data_root, name);
	path = rt__path("%s/volumes/%s/meta.json", rt->data_root, name);
	rc = dir && path ? path_mkdir_p(dir, 0755) : -ENOMEM;
	snprintf(meta, sizeof(meta), "{\"created\":%lld,\"anonymous\":%s}",
		 (long long)time_real_ns(), name == gen ? "true" : "false");
	if (rc == 0)
		rc = rt__write_atomic(path, meta, strlen(meta));
	shoal_free(dir);
	shoal_free(path);
	if (rc < 0) {
		rt__err(err, "cannot create volume %s: %s", name,
			strerror(-rc));
		rt__volume_drop(rt, name);
		return rc;
	}
	rc = fill_info(rt, name, out);
	if (rc < 0)
		rt__volume_drop(rt, name); /* all or nothing */
	return rc;
}

int rt_volume_remove(struct rt *rt, const char *name)
{
	struct rt_volume_info vi;
	int rc;

	rc = rt_volume_inspect(rt, name, &vi);
	if (rc < 0)
		return rc;
	if (vi.ref_count > 0)
		return SHOAL_ECONFLICT;
	return rt__volume_drop(rt, name);
}

int rt_volume_list(struct rt *rt, struct rt_volume_info **vols, size_t *count)
{
	char *dir = rt__path("%s/volumes", rt->data_root);
	struct rt_volume_info *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	*vols = NULL;
	*count = 0;
	d = dir ? opendir(dir) : NULL;
	shoal_free(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!valid_name(e->d_name))
			continue;
		if (n == cap) {
			struct rt_volume_info *nv;
			cap = cap ? cap * 2 : 8;
			nv = shoal_realloc(v, cap * sizeof(*v));
			if (!nv) {
				shoal_free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		if (fill_info(rt, e->d_name, &v[n]) == 0)
			n++;
	}
	closedir(d);
	*vols = v;
	*count = n;
	return 0;
}

int rt_volume_prune(struct rt *rt, bool all, size_t *removed)
{
	struct rt_volume_info *v;
	size_t n;
	int rc = rt_volume_list(rt, &v, &n);

	*removed = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (v[i].ref_count == 0 && (all || v[i].anonymous) &&
		    rt_volume_remove(rt, v[i].name) == 0)
			(*removed)++;
	shoal_free(v);
	return 0;
}
