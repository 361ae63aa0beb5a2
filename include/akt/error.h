/* error.h: how libakt reports failure.
 *
 * Every fallible function returns an int status (AKT_OK on success) and, on failure, fills a
 * caller-provided akt_error with a one-line message. The library never prints and never exits;
 * the command line maps the status to an exit code (input errors 2, numerical failures 1). */
#ifndef AKT_ERROR_H
#define AKT_ERROR_H

#include <stddef.h>

enum {
    AKT_OK = 0,
    AKT_ERR_NUMERIC = 1,     /* divergence, NaN/Inf, no convergence, singular system: exit 1 */
    AKT_ERR_INPUT = 2,       /* bad spec, data file, argument, or unsupported request: exit 2 */
    AKT_ERR_MEMORY = 3,      /* allocation failed: exit 1 */
    AKT_ERR_IO = 4,          /* could not write an output file: exit 1 */
    AKT_ERR_INTERRUPTED = 5  /* stopped by the caller (Ctrl-C): exit 130 */
};

#define AKT_ERROR_MESSAGE_SIZE 1024

typedef struct {
    int status;
    char message[AKT_ERROR_MESSAGE_SIZE];
} akt_error;

/* Records status and a printf-style message in err (if err is not NULL); returns status so that
 * callers can write `return akt_error_set(err, AKT_ERR_INPUT, "...", ...);`. */
int akt_error_set(akt_error *err, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with context ("regime joint: ..."); returns err->status. */
int akt_error_prefix(akt_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Exit status the command line uses for a library status. */
int akt_error_exit_code(int status);

#endif
