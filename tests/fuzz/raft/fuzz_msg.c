/*
 * Fuzz target for the raft message decoder (raft/transport_codec.c): any
 * bytes a peer sends must decode to a valid struct raft_msg or be refused
 * with a code; never a crash, a leak or an assert. A decoded message is
 * encoded and decoded again and must come back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/transport_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_msg_decoded d, again;
	if (raft__msg_decode(data, size, &d))
		return 0;
	struct raft_msg_pb pb;
	if (raft__msg_encode(&d.msg, &pb) == 0) {
		size_t len = raft__message__get_packed_size(&pb.msg);
		uint8_t *buf = malloc(len ? len : 1);
		raft__message__pack(&pb.msg, buf);
		if (raft__msg_decode(buf, len, &again) != 0)
			abort();
		if (again.msg.type != d.msg.type ||
		    again.msg.term != d.msg.term ||
		    again.msg.from != d.msg.from)
			abort();
		raft__msg_decoded_free(&again);
		free(buf);
	}
	raft__msg_pb_fini(&pb);
	raft__msg_decoded_free(&d);
	return 0;
}
