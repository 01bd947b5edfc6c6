/*
 * shoal image ...: import, load, pull, ls (and `shoal images`), rm (and
 * `shoal rmi`), inspect, tag. `ls --cluster` reads GET /swarm/images on a
 * manager: which nodes of the swarm hold which images (docs/images.md).
 * Archives are read whole from a file or stdin and sent as the request body;
 * load prints the daemon's progress messages
 * ("Loaded image: busybox:latest") as docker does.
 */
#include "cli/ctr.h"
#include "cli/table.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))
#define MAX_ARCHIVE ((size_t)1 << 30)

/* The whole of @path ("-": stdin) in memory; NULL after printing why. */
static char *slurp(const char *path, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct buf b;
	char chunk[65536], *p;
	buf_init(&b, MAX_ARCHIVE);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "read %s: %s\n", path, strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			fprintf(stderr, "%s: archive too large (max 1 GiB)\n",
				path);
			goto err;
		}
	}
	if (fd)
		close(fd);
	p = buf_take(&b, len);
	if (!p)
		p = shoal_calloc(1, 1);
	return p;
err:
	if (fd)
		close(fd);
	buf_fini(&b);
	return NULL;
}

int cli_img_import(struct cli *cli, int argc, char **argv)
{
	struct cli_list changes = {0};
	const char *msg = NULL;
	const struct cli_flag flags[] = {
		{"change", 'c', CLI_FLAG_LIST, &changes},
		{"message", 'm', CLI_FLAG_STR, &msg},
	};
	int i = cli_flags("import", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal import [OPTIONS] file|- "
		       "[REPOSITORY[:TAG]]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i >= argc) {
		fprintf(stderr, "\"shoal import\" requires at least 1 "
				"argument.\n");
		return 1;
	}
	char path[8192], esc[2048];
	size_t o = (size_t)snprintf(path, sizeof(path),
				    "/images/create?fromSrc=-");
	if (i + 1 < argc) {
		char repo[512];
		snprintf(repo, sizeof(repo), "%s", argv[i + 1]);
		char *colon = strrchr(repo, ':');
		if (colon && strchr(colon, '/'))
			colon = NULL;
		if (colon)
			*colon = '\0';
		cli_escape(repo, esc, sizeof(esc));
		o += (size_t)snprintf(path + o, sizeof(path) - o, "&repo=%s",
				      esc);
		if (colon) {
			cli_escape(colon + 1, esc, sizeof(esc));
			o += (size_t)snprintf(path + o, sizeof(path) - o,
					      "&tag=%s", esc);
		}
	}
	for (size_t k = 0; k < changes.n && o < sizeof(path); k++) {
		cli_escape(changes.v[k], esc, sizeof(esc));
		o += (size_t)snprintf(path + o, sizeof(path) - o, "&changes=%s",
				      esc);
	}
	if (msg && o < sizeof(path)) {
		cli_escape(msg, esc, sizeof(esc));
		snprintf(path + o, sizeof(path) - o, "&message=%s", esc);
	}
	size_t len;
	char *body = slurp(argv[i], &len);
	if (!body)
		return 1;
	struct http_result r;
	int rc = cli_call(cli, "POST", path, body, len, "application/x-tar", &r,
			  0);
	shoal_free(body);
	if (rc)
		return 1;
	json_t *v = NULL;
	if (jsonx_parse(r.body, r.body_len, &v, NULL, 0) == 0)
		printf("%s\n", jsonx_str(v, "status", ""));
	json_decref(v);
	http_result_fini(&r);
	return 0;
}

