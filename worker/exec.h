/*
 * The task executor: this node's assigned tasks driven through the engine.
 *
 * The agent hands over each new assignment set (wexec_assign()); the
 * executor keeps it on disk (<data-root>/worker/tasks.json, written whole
 * off the loop, fsynced and renamed), and reconciles every task with its
 * container named <service>.<slot>.<task id>:
 *
 *   desired running, no container yet  -> create, start: "running"
 *       (a create that fails rejects the task with the engine's sentence,
 *       e.g. "No such image: X"; a start that fails fails it)
 *   running container exits             -> "complete" (0) or "failed"
 *       ("task: non-zero exit (N)"); unhealthy -> stopped, "failed"
 *       ("unhealthy container")
 *   desired shutdown (or later)         -> stop with the task's grace
 *       period: "shutdown"
 *   the task left the set / desired remove -> stop, remove the container
 *
 * Every state change becomes a report (Docker's TaskStatus JSON), batched
 * per loop turn through @report. wexec_resend() reports every task's
 * current status again, for a new session (the manager keeps only what it
 * accepted; a status sent into a closed session is sent again).
 *
 * After a restart of shoald, wexec_open() reads the set back and adopts
 * the containers: a running one stays running (its exit watched again),
 * one that exited while shoald was away reports its end. Containers that
 * carry a task label but belong to no task of the set are removed at the
 * first set of a session (they are what a lost set left behind).
 *
 * Everything on the loop thread.
 */
#ifndef SHOAL_WORKER_EXEC_H
#define SHOAL_WORKER_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "worker/task.h"
#include "worker/worker.h"

struct eng;
struct wexec;

/** One status report: borrowed for the call. */
struct wexec_report {
	const char *task_id;
	const char *status_json;
};

struct wfetch;

struct wexec_config {
	uv_loop_t *loop;
	struct eng *eng;
	const char *data_root;	/* copied */
	const char *node_id;	/* copied: tasks for another node are refused */
	struct wtask_node node; /* strings copied */
	/* A batch of reports (@n >= 1). Optional. */
	void (*report)(void *arg, const struct wexec_report *r, size_t n);
	/* Optional: a running task is about to be stopped (unhealthy, or
	 * desired past running): call @done(@done_arg) on the loop once
	 * this node's VIP maps send it no new connection (at once or later;
	 * exactly once, also when the caller closes). NULL: stop at once. */
	void (*leave)(void *arg, const char *task_id, void (*done)(void *),
		      void *done_arg);
	void *arg;
	/* Optional: fetches a task's missing image from the nodes its
	 * assignment names (worker/task_fetch.h); borrowed. */
	struct wfetch *fetch;
};

/**
 * wexec_open() - the executor; reads back the set on disk and adopts its
 * containers. 0 and *@out; -ENOMEM. A set on disk that does not decode is
 * logged and set aside (renamed tasks.json.corrupt), never fatal.
 */
int wexec_open(const struct wexec_config *cfg, struct wexec **out);

/** wexec_assign() - the node's whole new set (@items borrowed). */
void wexec_assign(struct wexec *x, const struct agent_item *items, size_t n);

/**
 * wexec_image_progress() / wexec_image_fetched() - the fetch of image @id
 * (worker/task_fetch.h) made progress (@msg) or ended (@rc, @msg): the
 * tasks waiting for it show @msg, then go on to be created, or are
 * rejected with @msg.
 */
void wexec_image_progress(struct wexec *x, const char *id, const char *msg);
void wexec_image_fetched(struct wexec *x, const char *id, int rc,
			 const char *msg);

/** wexec_resend() - report every task's status again (next loop turn). */
void wexec_resend(struct wexec *x);

/**
 * wexec_leave() - the node left the swarm: kill and remove every task
 * container and delete the set on disk.
 */
void wexec_leave(struct wexec *x);

/**
 * wexec_close() - stop driving tasks; containers go on running (the next
 * wexec_open() adopts them). Frees @x on a later loop turn.
 */
void wexec_close(struct wexec *x);

/**
 * wexec_container_of() - the container of task @task_id on this node into
 * @cid; -ENOENT when the node holds none for it.
 */
int wexec_container_of(const struct wexec *x, const char *task_id,
		       char cid[RT_ID_LEN + 1]);

/** wexec_count() - tasks known (for tests). */
size_t wexec_count(const struct wexec *x);

/**
 * wexec_status() - the status JSON of task @id (owned, free with
 * shoal_free()) or NULL (for tests).
 */
char *wexec_status(const struct wexec *x, const char *id);

/**
 * wexec_store_decode() - the set file's bytes into its tasks' items and
 * last statuses: what wexec_open() reads. Exposed for the fuzz target.
 * 0 and a JSON array (owned) of {"Task": {...}, "Status": {...}};
 * -EINVAL with @err.
 */
int wexec_store_decode(const void *data, size_t len, json_t **out,
		       struct shoal_err *err);

#endif
