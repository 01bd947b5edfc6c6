/*
 * Blobs handed between the nodes of a swarm: see image/blob.h.
 */
#include "image/blob.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "image/internal.h"

static bool lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

int img_blob_digest_parse(const void *buf, size_t len, char hex[65],
			  struct shoal_err *err)
{
	const char *p = buf;
	if (len != 7 + 64 || memcmp(p, "sha256:", 7) || !lower_hex(p + 7, 64))
		return img__fail(err, -EINVAL,
				 "invalid blob digest (%zu bytes): want "
				 "\"sha256:\" and 64 lowercase hex digits",
				 len);
	memcpy(hex, p + 7, 64);
	hex[64] = '\0';
	return 0;
}

static int digest_hex(const char *digest, char hex[65], struct shoal_err *err)
{
	if (!digest)
		return img__fail(err, -EINVAL, "no blob digest given");
	return img_blob_digest_parse(digest, strlen(digest), hex, err);
}

int img_blob_open(struct img_store *s, const char *digest, int *fd,
		  uint64_t *size, struct shoal_err *err)
{
	char hex[65];
	int rc = digest_hex(digest, hex, err);
	if (rc < 0)
		return rc;
	char *path = img__path(s->root, "blobs/sha256", hex);
	if (!path)
		return img__fail(err, -ENOMEM, "out of memory");
	/* Under the lock: a removal of the image cannot unlink the file
	 * between the check and the open; once open it stays readable. */
	pthread_mutex_lock(&s->lock);
	bool named = img__blob_used(s->index, hex);
	int f = named ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	int e = errno;
	pthread_mutex_unlock(&s->lock);
	shoal_free(path);
	if (!named)
		return img__fail(err, -ENOENT,
				 "no image of this node holds blob %s", digest);
	if (f < 0)
		return img__fail(err, -ENOENT, "blob %s: cannot open: %s",
				 digest, strerror(e));
	struct stat st;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return img__fail(err, -ENOENT,
				 "blob %s is not a regular file in the store",
				 digest);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int img_blob_open_layer(struct img_store *s, const char *diff_id, int *fd,
			uint64_t *size, char blob[80], struct shoal_err *err)
{
	char hex[65];
	int rc = digest_hex(diff_id, hex, err);
	if (rc < 0)
		return rc;
	blob[0] = '\0';
	pthread_mutex_lock(&s->lock);
	const char *k;
	json_t *v;
	json_t *images = json_object_get(s->index, "images");
	for (void *it = img__first(images, &k, &v); it && !blob[0];
	     it = img__next(images, it, &k, &v)) {
		json_t *layers = json_object_get(v, "layers");
		for (size_t i = 0; i < json_array_size(layers); i++) {
			json_t *l = json_array_get(layers, i);
			const char *d = json_string_value(
				json_object_get(l, "diff_id"));
			const char *b =
				json_string_value(json_object_get(l, "blob"));
			if (d && b && !strcmp(d + 7, hex)) {
				snprintf(blob, 80, "%s", b);
				break;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!blob[0])
		return img__fail(err, -ENOENT,
				 "no image of this node holds layer %s",
				 diff_id);
	return img_blob_open(s, blob, fd, size, err);
}

int img_blob_config_layers(const char *config, char ***out, size_t *n,
			   struct shoal_err *err)
{
	char *data;
	size_t len;
	int rc = img__read_file(config, IMG_JSON_MAX, &data, &len);
	if (rc < 0)
		return img__fail(err, rc, "cannot read fetched config %s",
				 config);
	json_t *cfg = NULL;
	rc = img__config_parse(data, len, &cfg, err);
	shoal_free(data);
	if (rc < 0)
		return rc;
	json_t *ids =
		json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	size_t cnt = json_array_size(ids);
	if (cnt > IMG_LAYERS_MAX) {
		json_decref(cfg);
		return img__fail(err, -EINVAL, "too many layers (%zu)", cnt);
	}
	char **v = shoal_calloc(cnt ? cnt : 1, sizeof(*v));
	for (size_t i = 0; v && i < cnt; i++) {
		const char *d = json_string_value(json_array_get(ids, i));
		v[i] = shoal_strdup(d ? d : "");
		if (!v[i] || !d || strncmp(d, "sha256:", 7)) {
			for (size_t j = 0; j <= i; j++)
				shoal_free(v[j]);
			shoal_free(v);
			v = NULL;
		}
	}
	json_decref(cfg);
	if (!v)
		return img__fail(err, -EINVAL,
				 "fetched config %s: bad rootfs.diff_ids",
				 config);
	*out = v;
	*n = cnt;
	return 0;
}

struct img_blob_rx {
	char hex[65];
	char *path;
	int fd;
	uint64_t max;
	uint64_t got;
	bool failed;
	struct img__hash hash;
};

int img_blob_rx_begin(struct img_store *s, const char *digest, uint64_t max,
		      struct img_blob_rx **out, struct shoal_err *err)
{
	char hex[65];
	int rc = digest_hex(digest, hex, err);
	if (rc < 0)
		return rc;
	struct img_blob_rx *rx = shoal_calloc(1, sizeof(*rx));
	if (!rx)
		return img__fail(err, -ENOMEM, "out of memory");
	memcpy(rx->hex, hex, sizeof(hex));
	rx->fd = -1;
	rx->max = max ? max : IMG_BLOB_MAX;
	rx->path = img__path(s->root, "tmp", "fetch.XXXXXX");
	if (!rx->path || img__hash_init(&rx->hash) < 0) {
		img_blob_rx_abort(rx);
		return img__fail(err, -ENOMEM, "out of memory");
	}
	rx->fd = mkostemp(rx->path, O_CLOEXEC);
	if (rx->fd < 0) {
		rc = -errno;
		img__fail(err, rc, "cannot create a file for blob %s in %s: %s",
			  digest, rx->path, strerror(errno));
		shoal_free(rx->path);
		rx->path = NULL;
		img_blob_rx_abort(rx);
		return rc;
	}
	*out = rx;
	return 0;
}

int img_blob_rx_feed(struct img_blob_rx *rx, const void *buf, size_t n,
		     struct shoal_err *err)
{
	if (rx->failed)
		return img__fail(err, -EINVAL,
				 "blob sha256:%s: transfer "
				 "already failed",
				 rx->hex);
	if (n > rx->max - rx->got) {
		rx->failed = true;
		return img__fail(err, -EFBIG,
				 "blob sha256:%s refused: more than %llu bytes",
				 rx->hex, (unsigned long long)rx->max);
	}
	const char *p = buf;
	size_t left = n;
	while (left) {
		ssize_t w = write(rx->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rx->failed = true;
			return img__fail(err, -EIO,
					 "blob sha256:%s: cannot write %s: %s",
					 rx->hex, rx->path,
					 w < 0 ? strerror(errno) : "short");
		}
		p += w;
		left -= (size_t)w;
	}
	img__hash_update(&rx->hash, buf, n);
	rx->got += n;
	return 0;
}

uint64_t img_blob_rx_received(const struct img_blob_rx *rx)
{
	return rx->got;
}

int img_blob_rx_finish(struct img_blob_rx *rx, char **path,
		       struct shoal_err *err)
{
	if (rx->failed) {
		img_blob_rx_abort(rx);
		return img__fail(err, -EINVAL, "blob transfer already failed");
	}
	char got[65];
	img__hash_hex(&rx->hash, got);
	if (strcmp(got, rx->hex)) {
		int rc = img__fail(err, -EBADMSG,
				   "blob sha256:%s refused: its %llu bytes "
				   "hash to sha256:%s (corrupt or wrong blob "
				   "from this holder; try another)",
				   rx->hex, (unsigned long long)rx->got, got);
		img_blob_rx_abort(rx);
		return rc;
	}
	if (close(rx->fd) < 0) {
		rx->fd = -1;
		int rc = img__fail(err, -EIO,
				   "blob sha256:%s: cannot close "
				   "%s",
				   rx->hex, rx->path);
		img_blob_rx_abort(rx);
		return rc;
	}
	rx->fd = -1;
	*path = rx->path;
	rx->path = NULL;
	img_blob_rx_abort(rx);
	return 0;
}

void img_blob_rx_abort(struct img_blob_rx *rx)
{
	if (!rx)
		return;
	if (rx->fd >= 0)
		close(rx->fd);
	if (rx->path) {
		unlink(rx->path);
		shoal_free(rx->path);
	}
	img__hash_free(&rx->hash);
	shoal_free(rx);
}

static int hash_file_hex(const char *path, char hex[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct img__hash h;
	if (img__hash_init(&h) < 0) {
		close(fd);
		return -ENOMEM;
	}
	char buf[8192];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		img__hash_update(&h, buf, (size_t)r);
	close(fd);
	img__hash_hex(&h, hex);
	img__hash_free(&h);
	return r < 0 ? -EIO : 0;
}

static int add_file(struct archive *a, const char *name, const char *path,
		    struct shoal_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return img__fail(err, rc, "cannot read fetched blob %s: %s",
				 path, strerror(-rc));
	}
	struct archive_entry *e = archive_entry_new();
	if (!e) {
		close(fd);
		return img__fail(err, -ENOMEM, "out of memory");
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, st.st_size);
	int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	char *buf = shoal_malloc(1 << 16);
	if (!buf)
		rc = -ENOMEM;
	ssize_t r = 0;
	while (!rc && (r = read(fd, buf, 1 << 16)) > 0)
		if (archive_write_data(a, buf, (size_t)r) != r)
			rc = -EIO;
	if (!rc && r < 0)
		rc = -EIO;
	shoal_free(buf);
	close(fd);
	if (rc < 0)
		return img__fail(err, rc, "cannot stage fetched blob %s: %s",
				 path, archive_error_string(a));
	return 0;
}

int img_blob_assemble(struct img_store *s, const char *config,
		      const char *const *layers, size_t n, const char *tag,
		      struct shoal_err *err)
{
	if (n > IMG_LAYERS_MAX)
		return img__fail(err, -EINVAL, "too many layers (%zu)", n);
	char cfg_hex[65];
	if (hash_file_hex(config, cfg_hex) < 0)
		return img__fail(err, -EIO, "cannot read fetched config %s",
				 config);
	json_t *m = json_pack("[{s:s+,s:[],s:[]}]", "Config", "blobs/sha256/",
			      cfg_hex, "RepoTags", "Layers");
	if (!m)
		return img__fail(err, -ENOMEM, "out of memory");
	json_t *entry = json_array_get(m, 0);
	if (tag)
		json_array_append_new(json_object_get(entry, "RepoTags"),
				      json_string(tag));
	char(*names)[80] = shoal_calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		json_decref(m);
		return img__fail(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "layers/%zu.tar", i);
		json_array_append_new(json_object_get(entry, "Layers"),
				      json_string(names[i]));
	}
	char *manifest = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	char *tmp = img__path(s->root, "tmp", "assemble.XXXXXX");
	int fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
	int rc = 0;
	struct archive *a = NULL;
	char cfg_name[80];
	json_t *loaded = NULL;
	if (!manifest || fd < 0) {
		rc = img__fail(err, manifest && tmp ? -errno : -ENOMEM,
			       "cannot stage the fetched image");
		goto out;
	}
	a = archive_write_new();
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		if (a)
			archive_write_free(a);
		rc = img__fail(err, -EIO, "cannot stage the fetched image");
		goto out;
	}
	snprintf(cfg_name, sizeof(cfg_name), "blobs/sha256/%s", cfg_hex);
	rc = add_file(a, cfg_name, config, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = add_file(a, names[i], layers[i], err);
	if (!rc) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(manifest);
		if (!e)
			rc = img__fail(err, -ENOMEM, "out of memory");
		else {
			archive_entry_set_pathname(e, "manifest.json");
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)len);
			if (archive_write_header(a, e) != ARCHIVE_OK ||
			    archive_write_data(a, manifest, len) !=
				    (ssize_t)len)
				rc = img__fail(err, -EIO,
					       "cannot stage the manifest");
			archive_entry_free(e);
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK && !rc)
		rc = img__fail(err, -EIO, "cannot stage the fetched image");
	archive_write_free(a);
	if (rc < 0)
		goto out;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = img__fail(err, -errno, "cannot rewind the staged image");
		goto out;
	}
	rc = img_load(s, fd, NULL, NULL, &loaded, err);
	json_decref(loaded);
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		shoal_free(tmp);
	}
	free(manifest);
	shoal_free(names);
	return rc;
}
