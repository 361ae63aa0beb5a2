/* bench_solve.c: what a user waits for in `akt solve`, against the targets of issue 6
 * ("Benchmarks"): the quickstart in < 5 s; the relu problem bench/specs/relu_d200.yaml (D = 200,
 * P1 = 1000, P2 = 200, S = 8192, T = 40 in both phases, all four regimes) by the population method
 * in < 60 s; the same problem's source, scratch and readout by method convex to a duality gap of
 * 1e-6 in < 60 s.
 *
 * Every run is a child process (fork), so that its peak resident memory (the child's getrusage
 * high-water mark, from wait4) and its CPU time are its own, and a run that exceeds its wall
 * timeout is killed and reported as such (the current population integrator needs hours on
 * the full-size problem). Seconds are process CPU time unless --clock wall (bench_util.h): the
 * time of akt_solve alone (spec parsing and data generation excluded), or, for a killed run, the
 * child's CPU time until killed. The smaller population case (S = 1024) gives the steps of each
 * phase, from which RESULTS.md scales the full-size cost.
 *
 * Usage: bench_solve [--spec bench/specs/relu_d200.yaml] [--case NAME]... [--repeats 3]
 *        [--timeout SECONDS] [--csv FILE] [--commit HASH] [--clock cpu|wall] [--smoke]
 * Cases: quickstart, population, convex, population_small (default: all). Each has its own wall
 * timeout (120, 900, 900 and 7200 s); --timeout replaces them all. */
#define _DEFAULT_SOURCE /* wait4 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akt/data.h"
#include "akt/spec.h"
#include "akt/solve.h"

#include "bench_util.h"

#define MAX_OVERRIDES 12
#define MAX_REPEATS 16

typedef struct {
    const char *name;
    bool builtin_quickstart;              /* else the --spec file */
    const char *overrides[MAX_OVERRIDES];
    double target_seconds;                /* 0: no target */
    bool repeat;                          /* median of --repeats runs (else one run) */
    double timeout;                       /* wall seconds before the run is killed */
} solve_case;

