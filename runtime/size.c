/*
 * Disk usage, as Docker reports it: a container's writable layer (its
 * overlay's upper folder, Docker's SizeRw) and a volume's data. Docker's
 * rule (moby pkg/directory, Size): the st_size of every entry that is not
 * a folder, each inode counted once; folders themselves count nothing.
 *
 * The walk uses *at() calls relative to folder descriptors and never
 * follows a symbolic link, so a link planted by a container's process
 * cannot send it outside the tree. Depth is bounded (RT__SIZE_DEPTH); a
 * deeper tree is counted down to that depth. Entries that vanish during
 * the walk (a running container deletes files) are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/map.h"
#include "runtime/internal.h"

#define RT__SIZE_DEPTH 256

struct walk {
	struct hmap inodes; /* inodes with several links already counted */
	uint64_t bytes;
};

static void walk_dir(struct walk *w, int dfd, int depth);

static void count(struct walk *w, int dfd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int fd;

		if (depth >= RT__SIZE_DEPTH)
			return;
		fd = openat(dfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			walk_dir(w, fd, depth + 1); /* closes fd */
		return;
	}
	if (st.st_size <= 0)
		return;
	if (st.st_nlink > 1) {
		uint64_t key = (uint64_t)st.st_ino;
		if (hmap_get_u64(&w->inodes, key))
			return;
		/* Out of memory: a hard link may be counted twice. */
		hmap_put_u64(&w->inodes, key, (void *)1, NULL);
	}
	w->bytes += (uint64_t)st.st_size;
}

static void walk_dir(struct walk *w, int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		count(w, dirfd(d), e->d_name, depth);
	}
	closedir(d);
}

static int tree_size(const char *path, uint64_t *out)
{
	struct walk w = {.inodes = HMAP_INIT};
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	*out = 0;
	if (fd < 0)
		return -errno;
	walk_dir(&w, fd, 0);
	hmap_fini(&w.inodes);
	*out = w.bytes;
	return 0;
}

int rt_container_rw_size(struct rt *rt, const char *id, uint64_t *bytes)
{
	struct rt__state st;
	const struct rt__config *c = rt__config_of(rt, id, &st);
	char *upper;
	int rc;

	*bytes = 0;
	if (!c)
		return SHOAL_ENOTFOUND;
	upper = rt__path("%s/upper", c->dir);
	if (!upper)
		return -ENOMEM;
	rc = tree_size(upper, bytes);
	shoal_free(upper);
	return rc;
}

int rt_volume_size(struct rt *rt, const char *name, uint64_t *bytes)
{
	struct rt_volume_info vi;
	int rc = rt_volume_inspect(rt, name, &vi);

	*bytes = 0;
	return rc < 0 ? rc : tree_size(vi.mountpoint, bytes);
}
