/*
 * Object ids: see id.h. The base-36 form divides the 128-bit number by 36
 * repeatedly (as swarmkit's identity package does with math/big), padding to
 * 25 digits, which is exactly the width of 2^128 - 1 in base 36.
 */
#include "common/id.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

void id_swarm(char out[ID_SWARM_LEN + 1])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint32_t n[4];
	randombytes_buf(n, sizeof(n));
	for (int i = ID_SWARM_LEN - 1; i >= 0; i--) {
		uint64_t rem = 0;
		for (int w = 0; w < 4; w++) {
			uint64_t cur = (rem << 32) | n[w];
			n[w] = (uint32_t)(cur / 36);
			rem = cur % 36;
		}
		out[i] = digits[rem];
	}
	out[ID_SWARM_LEN] = '\0';
}

void id_hex(char out[ID_HEX_LEN + 1])
{
	unsigned char raw[ID_HEX_LEN / 2];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, ID_HEX_LEN + 1, raw, sizeof(raw));
}

bool id_is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool id_is_swarm(const char *s)
{
	if (strlen(s) != ID_SWARM_LEN)
		return false;
	for (size_t i = 0; i < ID_SWARM_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

bool id_is_dns_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0, label = 0;
	if (!n || n > max || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}
