/*
 * shoal volume ...: create, ls, inspect, rm, prune, with docker's table
 * (DRIVER, VOLUME NAME) and messages.
 */
#include "cli/ctr.h"
#include "cli/table.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

static int vol_create(struct cli *cli, int argc, char **argv)
{
	const char *name = NULL, *driver = NULL;
	struct cli_list labels = {0};
	const struct cli_flag flags[] = {
		{"name", 0, CLI_FLAG_STR, &name},
		{"driver", 'd', CLI_FLAG_STR, &driver},
		{"label", 0, CLI_FLAG_LIST, &labels},
	};
	int i = cli_flags("volume create", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2) {
		printf("Usage:  shoal volume create [OPTIONS] [VOLUME]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i < argc)
		name = argv[i];
	json_t *l = json_object();
	for (size_t k = 0; l && k < labels.n; k++) {
		char key[256];
		const char *eq = strchr(labels.v[k], '=');
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - labels.v[k])
			    : (int)strlen(labels.v[k]),
			 labels.v[k]);
		json_object_set_new(l, key, json_string(eq ? eq + 1 : ""));
	}
	json_t *body =
		json_pack("{s:s, s:s, s:o}", "Name", name ? name : "", "Driver",
			  driver ? driver : "local", "Labels", l);
	json_t *v;
	int rc = cli_call_json(cli, "POST", "/volumes/create", body, &v);
	json_decref(body);
	if (rc < 0)
		return 1;
	printf("%s\n", jsonx_str(v, "Name", ""));
	json_decref(v);
	return 0;
}

static int vol_ls(struct cli *cli, int argc, char **argv)
{
	bool quiet = false;
	const char *format = NULL;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"quiet", 'q', CLI_FLAG_BOOL, &quiet},
		{"format", 0, CLI_FLAG_STR, &format},
		{"filter", 'f', CLI_FLAG_LIST, &filt},
	};
	char f[2048], path[2200];
	int i = cli_flags("volume ls", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal volume ls [OPTIONS]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (cli_filters_query(&filt, NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/volumes%s%s", f[0] ? "?filters=" : "",
		 f);
	json_t *o;
	if (cli_call_json(cli, "GET", path, NULL, &o) < 0)
		return 1;
	static const char *const h[] = {"DRIVER", "VOLUME NAME"};
	struct cli_table *t = NULL;
	if (!quiet && !format && cli_table_new(2, h, &t) < 0) {
		json_decref(o);
		return 1;
	}
	const json_t *vols = json_object_get(o, "Volumes");
	for (size_t k = 0; k < json_array_size(vols); k++) {
		const json_t *v = json_array_get(vols, k);
		if (quiet) {
			printf("%s\n", jsonx_str(v, "Name", ""));
		} else if (format) {
			char *s = json_dumps(v, JSON_COMPACT);
			if (s)
				printf("%s\n", s);
			free(s);
		} else {
			const char *row[] = {jsonx_str(v, "Driver", ""),
					     jsonx_str(v, "Name", "")};
			cli_table_add(t, row);
		}
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	json_decref(o);
	return 0;
}

static int vol_inspect(struct cli *cli, int argc, char **argv)
{
	const char *format = NULL;
	const struct cli_flag flags[] = {
		{"format", 'f', CLI_FLAG_STR, &format},
	};
	int i = cli_flags("volume inspect", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2) {
		printf("Usage:  shoal volume inspect VOLUME [VOLUME...]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	int rc = 0;
	json_t *out = json_array();
	for (; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/volumes/%s", esc);
		json_t *v;
		if (cli_call_json(cli, "GET", path, NULL, &v) < 0) {
			rc = 1;
			continue;
		}
		json_array_append_new(out, v);
	}
	cli_print_json(out);
	json_decref(out);
	return rc;
}

static int vol_rm(struct cli *cli, int argc, char **argv)
{
	bool force = false;
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
	};
	int i = cli_flags("volume rm", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal volume rm [OPTIONS] VOLUME [VOLUME...]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	int rc = 0;
	for (; i < argc; i++) {
		char path[1024], esc[512];
		cli_escape(argv[i], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/volumes/%s?force=%d", esc,
			 force);
		if (cli_call(cli, "DELETE", path, NULL, 0, NULL, NULL, 0) == 0)
			printf("%s\n", argv[i]);
		else
			rc = 1;
	}
	return rc;
}

static int vol_prune(struct cli *cli, int argc, char **argv)
{
	bool force = false, all = false;
	struct cli_list filt = {0};
	const struct cli_flag flags[] = {
		{"force", 'f', CLI_FLAG_BOOL, &force},
		{"all", 'a', CLI_FLAG_BOOL, &all},
		{"filter", 0, CLI_FLAG_LIST, &filt},
	};
	char f[2048], path[2200];
	int i = cli_flags("volume prune", flags, NFLAGS(flags), argc, argv,
			  true);
	if (i == -2) {
		printf("Usage:  shoal volume prune [OPTIONS]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (!force && !cli_confirm(all ? "WARNING! This will remove all local "
					 "volumes not used by at least one "
					 "container."
				       : "WARNING! This will remove anonymous "
					 "local volumes not used by at least "
					 "one container."))
		return 0;
	if (cli_filters_query(&filt, all ? "all=true" : NULL, f, sizeof(f)) < 0)
		return 1;
	snprintf(path, sizeof(path), "/volumes/prune%s%s",
		 f[0] ? "?filters=" : "", f);
	json_t *o;
	if (cli_call_json(cli, "POST", path, NULL, &o) < 0)
		return 1;
	cli_print_prune(o, "VolumesDeleted", "Deleted Volumes");
	json_decref(o);
	return 0;
}

static const struct cli_command cmds[] = {
	{"create", vol_create, "Create a volume"},
	{"inspect", vol_inspect,
	 "Display detailed information on one or more volumes"},
	{"ls", vol_ls, "List volumes"},
	{"prune", vol_prune, "Remove unused local volumes"},
	{"rm", vol_rm, "Remove one or more volumes"},
};

int cli_cmd_volume(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "shoal volume", cmds,
			    sizeof(cmds) / sizeof(cmds[0]), argc - 1, argv + 1);
}
