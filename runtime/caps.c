/*
 * Capabilities without libcap: names, Docker's default set, --cap-add and
 * --cap-drop, and applying a set with prctl(2) and capset(2) directly:
 * bounding = permitted = effective = the set, inheritable and ambient
 * empty. For a non-root user exec then leaves permitted and effective
 * empty (capabilities(7)), unless a file's own permitted capabilities
 * grant some within the bounding set, as with Docker.
 *
 * Docker's default set (moby's oci/caps/defaults.go): CHOWN, DAC_OVERRIDE,
 * FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
 * NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE. Drops apply after adds,
 * "ALL" names every capability, as in Docker.
 */
#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

static const char *const cap_names[RT_CAP_LAST + 1] = {
	"CHOWN",
	"DAC_OVERRIDE",
	"DAC_READ_SEARCH",
	"FOWNER",
	"FSETID",
	"KILL",
	"SETGID",
	"SETUID",
	"SETPCAP",
	"LINUX_IMMUTABLE",
	"NET_BIND_SERVICE",
	"NET_BROADCAST",
	"NET_ADMIN",
	"NET_RAW",
	"IPC_LOCK",
	"IPC_OWNER",
	"SYS_MODULE",
	"SYS_RAWIO",
	"SYS_CHROOT",
	"SYS_PTRACE",
	"SYS_PACCT",
	"SYS_ADMIN",
	"SYS_BOOT",
	"SYS_NICE",
	"SYS_RESOURCE",
	"SYS_TIME",
	"SYS_TTY_CONFIG",
	"MKNOD",
	"LEASE",
	"AUDIT_WRITE",
	"AUDIT_CONTROL",
	"SETFCAP",
	"MAC_OVERRIDE",
	"MAC_ADMIN",
	"SYSLOG",
	"WAKE_ALARM",
	"BLOCK_SUSPEND",
	"AUDIT_READ",
	"PERFMON",
	"BPF",
	"CHECKPOINT_RESTORE",
};

const char *rt__cap_name(int cap)
{
	return cap >= 0 && cap <= RT_CAP_LAST ? cap_names[cap] : NULL;
}

int rt__cap_from_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (int i = 0; i <= RT_CAP_LAST; i++)
		if (!strcasecmp(name, cap_names[i]))
			return i;
	return -1;
}

uint64_t rt__caps_default(void)
{
	static const int def[] = {
		CAP_CHOWN,
		CAP_DAC_OVERRIDE,
		CAP_FSETID,
		CAP_FOWNER,
		CAP_MKNOD,
		CAP_NET_RAW,
		CAP_SETGID,
		CAP_SETUID,
		CAP_SETFCAP,
		CAP_SETPCAP,
		CAP_NET_BIND_SERVICE,
		CAP_SYS_CHROOT,
		CAP_KILL,
		CAP_AUDIT_WRITE,
	};
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
		m |= 1ULL << def[i];
	return m;
}

uint64_t rt__caps_all(void)
{
	return (1ULL << (RT_CAP_LAST + 1)) - 1;
}

static int apply_list(const char *const *list, uint64_t *mask, bool add,
		      struct shoal_err *err)
{
	for (size_t i = 0; list && list[i]; i++) {
		int cap;
		if (!strcasecmp(list[i], "ALL")) {
			*mask = add ? rt__caps_all() : 0;
			continue;
		}
		cap = rt__cap_from_name(list[i]);
		if (cap < 0) {
			rt__err(err, "unknown capability: \"%s\"", list[i]);
			return -EINVAL;
		}
		if (add)
			*mask |= 1ULL << cap;
		else
			*mask &= ~(1ULL << cap);
	}
	return 0;
}

int rt__caps_compute(const char *const *add, const char *const *drop,
		     bool privileged, uint64_t *out, struct shoal_err *err)
{
	uint64_t m = privileged ? rt__caps_all() : rt__caps_default();
	int rc;

	/* Docker: drops first (so "--cap-drop ALL --cap-add X" is just X),
	 * then adds. */
	rc = apply_list(drop, &m, false, err);
	if (rc == 0)
		rc = apply_list(add, &m, true, err);
	if (rc == 0)
		*out = m;
	return rc;
}

int rt__caps_bound(uint64_t caps)
{
	int last = RT_CAP_LAST;
	char buf[16];
	FILE *f;

	/* The running kernel may know fewer capabilities than we do. */
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			last = atoi(buf);
		fclose(f);
	}
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (caps & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

int rt__caps_apply(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	/* Never ask for more than we hold: a host (or a sandbox around
	 * the daemon) may have dropped some from its bounding set, and
	 * "all capabilities" then means all of those left. */
	if (syscall(SYS_capget, &hdr, data) == 0)
		caps &= (uint64_t)data[0].permitted |
			((uint64_t)data[1].permitted << 32);
	/* Inheritable stays empty (Docker since 20.10.14): with it, a user
	 * would gain, through any file with inheritable file capabilities,
	 * what exec otherwise takes from it (CVE-2022-24769). */
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)caps;
	data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}
