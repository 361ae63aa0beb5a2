/* main.c: the akt command line, a thin shell over libakt.
 *
 * It parses arguments, loads the spec and its data through the library, and prints through the
 * report module. Exit status: 0 success, 2 bad input (spec, data, arguments), 1 numerical
 * failure (DESIGN.md, Command line). Errors are one line on stderr. */
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef AKT_HAVE_MPI
#include <mpi.h>
#endif

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/output.h"
#include "akt/report.h"
#include "akt/resources.h"
#include "akt/spec.h"
#include "akt/sweep.h"
#include "akt/solve.h"

#define EXIT_BAD_INPUT 2

static const char usage[] =
    "usage: akt [--json] [--observables] [--set ...]   solve the built-in quickstart problem\n"
    "       akt solve SPEC [--json] [--observables] [--quiet] [--set key=value ...]\n"
    "             a table (progress on a terminal) or one JSON object; --observables adds the\n"
    "             observables per regime to the table (value +- error, README \"Observables\";\n"
    "             the JSON always has them)\n"
    "       akt check SPEC [--set key=value ...]   validate, print with defaults filled\n"
    "       akt data SPEC --out DIR [--set key=value ...]   write the data a solve uses\n"
    "       akt train SPEC --width N [--seeds K] [--json] [--set ...]   finite-width networks\n"
    "       akt compare SPEC [--widths 256,1024,4096] [--seeds K] [--json] [--set ...]\n"
    "       akt sweep SPEC [--out FILE.csv|FILE.jsonl] [--json] [--set key=v1,v2,...]\n"
    "             [--set key=linspace(a,b,n)|logspace(a,b,n)] [--set key=value]\n"
    "             grid of the spec's sweep block and the --set lists (logspace: 10^a..10^b);\n"
    "             resumable with --out; rows to stdout otherwise (CSV, or JSON lines)\n"
    "       akt help | --help | --version\n";

typedef struct {
    const char *command;
    const char *spec_path;   /* NULL: the built-in quickstart */
    const char *out;
    const char *width;       /* --width text, parsed by the command that takes it */
    const char *widths;
    const char *seeds;
    bool json;
    bool quiet;              /* --quiet: no progress on stderr */
    bool observables;        /* --observables: akt solve's table gets the observables block */
    const char **overrides;
    size_t override_count;
} arguments;

static int fail(int status, const char *message)
{
    fprintf(stderr, "akt: %s\n", message);
    return akt_error_exit_code(status);
}

static int bad_arguments(const char *what, const char *detail)
{
    fprintf(stderr, "akt: %s%s (see 'akt help')\n", what, detail ? detail : "");
    return EXIT_BAD_INPUT;
}

/* Reads "--set key=value" and "--set=key=value"; returns the value or NULL. */
static const char *option_value(int argc, char **argv, int *index, const char *name)
{
    const char *arg = argv[*index];
    size_t length = strlen(name);
    if (strncmp(arg, name, length) != 0)
        return NULL;
    if (arg[length] == '=')
        return arg + length + 1;
    if (arg[length] != '\0')
        return NULL;
    if (*index + 1 >= argc)
        return "";
    return argv[++*index];
}

static int parse_arguments(int argc, char **argv, arguments *args)
{
    memset(args, 0, sizeof *args);
    args->overrides = calloc((size_t)argc, sizeof *args->overrides);
    if (!args->overrides)
        return fail(AKT_ERR_MEMORY, "out of memory");
    /* `akt` alone, or `akt --json --set ...`, runs the built-in quickstart. */
    bool quickstart = argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 &&
                                   strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--version") != 0);
    args->command = quickstart ? "quickstart" : argv[1];
    for (int i = quickstart ? 1 : 2; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--json") == 0) {
            args->json = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            args->quiet = true;
        } else if (strcmp(argv[i], "--observables") == 0) {
            args->observables = true;
        } else if ((value = option_value(argc, argv, &i, "--set"))) {
            if (!*value || !strchr(value, '='))
                return bad_arguments("--set expects key=value, got ", *value ? value : "nothing");
            args->overrides[args->override_count++] = value;
        } else if ((value = option_value(argc, argv, &i, "--out"))) {
            if (!*value)
                return bad_arguments("--out expects a directory", NULL);
            args->out = value;
        } else if ((value = option_value(argc, argv, &i, "--widths"))) {
            args->widths = value;
        } else if ((value = option_value(argc, argv, &i, "--width"))) {
            args->width = value;
        } else if ((value = option_value(argc, argv, &i, "--seeds"))) {
            args->seeds = value;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return bad_arguments("unknown option ", argv[i]);
        } else if (!args->spec_path) {
            args->spec_path = argv[i];
        } else {
            return bad_arguments("unexpected argument ", argv[i]);
        }
    }
    return 0;
}

