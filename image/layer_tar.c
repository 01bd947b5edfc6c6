/*
 * A layer tar made from a folder in overlayfs "upper" form: what `docker
 * commit` turns a container's writable layer into (moby's
 * pkg/archive.ExportChanges with the overlay rules of
 * daemon/graphdriver/overlay2).
 *
 * - a whiteout (a character device 0:0) becomes an empty file
 *   `.wh.<name>`;
 * - a folder marked opaque (trusted.overlay.opaque or
 *   user.overlay.opaque "y") is written, followed by an empty
 *   `<folder>/.wh..wh..opq`;
 * - regular files, folders, symbolic links (their target as it is),
 *   FIFOs and device nodes are written with their mode, owner and mtime;
 *   a second name of the same inode becomes a hard link entry; sockets
 *   are left out, as Docker leaves them out.
 *
 * The folder belongs to a container: it is walked with *at() calls on
 * folder descriptors and O_NOFOLLOW, so a symbolic link planted in it is
 * recorded, never followed. Names are sorted in each folder, so the same
 * tree always gives the same bytes (and DiffID). Bounded: IMG_ENTRIES_MAX
 * entries and LAYER_DEPTH_MAX levels (-E2BIG past either). Xattrs are
 * not carried over.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/map.h"
#include "image/commit_internal.h"

#define LAYER_DEPTH_MAX 256
#define COPY_BLOCK (128 * 1024)

struct walk {
	struct archive *a;
	struct buf name; /* the current entry's path in the archive */
	const char *const *skip;
	struct hmap inodes; /* "dev:ino" -> first name, for hard links */
	size_t entries;
	int fd; /* output */
	struct img__hash h;
	uint64_t bytes;
	struct shoal_err *err;
	char *block;
};

static ssize_t on_write(struct archive *a, void *arg, const void *p, size_t n)
{
	struct walk *w = arg;
	const char *c = p;
	size_t done = 0;
	while (done < n) {
		ssize_t k = write(w->fd, c + done, n - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			archive_set_error(a, errno, "writing the layer: %s",
					  strerror(errno));
			return -1;
		}
		done += (size_t)k;
	}
	img__hash_update(&w->h, p, n);
	w->bytes += n;
	return (ssize_t)n;
}

static bool opaque(int dfd, const char *name)
{
	char v[2];
	int fd = openat(dfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
	if (n != 1)
		n = fgetxattr(fd, "user.overlay.opaque", v, sizeof(v));
	close(fd);
	return n == 1 && v[0] == 'y';
}

static bool skipped(const struct walk *w)
{
	for (size_t i = 0; w->skip && w->skip[i]; i++)
		if (!strcmp(w->name.data, w->skip[i]))
			return true;
	return false;
}

static int too_many(struct walk *w)
{
	if (++w->entries <= IMG_ENTRIES_MAX)
		return 0;
	return img__fail(w->err, -E2BIG, "the layer has more than %u entries",
			 (unsigned)IMG_ENTRIES_MAX);
}

static int ar_fail(struct walk *w)
{
	return img__fail(w->err, -EIO, "writing the layer at %s: %s",
			 w->name.data, archive_error_string(w->a));
}

/* An empty regular file named @path (whiteouts and opaque markers). */
static int marker(struct walk *w, const char *path, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0);
	archive_entry_set_size(e, 0);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	int rc = archive_write_header(w->a, e) == ARCHIVE_OK ? 0 : ar_fail(w);
	archive_entry_free(e);
	return rc == 0 ? too_many(w) : rc;
}

static int whiteout(struct walk *w, const char *name, const struct stat *st)
{
	/* @name is the last component of w->name. */
	struct buf p;
	buf_init(&p, 1 << 16);
	size_t dir = w->name.len - strlen(name);
	int rc = buf_printf(&p, "%.*s.wh.%s", (int)dir, w->name.data, name);
	if (rc == 0)
		rc = marker(w, p.data, st);
	buf_fini(&p);
	return rc;
}

static int copy_data(struct walk *w, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return img__fail(w->err, -errno, "cannot read %s: %s",
				 w->name.data, strerror(errno));
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, w->block, COPY_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = img__fail(w->err, -errno, "cannot read %s: %s",
				       w->name.data, strerror(errno));
		if (n <= 0)
			break;
		if (archive_write_data(w->a, w->block, (size_t)n) != n) {
			rc = ar_fail(w);
			break;
		}
	}
	close(fd);
	return rc;
}

