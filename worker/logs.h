/*
 * Task logs for service logs (worker/logs.c): the node's side of a
 * manager's LogsSubscribe. Each subscription reads the json-file logs of
 * the named tasks' containers (tail and since applied per task), sends
 * them in batches of at most WLOGS_BATCH_BYTES as the manager grants
 * credit, and, when following, polls the logs for new lines until the
 * manager cancels or the session ends. A task this node does not hold (or
 * whose container is gone) is skipped: its logs are not here.
 *
 * Bounded: at most WLOGS_MAX_SUBS subscriptions at a time (more are
 * answered done with why), one batch buffer each. Everything on the loop.
 */
#ifndef SHOAL_WORKER_LOGS_H
#define SHOAL_WORKER_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "worker/exec.h"
#include "worker/worker.h"

#define WLOGS_MAX_SUBS 64
#define WLOGS_BATCH_BYTES (64u << 10)
#define WLOGS_POLL_MS 200

struct wlogs;

struct wlogs_config {
	uv_loop_t *loop;
	struct eng *eng;
	struct wexec *tasks; /* to find a task's container */
	/* Send one batch (agent_send_logs()); 0 or a negative code. */
	int (*send)(void *arg, uint64_t sub_id,
		    const struct agent_log_line *lines, size_t n, bool done,
		    const char *error);
	void *arg;
};

int wlogs_open(const struct wlogs_config *cfg, struct wlogs **out);
/** wlogs_close() - end every subscription; frees on a later turn. */
void wlogs_close(struct wlogs *l);
void wlogs_subscribe(struct wlogs *l, const struct agent_logs_req *rq);
void wlogs_control(struct wlogs *l, uint64_t sub_id, bool cancel,
		   uint32_t credit);
/** wlogs_drop_all() - the session changed: its subscriptions are gone. */
void wlogs_drop_all(struct wlogs *l);

#endif
