/*
 * Encoding of struct raft_msg (raft/raft.h) as the protobuf-c message
 * raft.Message (proto/raft.proto), for the transport. Internal to raft/.
 *
 * Encoding borrows: the protobuf struct points at the raft message's
 * entries and chunk data, so it must be packed before the raft message is
 * released. Decoding validates everything a peer could get wrong (type,
 * sizes, enum values, then raft_msg_validate()) and returns -EPROTO for
 * any of it; the decoded raft message borrows payloads from the unpacked
 * protobuf, both released together by raft__msg_decoded_free().
 */
#ifndef SHOAL_RAFT_TRANSPORT_CODEC_H
#define SHOAL_RAFT_TRANSPORT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/raft.pb-c.h"
#include "raft/raft.h"

struct raft_msg_pb {
	Raft__Message msg;
	Raft__SnapshotMeta meta;
	Raft__Server servers[RAFT_CONF_MAX];
	Raft__Server *server_ptrs[RAFT_CONF_MAX];
	Raft__Entry *entries; /* owned array */
	Raft__Entry **entry_ptrs;
};

/**
 * raft__msg_encode() - fill @pb (uninitialised) from @m. Returns 0 or
 * -ENOMEM; release with raft__msg_pb_fini() after packing.
 */
int raft__msg_encode(const struct raft_msg *m, struct raft_msg_pb *pb);
void raft__msg_pb_fini(struct raft_msg_pb *pb);

struct raft_msg_decoded {
	struct raft_msg msg;
	Raft__Message *pb;	    /* owns the payload bytes */
	struct raft_entry *entries; /* owned array */
};

/**
 * raft__msg_decode() - parse @len bytes into @out. Returns 0, -EPROTO
 * (malformed or invalid; nothing to free), -ENOMEM. Free with
 * raft__msg_decoded_free().
 */
int raft__msg_decode(const uint8_t *buf, size_t len,
		     struct raft_msg_decoded *out);
void raft__msg_decoded_free(struct raft_msg_decoded *d);

#endif
