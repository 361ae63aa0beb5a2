/* fuzz_idx.c: libFuzzer harness for the IDX reader (akt_idx_read).
 *
 * The first byte chooses the encoding of the rest: odd, gzip-compressed with zlib (the reader
 * then inflates it); even, raw (zlib reads a non-gzip file transparently), so half of the inputs
 * exercise the gzip layer and half reach the IDX header parser directly. Any input must end in
 * AKT_OK with exactly the declared items, or AKT_ERR_INPUT with a message. */
#include <stdio.h>
#include <stdlib.h>

#include "akt/data.h"

#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *path = fuzz_write_temporary(data + 1, size - 1, data[0] & 1);
    unsigned char *values = NULL;
    size_t count = 0, item_size = 0;
    akt_error err = {0};
    int status = akt_idx_read(path, &values, &count, &item_size, &err);
    if (status == AKT_OK) {
        if (!values || count == 0 || item_size == 0)
            abort();
        /* touch every byte: ASan catches a buffer shorter than count * item_size */
        volatile unsigned sum = 0;
        for (size_t i = 0; i < count * item_size; i++)
            sum += values[i];
        (void)sum;
    } else if (status != AKT_ERR_INPUT || !err.message[0] || values) {
        fprintf(stderr, "bad error: status %d, message '%s'\n", status, err.message);
        abort();
    }
    free(values);
    return 0;
}