int cli_img_load(struct cli *cli, int argc, char **argv)
{
	const char *input = "-";
	bool quiet = false;
	const struct cli_flag flags[] = {
		{"input", 'i', CLI_FLAG_STR, &input},
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
	};
	int i = cli_flags("load", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal load [OPTIONS]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (!strcmp(input, "-") && isatty(STDIN_FILENO)) {
		fprintf(stderr, "requested load from stdin, but stdin is "
				"empty\n");
		return 1;
	}
	size_t len;
	char *body = slurp(input, &len);
	if (!body)
		return 1;
	char path[64];
	snprintf(path, sizeof(path), "/images/load?quiet=%d", quiet);
	struct http_result r;
	int rc = cli_call(cli, "POST", path, body, len, "application/x-tar", &r,
			  0);
	shoal_free(body);
	if (rc)
		return 1;
	/* One JSON message per line. */
	int status = 0;
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		json_t *v = NULL;
		if (jsonx_parse(line, strlen(line), &v, NULL, 0) < 0)
			continue;
		const char *err = jsonx_str(v, "error", NULL);
		const char *stream = jsonx_str(v, "stream", NULL);
		if (err) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		} else if (stream) {
			fputs(stream, stdout);
		}
		json_decref(v);
	}
	http_result_fini(&r);
	return status;
}

/* The registry host of image name @ref, as Docker reads it ("docker.io"
 * unless the first component has a '.' or ':' or is "localhost"). */
static void ref_host(const char *ref, char *host, size_t cap)
{
	size_t n = strcspn(ref, "/");
	if (ref[n] == '/' && (memchr(ref, '.', n) || memchr(ref, ':', n) ||
			      (n == 9 && !strncmp(ref, "localhost", 9))))
		snprintf(host, cap, "%.*s", (int)n, ref);
	else
		snprintf(host, cap, "docker.io");
}

/*
 * shoal pull: the daemon's progress lines as the docker CLI prints them
 * when its output is not a terminal ("<id>: <status>", byte counts left
 * out), with the credentials `shoal login` (or `docker login`) stored
 * for the image's registry.
 */
int cli_img_pull(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, all = false;
	const char *platform = "";
	const struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"all-tags", 'a', CLI_FLAG_BOOL, &all},
		{"platform", 0, CLI_FLAG_STR, &platform},
	};
	int i = cli_flags("pull", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal pull [OPTIONS] NAME[:TAG|@DIGEST]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i + 1 != argc) {
		fprintf(stderr,
			"\"shoal pull\" requires exactly 1 argument.\n");
		return 1;
	}
	char ref[512], er[1024], ep[256], path[1400];
	snprintf(ref, sizeof(ref), "%s", argv[i]);
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	bool tagged = strchr(ref, '@') || (colon && (!slash || colon > slash));
	if (all && tagged) {
		fprintf(stderr, "tag can't be used with --all-tags/-a\n");
		return 1;
	}
	cli_escape(ref, er, sizeof(er));
	cli_escape(platform, ep, sizeof(ep));
	snprintf(path, sizeof(path),
		 "/images/create?fromImage=%s%s&platform=%s", er,
		 tagged || all ? "" : "&tag=latest", ep);
	struct http_result r;
	char host[300];
	ref_host(ref, host, sizeof(host));
	if (cli_registry_call(cli, path, host, &r))
		return 1;
	int status = 0;
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		json_t *v = NULL;
		if (jsonx_parse(line, strlen(line), &v, NULL, 0) < 0)
			continue;
		const char *err = jsonx_str(v, "error", NULL);
		const char *st = jsonx_str(v, "status", "");
		const char *id = jsonx_str(v, "id", NULL);
		if (err) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		} else if (!quiet && strcmp(st, "Downloading") &&
			   strcmp(st, "Extracting")) {
			printf("%s%s%s\n", id ? id : "", id ? ": " : "", st);
		}
		json_decref(v);
	}
	http_result_fini(&r);
	if (status == 0)
		printf("%s%s\n", ref, tagged || all ? "" : ":latest");
	return status;
}

/*
 * shoal push: POST /images/{name}/push?tag=, the progress printed as the
 * docker CLI prints it when its output is not a terminal (byte counts left
 * out), with the registry's stored credentials as shoal pull.
 */
