/*
 * libshoal-compose: compose files (the Compose specification as `docker
 * stack deploy` and docker-compose 1.29 read it) turned into the Docker
 * Engine API objects a stack is made of.
 *
 * Three steps, each usable alone:
 *  1. compose_parse(): one YAML document (libyaml) into a JSON tree, with
 *     anchors, aliases and `<<` merge keys resolved as libyaml reports
 *     them, and `${VAR}` interpolation applied to every scalar value.
 *  2. compose_merge(): several files merged as docker does for repeated
 *     `-c` (later files override; see docs/stacks.md for the rules).
 *  3. compose_convert(): the merged tree checked key by key (an unknown
 *     or unsupported key is an error naming its path, never ignored) and
 *     converted into {"Services": {name: ServiceSpec}, "Networks": {name:
 *     NetworkCreate}, "Volumes": {name: VolumeCreate}, "Secrets": {name:
 *     SecretSpec}, "Configs": {name: ConfigSpec}, "Local": {name:
 *     {"Restart", "DependsOn"}}} with every object named STACK_NAME and
 *     labelled com.docker.stack.namespace=STACK ("Local": single-host
 *     keys, empty for a stack, which refuses them).
 *
 * The library does no I/O of its own: files a compose file names
 * (env_file, secret and config `file:`) are read through the caller's
 * reader, so the fuzz target runs the whole conversion without touching
 * the disk. Nothing here keeps state; every function is reentrant.
 */
#ifndef SHOAL_COMPOSE_COMPOSE_H
#define SHOAL_COMPOSE_COMPOSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Bounds on outside input: a compose file is small. */
#define COMPOSE_MAX_FILE (4u << 20)    /* bytes of one compose file */
#define COMPOSE_MAX_NODES 200000       /* YAML nodes after alias expansion */
#define COMPOSE_MAX_DEPTH 64	       /* nesting of mappings/sequences */
#define COMPOSE_MAX_OBJFILE (1u << 20) /* env_file, secret, config file */

/**
 * struct compose_env - what interpolation reads: @vars is an object of
 * strings (the caller's environment; borrowed).
 */
struct compose_env {
	const json_t *vars;
};

/**
 * compose_read_fn - read the file @path (already resolved against the
 * compose file's folder) into *@data (owned: free()) and *@len. Return 0
 * or a negative errno; @err gets the reason.
 */
typedef int compose_read_fn(void *arg, const char *path, char **data,
			    size_t *len, struct shoal_err *err);

/**
 * compose_parse() - the YAML text @data (@len bytes; @name for messages)
 * into *@out (owned: json_decref), interpolated with @env. The top level
 * must be a mapping. Returns 0, -EINVAL with @err ("compose.yml: line 3,
 * column 5: ..."), -E2BIG past the COMPOSE_MAX_* bounds, -ENOMEM.
 */
int compose_parse(const char *data, size_t len, const char *name,
		  const struct compose_env *env, json_t **out,
		  struct shoal_err *err);

/**
 * compose_merge() - merge the parsed file @over into @base (modified in
 * place), as docker merges repeated -c files. Returns 0 or -EINVAL with
 * @err for shapes that cannot be merged (a mapping over a list, ...).
 */
int compose_merge(json_t *base, const json_t *over, struct shoal_err *err);

/**
 * struct compose_opts - how compose_convert() names and reads things.
 * @stack: the stack (namespace) name, [a-zA-Z0-9][a-zA-Z0-9_.-]*.
 * @dir: the folder relative paths are resolved against (absolute).
 * @env: for `environment: [VAR]` entries without a value.
 * @read/@read_arg: reader of env_file, secret and config files; NULL
 *	refuses every such file.
 * @local: single-host Compose (docker-compose's project) rather than a
 *	swarm stack: networks default to the bridge driver and networks
 *	and volumes are labelled com.docker.compose.project (and
 *	.network / .volume) instead of com.docker.stack.namespace.
 */
struct compose_opts {
	const char *stack;
	const char *dir;
	const struct compose_env *env;
	compose_read_fn *read;
	void *read_arg;
	bool local;
};

/**
 * compose_convert() - the merged compose tree @doc into the stack's API
 * objects *@out (owned), shaped as described at the top of this file.
 * Secret and config references in a ServiceSpec carry SecretName /
 * ConfigName only; the caller fills SecretID / ConfigID once the objects
 * exist. External networks, volumes, secrets and configs appear in their
 * table as {"External": true, "Name": "..."} and are not created.
 * Returns 0 or -EINVAL with @err naming the offending key's path
 * ("services.web.deploy.foo: unsupported key"), -ENOMEM.
 */
int compose_convert(const json_t *doc, const struct compose_opts *o,
		    json_t **out, struct shoal_err *err);

/**
 * compose_load() - compose_parse() of each of the @n files @paths (read
 * with @o->read), compose_merge() in order, compose_convert(). The folder
 * of the first file is the project folder when @o->dir is NULL.
 */
int compose_load(const char *const *paths, size_t n,
		 const struct compose_opts *o, json_t **out,
		 struct shoal_err *err);

/**
 * compose_read_file() - a compose_read_fn over the local file system
 * (open, at most COMPOSE_MAX_OBJFILE or COMPOSE_MAX_FILE bytes).
 */
int compose_read_file(void *arg, const char *path, char **data, size_t *len,
		      struct shoal_err *err);

/**
 * compose_duration() - Go's time.ParseDuration ("1m30s", "500ms", "2h")
 * into *@ns. 0 or -EINVAL.
 */
int compose_duration(const char *s, long long *ns);

/**
 * compose_bytes() - docker's RAMInBytes ("512M", "1g", "100kb", "1024")
 * into *@out, binary units. 0 or -EINVAL.
 */
int compose_bytes(const char *s, long long *out);

/**
 * compose_valid_stack_name() - whether @s may name a stack (and prefix
 * its objects).
 */
bool compose_valid_stack_name(const char *s);

#endif
