/*
 * libshoal-engine: this node's containers as a whole. The runtime
 * (runtime/runtime.h) runs one container at the kernel level and the image
 * store (image/image.h) keeps images; the engine sits on both and owns
 * what a container is over its life: its record on disk, creation from a
 * spec over an image, start, stop, kill, restart, pause, removal, the exit
 * watches, the restart policies with their back-off, auto-remove, the
 * restore at start-up, exit events for other modules, and named volumes
 * with their labels, listing and pruning. api/ translates Docker's HTTP
 * and JSON into these calls; the worker's agent will translate a swarm
 * task's container spec into the same struct eng_spec.
 *
 * Invariants. A running container the engine started or found at restore
 * has exactly one exit watch (a pidfd poll of its monitor, runtime/watch.c).
 * A container waiting for a policy restart has exactly one armed timer and
 * counts as running for every caller (State.Running and Restarting true,
 * as in Docker); nothing else restarts it. The record on disk is replaced
 * whole (temporary file and rename), so a crash leaves the old or the new
 * one. Waiters and subscribers are called on the loop thread, never from
 * inside the call that registered them.
 *
 * Everything runs on the loop thread given to eng_open(); nothing blocks
 * it for long (a removal with force waits for a SIGKILL: milliseconds).
 *
 * Return codes: 0 or a negative errno, or SHOAL_ENOTFOUND (no such
 * container, image or volume), SHOAL_ECONFLICT (a name or volume in use, a
 * running container removed without force). Calls that fail on user input
 * fill a struct shoal_err with one sentence the user can act on, in Docker's
 * words where Docker has them.
 */
#ifndef SHOAL_ENGINE_ENGINE_H
#define SHOAL_ENGINE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/error.h"
#include "common/list.h"
#include "overlay-net/net.h"
#include "runtime/runtime.h"

struct eng;
struct img_store;

/** What the engine runs on; every pointer borrowed for the engine's life. */
struct eng_config {
	struct rt *rt;		  /* required */
	struct img_store *images; /* required */
	uv_loop_t *loop;	  /* required */
	const char *data_root;	  /* the runtime's */
	/* Networking (engine/network.c); NULL: eng_spec.network goes to the
	 * runtime as it is and the network fields must be unset. */
	struct net *net;
};

/**
 * eng_open() - an engine over @cfg. Touches nothing on disk: call
 * eng_restore() once after it. Returns 0 and *@out (free with
 * eng_close()) or -ENOMEM.
 */
int eng_open(const struct eng_config *cfg, struct eng **out);

/**
 * eng_close() - stop watching and cancel pending policy restarts (the
 * containers go on running; a restart that was pending is taken up again
 * by the next eng_restore()). Waiters still queued are called as if their
 * container had been removed; operations in flight (stop, restart) finish
 * with SHOAL_ECLOSED. Handles are closed on later turns of the loop.
 */
void eng_close(struct eng *e);

/**
 * eng_restore() - at start-up: register every container's image as in
 * use, watch the running ones, remove the --rm ones that exited while the
 * daemon was away, and start again those their restart policy asks for
 * (always; unless-stopped when not stopped by the user; on-failure whose
 * restart was pending). Returns 0 or a negative code (listing failed).
 */
int eng_restore(struct eng *e);

/** eng_runtime() / eng_images() / eng_net() - what @e runs on (borrowed;
 * eng_net() is NULL without networking). */
struct rt *eng_runtime(const struct eng *e);
struct net *eng_net(const struct eng *e);
struct img_store *eng_images(const struct eng *e);

/* -------------------------------------------------------------- names */

/* Container names follow Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+ with
 * an optional leading '/', and are at most RT_NAME_MAX bytes. */
#define ENG_NAME_MAX RT_NAME_MAX

/* ------------------------------------------------------ restart policy */

enum eng_restart {
	ENG_RESTART_NO,
	ENG_RESTART_ALWAYS,
	ENG_RESTART_ON_FAILURE,
	ENG_RESTART_UNLESS_STOPPED,
};

struct eng_restart_policy {
	enum eng_restart kind;
	int max_retries; /* on-failure: at most this many; 0: no limit */
};

/**
 * eng_restart_parse() - Docker's RestartPolicy (Name "", "no", "always",
 * "on-failure", "unless-stopped"; MaximumRetryCount) into @out. -EINVAL
 * with Docker's sentence in @err for an unknown name, a negative count or
 * a count with another policy than on-failure.
 */
