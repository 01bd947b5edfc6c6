/*
 * docker diff (GET /containers/{id}/changes): what a container changed in
 * its root filesystem, read from its overlay's upper folder as moby reads
 * an overlay layer (pkg/archive, changes.go and changes_linux.go):
 *
 * - a whiteout (a character device 0:0) is a deletion, D;
 * - a directory marked opaque (xattr trusted.overlay.opaque "y") that
 *   exists in a lower layer was deleted and made again: D;
 * - anything else is a change, C, when the path exists in a lower layer,
 *   else an addition, A;
 * - the parent of an A or D is listed as C once, if nothing listed it.
 *
 * Two differences, both because Docker's init layer is not Shoal's:
 * the files the runtime mounts over (/etc/hostname, /etc/hosts,
 * /etc/resolv.conf, ...) are made in the upper folder here, where Docker
 * makes them in a layer of their own; they are left out, as Docker's
 * diff never shows them. And so a folder that exists below is listed as
 * C only when its mode changed or something in it was added or deleted:
 * its mtime changed when the runtime made those files, which Docker's
 * rule (size, mode and mtime) would count.
 *
 * Entries come in the order of a lexical walk (filepath.Walk's), paths
 * absolute in the container. The walk uses *at() calls on folder
 * descriptors and never follows a symbolic link; a lower layer is looked
 * into with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so nothing a
 * container or an image planted sends it out of its trees. Bounded:
 * depth RT__DIFF_DEPTH and RT__DIFF_MAX entries (-E2BIG past it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "runtime/internal.h"

#define RT__DIFF_DEPTH 256
#define RT__DIFF_MAX 1000000
#define PATH_BUF 4096

enum { KIND_C = 0, KIND_A = 1, KIND_D = 2 }; /* Docker's Kind numbers */

struct diff {
	int *lower; /* O_PATH fds of the lower layers */
	size_t n_lower;
	json_t *out;
	json_t *dirs; /* paths already listed as changed folders */
	char path[PATH_BUF];
	int rc;
};

/* stat of @rel (no leading '/') in a lower layer, without symlinks. */
static bool lower_stat(int root, const char *rel, struct stat *st)
{
	struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			       .resolve =
				       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	if (fd < 0)
		return false;
	bool ok = fstat(fd, st) == 0;
	close(fd);
	return ok;
}

static bool in_lower(struct diff *d, const char *rel, struct stat *st)
{
	for (size_t i = 0; i < d->n_lower; i++)
		if (lower_stat(d->lower[i], rel, st))
			return true;
	return false;
}

static void add(struct diff *d, const char *path, int kind)
{
	if (d->rc < 0)
		return;
	if (json_array_size(d->out) >= RT__DIFF_MAX) {
		d->rc = -E2BIG;
		return;
	}
	if (json_array_append_new(d->out, json_pack("{s:s, s:i}", "Path", path,
						    "Kind", kind)) < 0)
		d->rc = -ENOMEM;
}

static void mark_dir(struct diff *d, const char *path)
{
	json_object_set_new(d->dirs, path, json_true());
}

static void parent_changed(struct diff *d, const char *path)
{
	char parent[PATH_BUF];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return;
	*slash = '\0';
	if (json_object_get(d->dirs, parent))
		return;
	add(d, parent, KIND_C);
	mark_dir(d, parent);
}

static bool opaque(int dfd, const char *name)
{
	char proc[64], v[2];
	int fd = openat(dfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = getxattr(proc, "trusted.overlay.opaque", v, sizeof(v));
	close(fd);
	return n == 1 && v[0] == 'y';
}

static void walk(struct diff *d, int dfd, size_t len, int depth);

/* What the runtime makes in the upper folder for its mounts (Docker's
 * init layer, moby daemon/initlayer). */
static bool init_file(const char *path)
{
	static const char *const init[] = {"/etc/hostname",    "/etc/hosts",
					   "/etc/resolv.conf", "/etc/mtab",
					   "/.dockerenv",      "/dev/console",
					   "/dev/pts",	       "/dev/shm"};
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		if (!strcmp(path, init[i]))
			return true;
	return false;
}

/* Classify d->path (its name @name in folder @dfd, its length @len) and
 * walk into it when it is a folder. */
static void classify(struct diff *d, int dfd, const char *name, size_t len,
		     int depth)
{
	struct stat st, low;
	const char *path = d->path, *rel = d->path + 1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return; /* gone meanwhile */
	bool dir = S_ISDIR(st.st_mode);
	int kind;
	if ((S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) ||
	    (dir && d->n_lower && opaque(dfd, name) &&
	     in_lower(d, rel, &low))) {
		kind = KIND_D;
	} else if (in_lower(d, rel, &low)) {
		kind = KIND_C;
		if (dir && S_ISDIR(low.st_mode) && st.st_mode == low.st_mode)
			kind = -1; /* listed if something in it changes */
	} else {
		kind = KIND_A;
	}
	if (kind == KIND_A || kind == KIND_D)
		parent_changed(d, path);
	if (kind >= 0 && !(dir && json_object_get(d->dirs, path)))
		add(d, path, kind);
	if (dir && kind >= 0)
		mark_dir(d, path);
	if (dir && depth < RT__DIFF_DEPTH && d->rc == 0) {
		int fd =
			openat(dfd, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			walk(d, fd, len, depth + 1); /* closes fd */
	}
}

static void entry(struct diff *d, int dfd, const char *name, size_t len,
		  int depth)
{
	size_t n = strlen(name);
	if (len + 1 + n >= sizeof(d->path))
		return;
	d->path[len] = '/';
	memcpy(d->path + len + 1, name, n + 1);
	if (!init_file(d->path))
		classify(d, dfd, name, len + 1 + n, depth);
	d->path[len] = '\0';
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

static void walk(struct diff *d, int dfd, size_t len, int depth)
{
	struct dirent **names;
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dfd);
	int n = scandir(self, &names, not_dots, by_name);
	for (int i = 0; i < n; i++) {
		if (d->rc == 0)
			entry(d, dfd, names[i]->d_name, len, depth);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	close(dfd);
}

int rt_container_changes(struct rt *rt, const char *id, json_t **out)
{
	struct rt__state st;
	const struct rt__config *c = rt__config_of(rt, id, &st);
	struct diff d = {0};
	char *upper;
	int fd, rc = 0;

	*out = NULL;
	if (!c)
		return SHOAL_ENOTFOUND;
	d.out = json_array();
	d.dirs = json_object();
	d.lower = shoal_calloc(c->n_lower + 1, sizeof(int));
	upper = rt__path("%s/upper", c->dir);
	if (!d.out || !d.dirs || !d.lower || !upper) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (size_t i = 0; i < c->n_lower; i++) {
		d.lower[d.n_lower] =
			open(c->lower[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (d.lower[d.n_lower] >= 0)
			d.n_lower++;
	}
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto err_close;
	}
	walk(&d, fd, 0, 0);
	rc = d.rc;
err_close:
	for (size_t i = 0; i < d.n_lower; i++)
		close(d.lower[i]);
err_free:
	shoal_free(upper);
	shoal_free(d.lower);
	json_decref(d.dirs);
	if (rc < 0)
		json_decref(d.out);
	else
		*out = d.out;
	return rc;
}
