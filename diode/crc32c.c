#include "diode/crc32c.h"

#include <isa-l/crc.h>

/* ISA-L takes an int length, so long inputs go through in slices well below INT_MAX. */
#define CRC_SLICE ((size_t)1 << 30)

uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	/* ISA-L works on the raw register, without the standard pre- and post-inversion. */
	unsigned int reg = crc ^ 0xffffffffu;
	/* ISA-L's prototype lacks const; it only reads. */
	unsigned char *p = (unsigned char *)(uintptr_t)buf;

	while (len > 0) {
		size_t n = len < CRC_SLICE ? len : CRC_SLICE;

		reg = crc32_iscsi(p, (int)n, reg);
		p += n;
		len -= n;
	}
	return reg ^ 0xffffffffu;
}

uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_extend(0, buf, len);
}