int eng_restart_parse(const char *name, int64_t max_retries,
		      struct eng_restart_policy *out, struct shoal_err *err);

/** eng_restart_name() - "no", "always", "on-failure", "unless-stopped". */
const char *eng_restart_name(enum eng_restart kind);

/**
 * eng_restart_wanted() - whether @p restarts a container whose run ended
 * with @exit_code, after @restart_count restarts, stopped by the user or
 * not. Pure. Docker's rules: never after a stop or kill by the user;
 * always and unless-stopped on any exit; on-failure on a non-zero exit
 * while @restart_count is below max_retries (or without a maximum).
 */
bool eng_restart_wanted(const struct eng_restart_policy *p, int exit_code,
			bool stopped_by_user, int restart_count);

#define ENG_BACKOFF_FIRST_MS 100
#define ENG_BACKOFF_MAX_MS 60000
#define ENG_BACKOFF_RESET_NS (10LL * 1000000000LL)

/**
 * eng_restart_delay() - the delay before the next policy restart, from
 * the previous one (@prev_ms, 0 before the first) and how long the run
 * that just ended lasted. Pure. Docker's back-off: 100 ms first, doubled
 * after each restart up to 1 minute, back to 100 ms after a run of at
 * least 10 s.
 */
uint64_t eng_restart_delay(uint64_t prev_ms, int64_t ran_ns);

/* --------------------------------------------------------------- spec */

/**
 * A health check (Docker's HealthConfig; engine/health.c). @test is
 * Docker's Test: {"NONE"} disables the image's, {"CMD", argv...} runs
 * argv, {"CMD-SHELL", cmd} runs /bin/sh -c cmd; NULL keeps the image's
 * HEALTHCHECK. Durations in ns, 0: the image's value, else Docker's
 * default (30 s interval, 30 s timeout, 0 start period, 3 retries).
 */
struct eng_health {
	const char *const *test;
	int64_t interval_ns;
	int64_t timeout_ns;
	int64_t start_period_ns;
	int retries;
};

/**
 * What to create, borrowed for the call. String arrays are
 * NULL-terminated; NULL means "not given". Merging with the image follows
 * Docker: the image's Env comes first and @env overrides it by name; an
 * @entrypoint drops the image's Cmd unless @cmd is given too, and [""]
 * resets it; @workdir, @user and @stop_signal fall back to the image's;
 * @labels are added over the image's.
 */
struct eng_spec {
	const char *name;  /* NULL: a generated Docker-style name */
	const char *image; /* reference: name[:tag], id or short id */
	const char *const *entrypoint;
	const char *const *cmd;
	const char *const *env;	   /* "K=V" */
	const char *const *labels; /* "key=value" */
	const char *hostname;	   /* NULL: the id's first 12 digits */
	const char *user;
	const char *workdir; /* absolute */
	bool tty;
	bool open_stdin;
	bool privileged;
	bool no_new_privileges;
	bool readonly_rootfs;
	const char *const *volumes; /* Docker -v specs (rt_spec.volumes) */
	const char *const *tmpfs;   /* Docker --tmpfs specs */
	const char *const *cap_add;
	const char *const *cap_drop;
	const char *const *extra_hosts; /* "host:ip" */
	const char *const *dns;
	/* resolv.conf's search and options lines (Docker's --dns-search,
	 * --dns-option); given, they replace the host's. */
	const char *const *dns_search;
	const char *const *dns_options;
	/* NULL or "default", "unconfined", or the path of a profile... */
	const char *seccomp;
	/* ...or the text of a profile (Docker's JSON), written to a private
	 * temporary file for the runtime and removed after create. */
	const char *seccomp_profile;
	const char *network; /* as rt_spec.network, without a net module */
	/* With a net module: Docker's NetworkMode ("", "default", "bridge",
	 * a network's name or id, "host", "none", "container:<ref>"), the
	 * published ports and per-network endpoint settings. */
	const char *network_mode;
	const struct net_port *ports;
	size_t n_ports;
	bool publish_all; /* -P: also the image's EXPOSE ports, ephemeral */
	const struct net_ep_req *endpoints;
	size_t n_endpoints;
	/* Networks joined right after the create, as eth1, eth2, ... (a
	 * swarm task on several overlays: worker/task_net.c). */
	const struct net_ep_req *more_networks;
	size_t n_more_networks;
	/* Docker's legacy links, "name[:alias]" (default bridge only). */
	const char *const *links;
	int64_t memory;
	int64_t memory_reservation;
	int64_t cpu_shares;
	int64_t nano_cpus;
	int64_t pids_limit;
	const struct rt_rlimit *rlimits;
	size_t rlimit_count;
	int stop_signal; /* 0: the image's StopSignal, else SIGTERM */
	bool stop_timeout_set;
	int64_t stop_timeout_s; /* grace period of a stop; < 0: for ever */
	struct eng_restart_policy restart;
	struct eng_health health; /* engine/health.c */
	bool auto_remove;	  /* --rm: refused with a restart policy */
	unsigned console_rows, console_cols; /* tty size at start; 0: none */
	/* The caller's own view, kept as is in the record (api/ keeps
	 * Docker's Config and HostConfig as sent); NULL: none. */
	const json_t *annotations;

