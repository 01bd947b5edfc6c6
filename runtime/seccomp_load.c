/*
 * Loading a compiled filter: read the BPF bytes (before pivot_root hides
 * the file) and hand them to seccomp(2). Kept apart from seccomp.c so the
 * monitor and the container's init never link libseccomp: they only need
 * these few lines.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

int rt__seccomp_read(const char *path, struct rt__bpf *out)
{
	char *buf;
	size_t len;
	int rc;

	out->data = NULL;
	out->len = 0;
	if (!strcmp(path, "unconfined"))
		return 0;
	rc = rt__read_file(path, BPF_MAXINSNS * 8, &buf, &len);
	if (rc < 0)
		return rc;
	if (len == 0 || len % 8) {
		shoal_free(buf);
		return -EINVAL;
	}
	out->data = buf;
	out->len = len;
	return 0;
}

int rt__seccomp_install(const struct rt__bpf *bpf)
{
	struct sock_fprog prog;

	if (!bpf || !bpf->len)
		return 0;
	prog.len = (unsigned short)(bpf->len / 8);
	prog.filter = bpf->data;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}
