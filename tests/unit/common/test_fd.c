/*
 * Unit tests of common/fd.c: closing all descriptors but a few, and
 * marking all close-on-exec, through close_range(2) and through both
 * fallbacks. Each case runs in a forked child (it closes descriptors the
 * test runner may hold) which reports the state of a fixed set of
 * descriptors as text on a pipe. The fallbacks are reached with a seccomp
 * filter that makes close_range fail with ENOSYS (an old kernel), and also
 * openat with ENOENT (no /proc); installing one needs no privilege once
 * no_new_privs is set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"

enum refuse {
	REFUSE_NOTHING,
	REFUSE_CLOSE_RANGE,	     /* ENOSYS: the /proc/self/fd walk */
	REFUSE_CLOSE_RANGE_AND_PROC, /* and openat: the numbered scan */
};

/* The descriptors each case opens (as copies of stdin) and reports. */
static const int probe_fds[] = {10, 11, 12, 40, 41};

static int refuse_syscalls(enum refuse what)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, what == REFUSE_CLOSE_RANGE_AND_PROC
						  ? SECCOMP_RET_ERRNO | ENOENT
						  : SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (what == REFUSE_NOTHING)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno
								     : 0;
}

/* "10=- 11=o 12=c": closed, open, open and close-on-exec. */
static void describe(int out)
{
	char text[256];
	size_t o = 0;

	for (size_t i = 0; i < sizeof(probe_fds) / sizeof(probe_fds[0]); i++) {
		int flags = fcntl(probe_fds[i], F_GETFD);
		char c = flags < 0 ? '-' : (flags & FD_CLOEXEC) ? 'c' : 'o';
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d=%c",
				      i ? " " : "", probe_fds[i], c);
	}
	(void)!write(out, text, o);
}

/* In a child: open the probe fds, refuse @what, then close everything
 * from 3 but @keep (or, with @cloexec, mark it); the state as text. */
static void run_case(enum refuse what, bool cloexec, const int *keep,
		     size_t n_keep, char *out, size_t cap)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[1], 50), 50);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int keep_all[8] = {50}, rc;
		for (size_t i = 0; i < n_keep && i < 7; i++)
			keep_all[i + 1] = keep[i];
		for (size_t i = 0; i < sizeof(probe_fds) / sizeof(int); i++)
			if (dup2(0, probe_fds[i]) < 0)
				_exit(2);
		if (refuse_syscalls(what) < 0)
			_exit(3);
		rc = cloexec ? fd_cloexec_from(3)
			     : fd_close_from(3, keep_all, n_keep + 1);
		if (rc < 0)
			_exit(4);
		/* 50 is the report's end of the pipe, kept either way. */
		describe(50);
		_exit(0);
	}
	close(p[1]);
	close(50);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	n = read(p[0], out, cap - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

static void close_from_keeps_only_the_listed_descriptors(void **state)
{
	const int keep[] = {11, 41};
	char out[256];

	run_case(REFUSE_NOTHING, false, keep, 2, out, sizeof(out));
	assert_string_equal(out, "10=- 11=o 12=- 40=- 41=o");
}

static void close_from_walks_proc_when_close_range_is_missing(void **state)
{
	const int keep[] = {11, 41};
	char out[256];

	run_case(REFUSE_CLOSE_RANGE, false, keep, 2, out, sizeof(out));
	assert_string_equal(out, "10=- 11=o 12=- 40=- 41=o");
}

static void close_from_scans_numbers_without_proc(void **state)
{
	const int keep[] = {11, 41};
	char out[256];

	run_case(REFUSE_CLOSE_RANGE_AND_PROC, false, keep, 2, out, sizeof(out));
	assert_string_equal(out, "10=- 11=o 12=- 40=- 41=o");
}

static void cloexec_from_marks_every_descriptor_and_closes_none(void **state)
{
	char out[256];

	for (int what = REFUSE_NOTHING; what <= REFUSE_CLOSE_RANGE_AND_PROC;
	     what++) {
		run_case((enum refuse)what, true, NULL, 0, out, sizeof(out));
		assert_string_equal(out, "10=c 11=c 12=c 40=c 41=c");
	}
}

static void close_from_refuses_a_negative_start(void **state)
{
	assert_int_equal(fd_close_from(-1, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(close_from_keeps_only_the_listed_descriptors),
		cmocka_unit_test(
			close_from_walks_proc_when_close_range_is_missing),
		cmocka_unit_test(close_from_scans_numbers_without_proc),
		cmocka_unit_test(
			cloexec_from_marks_every_descriptor_and_closes_none),
		cmocka_unit_test(close_from_refuses_a_negative_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
