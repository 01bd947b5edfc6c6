/*
 * Unpacking one layer into an overlayfs lower folder, and computing its
 * DiffID (the sha256 of the uncompressed tar stream) in the same pass.
 *
 * Two libarchive readers are chained: the outer one only decompresses
 * (format "raw"; gzip, bzip2, xz or zstd, in-process only: libarchive
 * would run an external program, lzop say, for a filter it has no library
 * for), the inner one reads tar from the outer's
 * output through a callback that also feeds the hash. So a gzip layer is
 * read once, and the DiffID covers exactly the bytes the tar reader saw
 * plus the padding after its end marker.
 *
 * Entries are written with *at() calls relative to folder descriptors: each
 * path is walked one component at a time with O_NOFOLLOW | O_DIRECTORY, so
 * no entry can reach outside the layer, through ".." (refused up front by
 * img__clean_path), an absolute path, or a symbolic link an earlier entry
 * planted. libarchive's own disk writer is not used because it resolves
 * paths against the process's working folder, which a daemon's worker
 * thread cannot change.
 *
 * Whiteouts (OCI image spec, "Whiteouts"): ".wh.<name>" becomes a 0/0
 * character device <name>, which overlayfs reads as "deleted in this
 * layer"; ".wh..wh..opq" marks its folder opaque with the xattr
 * trusted.overlay.opaque=y, or user.overlay.opaque=y when the process may
 * not set trusted.* xattrs (overlayfs's "userxattr" mounts read that one).
 *
 * Names are checked before anything is written (check_name()): beyond one
 * leading "./", no "." or ".." component; a whiteout's target is never
 * empty, "." or ".." (".wh..." once made the unpacker remove the folder
 * holding the layer's); whiteouts and the opaque marker are files, never
 * folders, nor folders on an entry's way. aufs's own ".wh..wh.<x>" folders
 * (".wh..wh.plnk", hard link targets of old layers) stay allowed. A
 * refused name fails the whole layer, its entry named in the error.
 *
 * Ownership is applied when running as root; otherwise files belong to the
 * caller. Xattrs: user.* (but user.overlay.*) always, security.capability
 * as root; trusted.* and the rest never (a layer must not forge overlay
 * metadata). Device nodes
 * need root and are skipped otherwise. Folders get their mode and mtime in
 * a last pass, once their children exist.
 */
#include "common/tarx.h"
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LOG_MODULE "image"
#include "common/alloc.h"
#include "common/log.h"

#define READ_BLOCK (1024 * 1024)
#define PROGRESS_STEP (1u << 20)

struct dir_fix {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct unpack {
	struct archive *outer;
	struct archive *in;
	struct img__hash hash;
	bool hashing; /* false: the DiffID is the verified blob digest */
	char buf[READ_BLOCK];
	char outer_err[256];
	int root_fd;
	bool privileged;
	uint64_t size;
	struct dir_fix *dirs;
	size_t n_dirs, cap_dirs;
	img_progress_fn *progress;
	void *arg;
	struct img_progress *p;
	uint64_t next_report;
	const char *entry;	       /* for error messages */
	const struct img__source *src; /* NULL: read the blob file */
};

static void report(struct unpack *u, bool force)
{
	if (!u->progress)
		return;
	uint64_t done = (uint64_t)archive_filter_bytes(u->outer, -1);
	if (!force && done < u->next_report)
		return;
	u->next_report = done + PROGRESS_STEP;
	u->p->current = done;
	u->progress(u->p, u->arg);
}

/* Next block of the decompressed stream, hashed; -1 with outer_err set. */
static la_ssize_t pull(struct unpack *u, const void **buf)
{
	la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));
	if (n < 0) {
		const char *m = archive_error_string(u->outer);
		snprintf(u->outer_err, sizeof(u->outer_err), "%s",
			 m ? m : "read error");
		return -1;
	}
	if (u->hashing)
		img__hash_update(&u->hash, u->buf, (size_t)n);
	report(u, false);
	*buf = u->buf;
	return n;
}

static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	struct unpack *u = ctx;
	la_ssize_t n = pull(u, buf);
	if (n < 0)
		archive_set_error(a, EIO, "%s", u->outer_err);
	return n;
}