int cli_img_push(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, all = false;
	const struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"all-tags", 'a', CLI_FLAG_BOOL, &all},
	};
	int i = cli_flags("push", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal push [OPTIONS] NAME[:TAG]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i + 1 != argc) {
		fprintf(stderr,
			"\"shoal push\" requires exactly 1 argument.\n");
		return 1;
	}
	if (all) {
		fprintf(stderr, "--all-tags is not supported: name a tag\n");
		return 1;
	}
	char name[512], et[300], path[1400];
	snprintf(name, sizeof(name), "%s", argv[i]);
	const char *tag = "latest";
	char *slash = strrchr(name, '/');
	char *colon = strrchr(name, ':');
	if (strchr(name, '@')) {
		fprintf(stderr, "cannot push a digest reference: push a tag\n");
		return 1;
	}
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		tag = colon + 1;
	}
	cli_escape(tag, et, sizeof(et));
	snprintf(path, sizeof(path), "/images/%s/push?tag=%s", name, et);
	struct http_result r;
	char host[300];
	ref_host(name, host, sizeof(host));
	if (cli_registry_call(cli, path, host, &r))
		return 1;
	int status = 0;
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		json_t *v = NULL;
		if (jsonx_parse(line, strlen(line), &v, NULL, 0) < 0)
			continue;
		const char *err = jsonx_str(v, "error", NULL);
		const char *st = jsonx_str(v, "status", NULL);
		const char *id = jsonx_str(v, "id", NULL);
		if (err) {
			fprintf(stderr, "%s\n", err);
			status = 1;
		} else if (st && !quiet && strcmp(st, "Pushing")) {
			printf("%s%s%s\n", id ? id : "", id ? ": " : "", st);
		}
		json_decref(v);
	}
	http_result_fini(&r);
	if (status == 0 && quiet)
		printf("%s:%s\n", name, tag);
	return status;
}

/* The digest RepoDigests hold for @repo ("<none>" when none). */
static const char *digest_of(const json_t *im, const char *repo)
{
	const json_t *rds = json_object_get(im, "RepoDigests");
	size_t n = strlen(repo);
	for (size_t i = 0; i < json_array_size(rds); i++) {
		const char *d = json_string_value(json_array_get(rds, i));
		if (d && !strncmp(d, repo, n) && d[n] == '@')
			return d + n + 1;
	}
	return "<none>";
}

/* Whether cluster image @im passes `ls REPOSITORY[:TAG]` (@want). */
static bool cluster_wanted(const json_t *im, const char *want)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(im, "RepoTags"), i, t)
	{
		const char *rt = json_string_value(t);
		const char *c = rt ? strrchr(rt, ':') : NULL;
		if (rt && (strcmp(rt, want) == 0 ||
			   (c && strlen(want) == (size_t)(c - rt) &&
			    strncmp(rt, want, (size_t)(c - rt)) == 0)))
			return true;
	}
	return false;
}

/* "a,b,c" of the strings of @a; "<none>" when there are none. */
static void joined(const json_t *a, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a) && off < cap; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		int n = snprintf(out + off, cap - off, "%s%s", i ? "," : "",
				 s ? s : "");
		off += n > 0 ? (size_t)n : 0;
	}
	if (!out[0])
		snprintf(out, cap, "<none>");
}

/* "h1,h2(down)": the nodes holding an image, marked when not ready. */
static void held_by(const json_t *nodes, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(nodes) && off < cap; i++) {
		const json_t *n = json_array_get(nodes, i);
		const char *st = jsonx_str(n, "State", "unknown");
		int k = snprintf(out + off, cap - off, "%s%s%s%s%s",
				 i ? "," : "", jsonx_str(n, "Hostname", ""),
				 strcmp(st, "ready") ? "(" : "",
				 strcmp(st, "ready") ? st : "",
				 strcmp(st, "ready") ? ")" : "");
		off += k > 0 ? (size_t)k : 0;
	}
}

static void cluster_row(struct cli_table *t, const json_t *im, bool notrunc)
{
	const char *full = jsonx_str(im, "Id", "");
	char id[80], tags[1024], nodes[1024], layers[16];
	snprintf(id, sizeof(id), "%s",
		 strncmp(full, "sha256:", 7) ? full : full + 7);
	if (!notrunc)
		id[12] = '\0';
	joined(json_object_get(im, "RepoTags"), tags, sizeof(tags));
	held_by(json_object_get(im, "Nodes"), nodes, sizeof(nodes));
	snprintf(layers, sizeof(layers), "%zu",
		 json_array_size(json_object_get(im, "Layers")));
	const char *row[] = {id, tags, layers, nodes};
	cli_table_add(t, row);
}

