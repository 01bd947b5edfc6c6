/*
 * Encoding and scanning of the disk log's segment records (the format is
 * described in disk_format.h and docs/raft-disk.md). Pure functions over
 * memory: no I/O, so the fuzz target drives disk__scan() directly and the
 * open path runs it over an mmap of each segment.
 *
 * Invariants a valid segment holds, and disk__scan() checks: entry indexes
 * increase by exactly one from the header's first index; terms never
 * decrease; a mark repeats the index and term of the entry before it.
 */
#include "raft/disk_format.h"
#include "common/bytes.h"

#include <endian.h>
#include <string.h>

#include "raft/disk_crc.h"

void disk__seg_header(uint8_t out[DISK_SEG_HDR], uint64_t first)
{
	memset(out, 0, DISK_SEG_HDR);
	put_le64(out, DISK_SEG_MAGIC);
	put_le32(out + 8, DISK_SEG_VERSION);
	put_le64(out + 16, first);
	put_le32(out + 28, disk__crc32c(0, out, 28));
}

static bool seg_header_ok(const uint8_t *p, uint64_t *first)
{
	if (get_le64(p) != DISK_SEG_MAGIC ||
	    get_le32(p + 8) != DISK_SEG_VERSION)
		return false;
	if (get_le32(p + 28) != disk__crc32c(0, p, 28))
		return false;
	*first = get_le64(p + 16);
	return *first > 0;
}

uint32_t disk__rec_crc(const uint8_t *hdr, const void *payload, uint32_t len)
{
	uint32_t crc = disk__crc32c(0, hdr, 28);
	return disk__crc32c(crc, payload, len);
}

void disk__rec_encode(uint8_t *out, uint32_t magic, uint64_t index,
		      uint64_t term, uint32_t type, const void *payload,
		      uint32_t len)
{
	put_le32(out, magic);
	put_le32(out + 4, len);
	put_le64(out + 8, index);
	put_le64(out + 16, term);
	put_le32(out + 24, type);
	if (len)
		memcpy(out + DISK_REC_HDR, payload, len);
	memset(out + DISK_REC_HDR + len, 0, disk__pad8(len) - len);
	put_le32(out + 28, disk__rec_crc(out, out + DISK_REC_HDR, len));
}

void disk__rec_decode_hdr(const uint8_t *p, struct disk_rec *r)
{
	r->magic = get_le32(p);
	r->len = get_le32(p + 4);
	r->index = get_le64(p + 8);
	r->term = get_le64(p + 16);
	r->type = get_le32(p + 24);
	r->crc = get_le32(p + 28);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A valid commit mark anywhere at or past @from (8-byte aligned)? */
static bool find_mark(const uint8_t *buf, uint64_t len, uint64_t from,
		      uint64_t *at)
{
	for (uint64_t off = disk__pad8(from); off + DISK_REC_HDR <= len;
	     off += 8) {
		if (get_le32(buf + off) != DISK_REC_MARK ||
		    get_le32(buf + off + 4))
			continue;
		if (get_le32(buf + off + 28) ==
		    disk__rec_crc(buf + off, NULL, 0)) {
			*at = off;
			return true;
		}
	}
	return false;
}

/* Check one record at @off; returns a stop reason or DISK_STOP_NONE. */
static enum disk_stop check_rec(const uint8_t *buf, uint64_t len, uint64_t off,
				const struct disk_scan *s, struct disk_rec *r)
{
	if (len - off < DISK_REC_HDR)
		return all_zero(buf + off, len - off) ? DISK_STOP_ZERO
						      : DISK_STOP_SHORT;
	disk__rec_decode_hdr(buf + off, r);
	if (r->magic == 0 && all_zero(buf + off, DISK_REC_HDR))
		return DISK_STOP_ZERO;
	if (r->magic != DISK_REC_ENTRY && r->magic != DISK_REC_MARK)
		return DISK_STOP_BAD_MAGIC;
	if (r->len > DISK_MAX_ENTRY || (r->magic == DISK_REC_MARK && r->len))
		return DISK_STOP_BAD_MAGIC;
	if (disk__rec_size(r->len) > len - off)
		return DISK_STOP_SHORT;
	if (r->crc !=
	    disk__rec_crc(buf + off, buf + off + DISK_REC_HDR, r->len))
		return DISK_STOP_BAD_CRC;
	if (r->magic == DISK_REC_MARK)
		return r->index == s->last && r->term == s->last_term
			       ? DISK_STOP_NONE
			       : DISK_STOP_BAD_SEQ;
	if (r->index != s->last + 1 || r->term < s->last_term || r->term == 0)
		return DISK_STOP_BAD_SEQ;
	return DISK_STOP_NONE;
}

int disk__scan(const uint8_t *buf, uint64_t len, uint64_t expect_first,
	       struct disk_scan *s, disk_scan_fn *fn, void *arg)
{
	uint64_t first = 0;
	memset(s, 0, sizeof(*s));
	if (len < DISK_SEG_HDR || !seg_header_ok(buf, &first) ||
	    (expect_first && first != expect_first) || first == UINT64_MAX) {
		s->stop = len < DISK_SEG_HDR ? DISK_STOP_SHORT
					     : DISK_STOP_BAD_HEADER;
		s->first = expect_first;
		s->last = expect_first ? expect_first - 1 : 0;
		s->mark_last = s->last;
		s->mark_after_stop =
			find_mark(buf, len, DISK_SEG_HDR, &s->mark_after_off);
		return 0;
	}
	s->first = first;
	s->last = s->mark_last = first - 1;
	s->mark_end = s->valid_end = DISK_SEG_HDR;
	uint64_t off = DISK_SEG_HDR;
	while (off < len) {
		struct disk_rec r;
		enum disk_stop why = check_rec(buf, len, off, s, &r);
		if (why != DISK_STOP_NONE) {
			s->stop = why;
			s->stop_off = off;
			s->mark_after_stop = find_mark(buf, len, off + 8,
						       &s->mark_after_off);
			return 0;
		}
		off += disk__rec_size(r.len);
		s->valid_end = off;
		if (r.magic == DISK_REC_MARK) {
			s->mark_end = off;
			s->mark_last = s->last;
			s->mark_term = s->last_term;
			continue;
		}
		s->last = r.index;
		s->last_term = r.term;
		if (fn) {
			int rc = fn(arg, r.index, r.term,
				    off - disk__rec_size(r.len));
			if (rc)
				return rc;
		}
	}
	return 0;
}

const char *disk__stop_text(enum disk_stop stop)
{
	switch (stop) {
	case DISK_STOP_NONE:
		return "clean end";
	case DISK_STOP_SHORT:
		return "record cut short";
	case DISK_STOP_ZERO:
		return "zeroed record";
	case DISK_STOP_BAD_MAGIC:
		return "not a record header";
	case DISK_STOP_BAD_CRC:
		return "checksum mismatch";
	case DISK_STOP_BAD_SEQ:
		return "index or term out of sequence";
	case DISK_STOP_BAD_HEADER:
		return "invalid segment header";
	}
	return "unknown";
}
