/*
 * The DNS message codec of the embedded resolver (RFC 1035 section 4, EDNS0
 * of RFC 6891, truncation of RFC 2181 section 9). Pure: no I/O, no
 * allocation, no clock; every function works on caller buffers.
 *
 * What it reads comes from outside (a container's query, an upstream
 * server's answer), so every read is bounded by the message length, names
 * are at most 255 bytes on the wire with labels of at most 63, compression
 * pointers must point strictly before the previous one (so they cannot loop)
 * and trailing bytes are refused. Queries are parsed strictly: one question,
 * no answer or authority records, at most an OPT record in the additional
 * section.
 *
 * Internal to overlay-net (the resolver and its tests); not a public header
 * of the module.
 */
#ifndef SHOAL_OVERLAY_NET_DNS_H
#define SHOAL_OVERLAY_NET_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255 /* on the wire, the root's zero byte included */
#define DNS_MAX_LABEL 63
#define DNS_MAX_MSG 65535
#define DNS_UDP_MIN 512	      /* the limit of a client without EDNS */
#define DNS_UDP_MAX 4096      /* the most we honour of a client's EDNS size */
#define DNS_EDNS_PAYLOAD 1232 /* what we advertise (DNS flag day 2020) */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_MAILB = 253,
	DNS_TYPE_MAILA = 254,
	DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16, /* extended, carried in the OPT record */
};

/* Header flag bits (the second 16-bit word). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags)&0xf)

struct dns_question {
	/* The name uncompressed, in wire form, case as received. */
	uint8_t name[DNS_MAX_NAME];
	size_t name_len;
	uint16_t qtype;
	uint16_t qclass;
};

struct dns_query {
	uint16_t id;
	uint16_t flags; /* as received */
	bool has_question;
	struct dns_question q;
	bool edns;	    /* an OPT record was present */
	uint16_t udp_limit; /* answer size limit over UDP: 512..DNS_UDP_MAX */
	bool edns_do;	    /* the DNSSEC OK bit of the OPT record */
};

/**
 * dns_parse_query() - parse a query from a client, strictly.
 *
 * Returns 0 when @q holds a query to answer; -EPROTO when the message must
 * be dropped without an answer (shorter than a header, or a response: never
 * answer those, or two resolvers could ping-pong); or a positive rcode to
 * answer with (FORMERR for a malformed message, NOTIMP for an opcode other
 * than QUERY, REFUSED for a class other than IN or for ANY, AXFR, IXFR,
 * MAILA and MAILB, BADVERS for EDNS versions above 0). With a positive
 * return, @q's id and flags are set, and has_question says whether the
 * question could be read (then it is echoed in the answer).
 */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/**
 * dns_name_text() - the question's name as lookup text: labels joined by
 * dots, lower case, no trailing dot. Returns the length, or -EINVAL when
 * a label holds a byte other than [A-Za-z0-9_-] or the name is the root
 * (such names are never ours), -ENOBUFS when @cap is too small (256 is
 * always enough).
 */
int dns_name_text(const struct dns_question *q, char *out, size_t cap);

/**
 * dns_name_ptr_addr() - the IPv4 address of a reverse name
 * "d.c.b.a.in-addr.arpa" (any case), in network byte order. Returns 0, or
 * -EINVAL for any other name (fewer octets, leading zeros, values over 255).
 */
int dns_name_ptr_addr(const struct dns_question *q, struct in_addr *out);

/** dns_name_equal() - wire names equal, ASCII case ignored. */
bool dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen);

struct dns_reply {
	int rcode;		 /* enum dns_rcode */
	bool aa;		 /* authoritative (our own names) */
	bool tc;		 /* force the TC bit, no records */
	const struct in_addr *a; /* A records, in this order */
	size_t n_a;
	const char *ptr; /* a PTR record's target text, or NULL */
	uint32_t ttl;
};

/**
 * dns_build_reply() - encode the answer to @q in @out (@cap bytes). The
 * answer echoes the question (when @q has one), copies RD and CD, sets RA,
 * and carries an OPT record when the query did. At most @limit bytes are
 * used: records that do not fit are left out and TC is set.
 *
 * Returns the length; -EINVAL when rep->ptr is not a valid name or the rcode
 * is out of range; -ENOBUFS when even the header and question exceed @limit
 * or @cap.
 */
int dns_build_reply(const struct dns_query *q, const struct dns_reply *rep,
		    size_t limit, uint8_t *out, size_t cap);

/**
 * dns_build_forward() - the query to send upstream for @q: a fresh header
 * with @id, the client's RD and CD bits, the question as received, and an
 * OPT record advertising DNS_EDNS_PAYLOAD (with the client's DO bit) when
 * the client used EDNS. Returns the length or -ENOBUFS.
 */
int dns_build_forward(const struct dns_query *q, uint16_t id, uint8_t *out,
		      size_t cap);

struct dns_response {
	uint16_t id;
	uint16_t flags;
	int rcode; /* DNS_RCODE() of flags (extended rcode not merged) */
	bool tc;
};

/**
 * dns_parse_response() - check an upstream server's answer to the question
 * @expect: a response (QR), opcode QUERY, exactly the question asked (name
 * compared without case, type, class), and every record of the answer,
 * authority and additional sections within bounds, with no trailing bytes.
 * A truncated answer (TC) is checked only up to its question. The id is
 * returned in @out, not checked.
 *
 * Returns 0, or -EPROTO for anything else (the answer is then ignored).
 */
int dns_parse_response(const uint8_t *msg, size_t len,
		       const struct dns_question *expect,
		       struct dns_response *out);

#endif
