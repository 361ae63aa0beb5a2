/* test_collector.c: the arithmetic of the outputs collector (output.h), on numbers chosen so
 * that every written value has a closed form.
 *
 * - akt_kernel_alignment: 1 for K = c yy', -1 for K = -yy', 1/sqrt(n) for K = I, NaN for K = 0.
 * - The trajectory clock: a fine stepper records at most AKT_TRAJECTORY_GRID rows after t = 0,
 *   the step that lands on the horizon is one of them, and one long step gives one row.
 * - Kernels: two estimates B and 3B of the source kernel are written as their mean 2B with
 *   mc_error = standard error of {B, 3B} = B; the readout regime gets the source's block on the
 *   target points (no G); the alignment of the mean equals akt_kernel_alignment of B's training
 *   block with mc_error 0 (both estimates have the same alignment); after clear and one
 *   estimate the mc_error field is empty.
 * - Trajectory rows come out sorted by regime, then replica, each phase in arrival order.
 * - Refusals before any work: lazy kernels, convex trajectory, a missing directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/output.h"
#include "akt/spec.h"

static char directory[] = "/tmp/akt_collector_XXXXXX";

static void alignment_closed_forms(void)
{
    enum { n = 5 };
    double y[n] = {1.0, -2.0, 0.5, 3.0, -1.0}, K[n * n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            K[i * n + j] = 2.5 * y[i] * y[j];
    CHECK_RELATIVE(akt_kernel_alignment(K, y, n), 1.0, 1e-15);
    for (int i = 0; i < n * n; i++)
        K[i] = -K[i];
    CHECK_RELATIVE(akt_kernel_alignment(K, y, n), -1.0, 1e-15);
    for (int i = 0; i < n * n; i++)
        K[i] = i % (n + 1) == 0 ? 1.0 : 0.0;
    CHECK_RELATIVE(akt_kernel_alignment(K, y, n), 1.0 / sqrt((double)n), 1e-15);
    memset(K, 0, sizeof K);
    CHECK(isnan(akt_kernel_alignment(K, y, n)));
}

static void clock_bound(void)
{
    akt_trajectory_clock clock;
    double horizon = 20.0, dt = 1e-4;
    akt_trajectory_clock_start(&clock, horizon);
    int rows = 0;
    bool last = false;
    for (long k = 1; k <= (long)(horizon / dt + 0.5); k++) {
        double t = k == (long)(horizon / dt + 0.5) ? horizon : k * dt;
        if (akt_trajectory_clock_due(&clock, t)) {
            rows++;
            last = t == horizon;
        }
    }
    printf("clock: %d rows for %.0f fine steps (grid %d)\n", rows, horizon / dt,
           AKT_TRAJECTORY_GRID);
    CHECK(rows <= AKT_TRAJECTORY_GRID && rows >= AKT_TRAJECTORY_GRID - 2);
    CHECK(last);
    akt_trajectory_clock_start(&clock, horizon);
    CHECK(!akt_trajectory_clock_due(&clock, 0.001));
    CHECK(akt_trajectory_clock_due(&clock, 15.0));   /* passes most of the grid: one row */
    CHECK(!akt_trajectory_clock_due(&clock, 15.0));
    CHECK(akt_trajectory_clock_due(&clock, horizon));
}

/* The value and mc_error fields of the line of file starting with prefix (-1: absent). */
static int find_line(const char *path, const char *prefix, char *value, char *error)
{
    FILE *file = fopen(path, "r");
    char line[512];
    int found = -1;
    while (file && fgets(line, sizeof line, file)) {
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *comma = strchr(line + strlen(prefix), ',');
        *comma = '\0';
        strcpy(value, line + strlen(prefix));
        strcpy(error, comma + 1);
        found = 0;
        break;
    }
    if (file)
        fclose(file);
    return found;
}

