/* fuzz_input.h: helpers shared by the fuzz harnesses: the readers under test take a path, so
 * each input is written to one temporary file per process (rewritten for every input). */
#ifndef AKT_FUZZ_INPUT_H
#define AKT_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to this process's temporary file (gzip-compressed with zlib when compress is
 * nonzero) and returns its path; aborts if it cannot (a harness failure, not a finding). */
const char *fuzz_write_temporary(const uint8_t *data, size_t size, int compress);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
