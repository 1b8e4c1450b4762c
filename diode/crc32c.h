/*
 * CRC32C (Castagnoli, the iSCSI polynomial) over byte strings, for the spool's frames and the
 * diode's datagram framing. Values are the standard CRC32C: crc32c("123456789", 9) == 0xe3069283.
 * Runs on ISA-L, which picks the hardware CRC instructions when the CPU has them.
 */
#ifndef TIP_DIODE_CRC32C_H
#define TIP_DIODE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..len). buf may be NULL when len is 0. */
uint32_t crc32c(const void *buf, size_t len);

/*
 * Continues a CRC32C: crc32c_extend(crc32c(a, n), b, m) equals the CRC32C of a || b, and
 * crc32c_extend(0, b, m) equals crc32c(b, m).
 */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

#endif
