/* output.c: the optional output files of a solve (output.h): adapted kernels with their
 * kernel-task alignment, and loss trajectories.
 *
 * The solvers own the states; this module owns what is kept of them and how it is written. A
 * regime's kernels arrive once per replica (population) or once (exact, convex); the file holds
 * their mean, which is the kernel of all replicas' neurons together, and the replicas' standard
 * error as mc_error. The readout regime trains only the readout on the frozen source features,
 * so its kernel is the source kernel on the target points (THEORY.md section 3): it is cut out
 * of the source regime's estimates as they arrive, and it has no G (the hidden layer it would
 * describe does not move). */
#include "akt/output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akt/resources.h"
#include "akt/solve.h"
#include "core/util.h"
#include "io/io.h"

enum { KERNEL_PHI, KERNEL_G, KERNEL_COUNT };
static const char *const kernel_names[KERNEL_COUNT] = {"Phi", "G"};
enum { ALIGN_PHI, ALIGN_G, ALIGN_NTK, ALIGN_COUNT };
static const char *const alignment_names[ALIGN_COUNT] = {"alignment_Phi", "alignment_G",
                                                         "alignment_NTK"};

/* Running mean and sum of squared deviations (Welford) of the estimates of one matrix: one
 * pass, no cancellation between a large mean and a small spread. */
typedef struct {
    double *mean, *deviation;
} running;

typedef struct {
    bool active;
    bool has_g;                           /* false for readout (frozen hidden layer) */
    bool splits[AKT_POINTS_COUNT];        /* the point set the solver hands over */
    bool written[AKT_POINTS_COUNT];       /* the splits written to the file */
    size_t offset[AKT_POINTS_COUNT], size;
    akt_points training;                  /* the split of the alignment */
    running kernels[KERNEL_COUNT];
    double *alignments;                   /* ALIGN_COUNT values per estimate */
    size_t count, capacity;
} kernel_record;

typedef struct {
    akt_regime regime;
    unsigned long replica;
    double time, train, test;
    double observables[AKT_OBSERVABLE_COUNT];  /* NAN where not measured */
    size_t order;                         /* arrival, to keep each phase in time order */
} trajectory_row;

struct akt_outputs {
    const akt_data *data;
    char *kernels_path, *trajectory_path;
    kernel_record records[AKT_REGIME_COUNT];
    double *gram[AKT_POINTS_COUNT];       /* C on the training splits, for the NTK alignment */
    bool trajectory_regimes[AKT_REGIME_COUNT];
    trajectory_row *rows;
    size_t row_count, row_capacity;
};

static const akt_split *split_of(const akt_data *data, int points)
{
    switch (points) {
    case AKT_POINTS_SOURCE_TRAIN: return &data->source;
    case AKT_POINTS_TARGET_TRAIN: return &data->target;
    case AKT_POINTS_TEST: return &data->test;
    default: return &data->source_test;
    }
}

/* ---- alignment and the trajectory clock ----------------------------------------------------- */

double akt_kernel_alignment(const double *K, const double *y, size_t n)
{
    double quadratic = 0.0, frobenius = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double row = 0.0;
        for (size_t j = 0; j < n; j++) {
            row += K[i * n + j] * y[j];
            frobenius += K[i * n + j] * K[i * n + j];
        }
        quadratic += y[i] * row;
        norm += y[i] * y[i];
    }
    if (!(frobenius > 0.0) || !(norm > 0.0))
        return NAN;
    return quadratic / (sqrt(frobenius) * norm);
}

/* ---- what may be asked for ------------------------------------------------------------------- */

static bool regime_wanted(const akt_spec *spec, int regime)
{
    return regime == AKT_REGIME_SOURCE || spec->target.regimes[regime];
}

