/*
 * A fixed cluster for the proto fuzz targets and their seed generator: a
 * root key and manager/worker identities from constant seeds, so that seed
 * certificates stay valid under the same root in every run.
 */
#ifndef SHOAL_TESTS_FUZZ_PROTO_FIXTURE_H
#define SHOAL_TESTS_FUZZ_PROTO_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/channel.h"

struct fixture {
	struct wire_keypair root;
	struct wire_keypair mgr;
	struct wire_keypair wrk;
	uint8_t *mgr_cert;
	size_t mgr_cert_len;
	uint8_t *wrk_cert;
	size_t wrk_cert_len;
	struct wire_token token; /* its secret is the fixture's worker secret */
	struct wire_chan_config server;	     /* manager, joins accepted */
	struct wire_chan_config client;	     /* worker with a certificate */
	struct wire_chan_config join_client; /* token only */
};

/** fixture_get() - the process-wide fixture, built on first use. */
const struct fixture *fixture_get(void);

#endif
