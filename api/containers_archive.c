/*
 * GET, HEAD and PUT /containers/{id}/archive (Docker Engine API v1.45,
 * "ContainerArchive", "ContainerArchiveInfo", "PutContainerArchive"): what
 * `docker cp` uses. The path is resolved inside the container by a child
 * process that chroot()s into /proc/<pid>/root, so symbolic links in the
 * container's tree can never lead to the host's files; the child writes
 * the tar stream (libarchive) or unpacks the uploaded one (with
 * libarchive's secure-extraction flags) and reports through memfds. The
 * path's stat goes back in the X-Docker-Container-Path-Stat header:
 * base64 of {"name","size","mode","mtime","linkTarget"}, mode in Go's
 * os.FileMode bits, as the docker CLI decodes it.
 *
 * The root comes from rt_container_rootfs(): /proc/<pid>/root while the
 * container runs; for a stopped one the runtime mounts its overlay for
 * the duration of the call (its volumes are not there). The child runs
 * synchronously: archives of small trees, as docker cp is used for, take
 * milliseconds.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)

enum { CHILD_OK = 0, CHILD_FAIL = 1, CHILD_NOTFOUND = 2, CHILD_NOTDIR = 3 };

static void b64(const unsigned char *in, size_t n, char *out, size_t cap)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
		"wxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

static void msg_to(int fd, const char *msg)
{
	if (msg && write(fd, msg, strlen(msg)) < 0)
		return;
}

/* --- in the child (chrooted) ---------------------------------------------- */

static struct archive *tar_out;
static size_t strip; /* bytes of the parent folder to drop from names */
static int child_err_fd;

static int add_one(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -1;
	archive_entry_copy_stat(e, st);
	archive_entry_copy_pathname(e, path + strip);
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		archive_entry_copy_symlink(e, target);
	}
	if (archive_write_header(tar_out, e) != ARCHIVE_OK) {
		archive_entry_free(e);
		return -1;
	}
	if (S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		char buf[65536];
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			archive_write_data(tar_out, buf, (size_t)n);
		if (fd >= 0)
			close(fd);
	}
	archive_entry_free(e);
	return 0;
}

static int child_get(const char *path, int stat_fd, int tar_fd, bool tar)
{
	struct stat st;
	char copy[PATH_MAX], name[PATH_MAX], target[PATH_MAX] = "", mt[48];
	if (lstat(path, &st) < 0)
		return CHILD_NOTFOUND;
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(name, sizeof(name), "%s", basename(copy));
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
	}
	unsigned mode = st.st_mode & 0777;
	if (S_ISDIR(st.st_mode))
		mode |= GO_MODE_DIR;
	if (S_ISLNK(st.st_mode))
		mode |= GO_MODE_SYMLINK;
	time_format_rfc3339((int64_t)st.st_mtime * 1000000000, mt, sizeof(mt));
	json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", name, "size",
			      (json_int_t)st.st_size, "mode", (json_int_t)mode,
			      "mtime", mt, "linkTarget", target);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s && write(stat_fd, s, strlen(s)) < 0)
		return CHILD_FAIL;
	if (!tar)
		return CHILD_OK;
	tar_out = archive_write_new();
	if (!tar_out || archive_write_set_format_pax_restricted(tar_out) ||
	    archive_write_open_fd(tar_out, tar_fd) != ARCHIVE_OK)
		return CHILD_FAIL;
	/* Names start at the path's last component, as docker's. */
	snprintf(copy, sizeof(copy), "%s", path);
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	strip = (size_t)(strrchr(copy, '/') - copy) + 1;
	int rc = nftw(copy, add_one, 32, FTW_PHYS);
	archive_write_close(tar_out);
	archive_write_free(tar_out);
	return rc == 0 ? CHILD_OK : CHILD_FAIL;
}

static int child_put(const char *path, int tar_fd)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return CHILD_NOTFOUND;
	if (!S_ISDIR(st.st_mode))
		return CHILD_NOTDIR;
	if (chdir(path) < 0)
		return CHILD_FAIL;
	struct archive *in = archive_read_new();
	struct archive *out = archive_write_disk_new();
	if (!in || !out)
		return CHILD_FAIL;
	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(
		out, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			     ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			     ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
			     ARCHIVE_EXTRACT_OWNER);
	if (archive_read_open_fd(in, tar_fd, 65536) != ARCHIVE_OK) {
		msg_to(child_err_fd, archive_error_string(in));
		return CHILD_FAIL;
	}
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			msg_to(child_err_fd, archive_error_string(out));
			return CHILD_FAIL;
		}
		const void *buf;
		size_t size;
		la_int64_t off;
		while (archive_read_data_block(in, &buf, &size, &off) ==
		       ARCHIVE_OK)
			archive_write_data_block(out, buf, size, off);
		archive_write_finish_entry(out);
	}
	if (r != ARCHIVE_EOF) {
		msg_to(child_err_fd, archive_error_string(in));
		return CHILD_FAIL;
	}
	archive_write_close(out);
	return CHILD_OK;
}

/* --- in the daemon -------------------------------------------------------- */

struct job {
	int stat_fd, tar_fd, err_fd;
};

