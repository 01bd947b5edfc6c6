/*
 * `docker load` and `docker import`.
 *
 * A load reads the archive once, front to back (it may come from a pipe),
 * copying every regular file into the staging folder under the sha256 of
 * its bytes and remembering which archive path holds which digest. Then the
 * table of contents is read: docker save's manifest.json when present (it
 * is also present in Docker 25's OCI-shaped archives), else the OCI
 * layout's index.json. Each image becomes a plan (config digest, layer
 * digests, tags). Every layer is unpacked into the staging folder, its
 * DiffID checked against the config's rootfs.diff_ids, and only then does
 * img__commit() move blobs and layers into the store and write the index.
 *
 * Digests are checked wherever the archive names one: a file named
 * blobs/sha256/<hex> or <hex>.json must hash to <hex>; OCI descriptors'
 * sizes must match; the config's DiffIDs must match the layers. A failure
 * anywhere removes the staging folder and leaves the store as it was.
 *
 * An import stages the rootfs tarball as the only layer's blob, unpacks
 * it, writes an image config (host platform, the --change lines applied,
 * a history entry) and commits it the same way.
 */
#include "common/tarx.h"
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "image"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/map.h"
#include "common/platform.h"

#define COPY_BLOCK (128 * 1024)

struct load {
	struct img_store *s;
	char *stage;
	struct hmap names; /* archive path -> blob hex (owned strings) */
	struct hmap links; /* archive path -> link target path (owned) */
	img_progress_fn *progress;
	void *arg;
	struct img_progress p;
	struct img__plan *plans;
	size_t n_plans;
};

static void free_map_values(struct hmap *m)
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (hmap_next(m, &pos, &k, &kl, &v))
		shoal_free(v);
	hmap_fini(m);
}

static void report_progress(struct load *l, const char *phase, const char *id,
			    uint64_t cur, uint64_t total)
{
	if (!l->progress)
		return;
	l->p.phase = phase;
	snprintf(l->p.id, sizeof(l->p.id), "%.12s", id ? id : "");
	l->p.current = cur;
	l->p.total = total;
	l->progress(&l->p, l->arg);
}

/* Copies the current entry's data into stage/blobs/<sha256>. */
static int stage_blob(struct load *l, struct archive *a, char *hex,
		      struct shoal_err *err)
{
	char *tmp = img__path(l->stage, "blobs", ".incoming");
	if (!tmp)
		return -ENOMEM;
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = img__fail(err, -errno, "staging: %s", strerror(errno));
		shoal_free(tmp);
		return rc;
	}
	struct img__hash h;
	char *buf = img__hash_init(&h) == 0 ? shoal_malloc(COPY_BLOCK) : NULL;
	la_ssize_t n = -1;
	while (buf && (n = archive_read_data(a, buf, COPY_BLOCK)) > 0) {
		img__hash_update(&h, buf, (size_t)n);
		if (write(fd, buf, (size_t)n) != n) {
			rc = img__fail(err, -EIO, "staging: %s",
				       strerror(errno));
			break;
		}
	}
	shoal_free(buf);
	close(fd);
	if (rc == 0 && n < 0)
		rc = img__fail(err, buf ? SHOAL_ECORRUPT : -ENOMEM,
			       "archive is damaged: %s",
			       archive_error_string(a) ? archive_error_string(a)
						       : "out of memory");
	if (rc == 0) {
		img__hash_hex(&h, hex);
		char *dst = img__path(l->stage, "blobs", hex);
		rc = dst && rename(tmp, dst) == 0 ? 0 : -EIO;
		shoal_free(dst);
	}
	img__hash_free(&h);
	unlink(tmp);
	shoal_free(tmp);
	return rc;
}

static int put_name(struct hmap *m, const char *path, const char *val)
{
	char *v = shoal_strdup(val);
	void *old = NULL;
	if (!v || hmap_put_str(m, path, v, &old) < 0) {
		shoal_free(v);
		return -ENOMEM;
	}
	shoal_free(old);
	return 0;
}

