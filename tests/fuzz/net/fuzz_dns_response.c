/*
 * Fuzz target for the check of an upstream server's answer
 * (dns_parse_response), the bytes a nameserver, or anyone who can spoof
 * one, sends back to the resolver. Input: a 16-bit big-endian length, a
 * query of that length (parsed as the resolver parses a container's), and
 * the answer checked against the query's question. An answer that passes
 * is relayed as the resolver relays it (an empty TC answer when it is over
 * the client's limit). Any crash or sanitizer report is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay-net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_response resp;
	struct dns_query q;
	size_t qlen;

	if (size < 2)
		return 0;
	qlen = (size_t)data[0] << 8 | data[1];
	if (qlen > size - 2 || dns_parse_query(data + 2, qlen, &q) != 0)
		return 0;
	data += 2 + qlen;
	size -= 2 + qlen;
	if (dns_parse_response(data, size, &q.q, &resp) != 0)
		return 0;
	if (size > q.udp_limit) {
		struct dns_reply rep = {.rcode = resp.rcode, .tc = true};
		uint8_t out[DNS_UDP_MAX];
		int n = dns_build_reply(&q, &rep, q.udp_limit, out,
					sizeof(out));

		if (n < 0 || dns_parse_response(out, (size_t)n, &q.q, &resp))
			abort();
	}
	return 0;
}
