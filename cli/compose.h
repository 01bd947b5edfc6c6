/*
 * Internal to cli/: `shoal compose` (cmd_compose.c: the project, up and
 * down; compose_logs.c: ps, logs and the foreground up's log following).
 */
#ifndef SHOAL_CLI_COMPOSE_H
#define SHOAL_CLI_COMPOSE_H

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ctr.h"

#define P_LABEL "com.docker.compose.project"
#define S_LABEL "com.docker.compose.service"

struct project {
	char name[128];
	json_t *stack; /* compose_load()'s output */
	struct cli_list files;
};

/**
 * cli__compose_by_label() - GET @what (may hold a query already) with the
 * filter label=P_LABEL=@proj, and @more (another label filter) when not
 * NULL. The list (owned), or NULL after printing the daemon's error.
 */
json_t *cli__compose_by_label(struct cli *cli, const char *what,
			      const char *proj, const char *more);

/** cli__compose_ps() - `compose ps [-q]`; the exit status. */
int cli__compose_ps(struct cli *cli, struct project *p, int argc, char **argv);
/** cli__compose_logs() - `compose logs [--tail N] [SERVICE...]`. */
int cli__compose_logs(struct cli *cli, struct project *p, int argc,
		      char **argv);
/**
 * cli__compose_follow() - after a foreground `up`: follow the logs of
 * the project's containers (of the services in @argv[1..], all when
 * none) until they end; ^C or SIGTERM stops the containers. The exit
 * status (130 when interrupted).
 */
int cli__compose_follow(struct cli *cli, const struct project *p, int argc,
			char **argv);

#endif
