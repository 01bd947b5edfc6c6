/*
 * shoal cp: copy files between a running container and the local
 * filesystem through the archive routes (GET/HEAD/PUT
 * /containers/{id}/archive), as docker cp does. The client links only
 * libshoal-common, so the local side of the tar stream is tar(1):
 *
 *   shoal cp CTR:SRC -        the tar stream on stdout
 *   shoal cp CTR:SRC DEST     unpacked into a temporary folder beside
 *                             DEST, then renamed into place (into DEST when
 *                             it is a folder, as DEST otherwise)
 *   shoal cp SRC CTR:DEST     tar of SRC, renamed to DEST's last component
 *                             unless DEST is a folder in the container
 */
#include "cli/ctr.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run tar with @args, feeding @in (when non-NULL) or collecting its stdout
 * into @out. Returns its exit status or -1. */
static int run_tar(char *const args[], const char *in, size_t in_len,
		   struct buf *out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		dup2(in ? p[0] : p[1], in ? 0 : 1);
		execvp("tar", args);
		_exit(127);
	}
	if (in) {
		close(p[0]);
		size_t off = 0;
		while (off < in_len) {
			ssize_t n = write(p[1], in + off, in_len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		close(p[1]);
	} else {
		close(p[1]);
		char chunk[65536];
		ssize_t n;
		while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
			if (buf_append(out, chunk, (size_t)n) < 0)
				break;
		close(p[0]);
	}
	int st;
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Whether the container path of a HEAD answer is a folder. */
static bool stat_is_dir(const char *hdr)
{
	char out[2048];
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	for (; hdr && *hdr && o + 1 < sizeof(out); hdr++) {
		int d = b64val(*hdr);
		if (d < 0)
			continue;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(v >> bits & 0xff);
		}
	}
	out[o] = '\0';
	json_t *s = NULL;
	bool dir = false;
	if (jsonx_parse(out, o, &s, NULL, 0) == 0)
		dir = ((uint64_t)jsonx_int(s, "mode", 0) >> 31) & 1;
	json_decref(s);
	return dir;
}

static int from_container(struct cli *cli, const char *ctr, const char *src,
			  const char *dest)
{
	char path[PATH_MAX + 512], ec[256], ep[PATH_MAX];
	cli_escape(ctr, ec, sizeof(ec));
	cli_escape(src, ep, sizeof(ep));
	snprintf(path, sizeof(path), "/containers/%s/archive?path=%s", ec, ep);
	struct http_result r;
	if (cli_call(cli, "GET", path, NULL, 0, NULL, &r, 0) != 0)
		return 1;
	int rc = 0;
	if (!strcmp(dest, "-")) {
		fwrite(r.body, 1, r.body_len, stdout);
		http_result_fini(&r);
		return 0;
	}
	char dcopy[PATH_MAX], scopy[PATH_MAX], tmp[PATH_MAX + 32];
	snprintf(dcopy, sizeof(dcopy), "%s", dest);
	snprintf(scopy, sizeof(scopy), "%s", src);
	size_t sl = strlen(scopy);
	while (sl > 1 && scopy[sl - 1] == '/')
		scopy[--sl] = '\0';
	struct stat st;
	bool into = stat(dest, &st) == 0 && S_ISDIR(st.st_mode);
	snprintf(tmp, sizeof(tmp), "%s/.shoal-cp-XXXXXX",
		 into ? dest : dirname(dcopy));
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "shoal cp: %s: %s\n", tmp, strerror(errno));
		http_result_fini(&r);
		return 1;
	}
	char *const args[] = {(char *)"tar", (char *)"-x", (char *)"-f",
			      (char *)"-",   (char *)"-C", tmp,
			      NULL};
	if (run_tar(args, r.body, r.body_len, NULL) != 0) {
		fprintf(stderr, "shoal cp: cannot unpack the archive\n");
		rc = 1;
	}
	http_result_fini(&r);
	char from[PATH_MAX * 2 + 64], to[PATH_MAX * 2];
	snprintf(from, sizeof(from), "%s/%s", tmp, basename(scopy));
	if (into)
		snprintf(to, sizeof(to), "%s/%s", dest, basename(scopy));
	else
		snprintf(to, sizeof(to), "%s", dest);
	if (rc == 0 && rename(from, to) < 0) {
		fprintf(stderr, "shoal cp: %s: %s\n", to, strerror(errno));
		rc = 1;
	}
	char *const rm[] = {(char *)"rm", (char *)"-rf", tmp, NULL};
	pid_t c = fork();
	if (c == 0) {
		execvp("rm", rm);
		_exit(127);
	}
	if (c > 0)
		waitpid(c, NULL, 0);
	return rc;
}

