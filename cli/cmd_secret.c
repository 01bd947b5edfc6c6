/*
 * shoal secret ... and shoal config ...: create NAME FILE|- (-l/--label,
 * --template-driver golang; --driver, which the managers refuse by name), ls
 * (-q, -f,
 * --format json), inspect (--pretty), rm, and beyond Docker rotate NAME
 * FILE|- (new data; every service using it rolls its tasks). The docker
 * CLI's tables and messages (docs/secrets.md). The file is read whole, up
 * to one byte past the larger limit so the daemon names the limit.
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))
#define READ_MAX ((size_t)1024 * 1024 + 1)

struct kind {
	const char *word;  /* "secret" */
	const char *route; /* "/secrets" */
	bool secret;
};

static const struct kind k_secret = {"secret", "/secrets", true};
static const struct kind k_config = {"config", "/configs", false};

/* @path ("-" for stdin) as standard base64 (owned: free()), NULL after
 * printing why. */
static char *read_b64(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "error reading content from \"%s\": %s\n", path,
			strerror(errno));
		return NULL;
	}
	unsigned char *buf = malloc(READ_MAX);
	size_t n = buf ? fread(buf, 1, READ_MAX, f) : 0;
	bool bad = !buf || ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "error reading content from \"%s\"\n", path);
		free(buf);
		return NULL;
	}
	size_t cap =
		sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	if (s)
		sodium_bin2base64(s, cap, buf, n,
				  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(buf, READ_MAX);
	free(buf);
	return s;
}

static json_t *labels_of(const struct cli_list *l)
{
	json_t *o = json_object();
	for (size_t k = 0; o && k < l->n; k++) {
		char key[256];
		const char *eq = strchr(l->v[k], '=');
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - l->v[k]) : (int)strlen(l->v[k]),
			 l->v[k]);
		json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

static int want_args(const struct kind *k, const char *sub, int i, int argc,
		     int n)
{
	if (argc - i == n)
		return 0;
	fprintf(stderr,
		"\"shoal %s %s\" requires exactly %d arguments.\nSee 'shoal %s "
		"%s --help'.\n",
		k->word, sub, n, k->word, sub);
	return -1;
}

static int create(struct cli *cli, const struct kind *k, int argc, char **argv)
{
	const char *tpl = NULL, *driver = NULL;
	struct cli_list labels = {0};
	const struct cli_flag flags[] = {
		{"label", 'l', CLI_FLAG_LIST, &labels},
		{"template-driver", 0, CLI_FLAG_STR, &tpl},
		{"driver", 'd', CLI_FLAG_STR, &driver},
	};
	char cmd[32], path[64];
	snprintf(cmd, sizeof(cmd), "%s create", k->word);
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal %s create [OPTIONS] %s file|-\n", k->word,
		       k->secret ? "SECRET" : "CONFIG");
		return 0;
	}
	if (i < 0 || want_args(k, "create", i, argc, 2) < 0)
		return 1;
	if (driver && !k->secret) {
		fprintf(stderr, "unknown flag: --driver\n");
		return 1;
	}
	char *data = read_b64(argv[i + 1]);
	if (!data)
		return 1;
	json_t *body = json_pack("{s:s, s:o, s:s}", "Name", argv[i], "Labels",
				 labels_of(&labels), "Data", data);
	if (body && tpl)
		json_object_set_new(body, "Templating",
				    json_pack("{s:s}", "Name", tpl));
	if (body && driver)
		json_object_set_new(body, "Driver",
				    json_pack("{s:s}", "Name", driver));
	sodium_memzero(data, strlen(data));
	free(data);
	json_t *v = NULL;
	snprintf(path, sizeof(path), "%s/create", k->route);
	int rc = body ? cli_call_json(cli, "POST", path, body, &v) : -1;
	json_decref(body);
	if (rc < 0)
		return 1;
	printf("%s\n", jsonx_str(v, "ID", ""));
	json_decref(v);
	return 0;
}