/* shoal image ls --cluster [-q] [--no-trunc] [REPOSITORY[:TAG]]. */
static int cluster_ls(struct cli *cli, const char *want, bool quiet,
		      bool notrunc)
{
	json_t *body;
	if (cli_call_json(cli, "GET", "/swarm/images", NULL, &body) < 0)
		return 1;
	static const char *const h[] = {"IMAGE ID", "TAGS", "LAYERS", "NODES"};
	struct cli_table *t = NULL;
	if (!quiet && cli_table_new(4, h, &t) < 0) {
		json_decref(body);
		return 1;
	}
	size_t i;
	json_t *im;
	json_array_foreach(json_object_get(body, "Images"), i, im)
	{
		if (want && !cluster_wanted(im, want))
			continue;
		if (quiet)
			printf("%s\n", jsonx_str(im, "Id", ""));
		else
			cluster_row(t, im, notrunc);
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_t *cut = json_object_get(body, "TruncatedNodes");
	if (json_array_size(cut) > 0) {
		char ids[1024];
		joined(cut, ids, sizeof(ids));
		fprintf(stderr,
			"warning: node(s) %s hold more images than they "
			"report; the list may be incomplete for them\n",
			ids);
	}
	json_decref(body);
	return 0;
}

int cli_img_ls(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, notrunc = false, all = false, digests = false;
	bool cluster = false;
	const char *format = NULL;
	const struct cli_flag flags[] = {
		{"cluster", 0, CLI_FLAG_BOOL, &cluster},
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"no-trunc", 0, CLI_FLAG_BOOL, &notrunc},
		{"all", 'a', CLI_FLAG_BOOL, &all},
		{"digests", 0, CLI_FLAG_BOOL, &digests},
		{"format", 0, CLI_FLAG_STR, &format},
	};
	int i = cli_flags("images", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal images [OPTIONS] [REPOSITORY[:TAG]]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	const char *want = i < argc ? argv[i] : NULL;
	if (cluster && (digests || format)) {
		fprintf(stderr,
			"shoal images: --cluster cannot be combined "
			"with --%s; use -q, --no-trunc or a "
			"REPOSITORY[:TAG]\n",
			digests ? "digests" : "format");
		return 1;
	}
	if (cluster)
		return cluster_ls(cli, want, quiet, notrunc);
	json_t *list;
	if (cli_call_json(cli, "GET", "/images/json", NULL, &list) < 0)
		return 1;
	static const char *const h[] = {"REPOSITORY", "TAG", "IMAGE ID",
					"CREATED", "SIZE"};
	static const char *const hd[] = {"REPOSITORY", "TAG",	  "DIGEST",
					 "IMAGE ID",   "CREATED", "SIZE"};
	struct cli_table *t = NULL;
	if (!quiet && !format &&
	    cli_table_new(digests ? 6 : 5, digests ? hd : h, &t) < 0) {
		json_decref(list);
		return 1;
	}
	for (size_t k = 0; k < json_array_size(list); k++) {
		const json_t *im = json_array_get(list, k);
		const json_t *tags = json_object_get(im, "RepoTags");
		size_t nt = json_array_size(tags);
		const char *full = jsonx_str(im, "Id", "");
		char id[80], created[96], size[32], d[64];
		snprintf(id, sizeof(id), "%s",
			 notrunc ? full
				 : (strncmp(full, "sha256:", 7) ? full
								: full + 7));
		if (!notrunc)
			id[12] = '\0';
		time_format_human((int64_t)time(NULL) -
					  jsonx_int(im, "Created", 0),
				  d, sizeof(d));
		snprintf(created, sizeof(created), "%s ago", d);
		cli_human_size((double)jsonx_int(im, "Size", 0), size,
			       sizeof(size));
		for (size_t j = 0; j < (nt ? nt : 1); j++) {
			char repo[512] = "<none>", tag[128] = "<none>";
			const char *rt =
				nt ? json_string_value(json_array_get(tags, j))
				   : NULL;
			if (rt) {
				const char *c = strrchr(rt, ':');
				snprintf(repo, sizeof(repo), "%.*s",
					 c ? (int)(c - rt) : (int)strlen(rt),
					 rt);
				snprintf(tag, sizeof(tag), "%s",
					 c ? c + 1 : "latest");
			}
			if (want && strcmp(want, repo) != 0 &&
			    (!rt || strcmp(want, rt) != 0))
				continue;
			if (quiet) {
				printf("%s\n", id);
				break;
			}
			if (format) {
				json_t *o = json_pack(
					"{s:s, s:s, s:s, s:s, s:s, s:s}",
					"Repository", repo, "Tag", tag,
					"Digest", digest_of(im, repo), "ID", id,
					"CreatedSince", created, "Size", size);
				char *s =
					o ? json_dumps(o, JSON_COMPACT) : NULL;
				if (s)
					printf("%s\n", s);
				free(s);
				json_decref(o);
				continue;
			}
			const char *row[] = {repo, tag, id, created, size};
			const char *rowd[] = {
				repo, tag,     digest_of(im, repo),
				id,   created, size};
			cli_table_add(t, digests ? rowd : row);
		}
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_decref(list);
	return 0;
}

int cli_img_rm(struct cli *cli, int argc, char **argv)
{
	bool force = false, noprune = false;
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"no-prune", 0, CLI_FLAG_BOOL, &noprune},
	};
	int i = cli_flags("rmi", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal rmi [OPTIONS] IMAGE [IMAGE...]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	int rc = 0;
	for (; i < argc; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "/images/%s?force=%d", argv[i],
			 force);
		json_t *rep;
		if (cli_call_json(cli, "DELETE", path, NULL, &rep) < 0) {
			rc = 1;
			continue;
		}
		for (size_t k = 0; k < json_array_size(rep); k++) {
			const json_t *e = json_array_get(rep, k);
			const char *u = jsonx_str(e, "Untagged", NULL);
			const char *d = jsonx_str(e, "Deleted", NULL);
			if (u)
				printf("Untagged: %s\n", u);
			if (d)
				printf("Deleted: %s\n", d);
		}
		json_decref(rep);
	}
	return rc;
}

