/*
 * The leader's view of services, tasks and nodes, and the two pure cores
 * that act on it: the orchestrator (services to tasks: slots, global
 * nodes, jobs, restarts, rolling updates and rollbacks, history) and the
 * scheduler (pending tasks to nodes: filters, then spread). Neither does
 * I/O, reads a clock or draws random numbers: time and new ids come in
 * through struct orch_env, the store's objects through orch_model_put(),
 * and the decisions leave as operations added to a store batch, which the
 * shell (orch_component.c on the leader, tests/sim in the simulator, the
 * scheduler benchmark) proposes. So the simulator and the benchmark run
 * exactly the code the leader runs.
 *
 * One pass (orch_pass()) reads the model as of the last applied change,
 * folds in the queued status reports, reconciles every service, places
 * the pending tasks and writes every decision into one batch, each task at
 * most once (the store's rule). The shell keeps at most one batch in
 * flight and runs the next pass once it is applied (or refused: a batch
 * built on versions that changed meanwhile is refused whole, and the next
 * pass decides again from the newer store). A pass that hits the batch's
 * limits leaves the rest for the next (orch_pass() says so).
 */
#ifndef SHOAL_MANAGER_ORCH_H
#define SHOAL_MANAGER_ORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/map.h"
#include "manager/allocator.h"
#include "manager/service.h"
#include "manager/store.h"

/* Most operations and bytes one pass puts in a batch (under the store's
 * STORE_BATCH_OPS_MAX and STORE_BATCH_MAX). */
#define ORCH_BATCH_OPS 4000
#define ORCH_BATCH_BYTES (12u << 20)

enum orch_avail {
	ORCH_ACTIVE,
	ORCH_PAUSE,
	ORCH_DRAIN,
};

/** A node as the cores see it (decoded from its store object). */
struct orch_node {
	char id[STORE_ID_MAX + 1];
	char hostname[256];
	char role[8]; /* "worker", "manager" */
	char os[32];
	char arch[32];
	bool ready; /* Status.State "ready" */
	bool down;  /* Status.State "down" */
	enum orch_avail avail;
	int64_t nano_cpus;
	int64_t memory;
	char addr[64];	       /* Status.Addr: the node's VTEP for overlays */
	json_t *labels;	       /* Spec.Labels, owned */
	json_t *engine_labels; /* Description.Engine.Labels, owned */
	/* The scheduler's counters, valid during a pass. */
	int64_t used_cpus, used_mem;
	uint32_t ntasks; /* live tasks here */
	uint32_t nsvc;	 /* live tasks of the service being placed */
	uint32_t heap_pos;
};

struct orch_constraint {
	char *key; /* "node.labels.x", ... (owned) */
	char *value;
	bool equal;
};

