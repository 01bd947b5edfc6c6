/*
 * Loading a compiled filter: read the BPF bytes (before pivot_root hides
 * the file) and hand them to seccomp(2). Kept apart from seccomp.c so the
 * monitor and the container's init never link libseccomp: they only need
 * these few lines.
 *
 * Also the one filter written by hand: rt__seccomp_no_spawn(), stacked on
 * Docker's profile by the archive helper so that whatever it parses can
 * never make it run a program or start a process (see archive_helper.c).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
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

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

int rt__seccomp_no_spawn(void)
{
#ifdef NATIVE_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		/* Another ABI (i386's int 0x80): nothing at all. */
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
		/* x32 numbers (bit 30 set): never ours. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 7, 0),
#endif
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 3, 0),
#ifdef __NR_fork
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 1, 0),
#else
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
#endif
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct rt__bpf bpf = {f, sizeof(f)};

	return rt__seccomp_install(&bpf);
#else
	return -ENOTSUP;
#endif
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
