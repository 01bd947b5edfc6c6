/*
 * The CLI's side of the API: one synchronous GET per call through
 * common/http's client, Docker's messages when the daemon is away or
 * answers with an error, and small printing helpers shared by subcommands.
 */
#include "cli/cli.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/http.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool cli_unreachable(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES ||
	       rc == -ENOTSOCK || rc == -ENOTDIR || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == SHOAL_ECLOSED || rc == -ECONNRESET;
}

int cli_api_get(struct cli *cli, const char *path, json_t **out)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s%s", CLI_API_PREFIX, path);
	struct http_client_req req = {
		.method = "GET",
		.path = full,
		.timeout_ms = CLI_TIMEOUT_MS,
	};
	struct http_result r;
	int rc = http_client_fetch(cli->host, &req, &r);
	if (rc < 0) {
		if (cli_unreachable(rc))
			fprintf(stderr,
				"Cannot connect to the Shoal daemon at %s. Is "
				"shoald running?\n",
				cli->host);
		else
			fprintf(stderr,
				"Error talking to the Shoal daemon at "
				"%s: %s\n",
				cli->host, shoal_strerror(rc));
		return -1;
	}
	json_t *v = NULL;
	char err[256];
	rc = jsonx_parse(r.body, r.body_len, &v, err, sizeof(err));
	if (r.status >= 400) {
		const char *msg = v ? jsonx_str(v, "message", NULL) : NULL;
		fprintf(stderr, "Error response from daemon: %s\n",
			msg ? msg : r.body);
		json_decref(v);
		http_result_fini(&r);
		return -1;
	}
	http_result_fini(&r);
	if (rc < 0) {
		fprintf(stderr, "Error: the daemon answered with %s\n", err);
		return -1;
	}
	*out = v;
	return 0;
}

void cli_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(4) | JSON_ENCODE_ANY);
	putchar('\n');
}

void cli_bytes(double bytes, char *out, size_t cap)
{
	static const char *const units[] = {"B",   "KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	size_t i = 0;
	while (bytes >= 1024 && i + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, cap, "%.4g%s", bytes, units[i]);
}

int cli_format_flag(const char *cmd, int argc, char **argv, bool *json)
{
	*json = false;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--format") == 0 ||
		    strcmp(argv[i], "-f") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"shoal %s: flag needs an argument: "
					"%s\n",
					cmd, argv[i]);
				return -1;
			}
			v = argv[++i];
		} else if (strncmp(argv[i], "--format=", 9) == 0) {
			v = argv[i] + 9;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			printf("Usage:  shoal %s [--format json]\n", cmd);
			return 1;
		} else {
			fprintf(stderr,
				"shoal %s: unknown argument: %s\nSee 'shoal %s "
				"--help'.\n",
				cmd, argv[i], cmd);
			return -1;
		}
		if (strcmp(v, "json") != 0) {
			fprintf(stderr,
				"shoal %s: invalid --format \"%s\": only json "
				"is supported\n",
				cmd, v);
			return -1;
		}
		*json = true;
	}
	return 0;
}
