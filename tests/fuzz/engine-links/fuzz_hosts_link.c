/*
 * eng__hosts_drop_link() on arbitrary bytes (a container can write anything
 * into its /etc/hosts). It never reads or writes out of bounds, the result
 * is never longer than the input, keeps every byte of the lines it keeps in
 * order, and leaves no line "IP\tdb ldb" behind.
 */
#include "engine/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	size_t w, i, j;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	w = eng__hosts_drop_link(buf, size, "db", "ldb");
	if (w > size)
		abort();
	/* What is kept is a subsequence of the input. */
	for (i = 0, j = 0; i < w; i++, j++) {
		while (j < size && data[j] != (uint8_t)buf[i])
			j++;
		if (j == size)
			abort();
	}
	/* A second pass finds nothing more to drop. */
	if (eng__hosts_drop_link(buf, w, "db", "ldb") != w)
		abort();
	free(buf);
	return 0;
}