static int check_methods(const akt_spec *spec, akt_error *err)
{
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        if (!regime_wanted(spec, r))
            continue;
        const akt_method_type *method;
        int status = akt_method_resolve(spec, (akt_regime)r, &method, err);
        if (status != AKT_OK)
            return status;
        const char *name = akt_regime_name((akt_regime)r);
        if (spec->output.kernels && !(method->flags & AKT_METHOD_ADAPTIVE_KERNELS))
            return akt_error_set(err, AKT_ERR_INPUT, "output.kernels: regime %s is served by "
                                 "method %s, whose kernels do not adapt (they are the closed-form "
                                 "kernels at initialisation); use method population or exact, or "
                                 "remove output.kernels", name, method->name);
        /* The readout regime is a closed form under every method: no rows, no refusal. */
        const char *why = method->no_trajectory ? method->no_trajectory(spec, (akt_regime)r)
                                                : NULL;
        if (spec->output.trajectory && r != AKT_REGIME_READOUT && why)
            return akt_error_set(err, AKT_ERR_INPUT, "output.trajectory: regime %s is served by "
                                 "method %s%s, so it has no loss trajectory; give a finite time, "
                                 "use method population or exact, or remove output.trajectory",
                                 name, method->name, why);
    }
    return AKT_OK;
}

/* Relative names are relative to the spec file's directory, like the data paths. */
static char *resolve(const char *directory, const char *name)
{
    if (name[0] == '/' || !directory || !*directory)
        return strdup(name);
    size_t size = strlen(directory) + strlen(name) + 2;
    char *joined = malloc(size);
    if (joined)
        snprintf(joined, size, "%s/%s", directory, name);
    return joined;
}

/* The file can be created: its directory exists and is writable, and it is not a directory.
 * Checked before any work, so that a long solve is not lost to a typo. */
static int check_writable(const char *key, const char *path, akt_error *err)
{
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
        return akt_error_set(err, AKT_ERR_INPUT, "%s: %s is a directory", key, path);
    char *directory = strdup(path);
    if (!directory)
        return akt_out_of_memory(err, "a file name");
    char *slash = strrchr(directory, '/');
    const char *where = slash ? (slash == directory ? "/" : (*slash = '\0', directory)) : ".";
    int status = AKT_OK;
    if (stat(where, &info) != 0)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: cannot write %s: directory %s: %s", key,
                               path, where, strerror(errno));
    else if (!S_ISDIR(info.st_mode))
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: cannot write %s: %s is not a directory",
                               key, path, where);
    else if (access(where, W_OK | X_OK) != 0)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: cannot write %s: directory %s: %s", key,
                               path, where, strerror(errno));
    free(directory);
    return status;
}

/* ---- the collector ----------------------------------------------------------------------------- */

/* The point sets (output.h): the source kernels cover the chosen splits, the source training
 * split (alignment) and what the readout regime needs; the target regimes' states exist on the
 * target points only, so they cover the chosen target and test splits and the target training
 * split. */
static void record_layout(kernel_record *r, const akt_spec *spec, const akt_data *data,
                          akt_regime regime, bool readout_active)
{
    const bool *chosen = spec->output.kernel_splits;
    bool target_side[AKT_POINTS_COUNT] = {false};
    target_side[AKT_POINTS_TARGET_TRAIN] = chosen[AKT_POINTS_TARGET_TRAIN];
    target_side[AKT_POINTS_TEST] = chosen[AKT_POINTS_TEST];
    if (regime == AKT_REGIME_SOURCE) {
        memcpy(r->written, chosen, sizeof r->written);
        memcpy(r->splits, chosen, sizeof r->splits);
        r->splits[AKT_POINTS_SOURCE_TRAIN] = true;
        if (readout_active) {
            r->splits[AKT_POINTS_TARGET_TRAIN] = true;
            r->splits[AKT_POINTS_TEST] = r->splits[AKT_POINTS_TEST] || target_side[AKT_POINTS_TEST];
        }
        r->training = AKT_POINTS_SOURCE_TRAIN;
    } else {
        memcpy(r->written, target_side, sizeof r->written);
        memcpy(r->splits, target_side, sizeof r->splits);
        r->splits[AKT_POINTS_TARGET_TRAIN] = true;
        r->training = AKT_POINTS_TARGET_TRAIN;
    }
    r->has_g = regime != AKT_REGIME_READOUT;
    r->size = 0;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        r->offset[s] = r->size;
        if (r->splits[s])
            r->size += split_of(data, s)->rows;
    }
}

