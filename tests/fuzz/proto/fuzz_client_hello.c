/*
 * Fuzz the server's handling of a ClientHello: any input must be refused
 * with a code and a reason, or answered with a ServerHello; never a crash
 * or a leak.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fixture.h"
#include "proto/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fixture *fx = fixture_get();
	struct wire_hs hs;
	struct buf out;
	buf_init(&out, WIRE_HS_MAX);
	if (wire__hs_init(&hs, true, &fx->server) < 0)
		abort();
	int rc = wire__hs_recv(&hs, data, size, 1800000000, &out);
	if (rc < 0 && (hs.state != WIRE_HS_FAILED || !hs.why))
		abort();
	if (rc == 0 && out.len == 0)
		abort();
	buf_fini(&out);
	wire__hs_fini(&hs);
	return 0;
}
