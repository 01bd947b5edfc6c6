/*
 * File-system helpers of the image store: atomic writes (temp file, fsync,
 * rename, fsync of the folder), recursive removal that never follows
 * symbolic links, bounded reads, the staging folders under tmp/, sha256 of
 * streams, and the path check every archive entry goes through.
 *
 * The path check is the first line against archives that try to write
 * outside their folder: an entry may not be absolute and may not contain
 * "..". The second line is in image_unpack.c, which walks each path one
 * folder at a time with O_NOFOLLOW, so a symbolic link planted by an
 * earlier entry cannot redirect a later one.
 */
#include "common/fd.h"
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

int img__fail(struct shoal_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

char *img__path(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) +
		   (c ? strlen(c) + 1 : 0) + 1;
	char *p = shoal_malloc(n);
	if (!p)
		return NULL;
	snprintf(p, n, "%s%s%s%s%s", a, b ? "/" : "", b ? b : "", c ? "/" : "",
		 c ? c : "");
	return p;
}

bool img__exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int open_up(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	if (flag == FTW_D && (st->st_mode & S_IRWXU) != S_IRWXU)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

int img__rmrf(const char *path)
{
	if (!img__exists(path))
		return 0;
	/* Folders unpacked as 0555 must be writable to empty them. */
	if (geteuid() != 0)
		nftw(path, open_up, 32, FTW_PHYS);
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

void img__writeback(int fd, uint64_t *from, uint64_t to, bool last)
{
	if (to <= *from || (!last && to - *from < IMG_WRITEBACK_STEP))
		return;
	sync_file_range(fd, (off_t)*from, (off_t)(to - *from),
			SYNC_FILE_RANGE_WRITE);
	*from = to;
}

int img__fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int img__write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fd_write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(path);
	return rc;
}

int img__write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fd_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		return img__fsync_dir(dir);
	}
	return 0;
}

int img__read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	size_t n = (size_t)st.st_size;
	char *data = shoal_malloc(n + 1);
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, data + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int rc = r < 0 ? -errno : -EIO;
			shoal_free(data);
			close(fd);
			return rc;
		}
		got += (size_t)r;
	}
	close(fd);
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

int img__stage_create(struct img_store *s, char **out)
{
	char *tmp = img__path(s->root, "tmp", "stage.XXXXXX");
	if (!tmp)
		return -ENOMEM;
	if (!mkdtemp(tmp)) {
		int rc = -errno;
		shoal_free(tmp);
		return rc;
	}
	char *blobs = img__path(tmp, "blobs", NULL);
	char *layers = img__path(tmp, "layers", NULL);
	int rc = -ENOMEM;
	if (blobs && layers) {
		rc = 0;
		if (mkdir(blobs, 0700) < 0 || mkdir(layers, 0700) < 0)
			rc = -errno;
	}
	shoal_free(blobs);
	shoal_free(layers);
	if (rc < 0) {
		img__rmrf(tmp);
		shoal_free(tmp);
		return rc;
	}
	*out = tmp;
	return 0;
}

int img__clean_path(const char *raw, char *out, size_t cap)
{
	if (raw[0] == '/')
		return -EINVAL;
	size_t o = 0;
	const char *p = raw;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > cap)
				return -ENAMETOOLONG;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (o >= cap)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

int img__hash_init(struct img__hash *h)
{
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		img__hash_free(h);
		return -ENOMEM;
	}
	return 0;
}

void img__hash_update(struct img__hash *h, const void *p, size_t n)
{
	/* Cannot fail for sha256 on an initialised context. */
	EVP_DigestUpdate(h->ctx, p, n);
}

void img__hash_hex(struct img__hash *h, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_DigestFinal_ex(h->ctx, d, &n) || n != SHA256_BYTES)
		abort(); /* a broken libcrypto: never a wrong digest */
	shoal_hex(d, SHA256_BYTES, hex);
	img__hash_free(h);
}

void img__hash_free(struct img__hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}
