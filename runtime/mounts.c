/*
 * The container's filesystem, built by its init in its own mount namespace
 * (so every mount below vanishes with the namespace: nothing to unmount on
 * the host when the container dies).
 *
 * Order: make "/" rprivate so nothing propagates back to the host; mount
 * the overlay (lower dirs from the image, upper/work in the container's
 * folder) at <run-dir>/rootfs; bind volumes, mount tmpfs; /proc, /sys
 * (read-only), a tmpfs /dev with null, zero, full, random, urandom and tty
 * nodes, a private devpts (ptmx -> pts/ptmx), shm and mqueue; bind the
 * container's hostname, hosts and resolv.conf; pivot_root into the rootfs
 * and detach the old root; then Docker's masked paths (files covered by
 * /dev/null, dirs by an empty read-only tmpfs) and read-only /proc paths.
 * A privileged container skips the masks and gets the host's devices.
 *
 * Mount points for volumes, tmpfs and the /etc files are resolved with
 * openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd, so symlinks
 * in the image cannot place a mount outside the rootfs (open_target()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/path.h"
#include "runtime/internal.h"

#define PATH_BUF 4096

/* snprintf into a PATH_BUF buffer; a path too long fails at its use. */
static int pathf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_BUF, fmt, ap);
	va_end(ap);
	return n;
}

static const char *const masked_paths[] = {
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
	NULL,
};

static const char *const readonly_paths[] = {
	"/proc/bus",	       "/proc/fs", "/proc/irq", "/proc/sys",
	"/proc/sysrq-trigger", NULL,
};

static int fail(struct shoal_err *err, int rc, const char *what,
		const char *path)
{
	rt__err(err, "%s %s: %s", what, path, strerror(-rc));
	return rc;
}

static int do_mount(const char *src, const char *dst, const char *type,
		    unsigned long flags, const char *data,
		    struct shoal_err *err)
{
	if (mount(src, dst, type, flags, data) < 0)
		return fail(err, -errno, type ? type : "mount", dst);
	return 0;
}

/* Make @path (inside the rootfs) a directory or, when @file, an empty
 * file, creating parents. */
static int make_target(const char *path, bool file)
{
	char parent[4096];
	char *slash;
	int fd;

	if (!file)
		return path_mkdir_p(path, 0755);
	pathf(parent, "%s", path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (path_mkdir_p(parent, 0755) < 0)
			return -errno;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ELOOP) {
		/* A symlink (resolv.conf often is): replace it in the upper
		 * layer rather than follow it out of the rootfs. */
		unlink(path);
		fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			  0644);
	}
	if (fd < 0)
		return errno == EISDIR ? 0 : -errno;
	close(fd);
	return 0;
}

/* /proc, /sys, /dev: real directories of the rootfs, never an image's
 * symlink pointing elsewhere (it is replaced in the upper layer). */
static int top_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		if (unlink(path) < 0)
			return -errno;
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Open (making what is missing) the mount point @rel, an absolute path in
 * the container, without ever leaving @rootfs: every prefix is resolved
 * with openat2(RESOLVE_IN_ROOT), so a symlink in the image (even an
 * absolute one, or "..") resolves inside the rootfs as it would in the
 * container. Missing parts are made in the already-resolved parent; a
 * symlink in the last place of a file (resolv.conf often is one) is
 * replaced. Returns an O_PATH fd to mount on through /proc/self/fd.
 */
