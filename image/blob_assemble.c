/*
 * Fetched blobs into an image without copies: see image/blob_assemble.h.
 */
#include "image/blob_assemble.h"

#include "common/alloc.h"
#include "image/blob.h"
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int hash_file(const char *path, char hex[SHA256_HEX_LEN + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct img__hash h;
	char *buf = shoal_malloc(1 << 20);
	if (!buf || img__hash_init(&h) < 0) {
		shoal_free(buf);
		close(fd);
		return -ENOMEM;
	}
	ssize_t r;
	while ((r = read(fd, buf, 1 << 20)) > 0)
		img__hash_update(&h, buf, (size_t)r);
	int rc = r < 0 ? -errno : 0;
	close(fd);
	shoal_free(buf);
	img__hash_hex(&h, hex);
	img__hash_free(&h);
	return rc;
}

/* Moves @path into @stage/blobs/<its sha256> (@hex). A blob already staged
 * (a layer used twice) is the same bytes: the extra file goes. */
static int stage_blob(const char *stage, const char *path, const char *known,
		      char hex[SHA256_HEX_LEN + 1], struct shoal_err *err)
{
	char kh[SHA256_HEX_LEN + 1];
	int rc = known && *known
			 ? img_blob_digest_parse(known, strlen(known), kh, NULL)
			 : -ENOENT;
	if (rc == 0)
		memcpy(hex, kh, sizeof(kh));
	else
		rc = hash_file(path, hex);
	if (rc < 0)
		return img__fail(err, rc, "cannot read fetched blob %s: %s",
				 path, strerror(-rc));
	char *dst = img__path(stage, "blobs", hex);
	if (!dst)
		return img__fail(err, -ENOMEM, "out of memory");
	if (access(dst, F_OK) == 0)
		rc = unlink(path) < 0 ? -errno : 0;
	else
		rc = rename(path, dst) < 0 ? -errno : 0;
	shoal_free(dst);
	if (rc < 0)
		return img__fail(err, rc, "cannot stage fetched blob %s: %s",
				 path, strerror(-rc));
	return 0;
}

static int plan_of(struct img__plan *p, const char *stage, const char *config,
		   const char *const *layers, const char *const *digests,
		   size_t n, const char *tag, struct shoal_err *err)
{
	p->layers = shoal_calloc(n ? n : 1, sizeof(*p->layers));
	p->tags = shoal_calloc(2, sizeof(char *));
	if (!p->layers || !p->tags)
		return img__fail(err, -ENOMEM, "out of memory");
	int rc = stage_blob(stage, config, NULL, p->config_hex, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = stage_blob(stage, layers[i], digests ? digests[i] : NULL,
				p->layers[i].blob_hex, err);
		p->n_layers = i + 1;
	}
	if (rc == 0 && tag) {
		char norm[SHOAL_ERR_MAX];
		if (img__ref_normalize(tag, norm, sizeof(norm)) < 0)
			return img__fail(err, -EINVAL, "invalid tag: %s", tag);
		p->tags[0] = shoal_strdup(norm);
		if (!p->tags[0])
			return img__fail(err, -ENOMEM, "out of memory");
		p->n_tags = 1;
	}
	return rc;
}

int img_blob_assemble_files(struct img_store *s, const char *config,
			    const char *const *layers,
			    const char *const *digests, size_t n,
			    const char *tag, struct shoal_err *err)
{
	if (n > IMG_LAYERS_MAX)
		return img__fail(err, -EINVAL, "too many layers (%zu)", n);
	char *stage = NULL;
	int rc = img__stage_create(s, &stage);
	if (rc < 0)
		return img__fail(err, rc, "creating a staging folder: %s",
				 strerror(-rc));
	struct img__plan plan = {0};
	json_t *loaded = NULL;
	rc = plan_of(&plan, stage, config, layers, digests, n, tag, err);
	if (rc == 0)
		rc = img__stage_and_commit(s, stage, &plan, 1, NULL, NULL,
					   &loaded, err);
	json_decref(loaded);
	img__plan_clear(&plan);
	img__rmrf(stage);
	shoal_free(stage);
	return rc;
}