static int record_alloc(kernel_record *r, akt_error *err)
{
    size_t n = r->size * r->size;
    for (int k = 0; k < (r->has_g ? KERNEL_COUNT : 1); k++) {
        r->kernels[k].mean = calloc(n ? n : 1, sizeof(double));
        r->kernels[k].deviation = calloc(n ? n : 1, sizeof(double));
        if (!r->kernels[k].mean || !r->kernels[k].deviation)
            return akt_out_of_memory(err, "the kernel outputs");
    }
    return AKT_OK;
}

static void record_free(kernel_record *r)
{
    for (int k = 0; k < KERNEL_COUNT; k++) {
        free(r->kernels[k].mean);
        free(r->kernels[k].deviation);
    }
    free(r->alignments);
}

void akt_outputs_free(akt_outputs *outputs)
{
    if (!outputs)
        return;
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        record_free(&outputs->records[r]);
    for (int s = 0; s < AKT_POINTS_COUNT; s++)
        free(outputs->gram[s]);
    free(outputs->kernels_path);
    free(outputs->trajectory_path);
    free(outputs->rows);
    free(outputs);
}

/* Kernels on large splits are large (M^2 doubles per matrix): refuse up front, with the
 * estimate, what cannot fit beside the solve (DESIGN.md, Decisions: resource refusal). Kept: mean
 * and deviation per kernel and regime; transient: the solver's two estimates, their symmetric
 * parts, the readout block. */
static int check_kernel_memory(const akt_outputs *o, const akt_spec *spec, akt_error *err)
{
    double kept = 0.0, largest = 0.0;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        const kernel_record *record = &o->records[r];
        double square = (double)record->size * (double)record->size;
        kept += record->active ? 2.0 * (record->has_g ? 2.0 : 1.0) * square : 0.0;
        largest = record->active && square > largest ? square : largest;
    }
    double gib = (kept + 5.0 * largest) * sizeof(double) / (1024.0 * 1024.0 * 1024.0);
    double limit = AKT_RESOURCES_MEMORY_SHARE * akt_resources_physical_gib();
    double solve = akt_resources_estimate_gib(spec, o->data, NULL, 0);
    if (limit > 0.0 && gib + solve > limit)
        return akt_error_set(err, AKT_ERR_INPUT, "output.kernels: the kernels on "
                             "output.kernel_splits (%zu points for the source regime) need an "
                             "estimated %.1f GiB beside the solve's %.1f GiB (limit %.1f GiB); "
                             "choose fewer or smaller splits", o->records[0].size, gib, solve,
                             limit);
    return AKT_OK;
}

static int kernels_alloc(akt_outputs *o, const akt_spec *spec, akt_error *err)
{
    bool readout = spec->target.regimes[AKT_REGIME_READOUT];
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        kernel_record *record = &o->records[r];
        record->active = regime_wanted(spec, r);
        if (record->active)
            record_layout(record, spec, o->data, (akt_regime)r, readout);
    }
    int status = check_kernel_memory(o, spec, err);
    for (int r = 0; r < AKT_REGIME_COUNT && status == AKT_OK; r++)
        if (o->records[r].active)
            status = record_alloc(&o->records[r], err);
    if (status != AKT_OK)
        return status;
    akt_points training[2] = {AKT_POINTS_SOURCE_TRAIN, AKT_POINTS_TARGET_TRAIN};
    for (int i = 0; i < 2; i++) {
        const akt_split *split = split_of(o->data, training[i]);
        size_t P = split->rows;
        if (!(o->gram[training[i]] = malloc((P ? P * P : 1) * sizeof(double))))
            return akt_out_of_memory(err, "the kernel outputs");
        akt_gram(split->x, P, split->x, P, o->data->dim, o->gram[training[i]]);
    }
    return AKT_OK;
}