/* Hard link entry when this inode was written already; else remembers. */
static int link_of(struct walk *w, const struct stat *st, const char **first)
{
	char key[64];
	*first = NULL;
	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	snprintf(key, sizeof(key), "%llx:%llx", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
	*first = hmap_get_str(&w->inodes, key);
	if (*first)
		return 0;
	char *copy = shoal_strdup(w->name.data);
	if (!copy || hmap_put_str(&w->inodes, key, copy, NULL) < 0) {
		shoal_free(copy);
		return -ENOMEM;
	}
	return 0;
}

static int entry(struct walk *w, int dfd, const char *name,
		 const struct stat *st)
{
	const char *first;
	int rc = link_of(w, st, &first);
	struct archive_entry *e = archive_entry_new();
	if (rc < 0 || !e) {
		archive_entry_free(e);
		return -ENOMEM;
	}
	archive_entry_copy_pathname(e, w->name.data);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (first) {
		archive_entry_copy_hardlink(e, first);
		archive_entry_set_size(e, 0);
	} else if (S_ISREG(st->st_mode)) {
		archive_entry_set_size(e, st->st_size);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n < 0) {
			rc = img__fail(w->err, -errno, "cannot read %s: %s",
				       w->name.data, strerror(errno));
			goto err_free;
		}
		target[n] = '\0';
		archive_entry_copy_symlink(e, target);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdev(e, st->st_rdev);
	}
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		rc = ar_fail(w);
		goto err_free;
	}
	if (!first && S_ISREG(st->st_mode) && st->st_size > 0)
		rc = copy_data(w, dfd, name);
	if (rc == 0)
		rc = too_many(w);
err_free:
	archive_entry_free(e);
	return rc;
}

static int walk_dir(struct walk *w, int dfd, int depth);

static int child(struct walk *w, int dfd, const char *name, int depth)
{
	size_t len = w->name.len;
	struct stat st;
	int rc = 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone meanwhile */
	rc = buf_printf(&w->name, "%s%s", len ? "/" : "", name);
	if (rc < 0 || skipped(w) || S_ISSOCK(st.st_mode))
		goto restore;
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		rc = whiteout(w, name, &st);
		goto restore;
	}
	rc = entry(w, dfd, name, &st);
	if (rc == 0 && S_ISDIR(st.st_mode)) {
		if (opaque(dfd, name)) {
			struct buf p;
			buf_init(&p, 1 << 16);
			rc = buf_printf(&p, "%s/.wh..wh..opq", w->name.data);
			if (rc == 0)
				rc = marker(w, p.data, &st);
			buf_fini(&p);
		}
		int sub =
			openat(dfd, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rc == 0 && sub < 0)
			rc = img__fail(w->err, -errno, "cannot open %s: %s",
				       w->name.data, strerror(errno));
		if (rc == 0)
			rc = walk_dir(w, sub, depth + 1);
		else if (sub >= 0)
			close(sub);
	}
restore:
	w->name.len = len;
	if (w->name.data)
		w->name.data[len] = '\0';
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks folder @dfd (taken: closed here) in name order. */
static int walk_dir(struct walk *w, int dfd, int depth)
{
	if (depth > LAYER_DEPTH_MAX) {
		close(dfd);
		return img__fail(w->err, -E2BIG,
				 "%s: folders nested deeper than %d",
				 w->name.data, LAYER_DEPTH_MAX);
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **p = shoal_realloc(names, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			names = p;
		}
		names[n] = shoal_strdup(de->d_name);
		rc = names[n] ? 0 : -ENOMEM;
		n += names[n] ? 1 : 0;
		if (n > IMG_ENTRIES_MAX)
			rc = too_many(w);
	}
	if (rc == 0 && n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = child(w, dirfd(d), names[i], depth);
	for (size_t i = 0; i < n; i++)
		shoal_free(names[i]);
	shoal_free(names);
	closedir(d);
	return rc;
}

static void free_inodes(struct hmap *m)
{
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(m, &pos, &k, &kl, &v))
		shoal_free(v);
	hmap_fini(m);
}

int img__layer_tar(const char *dir, const char *const *skip, int out_fd,
		   struct img__layer_tar_result *res, struct shoal_err *err)
{
	struct walk w = {
		.skip = skip, .fd = out_fd, .err = err, .inodes = HMAP_INIT};
	int rc = -ENOMEM;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return img__fail(err, -errno, "cannot open %s: %s", dir,
				 strerror(errno));
	buf_init(&w.name, 1 << 16);
	w.block = shoal_malloc(COPY_BLOCK);
	w.a = archive_write_new();
	if (img__hash_init(&w.h) < 0 || !w.block || !w.a)
		goto err_free;
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
	    archive_write_open(w.a, &w, NULL, on_write, NULL) != ARCHIVE_OK) {
		rc = img__fail(err, -EIO, "writing the layer: %s",
			       archive_error_string(w.a));
		goto err_free;
	}
	rc = walk_dir(&w, dfd, 0);
	dfd = -1;
	if (archive_write_close(w.a) != ARCHIVE_OK && rc == 0)
		rc = img__fail(err, -EIO, "writing the layer: %s",
			       archive_error_string(w.a));
	if (rc == 0) {
		img__hash_hex(&w.h, res->hex);
		res->bytes = w.bytes;
		res->entries = w.entries;
	}
err_free:
	if (dfd >= 0)
		close(dfd);
	if (w.a)
		archive_write_free(w.a);
	img__hash_free(&w.h);
	shoal_free(w.block);
	free_inodes(&w.inodes);
	buf_fini(&w.name);
	return rc;
}
