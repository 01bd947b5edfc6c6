/*
 * Join tokens: see token.h. Base 36 is done by schoolbook division of a
 * big-endian byte string (encode) and multiply-add into one (decode); the
 * numbers are at most 256 bits, so quadratic cost is nothing. Decoding
 * refuses a value that overflows its byte width instead of wrapping, so a
 * token has exactly one text form.
 */
#include "proto/token.h"

#include <string.h>

#include "common/crypto.h"
#include "common/error.h"

#define TOKEN_PREFIX "SWMTKN-"
#define TOKEN_VERSION "1-"

static const char digits36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* @len bytes as exactly @nchars base-36 digits (the value must fit). */
static void encode36(const uint8_t *in, size_t len, char *out, size_t nchars)
{
	uint8_t n[WIRE_TOKEN_DIGEST_LEN];
	memcpy(n, in, len);
	for (size_t pos = nchars; pos-- > 0;) {
		unsigned rem = 0;
		for (size_t i = 0; i < len; i++) {
			unsigned cur = rem << 8 | n[i];
			n[i] = (uint8_t)(cur / 36);
			rem = cur % 36;
		}
		out[pos] = digits36[rem];
	}
	shoal_wipe(n, sizeof(n));
}

/* @nchars base-36 digits into @len bytes; -1 on a bad digit or overflow. */
static int decode36(const char *in, size_t nchars, uint8_t *out, size_t len)
{
	memset(out, 0, len);
	for (size_t c = 0; c < nchars; c++) {
		const char *d = in[c] ? strchr(digits36, in[c]) : NULL;
		if (!d)
			return -1;
		unsigned carry = (unsigned)(d - digits36);
		for (size_t i = len; i-- > 0;) {
			unsigned cur = out[i] * 36u + carry;
			out[i] = (uint8_t)cur;
			carry = cur >> 8;
		}
		if (carry)
			return -2;
	}
	return 0;
}

void wire_token_new(const uint8_t root_pk[WIRE_PK_LEN], struct wire_token *out)
{
	shoal_sha256(root_pk, WIRE_PK_LEN, out->root_digest);
	shoal_random(out->secret, sizeof(out->secret));
}

void wire_token_format(const struct wire_token *t, char out[WIRE_TOKEN_LEN + 1])
{
	char *p = out;
	memcpy(p, TOKEN_PREFIX TOKEN_VERSION, 9);
	p += 9;
	encode36(t->root_digest, WIRE_TOKEN_DIGEST_LEN, p,
		 WIRE_TOKEN_DIGEST_CHARS);
	p += WIRE_TOKEN_DIGEST_CHARS;
	*p++ = '-';
	encode36(t->secret, WIRE_TOKEN_SECRET_LEN, p, WIRE_TOKEN_SECRET_CHARS);
	p += WIRE_TOKEN_SECRET_CHARS;
	*p = '\0';
}

static int bad(const char **why, const char *text)
{
	if (why)
		*why = text;
	return SHOAL_ETOKEN;
}

int wire_token_parse(const char *s, struct wire_token *out, const char **why)
{
	if (strncmp(s, TOKEN_PREFIX, 7) != 0)
		return bad(why, "join token does not start with SWMTKN-");
	if (strncmp(s + 7, TOKEN_VERSION, 2) != 0)
		return bad(why, "join token version is not 1");
	size_t n = strnlen(s, WIRE_TOKEN_LEN + 1);
	if (n != WIRE_TOKEN_LEN)
		return bad(why, "join token has the wrong length");
	const char *digest = s + 9;
	const char *secret = digest + WIRE_TOKEN_DIGEST_CHARS + 1;
	if (secret[-1] != '-')
		return bad(why, "join token has no '-' between digest and "
				"secret");
	struct wire_token t;
	int rc = decode36(digest, WIRE_TOKEN_DIGEST_CHARS, t.root_digest,
			  sizeof(t.root_digest));
	if (rc == 0)
		rc = decode36(secret, WIRE_TOKEN_SECRET_CHARS, t.secret,
			      sizeof(t.secret));
	if (rc < 0) {
		/* A partly decoded secret is still a secret. */
		shoal_wipe(&t, sizeof(t));
		return bad(why, rc == -1 ? "join token has a character outside "
					   "[0-9a-z]"
					 : "join token value out of range");
	}
	*out = t;
	shoal_wipe(&t, sizeof(t));
	return 0;
}

bool wire_token_matches_root(const struct wire_token *t,
			     const uint8_t root_pk[WIRE_PK_LEN])
{
	uint8_t d[WIRE_TOKEN_DIGEST_LEN];
	shoal_sha256(root_pk, WIRE_PK_LEN, d);
	return shoal_equal_ct(d, t->root_digest, sizeof(d));
}
