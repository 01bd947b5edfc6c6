/*
 * Internal to worker/: what task.c and task_util.c share. Not part of
 * libshoal-worker's contract (worker/task.h is).
 */
#ifndef SHOAL_WORKER_TASK_INTERNAL_H
#define SHOAL_WORKER_TASK_INTERNAL_H

#include "worker/task.h"

/** wtask__is_default() - null, false, 0, "", [] or {} (or absent). */
bool wtask__is_default(const json_t *v);
/** wtask__bad() - record the first spec error of @t; returns -EINVAL. */
int wtask__bad(struct wtask *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** wtask__unsupported() - "FIELD is not supported ..." as the error. */
int wtask__unsupported(struct wtask *t, const char *field);
void wtask__strv_free(char **v);
/** wtask__strv_push() - append a copy of @s; -E2BIG past
 * WTASK_MAX_LIST, -ENOMEM. */
int wtask__strv_push(char ***v, size_t *n, const char *s);
/** wtask__strv_from() - a JSON array of strings into *@out (NULL when
 * absent); a spec error naming @field otherwise. */
int wtask__strv_from(struct wtask *t, const json_t *v, const char *field,
		     char ***out);
int wtask__str_from(struct wtask *t, const json_t *o, const char *key,
		    const char *field, char **out);
int wtask__int_from(struct wtask *t, const json_t *o, const char *key,
		    const char *field, int64_t *out);
int wtask__bool_from(struct wtask *t, const json_t *o, const char *key,
		     const char *field, bool *out);
/** wtask__expand_dup() - *@s with its templates expanded (replaced). */
int wtask__expand_dup(struct wtask *t, const struct wtask_node *node,
		      const char *field, char **s);

/** wtask__net_from() - the task's NetworksAttachments and Endpoint.Ports
 * (task_net.c): a spec error for what cannot be applied. */
int wtask__net_from(struct wtask *t, const json_t *task);

#endif