static int open_target(const char *rootfs, const char *rel, bool file)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve =
				       RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	char prefix[PATH_BUF];
	int root, parent, fd = -1, rc = 0;
	size_t len = strlen(rel), at = 0;

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	parent = fcntl(root, F_DUPFD_CLOEXEC, 3);
	while (rc == 0 && at < len) {
		size_t start, n;
		bool last;
		while (at < len && rel[at] == '/')
			at++;
		start = at;
		while (at < len && rel[at] != '/')
			at++;
		n = at - start;
		if (n == 0)
			break;
		last = rel[at + strspn(rel + at, "/")] == '\0';
		memcpy(prefix, rel, at);
		prefix[at] = '\0';
		char name[256];
		if (n >= sizeof(name)) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(name, rel + start, n);
		name[n] = '\0';
		fd = (int)syscall(SYS_openat2, root, prefix, &how, sizeof(how));
		if (fd < 0 && errno == ENOENT) {
			if (last && file) {
				int f = openat(parent, name,
					       O_WRONLY | O_CREAT | O_NOFOLLOW |
						       O_CLOEXEC,
					       0644);
				if (f < 0 && errno == ELOOP &&
				    unlinkat(parent, name, 0) == 0)
					f = openat(parent, name,
						   O_WRONLY | O_CREAT |
							   O_NOFOLLOW |
							   O_CLOEXEC,
						   0644);
				if (f >= 0)
					close(f);
			} else if (mkdirat(parent, name, 0755) < 0 &&
				   errno != EEXIST) {
				rc = -errno;
				break;
			}
			fd = (int)syscall(SYS_openat2, root, prefix, &how,
					  sizeof(how));
		}
		if (fd < 0) {
			rc = -errno;
			break;
		}
		close(parent);
		parent = fd;
		fd = -1;
	}
	close(root);
	if (rc < 0) {
		close(parent);
		return rc;
	}
	return parent;
}

/* Mount onto @rel inside @rootfs, through open_target(). */
static int mount_in_root(const char *rootfs, const char *rel, bool file,
			 const char *src, const char *type, unsigned long flags,
			 const char *data, struct shoal_err *err)
{
	char via[64], shown[PATH_BUF];
	int fd = open_target(rootfs, rel, file), rc = 0;

	pathf(shown, "%s%s", rootfs, rel);
	if (fd < 0)
		return fail(err, fd, "cannot create mount point", shown);
	snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
	if (mount(src, via, type, flags, data) < 0)
		rc = fail(err, -errno, type ? type : "mount", shown);
	close(fd);
	if (rc < 0 || !(flags & MS_BIND) || !(flags & MS_RDONLY))
		return rc;
	/* A read-only bind needs a remount of the new mount itself: the
	 * fd above is the mount point under it, so open the target again. */
	fd = open_target(rootfs, rel, file);
	if (fd < 0)
		return fail(err, fd, "read-only remount", shown);
	snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
	if (mount(NULL, via, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC,
		  NULL) < 0)
		rc = fail(err, -errno, "read-only remount", shown);
	close(fd);
	return rc;
}

/* A host path bound at @rel in the rootfs. */
static int bind_in_root(const char *src, const char *rootfs, const char *rel,
			bool ro, struct shoal_err *err)
{
	struct stat st;

	if (stat(src, &st) < 0)
		return fail(err, -errno, "bind mount source", src);
	return mount_in_root(rootfs, rel, !S_ISDIR(st.st_mode), src, NULL,
			     MS_BIND | MS_REC | (ro ? MS_RDONLY : 0), NULL,
			     err);
}

static int bind_mount(const char *src, const char *dst, bool ro,
		      struct shoal_err *err)
{
	struct stat st;
	int rc;

	if (stat(src, &st) < 0)
		return fail(err, -errno, "bind mount source", src);
	rc = make_target(dst, !S_ISDIR(st.st_mode));
	if (rc < 0)
		return fail(err, rc, "cannot create mount point", dst);
	rc = do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL, err);
	if (rc == 0 && ro)
		rc = do_mount(NULL, dst, NULL,
			      MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL,
			      err);
	return rc;
}

/* Attach the monitor's idmapped layer mounts at <run-dir>/lower<i>. */
static int attach_layers(const struct rt__config *c, const int *layers,
			 struct shoal_err *err)
{
	char path[PATH_BUF];