/* The spec, validated, with solver.method checked against the method registry. */
static int load_spec(const arguments *args, akt_spec *spec, akt_error *err)
{
    int status = args->spec_path
                     ? akt_spec_load(spec, args->spec_path, args->overrides,
                                     args->override_count, err)
                     : akt_spec_load_string(spec, akt_spec_quickstart_yaml,
                                            "<built-in quickstart>", ".", args->overrides,
                                            args->override_count, err);
    return status == AKT_OK ? akt_method_check_name(spec, err) : status;
}

static int command_check(const akt_spec *spec)
{
    char *yaml = akt_spec_to_yaml(spec);
    if (!yaml)
        return fail(AKT_ERR_MEMORY, "out of memory");
    fputs(yaml, stdout);
    free(yaml);
    return 0;
}

static int command_data(const arguments *args, const akt_data *data)
{
    akt_error err = {0};
    if (!args->out)
        return bad_arguments("data needs --out DIR", NULL);
    if (akt_data_write_csv(data, args->out, &err) != AKT_OK)
        return fail(err.status, err.message);
    fprintf(stderr, "akt: wrote the data to %s\n", args->out);
    return 0;
}

/* The table or the JSON of what was reached, even after a numerical failure (DESIGN.md,
 * Convergence); the exit code of the solve. */
static int print_solution(const arguments *args, const akt_spec *spec, const akt_data *data,
                          const akt_solution *solution, int status, const akt_error *err)
{
    if (args->json) {
        akt_error json_err = {0};
        if (akt_report_json(stdout, spec, data, solution, &json_err) != AKT_OK)
            return fail(json_err.status, json_err.message);
    } else {
        akt_report_table(stdout, spec, data, solution);
        if (args->observables)
            akt_report_observables_table(stdout, solution);
    }
    if (status != AKT_OK)
        return fail(status, err->message);
    for (size_t i = 0; i < solution->count; i++)
        if (!solution->results[i].converged)
            return fail(AKT_ERR_NUMERIC, "a regime did not converge within solver.max_time");
    return 0;
}

/* The output files, written only after a solve that succeeded in every regime (a failed run
 * leaves none); their names go to stderr, so that stdout stays the table or the JSON. */
static int write_outputs(const akt_outputs *outputs)
{
    akt_error err = {0};
    if (akt_outputs_write(outputs, &err) != AKT_OK)
        return fail(err.status, err.message);
    const char *paths[2] = {akt_outputs_kernels_path(outputs), akt_outputs_trajectory_path(outputs)};
    const char *what[2] = {"kernels", "loss trajectory"};
    for (int i = 0; i < 2; i++)
        if (paths[i])
            fprintf(stderr, "akt: wrote the %s to %s\n", what[i], paths[i]);
    return 0;
}

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- akt solve: progress on a terminal, and Ctrl-C -------------------------------------------- */

/* Set by SIGINT; the next progress call of the solve stops it (DESIGN.md, Decisions:
 * Interrupt). */
static volatile sig_atomic_t interrupted;

