/*
 * `docker save`: images out of the store as one tar archive that both
 * `docker load` and OCI tools read, the shape Docker 25 writes:
 *
 *   oci-layout                {"imageLayoutVersion": "1.0.0"}
 *   blobs/sha256/<hex>        configs, layer blobs as stored, and one OCI
 *                             image manifest per image
 *   index.json                the manifests, named by the
 *                             io.containerd.image.name and
 *                             org.opencontainers.image.ref.name annotations
 *   manifest.json             docker save's table (Config, RepoTags, Layers
 *                             as paths of the blobs above)
 *
 * A reference by name saves that tag; by id, the image without a tag (as
 * Docker does). The blob files are opened under the store's lock and read
 * after it is released, so a slow reader (a pipe to a client) never holds
 * the store, and a concurrent removal cannot pull a file out from under
 * the writer: an open file outlives its unlink.
 */
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define SAVE_BLOCK (128 * 1024)

struct save_blob {
	char hex[SHA256_HEX_LEN + 1];
	int fd;	    /* a stored blob, or -1 */
	char *data; /* a generated one (manifest) */
	int64_t size;
};

struct save {
	struct save_blob *blobs;
	size_t n_blobs;
	json_t *docker; /* manifest.json */
	json_t *index;	/* index.json */
};

static void save_clear(struct save *sv)
{
	for (size_t i = 0; i < sv->n_blobs; i++) {
		if (sv->blobs[i].fd >= 0)
			close(sv->blobs[i].fd);
		shoal_free(sv->blobs[i].data);
	}
	shoal_free(sv->blobs);
	json_decref(sv->docker);
	json_decref(sv->index);
}