	for (size_t i = 0; i < c->n_lower; i++) {
		pathf(path, "%s/lower%zu", c->run_dir, i);
		if (move_mount(layers[i], "", AT_FDCWD, path,
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return fail(err, -errno, "attach idmapped layer", path);
	}
	return 0;
}

static int mount_overlay(const struct rt__config *c, const char *rootfs,
			 const int *layers, struct shoal_err *err)
{
	char opts[4096], lower[PATH_BUF];
	size_t o = 0;
	int n;

	if (layers && attach_layers(c, layers, err) < 0)
		return -EIO;
	n = snprintf(opts, sizeof(opts), "lowerdir=");
	o = (size_t)n;
	for (size_t i = c->n_lower; i-- > 0;) {
		if (layers)
			pathf(lower, "%s/lower%zu", c->run_dir, i);
		n = snprintf(opts + o, sizeof(opts) - o, "%s%s",
			     layers ? lower : c->lower[i], i ? ":" : "");
		if (n < 0 || (size_t)n >= sizeof(opts) - o)
			goto too_long;
		o += (size_t)n;
	}
	/* In a user namespace trusted.* xattrs are out of reach: overlay
	 * keeps its metadata in user.* instead. */
	n = snprintf(opts + o, sizeof(opts) - o,
		     ",upperdir=%s/upper,workdir=%s/work%s", c->dir, c->dir,
		     c->userns_size ? ",userxattr" : "");
	if (n < 0 || (size_t)n >= sizeof(opts) - o)
		goto too_long;
	return do_mount("overlay", rootfs, "overlay", 0, opts, err);
too_long:
	rt__err(err, "too many image layers for one overlay mount");
	return -E2BIG;
}

/* tmpfs options: flags out of the data string, as mount(8) does. */
static int mount_tmpfs(const struct rt__mount *m, const char *rootfs,
		       struct shoal_err *err)
{
	unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char data[512] = "", opts[512];
	size_t d = 0;

	snprintf(opts, sizeof(opts), "%s", m->options ? m->options : "");
	for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
		if (!strcmp(o, "ro"))
			flags |= MS_RDONLY;
		else if (!strcmp(o, "rw"))
			flags &= ~(unsigned long)MS_RDONLY;
		else if (!strcmp(o, "exec"))
			flags &= ~(unsigned long)MS_NOEXEC;
		else if (!strcmp(o, "noexec"))
			flags |= MS_NOEXEC;
		else if (!strcmp(o, "suid"))
			flags &= ~(unsigned long)MS_NOSUID;
		else if (!strcmp(o, "nosuid"))
			flags |= MS_NOSUID;
		else if (!strcmp(o, "dev"))
			flags &= ~(unsigned long)MS_NODEV;
		else if (!strcmp(o, "nodev"))
			flags |= MS_NODEV;
		else if (strchr(o, '='))
			d += (size_t)snprintf(data + d, sizeof(data) - d,
					      "%s%s", d ? "," : "", o);
	}
	return mount_in_root(rootfs, m->target, false, "tmpfs", "tmpfs", flags,
			     data, err);
}

static int mount_volumes(const struct rt__config *c, const char *rootfs,
			 struct shoal_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < c->n_mounts && rc == 0; i++) {
		const struct rt__mount *m = &c->mounts[i];
		if (m->kind == RT_MOUNT_TMPFS)
			rc = mount_tmpfs(m, rootfs, err);
		else
			rc = bind_in_root(m->source, rootfs, m->target,
					  m->readonly, err);
	}
	return rc;
}

static int make_dev_node(const char *dev, const char *name, mode_t mode,
			 unsigned maj, unsigned min, bool userns,
			 struct shoal_err *err)
{
	char path[4096], host[64];

	pathf(path, "%s/%s", dev, name);
	if (!userns && mknod(path, mode | 0666, makedev(maj, min)) == 0)
		return chmod(path, 0666) < 0 ? -errno : 0;
	/* In a user namespace mknod is refused: bind the host's node. */
	snprintf(host, sizeof(host), "/dev/%s", name);
	return bind_mount(host, path, false, err);
}

/* Privileged: every char and block device of the host. */
static int copy_host_devices(const char *dev)
{
	struct dirent *e;
	DIR *d = opendir("/dev");
	char path[4096];
	struct stat st;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		pathf(path, "/dev/%s", e->d_name);
		if (lstat(path, &st) < 0 ||
		    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ||
		    !strcmp(e->d_name, "console") || !strcmp(e->d_name, "ptmx"))
			continue;
		pathf(path, "%s/%s", dev, e->d_name);
		if (mknod(path, st.st_mode, st.st_rdev) == 0 &&
		    chown(path, st.st_uid, st.st_gid) < 0)
			continue;
	}
	closedir(d);
	return 0;
}