static void note_interrupt(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

/* Progress is shown at most this often (seconds): a terminal line, not a log. */
#define PROGRESS_INTERVAL 0.25

typedef struct {
    bool show;               /* stderr is a terminal and --quiet is not given */
    bool shown;              /* a line is on the terminal */
    double printed;          /* when the line was last written */
    double phase_started;
    akt_regime regime;
    size_t replica;
    double last_t;
} solve_progress;

static int on_solve_step(void *context, akt_regime regime, size_t replica, size_t replicas,
                         double t, double horizon, long steps, akt_error *err)
{
    if (interrupted)
        return akt_error_set(err, AKT_ERR_INTERRUPTED, "interrupted (Ctrl-C) at t = %g of %g", t,
                             horizon);
    solve_progress *p = context;
    if (!p->show)
        return AKT_OK;
    double now = monotonic_seconds();
    if (regime != p->regime || replica != p->replica || t < p->last_t) {
        p->regime = regime;
        p->replica = replica;
        p->phase_started = now;
        p->last_t = 0.0;
    }
    double step = t - p->last_t;
    p->last_t = t;
    if (now - p->printed < PROGRESS_INTERVAL)
        return AKT_OK;
    p->printed = now;
    double elapsed = now - p->phase_started;
    double remaining = t > 0 && horizon > t ? elapsed * (horizon - t) / t : NAN;
    akt_report_phase_progress(stderr, regime, replica, replicas, t, horizon, steps, step,
                              remaining);
    p->shown = true;
    return AKT_OK;
}

static int command_solve(const arguments *args, const akt_spec *spec, const akt_data *data)
{
    akt_error err = {0};
    akt_solution solution;
    akt_outputs *outputs = NULL;
    if ((spec->output.kernels || spec->output.trajectory) &&
        !(outputs = akt_outputs_alloc(spec, data, &err)))
        return fail(err.status, err.message);
    memset(&solution, 0, sizeof solution);
    akt_solver *solver = akt_solver_alloc(spec, data, &err);
    int status = solver ? AKT_OK : err.status;
    solve_progress progress = {.show = !args->quiet && isatty(fileno(stderr))};
    if (solver) {
        struct sigaction action, previous;
        memset(&action, 0, sizeof action);
        action.sa_handler = note_interrupt;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, &previous);
        akt_solver_set_outputs(solver, outputs);
        akt_solver_set_progress(solver, on_solve_step, &progress);
        status = akt_solver_run(solver, &solution, &err);
        akt_solver_free(solver);
        sigaction(SIGINT, &previous, NULL);
        if (progress.shown)
            akt_report_progress_clear(stderr);
    }
    int code = 0;
    /* Bad input prints nothing; a numerical failure prints what was reached (DESIGN.md,
     * Convergence). */
    if (status != AKT_OK && (solution.count == 0 || status == AKT_ERR_INPUT))
        code = fail(status, err.message);
    else
        code = print_solution(args, spec, data, &solution, status, &err);
    if (code == 0 && outputs)
        code = write_outputs(outputs);
    akt_outputs_free(outputs);
    return code;
}

/* A positive integer option, or a one-line error naming the option. */
static bool parse_count(const char *option, const char *text, long *value)
{
    char *end = NULL;
    long parsed = text && *text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end != '\0' || parsed < 1) {
        fprintf(stderr, "akt: %s expects a positive integer, got '%s'\n", option,
                text ? text : "");
        return false;
    }
    *value = parsed;
    return true;
}