akt_outputs *akt_outputs_alloc(const akt_spec *spec, const akt_data *data, akt_error *err)
{
    if (!spec->output.kernels && !spec->output.trajectory)
        return akt_error_set(err, AKT_ERR_INPUT, "output: no output file asked for"), NULL;
    if (check_methods(spec, err) != AKT_OK)
        return NULL;
    akt_outputs *o = calloc(1, sizeof *o);
    if (!o)
        return akt_out_of_memory(err, "the outputs"), NULL;
    o->data = data;
    int status = AKT_OK;
    if (spec->output.kernels && !(o->kernels_path = resolve(spec->directory, spec->output.kernels)))
        status = akt_out_of_memory(err, "a file name");
    if (status == AKT_OK && spec->output.trajectory &&
        !(o->trajectory_path = resolve(spec->directory, spec->output.trajectory)))
        status = akt_out_of_memory(err, "a file name");
    if (status == AKT_OK && o->kernels_path)
        status = check_writable("output.kernels", o->kernels_path, err);
    if (status == AKT_OK && o->trajectory_path)
        status = check_writable("output.trajectory", o->trajectory_path, err);
    if (status == AKT_OK && o->kernels_path)
        status = kernels_alloc(o, spec, err);
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        o->trajectory_regimes[r] = o->trajectory_path && regime_wanted(spec, r) &&
                                   r != AKT_REGIME_READOUT;
    if (status != AKT_OK) {
        akt_outputs_free(o);
        return NULL;
    }
    return o;
}

const char *akt_outputs_kernels_path(const akt_outputs *outputs)
{
    return outputs ? outputs->kernels_path : NULL;
}

const char *akt_outputs_trajectory_path(const akt_outputs *outputs)
{
    return outputs ? outputs->trajectory_path : NULL;
}

/* ---- kernels ------------------------------------------------------------------------------------ */

bool akt_outputs_wants_kernels(const akt_outputs *outputs, akt_regime regime)
{
    return outputs && outputs->kernels_path && regime != AKT_REGIME_READOUT &&
           outputs->records[regime].active;
}

void akt_outputs_kernel_splits(const akt_outputs *outputs, akt_regime regime,
                               bool splits[AKT_POINTS_COUNT], size_t *M)
{
    const kernel_record *r = &outputs->records[regime];
    memcpy(splits, r->splits, AKT_POINTS_COUNT * sizeof *splits);
    *M = r->size;
}

double *akt_outputs_kernel_points(const akt_outputs *outputs, akt_regime regime, akt_error *err)
{
    const kernel_record *r = &outputs->records[regime];
    size_t D = outputs->data->dim;
    double *points = malloc((r->size ? r->size : 1) * D * sizeof *points);
    if (!points)
        return akt_out_of_memory(err, "the kernel points"), NULL;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        const akt_split *split = split_of(outputs->data, s);
        if (r->splits[s] && split->rows)
            memcpy(points + r->offset[s] * D, split->x, split->rows * D * sizeof *points);
    }
    return points;
}

/* Alignments of Phi, G and the NTK Phi + G * C with the training labels, from the training
 * block of one estimate (G NULL: only Phi's). block: P x P work space. */
static void alignments_of(const akt_outputs *o, const kernel_record *r, const double *Phi,
                          const double *G, double *block, double *out)
{
    const akt_split *train = split_of(o->data, r->training);
    const double *C = o->gram[r->training];
    size_t P = train->rows, at = r->offset[r->training], M = r->size;
    for (size_t i = 0; i < P; i++)
        memcpy(block + i * P, Phi + (at + i) * M + at, P * sizeof *block);
    out[ALIGN_PHI] = akt_kernel_alignment(block, train->y, P);
    out[ALIGN_G] = out[ALIGN_NTK] = NAN;
    if (!G)
        return;
    for (size_t i = 0; i < P; i++)
        memcpy(block + i * P, G + (at + i) * M + at, P * sizeof *block);
    out[ALIGN_G] = akt_kernel_alignment(block, train->y, P);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++)
            block[i * P + j] = Phi[(at + i) * M + at + j] + G[(at + i) * M + at + j] * C[i * P + j];
    out[ALIGN_NTK] = akt_kernel_alignment(block, train->y, P);
}

static void welford(running *k, const double *x, size_t n, size_t count)
{
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - k->mean[i];
        k->mean[i] += d / (double)count;
        k->deviation[i] += d * (x[i] - k->mean[i]);
    }
}

