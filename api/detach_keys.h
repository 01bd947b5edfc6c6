/*
 * Internal to api/: Docker's detach keys (the `detachKeys` query of
 * attach, `DetachKeys` of exec create, the CLI's --detach-keys). A spec
 * is a comma-separated list of keys, each one character or "ctrl-X" with
 * X one of a-z @ [ \ ] ^ _ (any case), as moby's term.ToBytes() reads
 * it; the default is "ctrl-p,ctrl-q". The scanner watches a client's
 * stdin for the sequence: bytes that may start it are held back, given
 * back if the sequence breaks, and dropped when it completes (the client
 * detaches). Pure; no allocation.
 */
#ifndef SHOAL_API_DETACH_KEYS_H
#define SHOAL_API_DETACH_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define API__DETACH_MAX 16

struct api__detach {
	unsigned char keys[API__DETACH_MAX];
	size_t n;	/* keys in the sequence, at least 1 */
	size_t matched; /* keys seen so far (held back) */
};

/**
 * api__detach_parse() - @spec (NULL or "": the default ctrl-p,ctrl-q)
 * into @out. -EINVAL for an unknown key, an empty item or more than
 * API__DETACH_MAX keys.
 */
int api__detach_parse(const char *spec, struct api__detach *out);

/**
 * api__detach_scan() - pass @n bytes of input through @d: what is to be
 * forwarded goes to @out (room for @n + API__DETACH_MAX bytes), its
 * length in *@out_len. Returns true when the sequence completed: the
 * bytes after it are dropped and the caller detaches.
 */
bool api__detach_scan(struct api__detach *d, const char *in, size_t n,
		      char *out, size_t *out_len);

#endif
