/*
 * Volumes: the runtime's volume store (runtime/volume.c: the data folder
 * and whether a container mounts it) plus what Docker shows beyond it,
 * the labels, kept in engine.json beside the runtime's meta.json in the
 * volume's folder (<data-root>/volumes/<name>/), so they go with it.
 * Only the "local" driver exists.
 *
 * Listing filters are Docker's (moby volume/service): name (substring
 * here, Docker's regular expression of a plain name), driver, dangling
 * (no container mounts it), label terms. Prune takes unused volumes,
 * anonymous ones only unless asked for all (the API decides that from the
 * request's version), that the label terms pass; the space it reports is
 * the removed volumes' data, measured before each removal.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* <data-root>/volumes/<name>/engine.json from the mountpoint (.../_data). */
static int labels_path(const struct rt_volume_info *v, char *out, size_t cap)
{
	const char *slash = strrchr(v->mountpoint, '/');
	int n;

	if (!slash)
		return -EINVAL;
	n = snprintf(out, cap, "%.*s/engine.json", (int)(slash - v->mountpoint),
		     v->mountpoint);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static json_t *labels_load(const struct rt_volume_info *v)
{
	char path[4200];
	json_t *o = NULL, *l;

	if (labels_path(v, path, sizeof(path)) == 0 &&
	    jsonx_load_file(path, 1u << 20, &o) < 0)
		o = NULL;
	l = json_object_get(o, "Labels");
	l = json_is_object(l) ? json_incref(l) : json_object();
	json_decref(o);
	return l;
}

static int labels_save(const struct rt_volume_info *v, const json_t *labels)
{
	char path[4200], tmp[4300];
	json_t *o = json_pack("{s:O}", "Labels", labels);
	size_t len;
	char *s = o ? jsonx_dump(o, &len) : NULL;
	int fd, rc = labels_path(v, path, sizeof(path));

	json_decref(o);
	if (!s)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		     : -1;
	if (rc == 0 && fd < 0)
		rc = -errno;
	if (fd >= 0) {
		if (write(fd, s, len) != (ssize_t)len)
			rc = -EIO;
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -errno;
		if (rc < 0)
			unlink(tmp);
	}
	shoal_free(s);
	return rc;
}

void eng_volume_fini(struct eng_volume *v)
{
	json_decref(v->labels);
	v->labels = NULL;
}

static json_t *labels_of(const char *const *terms, struct shoal_err *err)
{
	json_t *o = json_object();
	char key[512];

	for (size_t i = 0; o && terms && terms[i]; i++) {
		size_t klen = strcspn(terms[i], "=");
		if (klen == 0 || klen >= sizeof(key)) {
			eng__err(err, "invalid label: '%s'", terms[i]);
			json_decref(o);
			return NULL;
		}
		memcpy(key, terms[i], klen);
		key[klen] = '\0';
		if (jsonx_set(o, key,
			      json_string(terms[i][klen] ? terms[i] + klen + 1
							 : "")) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int eng_volume_create(struct eng *e, const char *name,
		      const char *const *labels, struct eng_volume *out,
		      struct shoal_err *err)
{
	struct shoal_err re = {""};
	struct rt_volume_info old;
	bool existed = name && rt_volume_inspect(e->rt, name, &old) == 0;
	json_t *l = labels_of(labels, err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!l)
		return err && err->msg[0] ? -EINVAL : -ENOMEM;
	rc = rt_volume_create(e->rt, name, &out->rt, &re);
	if (rc < 0) {
		json_decref(l);
		eng__err(err, "%s", re.msg[0] ? re.msg : shoal_strerror(rc));
		return rc;
	}
	/* Docker: creating an existing volume changes nothing. */
	if (!existed && json_object_size(l) &&
	    (rc = labels_save(&out->rt, l)) < 0) {
		rt_volume_remove(e->rt, out->rt.name);
		json_decref(l);
		eng__err(err, "cannot record the labels of volume %s: %s",
			 out->rt.name, shoal_strerror(rc));
		return rc;
	}
	json_decref(l);
	if (!existed)
		eng_event_post(e, "volume", "create", out->rt.name,
			       json_pack("{s:s}", "driver", "local"));
	out->labels = labels_load(&out->rt);
	return out->labels ? 0 : -ENOMEM;
}

int eng_volume_inspect(struct eng *e, const char *name, struct eng_volume *out)
{
	int rc = rt_volume_inspect(e->rt, name, &out->rt);

	out->labels = NULL;
	if (rc < 0)
		return rc;
	out->labels = labels_load(&out->rt);
	return out->labels ? 0 : -ENOMEM;
}

static bool any_substring(const char *const *subs, const char *s)
{
	if (!subs || !subs[0])
		return true;
	for (size_t i = 0; subs[i]; i++)
		if (strstr(s, subs[i]))
			return true;
	return false;
}

static bool any_equal(const char *const *vals, const char *s)
{
	if (!vals || !vals[0])
		return true;
	for (size_t i = 0; vals[i]; i++)
		if (!strcmp(vals[i], s))
			return true;
	return false;
}

static bool volume_passes(const struct eng_volume_filter *f,
			  const struct eng_volume *v)
{
	if (!f)
		return true;
	if (f->dangling >= 0 && (v->rt.ref_count == 0) != (f->dangling == 1))
		return false;
	return any_substring(f->names, v->rt.name) &&
	       any_equal(f->drivers, "local") &&
	       eng_labels_match(&f->labels, v->labels);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct eng_volume *)a)->rt.name,
		      ((const struct eng_volume *)b)->rt.name);
}

void eng_volume_list_free(struct eng_volume *v, size_t count)
{
	for (size_t i = 0; v && i < count; i++)
		eng_volume_fini(&v[i]);
	shoal_free(v);
}

int eng_volume_list(struct eng *e, const struct eng_volume_filter *f,
		    struct eng_volume **out, size_t *count)
{
	struct rt_volume_info *all;
	struct eng_volume *v;
	size_t n, k = 0;
	int rc = rt_volume_list(e->rt, &all, &n);

	*out = NULL;
	*count = 0;
	if (rc < 0)
		return rc;
	v = shoal_calloc(n + 1, sizeof(*v));
	if (!v) {
		shoal_free(all);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v[k].rt = all[i];
		v[k].labels = labels_load(&all[i]);
		if (!v[k].labels) {
			rc = -ENOMEM;
			break;
		}
		if (volume_passes(f, &v[k]))
			k++;
		else
			eng_volume_fini(&v[k]);
	}
	shoal_free(all);
	if (rc < 0) {
		eng_volume_list_free(v, k);
		return rc;
	}
	qsort(v, k, sizeof(*v), by_name);
	*out = v;
	*count = k;
	return 0;
}

int eng_volume_remove(struct eng *e, const char *name)
{
	int rc = rt_volume_remove(e->rt, name);
	if (rc == 0)
		eng_event_post(e, "volume", "destroy", name,
			       json_pack("{s:s}", "driver", "local"));
	return rc;
}

int eng_volume_prune(struct eng *e, const struct eng_label_filter *labels,
		     bool all, struct eng_pruned *out)
{
	struct eng_volume *v;
	size_t n;
	int rc = eng_volume_list(e, NULL, &v, &n);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t bytes = 0;
		if (v[i].rt.ref_count || (!all && !v[i].rt.anonymous) ||
		    !eng_labels_match(labels, v[i].labels))
			continue;
		if (rt_volume_size(e->rt, v[i].rt.name, &bytes) < 0)
			bytes = 0;
		if (eng_volume_remove(e, v[i].rt.name) == 0)
			rc = eng__pruned_add(out, v[i].rt.name, bytes);
	}
	eng_volume_list_free(v, n);
	if (rc < 0)
		eng_pruned_fini(out);
	return rc;
}
