/*
 * This node's containers on attachable overlays (docs/overlay.md,
 * "Attachable overlays"): `docker run --network OVERLAY` and `docker
 * network connect OVERLAY CTR` ask the managers for an attachment through
 * the agent, wait for the overlay to be joined on this node (its network
 * item arrives in the node's set), and hand the caller the address to
 * give the container's endpoint.
 *
 * Release is a reconciliation, so nothing is kept on disk: the node's set
 * carries its attachments (items of Kind "attachment", with their network
 * and address); one whose address no endpoint of this node holds on that
 * overlay (its container was removed or disconnected, or went while
 * shoald was down) is given back (agent_detach()), unless a create or
 * connect is still using it (claimed until watt_release()). A restarted
 * shoald thus keeps the attachments of the containers that still exist
 * and releases the others at its first set.
 *
 * Everything runs on the daemon's loop.
 */
#ifndef SHOAL_WORKER_ATTACH_H
#define SHOAL_WORKER_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "worker/worker.h"

struct eng;
struct net;
struct watt;

/* How long the overlay may take to be joined once the managers answered,
 * and how long a claimed attachment waits for its endpoint. */
#define WATT_JOIN_WAIT_MS 15000
#define WATT_CLAIM_MS 60000
#define WATT_MAX_WAITING 64

/** An attachment granted: its task, network and address ("10.0.1.5"). */
struct watt_grant {
	char task_id[65];
	char net_id[65];
	char addr[16];
	int prefix;
};

/*
 * The answer of watt_attach(): @code 0 and @g (borrowed for the call) once
 * the overlay is joined here, with the attachment claimed until
 * watt_release(); or a negative code with Docker's words in @error
 * (SHOAL_ENOTFOUND: no such network; -EPERM: not attachable; -ENOTCONN:
 * no session with the managers; -ETIMEDOUT).
 */
typedef void watt_cb(void *arg, int code, const char *error,
		     const struct watt_grant *g);

struct watt_config {
	uv_loop_t *loop;
	struct net *net; /* the engine's; NULL: every attach refused */
	struct eng *eng; /* its removals trigger a check; may be NULL */
};

/** watt_open() - 0 and *@out, or -ENOMEM. */
int watt_open(const struct watt_config *cfg, struct watt **out);

/** watt_set_agent() - the agent to ask through (NULL: none, requests
 * refused with -ENOTCONN; waiting ones end with it). */
void watt_set_agent(struct watt *w, struct agent *a);

/**
 * watt_attach() - ask for an attachment of a container to the overlay
 * @r->network; @cb(@arg, ...) runs exactly once, later, unless
 * watt_cancel(*@id) came first. 0, -ENOTCONN (no agent, no session),
 * -EBUSY (WATT_MAX_WAITING), -ENOMEM (no callback then).
 */
int watt_attach(struct watt *w, const struct agent_attach_req *r, watt_cb *cb,
		void *arg, uint64_t *id);

/** watt_cancel() - @id's callback will not run; an attachment it was
 * granted is released by the next check. */
void watt_cancel(struct watt *w, uint64_t id);

/** watt_release() - the caller is done with granted @task_id (its
 * endpoint made, or not): from now on it lives as long as an endpoint
 * holds its address. Checks at once. */
void watt_release(struct watt *w, const char *task_id);

/** watt_assign() - the node's new set (@items borrowed): remember its
 * attachments, answer the requests whose overlay is now joined, and give
 * back the attachments no endpoint holds. */
void watt_assign(struct watt *w, const struct agent_item *items, size_t n);

/** watt_check() - give back now the attachments no endpoint holds (after
 * a container's removal or disconnect). */
void watt_check(struct watt *w);

/** watt_close() - end (waiting callbacks do not run); freed later. */
void watt_close(struct watt *w);

#endif
