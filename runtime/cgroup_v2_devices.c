/*
 * Device access on cgroup v2: v2 has no devices.allow file; the kernel
 * asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
 * instead. We build Docker's allow list as such a program: mknod of any
 * char or block device, read/write/mknod of null, zero, full, random,
 * urandom, tty, console, ptmx, the pts devices and tun; everything else is
 * refused. A privileged container gets no program (all devices).
 *
 * The program sees struct bpf_cgroup_dev_ctx: access_type (access << 16 |
 * type), major, minor; it returns 1 to allow, 0 to refuse. Once attached
 * it stays with the cgroup; its fd is closed right away.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

#define MAX_INSNS 256

struct dev_rule {
	int type;   /* BPF_DEVCG_DEV_CHAR / _BLOCK */
	int major;  /* -1: any */
	int minor;  /* -1: any */
	int access; /* BPF_DEVCG_ACC_* */
};

#define RWM (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

static const struct dev_rule docker_rules[] = {
	{BPF_DEVCG_DEV_CHAR, -1, -1, BPF_DEVCG_ACC_MKNOD},
	{BPF_DEVCG_DEV_BLOCK, -1, -1, BPF_DEVCG_ACC_MKNOD},
	{BPF_DEVCG_DEV_CHAR, 1, 3, RWM},
	{BPF_DEVCG_DEV_CHAR, 1, 5, RWM},
	{BPF_DEVCG_DEV_CHAR, 1, 7, RWM},
	{BPF_DEVCG_DEV_CHAR, 1, 8, RWM},
	{BPF_DEVCG_DEV_CHAR, 1, 9, RWM},
	{BPF_DEVCG_DEV_CHAR, 5, 0, RWM},
	{BPF_DEVCG_DEV_CHAR, 5, 1, RWM},
	{BPF_DEVCG_DEV_CHAR, 5, 2, RWM},
	{BPF_DEVCG_DEV_CHAR, 136, -1, RWM},
	{BPF_DEVCG_DEV_CHAR, 10, 200, RWM},
};

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off,
			    int32_t imm)
{
	struct bpf_insn i;

	memset(&i, 0, sizeof(i));
	i.code = code;
	i.dst_reg = dst & 0xf;
	i.src_reg = src & 0xf;
	i.off = off;
	i.imm = imm;
	return i;
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define MOV_REG(dst, src) insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV_IMM(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define AND_IMM(dst, imm) insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH_IMM(dst, imm) insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* One rule: a block that returns 1 on a match, else falls through. */
static size_t emit_rule(struct bpf_insn *p, const struct dev_rule *r)
{
	size_t n = 0, len;

	/* Length first, so each test can jump past the block. */
	len = 1 + 3 + (r->major >= 0) + (r->minor >= 0) + 2;
	p[n] = JNE_IMM(3, r->type, (int16_t)(len - n - 1));
	n++;
	p[n++] = MOV_REG(0, 2);
	p[n++] = AND_IMM(0, ~r->access & 0xffff);
	p[n] = JNE_IMM(0, 0, (int16_t)(len - n - 1));
	n++;
	if (r->major >= 0) {
		p[n] = JNE_IMM(4, r->major, (int16_t)(len - n - 1));
		n++;
	}
	if (r->minor >= 0) {
		p[n] = JNE_IMM(5, r->minor, (int16_t)(len - n - 1));
		n++;
	}
	p[n++] = MOV_IMM(0, 1);
	p[n++] = EXIT();
	return n;
}

static size_t build(struct bpf_insn *p)
{
	size_t n = 0;

	p[n++] = LDX_W(2, 1, 0); /* r2 = access_type */
	p[n++] = MOV_REG(3, 2);
	p[n++] = AND_IMM(3, 0xffff); /* r3 = type */
	p[n++] = RSH_IMM(2, 16);     /* r2 = access */
	p[n++] = LDX_W(4, 1, 4);     /* r4 = major */
	p[n++] = LDX_W(5, 1, 8);     /* r5 = minor */
	for (size_t i = 0; i < sizeof(docker_rules) / sizeof(docker_rules[0]);
	     i++)
		n += emit_rule(p + n, &docker_rules[i]);
	p[n++] = MOV_IMM(0, 0);
	p[n++] = EXIT();
	return n;
}

int rt__cgv2_devices(const char *dir)
{
	struct bpf_insn prog[MAX_INSNS];
	union bpf_attr attr;
	int prog_fd, cg_fd, rc = 0;
	size_t n = build(prog);

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (prog_fd < 0)
		return -errno;
	cg_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		rc = -errno;
		close(prog_fd);
		return rc;
	}
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cg_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0)
		rc = -errno;
	close(cg_fd);
	close(prog_fd);
	return rc;
}