/* A symlink's target as an archive path, relative to the link's folder. */
static int link_path(const char *path, const char *target, char *out,
		     size_t cap)
{
	char joined[8192];
	const char *slash = strrchr(path, '/');
	if (target[0] == '/')
		snprintf(joined, sizeof(joined), "%s", target + 1);
	else
		snprintf(joined, sizeof(joined), "%.*s%s%s",
			 slash ? (int)(slash - path) : 0, path,
			 slash ? "/" : "", target);
	/* Resolve ".." against earlier components, never above the root. */
	char *parts[512];
	size_t n = 0;
	for (char *save, *c = strtok_r(joined, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (n == 0)
				return -EINVAL;
			n--;
			continue;
		}
		if (n == 512)
			return -EINVAL;
		parts[n++] = c;
	}
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%s",
				      i ? "/" : "", parts[i]);
	return o < cap ? 0 : -ENAMETOOLONG;
}

static int read_entry(struct load *l, struct archive *a,
		      struct archive_entry *e, struct shoal_err *err)
{
	const char *raw = archive_entry_pathname(e);
	char path[4096], hex[SHA256_HEX_LEN + 1];
	if (!raw || img__clean_path(raw, path, sizeof(path)) < 0)
		return img__fail(err, -EINVAL,
				 "archive entry %s: path leaves the archive",
				 raw ? raw : "(unnamed)");
	const char *hl = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (hl) {
		char t[4096];
		const char *v;
		if (img__clean_path(hl, t, sizeof(t)) < 0 ||
		    !(v = hmap_get_str(&l->names, t)))
			return img__fail(err, -EINVAL,
					 "archive entry %s: hard link to "
					 "missing %s",
					 raw, hl);
		return put_name(&l->names, path, v);
	}
	if (type == AE_IFLNK) {
		char t[4096];
		if (link_path(path, archive_entry_symlink(e), t, sizeof(t)) < 0)
			return img__fail(err, -EINVAL,
					 "archive entry %s: link leaves the "
					 "archive",
					 raw);
		return put_name(&l->links, path, t);
	}
	if (type != AE_IFREG)
		return 0;
	report_progress(l, "Reading archive", "",
			(uint64_t)archive_filter_bytes(a, -1), 0);
	int rc = stage_blob(l, a, hex, err);
	return rc < 0 ? rc : put_name(&l->names, path, hex);
}

/* Gives each symlink the digest of what it points at. */
static int resolve_links(struct load *l, struct shoal_err *err)
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (hmap_next(&l->links, &pos, &k, &kl, &v)) {
		const char *t = v;
		for (int hops = 0; t && hops < 8; hops++) {
			const char *hex = hmap_get_str(&l->names, t);
			if (hex) {
				char path[4096];
				snprintf(path, sizeof(path), "%.*s", (int)kl,
					 (const char *)k);
				if (put_name(&l->names, path, hex) < 0)
					return -ENOMEM;
				break;
			}
			t = hmap_get_str(&l->links, t);
		}
	}
	return 0;
	(void)err;
}

/* Whether @p holds @n lowercase hex digits (it need not end there). */
static bool hex_n(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", p[i]) || !p[i])
			return false;
	return true;
}

/* Files whose name is a digest must hash to it. */
static int check_named_digests(struct load *l, struct shoal_err *err)
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (hmap_next(&l->names, &pos, &k, &kl, &v)) {
		const char *p = k;
		const char *want = NULL;
		if (kl == 13 + 64 && !strncmp(p, "blobs/sha256/", 13))
			want = p + 13;
		else if (kl == 64 + 5 && !strncmp(p + 64, ".json", 5))
			want = p;
		if (want && hex_n(want, 64) && strncmp(want, v, 64))
			return img__fail(err, SHOAL_ECORRUPT,
					 "%.*s does not match its digest "
					 "(content is sha256:%s)",
					 (int)kl, p, (const char *)v);
	}
	return 0;
}

