/*
 * The joining side of the join handshake (worker.h, agent_join()).
 *
 * One secure channel in join mode: the handshake checks the manager's root
 * key against the token's digest (a manager of another cluster fails
 * there, SHOAL_ETOKEN) and proves the token's secret; a manager that does
 * not know the secret (wrong or rotated token) closes the connection
 * during the handshake. We then send a JoinRequest with our public key and
 * wait for the JoinResponse, whose certificate we verify before reporting
 * success: under the root key the token names, for our own key, for the
 * cluster the manager's certificate names. Nothing is written here; the
 * caller saves the result, so a failed join leaves nothing behind.
 */
#define LOG_MODULE "join"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/channel.h"
#include "proto/swarm.pb-c.h"
#include "proto/token.h"
#include "proto/wire.h"
#include "worker/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_TIMEOUT_MS 20000

struct join {
	uv_loop_t *loop;
	struct wire_token token;
	struct wire_keypair id;
	struct agent_desc desc;
	agent_join_cb *cb;
	void *arg;
	bool connected;
	bool answered;
	bool redirected; /* already followed a leader hint */
	char redirect[AGENT_ADDR_MAX];
	struct agent_join_result res;
	struct wire_chan *chan; /* the current attempt */
	uv_timer_t timer;	/* the whole join's deadline */
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void set_error(struct join *j, int rc, const char *msg)
{
	if (j->res.rc)
		return;
	j->res.rc = rc;
	copy_str(j->res.error, sizeof(j->res.error), msg);
}

static void check_answer(struct join *j, const Swarm__JoinResponse *jr)
{
	struct agent_join_result *r = &j->res;
	if (jr->code == SHOAL_ENOTLEADER && !j->redirected &&
	    jr->n_managers > 0 && jr->managers[0] &&
	    strlen(jr->managers[0]) < sizeof(j->redirect)) {
		snprintf(j->redirect, sizeof(j->redirect), "%s",
			 jr->managers[0]);
		return;
	}
	if (jr->code != 0) {
		set_error(j, jr->code < 0 ? jr->code : -EPROTO,
			  jr->error ? jr->error
				    : "the manager refused the join");
		return;
	}
	if (jr->root_key.len != WIRE_PK_LEN ||
	    !wire_token_matches_root(&j->token, jr->root_key.data)) {
		set_error(j, SHOAL_ETOKEN,
			  "the manager's root key does not match the join "
			  "token");
		return;
	}
	memcpy(r->root_pk, jr->root_key.data, WIRE_PK_LEN);
	struct wire_cert_info info;
	const char *why = "too large";
	if (jr->certificate.len > sizeof(r->cert) ||
	    wire_cert_verify(jr->certificate.data, jr->certificate.len,
			     r->root_pk, time_real_ns() / NSEC_PER_SEC, &info,
			     &why) < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "the manager sent an unusable certificate: %s", why);
		set_error(j, SHOAL_ECERT, msg);
		return;
	}
	if (memcmp(info.public_key, j->id.pk, WIRE_PK_LEN) != 0 ||
	    !jr->node_id || strcmp(info.node_id, jr->node_id) != 0 ||
	    !jr->cluster_id || strcmp(info.cluster_id, jr->cluster_id) != 0) {
		set_error(j, SHOAL_ECERT,
			  "the manager's certificate is not for this node");
		return;
	}
	if (info.role == WIRE_ROLE_MANAGER) {
		if (jr->root_sk.len != WIRE_SK_LEN) {
			set_error(j, -EPROTO,
				  "the manager sent no CA key to a manager");
			return;
		}
		memcpy(r->root_sk, jr->root_sk.data, WIRE_SK_LEN);
		r->has_root_sk = true;
		r->has_raft = agent__raft_from_pb(jr->raft, &r->raft);
	}
	memcpy(r->cert, jr->certificate.data, jr->certificate.len);
	r->cert_len = jr->certificate.len;
	copy_str(r->node_id, sizeof(r->node_id), info.node_id);
	copy_str(r->cluster_id, sizeof(r->cluster_id), info.cluster_id);
	r->role = info.role;
	r->heartbeat_ms = jr->heartbeat_ms;
	for (size_t i = 0; i < jr->n_managers && i < AGENT_MAX_MANAGERS; i++) {
		copy_str(r->managers[r->nmanagers], AGENT_ADDR_MAX,
			 jr->managers[i]);
		if (i < jr->n_manager_ids && jr->manager_ids[i] &&
		    strlen(jr->manager_ids[i]) <= WIRE_ID_MAX)
			copy_str(r->manager_ids[r->nmanagers], WIRE_ID_MAX + 1,
				 jr->manager_ids[i]);
		r->nmanagers++;
	}
	j->answered = true;
}

static void on_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct join *j = wire_chan_data(c);
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Swarm__Envelope *env = swarm__envelope__unpack(&t.alloc, len, data);
	if (!env || env->body_case != SWARM__ENVELOPE__BODY_JOIN_RESPONSE)
		set_error(j, t.failed ? -ENOMEM : -EPROTO,
			  "the manager sent a malformed answer");
	else
		check_answer(j, env->join_response);
	if (env)
		swarm__envelope__free_unpacked(env, &t.alloc);
	wire_chan_close(c);
}

static void desc_pb(const struct agent_desc *d, Swarm__NodeDescription *pb)
{
	pb->hostname = (char *)d->hostname;
	pb->os = (char *)d->os;
	pb->architecture = (char *)d->arch;
	pb->nano_cpus = d->nano_cpus;
	pb->memory_bytes = d->memory_bytes;
	pb->engine_version = (char *)d->engine_version;
	pb->addr = (char *)d->addr;
}