/* "256,1024,4096" into widths; false (with a message) on anything else. */
static bool parse_widths(const char *text, long *widths, size_t *count)
{
    char buffer[512];
    if (strlen(text) >= sizeof buffer) {
        fprintf(stderr, "akt: --widths: list too long\n");
        return false;
    }
    strcpy(buffer, text);
    *count = 0;
    for (char *save = NULL, *item = strtok_r(buffer, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (*count == AKT_COMPARE_MAX_WIDTHS) {
            fprintf(stderr, "akt: --widths: at most %d widths\n", AKT_COMPARE_MAX_WIDTHS);
            return false;
        }
        if (!parse_count("--widths", item, &widths[*count]))
            return false;
        (*count)++;
    }
    if (*count == 0) {
        fprintf(stderr, "akt: --widths expects a list like 256,1024,4096\n");
        return false;
    }
    return true;
}

typedef struct {
    const char *label;
    double started;
} progress_state;

static void show_progress(void *context, size_t done, size_t total)
{
    const progress_state *state = context;
    akt_report_progress(stderr, state->label, done, total, state->started);
}

static int command_train(const arguments *args, const akt_spec *spec, const akt_data *data)
{
    long width = 0, seeds = 1;
    /* akt solve writes the theory's outputs; networks have none, and silence would mislead. */
    if (spec->output.kernels || spec->output.trajectory)
        return fail(AKT_ERR_INPUT, spec->output.kernels
                                       ? "output.kernels: only akt solve writes output files; "
                                         "remove the key"
                                       : "output.trajectory: only akt solve writes output files; "
                                         "remove the key");
    if (!args->width)
        return bad_arguments("train needs --width N", NULL);
    if (!parse_count("--width", args->width, &width) ||
        (args->seeds && !parse_count("--seeds", args->seeds, &seeds)))
        return EXIT_BAD_INPUT;
    progress_state progress = {"train", monotonic_seconds()};
    akt_compare_options options = {.progress = show_progress, .progress_context = &progress};
    akt_width_result results[AKT_REGIME_COUNT];
    size_t count = 0;
    akt_error err = {0};
    if (akt_train_width(spec, data, width, seeds, &options, results, &count, &err) != AKT_OK)
        return fail(err.status, err.message);
    if (args->json) {
        if (akt_report_train_json(stdout, spec, results, count, &err) != AKT_OK)
            return fail(err.status, err.message);
    } else {
        akt_report_train_table(stdout, spec, data, results, count);
    }
    return 0;
}

static int command_compare(const arguments *args, const akt_spec *spec, const akt_data *data)
{
    long widths[AKT_COMPARE_MAX_WIDTHS], seeds = 4;
    size_t width_count = 0;
    if (!parse_widths(args->widths ? args->widths : "256,1024,4096", widths, &width_count) ||
        (args->seeds && !parse_count("--seeds", args->seeds, &seeds)))
        return EXIT_BAD_INPUT;
    progress_state progress = {"compare", monotonic_seconds()};
    akt_compare_options options = {.progress = show_progress, .progress_context = &progress};
    akt_comparison comparison;
    akt_error err = {0};
    if (akt_compare(spec, data, widths, width_count, seeds, &options, &comparison, &err) != AKT_OK)
        return fail(err.status, err.message);
    if (args->json) {
        if (akt_report_compare_json(stdout, spec, &comparison, &err) != AKT_OK)
            return fail(err.status, err.message);
    } else {
        akt_report_compare_table(stdout, spec, data, &comparison);
    }
    return 0;
}

/* Set while a sweep writes its table: an interrupt then removes the half-written temporary
 * file (the table itself is replaced only by rename, so it is always complete). */
static char *sweep_temporary;

static void remove_temporary_and_die(int signal_number)
{
    if (sweep_temporary)
        unlink(sweep_temporary);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

static void watch_interrupts(const char *out)
{
    size_t length = strlen(out) + sizeof ".partial";
    sweep_temporary = malloc(length);
    if (!sweep_temporary)
        return;
    snprintf(sweep_temporary, length, "%s.partial", out);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = remove_temporary_and_die;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

/* --set lists and linspace/logspace become sweep axes ("sweep.key=[...]"); plain values stay
 * overrides of the spec. */
static int sweep_overrides(const arguments *args, char **overrides, akt_error *err)
{
    for (size_t i = 0; i < args->override_count; i++) {
        const char *assignment = args->overrides[i];
        int status = akt_sweep_is_axis_assignment(assignment)
                         ? akt_sweep_axis_override(assignment, &overrides[i], err)
                         : ((overrides[i] = strdup(assignment)) ? AKT_OK
                                : akt_error_set(err, AKT_ERR_MEMORY, "out of memory"));
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

static int sweep_with_grid(const arguments *args, const akt_sweep_grid *grid, akt_error *err)
{
    int status = akt_sweep_validate(grid, err);
    if (status != AKT_OK)
        return status;
    progress_state progress = {"sweep", monotonic_seconds()};
    akt_sweep_options options = {
        .out_path = args->out, .stream = stdout,
        .format = args->json ? AKT_SWEEP_JSON_LINES : AKT_SWEEP_CSV,
        .progress = show_progress, .progress_context = &progress};
    if (args->out && akt_sweep_rank() == 0)
        watch_interrupts(args->out);
    akt_sweep_summary summary;
    status = akt_sweep_run(grid, &options, &summary, err);
    if (status == AKT_OK && summary.failed && akt_sweep_rank() == 0)
        fprintf(stderr, "akt: sweep: %zu of %zu points had a numerical failure (their rows have "
                "converged false)\n", summary.failed, summary.points);
    if (status == AKT_OK && summary.source_reuses && akt_sweep_rank() == 0)
        fprintf(stderr, "akt: sweep: source phases: %zu run, %zu reused (points with the "
                "same source settings and source data)\n", summary.source_runs,
                summary.source_reuses);
    return status;
}

/* akt sweep: exit 0 when every point has its rows (a point that failed numerically is a row
 * with converged false, DESIGN.md Convergence), 2 on bad input before any work. */
static int command_sweep(const arguments *args)
{
#ifdef AKT_HAVE_MPI
    MPI_Init(NULL, NULL);
#endif
    akt_error err = {0};
    char **overrides = calloc(args->override_count + 1, sizeof *overrides);
    int status = overrides ? sweep_overrides(args, overrides, &err)
                           : akt_error_set(&err, AKT_ERR_MEMORY, "out of memory");
    akt_spec spec;
    memset(&spec, 0, sizeof spec);
    if (status == AKT_OK)
        status = akt_spec_load(&spec, args->spec_path, (const char *const *)overrides,
                               args->override_count, &err);
    akt_sweep_grid grid;
    memset(&grid, 0, sizeof grid);
    if (status == AKT_OK)
        status = akt_sweep_grid_init(&grid, &spec, &err);
    if (status == AKT_OK)
        status = sweep_with_grid(args, &grid, &err);
    akt_sweep_grid_free(&grid);
    akt_spec_free(&spec);
    for (size_t i = 0; overrides && i < args->override_count; i++)
        free(overrides[i]);
    free(overrides);
    int code = 0;
    if (status != AKT_OK)
        code = akt_sweep_rank() == 0 ? fail(status, err.message) : akt_error_exit_code(status);
#ifdef AKT_HAVE_MPI
    MPI_Finalize();
#endif
    free(sweep_temporary);
    sweep_temporary = NULL;
    return code;
}

/* The largest network width a command will build (0: none), for the up-front memory check;
 * malformed values are left for the command's own parsing to report. */
static long largest_width(const arguments *args)
{
    long largest = 0;
    if (strcmp(args->command, "train") == 0 && args->width)
        largest = strtol(args->width, NULL, 10);
    if (strcmp(args->command, "compare") == 0) {
        const char *text = args->widths ? args->widths : "256,1024,4096";
        for (const char *p = text; *p;) {
            char *end;
            long width = strtol(p, &end, 10);
            if (end == p)
                break;
            if (width > largest)
                largest = width;
            p = *end == ',' ? end + 1 : end;
        }
    }
    return largest > 0 ? largest : 0;
}

static bool needs_spec(const char *command)
{
    return strcmp(command, "quickstart") != 0;
}

static int run(const arguments *args)
{
    const char *command = args->command;
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        puts("akt 0.1.0");
        return 0;
    }
    bool known = strcmp(command, "quickstart") == 0 || strcmp(command, "solve") == 0 ||
                 strcmp(command, "check") == 0 || strcmp(command, "data") == 0 ||
                 strcmp(command, "train") == 0 || strcmp(command, "compare") == 0;
    if (!known && strcmp(command, "sweep") != 0)
        return bad_arguments("unknown command ", command);
    /* Only akt solve prints observables as a table (the others would ignore the flag). */
    if (args->observables && strcmp(command, "quickstart") != 0 && strcmp(command, "solve") != 0)
        return bad_arguments("--observables applies to akt solve, not akt ", command);
    if (needs_spec(command) && !args->spec_path)
        return bad_arguments(command, " needs a SPEC file");
    if (strcmp(command, "sweep") == 0)
        return command_sweep(args);

    akt_error err = {0};
    akt_spec spec;
    if (load_spec(args, &spec, &err) != AKT_OK) {
        akt_spec_free(&spec);
        return fail(err.status, err.message);
    }
    if (strcmp(command, "check") == 0) {
        int code = command_check(&spec);
        akt_spec_free(&spec);
        return code;
    }
    /* Refuse what cannot fit before the data are even drawn (DESIGN.md, Decisions). */
    if (akt_resources_check(&spec, NULL, NULL, largest_width(args), &err) != AKT_OK) {
        akt_spec_free(&spec);
        return fail(err.status, err.message);
    }
    akt_data data;
    if (akt_data_load(&data, &spec, &err) != AKT_OK) {
        akt_spec_free(&spec);
        akt_data_free(&data);
        return fail(err.status, err.message);
    }
    int code;
    if (strcmp(command, "data") == 0)
        code = command_data(args, &data);
    else if (strcmp(command, "train") == 0)
        code = command_train(args, &spec, &data);
    else if (strcmp(command, "compare") == 0)
        code = command_compare(args, &spec, &data);
    else
        code = command_solve(args, &spec, &data);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return code;
}

int main(int argc, char **argv)
{
    arguments args;
    int code = parse_arguments(argc, argv, &args);
    if (code == 0)
        code = run(&args);
    free(args.overrides);
    return code;
}
