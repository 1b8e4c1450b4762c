/* The libFuzzer entry point every fuzz_<x>.c defines. */
#ifndef TIP_TESTS_FUZZ_H
#define TIP_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
