/*
 * The work of docker cp once the helper is confined (archive_helper.c):
 * the stat of a container path, a tar stream of it, and the unpacking of
 * an uploaded tar stream into a folder. Nothing here knows of namespaces:
 * every function acts on the process's own root and working folder, so
 * the helper runs them inside the container and the fuzz target runs the
 * unpacker, unconfined, against a scratch folder.
 *
 * Formats. Only tar is read, uncompressed or compressed with gzip, bzip2
 * or xz (what Docker's PUT /containers/{id}/archive accepts), and only
 * through libarchive's in-process decompressors: libarchive would run an
 * external program (lzop, lrzip, grzip, ...) for a filter it lacks a
 * library for, found on the PATH of whatever root it runs in, which for
 * docker cp is the container's. tarx_builtin_filters() (common/tarx.h)
 * registers nothing that libarchive says it would run a program for, and
 * tarx_filters_ok() checks what was actually used; other archives
 * are refused with a sentence naming them (lzop, zstd, zip, ...).
 *
 * Unpacking uses libarchive's disk writer with its secure flags: no "..",
 * no absolute names, nothing extracted through a symlink (refused, where
 * Docker would follow it inside the container; and not with
 * ARCHIVE_EXTRACT_UNLINK, which makes libarchive delete such symlinks, an
 * image's /var/run -> /run say, instead of refusing). Files are created
 * with O_EXCL, whatever is in the way (a FIFO, a device node, a hard link)
 * unlinked first, so nothing existing is ever written through. Leading
 * slashes are stripped first, as Docker resolves names against the
 * destination. Owners are the archive's
 * only with copyUIDGID, root's otherwise (Docker's rule). Names are never
 * looked up in the container's passwd or group files (no NSS in here).
 *
 * Packing walks the tree with *at() calls from folder descriptors and
 * never descends into a kernel filesystem (proc, sysfs, devpts, mqueue,
 * cgroup, ...): their mount points appear as empty folders, as in
 * Docker's archives. Regular files are opened O_NONBLOCK | O_NOFOLLOW and
 * checked with fstat, so nothing but a regular file is ever read. Hard
 * links within the archive are stored as links (libarchive's resolver).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/tarx.h"
#include "runtime/internal.h"

#define BLOCK (64 * 1024)
#define MAX_DEPTH 256 /* folder descriptors held by a walk */

/* --- formats ------------------------------------------------------------- */

/* What an archive libarchive did not recognise is, for a better message. */
static const char *refused_kind(int fd)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *name;
	} kinds[] = {
		{"\x89LZO\x00\r\n\x1a\n", 9, "lzop-compressed"},
		{"\x04\x22\x4d\x18", 4, "lz4-compressed"},
		{"\x28\xb5\x2f\xfd", 4, "zstd-compressed"},
		{"LZIP", 4, "lzip-compressed"},
		{"LRZI", 4, "lrzip-compressed"},
		{"GRZipII", 7, "grzip-compressed"},
		{"\x1f\x9d", 2, "compress(1)-compressed"},
		{"PK\x03\x04", 4, "a zip archive"},
		{"7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive"},
		{"Rar!", 4, "a rar archive"},
		{"070707", 6, "a cpio archive"},
		{"070701", 6, "a cpio archive"},
		{"!<arch>\n", 8, "an ar archive"},
	};
	char head[16];
	ssize_t n = pread(fd, head, sizeof(head), 0);

	for (size_t i = 0; n > 0 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((size_t)n >= kinds[i].len &&
		    !memcmp(head, kinds[i].magic, kinds[i].len))
			return kinds[i].name;
	return NULL;
}

static int refuse(int fd, struct archive *a, struct shoal_err *err)
{
	const char *kind = refused_kind(fd);

	if (kind)
		rt__err(err,
			"unsupported archive: it is %s; send a tar archive, "
			"uncompressed or compressed with gzip, bzip2 or xz",
			kind);
	else
		rt__err(err,
			"unsupported archive: not a tar archive (uncompressed "
			"or compressed with gzip, bzip2 or xz): %s",
			archive_error_string(a) ? archive_error_string(a)
						: "unrecognised format");
	return -EINVAL;
}

