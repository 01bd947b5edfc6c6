/*
 * shoal commit, shoal history and shoal export: docker's commands of the
 * same names over POST /commit, GET /images/{name}/history and GET
 * /containers/{id}/export (api/commit.c, api/export.c). Output as the
 * docker CLI prints it: the new image's id; docker's history table
 * (IMAGE, CREATED, CREATED BY, SIZE, COMMENT; --no-trunc, -q, -H); the
 * export tar to stdout (refused when stdout is a terminal, as docker
 * refuses) or to -o FILE, streamed without holding it in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/clock.h"
#include "common/jsonx.h"

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

static int usage(const char *cmd, const char *args)
{
	printf("Usage:  shoal %s %s\n", cmd, args);
	return 0;
}

static int args_error(const char *cmd, const char *what)
{
	fprintf(stderr, "\"shoal %s\" requires %s.\nSee 'shoal %s --help'.\n",
		cmd, what, cmd);
	return 1;
}

/* ---- commit ---- */

/* "repo[:tag]" into the query's repo and tag (a ':' after the last '/'). */
static void split_ref(const char *ref, char *repo, char *tag, size_t cap)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	char r[512] = "", t[256] = "";
	snprintf(r, sizeof(r), "%.*s",
		 (int)(colon ? (size_t)(colon - ref) : strlen(ref)), ref);
	if (colon)
		snprintf(t, sizeof(t), "%s", colon + 1);
	cli_escape(r, repo, cap);
	cli_escape(t, tag, cap);
}

int cli_commit(struct cli *cli, int argc, char **argv)
{
	const char *msg = NULL, *author = NULL;
	bool pause = true;
	struct cli_list changes = {0};
	const struct cli_flag flags[] = {
		{"message", 'm', CLI_FLAG_STR, &msg},
		{"author", 'a', CLI_FLAG_STR, &author},
		{"change", 'c', CLI_FLAG_LIST, &changes},
		{"pause", 'p', CLI_FLAG_BOOL, &pause},
	};
	int i = cli_flags("commit", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("commit",
			     "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]");
	if (i < 0)
		return 1;
	if (argc - i < 1 || argc - i > 2)
		return args_error("commit",
				  "at least 1 and at most 2 arguments");
	static char path[16384];
	char c[512], repo[1024] = "", tag[512] = "", m[2048] = "", a[1024] = "";
	cli_escape(argv[i], c, sizeof(c));
	if (argc - i == 2)
		split_ref(argv[i + 1], repo, tag, sizeof(tag));
	if (msg)
		cli_escape(msg, m, sizeof(m));
	if (author)
		cli_escape(author, a, sizeof(a));
	int n = snprintf(path, sizeof(path),
			 "/commit?container=%s&repo=%s&tag=%s&comment=%s"
			 "&author=%s&pause=%s",
			 c, repo, tag, m, a, pause ? "1" : "0");
	for (size_t k = 0; k < changes.n && n > 0 && n < (int)sizeof(path);
	     k++) {
		char e[4096];
		cli_escape(changes.v[k], e, sizeof(e));
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&changes=%s",
			      e);
	}
	if (n < 0 || n >= (int)sizeof(path)) {
		fprintf(stderr, "Error: the --change lines are too long\n");
		return 1;
	}
	json_t *o;
	if (cli_call_json(cli, "POST", path, NULL, &o) < 0)
		return 1;
	printf("%s\n", jsonx_str(o, "Id", ""));
	json_decref(o);
	return 0;
}

/* ---- history ---- */

static void history_row(const json_t *r, bool notrunc, bool human, bool quiet)
{
	const char *id = jsonx_str(r, "Id", "");
	char short_id[80], created[96], size[32], by[4096], d[64];
	snprintf(short_id, sizeof(short_id), "%s",
		 notrunc || !strncmp(id, "<", 1)
			 ? id
			 : (strncmp(id, "sha256:", 7) ? id : id + 7));
	if (!notrunc && strncmp(id, "<", 1))
		short_id[12] = '\0';
	if (quiet) {
		printf("%s\n", short_id);
		return;
	}
	int64_t t = jsonx_int(r, "Created", 0);
	if (human) {
		time_format_human((int64_t)time(NULL) - t, d, sizeof(d));
		snprintf(created, sizeof(created), "%s ago", d);
	} else {
		time_t tt = (time_t)t;
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime(&tt));
	}
	if (human)
		cli_human_size((double)jsonx_int(r, "Size", 0), size,
			       sizeof(size));
	else
		snprintf(size, sizeof(size), "%lld",
			 (long long)jsonx_int(r, "Size", 0));
	const char *cb = jsonx_str(r, "CreatedBy", "");
	if (notrunc)
		snprintf(by, sizeof(by), "%s", cb);
	else
		cli_ellipsis(cb, 45, by, sizeof(by));
	printf("%-25s %-19s %-45s %-9s %s\n", short_id, created, by, size,
	       jsonx_str(r, "Comment", ""));
}

int cli_history(struct cli *cli, int argc, char **argv)
{
	bool notrunc = false, quiet = false;
	bool hum = true;
	const struct cli_flag flags[] = {
		{"no-trunc", 0, CLI_FLAG_BOOL, &notrunc},
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"human", 'H', CLI_FLAG_BOOL, &hum},
	};
	int i = cli_flags("history", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("history", "[OPTIONS] IMAGE");
	if (i < 0)
		return 1;
	if (argc - i != 1)
		return args_error("history", "exactly 1 argument");
	char name[1024], path[1200];
	cli_escape(argv[i], name, sizeof(name));
	snprintf(path, sizeof(path), "/images/%s/history", name);
	json_t *o;
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	if (!quiet)
		printf("%-25s %-19s %-45s %-9s %s\n", "IMAGE", "CREATED",
		       "CREATED BY", "SIZE", "COMMENT");
	for (size_t k = 0; k < json_array_size(o); k++)
		history_row(json_array_get(o, k), notrunc, hum, quiet);
	json_decref(o);
	return 0;
}

/* ---- export ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int stream_to(struct cli_conn *c, int out)
{
	char buf[65536];
	int rc = write_all(out, c->left, c->nleft);
	while (rc == 0) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		rc = write_all(out, buf, (size_t)n);
	}
	return rc;
}

int cli_export(struct cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	const struct cli_flag flags[] = {
		{"output", 'o', CLI_FLAG_STR, &output},
	};
	int i = cli_flags("export", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2)
		return usage("export", "[OPTIONS] CONTAINER");
	if (i < 0)
		return 1;
	if (argc - i != 1)
		return args_error("export", "exactly 1 argument");
	if (!output && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "Error: cowardly refusing to save to a "
				"terminal. Use the -o flag or redirect\n");
		return 1;
	}
	char c[512], path[600];
	cli_escape(argv[i], c, sizeof(c));
	snprintf(path, sizeof(path), "/containers/%s/export", c);
	struct cli_conn conn;
	if (cli_conn_open(cli, "GET", path, NULL, CLI_CONN_STREAM, &conn) < 0)
		return 1;
	if (conn.status >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", conn.msg);
		cli_conn_close(&conn);
		return 1;
	}
	int out = output ? open(output,
				O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
			 : STDOUT_FILENO;
	if (out < 0) {
		fprintf(stderr, "Error: failed to export container: %s: %s\n",
			output, strerror(errno));
		cli_conn_close(&conn);
		return 1;
	}
	int rc = stream_to(&conn, out);
	cli_conn_close(&conn);
	if (out != STDOUT_FILENO && close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "Error: failed to export container: %s\n",
			strerror(-rc));
		return 1;
	}
	return 0;
}