/*
 * /dev/shm: a tmpfs of --shm-size (64 MiB by default); --ipc host binds
 * the host's; --ipc shareable and container:X bind the host-side tmpfs
 * of the shareable container (ns_join.c), never anything inside another
 * container's rootfs.
 */
static int mount_shm(const struct rt__config *c, const char *path,
		     struct shoal_err *err)
{
	char data[64], src[PATH_BUF];

	if (!strcmp(c->ipc_mode, "host"))
		return bind_mount("/dev/shm", path, false, err);
	if (!strcmp(c->ipc_mode, "shareable") ||
	    !strncmp(c->ipc_mode, "ctr:", 4)) {
		/* Made by our monitor, or the donor's (ns_join.c). */
		if (!strcmp(c->ipc_mode, "shareable"))
			pathf(src, "%s/shm", c->run_dir);
		else
			pathf(src, "%s/../%s/shm", c->run_dir, c->ipc_mode + 4);
		return do_mount(src, path, NULL, MS_BIND, NULL, err);
	}
	snprintf(data, sizeof(data), "mode=1777,size=%lldk",
		 (long long)((c->shm_size > 0 ? c->shm_size : 64LL << 20) +
			     1023) /
			 1024);
	return do_mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			data, err);
}

/* --device: each node made (or, in a user namespace, bound) at its path
 * below the fresh /dev tmpfs, with the host node's mode and owner. */
static int make_devices(const struct rt__config *c, const char *dev,
			struct shoal_err *err)
{
	char path[PATH_BUF];
	int rc;

