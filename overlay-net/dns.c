/*
 * DNS message codec (RFC 1035 section 4; EDNS0, RFC 6891; TC, RFC 2181
 * section 9). See dns.h for the contract.
 *
 * Reading is done through a cursor (msg, len, off) whose every step checks
 * the remaining length first. Names are read by read_name(), the one place
 * that follows compression pointers: a pointer must point strictly before
 * the previous pointer's target (or the name's first byte), so a chain of
 * pointers always moves backwards and ends; the uncompressed name may not
 * exceed 255 bytes nor a label 63, and the label types 01 and 10 (RFC 6891
 * section 5, obsolete) are refused.
 *
 * Writing goes through a bounded writer that records overflow instead of
 * writing past the end, so a builder checks once at the end.
 */
#include "overlay-net/dns.h"

#include <errno.h>
#include <string.h>

struct rd {
	const uint8_t *msg;
	size_t len;
	size_t off;
};

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (r->len - r->off < 2)
		return -EPROTO;
	*v = (uint16_t)(r->msg[r->off] << 8 | r->msg[r->off + 1]);
	r->off += 2;
	return 0;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
	uint16_t hi, lo;

	if (rd_u16(r, &hi) < 0 || rd_u16(r, &lo) < 0)
		return -EPROTO;
	*v = (uint32_t)hi << 16 | lo;
	return 0;
}

static int rd_skip(struct rd *r, size_t n)
{
	if (r->len - r->off < n)
		return -EPROTO;
	r->off += n;
	return 0;
}

/*
 * Read the name at r->off into @out (uncompressed wire form, DNS_MAX_NAME
 * bytes), leaving r->off after the name's bytes at that place (after the
 * first pointer, if any). @out may be NULL to only skip the name.
 */
static int read_name(struct rd *r, uint8_t *out, size_t *out_len)
{
	size_t pos = r->off, bound = r->off, wire = 0;
	bool jumped = false;

	for (;;) {
		uint8_t c;

		if (pos >= r->len)
			return -EPROTO;
		c = r->msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= r->len)
				return -EPROTO;
			ptr = (size_t)(c & 0x3f) << 8 | r->msg[pos + 1];
			if (ptr >= bound)
				return -EPROTO;
			if (!jumped)
				r->off = pos + 2;
			jumped = true;
			bound = ptr;
			pos = ptr;
			continue;
		}
		if (c & 0xc0)
			return -EPROTO;
		if (wire + 1 + c > DNS_MAX_NAME)
			return -EPROTO;
		if (c == 0) {
			if (out)
				out[wire] = 0;
			wire++;
			if (!jumped)
				r->off = pos + 1;
			break;
		}
		if (r->len - pos - 1 < c)
			return -EPROTO;
		if (out)
			memcpy(out + wire, r->msg + pos, 1 + (size_t)c);
		wire += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	if (out_len)
		*out_len = wire;
	return 0;
}

static int read_question(struct rd *r, struct dns_question *q)
{
	if (read_name(r, q->name, &q->name_len) < 0)
		return -EPROTO;
	if (rd_u16(r, &q->qtype) < 0 || rd_u16(r, &q->qclass) < 0)
		return -EPROTO;
	return 0;
}

/* The OPT pseudo-record (RFC 6891 section 6.1.2), its name already read. */
static int read_opt(struct rd *r, struct dns_query *q, int *rcode)
{
	uint16_t size, rdlen;
	uint32_t ttl;

	if (rd_u16(r, &size) < 0 || rd_u32(r, &ttl) < 0 ||
	    rd_u16(r, &rdlen) < 0 || rd_skip(r, rdlen) < 0)
		return -EPROTO;
	q->edns = true;
	if (size < DNS_UDP_MIN)
		size = DNS_UDP_MIN;
	q->udp_limit = size > DNS_UDP_MAX ? DNS_UDP_MAX : size;
	q->edns_do = (ttl & 0x8000) != 0;
	if (((ttl >> 16) & 0xff) != 0) /* version */
		*rcode = DNS_RCODE_BADVERS;
	return 0;
}

static bool refused_type(uint16_t t)
{
	return t == DNS_TYPE_ANY || t == DNS_TYPE_AXFR || t == DNS_TYPE_IXFR ||
	       t == DNS_TYPE_MAILA || t == DNS_TYPE_MAILB;
}