static const solve_case cases[] = {
    {"quickstart", true, {NULL}, 5.0, true, 120.0},
    {"population", false, {NULL}, 60.0, false, 900.0},
    {"convex", false,
     {"source.time=converge", "target.time=converge", "target.regimes=[scratch,readout]",
      "solver.method=convex", "solver.tolerance=1e-6", NULL},
     60.0, false, 900.0},
    /* the steps of each phase at S = 1024 (a long run with the current integrator) */
    {"population_small", false, {"solver.neurons=1024", NULL}, 0.0, false, 7200.0},
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

/* What a child sends back through its pipe. */
typedef struct {
    int status;
    double seconds, wall;
    akt_solution solution;
    char message[AKT_ERROR_MESSAGE_SIZE];
} child_report;

typedef struct {
    bool finished, killed;
    child_report report;
    double cpu_seconds, peak_mib; /* from wait4 */
} run_outcome;

typedef struct {
    const char *spec_path, *csv_path, *commit;
    bool wanted[CASE_COUNT];
    int repeats;
    double timeout;
    bool smoke;
} solve_options;

static const char *smoke_overrides[] = {"data.source.samples=24", "data.target.samples=8",
                                        "data.test.samples=64", "solver.neurons=128",
                                        "source.time=1", "target.time=1", NULL};

static size_t collect_overrides(const solve_case *c, bool smoke, const char **out)
{
    size_t n = 0;
    for (size_t k = 0; k < MAX_OVERRIDES && c->overrides[k]; k++)
        out[n++] = c->overrides[k];
    if (smoke && !c->builtin_quickstart)
        for (size_t k = 0; smoke_overrides[k] && n < 2 * MAX_OVERRIDES; k++)
            if (!(strcmp(c->name, "convex") == 0 && strstr(smoke_overrides[k], "time=")))
                out[n++] = smoke_overrides[k];
    return n;
}

/* The child: load, solve once, report. */
static void child_main(const solve_options *o, const solve_case *c, int fd)
{
    child_report report;
    memset(&report, 0, sizeof report);
    const char *overrides[2 * MAX_OVERRIDES];
    size_t count = collect_overrides(c, o->smoke, overrides);
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    int status = c->builtin_quickstart
                     ? akt_spec_load_string(&spec, akt_spec_quickstart_yaml,
                                            "<built-in quickstart>", ".", overrides, count, &err)
                     : akt_spec_load(&spec, o->spec_path, overrides, count, &err);
    if (status == AKT_OK)
        status = akt_data_load(&data, &spec, &err);
    if (status == AKT_OK) {
        double start = bench_now(), wall = bench_wall();
        status = akt_solve(&spec, &data, &report.solution, &err);
        report.seconds = bench_now() - start;
        report.wall = bench_wall() - wall;
    }
    report.status = status;
    snprintf(report.message, sizeof report.message, "%s", err.message);
    const char *p = (const char *)&report;
    size_t left = sizeof report;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    _exit(0);
}

/* Reads the report, waiting at most timeout wall seconds; kills the child when it runs over. */
static int run_child(const solve_options *o, const solve_case *c, run_outcome *out)
{
    memset(out, 0, sizeof *out);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(fds[0]);
        child_main(o, c, fds[1]);
    }
    close(fds[1]);
    double timeout = o->timeout > 0 ? o->timeout : c->timeout;
    double deadline = bench_wall() + timeout;
    char *p = (char *)&out->report;
    size_t got = 0;
    while (got < sizeof out->report) {
        double left = deadline - bench_wall();
        struct pollfd poller = {fds[0], POLLIN, 0};
        int ready = left > 0 ? poll(&poller, 1, (int)fmin(left * 1000.0, 6e4)) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0 && bench_wall() >= deadline) {
            kill(pid, SIGKILL);
            out->killed = true;
            break;
        }
        if (ready == 0)
            continue;
        ssize_t n = read(fds[0], p + got, sizeof out->report - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int wstatus;
    struct rusage usage;
    if (wait4(pid, &wstatus, 0, &usage) < 0)
        return 1;
    out->finished = !out->killed && got == sizeof out->report;
    out->cpu_seconds = (double)usage.ru_utime.tv_sec + 1e-6 * (double)usage.ru_utime.tv_usec +
                       (double)usage.ru_stime.tv_sec + 1e-6 * (double)usage.ru_stime.tv_usec;
    out->peak_mib = (double)usage.ru_maxrss / 1024.0;
    return 0;
}

static void regimes_text(const akt_solution *s, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < s->count && used < size; k++) {
        const akt_result *r = &s->results[k];
        used += (size_t)snprintf(out + used, size - used, "%s%s %s %.6f (%ld it%s)",
                                 k ? "; " : "", akt_regime_name(r->regime),
                                 r->method, r->test_loss, r->iterations,
                                 r->converged ? "" : ", not converged");
    }
}

static int run_case(const solve_options *o, const solve_case *c, FILE *csv)
{
    int repeats = c->repeat ? o->repeats : 1;
    double seconds[MAX_REPEATS], walls[MAX_REPEATS], peak = 0.0;
    run_outcome outcome = {0};
    int done = 0;
    for (int r = 0; r < repeats; r++) {
        if (run_child(o, c, &outcome) != 0) {
            fprintf(stderr, "bench_solve: %s: could not start a child process\n", c->name);
            return 1;
        }
        peak = fmax(peak, outcome.peak_mib);
        if (!outcome.finished || outcome.report.status != AKT_OK)
            break;
        seconds[done] = outcome.report.seconds;
        walls[done] = outcome.report.wall;
        done++;
    }
    char regimes[1024] = "";
    const char *state = "ok";
    double median = NAN, wall = NAN;
    if (outcome.killed) {
        state = "killed at the timeout";
        median = outcome.cpu_seconds;
        wall = o->timeout > 0 ? o->timeout : c->timeout;
    } else if (!outcome.finished) {
        state = "child failed";
    } else if (outcome.report.status != AKT_OK) {
        state = "error";
        fprintf(stderr, "bench_solve: %s: %s\n", c->name, outcome.report.message);
    } else {
        median = bench_median(seconds, done);
        wall = bench_median(walls, done);
        regimes_text(&outcome.report.solution, regimes, sizeof regimes);
    }
    char verdict[96] = "-";
    if (c->target_seconds > 0 && !isnan(median))
        snprintf(verdict, sizeof verdict, "%s%s (%.3g x the target)",
                 outcome.killed ? "> " : "",
                 median <= c->target_seconds && !outcome.killed ? "met" : "missed",
                 median / c->target_seconds);
    printf("| %s | %s | %.4g | %.4g | %d | %.0f | %s | %s |\n", c->name, state, median, wall,
           done, peak, verdict, regimes);
    fprintf(csv, "%s,%s,%.6g,%.6g,%d,%.0f,%g,\"%s\",\"%s\"\n", c->name, state, median, wall, done,
            peak, c->target_seconds, verdict, regimes);
    fflush(stdout);
    fflush(csv);
    return strcmp(state, "ok") == 0 || outcome.killed ? 0 : 1;
}

