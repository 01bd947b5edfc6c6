/*
 * raft-forge: replays the Raft-port attacks of the security review, for
 * tests/cluster/swarm-revocation. It loads a node's swarm state (its key
 * and certificate, as a copy taken while the node was a manager), opens
 * the secure channel to a manager's Raft port with it, and sends one
 * forged message in the name of any node:
 *
 *   raft-forge DATA_ROOT ADDR:PORT KIND FROM_NODE TO_NODE [VICTIM [VERSION]]
 *
 * KIND is "heartbeat-resp" (a huge term: would depose a leader), "probe"
 * (the same with term 1, which every manager ignores: to show that a
 * certificate is accepted without disturbing anything) or "append" (an
 * AppendEntries whose one entry deletes node VICTIM, at its store
 * VERSION, from the store). FROM_NODE and TO_NODE are node ids; their Raft ids
 * are derived as the manager derives them (first 8 bytes of SHA-256).
 *
 * Prints one line and exits: 0 "accepted" (the message went out and the
 * connection stayed up for a second), 3 "refused at handshake", 4
 * "dropped after the message", 5 "no answer" (no handshake within 5 s),
 * 2 for a usage or local error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "manager/manager.h"
#include "manager/store.h"
#include "proto/channel.h"
#include "raft/transport.h"
#include "raft/transport_codec.h"

struct forge {
	const char *kind;
	uint64_t from, to;
	const char *victim;
	uint64_t version;
	uint64_t term;
	bool connected, closed;
	int64_t sent_at;
};

static uint64_t raft_id_of(const char *node_id)
{
	uint8_t d[SHA256_BYTES];
	shoal_sha256(node_id, strlen(node_id), d);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | d[i];
	return id ? id : 1;
}

/* The store batch that deletes @victim (any version: a forged write). */
static int delete_batch(const char *victim, uint64_t version, uint8_t **data,
			size_t *len)
{
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	store_batch_delete(&b, STORE_NODES, victim, version);
	return store_batch_finish(&b, data, len);
}

static void on_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct forge *f = wire_chan_data(c);
	f->connected = true;
	struct raft_msg m = {.from = f->from, .to = f->to, .term = f->term};
	struct raft_entry e = {
		.term = f->term, .index = 1, .type = RAFT_ENTRY_NORMAL};
	uint8_t *data = NULL;
	size_t len = 0;
	if (strcmp(f->kind, "append") == 0) {
		if (delete_batch(f->victim, f->version, &data, &len) < 0) {
			fprintf(stderr, "raft-forge: cannot encode a batch\n");
			exit(2);
		}
		e.data = data;
		e.len = (uint32_t)len;
		m.type = RAFT_MSG_APPEND;
		m.append = (struct raft_msg_append){
			.prev_index = 0, .n_entries = 1, .entries = &e};
	} else {
		m.type = RAFT_MSG_HEARTBEAT_RESP;
		m.heartbeat_resp.ctx = 1;
	}
	struct raft_msg_pb pb;
	if (raft__msg_encode(&m, &pb) < 0 ||
	    wire_chan_send_pb(c, &pb.msg.base) < 0) {
		fprintf(stderr, "raft-forge: cannot send\n");
		exit(2);
	}
	raft__msg_pb_fini(&pb);
	shoal_free(data);
	f->sent_at = time_mono_ns();
}

static void on_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
}

static void on_closed(struct wire_chan *c, int reason)
{
	struct forge *f = wire_chan_data(c);
	f->closed = true;
}

static const struct wire_chan_callbacks cbs = {
	.connected = on_connected, .frame = on_frame, .closed = on_closed};

int main(int argc, char **argv)
{
	if (argc < 6 || (strcmp(argv[3], "append") == 0 && argc < 7)) {
		fprintf(stderr, "usage: raft-forge DATA_ROOT ADDR:PORT "
				"heartbeat-resp|probe|append FROM_NODE "
				"TO_NODE [VICTIM [VERSION]]\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_FATAL);
	if (shoal_crypto_init() < 0)
		return 2;
	struct swarm_state st;
	char err[256];
	if (swarm_state_load(argv[1], &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "raft-forge: %s\n", err);
		return 2;
	}
	struct forge f = {.kind = argv[3],
			  .from = raft_id_of(argv[4]),
			  .to = raft_id_of(argv[5]),
			  .victim = argc > 6 ? argv[6] : NULL,
			  .version = argc > 7 ? strtoull(argv[7], NULL, 10) : 1,
			  .term = 1ull << 40};
	if (strcmp(f.kind, "probe") == 0) {
		f.kind = "heartbeat-resp";
		f.term = 1; /* stale: every manager ignores it */
	}
	struct sockaddr_storage sa;
	if (raft_addr_parse(argv[2], &sa) < 0) {
		fprintf(stderr, "raft-forge: bad address %s\n", argv[2]);
		return 2;
	}
	struct wire_chan_config cfg = {.security = WIRE_SECURE,
				       .root_pk = st.root_pk,
				       .identity = &st.identity,
				       .cert = st.cert,
				       .cert_len = st.cert_len,
				       .peer_name = argv[2]};
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct wire_chan *c;
	if (wire_chan_connect(&loop, (struct sockaddr *)&sa, &cfg, &cbs, &f,
			      &c) < 0) {
		fprintf(stderr, "raft-forge: cannot connect\n");
		return 2;
	}
	int64_t deadline = time_mono_ns() + 5 * NSEC_PER_SEC;
	while (!f.closed && time_mono_ns() < deadline &&
	       !(f.sent_at && time_mono_ns() - f.sent_at > NSEC_PER_SEC)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		uv_sleep(5);
	}
	int rc;
	if (!f.connected && !f.closed) {
		printf("no answer\n");
		rc = 5;
	} else if (!f.connected) {
		printf("refused at handshake\n");
		rc = 3;
	} else if (f.closed) {
		printf("dropped after the message\n");
		rc = 4;
	} else {
		printf("accepted\n");
		rc = 0;
	}
	fflush(stdout);
	if (!f.closed)
		wire_chan_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	swarm_state_wipe(&st);
	return rc;
}