static int accumulate(akt_outputs *o, kernel_record *r, const double *Phi, const double *G,
                      akt_error *err)
{
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : 8;
        double *grown = realloc(r->alignments, capacity * ALIGN_COUNT * sizeof *grown);
        if (!grown)
            return akt_out_of_memory(err, "the kernel alignments");
        r->alignments = grown;
        r->capacity = capacity;
    }
    size_t P = split_of(o->data, r->training)->rows;
    double *block = malloc((P ? P * P : 1) * sizeof *block);
    if (!block)
        return akt_out_of_memory(err, "the kernel alignments");
    alignments_of(o, r, Phi, r->has_g ? G : NULL, block, r->alignments + r->count * ALIGN_COUNT);
    free(block);
    r->count++;
    welford(&r->kernels[KERNEL_PHI], Phi, r->size * r->size, r->count);
    if (r->has_g)
        welford(&r->kernels[KERNEL_G], G, r->size * r->size, r->count);
    return AKT_OK;
}

/* The readout kernel: the source estimate's block on the readout's splits. */
static int accumulate_readout(akt_outputs *o, const double *Phi_source, akt_error *err)
{
    const kernel_record *source = &o->records[AKT_REGIME_SOURCE];
    kernel_record *readout = &o->records[AKT_REGIME_READOUT];
    size_t n = readout->size, M = source->size;
    double *block = malloc((n ? n * n : 1) * sizeof *block);
    if (!block)
        return akt_out_of_memory(err, "the readout kernel");
    for (int a = 0; a < AKT_POINTS_COUNT; a++)
        for (int b = 0; b < AKT_POINTS_COUNT; b++) {
            if (!readout->splits[a] || !readout->splits[b])
                continue;
            size_t rows = split_of(o->data, a)->rows, cols = split_of(o->data, b)->rows;
            for (size_t i = 0; i < rows; i++)
                memcpy(block + (readout->offset[a] + i) * n + readout->offset[b],
                       Phi_source + (source->offset[a] + i) * M + source->offset[b],
                       cols * sizeof *block);
        }
    int status = accumulate(o, readout, block, NULL, err);
    free(block);
    return status;
}

/* (A + A')/2 into out: closed forms evaluated entry by entry (x'<ww'>x'/D as two products) are
 * symmetric only up to round-off, and the file promises K(x, x') = K(x', x) exactly. */
static void symmetric_part(const double *A, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i * n + i] = A[i * n + i];
        for (size_t j = 0; j < i; j++)
            out[i * n + j] = out[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
    }
}

int akt_outputs_add_kernels(akt_outputs *outputs, akt_regime regime, const double *Phi,
                            const double *G, akt_error *err)
{
    if (!akt_outputs_wants_kernels(outputs, regime))
        return akt_error_set(err, AKT_ERR_INPUT, "outputs: no kernels asked for regime %s",
                             akt_regime_name(regime));
    size_t M = outputs->records[regime].size, n = M ? M * M : 1;
    double *Phi_sym = malloc(n * sizeof *Phi_sym), *G_sym = malloc(n * sizeof *G_sym);
    int status = Phi_sym && G_sym ? AKT_OK : akt_out_of_memory(err, "the kernels");
    if (status == AKT_OK) {
        symmetric_part(Phi, M, Phi_sym);
        symmetric_part(G, M, G_sym);
        status = accumulate(outputs, &outputs->records[regime], Phi_sym, G_sym, err);
    }
    if (status == AKT_OK && regime == AKT_REGIME_SOURCE &&
        outputs->records[AKT_REGIME_READOUT].active)
        status = accumulate_readout(outputs, Phi_sym, err);
    free(Phi_sym);
    free(G_sym);
    return status;
}

/* ---- trajectory ------------------------------------------------------------------------------- */

bool akt_outputs_wants_trajectory(const akt_outputs *outputs, akt_regime regime)
{
    return outputs && outputs->trajectory_regimes[regime];
}