/* Run @op ('g' get, 's' stat, 'p' put) in a chrooted child. */
static int run_child(const char *root, char op, const char *path, struct job *j)
{
	pid_t c = fork();
	if (c < 0)
		return -errno;
	if (c == 0) {
		child_err_fd = j->err_fd;
		if (chroot(root) < 0 || chdir("/") < 0)
			_exit(CHILD_FAIL);
		int rc = op == 'p' ? child_put(path, j->tar_fd)
				   : child_get(path, j->stat_fd, j->tar_fd,
					       op == 'g');
		_exit(rc);
	}
	int status;
	while (waitpid(c, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : CHILD_FAIL;
}

static char *fd_text(int fd, size_t *len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	if (n < 0)
		return NULL;
	char *s = shoal_malloc((size_t)n + 1);
	if (s && pread(fd, s, (size_t)n, 0) != n) {
		shoal_free(s);
		return NULL;
	}
	if (s)
		s[n] = '\0';
	*len = (size_t)n;
	return s;
}

static void job_close(struct job *j)
{
	if (j->stat_fd >= 0)
		close(j->stat_fd);
	if (j->tar_fd >= 0)
		close(j->tar_fd);
	if (j->err_fd >= 0)
		close(j->err_fd);
}

/*
 * The container's root as the runtime lends it (/proc/<pid>/root while it
 * runs, its overlay mounted for a stopped one), or an answer sent and
 * NULL. Release with put_root().
 */
static char *target(struct api_call *call, struct api__state **stp, char id[65],
		    const char **path)
{
	struct api__state *st = api__need(call);
	*stp = st;
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return NULL;
	*path = http_request_query(call->req, "path");
	if (!*path || !**path) {
		api_reply_error(call, 400, "Bad parameters: path is required");
		return NULL;
	}
	char *root = NULL;
	int rc = rt_container_rootfs(st->rt, id, &root);
	if (rc < 0) {
		api_reply_error(call, rc == SHOAL_ENOTFOUND ? 404 : 500,
				"cannot reach the files of container %s: %s",
				id, shoal_strerror(rc));
		return NULL;
	}
	return root;
}

static void put_root(struct api__state *st, const char *id, char *root)
{
	int rc = rt_container_rootfs_release(st->rt, id);
	if (rc < 0)
		log_warn("container=%s: cannot release its root: %s", id,
			 shoal_strerror(rc));
	shoal_free(root);
}

static void get_or_head(struct api_call *call, bool body)
{
	struct api__state *st;
	char id[65];
	const char *path;
	char *root = target(call, &st, id, &path);
	if (!root)
		return;
	struct job j = {memfd_create("stat", MFD_CLOEXEC),
			memfd_create("tar", MFD_CLOEXEC),
			memfd_create("err", MFD_CLOEXEC)};
	if (j.stat_fd < 0 || j.tar_fd < 0 || j.err_fd < 0) {
		job_close(&j);
		put_root(st, id, root);
		api_reply_error(call, 500, "cannot copy: %s", strerror(errno));
		return;
	}
	int rc = run_child(root, body ? 'g' : 's', path, &j);
	put_root(st, id, root);
	size_t slen = 0, tlen = 0;
	char *stat = rc == CHILD_OK ? fd_text(j.stat_fd, &slen) : NULL;
	if (rc == CHILD_NOTFOUND)
		api_reply_error(call, 404,
				"Could not find the file %s in container %s",
				path, api_param(call, "id"));
	else if (!stat)
		api_reply_error(call, 500, "cannot read %s in container %s",
				path, id);
	if (!stat) {
		job_close(&j);
		return;
	}
	char hdr[4096];
	b64((const unsigned char *)stat, slen, hdr, sizeof(hdr));
	shoal_free(stat);
	http_response_header(call->res, "X-Docker-Container-Path-Stat", hdr);
	char *tar = body ? fd_text(j.tar_fd, &tlen) : NULL;
	job_close(&j);
	if (body && !tar) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	http_response_send(call->res, 200, "application/x-tar", tar, tlen);
	shoal_free(tar);
}

static void archive_get(struct api_call *call)
{
	get_or_head(call, strcmp(call->req->method, "HEAD") != 0);
}

static void archive_head(struct api_call *call)
{
	get_or_head(call, false);
}

static void archive_put(struct api_call *call)
{
	struct api__state *st;
	char id[65];
	const char *path;
	char *root = target(call, &st, id, &path);
	if (!root)
		return;
	char spooled[64];
	snprintf(spooled, sizeof(spooled), "/proc/self/fd/%d",
		 call->req->body_fd);
	struct job j = {-1, open(spooled, O_RDONLY | O_CLOEXEC),
			memfd_create("err", MFD_CLOEXEC)};
	if (j.tar_fd < 0 || j.err_fd < 0) {
		job_close(&j);
		put_root(st, id, root);
		api_reply_error(call, 500, "cannot stage the archive");
		return;
	}
	int rc = run_child(root, 'p', path, &j);
	put_root(st, id, root);
	size_t elen = 0;
	char *err = fd_text(j.err_fd, &elen);
	job_close(&j);
	if (rc == CHILD_NOTFOUND)
		api_reply_error(call, 404,
				"Could not find the file %s in container %s",
				path, api_param(call, "id"));
	else if (rc == CHILD_NOTDIR)
		api_reply_error(call, 400,
				"extraction point is not a directory");
	else if (rc != CHILD_OK)
		api_reply_error(call, 400, "cannot extract the archive: %s",
				err && *err ? err : "failed");
	else
		http_response_send(call->res, 200, NULL, NULL, 0);
	shoal_free(err);
}

static const struct api_route routes[] = {
	{"GET", "/containers/{id}/archive", archive_get},
	{"HEAD", "/containers/{id}/archive", archive_head},
	{"PUT", "/containers/{id}/archive", archive_put},
};

const struct api_route_table api_containers_archive_table = {
	.name = "containers-archive",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
