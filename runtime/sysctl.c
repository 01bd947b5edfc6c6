/*
 * --sysctl: kernel parameters set inside the container.
 *
 * Only parameters the kernel keeps per namespace may be set, and only when
 * the container has that namespace of its own, otherwise the host itself
 * would change: the IPC ones (kernel.msgmax, kernel.msgmnb, kernel.msgmni,
 * kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni,
 * kernel.shm_rmid_forced, fs.mqueue.*) need a private IPC namespace,
 * net.* a network namespace other than the host's, kernel.domainname and
 * kernel.hostname a UTS namespace of its own. That is runc's rule
 * (libcontainer/configs/validate) and Docker's, with runc's words for the
 * refusals; Shoal refuses at create instead of failing at start.
 *
 * The init writes each value to /proc/sys/<key with '.' as '/'> after
 * pivot_root, inside the container's namespaces and before /proc/sys is
 * made read-only (mounts.c). Keys are checked to be plain names (letters,
 * digits, '_', '-', '.'; no "..", no '/') so the path cannot leave
 * /proc/sys; values may not hold a line break.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

static const char *const ipc_keys[] = {
	"kernel.msgmax",
	"kernel.msgmnb",
	"kernel.msgmni",
	"kernel.sem",
	"kernel.shmall",
	"kernel.shmmax",
	"kernel.shm_rmid_forced",
	"kernel.shmmni",
	NULL,
};

static bool key_ok(const char *k, size_t n)
{
	if (n == 0 || n > 200 || k[0] == '.' || k[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)k[i]) && !strchr("_-.", k[i]))
			return false;
		if (k[i] == '.' && k[i + 1] == '.')
			return false;
	}
	return true;
}

int rt_sysctl_check(const char *kv, const struct rt_sysctl_ns *ns,
		    struct shoal_err *err)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t n = eq ? (size_t)(eq - kv) : 0;
	char key[256];

	if (!eq || !key_ok(kv, n) || strpbrk(eq + 1, "\n\r") ||
	    strlen(eq + 1) > 4096) {
		rt__err(err,
			"invalid argument \"%.256s\" for \"--sysctl\" flag",
			kv ? kv : "");
		return -EINVAL;
	}
	memcpy(key, kv, n);
	key[n] = '\0';
	for (size_t i = 0; ipc_keys[i]; i++)
		if (!strcmp(key, ipc_keys[i]))
			goto ipc;
	if (!strncmp(key, "fs.mqueue.", 10))
		goto ipc;
	if (!strncmp(key, "net.", 4)) {
		if (ns->host_net) {
			rt__err(err,
				"sysctl \"%s\" not allowed in host network "
				"namespace",
				key);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "kernel.domainname") ||
	    !strcmp(key, "kernel.hostname")) {
		if (ns->host_uts) {
			rt__err(err,
				"sysctl \"%s\" is not allowed as it conflicts "
				"with the OCI \"hostname\" field or the host's "
				"UTS namespace",
				key);
			return -EINVAL;
		}
		return 0;
	}
	rt__err(err, "sysctl \"%s\" is not in a separate kernel namespace",
		key);
	return -EINVAL;
ipc:
	if (ns->host_ipc) {
		rt__err(err,
			"sysctl \"%s\" is not allowed in the host's IPC "
			"namespace (--ipc host)",
			key);
		return -EINVAL;
	}
	return 0;
}

int rt__sysctls_apply(const struct rt__config *c, struct shoal_err *err)
{
	for (size_t i = 0; i < c->n_sysctls; i++) {
		const char *kv = c->sysctls[i], *eq = strchr(kv, '=');
		char path[300];
		size_t n;
		ssize_t w;
		int fd;
		if (!eq || (size_t)(eq - kv) > 200)
			return -EINVAL;
		n = (size_t)snprintf(path, sizeof(path), "/proc/sys/%.*s",
				     (int)(eq - kv), kv);
		for (size_t j = 10; j < n; j++)
			if (path[j] == '.')
				path[j] = '/';
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			rt__err(err, "cannot set sysctl %.*s: %s",
				(int)(eq - kv), kv, strerror(errno));
			return -errno;
		}
		w = write(fd, eq + 1, strlen(eq + 1));
		if (w < 0) {
			int e = errno;
			close(fd);
			rt__err(err, "cannot set sysctl %.*s to %s: %s",
				(int)(eq - kv), kv, eq + 1, strerror(e));
			return -e;
		}
		close(fd);
	}
	return 0;
}
