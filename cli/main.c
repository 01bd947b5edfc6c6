/*
 * shoal: global flags, then the subcommand from the table in commands.c.
 * The daemon's address comes from -H/--host, else $SHOAL_HOST, else
 * $DOCKER_HOST, else unix:///run/shoal/shoald.sock.
 */
#include "cli/cli.h"
#include "common/alloc.h"
#include "common/http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_host(struct cli *cli, const char *v, const char *source)
{
	struct http_addr a;
	if (http_addr_parse(v, &a) < 0) {
		fprintf(stderr,
			"shoal: invalid host \"%s\" (from %s): expected "
			"unix:///path or tcp://ADDR:PORT\n",
			v, source);
		return -1;
	}
	cli->host = v;
	cli->host_source = source;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	int i = 1;
	signal(SIGPIPE, SIG_IGN);
	shoal_alloc_install();
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			printf("Shoal version %s\n", SHOAL_VERSION);
			return 0;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			char *help[] = {(char *)"--help"};
			return cli_dispatch(&cli, "shoal", cli_commands,
					    cli_ncommands, 1, help);
		}
		const char *v = NULL;
		if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"shoal: flag needs an argument: "
					"%s\n",
					a);
				return 1;
			}
			v = argv[++i];
		} else if (strncmp(a, "--host=", 7) == 0) {
			v = a + 7;
		} else {
			fprintf(stderr,
				"shoal: unknown flag: %s\nSee 'shoal --help'.\n",
				a);
			return 1;
		}
		if (set_host(&cli, v, "--host") < 0)
			return 1;
	}
	if (!cli.host) {
		const char *e;
		int rc = 0;
		if ((e = getenv("SHOAL_HOST")) && *e)
			rc = set_host(&cli, e, "SHOAL_HOST");
		else if ((e = getenv("DOCKER_HOST")) && *e)
			rc = set_host(&cli, e, "DOCKER_HOST");
		else
			rc = set_host(&cli, CLI_DEFAULT_HOST, "default");
		if (rc < 0)
			return 1;
	}
	return cli_dispatch(&cli, "shoal", cli_commands, cli_ncommands,
			    argc - i, argv + i);
}