int cli_img_tag(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("tag", NULL, 0, argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal tag SOURCE_IMAGE[:TAG] "
		       "TARGET_IMAGE[:TAG]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (argc - i != 2) {
		fprintf(stderr, "\"shoal tag\" requires exactly 2 "
				"arguments.\n");
		return 1;
	}
	char repo[512], path[2048], er[1024], et[256] = "";
	snprintf(repo, sizeof(repo), "%s", argv[i + 1]);
	char *colon = strrchr(repo, ':');
	if (colon && strchr(colon, '/'))
		colon = NULL;
	if (colon) {
		*colon = '\0';
		cli_escape(colon + 1, et, sizeof(et));
	}
	cli_escape(repo, er, sizeof(er));
	snprintf(path, sizeof(path), "/images/%s/tag?repo=%s&tag=%s", argv[i],
		 er, et);
	return cli_call(cli, "POST", path, NULL, 0, NULL, NULL, 0) == 0 ? 0 : 1;
}

static const struct cli_command cmds[] = {
	{"import", cli_img_import,
	 "Import the contents from a tarball to create a filesystem image"},
	{"inspect", cli_img_inspect,
	 "Display detailed information on one or more images"},
	{"load", cli_img_load, "Load an image from a tar archive or STDIN"},
	{"ls", cli_img_ls, "List images"},
	{"prune", cli_img_prune, "Remove unused images"},
	{"pull", cli_img_pull, "Download an image from a registry"},
	{"push", cli_img_push, "Upload an image to a registry"},
	{"rm", cli_img_rm, "Remove one or more images"},
	{"tag", cli_img_tag,
	 "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
};

int cli_cmd_image(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal image", cmds,
			    sizeof(cmds) / sizeof(cmds[0]), argc - 1, argv + 1);
}
