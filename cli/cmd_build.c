/*
 * shoal build: docker build's classic form over POST /build
 * (api/build.c). The context folder is packed here into a tar in memory
 * (ustar headers, a pax "path"/"linkpath" record for long names;
 * regular files, folders and symbolic links, which are sent as links and
 * never followed; other kinds are left out) and sent whole; the daemon
 * applies .dockerignore. The answer's {"stream"} lines are printed as
 * they are in the answer, {"error"} goes to stderr and fails the command,
 * -q prints only the image id. The CLI links no libarchive (docs/
 * architecture.md), hence the writer here. Bounded: CONTEXT_MAX bytes,
 * DEPTH_MAX levels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))
#define CONTEXT_MAX (512u << 20)
#define DEPTH_MAX 128

static void octal(char *dst, size_t n, unsigned long long v)
{
	snprintf(dst, n, "%0*llo", (int)n - 1, v);
}

/* A pax record "len key=value\n", its length counting itself. */
static int pax_record(struct buf *p, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1;
	while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
		len = body + (size_t)snprintf(NULL, 0, "%zu", len);
	return buf_printf(p, "%zu %s=%s\n", len, key, value);
}

static int header(struct buf *t, const char *name, const struct stat *st,
		  char type, const char *link, unsigned long long size)
{
	char h[512];
	memset(h, 0, sizeof(h));
	snprintf(h, 100, "%s", name);
	octal(h + 100, 8, st->st_mode & 07777);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, (unsigned long long)st->st_mtime);
	memset(h + 148, ' ', 8);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	return buf_append(t, h, sizeof(h));
}

static int pad(struct buf *t)
{
	static const char zero[512];
	size_t r = t->len % 512;
	return r ? buf_append(t, zero, 512 - r) : 0;
}

static int entry(struct buf *t, const char *name, const struct stat *st,
		 char type, const char *link, unsigned long long size)
{
	int rc = 0;
	if (strlen(name) >= 100 || (link && strlen(link) >= 100)) {
		struct buf p;
		buf_init(&p, 1 << 16);
		rc = pax_record(&p, "path", name);
		if (rc == 0 && link)
			rc = pax_record(&p, "linkpath", link);
		if (rc == 0)
			rc = header(t, "././@PaxHeader", st, 'x', NULL, p.len);
		if (rc == 0)
			rc = buf_append(t, p.data, p.len);
		if (rc == 0)
			rc = pad(t);
		buf_fini(&p);
	}
	return rc ? rc : header(t, name, st, type, link, size);
}

static int add_file(struct buf *t, int dfd, const char *dname, const char *name,
		    const struct stat *st)
{
	int fd = openat(dfd, dname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = entry(t, name, st, '0', NULL, (unsigned long long)st->st_size);
	off_t left = st->st_size;
	while (rc == 0 && left > 0) {
		rc = buf_reserve(t, 65536);
		ssize_t n = rc == 0 ? read(fd, t->data + t->len,
					   left < 65536 ? (size_t)left : 65536)
				    : 0;
		if (rc == 0 && n <= 0)
			rc = n < 0 ? -errno : -EIO; /* shrank meanwhile */
		if (rc == 0) {
			t->len += (size_t)n;
			left -= n;
		}
	}
	close(fd);
	return rc ? rc : pad(t);
}

static int add_dir(struct buf *t, int dfd, char *path, size_t plen, int depth);

static int add_entry(struct buf *t, int dfd, const char *dname, char *path,
		     size_t plen, int depth)
{
	struct stat st;
	if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	snprintf(path + plen, 4096 - plen, "%s%s", plen ? "/" : "", dname);
	int rc = 0;
	if (S_ISREG(st.st_mode)) {
		rc = add_file(t, dfd, dname, path, &st);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dfd, dname, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		rc = entry(t, path, &st, '2', target, 0);
	} else if (S_ISDIR(st.st_mode)) {
		size_t len = strlen(path);
		char dirname[4097];
		snprintf(dirname, sizeof(dirname), "%s/", path);
		rc = entry(t, dirname, &st, '5', NULL, 0);
		int sub =
			openat(dfd, dname,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rc == 0 && sub < 0)
			rc = -errno;
		if (rc == 0)
			rc = depth < DEPTH_MAX
				     ? add_dir(t, sub, path, len, depth + 1)
				     : -ELOOP;
		if (sub >= 0)
			close(sub);
	}
	path[plen] = '\0';
	return rc;
}

static int add_dir(struct buf *t, int dfd, char *path, size_t plen, int depth)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = add_entry(t, dirfd(d), de->d_name, path, plen,
				       depth);
	closedir(d);
	return rc;
}

