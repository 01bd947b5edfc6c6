/*
 * Unit tests of the resolver's DNS codec (overlay-net/dns.h): what a
 * container may send and what it gets back, byte for byte where it matters
 * (TTL, TC, counts), and every refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "overlay-net/dns.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put8(struct msg *m, uint8_t v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = v;
}

static void put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd,
		   uint16_t an, uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* "a.b.c" as labels. */
static void name(struct msg *m, const char *text)
{
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);

		put8(m, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			put8(m, (uint8_t)text[i]);
		text += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

static void opt(struct msg *m, uint16_t size, uint8_t version, bool do_bit)
{
	put8(m, 0);
	put16(m, DNS_TYPE_OPT);
	put16(m, size);
	put32(m, (uint32_t)version << 16 | (do_bit ? 0x8000 : 0));
	put16(m, 0);
}

static void query(struct msg *m, const char *qname, uint16_t type)
{
	header(m, 0x1234, DNS_FLAG_RD, 1, 0, 0, 0);
	name(m, qname);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
}

static int parse(const struct msg *m, struct dns_query *q)
{
	return dns_parse_query(m->b, m->n, q);
}

static void parses_a_query_and_gives_its_name_in_lower_case(void **state)
{
	struct dns_query q;
	struct msg m;
	char text[256];

	(void)state;
	query(&m, "Web.MyNet", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.q.qtype, DNS_TYPE_A);
	assert_false(q.edns);
	assert_int_equal(q.udp_limit, 512);
	assert_int_equal(dns_name_text(&q.q, text, sizeof(text)), 9);
	assert_string_equal(text, "web.mynet");
	/* The question is kept with its case, for the echo. */
	assert_memory_equal(q.q.name, "\3Web\5MyNet", 11);
}

static void names_with_other_bytes_are_not_looked_up(void **state)
{
	struct dns_query q;
	struct msg m;
	char text[256];

	(void)state;
	query(&m, "we b.net", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_text(&q.q, text, sizeof(text)), -EINVAL);
	header(&m, 1, 0, 1, 0, 0, 0);
	put8(&m, 3);
	put8(&m, 'a');
	put8(&m, 0); /* a NUL inside a label */
	put8(&m, 'b');
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_text(&q.q, text, sizeof(text)), -EINVAL);
	query(&m, "", DNS_TYPE_A); /* the root */
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_text(&q.q, text, sizeof(text)), -EINVAL);
	query(&m, "abc.def", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_text(&q.q, text, 5), -ENOBUFS);
}

static void reverse_names_give_their_address(void **state)
{
	struct dns_query q;
	struct in_addr a;
	struct msg m;

	(void)state;
	query(&m, "4.3.2.10.IN-ADDR.arpa", DNS_TYPE_PTR);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_ptr_addr(&q.q, &a), 0);
	assert_int_equal(a.s_addr, inet_addr("10.2.3.4"));
	const char *bad[] = {
		"3.2.10.in-addr.arpa",	     "04.3.2.10.in-addr.arpa",
		"256.3.2.10.in-addr.arpa",   "x.3.2.10.in-addr.arpa",
		"4.3.2.10.in-addr.arpa.com", "4.3.2.10.ip6.arpa",
		"5.4.3.2.10.in-addr.arpa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		query(&m, bad[i], DNS_TYPE_PTR);
		assert_int_equal(parse(&m, &q), 0);
		assert_int_equal(dns_name_ptr_addr(&q.q, &a), -EINVAL);
	}
}

static void responses_and_short_messages_are_dropped(void **state)
{
	struct dns_query q;
	struct msg m;

	(void)state;
	query(&m, "web", DNS_TYPE_A);
	assert_int_equal(dns_parse_query(m.b, 11, &q), -EPROTO);
	assert_int_equal(dns_parse_query(m.b, 0, &q), -EPROTO);
	m.b[2] |= 0x80; /* QR */
	assert_int_equal(parse(&m, &q), -EPROTO);
}

