/*
 * Fuzz target: the tables of contents of image archives, as img_load()
 * reads them from an untrusted archive: docker save's manifest.json, an OCI
 * index.json (or nested image index) and an OCI image manifest. Every input
 * goes through all three parsers; each must return a result or an error,
 * never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	struct shoal_err err;
	struct img__dmanifest m;
	if (img__dmanifest_parse(d, size, &m, &err) == 0)
		img__dmanifest_clear(&m);
	struct img__desc_list list;
	if (img__oci_index_parse(d, size, &list, &err) == 0) {
		for (size_t i = 0; i < list.n; i++)
			(void)img__media_is_index(list.d[i].media_type);
		img__desc_list_clear(&list);
	}
	struct img__desc cfg;
	struct img__desc_list layers;
	if (img__oci_manifest_parse(d, size, &cfg, &layers, &err) == 0) {
		img__desc_clear(&cfg);
		img__desc_list_clear(&layers);
	}
	return 0;
}