	/* --- docker run's runtime flags (rt_spec's block of that name);
	 * the engine resolves names: "container:NAME" modes and
	 * volumes_from to ids, the image's VOLUMEs to anonymous volumes. */
	bool init;
	int64_t shm_size;
	int64_t memory_swap;
	bool memory_swappiness_set;
	int64_t memory_swappiness;
	bool oom_kill_disable;
	bool oom_score_adj_set;
	int oom_score_adj;
	const char *cpuset_cpus;
	const char *cpuset_mems;
	const char *const *group_add;
	const char *const *sysctls; /* "key=value" */
	const char *const *devices; /* --device specs */
	const char *const *device_cgroup_rules;
	const char *pid_mode; /* "", "host", "container:NAME|ID" */
	const char *ipc_mode; /* "", "private", "shareable", "host",
				 "container:NAME|ID" */
	const char *uts_mode; /* "", "host" */
	bool cgroupns_host;
	const char *const *volumes_from; /* "CTR[:ro|rw]" */
	const char *log_driver; /* "json-file" (NULL), "local", "none" */
	int64_t log_max_size;
	int log_max_file;
	int log_compress; /* 0 default, 1 on, -1 off */
};

#define ENG_MAX_WARNINGS 4

/** What eng_create() made. */
struct eng_created {
	char id[RT_ID_LEN + 1];
	size_t n_warnings;
	char warnings[ENG_MAX_WARNINGS][200];
};

/**
 * eng_name_new() - a Docker-style name ("adjective_scientist") no
 * container has now, into @out (@cap bytes), as eng_create() draws for a
 * spec without one: for a caller that needs the name before the create
 * (an attachment to an overlay answers to it, docs/overlay.md).
 */
void eng_name_new(struct eng *e, char *out, size_t cap);

/**
 * eng_create() - resolve the image, merge, validate and make the
 * container (state "created"), its record, and mark its image in use.
 * All or nothing. Returns 0 and @out; -EINVAL (a bad spec, also every
 * refusal of the runtime), SHOAL_ENOTFOUND (no such image),
 * SHOAL_ECONFLICT (the name is taken), -ENOMEM, or another negative code
 * for a failure of the host (the record could not be written); @err says
 * it. Emits ENG_EVENT_CREATE.
 */
int eng_create(struct eng *e, const struct eng_spec *spec,
	       struct eng_created *out, struct shoal_err *err);

/* ---------------------------------------------------------- inspect */

enum eng_state {
	ENG_STATE_CREATED,
	ENG_STATE_RUNNING,
	ENG_STATE_PAUSED,
	ENG_STATE_RESTARTING, /* waiting for a policy restart */
	ENG_STATE_EXITED,
};

/** eng_state_name() - Docker's State.Status: "created", "running", ... */
const char *eng_state_name(enum eng_state s);

/**
 * A snapshot of one container. @record is the container record (see
 * docs/engine.md: Image, ImageID, Path, Args, Entrypoint, Cmd, Env,
 * WorkingDir, User, Labels, Tty, OpenStdin, StopSignal, StopTimeout,
 * RestartPolicy, AutoRemove, RestartCount, StoppedByUser, Annotations);
 * never NULL after a successful inspect (an empty object for a container
 * without one). Everything owned; free with eng_info_fini().
 */
