/*
 * The system tests' fixture; see fixture.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "fixture.h"

void fx_skip_unless_root(void)
{
	if (geteuid() != 0) {
		printf("skipped: the runtime's system tests need root\n");
		exit(SKIP_CODE);
	}
	if (access("/bin/busybox", X_OK) != 0) {
		printf("skipped: /bin/busybox (busybox-static) missing\n");
		exit(SKIP_CODE);
	}
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

void fx_setup(struct fx *fx)
{
	const char *build = getenv("SHOAL_BUILD_DIR");
	char path[512], mon[512];

	memset(fx, 0, sizeof(*fx));
	snprintf(fx->root, sizeof(fx->root), "/tmp/shoal-rt-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	snprintf(fx->layer, sizeof(fx->layer), "%s/layer", fx->root);
	snprintf(fx->data_root, sizeof(fx->data_root), "%s/data", fx->root);
	snprintf(fx->exec_root, sizeof(fx->exec_root), "%s/run", fx->root);
	snprintf(fx->cgroup_parent, sizeof(fx->cgroup_parent), "shoal-test-%d",
		 (int)getpid());
	sh("mkdir -p %s/bin %s/etc %s/tmp %s/root %s/home/alice && "
	   "cp /bin/busybox %s/bin/busybox && "
	   "for a in $(/bin/busybox --list); do "
	   "[ $a = busybox ] || ln -s busybox %s/bin/$a; done && "
	   "chmod 1777 %s/tmp",
	   fx->layer, fx->layer, fx->layer, fx->layer, fx->layer, fx->layer,
	   fx->layer, fx->layer);
	snprintf(path, sizeof(path), "%s/etc/passwd", fx->layer);
	write_text(path,
		   "root:x:0:0:root:/root:/bin/sh\n"
		   "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
		   "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
	snprintf(path, sizeof(path), "%s/etc/group", fx->layer);
	write_text(path, "root:x:0:\nstaff:x:50:alice\nalice:x:1000:\n"
			 "nogroup:x:65534:\n");
	snprintf(path, sizeof(path), "%s/tests/system/runtime/probe",
		 build ? build : ".");
	sh("cp %s %s/bin/probe", path, fx->layer);
	snprintf(mon, sizeof(mon), "%s/runtime/shoal-monitor",
		 build ? build : ".");
	fx->cfg.data_root = fx->data_root;
	fx->cfg.exec_root = fx->exec_root;
	fx->cfg.cgroup_parent = fx->cgroup_parent;
	fx->cfg.monitor_path = shoal_strdup(mon);
	struct shoal_err err = {""};
	int rc = rt_open(&fx->cfg, &fx->rt, &err);
	if (rc < 0)
		fail_msg("rt_open: %s", err.msg);
}

void fx_reopen(struct fx *fx)
{
	struct shoal_err err = {""};

	rt_close(fx->rt);
	fx->rt = NULL;
	assert_int_equal(rt_open(&fx->cfg, &fx->rt, &err), 0);
}

void fx_teardown(struct fx *fx)
{
	char **ids;
	size_t n;

	if (fx->rt && !getenv("FX_KEEP") &&
	    rt_container_list(fx->rt, &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			rt_container_remove(fx->rt, ids[i], true, true);
		rt_list_free(ids, n);
	}
	rt_close(fx->rt);
	fx->rt = NULL;
	/* The parent cgroups we made, then the temp tree. */
	char cmd[1024];
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		snprintf(cmd, sizeof(cmd), "/sys/fs/cgroup/%s/%s", e->d_name,
			 fx->cgroup_parent);
		rmdir(cmd);
	}
	if (d)
		closedir(d);
	if (fx->root[0] && strncmp(fx->root, "/tmp/shoal-rt-", 14) == 0 &&
	    !getenv("FX_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->root);
		(void)!system(cmd);
	}
	shoal_free((char *)fx->cfg.monitor_path);
}

void fx_spec(struct fx *fx, struct rt_spec *s, const char *const *argv)
{
	static const char *lowers[2];

	memset(s, 0, sizeof(*s));
	lowers[0] = fx->layer;
	lowers[1] = NULL;
	s->lower_dirs = lowers;
	s->argv = argv;
}

void fx_log(struct fx *fx, const char *id, char *out, size_t cap)
{
	struct rt_log_options opt = {
		.tail = -1, .stdout_on = true, .stderr_on = true};
	struct rt_log_reader *r;
	struct rt_log_entry e;
	size_t o = 0;

	out[0] = '\0';
	assert_int_equal(rt_log_open(fx->rt, id, &opt, &r), 0);
	while (rt_log_next(r, &e) == 0 && o + e.len + 1 < cap) {
		memcpy(out + o, e.line, e.len);
		o += e.len;
		out[o] = '\0';
	}
	rt_log_close(r);
}

int fx_run(struct fx *fx, struct rt_spec *spec, char *out, size_t cap)
{
	struct shoal_err err = {""};
	char id[RT_ID_LEN + 1];
	int code = -1, rc;

	rc = rt_container_create(fx->rt, spec, id, &err);
	if (rc < 0)
		fail_msg("create: %s", err.msg);
	rc = rt_container_start(fx->rt, id, &err);
	if (rc < 0)
		fail_msg("start: %s", err.msg);
	assert_int_equal(rt_container_wait(fx->rt, id, 30000, &code), 0);
	if (out)
		fx_log(fx, id, out, cap);
	return code;
}

int fx_mounts_mentioning(const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

int fx_cgroup_dirs(const char *parent, const char *id)
{
	char path[512];
	struct dirent *e;
	struct stat st;
	int n = 0;
	DIR *d = opendir("/sys/fs/cgroup");

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s/%s",
			 e->d_name, parent, id);
		if (stat(path, &st) == 0)
			n++;
	}
	closedir(d);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", parent, id);
	if (stat(path, &st) == 0)
		n++;
	return n;
}

int fx_cgroup_children(const char *parent)
{
	char path[512];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s", parent);
	d = opendir(path);
	if (!d) { /* cgroup v2 */
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", parent);
		d = opendir(path);
	}
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

bool fx_gone(int pid)
{
	for (int i = 0; i < 200; i++) {
		char path[64], buf[512], *p;
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			return true;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && p[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

void fx_start(struct fx *fx, struct rt_spec *s, char id[RT_ID_LEN + 1])
{
	struct shoal_err err = {""};

	if (rt_container_create(fx->rt, s, id, &err) < 0 ||
	    rt_container_start(fx->rt, id, &err) < 0)
		fail_msg("%s", err.msg);
}

size_t fx_drain(int fd, char *out, size_t cap)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got;
		if (poll(&p, 1, 10000) <= 0)
			break;
		got = read(fd, out + n, cap - n - 1);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	out[n] = '\0';
	return n;
}
