/*
 * Typed error codes shared by every library module. Library functions return
 * TIP_OK (0) or a negative value from this list and never exit; daemons decide
 * what an error means for them.
 */
#ifndef TIP_COMMON_ERR_H
#define TIP_COMMON_ERR_H

enum tip_err {
	TIP_OK = 0,
	TIP_ENOMEM = -1,     /* allocation failed */
	TIP_EIO = -2,        /* a system call failed; errno says why */
	TIP_EINVAL = -3,     /* the caller passed something out of range */
	TIP_ETRUNCATED = -4, /* input ended before a whole object */
	TIP_EOVERSIZE = -5,  /* input longer than the configured cap */
	TIP_EVERSION = -6,   /* a version this build does not understand */
	TIP_EDECODE = -7,    /* malformed encoding */
	TIP_ECRYPTO = -8,    /* the crypto library failed (not a bad input) */
	TIP_EVERIFY = -9,    /* a signature, MAC or AEAD tag did not verify */
	TIP_ECORRUPT = -10,  /* stored data failed its checksum */
	TIP_EBUSY = -11,     /* held by another process (a lock) */
	TIP_ENOTFOUND = -12, /* no such key, file or record */
	TIP_EFORMAT = -13,   /* a file or text not in the expected format */
	TIP_EFULL = -14,     /* a capacity limit was reached */
	TIP_ERANGE = -15,    /* a value outside its allowed set */
};

/* A short, static English description of a tip_err value. */
const char *tip_strerror(int err);

#endif
