/*
 * Internal to compose/: helpers shared by the reader (yaml.c, interp.c),
 * the merge (merge.c) and the converter (convert.c, service.c, units.c).
 * Not part of the library's contract.
 */
#ifndef SHOAL_COMPOSE_INTERNAL_H
#define SHOAL_COMPOSE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "compose/compose.h"

/** compose__errf() - printf into @err (may be NULL); returns -EINVAL. */
int compose__errf(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * compose__interp() - @s with `$$`, `$VAR`, `${VAR}`, `${VAR:-def}`,
 * `${VAR-def}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR:+alt}`, `${VAR+alt}`
 * replaced from @env into *@out (owned: free()). 0 or -EINVAL with the
 * reason in @err (without position; the caller adds it).
 */
int compose__interp(const char *s, const struct compose_env *env, char **out,
		    struct shoal_err *err);

/* A converter's walk: the path of the node being read, for messages. */
struct cpath {
	char s[512];
};

/** cpath_push() - @p with ".@key" appended; returns the old length. */
size_t compose__push(struct cpath *p, const char *key);
/** compose__pushi() - @p with "[@i]" appended; returns the old length. */
size_t compose__pushi(struct cpath *p, size_t i);
/** compose__pop() - @p back to length @len. */
void compose__pop(struct cpath *p, size_t len);

/**
 * compose__keys() - whether every key of the mapping @o is in the NULL-
 * ended list @known; otherwise -EINVAL "PATH.KEY: unsupported key".
 * Also -EINVAL when @o is not a mapping ("PATH: must be a mapping").
 */
int compose__keys(const json_t *o, const char *const *known,
		  const struct cpath *p, struct shoal_err *err);

/* Typed reads of a value at @p; each returns 0 or -EINVAL with @err. */
int compose__str(const json_t *v, const struct cpath *p, char *out, size_t cap,
		 struct shoal_err *err);
int compose__int(const json_t *v, const struct cpath *p, long long *out,
		 struct shoal_err *err);
int compose__bool(const json_t *v, const struct cpath *p, bool *out,
		  struct shoal_err *err);
int compose__dur(const json_t *v, const struct cpath *p, long long *ns,
		 struct shoal_err *err);

/**
 * compose__strlist() - a string or a list of strings (@shell_split: a
 * string is split as a shell would, with quotes) into *@out (a new array).
 */
int compose__strlist(const json_t *v, const struct cpath *p, bool shell_split,
		     json_t **out, struct shoal_err *err);

/**
 * compose__kvmap() - a mapping {K: V} or a list ["K=V", "K"] into *@out
 * (a new object of strings). A "K" without '=' or a null value takes
 * @env's K when @env is non-NULL (absent: dropped), else "".
 */
int compose__kvmap(const json_t *v, const struct cpath *p,
		   const struct compose_env *env, json_t **out,
		   struct shoal_err *err);

/**
 * compose__service() - the service @svc named @name into a ServiceSpec
 * (*@out, owned), given the whole document @doc for references.
 */
int compose__service(const json_t *doc, const char *name, const json_t *svc,
		     const struct compose_opts *o, json_t **out,
		     struct shoal_err *err);

/** compose__scoped() - "STACK_name" into @out. */
void compose__scoped(const struct compose_opts *o, const char *name, char *out,
		     size_t cap);

/** compose__resolve() - @rel against @o->dir into @out (absolute). */
int compose__resolve(const struct compose_opts *o, const char *rel, char *out,
		     size_t cap, struct shoal_err *err);

/**
 * compose__local() - a service's single-host keys (`restart`,
 * `depends_on`; local.c) into @local[@name]; refused by path in a stack.
 */
int compose__local(const json_t *doc, const char *name, const json_t *svc,
		   const struct compose_opts *o, json_t *local,
		   struct shoal_err *err);

/**
 * compose__ports() - the `ports:` list at @p into EndpointSpec ports
 * appended to @arr. A host address (IP:PUBLISHED:TARGET, host_ip) only
 * when @local (then as "HostIp", not Docker's field: a swarm publishes
 * on every address and refuses it).
 */
int compose__ports(const json_t *v, const struct cpath *p, bool local,
		   json_t *arr, struct shoal_err *err);

/* ---- the service converter's walk (service.c, service_deploy.c) ---- */

struct svc {
	const json_t *doc;
	const char *name;
	const json_t *def;
	const struct compose_opts *o;
	struct cpath p;
	struct shoal_err *err;
	json_t *spec, *tt, *cs;
};

/*
 * WITH(s, obj, key, stmt...): run stmt with `v` the value at @key of @obj
 * (skipped when absent) and the path extended by @key meanwhile. Nested
 * uses shadow `v` on purpose (it is always the innermost value): a file
 * using it turns -Wshadow off.
 */
#define WITH(s, obj, key, ...)                                                 \
	do {                                                                   \
		const json_t *v_ = json_object_get((obj), (key));              \
		if (v_) {                                                      \
			size_t l_ = compose__push(&(s)->p, (key));             \
			const json_t *v = v_;                                  \
			__VA_ARGS__;                                           \
			compose__pop(&(s)->p, l_);                             \
		}                                                              \
	} while (0)

/* Typed setters of @dst[@api] from the value @v at s->p. */
int compose__set_str(struct svc *s, json_t *dst, const char *api,
		     const json_t *v);
int compose__set_dur(struct svc *s, json_t *dst, const char *api,
		     const json_t *v);
int compose__set_uint(struct svc *s, json_t *dst, const char *api,
		      const json_t *v);
/** compose__one_of() - @v, one of the NULL-ended @ok, into @out. */
int compose__one_of(struct svc *s, const json_t *v, const char *const *ok,
		    char *out, size_t cap);
/** compose__healthcheck() - `healthcheck:` into the ContainerSpec. */
int compose__healthcheck(struct svc *s, const json_t *v);
/** compose__deploy() - `deploy:` into the ServiceSpec. */
int compose__deploy(struct svc *s, const json_t *d);

#endif
