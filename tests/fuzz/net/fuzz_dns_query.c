/*
 * Fuzz target for the resolver's query parser (dns_parse_query), the bytes
 * a container sends to 127.0.0.11. Every query that parses goes on through
 * what the resolver does with it: the lookup text, the reverse address, an
 * answer with records (under a UDP limit the first byte picks) and the
 * forwarded query. Invariants: our answers and forwarded queries always
 * parse back to the same question; any crash or sanitizer report is a bug.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay-net/dns.h"

#define NET_ADDRS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_answer(const struct dns_query *q, const uint8_t *out, int n)
{
	struct dns_response resp;

	if (n < 0)
		return;
	if (q->has_question &&
	    dns_parse_response(out, (size_t)n, &q->q, &resp) != 0)
		abort();
	if ((size_t)n > q->udp_limit && q->has_question)
		abort();
}

static void answer(const struct dns_query *q, int rcode)
{
	struct in_addr a[NET_ADDRS];
	struct dns_reply rep = {.rcode = rcode, .ttl = 600, .a = a};
	uint8_t out[DNS_UDP_MAX];
	char text[DNS_MAX_NAME + 1];
	struct in_addr addr;

	for (int i = 0; i < NET_ADDRS; i++)
		a[i].s_addr = htonl(0x0a000001 + (uint32_t)i);
	if (rcode == 0) {
		rep.n_a = q->id % NET_ADDRS;
		if (dns_name_text(&q->q, text, sizeof(text)) >= 0 &&
		    q->q.qtype == DNS_TYPE_PTR)
			rep.ptr = text;
		if (dns_name_ptr_addr(&q->q, &addr) == 0 && addr.s_addr == 0)
			rep.n_a = 0;
	}
	check_answer(q, out,
		     dns_build_reply(q, &rep, q->udp_limit, out, sizeof(out)));
}

static void forward(const struct dns_query *q)
{
	uint8_t out[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
	struct dns_query back;
	int n = dns_build_forward(q, 0xabcd, out, sizeof(out));

	if (n < 0)
		abort(); /* the buffer the resolver uses always suffices */
	if (dns_parse_query(out, (size_t)n, &back) != 0 ||
	    !dns_name_equal(back.q.name, back.q.name_len, q->q.name,
			    q->q.name_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	int rc = dns_parse_query(data, size, &q);

	if (rc < 0)
		return 0;
	answer(&q, rc);
	if (rc == 0)
		forward(&q);
	return 0;
}
