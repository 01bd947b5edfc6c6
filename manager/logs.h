/*
 * Service logs, the leader's side (manager/logs.c): a subscription asks
 * each node holding some of the given tasks, over that node's session,
 * for those tasks' logs (LogsSubscribe, proto/swarm.proto) and hands the
 * lines that come back (LogsData) to its owner, checked: a node may only
 * send lines of the tasks it was asked for. Flow control: each node may
 * have MGR_LOGS_CREDIT batches in flight; the owner's lines() returns
 * whether it took a batch at once, or it calls mgr_logs_credit() later
 * (when its client drained). A node without a session counts as done (its
 * logs cannot be reached); so does a node that answers done. done() runs
 * once, when every node is done or the manager stops; the subscription is
 * freed after it. Only the leader holds sessions: elsewhere
 * mgr_logs_start() fails with SHOAL_ENOTLEADER.
 *
 * Everything on the manager's loop.
 */
#ifndef SHOAL_MANAGER_LOGS_H
#define SHOAL_MANAGER_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mgr;
struct mgr_logs;

#define MGR_LOGS_CREDIT 4
#define MGR_LOGS_MAX_NODES 1024

struct mgr_logs_task {
	const char *task_id;
	const char *node_id;
};

struct mgr_logs_opts {
	bool follow;
	int64_t tail; /* -1: all */
	int64_t since_ns;
	bool out, err;
	/* Following a whole service (follow and non-NULL; copied): the tasks
	 * it gets later are followed too, and the subscription lasts until
	 * the service is removed or the owner stops it. NULL: the tasks
	 * given, done when they are. */
	const char *service_id;
};

/** One line from a node; borrowed for the call. */
struct mgr_log_line {
	const char *task_id;
	int stream; /* 1 stdout, 2 stderr */
	int64_t time_ns;
	const uint8_t *data;
	size_t len;
};

struct mgr_logs_cb {
	/* A batch from node @node_id: true when taken (more may come at
	 * once), false when the owner will call mgr_logs_credit() for it. */
	bool (*lines)(void *arg, const char *node_id,
		      const struct mgr_log_line *lines, size_t n);
	/* Every node is done (@error NULL), or the subscription ended early
	 * with @error. The subscription is freed after this returns. */
	void (*done)(void *arg, const char *error);
};

/**
 * mgr_logs_start() - subscribe to the logs of @n tasks (copied). 0 and
 * *@out; SHOAL_ENOTLEADER, -EINVAL (too many nodes), -ENOMEM with @err.
 * With no task on a reachable node, done() runs on the next loop turn.
 */
int mgr_logs_start(struct mgr *m, const struct mgr_logs_task *tasks, size_t n,
		   const struct mgr_logs_opts *o, const struct mgr_logs_cb *cb,
		   void *arg, struct mgr_logs **out, char *err, size_t errlen);

/** mgr_logs_credit() - @node_id may send one more batch. */
void mgr_logs_credit(struct mgr_logs *l, const char *node_id);

/** mgr_logs_stop() - the owner is gone: cancel on every node; no more
 * callbacks. Not after done(). */
void mgr_logs_stop(struct mgr_logs *l);

#endif
