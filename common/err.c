#include "common/err.h"

const char *tip_strerror(int err)
{
	switch (err) {
	case TIP_OK: return "success";
	case TIP_ENOMEM: return "out of memory";
	case TIP_EIO: return "input/output error";
	case TIP_EINVAL: return "invalid argument";
	case TIP_ETRUNCATED: return "truncated input";
	case TIP_EOVERSIZE: return "input exceeds its size limit";
	case TIP_EVERSION: return "unsupported version";
	case TIP_EDECODE: return "malformed encoding";
	case TIP_ECRYPTO: return "cryptographic library failure";
	case TIP_EVERIFY: return "verification failed";
	case TIP_ECORRUPT: return "checksum mismatch in stored data";
	case TIP_EBUSY: return "resource is locked by another process";
	case TIP_ENOTFOUND: return "not found";
	case TIP_EFORMAT: return "unexpected format";
	case TIP_EFULL: return "capacity limit reached";
	case TIP_ERANGE: return "value outside its allowed set";
	}
	return "unknown error";
}