static struct save_blob *add_blob(struct save *sv, const char *hex)
{
	for (size_t i = 0; i < sv->n_blobs; i++)
		if (!strcmp(sv->blobs[i].hex, hex))
			return &sv->blobs[i];
	struct save_blob *n =
		shoal_realloc(sv->blobs, (sv->n_blobs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	sv->blobs = n;
	struct save_blob *b = &sv->blobs[sv->n_blobs++];
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	snprintf(b->hex, sizeof(b->hex), "%s", hex);
	return b;
}

/* Opens stored blob @hex; lock held. */
static int stored_blob(struct img_store *s, struct save *sv, const char *hex,
		       int64_t *size, unsigned char magic[4])
{
	struct save_blob *b = add_blob(sv, hex);
	if (!b)
		return -ENOMEM;
	if (b->fd < 0) {
		char *p = img__path(s->root, "blobs/sha256", hex);
		b->fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
		shoal_free(p);
		struct stat st;
		if (b->fd < 0 || fstat(b->fd, &st) < 0)
			return -errno;
		b->size = st.st_size;
	}
	*size = b->size;
	if (magic) {
		memset(magic, 0, 4);
		if (pread(b->fd, magic, 4, 0) < 0)
			return -errno;
	}
	return 0;
}

static const char *layer_type(const json_t *l, const unsigned char m[4])
{
	const char *mt = json_string_value(json_object_get(l, "media_type"));
	if (mt)
		return mt;
	if (m[0] == 0x1f && m[1] == 0x8b)
		return MT_LAYER "+gzip";
	if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return MT_LAYER "+zstd";
	return MT_LAYER;
}

static json_t *descriptor(const char *mt, const char *hex, int64_t size)
{
	char d[DIGEST_STR_LEN];
	snprintf(d, sizeof(d), "sha256:%s", hex);
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", d, "size",
			 (json_int_t)size);
}

static char *blob_name(const char *hex)
{
	return img__path("blobs/sha256", hex, NULL);
}

/* Opens the layer blobs of record @rec: OCI descriptors and archive paths
 * of each. Lock held. */
static int layer_list(struct img_store *s, struct save *sv, json_t *rec,
		      json_t *descs, json_t *paths)
{
	json_t *layers = json_object_get(rec, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++) {
		json_t *l = json_array_get(layers, i);
		const char *b = json_string_value(json_object_get(l, "blob"));
		int64_t size;
		unsigned char magic[4];
		int rc = stored_blob(s, sv, b + 7, &size, magic);
		if (rc < 0)
			return rc;
		char *name = blob_name(b + 7);
		rc = name &&
				     !json_array_append_new(
					     descs,
					     descriptor(layer_type(l, magic),
							b + 7, size)) &&
				     !json_array_append_new(paths,
							    json_string(name))
			     ? 0
			     : -ENOMEM;
		shoal_free(name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Adds the OCI image manifest of config @cfg and @layers (both taken) as
 * a generated blob; its digest goes to @mhex, its size to @msize. */
static int add_manifest(struct save *sv, json_t *cfg, json_t *layers,
			char mhex[DIGEST_STR_LEN], int64_t *msize)
{
	/* "o" takes both references, on failure too. */
	json_t *man =
		json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType",
			  MT_MANIFEST, "config", cfg, "layers", layers);
	char *text = man ? json_dumps(man, JSON_COMPACT) : NULL;
	json_decref(man);
	if (!text)
		return -ENOMEM;
	shoal_sha256_str(text, strlen(text), mhex);
	struct save_blob *mb = add_blob(sv, mhex + 7);
	if (!mb) {
		shoal_free(text);
		return -ENOMEM;
	}
	if (!mb->data) {
		mb->data = text;
		mb->size = (int64_t)strlen(text);
	} else {
		shoal_free(text);
	}
	*msize = mb->size;
	return 0;
}

/* Adds image @hex (saved under @tag, or untagged) to @sv; lock held. */
static int add_image(struct img_store *s, struct save *sv, const char *hex,
		     const char *tag)
{
	json_t *rec = json_object_get(json_object_get(s->index, "images"), hex);
	json_t *descs = json_array(), *paths = json_array();
	int64_t size;
	char mhex[DIGEST_STR_LEN];
	int rc =
		descs && paths ? stored_blob(s, sv, hex, &size, NULL) : -ENOMEM;
	if (rc == 0)
		rc = layer_list(s, sv, rec, descs, paths);
	if (rc == 0)
		rc = add_manifest(sv, descriptor(MT_CONFIG, hex, size),
				  json_incref(descs), mhex, &size);
	json_decref(descs);
	char *cname = rc == 0 ? blob_name(hex) : NULL;
	json_t *entry = cname ? descriptor(MT_MANIFEST, mhex + 7, size) : NULL;
	json_t *item = cname ? json_pack("{s:s,s:[],s:O}", "Config", cname,
					 "RepoTags", "Layers", paths)
			     : NULL;
	shoal_free(cname);
	json_decref(paths);
	if (rc == 0 && (!entry || !item))
		rc = -ENOMEM;
	if (rc == 0 && tag &&
	    (json_object_set_new(entry, "annotations",
				 json_pack("{s:s,s:s}",
					   "io.containerd.image.name", tag,
					   "org.opencontainers.image.ref.name",
					   strrchr(tag, ':') + 1)) ||
	     json_array_append_new(json_object_get(item, "RepoTags"),
				   json_string(tag))))
		rc = -ENOMEM;
	if (rc == 0 &&
	    (json_array_append(json_object_get(sv->index, "manifests"),
			       entry) ||
	     json_array_append(sv->docker, item)))
		rc = -ENOMEM;
	json_decref(entry);
	json_decref(item);
	return rc;
}

static int write_entry(struct archive *a, const char *name, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, 0, 0);
	int r = archive_write_header(a, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : -EIO;
}

static int write_text(struct archive *a, const char *name, const char *text)
{
	size_t n = strlen(text);
	int rc = write_entry(a, name, (int64_t)n);
	if (rc == 0 && archive_write_data(a, text, n) != (la_ssize_t)n)
		rc = -EIO;
	return rc;
}

static int write_json(struct archive *a, const char *name, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	int rc = write_text(a, name, text);
	shoal_free(text);
	return rc;
}

static int write_blob(struct archive *a, struct save_blob *b, char *buf)
{
	char *name = blob_name(b->hex);
	int rc = name ? write_entry(a, name, b->size) : -ENOMEM;
	shoal_free(name);
	if (rc == 0 && b->data)
		return archive_write_data(a, b->data, (size_t)b->size) ==
				       b->size
			       ? 0
			       : -EIO;
	for (off_t off = 0; rc == 0 && off < b->size;) {
		ssize_t n = pread(b->fd, buf, SAVE_BLOCK, off);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (archive_write_data(a, buf, (size_t)n) != n)
			return -EIO;
		off += n;
	}
	return rc;
}

static int write_archive(struct save *sv, int fd, struct shoal_err *err)
{
	struct archive *a = archive_write_new();
	char *buf = shoal_malloc(SAVE_BLOCK);
	int rc = a && buf ? 0 : -ENOMEM;
	if (rc == 0) {
		archive_write_set_format_pax_restricted(a);
		if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
			rc = -EIO;
	}
	if (rc == 0)
		rc = write_text(a, "oci-layout",
				"{\"imageLayoutVersion\":\"1.0.0\"}");
	for (size_t i = 0; rc == 0 && i < sv->n_blobs; i++)
		rc = write_blob(a, &sv->blobs[i], buf);
	if (rc == 0)
		rc = write_json(a, "index.json", sv->index);
	if (rc == 0)
		rc = write_json(a, "manifest.json", sv->docker);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = -EIO;
	if (rc < 0)
		img__fail(err, rc, "writing the archive: %s",
			  a && archive_error_string(a) ? archive_error_string(a)
						       : shoal_strerror(rc));
	if (a)
		archive_write_free(a);
	shoal_free(buf);
	return rc;
}

int img_save(struct img_store *s, const char *const *refs, size_t n_refs,
	     int fd, struct shoal_err *err)
{
	struct save sv = {0};
	sv.docker = json_array();
	sv.index = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
			     "application/vnd.oci.image.index.v1+json",
			     "manifests");
	int rc = sv.docker && sv.index ? 0 : -ENOMEM;
	if (rc == 0 && n_refs == 0)
		rc = img__fail(err, -EINVAL, "no image to save");
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; rc == 0 && i < n_refs; i++) {
		const char *hex;
		bool by_tag;
		char norm[SHOAL_ERR_MAX];
		rc = img__find_image(s, refs[i], &hex, &by_tag, norm, err);
		if (rc == 0)
			rc = add_image(s, &sv, hex, by_tag ? norm : NULL);
		if (rc < 0 && rc != SHOAL_ENOTFOUND && rc != -EINVAL)
			img__fail(err, rc, "saving %s: %s", refs[i],
				  shoal_strerror(rc));
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = write_archive(&sv, fd, err);
	save_clear(&sv);
	return rc;
}
