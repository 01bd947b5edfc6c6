/*
 * A static helper copied into the test rootfs: it makes the syscalls the
 * system tests ask about and prints what happened, since busybox has no
 * applet for keyctl, clone3 or a memory hog. Built without sanitizers.
 *
 *   probe syscalls    mount, unshare, keyctl, reboot: "name=ERRNO" each
 *   probe clone3      the errno of a raw clone3
 *   probe hog         allocate and touch memory until killed
 *   probe forks N     fork N sleeping children; print how many succeeded
 *   probe fds         "fds: 0 1 2": its open descriptors, those above 2
 *                     with what they point to ("7=/")
 *   probe caps        the Cap* lines of its /proc/self/status (copied with
 *                     file capabilities, it shows what an exec gained)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

char *hoard[4096]; /* 4 GiB of 1 MiB chunks at most */

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case ENOSYS:
		return "ENOSYS";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case EAGAIN:
		return "EAGAIN";
	default:
		return "OTHER";
	}
}

static int syscalls(void)
{
	long r;

	r = mount("none", "/tmp", "tmpfs", 0, NULL);
	printf("mount=%s ", ename(r < 0 ? errno : 0));
	r = unshare(CLONE_NEWNS);
	printf("unshare=%s ", ename(r < 0 ? errno : 0));
	r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
	printf("keyctl=%s ", ename(r < 0 ? errno : 0));
	/* A harmless reboot command: CAD off. */
	r = reboot(RB_DISABLE_CAD);
	printf("reboot=%s ", ename(r < 0 ? errno : 0));
	r = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
	printf("vsock=%s\n", ename(r < 0 ? errno : 0));
	return 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fd[256], n = 0;

	if (!d) {
		printf("fds: no /proc/self/fd\n");
		return 1;
	}
	while ((e = readdir(d)) && n < 256)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			fd[n++] = atoi(e->d_name);
	closedir(d);
	printf("fds:");
	for (int i = 0; i < n; i++) {
		char path[64], target[256];
		ssize_t len;
		printf(" %d", fd[i]);
		if (fd[i] < 3)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd[i]);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		printf("=%s", target);
	}
	printf("\n");
	return 0;
}

static int caps(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cap", 3))
			fputs(line, stdout);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "fds"))
		return fds();
	if (argc >= 2 && !strcmp(argv[1], "caps"))
		return caps();
	if (argc >= 2 && !strcmp(argv[1], "syscalls"))
		return syscalls();
	if (argc >= 2 && !strcmp(argv[1], "clone3")) {
		char args[88];
		memset(args, 0, sizeof(args));
		long r = syscall(435 /* clone3 */, args, sizeof(args));
		printf("clone3=%s\n", ename(r < 0 ? errno : 0));
		if (r == 0)
			_exit(0);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "hog")) {
		/* Kept in a global and written through volatile, so no
		 * compiler may elide the allocations. */
		for (size_t n = 0; n < sizeof(hoard) / sizeof(hoard[0]); n++) {
			volatile char *p = malloc(1 << 20);
			if (!p)
				return 3;
			for (size_t i = 0; i < 1 << 20; i += 4096)
				p[i] = 1;
			hoard[n] = (char *)p;
		}
		return 4;
	}
	if (argc >= 3 && !strcmp(argv[1], "forks")) {
		int n = atoi(argv[2]), ok = 0, err = 0;
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				pause();
				_exit(0);
			}
			if (p < 0) {
				err = errno;
				break;
			}
			ok++;
		}
		printf("forked=%d err=%s\n", ok, ename(err));
		fflush(stdout);
		return 0;
	}
	fprintf(stderr, "usage: probe syscalls|clone3|hog|forks N|fds|caps\n");
	return 2;
}
