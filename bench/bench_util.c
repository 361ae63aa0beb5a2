/* bench_util.c: see bench_util.h. */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

static bench_clock chosen_clock = BENCH_CLOCK_CPU;

bool bench_set_clock(const char *name)
{
    if (strcmp(name, "cpu") == 0)
        chosen_clock = BENCH_CLOCK_CPU;
    else if (strcmp(name, "wall") == 0)
        chosen_clock = BENCH_CLOCK_WALL;
    else
        return false;
    return true;
}

const char *bench_clock_name(void)
{
    return chosen_clock == BENCH_CLOCK_CPU ? "process CPU time" : "wall time";
}

static double seconds_of(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double bench_now(void)
{
    return seconds_of(chosen_clock == BENCH_CLOCK_CPU ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC);
}

double bench_wall(void) { return seconds_of(CLOCK_MONOTONIC); }

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *values, int n)
{
    if (n <= 0)
        return NAN;
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double bench_peak_rss_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0; /* Linux reports KiB */
}

bool bench_reset_peak_rss(void)
{
    FILE *file = fopen("/proc/self/clear_refs", "w");
    if (!file)
        return false;
    bool ok = fputs("5", file) >= 0;
    return fclose(file) == 0 && ok;
}

double bench_dgemm_gflops(long rows, long cols, long inner, int repeats)
{
    size_t na = (size_t)rows * (size_t)inner, nb = (size_t)inner * (size_t)cols;
    size_t nc = (size_t)rows * (size_t)cols;
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double times[32];
    if (!a || !b || !c || repeats < 1) {
        free(a);
        free(b);
        free(c);
        return NAN;
    }
    if (repeats > 32)
        repeats = 32;
    for (size_t i = 0; i < na; i++)
        a[i] = sin((double)i);
    for (size_t i = 0; i < nb; i++)
        b[i] = cos((double)i);
    memset(c, 0, nc * sizeof *c);
    /* one untimed product first: thread start-up and page faults are not the rate */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)inner, 1.0,
                a, (int)inner, b, (int)cols, 0.0, c, (int)cols);
    for (int r = 0; r < repeats; r++) {
        double start = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)inner,
                    1.0, a, (int)inner, b, (int)cols, 0.0, c, (int)cols);
        times[r] = bench_now() - start;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)rows * (double)cols * (double)inner / bench_median(times, repeats) / 1e9;
}

/* The first "model name" line of /proc/cpuinfo, without the key. */
static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return;
    char line[512];
    while (fgets(line, sizeof line, file)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, size, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    fclose(file);
}

static void load_average(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *file = fopen("/proc/loadavg", "r");
    if (!file)
        return;
    double one, five, fifteen;
    if (fscanf(file, "%lf %lf %lf", &one, &five, &fifteen) == 3)
        snprintf(out, size, "%.2f %.2f %.2f (1, 5, 15 min)", one, five, fifteen);
    fclose(file);
}

void bench_print_machine(FILE *out, const char *commit)
{
    char model[256], load[96], date[64];
    cpu_model(model, sizeof model);
    load_average(load, sizeof load);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %z", localtime(&now));
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    fprintf(out, "# date: %s\n# cpu: %s, %d cores online\n", date, model,
            openblas_get_num_procs());
    fprintf(out, "# blas: %s; OpenBLAS threads %d (OPENBLAS_NUM_THREADS=%s)\n",
            openblas_get_config(), openblas_get_num_threads(), threads ? threads : "unset");
    fprintf(out, "# clock: %s\n# load average at start: %s\n", bench_clock_name(), load);
    if (commit && *commit)
        fprintf(out, "# source commit: %s\n", commit);
}

bool bench_parse_list(const char *text, long *values, size_t capacity, size_t *count)
{
    *count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long value = strtol(p, &end, 10);
        if (end == p || value <= 0 || *count == capacity)
            return false;
        values[(*count)++] = value;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return false;
        p = end;
    }
    return *count > 0;
}
