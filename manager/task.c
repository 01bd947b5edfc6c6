/*
 * Task states (swarmkit's TaskState, in its order) and the check of a
 * status a node reports for one of its tasks (docs/services.md, "Status
 * reports"). A state only ever moves forward: a report may repeat the
 * stored state with a new message (a task "starting" twice says why) but
 * never go back, and nothing follows a terminal state. Only TaskStatus's
 * own fields are kept, so a node cannot make a task's stored status grow
 * with fields of its choosing. Pure: no I/O, no clock.
 */
#include "common/jsonx.h"
#include "manager/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const names[TASK_STATE_COUNT] = {
	[TASK_NEW] = "new",	      [TASK_ALLOCATED] = "allocated",
	[TASK_PENDING] = "pending",   [TASK_ASSIGNED] = "assigned",
	[TASK_ACCEPTED] = "accepted", [TASK_PREPARING] = "preparing",
	[TASK_READY] = "ready",	      [TASK_STARTING] = "starting",
	[TASK_RUNNING] = "running",   [TASK_COMPLETE] = "complete",
	[TASK_SHUTDOWN] = "shutdown", [TASK_FAILED] = "failed",
	[TASK_REJECTED] = "rejected", [TASK_REMOVE] = "remove",
	[TASK_ORPHANED] = "orphaned",
};

const char *task_state_name(enum task_state s)
{
	return (unsigned)s < TASK_STATE_COUNT ? names[s] : "unknown";
}

int task_state_parse(const char *name, enum task_state *s)
{
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		if (strcmp(names[i], name) == 0) {
			*s = (enum task_state)i;
			return 0;
		}
	return -EINVAL;
}

/* A copy of @v at @key into @out when it has the right type. */
static int keep(json_t *out, const json_t *in, const char *key,
		bool (*type)(const json_t *), char *err, size_t errlen)
{
	const json_t *v = json_object_get(in, key);
	if (!v || json_is_null(v))
		return 0;
	if (!type(v)) {
		snprintf(err, errlen, "status field %s has the wrong type",
			 key);
		return -EINVAL;
	}
	return json_object_set_new(out, key, json_deep_copy(v)) < 0 ? -ENOMEM
								    : 0;
}

static bool is_str(const json_t *v)
{
	return json_is_string(v);
}

static bool is_int(const json_t *v)
{
	return json_is_integer(v);
}

static bool is_obj(const json_t *v)
{
	return json_is_object(v);
}

static int container_status(json_t *out, const json_t *cs, char *err,
			    size_t errlen)
{
	if (!cs || json_is_null(cs))
		return 0;
	if (!json_is_object(cs)) {
		snprintf(err, errlen, "ContainerStatus must be an object");
		return -EINVAL;
	}
	json_t *c = json_object();
	if (!c)
		return -ENOMEM;
	int rc = keep(c, cs, "ContainerID", is_str, err, errlen);
	if (rc == 0)
		rc = keep(c, cs, "PID", is_int, err, errlen);
	if (rc == 0)
		rc = keep(c, cs, "ExitCode", is_int, err, errlen);
	if (rc == 0 && json_object_set_new(out, "ContainerStatus", c) < 0)
		return -ENOMEM;
	if (rc < 0)
		json_decref(c);
	return rc;
}

int task_status_check(const char *json, size_t len, enum task_state cur,
		      const char *cur_message, json_t **out,
		      enum task_state *state, char *err, size_t errlen)
{
	json_t *in = NULL, *o = NULL;
	const char *name, *msg;
	*out = NULL;
	if (len > TASK_STATUS_MAX) {
		snprintf(err, errlen, "status of %zu bytes (at most %d)", len,
			 TASK_STATUS_MAX);
		return -EINVAL;
	}
	int rc = jsonx_parse_object(json, len, &in, err, errlen);
	if (rc < 0)
		return rc;
	name = jsonx_str(in, "State", NULL);
	if (!name || task_state_parse(name, state) < 0) {
		snprintf(err, errlen, "unknown task state \"%.32s\"",
			 name ? name : "");
		rc = -EINVAL;
		goto err_in;
	}
	msg = jsonx_str(in, "Message", "");
	if (*state < cur || task_state_terminal(cur) ||
	    (*state == cur &&
	     strcmp(msg, cur_message ? cur_message : "") == 0)) {
		snprintf(err, errlen, "state %s does not follow %s", name,
			 task_state_name(cur));
		rc = -EINVAL;
		goto err_in;
	}
	if (*state <= TASK_ASSIGNED) {
		snprintf(err, errlen, "state %s is the managers' to set", name);
		rc = -EINVAL;
		goto err_in;
	}
	o = json_object();
	if (!o) {
		rc = -ENOMEM;
		goto err_in;
	}
	rc = keep(o, in, "Timestamp", is_str, err, errlen);
	if (rc == 0)
		rc = json_object_set_new(o, "State", json_string(name)) < 0
			     ? -ENOMEM
			     : 0;
	if (rc == 0)
		rc = keep(o, in, "Message", is_str, err, errlen);
	if (rc == 0)
		rc = keep(o, in, "Err", is_str, err, errlen);
	if (rc == 0)
		rc = container_status(o, json_object_get(in, "ContainerStatus"),
				      err, errlen);
	if (rc == 0)
		rc = keep(o, in, "PortStatus", is_obj, err, errlen);
	if (rc < 0) {
		json_decref(o);
		goto err_in;
	}
	json_decref(in);
	*out = o;
	return 0;
err_in:
	json_decref(in);
	return rc;
}
