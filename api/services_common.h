/*
 * What api/services.c and api/tasks.c share (internal to api/): the
 * manager behind a call (Docker's 503s elsewhere), store objects as the
 * Engine API's JSON, references resolved as the docker CLI gives them,
 * and ?filters= parsing.
 */
#ifndef SHOAL_API_SERVICES_COMMON_H
#define SHOAL_API_SERVICES_COMMON_H

#include "api/api.h"
#include "manager/manager.h"

/** api__svc_manager() - the manager, or NULL after answering Docker's 503. */
struct mgr *api__svc_manager(struct api_call *call);

/**
 * api__svc_find() - the service @ref names: full id, name, or a unique id
 * prefix (Docker's order). NULL when none (or ambiguous).
 */
const struct store_object *api__svc_find(const struct store *s,
					 const char *ref);

/** api__obj_parsed() - an object's spec or status parsed, {} when empty. */
json_t *api__obj_parsed(const uint8_t *data, size_t len);

/** api__time_json() - RFC 3339 text of @ns (owned JSON string). */
json_t *api__time_json(int64_t ns);

/**
 * api__filters() - ?filters= as {"key":["v",...]} (the object form
 * {"key":{"v":true}} is turned into it), keys checked against @known.
 * 0 and *@out (owned, NULL when none), or -EINVAL after answering 400.
 */
int api__filters(struct api_call *call, const char *const *known, json_t **out);

/** api__filter_any() - whether some value of @key in @f satisfies @pred
 * (true when @f has no @key). */
bool api__filter_any(const json_t *f, const char *key,
		     bool (*pred)(const char *v, const void *arg),
		     const void *arg);

/** api__task_json() - Docker's Task object for the task @o (owned). */
json_t *api__task_json(const struct store_object *o);

#endif
