/*
 * A swarm task as the agent reads it: the JSON of one Docker Task object
 * (ID, Version, ServiceID, Slot, NodeID, Spec.ContainerSpec, Spec.Resources,
 * ServiceAnnotations, DesiredState, Status) as the leader's dispatcher sends
 * it in a node's assignment set, decoded and checked into a struct wtask,
 * and the struct eng_spec the engine creates the task's container from.
 *
 * Decoding has two outcomes besides success. An item that cannot be named
 * (not an object, no valid task ID) is refused whole: -EINVAL, nothing to
 * report against. An item that names a task but whose container spec the
 * agent cannot apply (a field Shoal does not support, a bad value) decodes
 * with @spec_error set: the agent rejects that task with the sentence, so
 * the orchestrator sees why and nothing is silently ignored.
 *
 * Templates ({{.Service.Name}}, {{.Task.Slot}}, {{.Node.Hostname}}, ...)
 * are expanded in the hostname, the environment and mount sources as
 * Docker does (docs/agent.md).
 *
 * Pure: no I/O, no clock. Fuzzed by tests/fuzz/worker.
 */
#ifndef SHOAL_WORKER_TASK_H
#define SHOAL_WORKER_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/engine.h"

/* Docker's TaskState, in its order (a task only moves forward). */
enum wtask_state {
	WT_NEW,
	WT_PENDING,
	WT_ASSIGNED,
	WT_ACCEPTED,
	WT_PREPARING,
	WT_READY,
	WT_STARTING,
	WT_RUNNING,
	WT_COMPLETE,
	WT_SHUTDOWN,
	WT_FAILED,
	WT_REJECTED,
	WT_REMOVE,
	WT_ORPHANED,
};

/** wtask_state_name() - "new", ..., "orphaned". */
const char *wtask_state_name(enum wtask_state s);
/** wtask_state_parse() - the state named @s; -EINVAL. */
int wtask_state_parse(const char *s, enum wtask_state *out);
/** wtask_state_final() - complete, shutdown, failed, rejected and later. */
bool wtask_state_final(enum wtask_state s);

#define WTASK_ID_MAX 64
#define WTASK_MAX_LIST 256 /* entries of any list in a container spec */
#define WTASK_MAX_RLIMITS 16
#define WTASK_MAX_NETS 8 /* NetworksAttachments: eth0..eth7 */

struct wtask {
	json_t *json; /* the task as sent (owned) */
	char id[WTASK_ID_MAX + 1];
	char service_id[WTASK_ID_MAX + 1];
	char node_id[WTASK_ID_MAX + 1];
	char service_name[RT_NAME_MAX + 1];
	int64_t slot; /* 0: a global service's task */
	uint64_t version;
	enum wtask_state desired;
	/* <service>.<slot>.<task id>, or <service>.<node id>.<task id> */
	char container_name[RT_NAME_MAX + 1];
	char task_name[RT_NAME_MAX + 1]; /* the same, Docker's Task name */
	/* Why the spec cannot run (the task is rejected); "" when it can. */
	char spec_error[300];

	/* The container, valid when spec_error is empty. Strings are owned;
	 * NULL-terminated arrays, NULL when not given. */
	char *image;
	char **entrypoint;
	char **cmd;
	char **env;
	char **labels; /* "key=value", the swarm's labels included */
	char **volumes;
	/* VolumeOptions.Labels of named volumes: "NAME=key=value". */
	char **volume_labels;
	size_t n_volume_labels;
	char **tmpfs;
	char **cap_add;
	char **cap_drop;
	char **extra_hosts;
	char **dns;
	char **dns_search;
	char **dns_options;
	char **groups;	/* ContainerSpec.Groups: --group-add */
	char **sysctls; /* ContainerSpec.Sysctls as "key=value" */
	bool init;	/* ContainerSpec.Init: shoal-init as pid 1 */
	char **health_test;
	char *hostname;
	char *user;
	char *workdir;
	char *stop_signal_name;
	bool tty, open_stdin, read_only, no_new_privileges;
	int64_t memory, memory_reservation, nano_cpus, pids_limit;
	struct rt_rlimit rlimits[WTASK_MAX_RLIMITS];
	size_t rlimit_count;
	int stop_signal;
	bool stop_grace_set;
	int64_t stop_grace_ns;
	struct eng_health health;
	/* NetworksAttachments (the overlay the container joins, with the
	 * address the managers gave it) and the host-mode ports of
	 * Endpoint.Ports (docs/overlay.md, task_net.c); n_nets 0 when the
	 * task has no network (the node's default bridge). */
	char net_id[WTASK_MAX_NETS][WTASK_ID_MAX + 1];
	char net_ip[WTASK_MAX_NETS][16];
	struct net_ep_req net_ep[WTASK_MAX_NETS]; /* borrow net_id, net_ip */
	size_t n_nets;
	struct net_port *ports; /* owned */
	size_t n_ports;
	/* Docker's Config and HostConfig of the container, kept in its record
	 * for `docker inspect` (owned). */
	json_t *annotations;
};

/** What templates may name besides the task itself. */
struct wtask_node {
	const char *hostname; /* {{.Node.Hostname}} */
	const char *platform_os;
	const char *platform_arch;
};

/**
 * wtask_decode() - decode @len bytes (one assignment item) into *@out
 * (free with wtask_free()). 0: decoded (check spec_error); -EINVAL with
 * @err for an item that names no task; -ENOMSG with @err for an item
 * of another "Kind" (network, ingress, secret, ...: not a task, skipped
 * by the executor); -ENOMEM.
 */
int wtask_decode(const void *data, size_t len, const struct wtask_node *node,
		 struct wtask **out, struct shoal_err *err);

void wtask_free(struct wtask *t);

/**
 * wtask_eng_spec() - the engine spec of @t (spec_error empty): every
 * pointer borrowed from @t, valid while @t lives. The container has no
 * restart policy (the orchestrator replaces failed tasks) and its
 * annotations are the task's ids, for `docker inspect`.
 */
void wtask_eng_spec(const struct wtask *t, struct eng_spec *out);

/**
 * wtask_expand() - Docker's service templates in @in into @out (@cap
 * bytes): {{.Service.ID}}, {{.Service.Name}}, {{.Task.ID}},
 * {{.Task.Name}}, {{.Task.Slot}}, {{.Node.ID}}, {{.Node.Hostname}},
 * {{.Node.Platform.OS}}, {{.Node.Platform.Architecture}}. -EINVAL with
 * @err for another name or an unclosed {{, -ENAMETOOLONG when the result
 * does not fit.
 */
int wtask_expand(const struct wtask *t, const struct wtask_node *node,
		 const char *in, char *out, size_t cap, struct shoal_err *err);

#endif
