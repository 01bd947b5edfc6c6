/*
 * Fuzz certificate decoding and verification under the fixture's root. A
 * certificate that verifies must decode to the same fields, and a
 * verified one can only be one the fixture's root really signed, whose ids
 * are well formed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fixture *fx = fixture_get();
	struct wire_cert_info a, b;
	const char *why = NULL;
	int dec = wire_cert_decode(data, size, &b);
	int rc =
		wire_cert_verify(data, size, fx->root.pk, 1800000000, &a, &why);
	if (rc < 0 && !why && rc != -ENOMEM)
		abort();
	if (rc == 0) {
		if (dec != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
		if (!a.node_id[0] || strlen(a.node_id) > WIRE_ID_MAX)
			abort();
	}
	return 0;
}