static int rotate(struct cli *cli, const struct kind *k, int argc, char **argv)
{
	char cmd[32], path[1024], esc[512];
	snprintf(cmd, sizeof(cmd), "%s rotate", k->word);
	int i = cli_flags(cmd, NULL, 0, argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal %s rotate %s file|-\n\nGive the %s new "
		       "data; every service using it replaces its tasks, "
		       "with its update config.\n",
		       k->word, k->secret ? "SECRET" : "CONFIG", k->word);
		return 0;
	}
	if (i < 0 || want_args(k, "rotate", i, argc, 2) < 0)
		return 1;
	char *data = read_b64(argv[i + 1]);
	if (!data)
		return 1;
	json_t *body = json_pack("{s:s}", "Data", data);
	sodium_memzero(data, strlen(data));
	free(data);
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "%s/%s/rotate", k->route, esc);
	json_t *v = NULL;
	int rc = body ? cli_call_json(cli, "POST", path, body, &v) : -1;
	json_decref(body);
	if (rc < 0)
		return 1;
	printf("%s\n", jsonx_str(v, "ID", ""));
	json_decref(v);
	return 0;
}

static void ago(const char *rfc3339, char *out, size_t cap)
{
	char d[64];
	int64_t ns = cli__parse_time(rfc3339);
	time_format_human((time_real_ns() - ns) / 1000000000, d, sizeof(d));
	snprintf(out, cap, "%s ago", d);
}

static int ls(struct cli *cli, const struct kind *k, int argc, char **argv)
{
	bool quiet = false;
	const char *format = NULL;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"format", 0, CLI_FLAG_STR, &format},
		{"filter", 'f', CLI_FLAG_LIST, &filt},
	};
	static const char *const hs[] = {"ID", "NAME", "DRIVER", "CREATED",
					 "UPDATED"};
	static const char *const hc[] = {"ID", "NAME", "CREATED", "UPDATED"};
	char cmd[32], f[2048], path[2200];
	snprintf(cmd, sizeof(cmd), "%s ls", k->word);
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true);
	struct cli_table *t = NULL;
	json_t *o;
	if (i == -2) {
		printf("Usage:  shoal %s ls [OPTIONS]\n", k->word);
		return 0;
	}
	if (i < 0 || cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	if (format && strcmp(format, "json")) {
		fprintf(stderr,
			"--format %s is not supported by shoal %s ls: "
			"use --format json\n",
			format, k->word);
		return 1;
	}
	snprintf(path, sizeof(path), "%s%s%s", k->route,
		 f[0] ? "?filters=" : "", f);
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	if (!quiet && !format &&
	    cli_table_new(k->secret ? 5 : 4, k->secret ? hs : hc, &t) < 0) {
		json_decref(o);
		return 1;
	}
	for (size_t j = 0; j < json_array_size(o); j++) {
		const json_t *s = json_array_get(o, j);
		const json_t *spec = jsonx_obj(s, "Spec");
		char cr[80], up[80];
		if (quiet) {
			printf("%s\n", jsonx_str(s, "ID", ""));
			continue;
		}
		if (format) {
			char *d = json_dumps(s, JSON_COMPACT);
			if (d)
				printf("%s\n", d);
			free(d);
			continue;
		}
		ago(jsonx_str(s, "CreatedAt", ""), cr, sizeof(cr));
		ago(jsonx_str(s, "UpdatedAt", ""), up, sizeof(up));
		const char *rs[] = {jsonx_str(s, "ID", ""),
				    jsonx_str(spec, "Name", ""), "", cr, up};
		const char *rcfg[] = {jsonx_str(s, "ID", ""),
				      jsonx_str(spec, "Name", ""), cr, up};
		cli_table_add(t, k->secret ? rs : rcfg);
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_decref(o);
	return 0;
}

static void pretty(const struct kind *k, const json_t *s)
{
	const json_t *spec = jsonx_obj(s, "Spec");
	const json_t *labels = jsonx_obj(spec, "Labels");
	const char *key;
	json_t *v;
	printf("ID:              %s\n", jsonx_str(s, "ID", ""));
	printf("Name:              %s\n", jsonx_str(spec, "Name", ""));
	if (json_object_size(labels)) {
		printf("Labels:\n");
		json_object_foreach((json_t *)labels, key, v)
		{
			printf(" - %s=%s\n", key, json_string_value(v));
		}
	}
	printf("Created at:        %s\n", jsonx_str(s, "CreatedAt", ""));
	printf("Updated at:        %s\n", jsonx_str(s, "UpdatedAt", ""));
	if (k->secret)
		return;
	const char *b64 = jsonx_str(spec, "Data", "");
	size_t cap = strlen(b64), len = 0;
	unsigned char *d = malloc(cap + 1);
	if (d && sodium_base642bin(d, cap, b64, cap, NULL, &len, NULL,
				   sodium_base64_VARIANT_ORIGINAL) == 0) {
		printf("Data:\n");
		fwrite(d, 1, len, stdout);
		if (len && d[len - 1] != '\n')
			printf("\n");
	}
	free(d);
}

static int inspect(struct cli *cli, const struct kind *k, int argc, char **argv)
{
	bool prettyf = false;
	const char *format = NULL;
	const struct cli_flag flags[] = {
		{"pretty", 0, CLI_FLAG_BOOL, &prettyf},
		{"format", 'f', CLI_FLAG_STR, &format},
	};
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "%s inspect", k->word);
	int i = cli_flags(cmd, flags, NFLAGS(flags), argc, argv, true);
	int rc = 0;
	if (i == -2) {
		printf("Usage:  shoal %s inspect [OPTIONS] %s [%s...]\n",
		       k->word, k->secret ? "SECRET" : "CONFIG",
		       k->secret ? "SECRET" : "CONFIG");
		return 0;
	}
	if (i < 0)
		return 1;
	if (format) {
		fprintf(stderr,
			"--format is not supported by shoal %s "
			"inspect: use the docker CLI or jq\n",
			k->word);
		return 1;
	}
	if (i == argc) {
		fprintf(stderr,
			"\"shoal %s inspect\" requires at least 1 "
			"argument.\n",
			k->word);
		return 1;
	}
	json_t *out = json_array();
	for (; i < argc; i++) {
		char path[1024], esc[512];
		json_t *v;
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "%s/%s", k->route, esc);
		if (cli_call_json(cli, "GET", path, NULL, &v) < 0) {
			rc = 1;
			continue;
		}
		if (prettyf) {
			if (json_array_size(out))
				printf("\n\n");
			pretty(k, v);
		}
		json_array_append_new(out, v);
	}
	if (!prettyf)
		cli_print_json(out);
	json_decref(out);
	return rc;
}

