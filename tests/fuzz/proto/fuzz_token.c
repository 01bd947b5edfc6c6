/*
 * Fuzz join token parsing: any text is refused with a reason or parses to
 * a token whose formatted text is exactly the input (one text form per
 * token).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "proto/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = shoal_malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct wire_token t;
	const char *why = NULL;
	int rc = wire_token_parse(s, &t, &why);
	if (rc < 0 && !why)
		abort();
	if (rc == 0) {
		char back[WIRE_TOKEN_LEN + 1];
		wire_token_format(&t, back);
		if (strcmp(back, s) != 0)
			abort();
	}
	shoal_free(s);
	return 0;
}