static void any_transfers_and_other_classes_are_refused(void **state)
{
	uint16_t types[] = {DNS_TYPE_ANY, DNS_TYPE_AXFR, DNS_TYPE_IXFR,
			    DNS_TYPE_MAILA, DNS_TYPE_MAILB};
	struct dns_query q;
	struct msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		query(&m, "web", types[i]);
		assert_int_equal(parse(&m, &q), DNS_RCODE_REFUSED);
		assert_true(q.has_question);
	}
	query(&m, "web", DNS_TYPE_A);
	m.b[m.n - 1] = 3; /* class CH */
	assert_int_equal(parse(&m, &q), DNS_RCODE_REFUSED);
}

static void other_opcodes_are_not_implemented(void **state)
{
	struct dns_query q;
	struct msg m;

	(void)state;
	query(&m, "web", DNS_TYPE_A);
	m.b[2] |= 5 << 3; /* UPDATE */
	assert_int_equal(parse(&m, &q), DNS_RCODE_NOTIMP);
	assert_int_equal(q.id, 0x1234);
}

static void malformed_queries_are_formerr(void **state)
{
	struct dns_query q;
	struct msg m;

	(void)state;
	/* No question, two questions, an answer record, an authority. */
	header(&m, 1, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	assert_false(q.has_question);
	query(&m, "web", DNS_TYPE_A);
	m.b[5] = 2;
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	query(&m, "web", DNS_TYPE_A);
	m.b[7] = 1;
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	query(&m, "web", DNS_TYPE_A);
	m.b[9] = 1;
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	/* Trailing bytes. */
	query(&m, "web", DNS_TYPE_A);
	put8(&m, 0);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	/* A question cut short. */
	query(&m, "web", DNS_TYPE_A);
	assert_int_equal(dns_parse_query(m.b, m.n - 1, &q), DNS_RCODE_FORMERR);
	/* An additional record that is not OPT, and two of them. */
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 1;
	name(&m, "x");
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	put32(&m, 0);
	put16(&m, 0);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 2;
	opt(&m, 1232, 0, false);
	opt(&m, 1232, 0, false);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	/* OPT as the question's type. */
	query(&m, "web", DNS_TYPE_OPT);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
}

static void labels_over_63_and_names_over_255_are_formerr(void **state)
{
	char label[70], longname[400];
	struct dns_query q;
	struct msg m;

	(void)state;
	memset(label, 'a', 64);
	label[64] = 0;
	query(&m, label, DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	label[63] = 0;
	query(&m, label, DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	/* 4 labels of 63: 257 bytes with the root, too many. */
	snprintf(longname, sizeof(longname), "%s.%s.%s.%s", label, label, label,
		 label);
	query(&m, longname, DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	/* 3 of 63 and one of 61: 255, the most. */
	label[61] = 0;
	snprintf(longname, sizeof(longname), "%.63s.%.63s.%.63s.%s",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaa",
		 label);
	query(&m, longname, DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(q.q.name_len, 255);
	/* The label types 01 and 10. */
	header(&m, 1, 0, 1, 0, 0, 0);
	put8(&m, 0x41);
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
}

static void compression_pointers_are_followed_backwards_only(void **state)
{
	struct dns_query q;
	struct msg m;
	char text[256];

	(void)state;
	/* "www" then a pointer to offset 10 (ARCOUNT's two zero bytes: the
	 * root): a valid name "www". */
	header(&m, 1, 0, 1, 0, 0, 0);
	name(&m, "");
	m.n--;
	put8(&m, 3);
	put8(&m, 'w');
	put8(&m, 'w');
	put8(&m, 'w');
	put16(&m, 0xc00a);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(dns_name_text(&q.q, text, sizeof(text)), 3);
	assert_string_equal(text, "www");

	/* A pointer to itself. */
	header(&m, 1, 0, 1, 0, 0, 0);
	put16(&m, 0xc00c);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);

	/* A label, then a pointer back to that label: a loop. */
	header(&m, 1, 0, 1, 0, 0, 0);
	put8(&m, 1);
	put8(&m, 'a');
	put16(&m, 0xc00c);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);

	/* A pointer forward, and one past the end. */
	header(&m, 1, 0, 1, 0, 0, 0);
	put16(&m, 0xc00e);
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	header(&m, 1, 0, 1, 0, 0, 0);
	put16(&m, 0xffff);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);

	/* A pointer into the header whose bytes (the id, 0xc00c) point
	 * back at the question: 12 -> 0 -> 12. */
	header(&m, 0xc00c, 0, 1, 0, 0, 0);
	put16(&m, 0xc000);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
}

static void edns_keeps_the_payload_size_and_refuses_new_versions(void **state)
{
	struct dns_query q;
	struct msg m;

	(void)state;
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 1400, 0, true);
	assert_int_equal(parse(&m, &q), 0);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.udp_limit, 1400);
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 100, 0, false);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(q.udp_limit, 512);
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 65000, 0, false);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(q.udp_limit, DNS_UDP_MAX);
	query(&m, "web", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 1232, 1, false);
	assert_int_equal(parse(&m, &q), DNS_RCODE_BADVERS);

	/* BADVERS goes in the OPT record: header rcode 0, extended 1. */
	uint8_t out[512];
	struct dns_reply rep = {.rcode = DNS_RCODE_BADVERS};
	int n = dns_build_reply(&q, &rep, 512, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(out[3] & 0xf, 0);
	assert_int_equal(out[11], 1);	 /* ARCOUNT */
	assert_int_equal(out[n - 6], 1); /* extended rcode */
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void answers_carry_every_address_with_ttl_600(void **state)
{
	struct in_addr a[3];
	struct dns_query q;
	struct dns_response resp;
	uint8_t out[512];
	struct msg m;
	int n;

	(void)state;
	for (int i = 0; i < 3; i++)
		a[i].s_addr = htonl(0x0a000002 + (uint32_t)i);
	query(&m, "Tasks.Web", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	struct dns_reply rep = {.aa = true, .a = a, .n_a = 3, .ttl = 600};
	n = dns_build_reply(&q, &rep, q.udp_limit, out, sizeof(out));
	assert_int_equal(n, (int)m.n + 3 * 16);
	assert_int_equal(dns_parse_response(out, (size_t)n, &q.q, &resp), 0);
	assert_int_equal(resp.id, 0x1234);
	assert_int_equal(resp.rcode, 0);
	assert_false(resp.tc);
	assert_int_equal(get16(out + 2),
			 DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD | DNS_FLAG_RA);
	assert_int_equal(get16(out + 6), 3);
	/* The question echoed as asked, then the first record. */
	assert_memory_equal(out + 12, m.b + 12, m.n - 12);
	const uint8_t *rr = out + m.n;
	assert_int_equal(get16(rr), 0xc00c);
	assert_int_equal(get16(rr + 2), DNS_TYPE_A);
	assert_int_equal(get16(rr + 4), DNS_CLASS_IN);
	assert_int_equal(get16(rr + 6) << 16 | get16(rr + 8), 600);
	assert_int_equal(get16(rr + 10), 4);
	assert_memory_equal(rr + 12, &a[0].s_addr, 4);
	assert_memory_equal(rr + 16 + 12, &a[1].s_addr, 4);
}

static void large_answers_are_truncated_with_tc(void **state)
{
	struct in_addr a[64];
	struct dns_query q;
	struct dns_response resp;
	uint8_t out[4096];
	struct msg m;
	int n, fit;

	(void)state;
	for (int i = 0; i < 64; i++)
		a[i].s_addr = htonl(0x0a000100 + (uint32_t)i);
	query(&m, "tasks.web", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	struct dns_reply rep = {.a = a, .n_a = 64, .ttl = 600};
	n = dns_build_reply(&q, &rep, q.udp_limit, out, sizeof(out));
	fit = (int)(512 - m.n) / 16;
	assert_int_equal(n, (int)m.n + fit * 16);
	assert_true(n <= 512);
	assert_int_equal(get16(out + 6), fit);
	assert_true(get16(out + 2) & DNS_FLAG_TC);
	assert_int_equal(dns_parse_response(out, (size_t)n, &q.q, &resp), 0);
	assert_true(resp.tc);
	/* Over TCP (a large limit) everything fits, no TC. */
	n = dns_build_reply(&q, &rep, DNS_MAX_MSG, out, sizeof(out));
	assert_int_equal(n, (int)m.n + 64 * 16);
	assert_false(get16(out + 2) & DNS_FLAG_TC);
	/* With EDNS the OPT record always fits and is counted. */
	query(&m, "tasks.web", DNS_TYPE_A);
	m.b[11] = 1;
	opt(&m, 600, 0, false);
	assert_int_equal(parse(&m, &q), 0);
	n = dns_build_reply(&q, &rep, q.udp_limit, out, sizeof(out));
	assert_true(n <= 600);
	assert_true(get16(out + 2) & DNS_FLAG_TC);
	assert_int_equal(get16(out + 10), 1);
	assert_int_equal(dns_parse_response(out, (size_t)n, &q.q, &resp), 0);
	/* A forced TC answer has no records. */
	struct dns_reply tc = {.tc = true};
	n = dns_build_reply(&q, &tc, q.udp_limit, out, sizeof(out));
	assert_true(get16(out + 2) & DNS_FLAG_TC);
	assert_int_equal(get16(out + 6), 0);
}

static void error_answers_carry_their_rcode(void **state)
{
	int codes[] = {DNS_RCODE_NXDOMAIN, DNS_RCODE_SERVFAIL,
		       DNS_RCODE_REFUSED, DNS_RCODE_FORMERR, DNS_RCODE_NOERROR};
	struct dns_query q;
	uint8_t out[512];
	struct msg m;

	(void)state;
	query(&m, "nope", DNS_TYPE_AAAA);
	assert_int_equal(parse(&m, &q), 0);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct dns_reply rep = {.rcode = codes[i]};
		int n = dns_build_reply(&q, &rep, 512, out, sizeof(out));

		assert_int_equal(n, (int)m.n);
		assert_int_equal(out[3] & 0xf, codes[i]);
		assert_int_equal(get16(out + 6), 0);
	}
	/* Without a question: the header alone. */
	header(&m, 7, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), DNS_RCODE_FORMERR);
	struct dns_reply rep = {.rcode = DNS_RCODE_FORMERR};
	assert_int_equal(dns_build_reply(&q, &rep, 512, out, sizeof(out)), 12);
	assert_int_equal(get16(out), 7);
	assert_int_equal(get16(out + 4), 0);
	/* BADVERS needs EDNS. */
	rep.rcode = DNS_RCODE_BADVERS;
	assert_int_equal(dns_build_reply(&q, &rep, 512, out, sizeof(out)),
			 -EINVAL);
}

static void ptr_answers_encode_the_name(void **state)
{
	struct dns_query q;
	struct dns_response resp;
	uint8_t out[512];
	struct msg m;
	int n;

	(void)state;
	query(&m, "2.0.0.10.in-addr.arpa", DNS_TYPE_PTR);
	assert_int_equal(parse(&m, &q), 0);
	struct dns_reply rep = {.ptr = "web.mynet", .ttl = 600};
	n = dns_build_reply(&q, &rep, 512, out, sizeof(out));
	assert_int_equal(n, (int)m.n + 12 + 11);
	assert_memory_equal(out + m.n + 12, "\3web\5mynet", 11);
	assert_int_equal(dns_parse_response(out, (size_t)n, &q.q, &resp), 0);
	const char *bad[] = {"", "a..b", "a b", "web.", NULL};
	for (int i = 0; bad[i]; i++) {
		rep.ptr = bad[i];
		assert_int_equal(
			dns_build_reply(&q, &rep, 512, out, sizeof(out)),
			-EINVAL);
	}
}

static void forwarded_queries_carry_our_id_and_the_clients_edns(void **state)
{
	struct dns_query q, back;
	uint8_t out[512];
	struct msg m;
	int n;

	(void)state;
	query(&m, "example.com", DNS_TYPE_MX);
	assert_int_equal(parse(&m, &q), 0);
	n = dns_build_forward(&q, 0xbeef, out, sizeof(out));
	assert_int_equal(n, (int)m.n);
	assert_int_equal(dns_parse_query(out, (size_t)n, &back), 0);
	assert_int_equal(back.id, 0xbeef);
	assert_int_equal(back.flags, DNS_FLAG_RD);
	assert_false(back.edns);
	query(&m, "example.com", DNS_TYPE_MX);
	m.b[11] = 1;
	opt(&m, 4000, 0, true);
	assert_int_equal(parse(&m, &q), 0);
	n = dns_build_forward(&q, 1, out, sizeof(out));
	assert_int_equal(dns_parse_query(out, (size_t)n, &back), 0);
	assert_true(back.edns && back.edns_do);
	assert_int_equal(back.udp_limit, DNS_EDNS_PAYLOAD);
	assert_int_equal(dns_build_forward(&q, 1, out, 20), -ENOBUFS);
}

/* An upstream answer: question, one A record. */
static void answer(struct msg *m, const char *qname, uint16_t flags)
{
	header(m, 0x4242, DNS_FLAG_QR | flags, 1, 1, 0, 0);
	name(m, qname);
	put16(m, DNS_TYPE_A);
	put16(m, DNS_CLASS_IN);
	put16(m, 0xc00c);
	put16(m, DNS_TYPE_A);
	put16(m, DNS_CLASS_IN);
	put32(m, 30);
	put16(m, 4);
	put32(m, 0xc0000201);
}

static void upstream_answers_are_checked_before_relay(void **state)
{
	struct dns_response resp;
	struct dns_query q;
	struct msg m, a;

	(void)state;
	query(&m, "example.com", DNS_TYPE_A);
	assert_int_equal(parse(&m, &q), 0);
	answer(&a, "EXAMPLE.com", 0);
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), 0);
	assert_int_equal(resp.id, 0x4242);
	/* Another name, another type, not a response. */
	answer(&a, "example.org", 0);
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	answer(&a, "example.com", 0);
	a.b[a.n - 19] = DNS_TYPE_MX; /* the question's type, low byte */
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	answer(&a, "example.com", 0);
	a.b[2] &= 0x7f;
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	/* A record cut short, a count that lies, trailing bytes. */
	answer(&a, "example.com", 0);
	assert_int_equal(dns_parse_response(a.b, a.n - 1, &q.q, &resp),
			 -EPROTO);
	answer(&a, "example.com", 0);
	a.b[7] = 2;
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	answer(&a, "example.com", 0);
	put8(&a, 0);
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	/* A record whose owner points at itself. */
	answer(&a, "example.com", 0);
	a.b[a.n - 16] = 0xc0;
	a.b[a.n - 15] = (uint8_t)(a.n - 16);
	assert_int_equal(dns_parse_response(a.b, a.n, &q.q, &resp), -EPROTO);
	/* TC: checked up to the question only. */
	answer(&a, "example.com", DNS_FLAG_TC);
	assert_int_equal(dns_parse_response(a.b, a.n - 5, &q.q, &resp), 0);
	assert_true(resp.tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			parses_a_query_and_gives_its_name_in_lower_case),
		cmocka_unit_test(names_with_other_bytes_are_not_looked_up),
		cmocka_unit_test(reverse_names_give_their_address),
		cmocka_unit_test(responses_and_short_messages_are_dropped),
		cmocka_unit_test(any_transfers_and_other_classes_are_refused),
		cmocka_unit_test(other_opcodes_are_not_implemented),
		cmocka_unit_test(malformed_queries_are_formerr),
		cmocka_unit_test(labels_over_63_and_names_over_255_are_formerr),
		cmocka_unit_test(
			compression_pointers_are_followed_backwards_only),
		cmocka_unit_test(
			edns_keeps_the_payload_size_and_refuses_new_versions),
		cmocka_unit_test(answers_carry_every_address_with_ttl_600),
		cmocka_unit_test(large_answers_are_truncated_with_tc),
		cmocka_unit_test(error_answers_carry_their_rcode),
		cmocka_unit_test(ptr_answers_encode_the_name),
		cmocka_unit_test(
			forwarded_queries_carry_our_id_and_the_clients_edns),
		cmocka_unit_test(upstream_answers_are_checked_before_relay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
