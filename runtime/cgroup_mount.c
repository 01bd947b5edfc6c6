/*
 * /sys/fs/cgroup inside a container, as Docker (runc) mounts it: the
 * container sees its own cgroup as the root of every hierarchy, read-only
 * unless privileged.
 *
 * Run by the init after pivot_root and after unshare(CLONE_NEWCGROUP), so
 * a cgroup filesystem mounted now is rooted at the container's cgroup
 * (with --cgroupns host the namespace is the host's and the whole tree
 * shows, read-only). The hierarchies are those the init belongs to, read
 * from /proc/self/cgroup: on cgroup v2 one cgroup2 mount at /sys/fs/cgroup;
 * on v1 and hybrid hosts a tmpfs there with one folder per hierarchy
 * (a co-mounted "cpu,cpuacct" gets "cpu" and "cpuacct" links, named ones
 * like name=systemd their name, the v2 tree of a hybrid host "unified"),
 * the tmpfs made read-only last. Not done in a user namespace (mounting
 * cgroup filesystems there needs a delegated tree; /sys/fs/cgroup stays
 * empty, see docs/runtime.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/internal.h"

#define CG_DIR "/sys/fs/cgroup"

static int mount_fail(struct shoal_err *err, const char *what)
{
	int rc = -errno;

	rt__err(err, "cannot mount %s in the container: %s", what,
		strerror(errno));
	return rc;
}

/* One v1 hierarchy of @ctls ("memory", "cpu,cpuacct", "name=systemd"). */
static int mount_v1(const char *ctls, unsigned long flags,
		    struct shoal_err *err)
{
	const char *name = strncmp(ctls, "name=", 5) ? ctls : ctls + 5;
	char dir[300], data[300], link[300];

	if (strchr(name, '/') || !strcmp(name, "..") || !*name)
		return 0;
	snprintf(dir, sizeof(dir), CG_DIR "/%s", name);
	snprintf(data, sizeof(data), "%s%s", name == ctls ? "" : "none,", ctls);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return mount_fail(err, dir);
	if (mount("cgroup", dir, "cgroup", flags, data) < 0)
		return mount_fail(err, dir);
	if (name == ctls && strchr(ctls, ',')) {
		char copy[300];
		snprintf(copy, sizeof(copy), "%s", ctls);
		for (char *p = strtok(copy, ","); p; p = strtok(NULL, ",")) {
			snprintf(link, sizeof(link), CG_DIR "/%s", p);
			if (symlink(name, link) < 0 && errno != EEXIST)
				return mount_fail(err, link);
		}
	}
	return 0;
}

int rt__cgroup_mount(const struct rt__config *c, struct shoal_err *err)
{
	unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC |
			      (c->privileged ? 0 : MS_RDONLY);
	char line[512];
	bool v1 = false, v2 = false;
	FILE *f = fopen("/proc/self/cgroup", "re");
	int rc = 0;

	if (!f)
		return mount_fail(err, "/proc/self/cgroup");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3))
			v2 = true;
		else
			v1 = true;
	if (!v1) {
		fclose(f);
		if (v2 && mount("cgroup2", CG_DIR, "cgroup2", flags, NULL) < 0)
			return mount_fail(err, CG_DIR);
		return 0;
	}
	if (mount("tmpfs", CG_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=755") < 0) {
		fclose(f);
		return mount_fail(err, CG_DIR);
	}
	rewind(f);
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *ctls = strchr(line, ':'), *end;
		if (!ctls || !(end = strchr(++ctls, ':')))
			continue;
		*end = '\0';
		if (*ctls)
			rc = mount_v1(ctls, flags, err);
		else if (mkdir(CG_DIR "/unified", 0755) < 0 ||
			 mount("cgroup2", CG_DIR "/unified", "cgroup2", flags,
			       NULL) < 0)
			rc = mount_fail(err, CG_DIR "/unified");
	}
	fclose(f);
	if (rc == 0 && !c->privileged &&
	    mount(NULL, CG_DIR, NULL,
		  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		rc = mount_fail(err, CG_DIR " read-only");
	return rc;
}