static la_ssize_t src_read(struct archive *a, void *ctx, const void **buf)
{
	const struct img__source *src = ctx;
	ssize_t n = src->read(src->arg, buf);
	if (n < 0)
		archive_set_error(a, EIO, "the download stopped");
	return n;
}

static int open_outer(struct unpack *u, const char *blob, struct shoal_err *err)
{
	struct archive_entry *e;
	char why[256];
	u->outer = archive_read_new();
	if (!u->outer)
		return -ENOMEM;
	/* In-process decompressors only: never an external program. */
	if (tarx_builtin_filters(u->outer, true, why, sizeof(why)) < 0)
		return img__fail(err, -ENOTSUP, "%s", why);
	archive_read_support_format_raw(u->outer);
	int r = u->src ? archive_read_open(u->outer, (void *)u->src, NULL,
					   src_read, NULL)
		       : archive_read_open_filename(u->outer, blob, READ_BLOCK);
	if (r != ARCHIVE_OK ||
	    archive_read_next_header(u->outer, &e) != ARCHIVE_OK ||
	    !tarx_filters_ok(u->outer)) {
		const char *m = archive_error_string(u->outer);
		return img__fail(err, SHOAL_ECORRUPT, "cannot read layer: %s",
				 m ? m : "empty file");
	}
	return 0;
}

/* Reads what is left of the stream into the hash (the tar's padding). */
static int drain(struct unpack *u, struct shoal_err *err)
{
	const void *b;
	la_ssize_t n;
	while ((n = pull(u, &b)) > 0)
		;
	if (n < 0)
		return img__fail(err, SHOAL_ECORRUPT, "layer is damaged: %s",
				 u->outer_err);
	return 0;
}

/*
 * Opens the folder that holds @path (walking from the layer's root without
 * following links), creating missing folders when @create. On success
 * *@dfd is an open folder (close it) and *@leaf points into @path.
 */
static int open_parent(struct unpack *u, char *path, bool create, int *dfd,
		       const char **leaf)
{
	int fd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	char *comp = path;
	char *slash;
	while ((slash = strchr(comp, '/'))) {
		*slash = '\0';
		int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		int next = openat(fd, comp, flags);
		if (next < 0 && errno == ENOENT && create) {
			/* A folder the tar implies: 0755 whatever the umask. */
			int made = mkdirat(fd, comp, 0755);
			if (made == 0 && fchmodat(fd, comp, 0755, 0) < 0)
				log_debug("layer folder %s: %s", comp,
					  strerror(errno));
			if (made == 0 || errno == EEXIST)
				next = openat(fd, comp, flags);
		}
		int saved = errno;
		*slash = '/';
		close(fd);
		if (next < 0)
			return saved == ELOOP || saved == ENOTDIR ? -ELOOP
								  : -saved;
		fd = next;
		comp = slash + 1;
	}
	*dfd = fd;
	*leaf = comp;
	return 0;
}

