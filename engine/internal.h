/*
 * Internal to engine/: the engine object, the per-container live state
 * (exit watch, policy restart timer, back-off) and the helpers the files
 * share. Not part of libshoal-engine's contract (engine/engine.h is).
 */
#ifndef SHOAL_ENGINE_INTERNAL_H
#define SHOAL_ENGINE_INTERNAL_H

#include "common/list.h"
#include "common/map.h"
#include "engine/engine.h"

/*
 * What the engine keeps in memory for one container, only while there is
 * something to keep: an exit watch, a pending policy restart, or the
 * back-off of the last one (Docker keeps it in memory too). Found by id in
 * eng->live; freed when it holds nothing (the timer's memory in its close
 * callback).
 */
struct eng__ctr {
	struct eng *e;
	char id[RT_ID_LEN + 1];
	struct rt_exit_watch *watch; /* NULL when not watched */
	uv_timer_t *timer;	     /* the pending restart, or NULL */
	uint64_t backoff_ms;	     /* the last restart's delay; 0: none */
};

struct eng {
	struct rt *rt;
	struct img_store *img;
	struct net *net; /* NULL: no networking of Shoal's */
	uv_loop_t *loop;
	char *data_root;
	struct hmap live;	  /* id -> struct eng__ctr */
	struct list_node waiters; /* struct eng_waiter */
	struct list_node subs;	  /* struct eng_sub */
	size_t nsubs;
	uint64_t event_seq;	    /* events delivered so far */
	struct list_node ops;	    /* struct eng__op in flight */
	struct eng__events *events; /* the event log (events.c) */
	struct hmap health;	    /* id -> struct eng__health (health.c) */
	bool closing;
};

/* engine.c: live state, watches, waiters, events */
struct eng__ctr *eng__live(struct eng *e, const char *id, bool make);
/** eng__live_put() - free @c if it holds nothing any more. */
void eng__live_put(struct eng__ctr *c);
/** eng__timer_freed() - close callback of a timer from shoal_malloc. */
void eng__timer_freed(uv_handle_t *h);
/** eng__watch() - arm the exit watch of a running container (idempotent). */
int eng__watch(struct eng *e, const char *id);
/** eng__restarting() - whether a policy restart of @id is pending. */
bool eng__restarting(struct eng *e, const char *id);
/** eng__cancel_restart() - drop a pending policy restart; true if one was. */
bool eng__cancel_restart(struct eng *e, const char *id);
/** eng__arm_restart() - start @id again after its back-off delay. */
int eng__arm_restart(struct eng *e, const char *id, int64_t ran_ns);
void eng__emit(struct eng *e, enum eng_event_type t, const char *id,
	       int exit_code, bool oom, bool restarting, int sig);
/** eng__wake_exit() - a run of @id ended: wake its ENG_WAIT_EXIT
 * waiters with @code. */
void eng__wake_exit(struct eng *e, const char *id, int code);
/** eng__gone() - @id was removed: wake every waiter on it, drop its
 * live state. */
void eng__gone(struct eng *e, const char *id, int code);
void eng__ops_close(struct eng *e);
/** eng__on_exit() - a run of @id ended (lifecycle.c). */
void eng__on_exit(struct eng *e, const char *id, int code, bool oom);

/* record.c: the container record, <data-root>/containers/<id>/engine.json */
int eng__record_load(struct eng *e, const char *id, json_t **out);
int eng__record_save(struct eng *e, const char *id, const json_t *r);
/** eng__record_update() - load, merge @changes (stolen; NULL gives
 * -ENOMEM) into the record, save. */
int eng__record_update(struct eng *e, const char *id, json_t *changes);
/** eng__record_policy() - the restart policy a record holds. */
void eng__record_policy(const json_t *r, struct eng_restart_policy *out);

/* create.c */
/** eng__create_warnings() - Docker's warnings for @s on a host whose
 * cgroups offer @features (a mask of enum rt_cgroup_feature). Pure. */
void eng__create_warnings(const struct eng_spec *s, unsigned features,
			  enum rt_cgroup_layout layout,
			  struct eng_created *out);

/* lifecycle.c */
/** eng__start() - start @id; @by_user resets the restart count. */
int eng__start(struct eng *e, const char *id, bool by_user,
	       struct shoal_err *err);
/** eng__mark_stopped() - record a stop or kill by the user. */
void eng__mark_stopped(struct eng *e, const char *id);

/* health.c: Docker's health checks */
/** eng__health_config() - the check @s and image @image_id resolve to,
 * for the record (*@out owned; NULL: none or disabled). */
int eng__health_config(struct eng *e, const struct eng_spec *s,
		       const char *image_id, json_t **out);
void eng__health_start(struct eng *e, const char *id);
void eng__health_exited(struct eng *e, const char *id);
void eng__health_drop(struct eng *e, const char *id);
void eng__health_close(struct eng *e);
/* network.c: the container's network around create, start, remove */
/** eng__net_prepare() - before the runtime's create: the namespace and
 * endpoint for @s (with -P, also the image's @exposed ports);
 * @out->network is the runtime's network. */
int eng__net_prepare(struct eng *e, const struct eng_spec *s, const char *name,
		     const char *const *exposed, struct net_ctr_result *out,
		     struct shoal_err *err);
/** eng__net_created() - the container @id exists: bind its endpoints,
 * write its hosts entry, record its mode. */
int eng__net_created(struct eng *e, const char *id, const struct eng_spec *s,
		     const struct net_ctr_result *r);
void eng__net_abandon(struct eng *e, const struct net_ctr_result *r);
/** eng__links() - Docker's legacy links of @s for container @me: the
 * environment (owned, eng__links_free()) and /etc/hosts lines (owned,
 * shoal_free()); -EINVAL with Docker's sentence. */
int eng__links(struct eng *e, const struct eng_spec *s, const char *me,
	       char ***env, char **hosts, struct shoal_err *err);
void eng__links_free(char **env);
int eng__links_hosts(struct eng *e, const char *id, const char *hosts);
/* Remove from @data (@n bytes, any bytes: the container may write its hosts
 * file) the lines "IP\tALIAS NAME[ ...]" of a legacy link; the new length. */
size_t eng__hosts_drop_link(char *data, size_t n, const char *alias,
			    const char *name);
/** eng__dns_check() - --dns-search and --dns-option words; -EINVAL. */
int eng__dns_check(const struct eng_spec *s, struct shoal_err *err);
int eng__net_start(struct eng *e, const char *id, struct shoal_err *err);
void eng__net_removed(struct eng *e, const char *id);
void eng__net_restore(struct eng *e, char **ids, size_t n);

/* prune.c */
/** eng__pruned_add() - append a copy of @name to @p and count @bytes. */
int eng__pruned_add(struct eng_pruned *p, const char *name, uint64_t bytes);

/* events.c */
int eng__events_open(struct eng *e);
void eng__events_close(struct eng *e);
/** eng__events_container() - record container event @x (eng__emit()). */
void eng__events_container(struct eng *e, const struct eng_event *x);
/** eng__events_doomed() - keep @id's attributes for its destroy event
 * (called before its record is removed). */
void eng__events_doomed(struct eng *e, const char *id);

/* engine.c */
void eng__err(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