	for (size_t i = 0; i < c->n_devices; i++) {
		const struct rt__device *d = &c->devices[i];
		pathf(path, "%s/%s", dev, d->path + 5);
		rc = make_target(path, true);
		if (rc == 0)
			unlink(path);
		if (rc < 0)
			return fail(err, rc, "cannot create device", d->path);
		if (c->userns_size) {
			rc = bind_mount(d->host, path, false, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (mknod(path,
			  (d->type == 'b' ? S_IFBLK : S_IFCHR) |
				  (d->mode & 0777),
			  makedev(d->major, d->minor)) < 0 ||
		    chmod(path, d->mode & 07777) < 0 ||
		    chown(path, d->uid, d->gid) < 0)
			return fail(err, -errno, "cannot create device",
				    d->path);
	}
	return 0;
}

static int mount_dev(const struct rt__config *c, const char *rootfs,
		     struct shoal_err *err)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {
		{"null", 1, 3},	  {"zero", 1, 5},    {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	};
	static const char *const links[][2] = {
		{"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
		{"pts/ptmx", "ptmx"},
	};
	bool userns = c->userns_size > 0;
	char dev[4096], path[4096];
	int rc;

	pathf(dev, "%s/dev", rootfs);
	rc = top_dir(dev);
	if (rc == 0)
		rc = do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME,
			      "mode=755,size=65536k", err);
	for (size_t i = 0; rc == 0 && i < sizeof(nodes) / sizeof(nodes[0]); i++)
		rc = make_dev_node(dev, nodes[i].name, S_IFCHR, nodes[i].maj,
				   nodes[i].min, userns, err);
	if (rc == 0 && c->privileged && !userns)
		copy_host_devices(dev);
	/* Before the links: no --device path may go through one. */
	if (rc == 0)
		rc = make_devices(c, dev, err);
	for (size_t i = 0; rc == 0 && i < sizeof(links) / sizeof(links[0]);
	     i++) {
		pathf(path, "%s/%s", dev, links[i][1]);
		if (symlink(links[i][0], path) < 0 && errno != EEXIST)
			rc = fail(err, -errno, "symlink", path);
	}
	if (rc < 0)
		return rc;
	pathf(path, "%s/pts", dev);
	mkdir(path, 0755);
	rc = do_mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		      userns ? "newinstance,ptmxmode=0666,mode=0620"
			     : "newinstance,ptmxmode=0666,mode=0620,gid=5",
		      err);
	pathf(path, "%s/shm", dev);
	mkdir(path, 01777);
	if (rc == 0)
		rc = mount_shm(c, path, err);
	pathf(path, "%s/mqueue", dev);
	mkdir(path, 0755);
	if (rc == 0)
		rc = do_mount("mqueue", path, "mqueue",
			      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
	return rc;
}

static int mount_proc_sys(const struct rt__config *c, const char *rootfs,
			  struct shoal_err *err)
{
	char path[4096];
	int rc;

	pathf(path, "%s/proc", rootfs);
	rc = top_dir(path);
	if (rc == 0)
		rc = do_mount("proc", path, "proc",
			      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
	if (rc < 0)
		return rc;
	pathf(path, "%s/sys", rootfs);
	rc = top_dir(path);
	if (rc < 0)
		return fail(err, rc, "cannot create", path);
	if (mount("sysfs", path, "sysfs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC |
			  (c->privileged ? 0 : MS_RDONLY),
		  NULL) == 0)
		return 0;
	/* Sharing the host's network namespace from a user namespace: sysfs
	 * cannot be mounted; bind the host's read-only instead. */
	return bind_mount("/sys", path, true, err);
}

static int bind_etc(const struct rt__config *c, const char *rootfs,
		    struct shoal_err *err)
{
	static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
	char src[4096], dst[64];
	int rc = 0;

	for (size_t i = 0; i < 3 && rc == 0; i++) {
		pathf(src, "%s/%s", c->dir, files[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", files[i]);
		rc = bind_in_root(src, rootfs, dst, false, err);
	}
	return rc;
}

static int do_pivot(const char *rootfs, struct shoal_err *err)
{
	if (chdir(rootfs) < 0)
		return fail(err, -errno, "chdir", rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, -errno, "pivot_root", rootfs);
	/* The old root sits on top of the new one: detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return fail(err, -errno, "umount old root", rootfs);
	if (chdir("/") < 0)
		return -errno;
	return 0;
}

static int mask_paths(struct shoal_err *err)
{
	struct stat st;

	for (size_t i = 0; masked_paths[i]; i++) {
		const char *p = masked_paths[i];
		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
				return fail(err, -errno, "mask", p);
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			return fail(err, -errno, "mask", p);
		}
	}
	for (size_t i = 0; readonly_paths[i]; i++) {
		const char *p = readonly_paths[i];
		if (stat(p, &st) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0)
			return fail(err, -errno, "read-only", p);
	}
	return 0;
}

int rt__overlay_mount(const struct rt__config *c, const char *target,
		      struct shoal_err *err)
{
	return mount_overlay(c, target, NULL, err);
}

int rt__pivot_root(const char *rootfs, struct shoal_err *err)
{
	return do_pivot(rootfs, err);
}

int rt__rootfs_setup(const struct rt__config *c, const int *layers,
		     struct shoal_err *err)
{
	char rootfs[4096];
	int rc;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, -errno, "make rprivate", "/");
	pathf(rootfs, "%s/rootfs", c->run_dir);
	rc = mount_overlay(c, rootfs, layers, err);
	if (rc == 0)
		rc = mount_volumes(c, rootfs, err);
	if (rc == 0)
		rc = mount_proc_sys(c, rootfs, err);
	if (rc == 0)
		rc = mount_dev(c, rootfs, err);
	if (rc == 0)
		rc = bind_etc(c, rootfs, err);
	if (rc == 0 && c->init_path)
		rc = bind_in_root(c->init_path, rootfs, RT__INIT_TARGET, true,
				  err);
	if (rc == 0)
		rc = do_pivot(rootfs, err);
	/* Before /proc/sys turns read-only. */
	if (rc == 0)
		rc = rt__sysctls_apply(c, err);
	if (rc == 0 && !c->privileged)
		rc = mask_paths(err);
	/* Read-only last: the mount points above live in the upper layer. */
	if (rc == 0 && c->readonly_rootfs &&
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		rc = fail(err, -errno, "read-only remount", "/");
	return rc;
}
