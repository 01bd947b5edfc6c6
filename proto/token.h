/*
 * Join tokens, in Docker's shape: "SWMTKN-1-<digest>-<secret>". <digest> is
 * the SHA-256 of the cluster root's Ed25519 public key, written as exactly
 * 50 lowercase base-36 digits; <secret> is 128 random bits, written as
 * exactly 25 base-36 digits. A joining host uses the digest to recognise
 * the real cluster (the server shows its root key during the handshake) and
 * proves knowledge of the secret with a MAC over the handshake transcript,
 * so the secret itself never crosses the wire.
 *
 * Every function here is pure; parsing reports the first problem found as a
 * static phrase fit for a user's error message.
 */
#ifndef SHOAL_PROTO_TOKEN_H
#define SHOAL_PROTO_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/cert.h"

#define WIRE_TOKEN_DIGEST_LEN 32
#define WIRE_TOKEN_SECRET_LEN 16
#define WIRE_TOKEN_DIGEST_CHARS 50
#define WIRE_TOKEN_SECRET_CHARS 25
/* "SWMTKN-1-" + 50 + "-" + 25 */
#define WIRE_TOKEN_LEN                                                         \
	(9 + WIRE_TOKEN_DIGEST_CHARS + 1 + WIRE_TOKEN_SECRET_CHARS)

struct wire_token {
	uint8_t root_digest[WIRE_TOKEN_DIGEST_LEN];
	uint8_t secret[WIRE_TOKEN_SECRET_LEN];
};

/** wire_token_new() - a token for the root key @root_pk, fresh secret. */
void wire_token_new(const uint8_t root_pk[WIRE_PK_LEN], struct wire_token *out);

/** wire_token_format() - the text form into @out (WIRE_TOKEN_LEN + 1). */
void wire_token_format(const struct wire_token *t,
		       char out[WIRE_TOKEN_LEN + 1]);

/**
 * wire_token_parse() - read the text form. Returns 0 or SHOAL_ETOKEN with
 * @why (when not NULL) naming the problem: wrong prefix or version, wrong
 * length, a character outside [0-9a-z], a value out of range. @out is
 * written only on success.
 */
int wire_token_parse(const char *s, struct wire_token *out, const char **why);

/** wire_token_matches_root() - whether @t was made for root key @root_pk. */
bool wire_token_matches_root(const struct wire_token *t,
			     const uint8_t root_pk[WIRE_PK_LEN]);

#endif
