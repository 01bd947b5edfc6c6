/*
 * net__load_record() on arbitrary bytes: a network record under
 * <data-root>/network/ is a file on disk, read at every start. Whatever it
 * holds, the load returns 0 or -EINVAL with a message (or -ENOMEM), never
 * crashes and leaks nothing; a record it accepts is written back and read
 * again to the same thing.
 */
#include "common/alloc.h"
#include "overlay-net/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shoal_err err = {""};
	struct net__net *w = NULL, *w2 = NULL;
	json_t *r = json_loadb((const char *)data, size, 0, NULL), *back;
	int rc;

	if (!r)
		return 0;
	rc = net__load_record(r, &w, &err);
	json_decref(r);
	if (rc < 0) {
		if (rc == -EINVAL && !err.msg[0])
			abort();
		return 0;
	}
	back = net__record(w);
	if (!back || net__load_record(back, &w2, &err) < 0 ||
	    strcmp(w->id, w2->id) || w->n_eps != w2->n_eps ||
	    w->subnet.addr != w2->subnet.addr)
		abort();
	json_decref(back);
	net__net_free(w2);
	net__net_free(w);
	return 0;
}
