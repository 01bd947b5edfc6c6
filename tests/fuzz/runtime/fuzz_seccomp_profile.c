/*
 * Fuzz target: the seccomp profile compiler (a profile is a file a user
 * hands us). Any input must give 0 with a BPF program of whole
 * instructions, or -EINVAL/-E2BIG with a message; never a crash or leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shoal_err err = {""};
	void *bpf = NULL;
	size_t len = 0;
	int rc;

	if (size > 1 << 16)
		return 0;
	rc = rt__seccomp_compile((const char *)data, size, rt__caps_default(),
				 &bpf, &len, &err);
	if (rc == 0) {
		if (len == 0 || len % 8)
			abort();
		shoal_free(bpf);
	} else if (!err.msg[0]) {
		abort(); /* every failure explains itself */
	}
	return 0;
}