struct eng_info {
	struct rt_info rt;
	enum eng_state state;
	bool running; /* running, paused or restarting: Docker's Running */
	struct eng_restart_policy restart;
	int restart_count;
	bool stopped_by_user;
	bool auto_remove;
	json_t *record;
	/* The health check's verdict (engine/health.c): "starting",
	 * "healthy", "unhealthy" (static), and Docker's State.Health; NULL
	 * for a container without a check since shoald started. */
	const char *health_status;
	json_t *health;
};

/** eng_inspect() - @ref is an id, a unique id prefix or a name. */
int eng_inspect(struct eng *e, const char *ref, struct eng_info *out);
void eng_info_fini(struct eng_info *info);

/** eng_resolve() - the full id of @ref; SHOAL_ENOTFOUND, or -EINVAL when
 * a prefix is ambiguous. */
int eng_resolve(struct eng *e, const char *ref, char id[RT_ID_LEN + 1]);

/** eng_list() - every container's id (free with rt_list_free()). */
int eng_list(struct eng *e, char ***ids, size_t *count);

struct eng_counts {
	int running; /* restarting ones included, as Docker */
	int paused;
	int stopped;
};
void eng_counts(struct eng *e, struct eng_counts *out);

/* -------------------------------------------------------- lifecycle */

/**
 * eng_start() - start a created or exited container. A start by the
 * user: clears the stopped-by-user flag and the restart count (Docker).
 * -EALREADY when it runs, is paused or waits for a policy restart
 * (Docker's 304); other errors with @err (the command not found, ...),
 * after which a --rm container is removed (the docker CLI waits for
 * that). Emits ENG_EVENT_START.
 */
int eng_start(struct eng *e, const char *id, struct shoal_err *err);

/**
 * eng_kill() - send @sig. A kill by the user: the policy will not restart
 * the container after this run. A container waiting for a policy restart
 * stays stopped (no signal to send). -ESRCH when not running.
 */
int eng_kill(struct eng *e, const char *id, int sig);

/** eng_pause() / eng_unpause() - freeze or thaw; -ESRCH when not
 * running, -EALREADY when already in that state. */
int eng_pause(struct eng *e, const char *id);
int eng_unpause(struct eng *e, const char *id);

/** How a stop is done. */
struct eng_stop_opts {
	int signal; /* 0: the container's StopSignal, else SIGTERM */
	bool timeout_set;
	int64_t timeout_s; /* grace before SIGKILL; < 0: wait for ever;
			    * unset: the container's StopTimeout, else 10 */
};

/**
 * Completion of eng_stop() and eng_restart(): @rc is 0, SHOAL_ENOTFOUND
 * (removed meanwhile), SHOAL_ECLOSED (the engine closed), or the start's
 * error with @msg (borrowed for the call).
 */
typedef void eng_done_fn(void *arg, int rc, const char *msg);

/**
 * eng_stop() - a stop by the user: signal, then SIGKILL after the grace
 * period, without blocking the loop. Returns 0 and @cb runs exactly once,
 * later; or -EALREADY when the container is not running (Docker's 304),
 * SHOAL_ENOTFOUND, -ENOMEM, and @cb never runs. A container waiting for a
 * policy restart stays stopped and @cb runs on the next turn.
 */
int eng_stop(struct eng *e, const char *id, const struct eng_stop_opts *o,
	     eng_done_fn *cb, void *arg);

/**
 * eng_restart() - stop (as eng_stop()) when running, then start (as
 * eng_start()). Returns 0 and @cb runs exactly once, later (with the
 * start's error if it failed); or SHOAL_ENOTFOUND, -ENOMEM, and @cb never
 * runs.
 */
int eng_restart(struct eng *e, const char *id, const struct eng_stop_opts *o,
		eng_done_fn *cb, void *arg);

/**
 * eng_remove() - remove container @id: its runtime state, anonymous
 * volumes (with @volumes), the use of its image. A running, paused or
 * restarting container needs @force (SHOAL_ECONFLICT otherwise), which
 * kills it first. Wakes its waiters; emits ENG_EVENT_DESTROY.
 */
int eng_remove(struct eng *e, const char *id, bool force, bool volumes);

/**
 * eng_link_remove() - `docker rm --link /PARENT/ALIAS`: drop the legacy link
 * named @alias from container @parent (name or id): its HostConfig.Links
 * entry and its line in the parent's /etc/hosts (the engine's hosts file,
 * rewritten in place). No container is removed; the variables the link set
 * at create stay in the parent's environment (as in Docker). Returns
 * SHOAL_ENOTFOUND for an unknown parent or alias, with @err in Docker's
 * words.
 */