static int rm(struct cli *cli, const struct kind *k, int argc, char **argv)
{
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "%s rm", k->word);
	int i = cli_flags(cmd, NULL, 0, argc, argv, true);
	int rc = 0;
	if (i == -2) {
		printf("Usage:  shoal %s rm %s [%s...]\n", k->word,
		       k->secret ? "SECRET" : "CONFIG",
		       k->secret ? "SECRET" : "CONFIG");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i == argc) {
		fprintf(stderr,
			"\"shoal %s rm\" requires at least 1 argument.\n",
			k->word);
		return 1;
	}
	for (; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "%s/%s", k->route, esc);
		if (cli_call(cli, "DELETE", path, NULL, 0, NULL, NULL, 0) == 0)
			printf("%s\n", argv[i]);
		else
			rc = 1;
	}
	return rc;
}

#define SUBS(p, kind)                                                          \
	static int p##_create(struct cli *c, int argc, char **argv)            \
	{                                                                      \
		return create(c, kind, argc, argv);                            \
	}                                                                      \
	static int p##_ls(struct cli *c, int argc, char **argv)                \
	{                                                                      \
		return ls(c, kind, argc, argv);                                \
	}                                                                      \
	static int p##_inspect(struct cli *c, int argc, char **argv)           \
	{                                                                      \
		return inspect(c, kind, argc, argv);                           \
	}                                                                      \
	static int p##_rm(struct cli *c, int argc, char **argv)                \
	{                                                                      \
		return rm(c, kind, argc, argv);                                \
	}                                                                      \
	static int p##_rotate(struct cli *c, int argc, char **argv)            \
	{                                                                      \
		return rotate(c, kind, argc, argv);                            \
	}

SUBS(s, &k_secret)
SUBS(c, &k_config)

static const struct cli_command scmds[] = {
	{"create", s_create, "Create a secret from a file or STDIN as content"},
	{"inspect", s_inspect,
	 "Display detailed information on one or more secrets"},
	{"ls", s_ls, "List secrets"},
	{"rm", s_rm, "Remove one or more secrets"},
	{"rotate", s_rotate,
	 "Give a secret new data and roll the services using it"},
};

static const struct cli_command ccmds[] = {
	{"create", c_create, "Create a config from a file or STDIN"},
	{"inspect", c_inspect,
	 "Display detailed information on one or more configs"},
	{"ls", c_ls, "List configs"},
	{"rm", c_rm, "Remove one or more configs"},
	{"rotate", c_rotate,
	 "Give a config new data and roll the services using it"},
};

int cli_cmd_secret(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal secret", scmds,
			    sizeof(scmds) / sizeof(scmds[0]), argc - 1,
			    argv + 1);
}

int cli_cmd_config(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal config", ccmds,
			    sizeof(ccmds) / sizeof(ccmds[0]), argc - 1,
			    argv + 1);
}