int akt_outputs_add_losses(akt_outputs *outputs, akt_regime regime, unsigned long replica,
                           double time, double train_loss, double test_loss,
                           const double *observables, akt_error *err)
{
    if (!akt_outputs_wants_trajectory(outputs, regime))
        return akt_error_set(err, AKT_ERR_INPUT, "outputs: no trajectory asked for regime %s",
                             akt_regime_name(regime));
    if (outputs->row_count == outputs->row_capacity) {
        size_t capacity = outputs->row_capacity ? 2 * outputs->row_capacity : 1024;
        trajectory_row *grown = realloc(outputs->rows, capacity * sizeof *grown);
        if (!grown)
            return akt_out_of_memory(err, "the trajectory");
        outputs->rows = grown;
        outputs->row_capacity = capacity;
    }
    trajectory_row *row = &outputs->rows[outputs->row_count];
    *row = (trajectory_row){.regime = regime, .replica = replica, .time = time,
                            .train = train_loss, .test = test_loss, .order = outputs->row_count};
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        row->observables[k] = observables ? observables[k] : NAN;
    outputs->row_count++;
    return AKT_OK;
}

void akt_outputs_clear(akt_outputs *outputs, const bool regimes[AKT_REGIME_COUNT])
{
    if (!outputs)
        return;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        /* The readout kernel is fed by the source's estimates. */
        bool cleared = regimes[r] || (r == AKT_REGIME_READOUT && regimes[AKT_REGIME_SOURCE]);
        kernel_record *record = &outputs->records[r];
        if (!cleared || !record->active)
            continue;
        size_t n = record->size * record->size;
        for (int k = 0; k < (record->has_g ? KERNEL_COUNT : 1); k++) {
            memset(record->kernels[k].mean, 0, n * sizeof(double));
            memset(record->kernels[k].deviation, 0, n * sizeof(double));
        }
        record->count = 0;
    }
    size_t kept = 0;
    for (size_t i = 0; i < outputs->row_count; i++)
        if (!regimes[outputs->rows[i].regime])
            outputs->rows[kept++] = outputs->rows[i];
    outputs->row_count = kept;
}

/* ---- writing -------------------------------------------------------------------------------------- */

/* A CSV number field: 17 significant digits; empty for NaN (no estimate of the error). */
static void put_number(FILE *file, double value, char end)
{
    if (isfinite(value))
        fprintf(file, "%.17g%c", value, end);
    else
        fputc(end, file);
}

static double standard_error(double deviation, size_t count)
{
    return count >= 2 ? sqrt(deviation / (double)(count - 1) / (double)count) : NAN;
}

static void write_matrix(FILE *file, const akt_outputs *o, akt_regime regime,
                         const kernel_record *r, int kernel)
{
    const running *k = &r->kernels[kernel];
    size_t M = r->size;
    for (int a = 0; a < AKT_POINTS_COUNT; a++) {
        if (!r->written[a])
            continue;
        for (size_t i = 0; i < split_of(o->data, a)->rows; i++)
            for (int b = 0; b < AKT_POINTS_COUNT; b++) {
                if (!r->written[b])
                    continue;
                for (size_t j = 0; j < split_of(o->data, b)->rows; j++) {
                    size_t at = (r->offset[a] + i) * M + r->offset[b] + j;
                    fprintf(file, "%s,%s,%s,%zu,%s,%zu,", akt_regime_name(regime),
                            kernel_names[kernel], akt_split_name(a), i, akt_split_name(b), j);
                    put_number(file, k->mean[at], ',');
                    put_number(file, standard_error(k->deviation[at], r->count), '\n');
                }
            }
    }
}