/* Removes whatever is at @leaf so that a new entry can take its place. */
static int clear_leaf(struct unpack *u, int dfd, const char *leaf,
		      const char *path)
{
	if (unlinkat(dfd, leaf, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	char full[8192];
	snprintf(full, sizeof(full), "/proc/self/fd/%d/%s", u->root_fd, path);
	return img__rmrf(full);
}

static bool xattr_allowed(const struct unpack *u, const char *name)
{
	/* user.overlay.* is overlay metadata on "userxattr" mounts. */
	if (strncmp(name, "user.", 5) == 0)
		return strncmp(name, "user.overlay.", 13) != 0;
	return u->privileged && strcmp(name, "security.capability") == 0;
}

static void set_xattrs(struct unpack *u, int fd, struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t len;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (!xattr_allowed(u, name)) {
			log_debug("layer entry %s: xattr %s skipped", u->entry,
				  name);
			continue;
		}
		if (fsetxattr(fd, name, val, len, 0) < 0)
			log_debug("layer entry %s: xattr %s: %s", u->entry,
				  name, strerror(errno));
	}
}

static int set_owner(struct unpack *u, int dfd, const char *leaf,
		     struct archive_entry *e)
{
	if (!u->privileged)
		return 0;
	if (fchownat(dfd, leaf, (uid_t)archive_entry_uid(e),
		     (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	ts[0] = ts[1];
}

static int copy_data(struct unpack *u, int fd, la_int64_t size,
		     struct shoal_err *err)
{
	const void *block;
	size_t len;
	la_int64_t off;
	la_int64_t end = 0;
	uint64_t flushed = 0;
	int r;
	while ((r = archive_read_data_block(u->in, &block, &len, &off)) ==
	       ARCHIVE_OK) {
		const char *p = block;
		size_t left = len;
		while (left > 0) {
			ssize_t n = pwrite(fd, p, left, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return img__fail(err, -errno, "writing %s: %s",
						 u->entry, strerror(errno));
			p += n;
			off += n;
			left -= (size_t)n;
		}
		if (off > end)
			end = off;
		img__writeback(fd, &flushed, (uint64_t)end, false);
	}
	if (flushed)
		img__writeback(fd, &flushed, (uint64_t)end, true);
	if (r != ARCHIVE_EOF)
		return img__fail(err, SHOAL_ECORRUPT, "layer entry %s: %s",
				 u->entry, archive_error_string(u->in));
	/* A sparse file may end in a hole. */
	if (size > end && ftruncate(fd, size) < 0)
		return img__fail(err, -errno, "writing %s: %s", u->entry,
				 strerror(errno));
	return 0;
}

static int add_dir_fix(struct unpack *u, const char *path,
		       struct archive_entry *e)
{
	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		struct dir_fix *d =
			shoal_realloc(u->dirs, cap * sizeof(*u->dirs));
		if (!d)
			return -ENOMEM;
		u->dirs = d;
		u->cap_dirs = cap;
	}
	struct dir_fix *f = &u->dirs[u->n_dirs];
	f->path = shoal_strdup(path);
	if (!f->path)
		return -ENOMEM;
	f->mode = archive_entry_mode(e) & 07777;
	f->mtime.tv_sec = archive_entry_mtime(e);
	f->mtime.tv_nsec = archive_entry_mtime_nsec(e);
	u->n_dirs++;
	return 0;
}

static int do_dir(struct unpack *u, int dfd, const char *leaf, const char *path,
		  struct archive_entry *e)
{
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode) && unlinkat(dfd, leaf, 0) < 0)
		return -errno;
	if (mkdirat(dfd, leaf, 0700) < 0 && errno != EEXIST)
		return -errno;
	int rc = set_owner(u, dfd, leaf, e);
	if (rc < 0)
		return rc;
	int fd = openat(dfd, leaf,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	set_xattrs(u, fd, e);
	close(fd);
	return add_dir_fix(u, path, e);
}

static int do_file(struct unpack *u, int dfd, const char *leaf,
		   const char *path, struct archive_entry *e,
		   struct shoal_err *err)
{
	int rc = clear_leaf(u, dfd, leaf, path);
	if (rc < 0)
		return rc;
	int fd = openat(dfd, leaf,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0)
		return -errno;
	rc = copy_data(u, fd, archive_entry_size(e), err);
	if (rc == 0 && u->privileged &&
	    fchown(fd, (uid_t)archive_entry_uid(e),
		   (gid_t)archive_entry_gid(e)) < 0)
		rc = -errno;
	/* After chown, which clears set-id bits. */
	if (rc == 0 && fchmod(fd, archive_entry_mode(e) & 07777) < 0)
		rc = -errno;
	if (rc == 0) {
		struct timespec ts[2];
		set_xattrs(u, fd, e);
		entry_times(e, ts);
		if (futimens(fd, ts) < 0)
			rc = -errno;
	}
	close(fd);
	if (rc == 0 && archive_entry_size(e) > 0)
		u->size += (uint64_t)archive_entry_size(e);
	return rc;
}

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

static bool is_dot_or_dotdot(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

/* One ".wh."-prefixed component of @n bytes: NULL when fine, else why. */
static const char *check_whiteout(const char *c, size_t n, bool last, bool dir)
{
	bool opaque = n == strlen(WH_OPAQUE) && !strncmp(c, WH_OPAQUE, n);
	const char *target = c + strlen(WH_PREFIX);
	size_t tn = n - strlen(WH_PREFIX);

	if (opaque)
		return !last || dir ? "the opaque whiteout is a file, not a "
				      "folder"
				    : NULL;
	if (n >= strlen(WH_META) && !strncmp(c, WH_META, strlen(WH_META)))
		return NULL; /* aufs bookkeeping, folders included */
	if (!last || dir)
		return "a whiteout is a file, not a folder";
	if (tn == 0)
		return "empty whiteout";
	if (is_dot_or_dotdot(target, tn))
		return tn == 1 ? "whiteout of \".\" names no file"
			       : "whiteout of \"..\" names no file";
	return NULL;
}

/*
 * What img__clean_path() lets through but a layer must not use; see the
 * head of the file. NULL when @raw is fine, else the reason (static).
 * @dir: the entry is a folder.
 */
static const char *check_name(const char *raw, bool dir)
{
	const char *p = raw;

	if (p[0] == '.' && (p[1] == '/' || !p[1]))
		p++;
	while (*p) {
		size_t n;
		const char *next, *why;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		next = p + n + strspn(p + n, "/");
		if (is_dot_or_dotdot(p, n))
			return n == 1 ? "a \".\" component beyond a leading "
					"\"./\""
				      : "a \"..\" component";
		why = !strncmp(p, WH_PREFIX, strlen(WH_PREFIX))
			      ? check_whiteout(p, n, !*next, dir)
			      : NULL;
		if (why)
			return why;
		p = next;
	}
	return NULL;
}

static int do_hardlink(struct unpack *u, int dfd, const char *leaf,
		       const char *path, const char *target,
		       struct shoal_err *err)
{
	char tpath[4096];
	if (img__clean_path(target, tpath, sizeof(tpath)) < 0 || !tpath[0])
		return img__fail(err, -EINVAL,
				 "layer entry %s: hard link target %s is "
				 "outside the layer",
				 path, target);
	const char *why = check_name(target, false);
	if (why)
		return img__fail(err, -EINVAL,
				 "layer entry %s: hard link target %s: %s",
				 path, target, why);
	int tdfd;
	const char *tleaf;
	int rc = open_parent(u, tpath, false, &tdfd, &tleaf);
	if (rc < 0)
		return img__fail(err, rc == -ELOOP ? -EINVAL : rc,
				 "layer entry %s: hard link target %s: %s",
				 path, target,
				 rc == -ELOOP ? "goes through a symbolic link"
					      : strerror(-rc));
	struct stat st;
	if (fstatat(tdfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    S_ISDIR(st.st_mode)) {
		close(tdfd);
		return img__fail(err, -EINVAL,
				 "layer entry %s: hard link target %s is "
				 "missing or a folder",
				 path, target);
	}
	if (strcmp(tpath, path) != 0) {
		rc = clear_leaf(u, dfd, leaf, path);
		if (rc == 0 && linkat(tdfd, tleaf, dfd, leaf, 0) < 0)
			rc = -errno;
	}
	close(tdfd);
	return rc;
}

static int do_symlink(struct unpack *u, int dfd, const char *leaf,
		      const char *path, struct archive_entry *e)
{
	const char *target = archive_entry_symlink(e);
	if (!target)
		return -EINVAL;
	int rc = clear_leaf(u, dfd, leaf, path);
	if (rc < 0)
		return rc;
	if (symlinkat(target, dfd, leaf) < 0)
		return -errno;
	rc = set_owner(u, dfd, leaf, e);
	struct timespec ts[2];
	entry_times(e, ts);
	if (rc == 0 && utimensat(dfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	return rc;
}

static int do_special(struct unpack *u, int dfd, const char *leaf,
		      const char *path, struct archive_entry *e)
{
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFSOCK)
		return 0;
	if (type != AE_IFIFO && !u->privileged) {
		log_debug("layer entry %s: device node skipped (not root)",
			  path);
		return 0;
	}
	int rc = clear_leaf(u, dfd, leaf, path);
	if (rc < 0)
		return rc;
	if (mknodat(dfd, leaf, type | (archive_entry_mode(e) & 07777),
		    archive_entry_rdev(e)) < 0)
		return -errno;
	rc = set_owner(u, dfd, leaf, e);
	if (rc == 0 &&
	    fchmodat(dfd, leaf, archive_entry_mode(e) & 07777, 0) < 0)
		rc = -errno;
	return rc;
}

static int do_whiteout(struct unpack *u, int dfd, const char *leaf,
		       const char *path, struct shoal_err *err)
{
	if (strcmp(leaf, WH_OPAQUE) == 0) {
		if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) == 0)
			return 0;
		if (errno == EPERM &&
		    fsetxattr(dfd, "user.overlay.opaque", "y", 1, 0) == 0)
			return 0;
		return img__fail(err, -errno,
				 "layer entry %s: cannot mark folder opaque: "
				 "%s",
				 path, strerror(errno));
	}
	if (strncmp(leaf, WH_META, strlen(WH_META)) == 0)
		return 0; /* aufs bookkeeping (.wh..wh.plnk), not a whiteout */
	const char *name = leaf + strlen(WH_PREFIX);
	/* check_name() refused the rest: "" would be the folder itself,
	 * "." too, and ".." its parent. */
	assert(name[0] && strcmp(name, ".") && strcmp(name, ".."));
	char victim[4096];
	snprintf(victim, sizeof(victim), "%.*s%s", (int)(leaf - path), path,
		 name);
	int rc = clear_leaf(u, dfd, name, victim);
	if (rc < 0)
		return rc;
	if (mknodat(dfd, name, S_IFCHR, makedev(0, 0)) < 0)
		return img__fail(err, -errno,
				 "layer entry %s: cannot create whiteout: %s%s",
				 path, strerror(errno),
				 errno == EPERM ? " (needs CAP_MKNOD)" : "");
	return 0;
}

static int do_entry(struct unpack *u, struct archive_entry *e,
		    struct shoal_err *err)
{
	const char *raw = archive_entry_pathname(e);
	char path[4096];
	if (!raw)
		return img__fail(err, -EINVAL, "layer entry without a name");
	u->entry = raw;
	int rc = img__clean_path(raw, path, sizeof(path));
	if (rc == -ENAMETOOLONG)
		return img__fail(err, -EINVAL,
				 "layer entry %.200s...: path too long", raw);
	if (rc < 0)
		return img__fail(err, -EINVAL,
				 "layer entry %s: path leaves the layer "
				 "(absolute or with \"..\")",
				 raw);
	const char *why =
		check_name(raw, archive_entry_filetype(e) == AE_IFDIR);
	if (why)
		return img__fail(err, -EINVAL, "layer entry %s: %s", raw, why);
	if (!path[0])
		return 0; /* the layer's root itself */
	int dfd;
	const char *leaf;
	rc = open_parent(u, path, true, &dfd, &leaf);
	if (rc < 0)
		return img__fail(err, rc == -ELOOP ? -EINVAL : rc,
				 "layer entry %s: %s", raw,
				 rc == -ELOOP ? "path goes through a symbolic "
						"link or a file"
					      : strerror(-rc));
	err->msg[0] = '\0';
	const char *hl = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (strncmp(leaf, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		rc = do_whiteout(u, dfd, leaf, path, err);
	else if (hl)
		rc = do_hardlink(u, dfd, leaf, path, hl, err);
	else if (type == AE_IFDIR)
		rc = do_dir(u, dfd, leaf, path, e);
	else if (type == AE_IFREG)
		rc = do_file(u, dfd, leaf, path, e, err);
	else if (type == AE_IFLNK)
		rc = do_symlink(u, dfd, leaf, path, e);
	else
		rc = do_special(u, dfd, leaf, path, e);
	close(dfd);
	if (rc < 0 && !err->msg[0])
		img__fail(err, rc, "layer entry %s: %s", raw,
			  shoal_strerror(rc));
	return rc;
}

/* Folder modes and times, deepest first, once their children exist. */
static void fix_dirs(struct unpack *u)
{
	for (size_t i = u->n_dirs; i-- > 0;) {
		struct dir_fix *f = &u->dirs[i];
		int dfd;
		const char *leaf;
		if (open_parent(u, f->path, false, &dfd, &leaf) < 0)
			continue;
		int fd =
			openat(dfd, leaf,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			continue; /* replaced or whited out later on */
		struct timespec ts[2] = {f->mtime, f->mtime};
		if (fchmod(fd, f->mode) < 0 || futimens(fd, ts) < 0)
			log_debug("layer folder %s: %s", f->path,
				  strerror(errno));
		close(fd);
	}
}

static int extract(struct unpack *u, struct shoal_err *err)
{
	u->in = archive_read_new();
	if (!u->in)
		return -ENOMEM;
	archive_read_support_format_tar(u->in);
	if (archive_read_open(u->in, u, NULL, inner_read, NULL) != ARCHIVE_OK)
		return img__fail(err, SHOAL_ECORRUPT,
				 "layer is not a tar archive: %s",
				 u->outer_err[0] ? u->outer_err
						 : archive_error_string(u->in));
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(u->in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			const char *m = u->outer_err[0]
						? u->outer_err
						: archive_error_string(u->in);
			return img__fail(err, SHOAL_ECORRUPT,
					 "layer is damaged or not a tar "
					 "archive: %s",
					 m ? m : "unknown error");
		}
		if (u->root_fd < 0) {
			/* Scan only: the size, and that the tar is whole. */
			if (archive_entry_filetype(e) == AE_IFREG &&
			    !archive_entry_hardlink(e) &&
			    archive_entry_size(e) > 0)
				u->size += (uint64_t)archive_entry_size(e);
			continue;
		}
		int rc = do_entry(u, e, err);
		if (rc < 0)
			return rc;
	}
	fix_dirs(u);
	return 0;
}

int img__unpack(const char *blob, const char *dest,
		struct img__layer_result *res, img_progress_fn *progress,
		void *arg, struct img_progress *p, struct shoal_err *err)
{
	return img__unpack_known(blob, NULL, dest, res, progress, arg, p, err);
}

int img__unpack_known(const char *blob, const char *blob_hex, const char *dest,
		      struct img__layer_result *res, img_progress_fn *progress,
		      void *arg, struct img_progress *p, struct shoal_err *err)
{
	return img__unpack_source(blob, NULL, blob_hex, dest, res, progress,
				  arg, p, err);
}

int img__unpack_source(const char *blob, const struct img__source *src,
		       const char *blob_hex, const char *dest,
		       struct img__layer_result *res, img_progress_fn *progress,
		       void *arg, struct img_progress *p, struct shoal_err *err)
{
	struct shoal_err local;
	if (!err)
		err = &local;
	struct unpack *u = shoal_calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->src = src;
	u->root_fd = -1;
	u->privileged = geteuid() == 0;
	u->progress = progress;
	u->arg = arg;
	u->p = p;
	int rc = open_outer(u, blob, err);
	if (rc < 0)
		goto err_free;
	/* Only the "none" filter: the stream is the blob's own bytes. */
	u->hashing = !blob_hex || strlen(blob_hex) != SHA256_HEX_LEN ||
		     archive_filter_count(u->outer) != 1 ||
		     archive_filter_code(u->outer, 0) != ARCHIVE_FILTER_NONE;
	if (u->hashing && img__hash_init(&u->hash) < 0) {
		rc = -ENOMEM;
		goto err_free;
	}
	if (dest) {
		if (mkdir(dest, 0755) < 0 || chmod(dest, 0755) < 0) {
			rc = img__fail(err, -errno, "creating %s: %s", dest,
				       strerror(errno));
			goto err_free;
		}
		u->root_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (u->root_fd < 0) {
			rc = -errno;
			goto err_free;
		}
	}
	rc = extract(u, err);
	if (rc < 0)
		goto err_free;
	rc = drain(u, err);
	if (rc < 0)
		goto err_free;
	if (u->hashing)
		img__hash_hex(&u->hash, res->diff_hex);
	else
		memcpy(res->diff_hex, blob_hex, SHA256_HEX_LEN + 1);
	res->size = u->size;
	report(u, true);
err_free:
	img__hash_free(&u->hash);
	if (u->root_fd >= 0)
		close(u->root_fd);
	if (u->in)
		archive_read_free(u->in);
	if (u->outer)
		archive_read_free(u->outer);
	for (size_t i = 0; i < u->n_dirs; i++)
		shoal_free(u->dirs[i].path);
	shoal_free(u->dirs);
	shoal_free(u);
	return rc;
}