static void on_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct join *j = wire_chan_data(c);
	j->connected = true;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinRequest jr = SWARM__JOIN_REQUEST__INIT;
	Swarm__NodeDescription d = SWARM__NODE_DESCRIPTION__INIT;
	desc_pb(&j->desc, &d);
	jr.public_key.data = j->id.pk;
	jr.public_key.len = WIRE_PK_LEN;
	jr.description = &d;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_REQUEST;
	env.join_request = &jr;
	int rc = wire_chan_send_pb(c, &env.base);
	if (rc < 0) {
		set_error(j, rc, "cannot send the join request");
		wire_chan_close(c);
	}
}

static int dial(struct join *j, const char *addr);

static void timer_closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

/* No answer in time (a manager without quorum cannot commit the node):
 * give up, so that the node can try again. */
static void deadline(uv_timer_t *t)
{
	struct join *j = t->data;
	set_error(j, -ETIMEDOUT,
		  "timed out waiting for the manager to admit this node (has "
		  "the swarm lost its quorum?)");
	if (j->chan)
		wire_chan_close(j->chan);
}

static void on_closed(struct wire_chan *c, int reason)
{
	struct join *j = wire_chan_data(c);
	if (j->redirect[0] && !j->redirected && j->res.rc == 0) {
		char addr[AGENT_ADDR_MAX];
		snprintf(addr, sizeof(addr), "%s", j->redirect);
		j->redirected = true;
		j->connected = false;
		log_info("joining through the leader at %s", addr);
		int rc = dial(j, addr);
		if (rc == 0)
			return;
		set_error(j, rc, "cannot reach the leader");
	}
	if (!j->answered) {
		if (reason == SHOAL_ETOKEN)
			set_error(j, SHOAL_ETOKEN,
				  "the manager's root key does not match the "
				  "join token (a token of another swarm?)");
		else if (!j->connected &&
			 (reason == SHOAL_ECLOSED || reason == -ECONNRESET))
			set_error(j, SHOAL_ETOKEN,
				  "A valid join token is necessary to join "
				  "this cluster (the token is wrong or was "
				  "rotated)");
		else if (!j->connected && reason == -ETIMEDOUT)
			set_error(j, -ETIMEDOUT,
				  "timeout waiting for the manager's answer");
		else if (!j->connected)
			set_error(j, reason ? reason : -EPROTO,
				  reason ? shoal_strerror(reason)
					 : "connection closed");
		else
			set_error(j, -EPROTO,
				  "the manager closed the connection without "
				  "answering");
	}
	if (j->res.rc == 0 && !j->answered)
		set_error(j, -EPROTO, "no answer");
	j->chan = NULL;
	j->cb(j->arg, &j->res);
	wire_keypair_wipe(&j->id);
	shoal_wipe(&j->res, sizeof(j->res));
	uv_close((uv_handle_t *)&j->timer, timer_closed);
}

static const struct wire_chan_callbacks join_cb = {
	.connected = on_connected,
	.frame = on_frame,
	.closed = on_closed,
};

int agent_join(uv_loop_t *loop, const char *token, const char *addr,
	       const struct wire_keypair *id, const struct agent_desc *desc,
	       agent_join_cb *cb, void *arg, char *err, size_t errlen)
{
	struct wire_token t;
	const char *why = NULL;
	if (wire_token_parse(token, &t, &why) < 0) {
		snprintf(err, errlen, "invalid join token: %s", why);
		return SHOAL_ETOKEN;
	}
	struct sockaddr_storage probe;
	if (agent_parse_addr(addr, &probe) < 0) {
		snprintf(err, errlen,
			 "invalid manager address \"%s\": expected ADDR:PORT "
			 "with a numeric address",
			 addr);
		return -EINVAL;
	}
	struct join *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->loop = loop;
	j->token = t;
	j->id = *id;
	j->desc = *desc;
	j->cb = cb;
	j->arg = arg;
	uv_timer_init(loop, &j->timer);
	j->timer.data = j;
	int rc = dial(j, addr);
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", addr,
			 shoal_strerror(rc));
		wire_keypair_wipe(&j->id);
		uv_close((uv_handle_t *)&j->timer, timer_closed);
		return rc;
	}
	uv_timer_start(&j->timer, deadline, JOIN_TIMEOUT_MS, 0);
	return 0;
}

static int dial(struct join *j, const char *addr)
{
	struct sockaddr_storage ss;
	if (agent_parse_addr(addr, &ss) < 0)
		return -EINVAL;
	struct wire_chan_config cfg = {
		.security = WIRE_SECURE,
		.token = &j->token,
		.peer_name = addr,
		.handshake_timeout_ms = JOIN_TIMEOUT_MS,
	};
	return wire_chan_connect(j->loop, (struct sockaddr *)&ss, &cfg,
				 &join_cb, j, &j->chan);
}

int agent_parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[AGENT_ADDR_MAX];
	memset(ss, 0, sizeof(*ss));
	if (strlen(s) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%s", s);
	char *colon = strrchr(host, ':');
	if (!colon || !colon[1])
		return -EINVAL;
	*colon = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -EINVAL;
	char *h = host;
	if (h[0] == '[') {
		char *e = strchr(++h, ']');
		if (!e || e[1])
			return -EINVAL;
		*e = '\0';
		return uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)ss);
	}
	if (strcmp(h, "localhost") == 0)
		h = (char *)"127.0.0.1";
	return uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss);
}
