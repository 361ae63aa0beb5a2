/* fuzz_csv.c: libFuzzer harness for the CSV reader (akt_csv_read).
 *
 * Any input must end in AKT_OK with a rectangular table of finite numbers, or AKT_ERR_INPUT with
 * a message naming the file (and line:column for a bad field). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"

#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_temporary(data, size, 0);
    double *values = NULL;
    size_t rows = 0, cols = 0;
    akt_error err = {0};
    int status = akt_csv_read(path, &values, &rows, &cols, &err);
    if (status == AKT_OK) {
        if (!values || rows == 0 || cols == 0)
            abort();
        for (size_t i = 0; i < rows * cols; i++)
            if (!isfinite(values[i]))
                abort();
    } else if (status != AKT_ERR_INPUT || strncmp(err.message, path, strlen(path)) != 0 || values) {
        fprintf(stderr, "bad error: status %d, message '%s'\n", status, err.message);
        abort();
    }
    free(values);
    return 0;
}