int eng_link_remove(struct eng *e, const char *parent, const char *alias,
		    struct shoal_err *err);

/** eng_signal_parse() - "SIGTERM", "TERM", "15" (any case); -EINVAL. */
int eng_signal_parse(const char *s);

/* ---------------------------------------------------------- waiting */

enum eng_wait_kind {
	ENG_WAIT_EXIT,	  /* the next exit (or the removal) */
	ENG_WAIT_REMOVED, /* the removal */
};

struct eng_waiter;
/** @removed: the container is gone; @code: its last exit code (-1: none).
 * The waiter is no longer queued; its owner may free it. */
typedef void eng_wait_fn(struct eng_waiter *w, int code, bool removed);

/**
 * A wait on one container, owned by the caller (embed it). Set @kind, @fn
 * and @arg; the rest is the engine's.
 */
struct eng_waiter {
	enum eng_wait_kind kind;
	eng_wait_fn *fn;
	void *arg;
	/* private */
	struct list_node node;
	char id[RT_ID_LEN + 1];
	int last_code;
};

/**
 * eng_wait_add() - queue @w on container @id (arming its exit watch when
 * it runs). 0, then @w->fn runs at most once, never from inside a call
 * that queued it; -ESRCH when the container runs but its exit cannot be
 * watched (answer with what is known rather than wait for ever).
 */
int eng_wait_add(struct eng *e, const char *id, struct eng_waiter *w);

/** eng_wait_cancel() - unqueue @w if queued; its fn will not run. */
void eng_wait_cancel(struct eng_waiter *w);

/* ----------------------------------------------------------- events */

enum eng_event_type {
	ENG_EVENT_CREATE,
	ENG_EVENT_START,
	ENG_EVENT_DIE,	/* a run ended; @exit_code, @oom_killed, @restarting */
	ENG_EVENT_KILL, /* @signal, by the user */
	ENG_EVENT_STOP, /* a stop by the user finished */
	ENG_EVENT_RESTART, /* eng_restart() finished */
	ENG_EVENT_PAUSE,
	ENG_EVENT_UNPAUSE,
	ENG_EVENT_DESTROY, /* removed; @exit_code is its last (-1: none) */
	/* Health check results (engine/health.c): "health_status: ..." */
	ENG_EVENT_HEALTH_HEALTHY,
	ENG_EVENT_HEALTH_UNHEALTHY,
};

/** eng_event_name() - Docker's action: "create", "start", "die", ... */
const char *eng_event_name(enum eng_event_type t);

/** One event; borrowed for the call. */
struct eng_event {
	enum eng_event_type type;
	const char *id;
	int64_t time_ns;
	int exit_code;
	bool oom_killed;
	bool restarting; /* DIE: the policy will restart it */
	int signal;
};

typedef void eng_event_fn(const struct eng_event *ev, void *arg);
struct eng_sub;

#define ENG_MAX_SUBSCRIBERS 256

/**
 * eng_subscribe() - call @fn for every event from now on, in order, on
 * the loop thread; a subscriber added while an event is delivered does
 * not get that event. -EBUSY past ENG_MAX_SUBSCRIBERS, -ENOMEM. Free with
 * eng_unsubscribe() (also from inside @fn).
 */
int eng_subscribe(struct eng *e, eng_event_fn *fn, void *arg,
		  struct eng_sub **out);
void eng_unsubscribe(struct eng_sub *s);

/* ----------------------------------------------------------- health */

/**
 * eng_health_status() - "starting", "healthy" or "unhealthy" for a
 * container whose health check has run since shoald started; NULL when
 * it has none (static string).
 */
const char *eng_health_status(struct eng *e, const char *id);

/** eng_health_json() - Docker's State.Health ({Status, FailingStreak,
 * Log}) or NULL; owned. */
json_t *eng_health_json(struct eng *e, const char *id);

/* ---------------------------------------------------------- filters */

/**
 * Label terms of a filter, Docker's MatchKVList: @want ("key" or
 * "key=value") must all be present; with @reject (label!), a container or
 * volume is left out when all of them are present. NULL-terminated;
 * NULL: none. Strings borrowed.
 */
struct eng_label_filter {
	const char *const *want;
	const char *const *reject;
};

/** eng_labels_match() - @labels is a JSON object of strings (or NULL).
 * Pure. */
bool eng_labels_match(const struct eng_label_filter *f, const json_t *labels);

