/*
 * The SwarmSpec body of POST /swarm/init and /swarm/update as the manager
 * checks it (swarm_spec_merge(), swarm_spec_check()). Anything is refused
 * with a message or accepted as a complete spec that holds Raft's rule
 * (ElectionTick > HeartbeatTick) and that a merge takes back unchanged.
 */
#include "common/jsonx.h"
#include "manager/manager.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = NULL, *out = NULL, *again = NULL;
	char err[256];
	if (jsonx_parse_object((const char *)data, size, &in, err,
			       sizeof(err)) < 0)
		return 0;
	int rc = swarm_spec_merge(NULL, in, &out, err, sizeof(err));
	if (rc == 0) {
		const json_t *raft = jsonx_obj(out, "Raft");
		if (jsonx_int(raft, "ElectionTick", 0) <=
		    jsonx_int(raft, "HeartbeatTick", 0))
			abort(); /* accepted timing Raft refuses */
		if (swarm_spec_check(in, err, sizeof(err)) != 0)
			abort(); /* the check refuses what a merge took */
		if (swarm_spec_merge(out, out, &again, err, sizeof(err)) != 0 ||
		    !json_equal(out, again))
			abort(); /* a complete spec does not round trip */
		struct swarm_state st = {0};
		swarm_spec_to_state(out, &st);
	} else if (!*err) {
		abort(); /* refused without saying why */
	}
	json_decref(again);
	json_decref(out);
	json_decref(in);
	return 0;
}
