/*
 * Internal to cli/: the service commands (cmd_service.c), their flags
 * (service_opts.c), the task tables shared with `node ps`
 * (service_tasks.c) and the converge progress (service_progress.c).
 */
#ifndef SHOAL_CLI_SERVICE_H
#define SHOAL_CLI_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/ctr.h"

/**
 * cli__service_opts() - apply the flags of `service create` (@update
 * false: @spec starts empty) or `service update` (@spec is the service's
 * current spec) in @argv[1..] to @spec. Returns the index of the first
 * positional argument, -1 after printing an error, -2 for --help. Sets
 * *@detach, *@quiet, and for update *@force_rollback (--rollback).
 */
int cli__service_opts(const char *cmd, int argc, char **argv, bool update,
		      json_t *spec, bool *detach, bool *quiet, bool *rollback);

/** The network and port flags (service_net.c); NULL/empty: not given. */
struct cli_service_net {
	struct cli_list network, network_add, network_rm;
	struct cli_list publish, publish_add, publish_rm;
	const char *mode; /* --endpoint-mode */
};

/**
 * cli__service_net() - apply @f to @spec (TaskTemplate.Networks and
 * EndpointSpec, see service_net.c). 0, or -1 after printing a bad value.
 */
int cli__service_net(json_t *spec, const struct cli_service_net *f);

/** cli__service_net_cli() - the client --network-rm asks for a network's
 * id (a stored spec names networks by id). */
void cli__service_net_cli(struct cli *cli);

/**
 * cli__service_rebalance() - whether the last cli__service_opts() of an
 * update saw --rebalance (beyond docker: POST ...?rebalance=true).
 */
bool cli__service_rebalance(void);

/**
 * cli__health_json() - docker's --health-cmd, --health-interval,
 * --health-timeout, --health-retries, --health-start-period and
 * --no-healthcheck (NULL/false: not given) as a HealthConfig into *@out
 * (owned; NULL when none was given). -1 after printing a bad value.
 */
int cli__health_json(const char *cmd, const char *interval, const char *timeout,
		     const char *retries, const char *start_period, bool none,
		     json_t **out);

/** cli__go_duration() - @ns as Go's time.Duration String ("1m30s"). */
void cli__go_duration(int64_t ns, char *out, size_t cap);

/** cli__parse_time() - RFC 3339 with fraction into ns since the epoch;
 * 0 for junk. */
int64_t cli__parse_time(const char *s);

/**
 * cli__print_tasks() - `service ps` / `node ps` tables of the tasks
 * @filters (Docker's filters JSON text, unescaped) selects. 0 or 1.
 */
int cli__print_tasks(struct cli *cli, const char *filters, bool trunc,
		     bool quiet);

/** cli__node_ps() - `node ps [-q] [--no-trunc] [-f] [NODE...]`. */
int cli__node_ps(struct cli *cli, int argc, char **argv);

/** cli__service_logs() - `service logs` (service_logs.c). */
int cli__service_logs(struct cli *cli, int argc, char **argv);

/**
 * cli__wait_converged() - Docker's converge progress of service @id
 * (@label is what the user named it, printed in "verify: Service %s
 * converged") until it converged, failed or paused. 0 or 1.
 */
int cli__wait_converged(struct cli *cli, const char *id, const char *label,
			bool quiet);

#endif
