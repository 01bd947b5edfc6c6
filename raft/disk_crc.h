/*
 * CRC32C (Castagnoli, the polynomial of iSCSI and ext4's metadata) for the
 * disk log. Internal to raft/: every record and every file header the disk
 * log writes carries one. The SSE4.2 instruction is used when the CPU has
 * it (about 8 bytes per cycle); otherwise a table, byte at a time.
 */
#ifndef SHOAL_RAFT_DISK_CRC_H
#define SHOAL_RAFT_DISK_CRC_H

#include <stddef.h>
#include <stdint.h>

/**
 * disk__crc32c() - extend @crc (0 to start) over @len bytes at @p.
 * crc32c(a || b) == disk__crc32c(disk__crc32c(0, a), b). Thread-safe.
 */
uint32_t disk__crc32c(uint32_t crc, const void *p, size_t len);

#endif
