/*
 * The builder's file work, run on a worker thread (engine/build.c calls
 * it from uv_queue_work): reading the build context, applying
 * .dockerignore, copying COPY/ADD sources into a staging folder that
 * img_commit() turns into a layer, and flattening an image's layers
 * for COPY --from.
 *
 * Everything read here is outside bytes: the context came in a request,
 * an image's layers came from an archive. Sources are opened with
 * openat2(RESOLVE_IN_ROOT), so a path or a symbolic link in the context
 * resolves inside it and never outside; trees are walked with *at()
 * calls and O_NOFOLLOW, links copied as links. A source naming a path
 * above the context's root is Docker's "forbidden path outside the
 * build context". The staging folder is ours and fresh for each step.
 * Bounded like a layer: BC_ENTRIES_MAX entries per copy, BC_DEPTH_MAX
 * levels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "engine/build_internal.h"

#define BC_ENTRIES_MAX 100000
#define BC_DEPTH_MAX 256
#define COPY_BLOCK (64 * 1024)

static int fail(struct shoal_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct shoal_err *err, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* "a/./b//c/" -> "a/b/c"; -EPERM when ".." leaves the root. */
int eng__build_clean(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n == 0)
				return -EPERM;
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			p += len;
			continue;
		}
		if (n + len + 2 > cap)
			return -ENAMETOOLONG;
		if (n)
			out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
		p += len;
	}
	out[n] = '\0';
	return 0;
}

/* --- copying trees ------------------------------------------------------ */

struct copy {
	struct bc_copy_opts o;
	size_t entries;
	crypto_hash_sha256_state h;
	char *block;
	struct shoal_err *err;
	char path[4096]; /* for messages and the hash */
};

static void hash_entry(struct copy *c, const char *name, const struct stat *st)
{
	char meta[128];
	snprintf(meta, sizeof(meta), "\n%o %lld\n", st->st_mode,
		 (long long)st->st_size);
	crypto_hash_sha256_update(&c->h, (const unsigned char *)name,
				  strlen(name));
	crypto_hash_sha256_update(&c->h, (const unsigned char *)meta,
				  strlen(meta));
}