/* The alignments of the mean kernel, with the standard error of the estimates' alignments. */
static int write_alignments(FILE *file, const akt_outputs *o, akt_regime regime,
                            const kernel_record *r, akt_error *err)
{
    size_t P = split_of(o->data, r->training)->rows;
    double *block = malloc((P ? P * P : 1) * sizeof *block), values[ALIGN_COUNT];
    if (!block)
        return akt_out_of_memory(err, "the kernel alignments");
    alignments_of(o, r, r->kernels[KERNEL_PHI].mean,
                  r->has_g ? r->kernels[KERNEL_G].mean : NULL, block, values);
    free(block);
    const char *split = akt_split_name(r->training);
    for (int a = 0; a < (r->has_g ? ALIGN_COUNT : 1); a++) {
        double mean = 0.0, deviation = 0.0;
        for (size_t e = 0; e < r->count; e++)
            mean += r->alignments[e * ALIGN_COUNT + a] / (double)r->count;
        for (size_t e = 0; e < r->count; e++) {
            double d = r->alignments[e * ALIGN_COUNT + a] - mean;
            deviation += d * d;
        }
        fprintf(file, "%s,%s,%s,,%s,,", akt_regime_name(regime), alignment_names[a], split,
                split);
        put_number(file, values[a], ',');
        put_number(file, standard_error(deviation, r->count), '\n');
    }
    return AKT_OK;
}

static int write_kernels(FILE *file, const akt_outputs *o, akt_error *err)
{
    fputs("regime,kernel,row_split,row,column_split,column,value,mc_error\n", file);
    for (int regime = 0; regime < AKT_REGIME_COUNT; regime++) {
        const kernel_record *r = &o->records[regime];
        if (!r->active || r->count == 0)
            continue;
        for (int k = 0; k < (r->has_g ? KERNEL_COUNT : 1); k++)
            write_matrix(file, o, (akt_regime)regime, r, k);
        int status = write_alignments(file, o, (akt_regime)regime, r, err);
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

static int compare_rows(const void *a, const void *b)
{
    const trajectory_row *x = a, *y = b;
    if (x->regime != y->regime)
        return x->regime < y->regime ? -1 : 1;
    if (x->replica != y->replica)
        return x->replica < y->replica ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int write_trajectory(FILE *file, const akt_outputs *o, akt_error *err)
{
    trajectory_row *rows = malloc((o->row_count ? o->row_count : 1) * sizeof *rows);
    if (!rows)
        return akt_out_of_memory(err, "the trajectory");
    if (o->row_count)
        memcpy(rows, o->rows, o->row_count * sizeof *rows);
    qsort(rows, o->row_count, sizeof *rows, compare_rows);
    fputs("regime,replica,time,train_loss,test_loss", file);
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        fprintf(file, ",%s", akt_observable_name((akt_observable)k));
    fputc('\n', file);
    for (size_t i = 0; i < o->row_count; i++) {
        fprintf(file, "%s,%lu,", akt_regime_name(rows[i].regime), rows[i].replica);
        put_number(file, rows[i].time, ',');
        put_number(file, rows[i].train, ',');
        put_number(file, rows[i].test, ',');
        for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
            put_number(file, rows[i].observables[k], k + 1 < AKT_OBSERVABLE_COUNT ? ',' : '\n');
    }
    free(rows);
    return AKT_OK;
}

typedef int (*file_writer)(FILE *file, const akt_outputs *o, akt_error *err);

/* One output file's writer and what it writes, as akt_io_stage calls it. */
typedef struct {
    const akt_outputs *o;
    file_writer writer;
} output_job;

static int write_output(FILE *file, void *context, akt_error *err)
{
    const output_job *job = context;
    return job->writer(file, job->o, err);
}

int akt_outputs_write(const akt_outputs *outputs, akt_error *err)
{
    const char *paths[2] = {outputs->kernels_path, outputs->trajectory_path};
    file_writer writers[2] = {write_kernels, write_trajectory};
    akt_io_staged staged[2] = {{NULL, NULL}, {NULL, NULL}};
    int status = AKT_OK;
    for (int i = 0; i < 2 && status == AKT_OK; i++) {
        output_job job = {outputs, writers[i]};
        if (paths[i])
            status = akt_io_stage(&staged[i], paths[i], NULL, write_output, &job, err);
    }
    /* Both files are complete before either is renamed into place. */
    for (int i = 0; i < 2; i++) {
        if (staged[i].temporary && status == AKT_OK)
            status = akt_io_commit(&staged[i], err);
        else if (staged[i].temporary)
            akt_io_discard(&staged[i]);
    }
    return status;
}