static int read_additional(struct rd *r, struct dns_query *q, int *rcode)
{
	uint8_t name[DNS_MAX_NAME];
	size_t name_len;
	uint16_t type;

	if (read_name(r, name, &name_len) < 0 || rd_u16(r, &type) < 0)
		return -EPROTO;
	if (type != DNS_TYPE_OPT || name_len != 1)
		return -EPROTO;
	return read_opt(r, q, rcode);
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	struct rd r = {msg, len, 0};
	uint16_t qd, an, ns, ar;
	int rcode = DNS_RCODE_NOERROR;

	memset(q, 0, sizeof(*q));
	q->udp_limit = DNS_UDP_MIN;
	if (len < DNS_HEADER_LEN)
		return -EPROTO;
	rd_u16(&r, &q->id);
	rd_u16(&r, &q->flags);
	if (q->flags & DNS_FLAG_QR)
		return -EPROTO;
	rd_u16(&r, &qd);
	rd_u16(&r, &an);
	rd_u16(&r, &ns);
	rd_u16(&r, &ar);
	if (len > DNS_MAX_MSG)
		return DNS_RCODE_FORMERR;
	if (DNS_OPCODE(q->flags) != 0)
		return DNS_RCODE_NOTIMP;
	if (qd != 1 || an != 0 || ns != 0 || ar > 1)
		return DNS_RCODE_FORMERR;
	if (read_question(&r, &q->q) < 0)
		return DNS_RCODE_FORMERR;
	q->has_question = true;
	if (ar == 1 && read_additional(&r, q, &rcode) < 0)
		return DNS_RCODE_FORMERR;
	if (r.off != len)
		return DNS_RCODE_FORMERR;
	if (rcode != DNS_RCODE_NOERROR)
		return rcode;
	if (q->q.qtype == DNS_TYPE_OPT)
		return DNS_RCODE_FORMERR;
	if (q->q.qclass != DNS_CLASS_IN || refused_type(q->q.qtype))
		return DNS_RCODE_REFUSED;
	return 0;
}

static bool lookup_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 'a' - 'A') : c;
}

int dns_name_text(const struct dns_question *q, char *out, size_t cap)
{
	size_t pos = 0, n = 0;

	if (q->name_len <= 1)
		return -EINVAL;
	while (q->name[pos] != 0) {
		uint8_t l = q->name[pos++];

		if (n > 0) {
			if (n + 1 >= cap)
				return -ENOBUFS;
			out[n++] = '.';
		}
		for (uint8_t i = 0; i < l; i++, pos++) {
			if (!lookup_char(q->name[pos]))
				return -EINVAL;
			if (n + 1 >= cap)
				return -ENOBUFS;
			out[n++] = (char)lower(q->name[pos]);
		}
	}
	out[n] = 0;
	return (int)n;
}

static bool label_is(const uint8_t *label, const char *text)
{
	size_t n = strlen(text);

	if (label[0] != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(label[1 + i]) != (uint8_t)text[i])
			return false;
	return true;
}

