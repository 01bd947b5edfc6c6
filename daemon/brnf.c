/*
 * --bridge-nf-call off: br_netfilter runs the IP hooks (conntrack, nft) for
 * every bridged frame when the bridge's nf_call_* flag or the network
 * namespace's net.bridge.bridge-nf-call-* sysctl is on. Shoal's bridges
 * keep the flag off; the sysctls are per network namespace and 1 by
 * default, so `off` writes 0 to the three of shoald's own namespace once
 * at start (docs/networking.md, "Bridged frames and br_netfilter").
 */
#define LOG_MODULE "daemon"
#include "common/log.h"
#include "daemon/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const brnf_names[] = {
	"bridge-nf-call-iptables",
	"bridge-nf-call-ip6tables",
	"bridge-nf-call-arptables",
};

/* write_zero: "0\n" into @path, or -errno. */
static int write_zero(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, "0\n", 2);
	int rc = n == 2 ? 0 : n < 0 ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int daemon_brnf_apply(enum daemon_brnf mode, const char *proc_sys, char *err,
		      size_t errlen)
{
	if (mode == DAEMON_BRNF_KEEP)
		return 0;
	char dir[512], path[600];
	if (snprintf(dir, sizeof(dir), "%s/net/bridge", proc_sys) >=
	    (int)sizeof(dir)) {
		snprintf(err, errlen, "--bridge-nf-call=off: path too long");
		return -ENAMETOOLONG;
	}
	struct stat st;
	if (stat(dir, &st) < 0 && errno == ENOENT) {
		log_info(
			"--bridge-nf-call=off: %s does not exist (br_netfilter "
			"not loaded): bridged frames do not run the IP hooks, "
			"nothing to do",
			dir);
		return 0;
	}
	for (size_t i = 0; i < sizeof(brnf_names) / sizeof(brnf_names[0]);
	     i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, brnf_names[i]);
		int rc = write_zero(path);
		if (rc < 0) {
			snprintf(err, errlen,
				 "--bridge-nf-call=off: cannot write 0 to %s: "
				 "%s (run shoald as root with a writable "
				 "/proc/sys, or use --bridge-nf-call=keep)",
				 path, strerror(-rc));
			return rc;
		}
	}
	log_info("--bridge-nf-call=off: wrote 0 to %s/bridge-nf-call-"
		 "{iptables,ip6tables,arptables} of this network namespace; "
		 "bridged frames skip the IP hooks",
		 dir);
	return 0;
}