/**
 * eng_parse_until() - Docker's `until` value relative to @now_ns: a Go
 * duration ("10m", "1h30m": that long ago), unix seconds with an optional
 * fraction, or an RFC 3339 date or time ("2024-01-02",
 * "2024-01-02T15:04:05Z", with an offset or local). Pure but for the local
 * time zone. -EINVAL.
 */
int eng_parse_until(const char *s, int64_t now_ns, int64_t *out_ns);

/** What a prune removed. */
struct eng_pruned {
	char **names; /* ids or volume names; free with eng_pruned_fini() */
	size_t n;
	uint64_t space; /* bytes the removed ones used, measured before */
};
void eng_pruned_fini(struct eng_pruned *p);

/**
 * eng_prune() - remove every container that is neither running, paused
 * nor restarting, that @labels matches, created at or before @until_ns
 * (0: any). space: the bytes of their writable layers.
 */
int eng_prune(struct eng *e, const struct eng_label_filter *labels,
	      int64_t until_ns, struct eng_pruned *out);

/* ---------------------------------------------------------- volumes */

/** A volume: the runtime's facts and its labels (owned). */
struct eng_volume {
	struct rt_volume_info rt;
	json_t *labels; /* object of strings, never NULL after success */
};
void eng_volume_fini(struct eng_volume *v);

/**
 * eng_volume_create() - a named volume (NULL @name: anonymous) with
 * @labels ("key=value"); an existing name is returned as it is (Docker).
 * -EINVAL with @err.
 */
int eng_volume_create(struct eng *e, const char *name,
		      const char *const *labels, struct eng_volume *out,
		      struct shoal_err *err);
int eng_volume_inspect(struct eng *e, const char *name, struct eng_volume *out);

/** Filters of a volume listing; NULL-terminated lists, NULL: none. */
struct eng_volume_filter {
	const char *const *names;   /* substrings; any */
	const char *const *drivers; /* any ("local" is the only one) */
	int dangling;		    /* -1: either, 0: in use, 1: unused */
	struct eng_label_filter labels;
};

/** eng_volume_list() - matching volumes, sorted by name; *@out owned
 * (eng_volume_list_free()). */
int eng_volume_list(struct eng *e, const struct eng_volume_filter *f,
		    struct eng_volume **out, size_t *count);
void eng_volume_list_free(struct eng_volume *v, size_t count);

/** eng_volume_remove() - SHOAL_ECONFLICT while a container mounts it,
 * SHOAL_ENOTFOUND. */
int eng_volume_remove(struct eng *e, const char *name);

/**
 * eng_volume_prune() - remove unused volumes that @labels matches:
 * anonymous ones only unless @all. space: the bytes of their data.
 */
int eng_volume_prune(struct eng *e, const struct eng_label_filter *labels,
		     bool all, struct eng_pruned *out);

/* ---------------------------------------------- event log (events.c) */

/*
 * Docker's events (GET /events): every container event above, plus what
 * other modules post (exec, attach, image, volume, later network and
 * swarm events), each one JSON object in Docker's events.Message shape,
 * kept in order in a ring of the last ENG_EVENT_RING for --since.
 * In memory only: a restart of the daemon starts it empty.
 */
#define ENG_EVENT_RING 1024

/** A recorded event (@msg borrowed for the call) at @time_ns. */
typedef void eng_msg_fn(const json_t *msg, int64_t time_ns, void *arg);
struct eng_listener;

/**
 * eng_event_post() - record and deliver an event of @type ("container",
 * "image", "volume", "network", "service", "node", ...) and @action
 * ("create", "tag", ...) whose actor is @actor_id with @attrs (an object
 * of strings, stolen; NULL: none). Loop thread. 0 or -ENOMEM.
 */
int eng_event_post(struct eng *e, const char *type, const char *action,
		   const char *actor_id, json_t *attrs);

/**
 * eng_event_post_scope() - eng_event_post() with Docker's @scope ("local"
 * or "swarm": the events of a swarm's objects, posted on every manager).
 */
int eng_event_post_scope(struct eng *e, const char *type, const char *action,
			 const char *actor_id, json_t *attrs,
			 const char *scope);

/**
 * eng_event_post_container() - a container event with Docker's
 * attributes (name, image, the container's labels) and @extra over them
 * (stolen; NULL: none), e.g. exec_create, attach, rename, update.
 */
