/*
 * The shoal client: one file per subcommand (cmd_*.c), dispatched from the
 * table in commands.c (crun's way). A subcommand gets the global context
 * (which daemon to talk to) and its own arguments, prints to stdout, errors
 * to stderr, and returns the process exit status. The CLI links only
 * libshoal-common: it talks to shoald through the Engine API over
 * common/http like any client.
 *
 * Adding `shoal node ...`: write cmd_node.c with cli_cmd_node(), declare it
 * here, add one row to commands.c. Subcommands with their own
 * subcommands (node ls, node inspect) dispatch with cli_dispatch() on a
 * table of their own.
 */
#ifndef SHOAL_CLI_CLI_H
#define SHOAL_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_DEFAULT_HOST "unix:///run/shoal/shoald.sock"
#define CLI_API_PREFIX "/v1.45"
#define CLI_TIMEOUT_MS 30000

struct cli {
	const char *host;	 /* unix:///... or tcp://... */
	const char *host_source; /* "--host", "SHOAL_HOST", ... */
};

typedef int cli_cmd_fn(struct cli *cli, int argc, char **argv);

struct cli_command {
	const char *name;
	cli_cmd_fn *fn;
	const char *summary;
};

/* The top-level table (commands.c). */
extern const struct cli_command cli_commands[];
extern const size_t cli_ncommands;

/**
 * cli_dispatch() - run the command of @table named by argv[0], or print
 * the table as usage. Returns the exit status.
 */
int cli_dispatch(struct cli *cli, const char *prog,
		 const struct cli_command *table, size_t n, int argc,
		 char **argv);

/**
 * cli_api_get() - GET CLI_API_PREFIX @path from the daemon and parse the
 * JSON answer into *@out (owned: json_decref). On failure prints the reason
 * to stderr (Docker's words: "Cannot connect to the Shoal daemon at ...
 * Is shoald running?", or the daemon's error message) and returns -1.
 */
int cli_api_get(struct cli *cli, const char *path, json_t **out);

/**
 * cli_unreachable() - whether the error @rc of a request means the daemon
 * could not be reached at all (no socket, refused, reset before an
 * answer), as opposed to a daemon that answered or timed out. Every
 * command prints "Cannot connect to the Shoal daemon ..." for these.
 */
bool cli_unreachable(int rc);

/** cli_print_json() - @v indented, on stdout. */
void cli_print_json(const json_t *v);

/**
 * cli_bytes() - Docker's human size: 4 significant digits and binary
 * units ("23.54GiB") into @out.
 */
void cli_bytes(double bytes, char *out, size_t cap);

/**
 * cli_format_flag() - parse "--format json" / "--format=json" / "-f json"
 * in @argv; *@json set when the format is json. Other arguments are an
 * error (printed). Returns 0 or -1.
 */
int cli_format_flag(const char *cmd, int argc, char **argv, bool *json);

/* Subcommands. */
int cli_cmd_version(struct cli *cli, int argc, char **argv);
int cli_cmd_info(struct cli *cli, int argc, char **argv);
int cli_cmd_node(struct cli *cli, int argc, char **argv);
int cli_cmd_swarm(struct cli *cli, int argc, char **argv);
int cli_cmd_service(struct cli *cli, int argc, char **argv);
int cli_cmd_stack(struct cli *cli, int argc, char **argv);
int cli_cmd_compose(struct cli *cli, int argc, char **argv);
/* cmd_secret.c: shoal secret ... and shoal config ... */
int cli_cmd_secret(struct cli *cli, int argc, char **argv);
int cli_cmd_config(struct cli *cli, int argc, char **argv);

#endif
