/*
 * Internal to cli/: helpers of the swarm and node subcommands
 * (swarm_call.c).
 */
#ifndef SHOAL_CLI_SWARM_CALL_H
#define SHOAL_CLI_SWARM_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "common/alloc.h"

/**
 * cli__call() - @method CLI_API_PREFIX @path with @body (may be NULL) as
 * JSON. On a 2xx answer returns 0 and *@out (when not NULL) the parsed
 * body or NULL for an empty one (owned). Otherwise prints Docker's error
 * line and returns -1.
 */
int cli__call(struct cli *cli, const char *method, const char *path,
	      const json_t *body, json_t **out);

/**
 * cli__call_err() - cli__call(), except that an error answer from the
 * daemon is copied into @err (@cap bytes) instead of printed, for callers
 * that may retry. Failures to reach the daemon are still printed.
 */
int cli__call_err(struct cli *cli, const char *method, const char *path,
		  const json_t *body, json_t **out, char *err, size_t cap);

/**
 * cli__opt() - whether argv[*i] is the option @name ("--name v" or
 * "--name=v"): 1 with *@val set (and *@i moved past a separate value), 0
 * when it is not, -1 (printed) when the value is missing.
 */
int cli__opt(int argc, char **argv, int *i, const char *name, const char **val);

/** cli__flag() - whether @arg is @lng or @shrt (may be NULL). */
bool cli__flag(const char *arg, const char *lng, const char *shrt);

/** cli__capitalize() - "ready" -> "Ready" into @out. */
void cli__capitalize(const char *s, char *out, size_t cap);

/* Subcommand tables. */
int cli__swarm_join_token(struct cli *cli, int argc, char **argv);
int cli__swarm_unlock(struct cli *cli, int argc, char **argv);
int cli__swarm_unlock_key(struct cli *cli, int argc, char **argv);

/** cli__print_unlock_key() - docker's paragraph with @key ("": none). */
void cli__print_unlock_key(const char *key);

/** cli__print_unlock_key_of() - fetch the unlock key and print it so;
 * 1 (printed) when there is none. */
int cli__print_unlock_key_of(struct cli *cli);

#endif