/* proc, sysfs and the like: never listed, never read. */
static bool kernel_fs(int fd)
{
	static const unsigned long magics[] = {
		PROC_SUPER_MAGIC,
		SYSFS_MAGIC,
		DEVPTS_SUPER_MAGIC,
		0x19800202 /* mqueue */,
		CGROUP_SUPER_MAGIC,
		CGROUP2_SUPER_MAGIC,
		SECURITYFS_MAGIC,
		DEBUGFS_MAGIC,
		TRACEFS_MAGIC,
		BPF_FS_MAGIC,
		PSTOREFS_MAGIC,
		EFIVARFS_MAGIC,
		BINFMTFS_MAGIC,
		SELINUX_MAGIC,
		SMACK_MAGIC,
		NSFS_MAGIC,
		0x62656570 /* configfs */,
		0x65735543 /* fusectl */,
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true; /* unknown: do not look */
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if ((unsigned long)sf.f_type == magics[i])
			return true;
	return false;
}

/* --- stat ---------------------------------------------------------------- */

static int errno_rc(int e)
{
	return e == ENOENT || e == ENOTDIR ? SHOAL_ENOTFOUND : -e;
}

/* @path without trailing slashes ("/" stays "/") into @out. */
static void trim(const char *path, char *out, size_t cap)
{
	size_t len;

	snprintf(out, cap, "%s", path);
	len = strlen(out);
	while (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
}

int rt__archive_stat(const char *path, struct rt_path_stat *out)
{
	char t[4096];
	const char *base;
	struct stat st;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (lstat(path, &st) < 0)
		return errno_rc(errno);
	trim(path, t, sizeof(t));
	base = strrchr(t, '/');
	base = !base ? t : base[1] ? base + 1 : "/";
	snprintf(out->name, sizeof(out->name), "%.*s",
		 (int)sizeof(out->name) - 1, base);
	out->size = (int64_t)st.st_size;
	out->mode = st.st_mode;
	out->mtime_ns =
		(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, out->link_target,
			     sizeof(out->link_target) - 1);
		out->link_target[n > 0 ? n : 0] = '\0';
	}
	return 0;
}

/* --- pack ---------------------------------------------------------------- */

struct pack {
	struct archive *a;
	struct archive_entry_linkresolver *links;
	struct buf name; /* the entry's name in the archive */
	char *data;	 /* BLOCK bytes */
	struct shoal_err *err;
};

static int pack_fail(struct pack *p, const char *what)
{
	int e = archive_errno(p->a);

	rt__err(p->err, "cannot archive %s: %s", what,
		archive_error_string(p->a) ? archive_error_string(p->a)
					   : "write error");
	return e > 0 ? -e : -EIO;
}

/* The data of the regular file open at @fd, @size bytes at most. */
static int pack_data(struct pack *p, int fd, int64_t size)
{
	int64_t left = size;
	ssize_t n;

	while (left > 0 && (n = read(fd, p->data, BLOCK)) > 0) {
		if (n > left)
			n = (ssize_t)left;
		if (archive_write_data(p->a, p->data, (size_t)n) < 0)
			return pack_fail(p, p->name.data);
		left -= n;
	}
	return 0; /* a file that shrank is padded by libarchive */
}

/* One entry: @name in folder @dfd, lstat()ed as @st. */
static int pack_one(struct pack *p, int dfd, const char *name,
		    const struct stat *st)
{
	struct archive_entry *e, *spare = NULL;
	struct stat fst = *st;
	char target[4096];
	int fd = -1, rc = 0;
	ssize_t n;

	if (S_ISSOCK(st->st_mode))
		return 0; /* tar has no sockets; Docker skips them too */
	if (S_ISREG(st->st_mode)) {
		fd = openat(dfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
				    O_CLOEXEC);
		if (fd < 0 && errno != ENOENT && errno != ELOOP) {
			rt__err(p->err, "cannot read %s: %s", p->name.data,
				strerror(errno));
			return -errno;
		}
		if (fd < 0 || fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
			/* Gone or replaced meanwhile: as if never there. */
			if (fd >= 0)
				close(fd);
			return 0;
		}
	}
	e = archive_entry_new();
	if (!e) {
		rc = -ENOMEM;
		goto out_close;
	}
	archive_entry_copy_stat(e, &fst);
	archive_entry_copy_pathname(e, p->name.data);
	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		archive_entry_copy_symlink(e, target);
	}
	archive_entry_linkify(p->links, &e, &spare);
	if (e && archive_write_header(p->a, e) < ARCHIVE_WARN)
		rc = pack_fail(p, p->name.data);
	/* A second link to a file already written carries no data. */
	if (rc == 0 && e && fd >= 0 && archive_entry_size(e) > 0)
		rc = pack_data(p, fd, archive_entry_size(e));
	archive_entry_free(e);
	archive_entry_free(spare);
out_close:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int pack_dir(struct pack *p, int dfd, dev_t dev, int depth);

/* Append @name to the entry name (after a "/" but at the top), pack it,
 * and its tree if a folder; the name is restored before returning. */
static int pack_child(struct pack *p, int dfd, const char *name, dev_t dev,
		      int depth)
{
	size_t len = p->name.len;
	struct stat st;
	int rc, sub;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone meanwhile */
	rc = buf_printf(&p->name, "%s%s",
			len && p->name.data[len - 1] != '/' ? "/" : "", name);
	if (rc == 0)
		rc = pack_one(p, dfd, name, &st);
	if (rc == 0 && S_ISDIR(st.st_mode)) {
		sub = openat(dfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* A mount point of a kernel filesystem stays empty. */
		if (sub >= 0 && st.st_dev != dev && kernel_fs(sub))
			close(sub);
		else if (sub >= 0)
			rc = pack_dir(p, sub, st.st_dev, depth + 1);
	}
	if (p->name.data) {
		p->name.len = len;
		p->name.data[len] = '\0';
	}
	return rc;
}

/* The entries of the folder open at @dfd (taken: closed here). */
static int pack_dir(struct pack *p, int dfd, dev_t dev, int depth)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		close(dfd);
		rt__err(p->err, "cannot archive %s: more than %d folders deep",
			p->name.data, MAX_DEPTH);
		return -ELOOP;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0; /* unreadable: the folder entry alone */
	}
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = pack_child(p, dirfd(d), de->d_name, dev, depth);
	closedir(d);
	return rc;
}