/** An overlay network as the cores see it (docs/overlay.md). */
struct orch_net {
	char id[STORE_ID_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	struct alloc_net a;
	uint32_t mtu;
	bool internal, attachable, ingress;
	uint64_t version; /* the store object's; 0: made in this pass */
	/* The ingress network's: each node's own address on it (status
	 * NodeAddresses, allocator.c), sorted by node id; owned. */
	struct orch_node_addr *naddr;
	size_t nnaddr;
};

/** A node's own address on the ingress network (the routing mesh). */
struct orch_node_addr {
	char node_id[STORE_ID_MAX + 1];
	uint32_t addr; /* host order */
};

/** An address on an overlay network (a task's or a service's VIP). */
struct orch_addr {
	char net_id[STORE_ID_MAX + 1];
	uint32_t addr; /* host order */
};

/** A service as the cores see it: its spec with Shoal's defaults. */
struct orch_service {
	char id[STORE_ID_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	uint64_t version;
	json_t *spec;	     /* with defaults, owned */
	json_t *status;	     /* as stored (an object), owned */
	char *template_text; /* canonical TaskTemplate: a task is current
				when its Spec is exactly this */
	char *ann_text;	     /* {"Name":..,"Labels":..} */
	enum service_mode mode;
	uint64_t replicas;	 /* replicated; jobs: TotalCompletions */
	uint64_t max_concurrent; /* jobs */
	int64_t generation;
	/* RestartPolicy */
	enum { RESTART_NONE, RESTART_ON_FAILURE, RESTART_ANY } restart;
	int64_t restart_delay_ns, restart_window_ns;
	uint64_t restart_max;
	/* The update (or rollback) config in effect */
	uint64_t parallelism;
	int64_t update_delay_ns, monitor_ns;
	double max_failure_ratio;
	bool start_first;
	enum { FAIL_PAUSE, FAIL_CONTINUE, FAIL_ROLLBACK } failure_action;
	/* Placement */
	int64_t res_cpus, res_mem;
	uint64_t max_per_node;
	struct orch_constraint *cons;
	size_t ncons;
	char **prefs; /* spread descriptors, owned */
	size_t nprefs;
	json_t *platforms; /* borrowed from @spec; NULL: any */
	uint32_t rank;	   /* scratch of a pass: index in id order */
	/* Overlays (allocator.c): TaskTemplate.Networks (borrowed from
	 * @spec; NULL: none), EndpointSpec.Mode dnsrr, and the VIPs of
	 * Endpoint.VirtualIPs in @status. */
	json_t *nets;
	bool dnsrr;
	json_t *ports;		/* EndpointSpec.Ports (borrowed from @spec) */
	json_t *eports;		/* Endpoint.Ports as allocated (from @status) */
	bool ingress;		/* a port published in ingress mode */
	struct orch_addr *vips; /* owned */
	size_t nvips;
};

#define ORCH_DIRTY_SPEC 1u
#define ORCH_DIRTY_STATUS 2u
#define ORCH_NEW 4u
#define ORCH_DELETE 8u

/** A task as the cores see it. */
struct orch_task {
	char id[STORE_ID_MAX + 1];
	char service_id[STORE_ID_MAX + 1];
	char node_id[STORE_ID_MAX + 1];
	uint64_t slot;
	uint64_t version; /* 0: made in this pass */
	int64_t gen;	  /* SpecVersion.Index */
	enum task_state state, desired;
	int64_t created_ns, updated_ns;
	char *spec_text;   /* the task's Spec, canonical (owned) */
	char *ann_text;	   /* ServiceAnnotations (owned) */
	char *status_text; /* the status to store (owned) */
	/* NetworksAttachments as stored (canonical, owned; NULL: none) and
	 * its addresses (owned), written by the allocator (allocator.c). */
	char *nets_text;
	struct orch_addr *addrs;
	size_t naddrs;
	char *ports_text; /* Endpoint {"Ports": host-mode ports} or NULL */
	char *mode;	  /* "replicated", ... (static) */
	char msg[128];	  /* Status.Message */
	char err[256];	  /* Status.Err */
	int64_t res_cpus, res_mem;
	/* The stored spec's bytes: length and orch__hash(), to recognize
	 * the task's own write when it comes back (orch_model_put()). */
	size_t spec_len;
	uint64_t spec_hash;
	unsigned dirty; /* ORCH_* of this pass */
	bool current;	/* Spec is the service's (set by a pass) */
	/* Scratch of a pass: its service's rank in id order (UINT32_MAX:
	 * no such service) and its node, so sorting and counting compare
	 * numbers and pointers rather than ids. */
	uint32_t rank;
	struct orch_node *node;
	/* Its node and service as last looked up (orch__node_of(),
	 * orch__service_of()), valid while the model's generation of nodes
	 * (services) is the one noted; 0: not looked up. */
	struct orch_node *cnode;
	struct orch_service *csvc;
	uint64_t cnode_gen, csvc_gen;
};

/** What a pass needs from outside: the time and fresh ids. */
struct orch_env {
	int64_t now_ns; /* real time, nanoseconds since the epoch */
	/* A fresh unique task id into @out (ID_SWARM_LEN + 1 bytes). */
	void (*new_id)(void *arg, char *out);
	void *arg;
	uint32_t history; /* TaskHistoryRetentionLimit */
	/* Planted bugs for the simulator's self-test (0: none). */
	int planted;
};

/** A status a node reported for task @task_id (queued for a pass). */
struct orch_report {
	char task_id[STORE_ID_MAX + 1];
	char node_id[STORE_ID_MAX + 1];
	char *json; /* owned */
	size_t len;
};

struct orch_model {
	struct hmap nodes;	     /* id -> struct orch_node */
	struct hmap services;	     /* id -> struct orch_service */
	struct hmap tasks;	     /* id -> struct orch_task */
	struct hmap networks;	     /* id -> struct orch_net (overlays) */
	struct hmap dirty_nodes;     /* node ids whose assignment set changed */
	bool all_dirty;		     /* every node's set must be recomputed */
	struct orch_report *reports; /* queued, bounded */
	size_t nreports, capreports;
	struct hmap report_idx; /* "NODE\0TASK" -> index + 1 in @reports */
	struct orch_report *inflight; /* folded into the batch in flight */
	size_t ninflight;
	/* Tasks a pass wrote, by id -> struct orch__written: when the
	 * write comes back from the store unchanged, the model takes it
	 * without decoding its JSON again (orch_model_put()). */
	struct hmap written;
	/* Bumped by every change of the nodes (services): a task's cached
	 * lookups of an older generation are looked up again. */
	uint64_t nodes_gen, services_gen;
	/* The last task Spec made canonical (orch_model.c's cache). */
	json_t *spec_json;
	char *spec_text;
	/* Reports refused in the last pass, for the shell's log line. */
	size_t refused;
	char refused_why[256];
};

#define ORCH_MAX_REPORTS 65536

void orch_model_init(struct orch_model *m);
void orch_model_fini(struct orch_model *m);
/** orch_model_clear() - forget every object (before a re-read). */
void orch_model_clear(struct orch_model *m);

/**
 * orch_model_put() - the store's object @o (a node, service or task) as
 * it is now; orch_model_del() - it was deleted. A task's node gets its
 * assignment set marked for recomputation. Returns 0, -ENOMEM, or -EINVAL
 * for an object whose JSON does not decode (it is then left out).
 */
int orch_model_put(struct orch_model *m, const struct store_object *o);
void orch_model_del(struct orch_model *m, enum store_table t, const char *id);

/** orch_model_load() - clear, then put every node, service and task. */
int orch_model_load(struct orch_model *m, const struct store *s);

/**
 * orch_report_add() - queue the status node @node_id reported for task
 * @task_id (copied). A report for the same task replaces the queued one
 * unless it names an earlier state (then it is dropped). -ENOBUFS past
 * ORCH_MAX_REPORTS, -ENOMEM.
 */
int orch_report_add(struct orch_model *m, const char *node_id,
		    const char *task_id, const char *json, size_t len);

/**
 * orch_pass() - one pass: the queued reports, the orchestrator and the
 * scheduler, into @b (an initialised batch). Returns the number of
 * operations added (0: nothing to do), or -ENOMEM. *@more is set when
 * the batch's limits left work for another pass; *@wake_ns (0: none) is
 * the earliest time a delayed decision (a restart delay, an update
 * delay or monitor) falls due.
 */
int orch_pass(struct orch_model *m, const struct orch_env *env,
	      struct store_batch *b, bool *more, int64_t *wake_ns);

/**
 * orch_pass_done() - the batch of the last pass was applied (@applied) or
 * refused or lost: the reports it carried are dropped, or queued again
 * (checked again by the next pass). After a refusal the caller must also
 * reload the model (orch_model_load()): a pass changes the tasks it
 * decides on in the model.
 */
void orch_pass_done(struct orch_model *m, bool applied);

/* ----------------------------------------------------- the scheduler */

/**
 * placement_run() - place @n pending tasks @tasks (desired running, state
 * pending; NodeID "" or preset by the global orchestrator) on the nodes of
 * @m: filters (ready, active, resources, constraints, platform, max
 * replicas per node), then spread (placement preferences, then fewest
 * tasks of the service, then fewest tasks). Placed tasks get node_id,
 * state assigned and ORCH_DIRTY_SPEC|STATUS; the others keep pending with
 * Err "no suitable node (...)" in Docker's words (dirty only when it
 * changes). @live lists the @nlive tasks already on nodes (counted).
 * Returns the number placed, or -ENOMEM.
 */
int placement_run(struct orch_model *m, struct orch_task **tasks, size_t n,
		  struct orch_task *const *live, size_t nlive, int64_t now_ns);

/** orch_service_get() - a service of the model, or NULL. */
struct orch_service *orch_service_get(const struct orch_model *m,
				      const char *id);

/**
 * orch_assignment_json() - the assignment item of @t (Docker's Task JSON,
 * docs/services.md) into a new string (owned, shoal_free), or NULL.
 */
char *orch_assignment_json(const struct orch_task *t, size_t *len);

/** orch_task_assigned() - whether @t belongs in its node's set: placed
 * (assigned or later) and not orphaned, finished or not (a finished
 * task's container is kept while the task is in the store). */
bool orch_task_assigned(const struct orch_task *t);

/* Internal to the cores (orch_model.c, orchestrator.c, placement.c). */
struct buf;
/** orch__node_of() - @t's node in @m (NULL: none, or no such node),
 * looked up once per generation of @m's nodes. */
struct orch_node *orch__node_of(struct orch_model *m, struct orch_task *t);
/** orch__service_of() - @t's service in @m, or NULL; likewise cached. */
struct orch_service *orch__service_of(struct orch_model *m,
				      struct orch_task *t);
/** orch__hash() - 64-bit FNV-1a of @len bytes at @p. */
uint64_t orch__hash(const void *p, size_t len);
/**
 * orch__written() - a pass wrote task @t with spec bytes of @spec_len and
 * @spec_hash and @t's status_text: remember it until its store event.
 * @fresh: @t is a new task, taken (owned by @m from now on; freed if it
 * never comes back). 0 or -ENOMEM (then @t is not taken).
 */
int orch__written(struct orch_model *m, struct orch_task *t, bool fresh,
		  size_t spec_len, uint64_t spec_hash);
/** orch__task_spec() - @t's spec JSON appended to @b; 0 or -ENOMEM. */
int orch__task_spec(const struct orch_task *t, struct buf *b);
/** orch__reports_reindex() - @m's report index after the queue moved. */
int orch__reports_reindex(struct orch_model *m);
/** orch__task_set_status() - a status the managers write (state, msg,
 * err of @t, stamped @now_ns) made @t's status text; 0 or -ENOMEM. */
int orch__task_set_status(struct orch_task *t, int64_t now_ns);

#endif
