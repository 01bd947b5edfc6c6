/*
 * Services and tasks as the managers keep them (docs/services.md): Docker's
 * ServiceSpec checked and completed (service_spec.c), task states and the
 * task JSON shared by the orchestrator, the dispatcher and the API
 * (task.c). Pure functions: no I/O, no clock, no randomness.
 *
 * A service object's spec is the ServiceSpec the user sent, checked and
 * with nulls removed; its defaults are filled in where it is read
 * (service_spec_defaults()), as Docker's ?insertDefaults does, so that a
 * later version of Shoal with other defaults does not rewrite stored
 * specs. Every field Shoal does not apply is refused by name.
 */
#ifndef SHOAL_MANAGER_SERVICE_H
#define SHOAL_MANAGER_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ------------------------------------------------------------ ServiceSpec */

#define SERVICE_NAME_MAX 63
#define SERVICE_MAX_REPLICAS 100000
/* TaskTemplate.Networks: a task has at most 8 interfaces (eth0..eth7,
 * the agent's limit), one of them maybe the ingress network's. */
#define SERVICE_MAX_NETWORKS 7
#define SERVICE_MAX_ALIASES 32 /* per network */
#define SERVICE_MAX_PORTS 64   /* EndpointSpec.Ports */
#define SERVICE_DEFAULT_RESTART_DELAY_NS 5000000000LL
#define SERVICE_DEFAULT_MONITOR_NS 5000000000LL

/**
 * service_spec_check() - check the ServiceSpec @spec (a JSON object from a
 * client) and return in *@out (owned) the spec to store: @spec with nulls
 * and empty optional objects kept as sent, nothing added. Unknown fields,
 * fields Shoal does not apply (networks, published ports, secrets,
 * configs, ...) and bad values are refused with -EINVAL and Docker's words
 * where Docker has them in @err ("rpc error: code = InvalidArgument desc =
 * ..."). -ENOMEM without memory. @name_required: an update's spec must
 * keep the name (an empty name at create is given one by the caller).
 */
int service_spec_check(const json_t *spec, json_t **out, char *err,
		       size_t errlen);

/**
 * service_spec_defaults() - @spec (a stored spec) with every default
 * Shoal applies made explicit (owned; NULL without memory): Labels,
 * Mode (Replicated 1), TaskTemplate's Resources, RestartPolicy
 * (any, 5 s), Placement, ForceUpdate, UpdateConfig and RollbackConfig
 * (parallelism 1, pause, 5 s monitor, stop-first), EndpointSpec (vip).
 */
json_t *service_spec_defaults(const json_t *spec);

/** The service's mode, from a spec with defaults. */
enum service_mode {
	SERVICE_REPLICATED,
	SERVICE_GLOBAL,
	SERVICE_REPLICATED_JOB,
	SERVICE_GLOBAL_JOB,
};

enum service_mode service_spec_mode(const json_t *spec);
/** "replicated", "global", "replicated-job", "global-job". */
const char *service_mode_name(enum service_mode m);

/**
 * service_name_valid() - Docker's rule for a service name: a DNS name
 * component of 1..63 characters ([A-Za-z0-9], with - or _ inside).
 */
bool service_name_valid(const char *name);

/**
 * service_spec_check_networks() - a TaskTemplate.Networks list @nets
 * (@path names it in messages): objects with a Target (a name or id,
 * not resolved here: ops_network.c does on the leader) and Aliases (DNS
 * names); DriverOpts refused by name. 0 or -EINVAL with @err.
 */
int service_spec_check_networks(const json_t *nets, const char *path, char *err,
				size_t errlen);

/* ------------------------------------------------------------------ tasks */

/* swarmkit's TaskState, in its order: states only move forward, and every
 * state from TASK_COMPLETE on is terminal. */
enum task_state {
	TASK_NEW,
	TASK_ALLOCATED,
	TASK_PENDING,
	TASK_ASSIGNED,
	TASK_ACCEPTED,
	TASK_PREPARING,
	TASK_READY,
	TASK_STARTING,
	TASK_RUNNING,
	TASK_COMPLETE,
	TASK_SHUTDOWN,
	TASK_FAILED,
	TASK_REJECTED,
	TASK_REMOVE,
	TASK_ORPHANED,
	TASK_STATE_COUNT,
};

/** "new", "pending", ...; "unknown" out of range. */
const char *task_state_name(enum task_state s);
/** task_state_parse() - 0 and *@s, or -EINVAL for a name not above. */
int task_state_parse(const char *name, enum task_state *s);

static inline bool task_state_terminal(enum task_state s)
{
	return s >= TASK_COMPLETE;
}

/** At most this much status JSON per reported item. */
#define TASK_STATUS_MAX 4096

/**
 * task_status_check() - a status a node reported for a task whose stored
 * state is @cur: the JSON text @json (@len bytes) must be an object with
 * a known State after @cur (or equal to it with another Message), only
 * TaskStatus's fields, no more than TASK_STATUS_MAX bytes. Returns 0 with
 * *@out (owned) the status to store (only TaskStatus's fields, the state
 * normalized) and *@state, or -EINVAL with @err saying why. -ENOMEM.
 */
int task_status_check(const char *json, size_t len, enum task_state cur,
		      const char *cur_message, json_t **out,
		      enum task_state *state, char *err, size_t errlen);

#endif