/*
 * "/", "." and "dir/.": the folder's contents, under "." ("./etc"), and
 * the root's under "/" ("/etc"): the docker CLI renames the root's
 * entries by putting the destination's name before them.
 */
static int pack_contents(struct pack *p, const char *path)
{
	struct stat st;
	int dfd, rc;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno_rc(errno);
	rc = fstat(dfd, &st) < 0
		     ? -errno
		     : buf_append_str(&p->name, strcmp(path, "/") ? "." : "/");
	if (rc == 0)
		rc = pack_one(p, dfd, ".", &st);
	if (rc == 0 && !kernel_fs(dfd))
		return pack_dir(p, dfd, st.st_dev, 0);
	close(dfd);
	return rc;
}

static int pack_top(struct pack *p, const char *path)
{
	char t[4096];
	const char *base, *parent;
	struct stat st;
	size_t len;
	int dfd, fd, rc;

	trim(path, t, sizeof(t));
	len = strlen(t);
	if (!strcmp(t, "/") || !strcmp(t, ".") ||
	    (len >= 2 && !strcmp(t + len - 2, "/.")))
		return pack_contents(p, t);
	char *slash = strrchr(t, '/');
	base = slash ? slash + 1 : t;
	parent = !slash ? "." : slash == t ? "/" : (*slash = '\0', t);
	dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno_rc(errno);
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno_rc(errno);
		close(dfd);
		return rc;
	}
	fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
	    kernel_fs(fd)) {
		close(fd);
		close(dfd);
		rt__err(p->err,
			"cannot copy %s: it is on a kernel filesystem (proc, "
			"sysfs, ...), which docker cp does not copy",
			path);
		return -EINVAL;
	}
	if (fd >= 0)
		close(fd);
	rc = pack_child(p, dfd, base, (dev_t)-1, 0);
	close(dfd);
	return rc;
}