static int to_container(struct cli *cli, const char *src, const char *ctr,
			const char *dest)
{
	char path[PATH_MAX + 512], ec[256], ep[PATH_MAX];
	struct stat st;
	if (lstat(src, &st) < 0) {
		fprintf(stderr, "shoal cp: %s: %s\n", src, strerror(errno));
		return 1;
	}
	cli_escape(ctr, ec, sizeof(ec));
	cli_escape(dest, ep, sizeof(ep));
	snprintf(path, sizeof(path), "/containers/%s/archive?path=%s", ec, ep);
	struct http_result r;
	bool into = false;
	if (cli_call(cli, "HEAD", path, NULL, 0, NULL, &r, 404) == 0) {
		into = stat_is_dir(
			http_result_header(&r, "X-Docker-Container-Path-Stat"));
		http_result_fini(&r);
	}
	char scopy[PATH_MAX], sdir[PATH_MAX], dcopy[PATH_MAX], ddir[PATH_MAX];
	snprintf(scopy, sizeof(scopy), "%s", src);
	snprintf(sdir, sizeof(sdir), "%s", src);
	snprintf(dcopy, sizeof(dcopy), "%s", dest);
	snprintf(ddir, sizeof(ddir), "%s", dest);
	const char *sbase = basename(scopy);
	char *sd = dirname(sdir);
	char xform[PATH_MAX * 2 + 16];
	snprintf(xform, sizeof(xform), "s,^%s,%s,", sbase, basename(dcopy));
	char *const with[] = {
		(char *)"tar", (char *)"-c", (char *)"-f",	    (char *)"-",
		(char *)"-C",  sd,	     (char *)"--transform", xform,
		(char *)sbase, NULL};
	char *const plain[] = {(char *)"tar", (char *)"-c", (char *)"-f",
			       (char *)"-",   (char *)"-C", sd,
			       (char *)sbase, NULL};
	struct buf b;
	buf_init(&b, (size_t)1 << 30);
	int rc = run_tar(into ? plain : with, NULL, 0, &b);
	if (rc != 0) {
		fprintf(stderr, "shoal cp: cannot archive %s\n", src);
		buf_fini(&b);
		return 1;
	}
	if (!into) {
		cli_escape(dirname(ddir), ep, sizeof(ep));
		snprintf(path, sizeof(path), "/containers/%s/archive?path=%s",
			 ec, ep);
	}
	rc = cli_call(cli, "PUT", path, b.data, b.len, "application/x-tar",
		      NULL, 0);
	buf_fini(&b);
	return rc == 0 ? 0 : 1;
}

/* "ctr:/path" into ctr and path; false for a local path. */
static bool split(char *arg, char **ctr, char **path)
{
	char *c = strchr(arg, ':');
	if (!c || arg[0] == '/' || arg[0] == '.' || c == arg)
		return false;
	*c = '\0';
	*ctr = arg;
	*path = c + 1;
	return true;
}

int cli_ctr_cp(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("cp", NULL, 0, argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal cp CONTAINER:SRC_PATH DEST_PATH|-\n"
		       "        shoal cp SRC_PATH CONTAINER:DEST_PATH\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (argc - i != 2) {
		fprintf(stderr, "\"shoal cp\" requires exactly 2 arguments.\n"
				"See 'shoal cp --help'.\n");
		return 1;
	}
	char *c1, *p1, *c2, *p2;
	bool a = split(argv[i], &c1, &p1), b = split(argv[i + 1], &c2, &p2);
	if (a == b) {
		fprintf(stderr, "shoal cp: one of the paths must be "
				"CONTAINER:PATH, the other local\n");
		return 1;
	}
	return a ? from_container(cli, c1, p1, argv[i + 1])
		 : to_container(cli, argv[i], c2, p2);
}