static int parse_options(int argc, char **argv, solve_options *o)
{
    *o = (solve_options){.spec_path = "bench/specs/relu_d200.yaml", .repeats = 3};
    bool any = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(arg, "--smoke") == 0) {
            o->smoke = true;
            continue;
        }
        if (!value) {
            ok = false;
        } else if (strcmp(arg, "--spec") == 0) {
            o->spec_path = value;
        } else if (strcmp(arg, "--csv") == 0) {
            o->csv_path = value;
        } else if (strcmp(arg, "--commit") == 0) {
            o->commit = value;
        } else if (strcmp(arg, "--repeats") == 0) {
            o->repeats = atoi(value);
            ok = o->repeats >= 1 && o->repeats <= MAX_REPEATS;
        } else if (strcmp(arg, "--timeout") == 0) {
            o->timeout = atof(value);
            ok = o->timeout > 0;
        } else if (strcmp(arg, "--clock") == 0) {
            ok = bench_set_clock(value);
        } else if (strcmp(arg, "--case") == 0) {
            ok = false;
            for (size_t k = 0; k < CASE_COUNT; k++)
                if (strcmp(value, cases[k].name) == 0)
                    o->wanted[k] = ok = any = true;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "bench_solve: bad or unknown argument %s (see the comment at the top "
                            "of bench/bench_solve.c)\n", arg);
            return 2;
        }
        i++;
    }
    for (size_t k = 0; k < CASE_COUNT && !any; k++)
        o->wanted[k] = true;
    if (o->smoke)
        o->repeats = 1;
    return 0;
}

int main(int argc, char **argv)
{
    solve_options o;
    int status = parse_options(argc, argv, &o);
    if (status)
        return status;
    FILE *csv = fopen(o.csv_path ? o.csv_path : "/dev/null", "a+");
    if (!csv) {
        fprintf(stderr, "bench_solve: cannot write %s\n", o.csv_path);
        return 2;
    }
    fseek(csv, 0, SEEK_END);
    if (ftell(csv) == 0) /* appends to an existing file, so cases can be run one by one */
        fputs("case,state,seconds,wall_seconds,runs,peak_mib,target_seconds,verdict,regimes\n",
              csv);
    bench_print_machine(stdout, o.commit);
    printf("# problem: %s%s\n\n", o.spec_path, o.smoke ? " (smoke sizes)" : "");
    printf("| case | state | seconds (median) | wall s | runs | peak MiB | target | regimes: "
           "test loss (iterations) |\n|---|---|---|---|---|---|---|---|\n");
    int failures = 0;
    for (size_t k = 0; k < CASE_COUNT; k++)
        if (o.wanted[k])
            failures += run_case(&o, &cases[k], csv);
    printf("\nseconds: akt_solve alone on the clock above (a killed run: the child's CPU time "
           "until killed); peak: the child's peak resident memory (getrusage)\n");
    fclose(csv);
    return failures ? 1 : 0;
}
