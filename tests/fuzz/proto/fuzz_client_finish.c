/*
 * Fuzz the server's handling of a ClientFinish (certificate or join mode,
 * chosen by the first input byte) after a genuine ClientHello. As with the
 * ServerHello, a forged finish must never be accepted.
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
	const struct wire_chan_config *ccfg =
		data[0] & 1 ? &fx->join_client : &fx->client;
	struct wire_hs client, server;
	struct buf ch, sh;
	buf_init(&ch, WIRE_HS_MAX);
	buf_init(&sh, WIRE_HS_MAX);
	if (wire__hs_init(&client, false, ccfg) < 0 ||
	    wire__hs_start(&client, &ch) < 0 ||
	    wire__hs_init(&server, true, &fx->server) < 0 ||
	    wire__hs_recv(&server, (uint8_t *)ch.data, ch.len, 1800000000,
			  &sh) < 0)
		abort();
	buf_reset(&sh);
	int rc = wire__hs_recv(&server, data + 1, size - 1, 1800000000, &sh);
	if (rc == 0 || server.state != WIRE_HS_FAILED || !server.why)
		abort();
	buf_fini(&ch);
	buf_fini(&sh);
	wire__hs_fini(&client);
	wire__hs_fini(&server);
	return 0;
}