static int copy_file(struct copy *c, int sfd, const char *sname, int dfd,
		     const char *name, const struct stat *st)
{
	int in = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return fail(c->err, -errno, "cannot read %s: %s", c->path,
			    strerror(errno));
	unlinkat(dfd, name, 0);
	int out = openat(dfd, name,
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 st->st_mode & 07777);
	int rc = out < 0 ? fail(c->err, -errno, "cannot write %s: %s", c->path,
				strerror(errno))
			 : 0;
	while (rc == 0) {
		ssize_t n = read(in, c->block, COPY_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				rc = -errno;
			break;
		}
		crypto_hash_sha256_update(&c->h, (unsigned char *)c->block,
					  (size_t)n);
		if (write(out, c->block, (size_t)n) != n)
			rc = fail(c->err, -EIO, "cannot write %s: %s", c->path,
				  strerror(errno));
	}
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static bool whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool opaque_dir(int fd)
{
	char v[2];
	ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
	if (n != 1)
		n = fgetxattr(fd, "user.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int rm_tree_at(int dfd, const char *name)
{
	char path[64];
	int fd = openat(dfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0
								      : -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_tree_at(dirfd(d), de->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "%s", name);
	return unlinkat(dfd, path, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int copy_tree(struct copy *c, int sfd, int dfd, int depth);

int eng__build_rmrf(const char *path)
{
	return rm_tree_at(AT_FDCWD, path);
}

static int set_meta(struct copy *c, int dfd, const char *name,
		    const struct stat *st)
{
	uid_t uid = c->o.chown ? c->o.uid : st->st_uid;
	gid_t gid = c->o.chown ? c->o.gid : st->st_gid;
	if (!c->o.keep_owner && !c->o.chown)
		uid = gid = 0;
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM)
		return fail(c->err, -errno, "cannot set the owner of %s: %s",
			    c->path, strerror(errno));
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
		return fail(c->err, -errno, "cannot set the mode of %s: %s",
			    c->path, strerror(errno));
	struct timespec t[2] = {st->st_atim, st->st_mtim};
	utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Entry @name of folder @sfd into folder @dfd (as @dname). */
static int copy_entry(struct copy *c, int sfd, const char *name, int dfd,
		      const char *dname, int depth)
{
	struct stat st;
	size_t plen = strlen(c->path);
	int rc = 0;
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c->err, -errno, "cannot read %s: %s", name,
			    strerror(errno));
	if (++c->entries > BC_ENTRIES_MAX)
		return fail(c->err, -E2BIG, "more than %d files to copy",
			    BC_ENTRIES_MAX);
	snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s",
		 plen ? "/" : "", dname);
	hash_entry(c, c->path, &st);
	if (c->o.whiteouts && whiteout(&st)) {
		rc = rm_tree_at(dfd, dname);
	} else if (S_ISDIR(st.st_mode)) {
		int sub =
			openat(sfd, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat dst;
		if (c->o.whiteouts && sub >= 0 && opaque_dir(sub))
			rm_tree_at(dfd, dname);
		if (fstatat(dfd, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(dst.st_mode))
			unlinkat(dfd, dname, 0);
		if (mkdirat(dfd, dname, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		int dsub = rc == 0 ? openat(dfd, dname,
					    O_RDONLY | O_DIRECTORY |
						    O_NOFOLLOW | O_CLOEXEC)
				   : -1;
		if (sub < 0 || dsub < 0)
			rc = fail(c->err, rc ? rc : -errno,
				  "cannot copy folder %s: %s", c->path,
				  strerror(errno));
		if (rc == 0 && depth >= BC_DEPTH_MAX)
			rc = fail(c->err, -E2BIG, "%s: too deep", c->path);
		if (rc == 0)
			rc = copy_tree(c, sub, dsub, depth + 1);
		if (sub >= 0)
			close(sub);
		if (dsub >= 0)
			close(dsub);
		if (rc == 0)
			rc = set_meta(c, dfd, dname, &st);
	} else if (S_ISREG(st.st_mode)) {
		rc = copy_file(c, sfd, name, dfd, dname, &st);
		if (rc == 0)
			rc = set_meta(c, dfd, dname, &st);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return fail(c->err, -errno, "cannot read %s", c->path);
		target[n] = '\0';
		crypto_hash_sha256_update(&c->h, (unsigned char *)target,
					  (size_t)n);
		rm_tree_at(dfd, dname);
		rc = symlinkat(target, dfd, dname) == 0 ? 0 : -errno;
		if (rc == 0)
			rc = set_meta(c, dfd, dname, &st);
	} else if (S_ISFIFO(st.st_mode)) {
		rm_tree_at(dfd, dname);
		rc = mkfifoat(dfd, dname, st.st_mode & 07777) == 0 ? 0 : -errno;
	} /* sockets and devices are not copied */
	c->path[plen] = '\0';
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The contents of folder @sfd into folder @dfd, in name order (a stable
 * hash); both borrowed. */
static int copy_tree(struct copy *c, int sfd, int dfd, int depth)
{
	int fd = dup(sfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
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
			cap = cap ? cap * 2 : 32;
			char **p = shoal_realloc(names, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			names = p;
		}
		names[n] = shoal_strdup(de->d_name);
		rc = names[n] ? 0 : -ENOMEM;
		n += rc == 0;
		if (n > BC_ENTRIES_MAX)
			rc = fail(c->err, -E2BIG, "more than %d files to copy",
				  BC_ENTRIES_MAX);
	}
	closedir(d);
	if (rc == 0 && n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = copy_entry(c, sfd, names[i], dfd, names[i], depth);
	for (size_t i = 0; i < n; i++)
		shoal_free(names[i]);
	shoal_free(names);
	return rc;
}

/* mkdir -p @rel under @root; returns an fd of it or -errno. */
static int mkdirs(int root, const char *rel, const struct bc_copy_opts *o)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", rel);
	int fd = dup(root);
	for (char *p = strtok(buf, "/"); fd >= 0 && p; p = strtok(NULL, "/")) {
		if (mkdirat(fd, p, 0755) == 0 && o->chown &&
		    fchownat(fd, p, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != EPERM) {
			int e = errno;
			close(fd);
			return -e;
		}
		int sub = openat(
			fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		fd = sub < 0 ? -e : sub;
	}
	return fd;
}

/* A folder's contents, or one file, into folder @dst. */
static int copy_into_dir(struct copy *c, int pfd, const char *base, bool dir,
			 int dst_root, const char *dst)
{
	int dfd = mkdirs(dst_root, dst, &c->o);
	if (dfd < 0)
		return fail(c->err, dfd, "cannot make %s: %s", dst,
			    strerror(-dfd));
	int rc;
	if (dir) {
		int sfd = base[0] ? openat(pfd, base,
					   O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						   O_CLOEXEC)
				  : dup(pfd);
		rc = sfd < 0 ? -errno : copy_tree(c, sfd, dfd, 0);
		if (sfd >= 0)
			close(sfd);
	} else {
		rc = copy_entry(c, pfd, base, dfd, base, 0);
	}
	close(dfd);
	return rc;
}

/* One file (or link) to the path @dst. */
static int copy_as(struct copy *c, int pfd, const char *base, int dst_root,
		   const char *dst)
{
	char dparent[4096];
	const char *ds = strrchr(dst, '/');
	snprintf(dparent, sizeof(dparent), "%.*s", ds ? (int)(ds - dst) : 0,
		 dst);
	int dfd = mkdirs(dst_root, dparent, &c->o);
	if (dfd < 0)
		return fail(c->err, dfd, "cannot make %s: %s", dparent,
			    strerror(-dfd));
	const char *dname = ds ? ds + 1 : dst;
	int rc = copy_entry(c, pfd, base, dfd, dname, 0);
	close(dfd);
	return rc;
}

int eng__build_copy(int src_root, const char *src, int dst_root,
		    const char *dst, bool dst_is_dir,
		    const struct bc_copy_opts *o, unsigned char hash[32],
		    struct shoal_err *err)
{
	struct copy c = {.o = *o, .err = err};
	struct stat st;
	char parent[4096], base[256];
	const char *slash = strrchr(src, '/');
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - src) : 0,
		 src);
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : src);
	/* The source's parent resolved inside the root, then the last
	 * component itself without following it. */
	int pfd = open_in_root(src_root, parent[0] ? parent : ".",
			       O_RDONLY | O_DIRECTORY);
	int rc = pfd < 0 ? pfd : 0;
	if (rc == 0 && base[0] &&
	    fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc == -ENOENT || rc == -ENOTDIR)
		rc = fail(err, -ENOENT,
			  "file not found in build context or excluded by "
			  ".dockerignore: stat %s: file does not exist",
			  src);
	else if (rc < 0)
		rc = fail(err, rc, "cannot read %s: %s", src, strerror(-rc));
	c.block = rc == 0 ? shoal_malloc(COPY_BLOCK) : NULL;
	if (rc == 0 && !c.block)
		rc = -ENOMEM;
	crypto_hash_sha256_init(&c.h);
	bool dir = rc == 0 && (!base[0] || S_ISDIR(st.st_mode));
	if (rc == 0 && (dir || dst_is_dir))
		rc = copy_into_dir(&c, pfd, base, dir, dst_root, dst);
	else if (rc == 0)
		rc = copy_as(&c, pfd, base, dst_root, dst);
	if (rc == 0)
		crypto_hash_sha256_final(&c.h, hash);
	if (pfd >= 0)
		close(pfd);
	shoal_free(c.block);
	return rc;
}

/* --- wildcards and .dockerignore ---------------------------------------- */

int eng__build_glob(int root, const char *pattern, char ***out, size_t *n,
		    struct shoal_err *err)
{
	*out = NULL;
	*n = 0;
	const char *slash = strrchr(pattern, '/');
	char dir[4096];
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - pattern) : 0,
		 pattern);
	const char *last = slash ? slash + 1 : pattern;
	if (strpbrk(dir, "*?["))
		return fail(err, -EINVAL,
			    "%s: wildcards are taken in the last path "
			    "component only",
			    pattern);
	int fd = open_in_root(root, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* no match: the caller says so */
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fnmatch(last, de->d_name, FNM_PERIOD) != 0)
			continue;
		char **v = shoal_realloc(*out, (*n + 2) * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			break;
		}
		*out = v;
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		v[*n] = shoal_malloc(len);
		if (!v[*n]) {
			rc = -ENOMEM;
			break;
		}
		snprintf(v[*n], len, "%s%s%s", dir, dir[0] ? "/" : "",
			 de->d_name);
		v[++*n] = NULL;
	}
	closedir(d);
	if (rc == 0 && *n)
		qsort(*out, *n, sizeof(**out), cmp_names);
	return rc;
}

struct ignore {
	char **pat;
	bool *neg;
	size_t n;
};

static bool match_one(const char *pat, const char *path)
{
	int flags = strstr(pat, "**") ? 0 : FNM_PATHNAME;
	if (fnmatch(pat, path, flags) == 0)
		return true;
	/* A pattern naming a folder excludes what is in it. */
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = strrchr(buf, '/'); s; s = strrchr(buf, '/')) {
		*s = '\0';
		if (fnmatch(pat, buf, flags) == 0)
			return true;
	}
	return false;
}

static bool ignored(const struct ignore *ig, const char *path)
{
	bool out = false;
	for (size_t i = 0; i < ig->n; i++)
		if (match_one(ig->pat[i], path))
			out = !ig->neg[i];
	return out;
}

static int prune(const struct ignore *ig, int dfd, char *path, size_t plen,
		 int depth)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path + plen, 4096 - plen, "%s%s", plen ? "/" : "",
			 de->d_name);
		if (ignored(ig, path)) {
			rm_tree_at(dirfd(d), de->d_name);
		} else if (de->d_type == DT_DIR && depth < BC_DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			if (sub >= 0) {
				rc = prune(ig, sub, path, strlen(path),
					   depth + 1);
				close(sub);
			}
		}
		path[plen] = '\0';
	}
	closedir(d);
	return rc;
}

int eng__build_dockerignore(int root, const char *keep, struct shoal_err *err)
{
	int fd = open_in_root(root, ".dockerignore", O_RDONLY);
	if (fd < 0)
		return 0;
	char *text = shoal_malloc(DF_MAX_BYTES + 1);
	ssize_t len = text ? read(fd, text, DF_MAX_BYTES + 1) : -1;
	close(fd);
	if (len < 0 || len > (ssize_t)DF_MAX_BYTES) {
		shoal_free(text);
		return fail(err, -EINVAL,
			    ".dockerignore is unreadable or "
			    "larger than 1 MiB");
	}
	text[len] = '\0';
	struct ignore ig = {0};
	int rc = 0;
	char *save;
	for (char *l = strtok_r(text, "\n", &save); rc == 0 && l;
	     l = strtok_r(NULL, "\n", &save)) {
		l += strspn(l, " \t");
		size_t n = strlen(l);
		while (n && strchr(" \t\r", l[n - 1]))
			l[--n] = '\0';
		if (!n || l[0] == '#')
			continue;
		bool neg = l[0] == '!';
		char clean[4096];
		if (eng__build_clean(l + neg, clean, sizeof(clean)) < 0)
			continue; /* names above the root match nothing */
		char **p = shoal_realloc(ig.pat, (ig.n + 1) * sizeof(*p));
		bool *g = p ? shoal_realloc(ig.neg, (ig.n + 1) * sizeof(*g))
			    : NULL;
		if (p)
			ig.pat = p;
		if (g)
			ig.neg = g;
		if (!p || !g || !(ig.pat[ig.n] = shoal_strdup(clean))) {
			rc = -ENOMEM;
			break;
		}
		ig.neg[ig.n++] = neg;
	}
	shoal_free(text);
	/* The Dockerfile being built stays, as Docker keeps it. */
	if (rc == 0 && ig.n) {
		char path[4096] = "";
		char *pat = shoal_strdup(keep);
		char **p = shoal_realloc(ig.pat, (ig.n + 1) * sizeof(*p));
		bool *g = p ? shoal_realloc(ig.neg, (ig.n + 1) * sizeof(*g))
			    : NULL;
		if (p)
			ig.pat = p;
		if (g)
			ig.neg = g;
		if (!pat || !p || !g) {
			shoal_free(pat);
			rc = -ENOMEM;
		} else {
			ig.pat[ig.n] = pat;
			ig.neg[ig.n++] = true;
			rc = prune(&ig, root, path, 0, 0);
		}
	}
	for (size_t i = 0; i < ig.n; i++)
		shoal_free(ig.pat[i]);
	shoal_free(ig.pat);
	shoal_free(ig.neg);
	return rc;
}

int eng__build_flatten(char *const *layers, size_t n, int dst,
		       struct shoal_err *err)
{
	struct bc_copy_opts o = {.whiteouts = true, .keep_owner = true};
	struct copy c = {.o = o, .err = err};
	c.block = shoal_malloc(COPY_BLOCK);
	if (!c.block)
		return -ENOMEM;
	crypto_hash_sha256_init(&c.h);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int fd = open(layers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			rc = fail(err, -errno, "cannot read a layer: %s",
				  strerror(errno));
			break;
		}
		c.entries = 0;
		rc = copy_tree(&c, fd, dst, 0);
		close(fd);
	}
	shoal_free(c.block);
	return rc;
}
