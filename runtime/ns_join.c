/*
 * --pid, --ipc, --uts: which namespaces the container's init gets.
 *
 * Run by the monitor right before it clones the init. "private" (and
 * ipc "shareable", whose namespace any later container may join) asks
 * clone() for a new namespace; "host" asks for none, so the init shares
 * the monitor's, which are the host's; "ctr:<id>" joins those of another
 * container's init: the monitor reads that container's state.json (a
 * sibling folder of its own), checks that the recorded pid still has the
 * recorded start time (pids get reused), and setns()es itself into the
 * namespace through /proc/<pid>/ns/<name>. For a pid namespace setns() only
 * affects the children made afterwards, which is exactly the init; the
 * monitor has no other child and makes none later (exec sessions are run
 * by a separate helper). A container that is not running is refused with
 * Docker's words.
 *
 * /dev/shm of a shareable IPC namespace is, as in Docker, a tmpfs the
 * monitor mounts on the host side at <run-dir>/shm (the container binds
 * it); a container joining that namespace binds the same folder, so both
 * see the same files. The monitor unmounts it when its container exits
 * (the joiners keep their binds), and so does removal.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

/* The running init of container @id, a sibling of @c. */
static int running_init(const struct rt__config *c, const char *id,
			const char *what, pid_t *pid, struct shoal_err *err)
{
	char *dir = rt__path("%s/../%s", c->dir, id);
	struct rt__state st;
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = rt__state_load(dir, &st);
	shoal_free(dir);
	char state = '\0';
	/* An init that exited but is not reaped yet (a zombie, or dead) has
	 * its start time still, and namespaces nothing can join any more. */
	if (rc < 0 || st.status != RT_STATUS_RUNNING || st.pid <= 0 ||
	    rt__proc_live_start_time(st.pid, &state) != st.pid_start ||
	    state == 'Z' || state == 'X' || state == 'x') {
		rt__err(err, "cannot join %s of a non running container: %s",
			what, id);
		return -ESRCH;
	}
	*pid = st.pid;
	return 0;
}

/* Whether container @id's /dev/shm is the host-side tmpfs of a
 * shareable IPC namespace (<run-dir>/shm, a mount point). */
static int shareable(const struct rt__config *c, const char *id,
		     struct shoal_err *err)
{
	char *shm = rt__path("%s/../%s/shm", c->run_dir, id);
	char *dir = rt__path("%s/../%s", c->run_dir, id);
	struct stat a, b;
	int rc = 0;

	if (!shm || !dir)
		rc = -ENOMEM;
	else if (stat(shm, &a) < 0 || stat(dir, &b) < 0 ||
		 a.st_dev == b.st_dev) {
		rt__err(err,
			"cannot join IPC of container %s: non-shareable IPC "
			"(hint: use --ipc shareable for the donor container)",
			id);
		rc = -EINVAL;
	}
	shoal_free(shm);
	shoal_free(dir);
	return rc;
}

int rt__shm_prepare(const struct rt__config *c, struct shoal_err *err)
{
	char *path, data[64];
	int rc = 0;

	if (strcmp(c->ipc_mode, "shareable"))
		return 0;
	path = rt__path("%s/shm", c->run_dir);
	if (!path)
		return -ENOMEM;
	snprintf(data, sizeof(data), "mode=1777,size=%lldk",
		 (long long)((c->shm_size > 0 ? c->shm_size : 64LL << 20) +
			     1023) /
			 1024);
	umount2(path, MNT_DETACH); /* a monitor killed earlier left it */
	if ((mkdir(path, 01777) < 0 && errno != EEXIST) ||
	    mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  data) < 0) {
		rc = -errno;
		rt__err(err, "cannot mount the shareable /dev/shm at %s: %s",
			path, strerror(errno));
	}
	shoal_free(path);
	return rc;
}

void rt__shm_release(const struct rt__config *c)
{
	char *path = rt__path("%s/shm", c->run_dir);

	if (path && umount2(path, MNT_DETACH) == 0)
		rmdir(path);
	shoal_free(path);
}

static int join(pid_t pid, const char *ns, int type, struct shoal_err *err)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, type) < 0) {
		rc = -errno;
		rt__err(err, "cannot join the %s namespace of pid %d: %s", ns,
			(int)pid, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int rt__ns_prepare(struct rt__config *c, unsigned long *flags,
		   struct shoal_err *err)
{
	pid_t pid;
	int rc;

	if (!strcmp(c->pid_mode, "host")) {
		*flags &= ~(unsigned long)CLONE_NEWPID;
	} else if (!strncmp(c->pid_mode, "ctr:", 4)) {
		rc = running_init(c, c->pid_mode + 4, "PID", &pid, err);
		if (rc == 0)
			rc = join(pid, "pid", CLONE_NEWPID, err);
		if (rc < 0)
			return rc;
		*flags &= ~(unsigned long)CLONE_NEWPID;
	}
	if (!strcmp(c->ipc_mode, "host")) {
		*flags &= ~(unsigned long)CLONE_NEWIPC;
	} else if (!strncmp(c->ipc_mode, "ctr:", 4)) {
		rc = running_init(c, c->ipc_mode + 4, "IPC", &pid, err);
		if (rc == 0)
			rc = shareable(c, c->ipc_mode + 4, err);
		if (rc == 0)
			rc = join(pid, "ipc", CLONE_NEWIPC, err);
		if (rc < 0)
			return rc;
		*flags &= ~(unsigned long)CLONE_NEWIPC;
	}
	if (!strcmp(c->uts_mode, "host"))
		*flags &= ~(unsigned long)CLONE_NEWUTS;
	return 0;
}