int eng_event_post_container(struct eng *e, const char *id, const char *action,
			     json_t *extra);

/**
 * eng_event_replay() - call @fn for each recorded event at or after
 * @since_ns and (@until_ns 0: any) at or before @until_ns, oldest first,
 * from inside the call. Returns how many.
 */
size_t eng_event_replay(struct eng *e, int64_t since_ns, int64_t until_ns,
			eng_msg_fn *fn, void *arg);

/**
 * eng_event_listen() - call @fn for every event recorded from now on, in
 * order, on the loop thread. -EBUSY past ENG_MAX_SUBSCRIBERS, -ENOMEM.
 * Stop with eng_event_unlisten() (also from inside @fn), before
 * eng_close().
 */
int eng_event_listen(struct eng *e, eng_msg_fn *fn, void *arg,
		     struct eng_listener **out);
void eng_event_unlisten(struct eng_listener *l);

/**
 * Docker's events filters (NULL-terminated lists, NULL: none; borrowed).
 * Values of one name are alternatives, names all apply, each to every
 * event as in moby's daemon/events/filter.go: type (exact), container,
 * volume, network, node, service, secret, config, plugin and daemon (the
 * actor's ID or name attribute, or a prefix of either), image (the
 * actor's ID or image/name attribute, with or without tag), event (the
 * action; exec_create, exec_start and health_status also match their
 * "action: detail" forms), scope (exact), label (the attributes).
 */
struct eng_event_filter {
	const char *const *type;
	const char *const *container;
	const char *const *image;
	const char *const *volume;
	const char *const *event;
	struct eng_label_filter labels;
	const char *const *network;
	const char *const *node;
	const char *const *service;
	const char *const *secret;
	const char *const *config;
	const char *const *plugin;
	const char *const *daemon;
	const char *const *scope;
};

/** eng_event_match() - whether @msg (as recorded) passes @f. Pure. */
bool eng_event_match(const struct eng_event_filter *f, const json_t *msg);

/* ------------------------------------------------ rename (rename.c) */

/**
 * eng_rename() - docker rename: container @id (full id) is called @name
 * from now on, running or not; emits the container's "rename" event
 * with oldName. -EINVAL (invalid name, or the same name), SHOAL_ECONFLICT
 * (taken), SHOAL_ENOTFOUND, with Docker's sentence in @err.
 */
int eng_rename(struct eng *e, const char *id, const char *name,
	       struct shoal_err *err);

/* ------------------------------------------------ update (update.c) */

/** What docker update changes. */
struct eng_update {
	struct rt_update rt; /* resources; see rt_container_update() */
	bool restart_set;
	struct eng_restart_policy restart;
	/* Fields merged into the caller's HostConfig annotation (borrowed;
	 * NULL: none), so that inspect shows the new values. */
	const json_t *host_config;
};

/**
 * eng_update() - docker update of container @id (full id), running or
 * not: resources live and for later starts, the restart policy from the
 * next exit on. -EINVAL (a restart policy for an --rm container, a bad
 * limit), SHOAL_ENOTFOUND, or the runtime's error, with Docker's words in
 * @err. Emits "update".
 */
int eng_update(struct eng *e, const char *id, const struct eng_update *u,
	       struct shoal_err *err);

/* docker commit (engine/commit.c). */
struct eng_commit_opts {
	const char *reference; /* "repo[:tag]" or NULL */
	const char *comment;
	const char *author;
	const char *const *changes; /* Dockerfile lines (--change) */
	size_t n_changes;
	const json_t *config; /* Docker's Config from the request, over the
			       * container's (non-empty keys); may be NULL */
	bool pause;	      /* freeze a running container meanwhile */
};

/* @image_id ("sha256:...") on success, else @msg says why; both borrowed
 * for the call. */
typedef void eng_commit_fn(int rc, const char *msg, const char *image_id,
			   void *arg);

/**
 * eng_commit_async() - make an image of container @ref's writable layer
 * and config (Docker's POST /commit), on a worker of the loop's pool.
 * Returns 0 and later calls @done once on the loop, or a negative code
 * (SHOAL_ENOTFOUND "No such container: ...", -EINVAL) with @err filled
 * and @done never called. @o is copied.
 */
int eng_commit_async(struct eng *e, const char *ref,
		     const struct eng_commit_opts *o, eng_commit_fn *done,
		     void *arg, struct shoal_err *err);

#endif