static int read_archive(struct load *l, int fd, struct shoal_err *err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return -ENOMEM;
	/* In-process decompressors only: never an external program. */
	char why[256];
	int rc = tarx_builtin_filters(a, true, why, sizeof(why));
	if (rc < 0) {
		rc = img__fail(err, rc, "%s", why);
		goto out;
	}
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, COPY_BLOCK) != ARCHIVE_OK) {
		rc = img__fail(err, SHOAL_ECORRUPT,
			       "archive is not a tar archive: %s",
			       archive_error_string(a));
		goto out;
	}
	for (size_t n = 0;; n++) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN || n >= IMG_ENTRIES_MAX ||
		    !tarx_filters_ok(a)) {
			rc = img__fail(err, SHOAL_ECORRUPT,
				       "archive is damaged or not a tar "
				       "archive: %s",
				       n >= IMG_ENTRIES_MAX ? "too many entries"
				       : r < ARCHIVE_WARN
					       ? archive_error_string(a)
					       : "unsupported compression");
			goto out;
		}
		rc = read_entry(l, a, e, err);
		if (rc < 0)
			goto out;
	}
	rc = resolve_links(l, err);
	if (rc == 0)
		rc = check_named_digests(l, err);
out:
	archive_read_free(a);
	return rc;
}

static int read_named(struct load *l, const char *name, char **data,
		      size_t *len, struct shoal_err *err)
{
	const char *hex = hmap_get_str(&l->names, name);
	if (!hex)
		return img__fail(err, -EINVAL, "%s is not in the archive",
				 name);
	char *path = img__path(l->stage, "blobs", hex);
	int rc = path ? img__read_file(path, IMG_JSON_MAX, data, len) : -ENOMEM;
	shoal_free(path);
	if (rc < 0)
		return img__fail(err, rc == -EFBIG ? -EINVAL : rc,
				 "reading %s: %s", name,
				 rc == -EFBIG ? "too large" : strerror(-rc));
	return 0;
}

/* Plans ----------------------------------------------------------------- */

static struct img__plan *plan_for(struct load *l, const char *cfg_hex)
{
	for (size_t i = 0; i < l->n_plans; i++)
		if (!strcmp(l->plans[i].config_hex, cfg_hex))
			return &l->plans[i];
	if (l->n_plans == IMG_IMAGES_MAX)
		return NULL;
	struct img__plan *n =
		shoal_realloc(l->plans, (l->n_plans + 1) * sizeof(*n));
	if (!n)
		return NULL;
	l->plans = n;
	struct img__plan *p = &l->plans[l->n_plans++];
	memset(p, 0, sizeof(*p));
	snprintf(p->config_hex, sizeof(p->config_hex), "%s", cfg_hex);
	return p;
}

