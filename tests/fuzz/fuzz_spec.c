/* fuzz_spec.c: libFuzzer harness for the spec reader and parser (akt_spec_load).
 *
 * The input is written to a file and loaded by akt_spec_load, the path of the command line, so
 * that every byte reaches the reader, embedded NUL bytes included (issue 17: a harness that made
 * a C string of the input stopped at the first NUL, as the reader then did, and so never saw
 * what follows it). Any input must end in AKT_OK or a one-line error, never a crash, a leak or
 * undefined behaviour; an input holding a NUL byte must be refused (AKT_ERR_INPUT, "NUL byte"). A spec that loads must also survive its own contract: akt check's YAML
 * (akt_spec_to_yaml) is itself a valid spec describing the same problem (DESIGN.md, Decisions:
 * "its output is itself a valid spec"); a violation aborts, so the fuzzer reports it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/spec.h"

#include "fuzz_input.h"

static void check_round_trip(const akt_spec *spec)
{
    char *yaml = akt_spec_to_yaml(spec);
    char *json = akt_spec_to_json(spec);
    if (!yaml || !json)
        abort();
    akt_spec again;
    akt_error err = {0};
    if (akt_spec_load_string(&again, yaml, "round-trip.yaml", "/", NULL, 0, &err) != AKT_OK) {
        fprintf(stderr, "akt_spec_to_yaml output does not load: %s\n%s", err.message, yaml);
        abort();
    }
    if (!akt_spec_equal(spec, &again)) {
        fprintf(stderr, "akt_spec_to_yaml output loads as a different spec:\n%s", yaml);
        abort();
    }
    akt_spec_free(&again);
    free(yaml);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_temporary(data, size, 0);
    bool has_nul = memchr(data, 0, size) != NULL;
    akt_spec spec;
    akt_error err = {0};
    if (akt_spec_load(&spec, path, NULL, 0, &err) == AKT_OK) {
        if (has_nul) {
            fprintf(stderr, "a spec with a NUL byte loaded\n");
            abort();
        }
        check_round_trip(&spec);
    } else if (err.status != AKT_ERR_INPUT || !err.message[0] || strchr(err.message, '\n') ||
               (has_nul && !strstr(err.message, "NUL byte"))) {
        fprintf(stderr, "bad error: status %d, message '%s'\n", err.status, err.message);
        abort();
    }
    akt_spec_free(&spec);
    return 0;
}