static void load(akt_spec *spec, akt_data *data, const char *extra)
{
    char yaml[1024];
    akt_error err = {0, ""};
    snprintf(yaml, sizeof yaml,
             "seed: 4\ndata: {task: linear, dim: 6, source: {samples: 5}, target: {samples: 3}, "
             "test: {samples: 4}}\n%s",
             extra);
    CHECK(akt_spec_load_string(spec, yaml, "collector.yaml", directory, NULL, 0, &err) == AKT_OK);
    CHECK(akt_data_load(data, spec, &err) == AKT_OK);
}

static void kernels_and_rows(void)
{
    akt_spec spec;
    akt_data data;
    akt_error err = {0, ""};
    load(&spec, &data, "network: {activation: linear}\nsolver: {method: exact}\n"
                       "output: {kernels: k.csv, trajectory: t.csv}\n");
    akt_outputs *o = akt_outputs_alloc(&spec, &data, &err);
    CHECK(o != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/k.csv", directory);
    CHECK(!strcmp(akt_outputs_kernels_path(o), path));
    CHECK(akt_outputs_wants_kernels(o, AKT_REGIME_SOURCE));
    CHECK(!akt_outputs_wants_kernels(o, AKT_REGIME_READOUT));
    CHECK(!akt_outputs_wants_trajectory(o, AKT_REGIME_READOUT));

    /* source points: its training split (5) and the target split (3, chosen and readout's) */
    bool splits[AKT_POINTS_COUNT];
    size_t M;
    akt_outputs_kernel_splits(o, AKT_REGIME_SOURCE, splits, &M);
    CHECK(M == 8 && splits[0] && splits[1] && !splits[2] && !splits[3]);
    double B[64], Phi[64], G[64];
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < M; j++)
            B[i * M + j] = 1.0 + (i == j) + 0.1 * (double)(i + j);
    for (int estimate = 1; estimate <= 3; estimate += 2) {
        for (size_t i = 0; i < M * M; i++) {
            Phi[i] = estimate * B[i];
            G[i] = 0.5 * estimate * B[i];
        }
        CHECK(akt_outputs_add_kernels(o, AKT_REGIME_SOURCE, Phi, G, &err) == AKT_OK);
    }
    /* trajectory rows in a scrambled order */
    CHECK(akt_outputs_add_losses(o, AKT_REGIME_JOINT, 1, 0.0, 5.0, 6.0, NULL, &err) == AKT_OK);
    CHECK(akt_outputs_add_losses(o, AKT_REGIME_SOURCE, 1, 0.0, 3.0, 4.0, NULL, &err) == AKT_OK);
    CHECK(akt_outputs_add_losses(o, AKT_REGIME_SOURCE, 0, 0.0, 1.0, 2.0, NULL, &err) == AKT_OK);
    CHECK(akt_outputs_add_losses(o, AKT_REGIME_SOURCE, 0, 0.5, 0.25, 0.125, NULL, &err) == AKT_OK);
    CHECK(akt_outputs_add_losses(o, AKT_REGIME_READOUT, 0, 0.0, 1.0, 1.0, NULL, &err) == AKT_ERR_INPUT);
    CHECK(akt_outputs_write(o, &err) == AKT_OK);

    char value[128], error[128];
    /* target row 1, column 2 sits at 5 + 1, 5 + 2 of the source's point set */
    double b = B[6 * M + 7];
    CHECK(find_line(path, "source,Phi,target,1,target,2,", value, error) == 0);
    CHECK_RELATIVE(strtod(value, NULL), 2.0 * b, 1e-15);
    CHECK_RELATIVE(strtod(error, NULL), b, 1e-15);
    CHECK(find_line(path, "source,G,target,0,target,1,", value, error) == 0);
    CHECK_RELATIVE(strtod(value, NULL), B[5 * M + 6], 1e-15); /* mean of 0.5 B and 1.5 B */
    CHECK(find_line(path, "readout,Phi,target,1,target,2,", value, error) == 0);
    CHECK_RELATIVE(strtod(value, NULL), 2.0 * b, 1e-15);
    CHECK(find_line(path, "readout,G,", value, error) == -1);
    CHECK(find_line(path, "source,Phi,source,0,source,0,", value, error) == -1); /* not chosen */
    double block[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            block[i * 5 + j] = B[i * M + j];
    CHECK(find_line(path, "source,alignment_Phi,source,,source,,", value, error) == 0);
    CHECK_RELATIVE(strtod(value, NULL), akt_kernel_alignment(block, data.source.y, 5), 1e-14);
    /* The two estimates are B and 3B and the alignment is scale-invariant, so their spread is
     * round-off: the two alignments are computed from differently rounded products and may
     * differ in the last bits (here they do), never by more. */
    CHECK(error[0] != '\0' && fabs(strtod(error, NULL)) <= 1e-15 * strtod(value, NULL));

    /* a restart forgets the source and the readout it feeds */
    bool source_only[AKT_REGIME_COUNT] = {true, false, false, false};
    akt_outputs_clear(o, source_only);
    CHECK(akt_outputs_add_kernels(o, AKT_REGIME_SOURCE, B, B, &err) == AKT_OK);
    CHECK(akt_outputs_write(o, &err) == AKT_OK);
    CHECK(find_line(path, "readout,Phi,target,1,target,2,", value, error) == 0);
    CHECK_RELATIVE(strtod(value, NULL), b, 1e-15);
    CHECK(error[0] == '\0');

    snprintf(path, sizeof path, "%s/t.csv", directory);
    FILE *file = fopen(path, "r");
    char text[512] = "";
    size_t length = file ? fread(text, 1, sizeof text - 1, file) : 0;
    text[length] = '\0';
    if (file)
        fclose(file);
    /* the cleared source rows are gone; the joint row stays */
    /* the observables' columns follow the losses, empty where nothing was measured */
    CHECK(!strcmp(text, "regime,replica,time,train_loss,test_loss,ntk_alignment_train,"
                        "ntk_alignment_test,feature_alignment_train,feature_alignment_test,"
                        "retention,source_test_loss,hidden_distance,readout_distance,"
                        "feature_learning\njoint,1,0,5,6,,,,,,,,,\n"));
    akt_outputs_free(o);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

static void refusals(void)
{
    const char *cases[][2] = {
        {"solver: {method: lazy}\nsource: {weight_decay: 0}\ntarget: {weight_decay: 0}\n"
         "network: {activation: relu}\noutput: {kernels: k.csv}\n",
         "output.kernels: regime source is served by method lazy"},
        {"network: {activation: relu}\nsolver: {method: auto}\nsource: {time: converge}\n"
         "target: {regimes: [scratch]}\noutput: {trajectory: t.csv}\n",
         "output.trajectory: regime source is served by method convex"},
        {"network: {activation: linear}\nsource: {time: converge}\ntarget: {regimes: [readout]}\n"
         "output: {trajectory: t.csv}\n",
         "output.trajectory: regime source is served by method exact at time converge"},
        {"output: {kernels: no/such/dir/k.csv}\n", "output.kernels: cannot write"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        akt_spec spec;
        akt_data data;
        akt_error err = {0, ""};
        load(&spec, &data, cases[i][0]);
        CHECK(akt_outputs_alloc(&spec, &data, &err) == NULL);
        if (err.status != AKT_ERR_INPUT || !strstr(err.message, cases[i][1]))
            fprintf(stderr, "case %zu: %s\n", i, err.message);
        CHECK(err.status == AKT_ERR_INPUT && strstr(err.message, cases[i][1]));
        akt_data_free(&data);
        akt_spec_free(&spec);
    }
}

int main(void)
{
    if (!mkdtemp(directory))
        return 1;
    alignment_closed_forms();
    clock_bound();
    kernels_and_rows();
    refusals();
    char path[512];
    snprintf(path, sizeof path, "%s/k.csv", directory);
    unlink(path);
    snprintf(path, sizeof path, "%s/t.csv", directory);
    unlink(path);
    rmdir(directory);
    return check_finish();
}