int dns_name_ptr_addr(const struct dns_question *q, struct in_addr *out)
{
	uint8_t octets[4];
	size_t pos = 0;

	for (int i = 3; i >= 0; i--) {
		uint8_t l = q->name[pos];
		unsigned v = 0;

		if (l < 1 || l > 3 || (l > 1 && q->name[pos + 1] == '0'))
			return -EINVAL;
		for (uint8_t k = 1; k <= l; k++) {
			uint8_t c = q->name[pos + k];

			if (c < '0' || c > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(c - '0');
		}
		if (v > 255)
			return -EINVAL;
		octets[i] = (uint8_t)v;
		pos += 1 + (size_t)l;
	}
	if (!label_is(q->name + pos, "in-addr"))
		return -EINVAL;
	pos += 8;
	if (!label_is(q->name + pos, "arpa") || q->name[pos + 5] != 0)
		return -EINVAL;
	memcpy(&out->s_addr, octets, 4);
	return 0;
}

bool dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

struct wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

static void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	wr_bytes(w, b, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	wr_u16(w, (uint16_t)(v >> 16));
	wr_u16(w, (uint16_t)v);
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Text "a.b.c" (no trailing dot) to wire form; -EINVAL if not a name. */
static int text_to_wire(const char *text, uint8_t *out, size_t *out_len)
{
	size_t n = 0, start;

	if (*text == 0)
		return -EINVAL;
	for (const char *p = text;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > DNS_MAX_LABEL || n + 1 + l + 1 > DNS_MAX_NAME)
			return -EINVAL;
		start = n;
		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		for (size_t i = 0; i < l; i++)
			if (!lookup_char(out[start + 1 + i]))
				return -EINVAL;
		n += l;
		if (!dot)
			break;
		p = dot + 1;
	}
	out[n++] = 0;
	*out_len = n;
	return 0;
}

static void wr_opt(struct wr *w, int rcode, bool do_bit)
{
	wr_bytes(w, "", 1); /* root name */
	wr_u16(w, DNS_TYPE_OPT);
	wr_u16(w, DNS_EDNS_PAYLOAD);
	wr_u32(w,
	       (uint32_t)((rcode >> 4) & 0xff) << 24 | (do_bit ? 0x8000 : 0));
	wr_u16(w, 0);
}

static uint16_t reply_flags(const struct dns_query *q,
			    const struct dns_reply *rep)
{
	uint16_t f = DNS_FLAG_QR | DNS_FLAG_RA | (uint16_t)(rep->rcode & 0xf);

	f |= q->flags & (DNS_FLAG_RD | DNS_FLAG_CD);
	f |= q->flags & (0xf << 11); /* opcode echoed */
	if (rep->aa)
		f |= DNS_FLAG_AA;
	if (rep->tc)
		f |= DNS_FLAG_TC;
	return f;
}

int dns_build_reply(const struct dns_query *q, const struct dns_reply *rep,
		    size_t limit, uint8_t *out, size_t cap)
{
	struct wr w = {out, cap < limit ? cap : limit, 0, false};
	uint8_t ptr[DNS_MAX_NAME];
	size_t ptr_len = 0, opt_len = q->edns ? 11 : 0, rr, fit = 0;
	size_t n_rr = rep->n_a + (rep->ptr ? 1 : 0), an_at;

	if (rep->rcode < 0 || rep->rcode > 0xfff ||
	    (rep->rcode > 15 && !q->edns))
		return -EINVAL;
	if (rep->ptr && text_to_wire(rep->ptr, ptr, &ptr_len) < 0)
		return -EINVAL;
	if (rep->tc)
		n_rr = 0;
	wr_u16(&w, q->id);
	wr_u16(&w, reply_flags(q, rep));
	wr_u16(&w, q->has_question ? 1 : 0);
	an_at = w.len;
	wr_u16(&w, 0);
	wr_u16(&w, 0);
	wr_u16(&w, q->edns ? 1 : 0);
	if (q->has_question) {
		wr_bytes(&w, q->q.name, q->q.name_len);
		wr_u16(&w, q->q.qtype);
		wr_u16(&w, q->q.qclass);
	}
	if (w.overflow || w.cap - w.len < opt_len)
		return -ENOBUFS;
	/* Each record's owner is a pointer to the question's name (0xc00c). */
	for (size_t i = 0; i < n_rr; i++) {
		bool is_ptr = rep->ptr && i == rep->n_a;

		rr = 12 + (is_ptr ? ptr_len : 4);
		if (w.cap - w.len - opt_len < rr)
			break;
		wr_u16(&w, 0xc000 | DNS_HEADER_LEN);
		wr_u16(&w, is_ptr ? DNS_TYPE_PTR : DNS_TYPE_A);
		wr_u16(&w, DNS_CLASS_IN);
		wr_u32(&w, rep->ttl);
		wr_u16(&w, (uint16_t)(rr - 12));
		if (is_ptr)
			wr_bytes(&w, ptr, ptr_len);
		else
			wr_bytes(&w, &rep->a[i].s_addr, 4);
		fit++;
	}
	if (q->edns)
		wr_opt(&w, rep->rcode, q->edns_do);
	if (w.overflow)
		return -ENOBUFS;
	put_u16(out + an_at, (uint16_t)fit);
	if (fit < n_rr)
		put_u16(out + 2, reply_flags(q, rep) | DNS_FLAG_TC);
	return (int)w.len;
}

int dns_build_forward(const struct dns_query *q, uint16_t id, uint8_t *out,
		      size_t cap)
{
	struct wr w = {out, cap, 0, false};

	wr_u16(&w, id);
	wr_u16(&w, q->flags & (DNS_FLAG_RD | DNS_FLAG_CD));
	wr_u16(&w, 1);
	wr_u16(&w, 0);
	wr_u16(&w, 0);
	wr_u16(&w, q->edns ? 1 : 0);
	wr_bytes(&w, q->q.name, q->q.name_len);
	wr_u16(&w, q->q.qtype);
	wr_u16(&w, q->q.qclass);
	if (q->edns)
		wr_opt(&w, 0, q->edns_do);
	return w.overflow ? -ENOBUFS : (int)w.len;
}

static int skip_record(struct rd *r)
{
	uint16_t type, class, rdlen;
	uint32_t ttl;

	if (read_name(r, NULL, NULL) < 0 || rd_u16(r, &type) < 0 ||
	    rd_u16(r, &class) < 0 || rd_u32(r, &ttl) < 0 ||
	    rd_u16(r, &rdlen) < 0 || rd_skip(r, rdlen) < 0)
		return -EPROTO;
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len,
		       const struct dns_question *expect,
		       struct dns_response *out)
{
	struct rd r = {msg, len, 0};
	struct dns_question q;
	uint16_t qd, an, ns, ar;
	size_t records;

	if (len < DNS_HEADER_LEN || len > DNS_MAX_MSG)
		return -EPROTO;
	rd_u16(&r, &out->id);
	rd_u16(&r, &out->flags);
	rd_u16(&r, &qd);
	rd_u16(&r, &an);
	rd_u16(&r, &ns);
	rd_u16(&r, &ar);
	out->rcode = DNS_RCODE(out->flags);
	out->tc = (out->flags & DNS_FLAG_TC) != 0;
	if (!(out->flags & DNS_FLAG_QR) || DNS_OPCODE(out->flags) != 0 ||
	    qd != 1)
		return -EPROTO;
	if (read_question(&r, &q) < 0 || q.qtype != expect->qtype ||
	    q.qclass != expect->qclass ||
	    !dns_name_equal(q.name, q.name_len, expect->name, expect->name_len))
		return -EPROTO;
	if (out->tc)
		return 0;
	records = (size_t)an + ns + ar;
	for (size_t i = 0; i < records; i++)
		if (skip_record(&r) < 0)
			return -EPROTO;
	return r.off == len ? 0 : -EPROTO;
}
