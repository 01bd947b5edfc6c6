/*
 * Fuzz target: the managers' "blob-clients" assignment item as a node's
 * blob service takes it (blobsvc_acl_set_item(), worker/blob_service.h).
 * Whatever the bytes, the call returns 0.. or -EINVAL/-ENOMEM, a refused
 * item leaves the set as it was, and an accepted one holds only valid
 * node ids; else the target aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "worker/blob_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static struct blobsvc_acl *acl;
	if (!acl) {
		if (uv_loop_init(&loop) < 0)
			abort();
		acl = blobsvc_acl_new(&loop);
		if (!acl)
			abort();
	}
	static const char *const before[] = {"before"};
	if (blobsvc_acl_set(acl, before, 1) != 0)
		abort();
	/* A copy of exactly the input's size, so ASan sees any overread. */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	int rc = blobsvc_acl_set_item(acl, copy, size);
	free(copy);
	if (rc < 0 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (rc < 0 && !blobsvc_acl_allows(acl, "before"))
		abort(); /* a refused item changed the set */
	if (rc > 0)
		abort(); /* no connection to close here */
	if (blobsvc_acl_allows(acl, "") || blobsvc_acl_allows(acl, "a/b"))
		abort();
	return 0;
}
