/*
 * Unit tests (no root) of the seccomp compiler: Docker's default profile
 * compiles for the default capability set, the filters it produces behave
 * (checked in a forked child that installs them under no_new_privs, which
 * needs no privilege), and malformed profiles fail with a clear message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

/* Run @probe under the filter in a child; its exit code comes back. */
static int under_filter(const void *bpf, size_t len, int (*probe)(void))
{
	struct rt__bpf b = {(void *)bpf, len};
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    rt__seccomp_install(&b) < 0)
			_exit(100);
		_exit(probe());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int probe_keyctl(void)
{
	return syscall(SYS_keyctl, 0, -3, 0) < 0 ? errno : 0;
}

static int probe_clone3(void)
{
	char args[88] = {0};
	return syscall(435, args, sizeof(args)) < 0 ? errno : 0;
}

static int probe_unshare(void)
{
	return unshare(CLONE_NEWUTS) < 0 ? errno : 0;
}

static int probe_getpid(void)
{
	return getpid() > 0 ? 0 : 1;
}

static int probe_personality(void)
{
	/* 0xffffffff queries and is allowed; 0x0400000 (ADDR_NO_RANDOMIZE
	 * alone... READ_IMPLIES_EXEC) is refused by the argument rules. */
	if (syscall(SYS_personality, 0xffffffffUL) < 0)
		return 1;
	return syscall(SYS_personality, 0x0400000UL) < 0 ? errno : 0;
}

static int probe_getppid(void)
{
	return syscall(SYS_getppid) < 0 ? errno : 0;
}

static void
default_profile_compiles_and_refuses_what_docker_refuses(void **state)
{
	struct shoal_err err = {""};
	void *bpf;
	size_t len;

	assert_int_equal(
		rt__seccomp_compile(rt__seccomp_default_profile,
				    strlen(rt__seccomp_default_profile),
				    rt__caps_default(), &bpf, &len, &err),
		0);
	assert_true(len > 0 && len % 8 == 0);
	assert_int_equal(under_filter(bpf, len, probe_getpid), 0);
	assert_int_equal(under_filter(bpf, len, probe_keyctl), EPERM);
	assert_int_equal(under_filter(bpf, len, probe_clone3), ENOSYS);
	assert_int_equal(under_filter(bpf, len, probe_unshare), EPERM);
	assert_int_equal(under_filter(bpf, len, probe_personality), EPERM);
	shoal_free(bpf);
}

static void sys_admin_unlocks_the_admin_syscalls(void **state)
{
	struct shoal_err err = {""};
	void *bpf;
	size_t len;

	assert_int_equal(
		rt__seccomp_compile(rt__seccomp_default_profile,
				    strlen(rt__seccomp_default_profile),
				    rt__caps_default() | (1ULL << 21), &bpf,
				    &len, &err),
		0);
	/* unshare is allowed by the filter now (EPERM would then come from
	 * the missing capability, not from seccomp; as non-root in a user
	 * namespace-less child it fails with EPERM either way), so check
	 * clone3, whose ENOSYS rule exists only without CAP_SYS_ADMIN. */
	assert_int_not_equal(under_filter(bpf, len, probe_clone3), ENOSYS);
	shoal_free(bpf);
}

static void custom_profile_rules_and_errno_apply(void **state)
{
	const char *p = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
			"[{\"names\":[\"getppid\",\"no_such_call\"],"
			"\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":33}]}";
	struct shoal_err err = {""};
	void *bpf;
	size_t len;

	assert_int_equal(rt__seccomp_compile(p, strlen(p), 0, &bpf, &len, &err),
			 0);
	assert_int_equal(under_filter(bpf, len, probe_getppid), 33);
	assert_int_equal(under_filter(bpf, len, probe_getpid), 0);
	shoal_free(bpf);
}

static void malformed_profiles_fail_with_a_message(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{"{", "invalid seccomp profile: line 1"},
		{"[]", "needs a defaultAction"},
		{"{\"defaultAction\":\"SCMP_ACT_NOPE\",\"syscalls\":[]}",
		 "bad defaultAction"},
		{"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{}]}",
		 "syscalls[0] needs names and an action"},
		{"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
		 "[\"read\"],\"action\":\"SCMP_ACT_FLY\"}]}",
		 "unknown action"},
		{"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
		 "[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":"
		 "9,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		 "args"},
		{"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
		 "[1],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		 "names[0] must be a string"},
		{"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
		 "[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":"
		 "7}}]}",
		 "caps must be an array"},
	};
	void *bpf = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shoal_err err = {""};
		assert_int_equal(rt__seccomp_compile(cases[i].json,
						     strlen(cases[i].json), 0,
						     &bpf, &len, &err),
				 -EINVAL);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
				 cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			default_profile_compiles_and_refuses_what_docker_refuses),
		cmocka_unit_test(sys_admin_unlocks_the_admin_syscalls),
		cmocka_unit_test(custom_profile_rules_and_errno_apply),
		cmocka_unit_test(malformed_profiles_fail_with_a_message),
	};

	shoal_alloc_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
