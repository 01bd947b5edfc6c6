/*
 * Fuzz target: what registries and clients send the registry client. The
 * first byte picks the decoder, the rest is its input: an image reference
 * (img_ref_parse), a WWW-Authenticate challenge (img_challenge_parse), a
 * token server's answer (img_token_parse), an X-Registry-Auth header
 * (img_auth_decode), a /v2/_catalog or tags/list page (img_catalog_parse,
 * img_tags_parse), or an image manifest or manifest list as a registry serves
 * it (the store's index and manifest parsers). Parsed fields must stay
 * NUL-terminated within their arrays.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "image/internal.h"
#include "image/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ref(const struct img_ref *r)
{
	if (strnlen(r->domain, sizeof(r->domain)) == sizeof(r->domain) ||
	    strnlen(r->path, sizeof(r->path)) == sizeof(r->path) ||
	    strnlen(r->tag, sizeof(r->tag)) == sizeof(r->tag) ||
	    strnlen(r->digest, sizeof(r->digest)) == sizeof(r->digest))
		abort();
	char fam[600];
	img_ref_familiar(r, fam, sizeof(fam));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct shoal_err err;
	switch (data[0] % 6) {
	case 0: {
		struct img_ref r;
		if (img_ref_parse(text, &r, &err) == 0)
			check_ref(&r);
		break;
	}
	case 1: {
		struct img_challenge c;
		img_challenge_parse(text, &c);
		break;
	}
	case 2: {
		char *tok = NULL;
		if (img_token_parse(text, size - 1, &tok) == 0 && !tok)
			abort();
		shoal_free(tok);
		break;
	}
	case 3: {
		json_t *o = NULL;
		struct img_auth a;
		img_auth_decode(text, &o, &a, &err);
		json_decref(o);
		break;
	}
	case 5: {
		/* A catalog page: every name kept is a valid path. */
		json_t *names = json_array();
		if (names &&
		    img_catalog_parse(text, size - 1, names, 50, &err) == 0) {
			if (json_array_size(names) > 50)
				abort();
			for (size_t i = 0; i < json_array_size(names); i++)
				if (!json_is_string(json_array_get(names, i)))
					abort();
		}
		json_decref(names);
		/* The same bytes as a tag list page. */
		json_t *tags = json_array();
		if (tags &&
		    img_tags_parse(text, size - 1, tags, 50, &err) == 0 &&
		    json_array_size(tags) > 50)
			abort();
		json_decref(tags);
		break;
	}
	default: {
		struct img__desc_list l;
		struct img__desc c;
		if (img__oci_index_parse(text, size - 1, &l, &err) == 0)
			img__desc_list_clear(&l);
		if (img__oci_manifest_parse(text, size - 1, &c, &l, &err) ==
		    0) {
			img__desc_clear(&c);
			img__desc_list_clear(&l);
		}
		break;
	}
	}
	free(text);
	return 0;
}
