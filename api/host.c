/*
 * Facts about the host for /info and /version: uname(2), sysinfo(2),
 * sysconf(3), /etc/os-release, /proc and /sys. Reads are of small kernel
 * or /etc files and done on the loop thread; each is bounded and a missing
 * file leaves its field empty rather than failing the request.
 */
#include "api/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *goarch_of(const char *m)
{
	static const char *const map[][2] = {
		{"x86_64", "amd64"}, {"aarch64", "arm64"},
		{"i686", "386"},     {"i386", "386"},
		{"armv7l", "arm"},   {"ppc64le", "ppc64le"},
		{"s390x", "s390x"},  {"riscv64", "riscv64"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(m, map[i][0]) == 0)
			return map[i][1];
	return m;
}

/* The unquoted value of @key= in os-release, into @out. */
static void os_release(const char *key, char *out, size_t cap)
{
	FILE *f = fopen("/etc/os-release", "re");
	if (!f)
		f = fopen("/usr/lib/os-release", "re");
	out[0] = '\0';
	if (!f)
		return;
	char line[512];
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		char *v = line + klen + 1;
		v[strcspn(v, "\n")] = '\0';
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		snprintf(out, cap, "%s", v);
		break;
	}
	fclose(f);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

void api__host_read(struct api__host *h)
{
	struct utsname u;
	memset(h, 0, sizeof(*h));
	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
		snprintf(h->arch, sizeof(h->arch), "%s", u.machine);
	}
	h->goarch = goarch_of(h->arch);
	if (gethostname(h->hostname, sizeof(h->hostname) - 1) < 0)
		h->hostname[0] = '\0';
	os_release("PRETTY_NAME", h->os_name, sizeof(h->os_name));
	os_release("VERSION_ID", h->os_version, sizeof(h->os_version));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	h->ncpu = n > 0 ? (int)n : 1;
	struct sysinfo si;
	if (sysinfo(&si) == 0)
		h->mem_total = (int64_t)si.totalram * si.mem_unit;
	struct stat st;
	/* cgroup v2 only when the unified hierarchy is mounted at the root. */
	h->cgroup_version =
		stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 ? "2" : "1";
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "re");
	if (f) {
		h->ipv4_forwarding = fgetc(f) == '1';
		fclose(f);
	}
	h->nfd = count_fds();
}