int rt__archive_pack(const char *path, int out_fd, struct shoal_err *err)
{
	struct pack p = {.err = err};
	struct archive_entry *e = NULL, *spare = NULL;
	int rc = -ENOMEM;

	buf_init(&p.name, 1 << 20);
	p.data = shoal_malloc(BLOCK);
	p.a = archive_write_new();
	p.links = archive_entry_linkresolver_new();
	if (!p.data || !p.a || !p.links)
		goto out;
	archive_entry_linkresolver_set_strategy(
		p.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	if (archive_write_set_format_pax_restricted(p.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p.a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(p.a, out_fd) != ARCHIVE_OK) {
		rc = pack_fail(&p, path);
		goto out;
	}
	rc = pack_top(&p, path);
	/* Links still waiting for their last name (none for tar). */
	archive_entry_linkify(p.links, &e, &spare);
	archive_entry_free(e);
	archive_entry_free(spare);
	if (archive_write_close(p.a) != ARCHIVE_OK && rc == 0)
		rc = pack_fail(&p, path);
out:
	if (p.a)
		archive_write_free(p.a);
	if (p.links)
		archive_entry_linkresolver_free(p.links);
	shoal_free(p.data);
	buf_fini(&p.name);
	return rc;
}

/* --- unpack -------------------------------------------------------------- */

static int unpack_errno(struct archive *a)
{
	switch (archive_errno(a)) {
	case EROFS:
	case ENOSPC:
	case EDQUOT:
	case EACCES:
	case EPERM:
	case ENOMEM:
		return -archive_errno(a);
	default:
		return -EINVAL; /* refused (secure flags) or damaged */
	}
}

static int unpack_fail(struct archive *a, const char *name,
		       struct shoal_err *err)
{
	const char *m = archive_error_string(a);

	rt__err(err, "cannot extract %s: %s", name ? name : "the archive",
		m ? m : "error");
	return unpack_errno(a);
}

/* Docker's names are relative to the destination: "/a" is "a". */
static int clean_names(struct archive_entry *e)
{
	const char *n = archive_entry_pathname(e);
	const char *h = archive_entry_hardlink(e);

	if (n && n[0] == '/') {
		while (*n == '/')
			n++;
		archive_entry_copy_pathname(e, *n ? n : ".");
	}
	if (h && h[0] == '/') {
		while (*h == '/')
			h++;
		archive_entry_copy_hardlink(e, h);
	}
	return archive_entry_pathname(e) ? 0 : -EINVAL;
}

/* Docker's noOverwriteDirNonDir: a folder never replaces a non-folder,
 * nor the reverse. */
static int check_overwrite(struct archive_entry *e, struct shoal_err *err)
{
	const char *name = archive_entry_pathname(e);
	bool dir = archive_entry_filetype(e) == AE_IFDIR;
	struct stat st;

	if (lstat(name, &st) < 0 || S_ISDIR(st.st_mode) == dir)
		return 0;
	rt__err(err,
		dir ? "cannot overwrite non-directory \"%s\" with directory"
		    : "cannot overwrite directory \"%s\" with non-directory",
		name);
	return -EEXIST;
}

static int unpack_entry(struct archive *in, struct archive *out,
			struct archive_entry *e,
			const struct rt__unpack_opts *o, struct shoal_err *err)
{
	const void *block;
	size_t size;
	la_int64_t off;
	int r, rc;

	if (clean_names(e) < 0) {
		rt__err(err, "cannot extract an entry without a name");
		return -EINVAL;
	}
	if (!o->copy_uid_gid) {
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
	}
	if (o->no_overwrite_dir_non_dir && (rc = check_overwrite(e, err)) < 0)
		return rc;
	if (archive_write_header(out, e) < ARCHIVE_WARN)
		return unpack_fail(out, archive_entry_pathname(e), err);
	while ((r = archive_read_data_block(in, &block, &size, &off)) ==
	       ARCHIVE_OK)
		if (archive_write_data_block(out, block, size, off) <
		    ARCHIVE_WARN)
			return unpack_fail(out, archive_entry_pathname(e), err);
	if (r != ARCHIVE_EOF)
		return unpack_fail(in, archive_entry_pathname(e), err);
	if (archive_write_finish_entry(out) < ARCHIVE_WARN)
		return unpack_fail(out, archive_entry_pathname(e), err);
	return 0;
}

static int unpack_all(int in_fd, struct archive *in, struct archive *out,
		      const struct rt__unpack_opts *o, struct shoal_err *err)
{
	struct archive_entry *e;
	int r, rc = 0;
	bool first = true;

	if (archive_read_open_fd(in, in_fd, BLOCK) != ARCHIVE_OK)
		return refuse(in_fd, in, err);
	while (rc == 0 &&
	       (r = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return first ? refuse(in_fd, in, err)
				     : unpack_fail(in, NULL, err);
		if (first && (!tarx_filters_ok(in) ||
			      (archive_format(in) & ARCHIVE_FORMAT_BASE_MASK) !=
				      ARCHIVE_FORMAT_TAR))
			return refuse(in_fd, in, err);
		first = false;
		rc = unpack_entry(in, out, e, o, err);
	}
	if (rc == 0 && archive_write_close(out) < ARCHIVE_WARN)
		rc = unpack_fail(out, NULL, err);
	return rc;
}

static int enter_dir(const char *dir, struct shoal_err *err)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOTDIR && stat(dir, &st) == 0)
		rc = -ENOTDIR;
	else if (fd < 0)
		rc = errno_rc(errno);
	else if (kernel_fs(fd))
		rc = -EINVAL;
	else if (fchdir(fd) < 0)
		rc = -errno;
	if (rc == SHOAL_ENOTFOUND)
		rt__err(err, "no such folder: %s", dir);
	else if (rc == -ENOTDIR)
		rt__err(err, "extraction point is not a directory");
	else if (rc == -EINVAL)
		rt__err(err,
			"cannot extract into %s: it is a kernel "
			"filesystem",
			dir);
	else if (rc < 0)
		rt__err(err, "cannot enter %s: %s", dir, strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

int rt__archive_unpack(int in_fd, const char *dir,
		       const struct rt__unpack_opts *o, struct shoal_err *err)
{
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct archive *in = NULL, *out = NULL;
	int rc;

	rc = enter_dir(dir, err);
	if (rc < 0)
		goto out;
	in = archive_read_new();
	out = archive_write_disk_new();
	rc = in && out ? 0 : -ENOMEM;
	/* "empty": no bytes at all is an empty archive, as for Docker. */
	if (rc == 0 && (archive_read_support_format_tar(in) != ARCHIVE_OK ||
			archive_read_support_format_empty(in) != ARCHIVE_OK))
		rc = -ENOTSUP;
	if (rc == 0)
		rc = tarx_builtin_filters(in, false, err ? err->msg : NULL,
					  err ? sizeof(err->msg) : 0);
	if (rc < 0)
		goto out;
	/* No archive_write_disk_set_standard_lookup(): ids stay numbers. */
	archive_write_disk_set_options(
		out, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			     ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			     ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
			     ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
			     ARCHIVE_EXTRACT_OWNER);
	rc = unpack_all(in_fd, in, out, o, err);
out:
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0 && rc == 0)
			rc = -errno;
		close(cwd);
	}
	return rc;
}