static int plan_tag(struct img__plan *p, const char *tag, struct shoal_err *err)
{
	char norm[SHOAL_ERR_MAX];
	if (img__ref_normalize(tag, norm, sizeof(norm)) < 0)
		return img__fail(err, -EINVAL, "invalid tag in archive: %s",
				 tag);
	for (size_t i = 0; i < p->n_tags; i++)
		if (!strcmp(p->tags[i], norm))
			return 0;
	char **t = shoal_realloc(p->tags, (p->n_tags + 2) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->tags = t;
	if (!(t[p->n_tags] = shoal_strdup(norm)))
		return -ENOMEM;
	t[++p->n_tags] = NULL;
	return 0;
}

static int plan_layer(struct img__plan *p, const char *hex, const char *mt)
{
	struct img__layer_plan *n =
		shoal_realloc(p->layers, (p->n_layers + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->layers = n;
	struct img__layer_plan *lp = &p->layers[p->n_layers++];
	memset(lp, 0, sizeof(*lp));
	snprintf(lp->blob_hex, sizeof(lp->blob_hex), "%s", hex);
	lp->media_type = mt ? shoal_strdup(mt) : NULL;
	return mt && !lp->media_type ? -ENOMEM : 0;
}

static int plan_docker(struct load *l, struct shoal_err *err)
{
	char *data;
	size_t len;
	int rc = read_named(l, "manifest.json", &data, &len, err);
	if (rc < 0)
		return rc;
	struct img__dmanifest m;
	rc = img__dmanifest_parse(data, len, &m, err);
	shoal_free(data);
	for (size_t i = 0; rc == 0 && i < m.n; i++) {
		struct img__dmanifest_item *it = &m.items[i];
		char cfg[4096];
		const char *hex = NULL;
		if (img__clean_path(it->config, cfg, sizeof(cfg)) == 0)
			hex = hmap_get_str(&l->names, cfg);
		if (!hex) {
			rc = img__fail(err, -EINVAL,
				       "manifest.json: config %s is not in "
				       "the archive",
				       it->config);
			break;
		}
		struct img__plan *p = plan_for(l, hex);
		if (!p) {
			rc = -ENOMEM;
			break;
		}
		bool fresh = p->n_layers == 0;
		for (size_t t = 0; rc == 0 && t < it->n_tags; t++)
			rc = plan_tag(p, it->tags[t], err);
		for (size_t j = 0; rc == 0 && fresh && j < it->n_layers; j++) {
			char lp[4096];
			const char *lh = NULL;
			if (img__clean_path(it->layers[j], lp, sizeof(lp)) == 0)
				lh = hmap_get_str(&l->names, lp);
			if (!lh)
				rc = img__fail(err, -EINVAL,
					       "manifest.json: layer %s is "
					       "not in the archive",
					       it->layers[j]);
			else
				rc = plan_layer(p, lh, NULL);
		}
	}
	img__dmanifest_clear(&m);
	return rc;
}

/* The staged blob of an OCI descriptor, checked against its size. */
static int oci_blob(struct load *l, const struct img__desc *d, char **data,
		    size_t *len, struct shoal_err *err)
{
	char name[13 + SHA256_HEX_LEN + 1];
	snprintf(name, sizeof(name), "blobs/sha256/%s", d->hex);
	const char *hex = hmap_get_str(&l->names, name);
	if (!hex)
		return img__fail(err, -EINVAL,
				 "blob sha256:%s is not in the archive",
				 d->hex);
	char *path = img__path(l->stage, "blobs", hex);
	struct stat st;
	int rc = path && stat(path, &st) == 0 ? 0 : -EIO;
	if (rc == 0 && st.st_size != d->size)
		rc = img__fail(err, SHOAL_ECORRUPT,
			       "blob sha256:%.12s has %lld bytes, its "
			       "descriptor says %lld",
			       d->hex, (long long)st.st_size,
			       (long long)d->size);
	if (rc == 0 && data)
		rc = img__read_file(path, IMG_JSON_MAX, data, len);
	shoal_free(path);
	if (rc < 0 && err && !err->msg[0])
		img__fail(err, rc, "blob sha256:%.12s: %s", d->hex,
			  shoal_strerror(rc));
	return rc;
}

static bool platform_ok(const struct img__desc *d)
{
	if (d->attestation)
		return false;
	if (d->os && strcmp(d->os, "linux"))
		return false;
	return !d->arch || !strcmp(d->arch, SHOAL_HOST_ARCH);
}

static int plan_oci_desc(struct load *l, const struct img__desc *d,
			 const char *name, int depth, struct shoal_err *err);

static int plan_oci_list(struct load *l, struct img__desc_list *list,
			 const char *name, int depth, bool pick_one,
			 struct shoal_err *err)
{
	int rc = 0;
	bool any = false;
	for (size_t i = 0; rc == 0 && i < list->n; i++) {
		const struct img__desc *d = &list->d[i];
		if (pick_one && (any || !platform_ok(d)))
			continue;
		any = true;
		rc = plan_oci_desc(l, d, d->name ? d->name : name, depth + 1,
				   err);
	}
	if (rc == 0 && !any)
		rc = img__fail(err, -EINVAL,
			       "no image for platform linux/%s in the archive",
			       SHOAL_HOST_ARCH);
	return rc;
}

static int plan_oci_manifest(struct load *l, const char *data, size_t len,
			     const char *name, struct shoal_err *err)
{
	struct img__desc cfg;
	struct img__desc_list layers;
	int rc = img__oci_manifest_parse(data, len, &cfg, &layers, err);
	if (rc < 0)
		return rc;
	rc = oci_blob(l, &cfg, NULL, NULL, err);
	for (size_t i = 0; rc == 0 && i < layers.n; i++)
		rc = oci_blob(l, &layers.d[i], NULL, NULL, err);
	struct img__plan *p = rc == 0 ? plan_for(l, cfg.hex) : NULL;
	if (rc == 0 && !p)
		rc = -ENOMEM;
	if (rc == 0 && name)
		rc = plan_tag(p, name, err);
	bool fresh = p && p->n_layers == 0;
	for (size_t i = 0; rc == 0 && fresh && i < layers.n; i++)
		rc = plan_layer(p, layers.d[i].hex, layers.d[i].media_type);
	img__desc_clear(&cfg);
	img__desc_list_clear(&layers);
	return rc;
}

static int plan_oci_desc(struct load *l, const struct img__desc *d,
			 const char *name, int depth, struct shoal_err *err)
{
	if (depth > IMG_INDEX_DEPTH_MAX)
		return img__fail(err, -EINVAL, "image indexes nest too deep");
	char *data;
	size_t len;
	int rc = oci_blob(l, d, &data, &len, err);
	if (rc < 0)
		return rc;
	if (img__media_is_index(d->media_type)) {
		struct img__desc_list list;
		rc = img__oci_index_parse(data, len, &list, err);
		if (rc == 0)
			rc = plan_oci_list(l, &list, name, depth, true, err);
		img__desc_list_clear(&list);
	} else {
		rc = plan_oci_manifest(l, data, len, name, err);
	}
	shoal_free(data);
	return rc;
}

static int plan_oci(struct load *l, struct shoal_err *err)
{
	char *data;
	size_t len;
	int rc = read_named(l, "oci-layout", &data, &len, err);
	if (rc < 0)
		return rc;
	json_t *layout = json_loadb(data, len, 0, NULL);
	shoal_free(data);
	bool ok = json_is_string(json_object_get(layout, "imageLayoutVersion"));
	json_decref(layout);
	if (!ok)
		return img__fail(err, -EINVAL,
				 "oci-layout has no imageLayoutVersion");
	rc = read_named(l, "index.json", &data, &len, err);
	if (rc < 0)
		return rc;
	struct img__desc_list list;
	rc = img__oci_index_parse(data, len, &list, err);
	shoal_free(data);
	if (rc == 0 && list.n == 0)
		rc = img__fail(err, -EINVAL, "index.json lists no image");
	if (rc == 0)
		rc = plan_oci_list(l, &list, NULL, 0, false, err);
	img__desc_list_clear(&list);
	return rc;
}

/*
 * The archive is read from a worker thread that may block: a descriptor
 * handed over in non-blocking mode (a libuv pipe) is switched to blocking
 * (O_NONBLOCK belongs to this end's open file description only).
 */
static int make_blocking(int fd, struct shoal_err *err)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return img__fail(err, -errno, "reading the archive: %s",
				 strerror(errno));
	if ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return img__fail(err, -errno, "reading the archive: %s",
				 strerror(errno));
	return 0;
}

/* Unpacking and commit -------------------------------------------------- */

static int layer_blob_path(struct img_store *s, const char *stage,
			   const char *hex, char **out)
{
	*out = img__path(stage, "blobs", hex);
	if (*out && !img__exists(*out)) {
		shoal_free(*out);
		*out = img__path(s->root, "blobs/sha256", hex);
	}
	return *out ? 0 : -ENOMEM;
}

/* Unpacks (or, when the store has it, checks) one layer. */
/* @pl->unpacked holds the layer already: check its DiffID and stage it. */
static int stage_unpacked(const struct img__layer_plan *pl, const char *staged,
			  bool exists, struct img__layer_result *res,
			  struct shoal_err *err)
{
	*res = pl->pre;
	if (exists)
		return img__rmrf(pl->unpacked) < 0 ? -EIO : 0;
	if (rename(pl->unpacked, staged) < 0)
		return img__fail(err, -errno, "staging layer: %s",
				 strerror(errno));
	return 0;
}

static int stage_layer(struct img_store *s, const char *stage,
		       const struct img__layer_plan *pl, const char *want_diff,
		       struct img__layer_done *done, img_progress_fn *progress,
		       void *arg, struct img_progress *p, struct shoal_err *err)
{
	const char *blob_hex = pl->blob_hex;
	char *blob, *have = img__path(s->root, "layers", want_diff);
	char *staged = img__path(stage, "layers", want_diff);
	char *tmp = img__path(stage, "layers", ".incoming");
	struct stat st;
	bool exists, early;
	struct img__layer_result res;
	int rc = layer_blob_path(s, stage, blob_hex, &blob);
	if (rc < 0 || !have || !staged || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	p->total = stat(blob, &st) == 0 ? (uint64_t)st.st_size : 0;
	exists = img__exists(have) || img__exists(staged);
	/* The blob was verified against @blob_hex when it was staged (pull:
	 * while streaming; load: named by its hash) or stored. */
	early = pl->unpacked && !strcmp(pl->pre.diff_hex, want_diff);
	if (early) {
		rc = stage_unpacked(pl, staged, exists, &res, err);
		p->current = p->total;
		if (rc == 0 && progress)
			progress(p, arg);
	} else
		rc = img__unpack_known(blob, blob_hex, exists ? NULL : tmp,
				       &res, progress, arg, p, err);
	if (rc == 0 && strcmp(res.diff_hex, want_diff))
		rc = img__fail(err, SHOAL_ECORRUPT,
			       "its DiffID sha256:%s does not match the "
			       "config (sha256:%s)",
			       res.diff_hex, want_diff);
	if (rc == 0 && !exists && !early && rename(tmp, staged) < 0)
		rc = img__fail(err, -errno, "staging layer: %s",
			       strerror(errno));
	if (rc == 0) {
		memcpy(done->diff_hex, res.diff_hex, sizeof(done->diff_hex));
		done->size = res.size;
	}
	if (rc < 0) {
		char msg[SHOAL_ERR_MAX];
		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		img__fail(err, rc, "layer %.12s: %s", blob_hex, msg);
	}
	img__rmrf(tmp);
out:
	shoal_free(blob);
	shoal_free(have);
	shoal_free(staged);
	shoal_free(tmp);
	return rc;
}

/* Reads the staged config of @p and checks it against the plan. */
static int plan_config(struct img_store *s, const char *stage,
		       const struct img__plan *p, json_t **cfg,
		       struct shoal_err *err)
{
	char *path = img__path(stage, "blobs", p->config_hex);
	char *data;
	size_t len;
	int rc = path ? img__read_file(path, IMG_JSON_MAX, &data, &len)
		      : -ENOMEM;
	shoal_free(path);
	if (rc < 0)
		return img__fail(err, rc, "config %.12s: %s", p->config_hex,
				 rc == -EFBIG ? "too large" : strerror(-rc));
	rc = img__config_parse(data, len, cfg, err);
	shoal_free(data);
	if (rc < 0)
		return rc;
	size_t n = json_array_size(
		json_object_get(json_object_get(*cfg, "rootfs"), "diff_ids"));
	if (n != p->n_layers) {
		json_decref(*cfg);
		return img__fail(err, -EINVAL,
				 "image %.12s: the config lists %zu layers, "
				 "the manifest %zu",
				 p->config_hex, n, p->n_layers);
	}
	return 0;
}

int img__stage_and_commit(struct img_store *s, const char *stage,
			  const struct img__plan *plans, size_t n_plans,
			  img_progress_fn *progress, void *arg, json_t **loaded,
			  struct shoal_err *err)
{
	struct img__layer_done **done =
		shoal_calloc(n_plans + 1, sizeof(*done));
	struct img_progress p = {.phase = "Loading layer"};
	int rc = done ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n_plans; i++)
		p.layers_total += (unsigned)plans[i].n_layers;
	for (size_t i = 0; rc == 0 && i < n_plans; i++) {
		const struct img__plan *pl = &plans[i];
		json_t *cfg;
		rc = plan_config(s, stage, pl, &cfg, err);
		if (rc < 0)
			break;
		done[i] = shoal_calloc(pl->n_layers + 1, sizeof(**done));
		rc = done[i] ? 0 : -ENOMEM;
		json_t *ids = json_object_get(json_object_get(cfg, "rootfs"),
					      "diff_ids");
		for (size_t j = 0; rc == 0 && j < pl->n_layers; j++) {
			const char *want =
				json_string_value(json_array_get(ids, j)) + 7;
			snprintf(p.id, sizeof(p.id), "%.12s",
				 pl->layers[j].blob_hex);
			rc = stage_layer(s, stage, &pl->layers[j], want,
					 &done[i][j], progress, arg, &p, err);
			p.layers_done++;
			if (rc == 0 && progress) {
				p.current = p.total;
				progress(&p, arg);
			}
		}
		json_decref(cfg);
	}
	if (rc == 0)
		rc = img__commit(s, stage, plans, n_plans, done, loaded, err);
	for (size_t i = 0; done && i < n_plans; i++)
		shoal_free(done[i]);
	shoal_free(done);
	return rc;
}

int img_load(struct img_store *s, int fd, img_progress_fn *progress_fn,
	     void *progress_arg, json_t **loaded, struct shoal_err *err)
{
	struct shoal_err local;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	struct load l = {.s = s, .progress = progress_fn, .arg = progress_arg};
	int rc = make_blocking(fd, err);
	if (rc < 0)
		return rc;
	rc = img__stage_create(s, &l.stage);
	if (rc < 0)
		return img__fail(err, rc, "creating a staging folder: %s",
				 strerror(-rc));
	rc = read_archive(&l, fd, err);
	if (rc == 0 && hmap_get_str(&l.names, "manifest.json"))
		rc = plan_docker(&l, err);
	else if (rc == 0 && hmap_get_str(&l.names, "index.json"))
		rc = plan_oci(&l, err);
	else if (rc == 0)
		rc = img__fail(err, -EINVAL,
			       "archive has neither manifest.json (docker "
			       "save) nor index.json (OCI layout)");
	if (rc == 0)
		rc = img__stage_and_commit(s, l.stage, l.plans, l.n_plans,
					   progress_fn, progress_arg, loaded,
					   err);
	if (rc < 0)
		log_warn("image load failed: %s", err->msg);
	for (size_t i = 0; i < l.n_plans; i++)
		img__plan_clear(&l.plans[i]);
	shoal_free(l.plans);
	free_map_values(&l.names);
	free_map_values(&l.links);
	img__rmrf(l.stage);
	shoal_free(l.stage);
	return rc;
}

/* Import ---------------------------------------------------------------- */

static int stage_fd(struct load *l, int fd, char *hex, uint64_t *size,
		    struct shoal_err *err)
{
	char *tmp = img__path(l->stage, "blobs", ".incoming");
	char *buf = shoal_malloc(COPY_BLOCK);
	int out = tmp ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
		      : -1;
	struct img__hash h = {0};
	int rc = buf && out >= 0 ? img__hash_init(&h) : -ENOMEM;
	*size = 0;
	while (rc == 0) {
		ssize_t n = read(fd, buf, COPY_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = img__fail(err, -errno, "reading the archive: %s",
				       strerror(errno));
		if (n <= 0)
			break;
		img__hash_update(&h, buf, (size_t)n);
		if (write(out, buf, (size_t)n) != n)
			rc = img__fail(err, -EIO, "staging: %s",
				       strerror(errno));
		*size += (uint64_t)n;
		report_progress(l, "Importing", "", *size, 0);
	}
	if (out >= 0)
		close(out);
	shoal_free(buf);
	if (rc == 0 && *size == 0)
		rc = img__fail(err, -EINVAL, "the archive is empty");
	if (rc == 0) {
		img__hash_hex(&h, hex);
		char *dst = img__path(l->stage, "blobs", hex);
		rc = dst && rename(tmp, dst) == 0 ? 0 : -EIO;
		shoal_free(dst);
	}
	img__hash_free(&h);
	shoal_free(tmp);
	return rc;
}

static json_t *import_config(const struct img_import_opts *o,
			     const char *diff_hex, struct shoal_err *err,
			     int *rc)
{
	json_t *cc = json_object();
	*rc = cc ? 0 : -ENOMEM;
	for (size_t i = 0; *rc == 0 && i < o->n_changes; i++)
		*rc = img__change_apply(cc, o->changes[i], err);
	if (*rc < 0) {
		json_decref(cc);
		return NULL;
	}
	char now[64], diff[DIGEST_STR_LEN];
	time_format_rfc3339(time_real_ns(), now, sizeof(now));
	snprintf(diff, sizeof(diff), "sha256:%s", diff_hex);
	const char *msg = o->message ? o->message : "Imported from -";
	json_t *cfg = json_pack(
		"{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:[s]},s:[{s:s,s:s}]}",
		"architecture", SHOAL_HOST_ARCH, "os", "linux", "created", now,
		"comment", msg, "config", cc, "rootfs", "type", "layers",
		"diff_ids", diff, "history", "created", now, "comment", msg);
	if (!cfg)
		*rc = img__fail(err, -EINVAL,
				"import: message is not valid UTF-8");
	return cfg;
}

static int write_config(struct load *l, json_t *cfg, char *hex)
{
	char *data = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	if (!data)
		return -ENOMEM;
	char d[DIGEST_STR_LEN];
	shoal_sha256_str(data, strlen(data), d);
	memcpy(hex, d + 7, SHA256_HEX_LEN + 1);
	char *path = img__path(l->stage, "blobs", hex);
	int rc = path ? img__write_file(path, data, strlen(data)) : -ENOMEM;
	shoal_free(path);
	shoal_free(data);
	return rc;
}

static int import_staged(struct load *l, int fd,
			 const struct img_import_opts *o, const char *norm,
			 char id[DIGEST_STR_LEN], struct shoal_err *err)
{
	struct img__plan plan = {0};
	struct img__layer_plan layer = {0};
	struct img__layer_done done = {0};
	struct img__layer_result res;
	uint64_t size;
	int rc = stage_fd(l, fd, layer.blob_hex, &size, err);
	if (rc < 0)
		return rc;
	char *blob = img__path(l->stage, "blobs", layer.blob_hex);
	char *tmp = img__path(l->stage, "layers", ".incoming");
	rc = blob && tmp ? 0 : -ENOMEM;
	l->p = (struct img_progress){
		.phase = "Extracting", .total = size, .layers_total = 1};
	snprintf(l->p.id, sizeof(l->p.id), "%.12s", layer.blob_hex);
	if (rc == 0)
		rc = img__unpack(blob, tmp, &res, l->progress, l->arg, &l->p,
				 err);
	shoal_free(blob);
	if (rc == 0) {
		char *dst = img__path(l->stage, "layers", res.diff_hex);
		rc = dst && rename(tmp, dst) == 0 ? 0 : -EIO;
		shoal_free(dst);
	}
	shoal_free(tmp);
	if (rc < 0)
		return rc;
	memcpy(done.diff_hex, res.diff_hex, sizeof(done.diff_hex));
	done.size = res.size;
	json_t *cfg = import_config(o, res.diff_hex, err, &rc);
	if (!cfg)
		return rc;
	rc = write_config(l, cfg, plan.config_hex);
	json_decref(cfg);
	if (rc < 0)
		return img__fail(err, rc, "writing the config: %s",
				 strerror(-rc));
	char *tags[2] = {(char *)norm, NULL};
	struct img__layer_done *dl[1] = {&done};
	plan.tags = norm ? tags : NULL;
	plan.n_tags = norm ? 1 : 0;
	plan.layers = &layer;
	plan.n_layers = 1;
	rc = img__commit(l->s, l->stage, &plan, 1, dl, NULL, err);
	if (rc == 0)
		snprintf(id, DIGEST_STR_LEN, "sha256:%s", plan.config_hex);
	return rc;
}

int img_import(struct img_store *s, int fd, const struct img_import_opts *o,
	       char id[DIGEST_STR_LEN], struct shoal_err *err)
{
	static const struct img_import_opts none;
	struct shoal_err local;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	if (!o)
		o = &none;
	char norm[SHOAL_ERR_MAX];
	if (o->reference &&
	    img__ref_normalize(o->reference, norm, sizeof(norm)) < 0)
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 o->reference);
	if (o->n_changes > IMG_CHANGES_MAX)
		return img__fail(err, -EINVAL, "too many --change lines");
	/* Check the changes before reading anything. */
	json_t *cc = json_object();
	int rc = cc ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < o->n_changes; i++)
		rc = img__change_apply(cc, o->changes[i], err);
	json_decref(cc);
	if (rc < 0)
		return rc;
	struct load l = {
		.s = s, .progress = o->progress, .arg = o->progress_arg};
	rc = make_blocking(fd, err);
	if (rc < 0)
		return rc;
	rc = img__stage_create(s, &l.stage);
	if (rc < 0)
		return img__fail(err, rc, "creating a staging folder: %s",
				 strerror(-rc));
	rc = import_staged(&l, fd, o, o->reference ? norm : NULL, id, err);
	if (rc < 0)
		log_warn("image import failed: %s", err->msg);
	img__rmrf(l.stage);
	shoal_free(l.stage);
	return rc;
}
