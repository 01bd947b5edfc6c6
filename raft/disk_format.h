/*
 * On-disk format of the raft disk log (internal to raft/; see
 * docs/raft-disk.md). Everything is little-endian and 8-byte aligned.
 *
 * A segment file "seg-<first index, 20 digits>" starts with a 32-byte
 * header (magic, version, first index, CRC32C) followed by records. A
 * record is a 32-byte header (magic, payload length, index, term, entry
 * type, CRC32C over the first 28 header bytes and the payload) and the
 * payload padded with zeros to a multiple of 8. Two kinds of record:
 * entries, and commit marks written at the end of every fsync batch, whose
 * index and term repeat those of the last entry before them.
 *
 * disk__scan() walks a segment held in memory and says where the valid
 * records end, where the last commit mark ends, and whether any valid mark
 * lies beyond a damaged record: that is what separates a torn tail (never
 * acknowledged, safe to cut) from corruption inside the acknowledged log.
 */
#ifndef SHOAL_RAFT_DISK_FORMAT_H
#define SHOAL_RAFT_DISK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_SEG_MAGIC 0x4745534c414f4853ull /* "SHOALSEG" */
#define DISK_SEG_VERSION 1u
#define DISK_SEG_HDR 32u
#define DISK_REC_HDR 32u
#define DISK_REC_ENTRY 0x45524853u /* "SHRE" */
#define DISK_REC_MARK 0x4d524853u  /* "SHRM" */
/* Largest entry payload the log accepts or believes when reading. */
#define DISK_MAX_ENTRY (256u << 20)

static inline uint64_t disk__pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/** Bytes a record with a payload of @len takes on disk. */
static inline uint64_t disk__rec_size(uint32_t len)
{
	return DISK_REC_HDR + disk__pad8(len);
}

struct disk_rec {
	uint32_t magic;
	uint32_t len;
	uint64_t index;
	uint64_t term;
	uint32_t type;
	uint32_t crc;
};

/** disk__seg_header() - the 32 header bytes of a segment starting at @first. */
void disk__seg_header(uint8_t out[DISK_SEG_HDR], uint64_t first);

/**
 * disk__rec_encode() - write a record (header, payload, zero padding) into
 * @out, which has room for disk__rec_size(@len) bytes.
 */
void disk__rec_encode(uint8_t *out, uint32_t magic, uint64_t index,
		      uint64_t term, uint32_t type, const void *payload,
		      uint32_t len);

/** disk__rec_decode_hdr() - parse 32 header bytes (no checks). */
void disk__rec_decode_hdr(const uint8_t *p, struct disk_rec *r);

/** disk__rec_crc() - the CRC a record with this header and payload has. */
uint32_t disk__rec_crc(const uint8_t *hdr, const void *payload, uint32_t len);

enum disk_stop {
	DISK_STOP_NONE,	      /* every byte was a valid record */
	DISK_STOP_SHORT,      /* the file ends inside a record */
	DISK_STOP_ZERO,	      /* zeros where a record should start */
	DISK_STOP_BAD_MAGIC,  /* not a record header */
	DISK_STOP_BAD_CRC,    /* checksum mismatch */
	DISK_STOP_BAD_SEQ,    /* index or term out of sequence */
	DISK_STOP_BAD_HEADER, /* the segment header is invalid */
};

struct disk_scan {
	uint64_t first;	      /* from the header */
	uint64_t last;	      /* last valid entry; first - 1 if none */
	uint64_t last_term;   /* its term; 0 if none */
	uint64_t mark_last;   /* last entry covered by a commit mark */
	uint64_t mark_term;   /* its term */
	uint64_t mark_end;    /* offset after the last mark (or the header) */
	uint64_t valid_end;   /* offset after the last valid record */
	enum disk_stop stop;  /* why scanning stopped before the end */
	uint64_t stop_off;    /* where */
	bool mark_after_stop; /* a valid mark lies past the damage */
	uint64_t mark_after_off;
};

/* Called for each valid entry, in order; non-zero stops the scan with it. */
typedef int disk_scan_fn(void *arg, uint64_t index, uint64_t term,
			 uint64_t off);

/**
 * disk__scan() - walk the segment in @buf (@len bytes). @expect_first is
 * the first index the file name promises (0: take the header's). Fills
 * @out; returns 0, or what @fn returned. Never reads outside @buf.
 */
int disk__scan(const uint8_t *buf, uint64_t len, uint64_t expect_first,
	       struct disk_scan *out, disk_scan_fn *fn, void *arg);

/** disk__stop_text() - a short reason for a log line. */
const char *disk__stop_text(enum disk_stop stop);

#endif