/* The context folder @dir as a tar in @t. */
static int pack(const char *dir, struct buf *t)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char path[4096] = "";
	int rc = add_dir(t, fd, path, 0, 0);
	close(fd);
	if (rc == 0) {
		static const char end[1024];
		rc = buf_append(t, end, sizeof(end));
	}
	return rc;
}

static int print_stream(const char *body, bool quiet)
{
	int status = 0;
	char *copy = strdup(body);
	char *save = NULL;
	for (char *line = copy ? strtok_r(copy, "\r\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		json_t *v = NULL;
		if (jsonx_parse(line, strlen(line), &v, NULL, 0) < 0)
			continue;
		const char *err = jsonx_str(v, "error", NULL);
		const char *stream = jsonx_str(v, "stream", NULL);
		const char *id =
			jsonx_str(json_object_get(v, "aux"), "ID", NULL);
		if (err) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		} else if (quiet && id) {
			printf("%s\n", id);
		} else if (stream && !quiet) {
			fputs(stream, stdout);
		}
		json_decref(v);
	}
	free(copy);
	return status;
}

static int query(char *out, size_t cap, const struct cli_list *tags,
		 const struct cli_list *args, const char *file,
		 const char *target, bool no_cache, bool quiet)
{
	char e[4096];
	int n = snprintf(out, cap, "/build?rm=1&nocache=%d&q=%d",
			 no_cache ? 1 : 0, quiet ? 1 : 0);
	for (size_t i = 0; i < tags->n && n > 0 && (size_t)n < cap; i++) {
		cli_escape(tags->v[i], e, sizeof(e));
		n += snprintf(out + n, cap - (size_t)n, "&t=%s", e);
	}
	if (file && n > 0 && (size_t)n < cap) {
		cli_escape(file, e, sizeof(e));
		n += snprintf(out + n, cap - (size_t)n, "&dockerfile=%s", e);
	}
	if (target && n > 0 && (size_t)n < cap) {
		cli_escape(target, e, sizeof(e));
		n += snprintf(out + n, cap - (size_t)n, "&target=%s", e);
	}
	json_t *ba = json_object();
	for (size_t i = 0; ba && i < args->n; i++) {
		const char *eq = strchr(args->v[i], '=');
		char key[256];
		snprintf(key, sizeof(key), "%.*s",
			 (int)(eq ? (size_t)(eq - args->v[i])
				  : strlen(args->v[i])),
			 args->v[i]);
		const char *val = eq ? eq + 1 : getenv(key);
		json_object_set_new(ba, key,
				    val ? json_string(val) : json_null());
	}
	char *s = ba ? json_dumps(ba, JSON_COMPACT) : NULL;
	json_decref(ba);
	if (s && n > 0 && (size_t)n < cap) {
		cli_escape(s, e, sizeof(e));
		n += snprintf(out + n, cap - (size_t)n, "&buildargs=%s", e);
	}
	shoal_free(s);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int cli_build(struct cli *cli, int argc, char **argv)
{
	struct cli_list tags = {0}, args = {0};
	const char *file = NULL, *target = NULL;
	bool no_cache = false, quiet = false;
	const struct cli_flag flags[] = {
		{"tag", 't', CLI_FLAG_LIST, &tags},
		{"build-arg", 0, CLI_FLAG_LIST, &args},
		{"file", 'f', CLI_FLAG_STR, &file},
		{"target", 0, CLI_FLAG_STR, &target},
		{"no-cache", 0, CLI_FLAG_BOOL, &no_cache},
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
	};
	int i = cli_flags("build", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal build [OPTIONS] PATH\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (argc - i != 1) {
		fprintf(stderr, "\"shoal build\" requires exactly 1 argument.\n"
				"See 'shoal build --help'.\n");
		return 1;
	}
	static char path[65536];
	if (query(path, sizeof(path), &tags, &args, file, target, no_cache,
		  quiet) < 0) {
		fprintf(stderr, "Error: the build options are too long\n");
		return 1;
	}
	struct buf t;
	buf_init(&t, CONTEXT_MAX);
	int rc = pack(argv[i], &t);
	if (rc < 0) {
		fprintf(stderr, "Error: cannot read the build context %s: %s\n",
			argv[i],
			rc == -ENOBUFS ? "larger than 512 MiB" : strerror(-rc));
		buf_fini(&t);
		return 1;
	}
	if (!quiet)
		printf("Sending build context to Shoal daemon  %zu bytes\n",
		       t.len);
	struct http_result r;
	rc = cli_call(cli, "POST", path, t.data, t.len, "application/x-tar", &r,
		      0);
	buf_fini(&t);
	if (rc)
		return 1;
	int status = print_stream(r.body ? r.body : "", quiet);
	http_result_fini(&r);
	return status;
}
