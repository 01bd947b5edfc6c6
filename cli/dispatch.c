/*
 * Dispatch of a subcommand from a table, with docker's usage text and its
 * message for an unknown command.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f, const char *prog, const struct cli_command *table,
		  size_t n)
{
	fprintf(f,
		"Usage:  %s [OPTIONS] COMMAND\n\n"
		"A container swarm manager, driven like docker.\n\n"
		"Options:\n"
		"  -H, --host string   Daemon socket to connect to\n"
		"  -h, --help          Print usage\n"
		"  -v, --version       Print version information and quit\n\n"
		"Commands:\n",
		prog);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s%s\n", table[i].name, table[i].summary);
	fprintf(f,
		"\nRun '%s COMMAND --help' for more information on a "
		"command.\n",
		prog);
}

int cli_dispatch(struct cli *cli, const char *prog,
		 const struct cli_command *table, size_t n, int argc,
		 char **argv)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		usage(argc < 1 ? stderr : stdout, prog, table, n);
		return argc < 1 ? 1 : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[0], table[i].name) == 0)
			return table[i].fn(cli, argc, argv);
	fprintf(stderr, "%s: '%s' is not a %s command.\nSee '%s --help'.\n",
		prog, argv[0], prog, prog);
	return 1;
}
