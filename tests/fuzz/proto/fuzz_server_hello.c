/*
 * Fuzz the client's handling of a ServerHello, in certificate mode or
 * join mode (the first input byte picks). A forged hello must never be
 * accepted: signatures cover a transcript with a fresh ephemeral key, so
 * any success here is a bug and aborts.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fixture.h"
#include "proto/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const struct fixture *fx = fixture_get();
	const struct wire_chan_config *cfg =
		data[0] & 1 ? &fx->join_client : &fx->client;
	struct wire_hs hs;
	struct buf out;
	buf_init(&out, WIRE_HS_MAX);
	if (wire__hs_init(&hs, false, cfg) < 0 || wire__hs_start(&hs, &out) < 0)
		abort();
	buf_reset(&out);
	int rc = wire__hs_recv(&hs, data + 1, size - 1, 1800000000, &out);
	if (rc == 0 || hs.state != WIRE_HS_FAILED || !hs.why)
		abort();
	buf_fini(&out);
	wire__hs_fini(&hs);
	return 0;
}
