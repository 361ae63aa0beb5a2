/* stability_probe.c: what the joint (or scratch) state's stability test measures, on any spec
 * (docs/stability.md). Not a test: a measuring tool, built beside the tests.
 *
 *   stability_probe SPEC [--set key=value ...] [--state joint|scratch] [--replica R]
 *                   [--kicks 1e-6,1e-4] [--extra 10] [--continue K] [--chunks C]
 *
 * Per kick size: the source phase (once, kept), the target phase of the spec from its start for
 * target.time, then akt_population_stability_measure: d0, d_half, d1, noise, growth, verdict.
 * With --continue K > 1: the same target state is then run on to K times target.time in C
 * chunks, printing the test and train losses and how far the test predictions moved per chunk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/spec.h"
#include "helpers.h"

#define MAX_SETS 32
#define MAX_KICKS 16

static double mse(const double *f, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (f[i] - y[i]) * (f[i] - y[i]);
    return n ? s / (double)n : 0.0;
}

static double rms_diff(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return n ? sqrt(s / (double)n) : 0.0;
}

static int fail(const akt_error *err)
{
    fprintf(stderr, "stability_probe: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *sets[MAX_SETS], *spec_path = NULL;
    size_t nsets = 0, nkicks = 0;
    double kicks[MAX_KICKS], extra = 10.0, cont = 1.0;
    int chunks = 5;
    unsigned long replica = 0;
    bool joint = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc && nsets < MAX_SETS)
            sets[nsets++] = argv[++i];
        else if (!strcmp(argv[i], "--state") && i + 1 < argc)
            joint = !strcmp(argv[++i], "joint");
        else if (!strcmp(argv[i], "--replica") && i + 1 < argc)
            replica = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--extra") && i + 1 < argc)
            extra = atof(argv[++i]);
        else if (!strcmp(argv[i], "--continue") && i + 1 < argc)
            cont = atof(argv[++i]);
        else if (!strcmp(argv[i], "--chunks") && i + 1 < argc)
            chunks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kicks") && i + 1 < argc) {
            for (char *tok = strtok(argv[++i], ","); tok && nkicks < MAX_KICKS;
                 tok = strtok(NULL, ","))
                kicks[nkicks++] = atof(tok);
        } else if (!spec_path)
            spec_path = argv[i];
        else {
            fprintf(stderr, "stability_probe: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!spec_path) {
        fprintf(stderr, "usage: stability_probe SPEC [--set k=v ...] [--state joint|scratch] "
                        "[--replica R] [--kicks a,b] [--extra T] [--continue K] [--chunks C]\n");
        return 2;
    }
    if (nkicks == 0)
        kicks[nkicks++] = 1e-2;
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    if (akt_spec_load(&spec, spec_path, sets, nsets, &err) != AKT_OK ||
        akt_data_load(&data, &spec, &err) != AKT_OK)
        return fail(&err);
    akt_population *pop = akt_population_alloc(&data, spec.network.activation,
                                               (size_t)spec.solver.neurons, &err);
    if (!pop)
        return fail(&err);
    akt_population_phase source, target;
    test_spec_phases(&spec, &source, &target);
    akt_population_run run;
    akt_population_sample(pop, spec.seed, replica);
    if (akt_population_run_source(pop, &source, &run, &err) != AKT_OK)
        return fail(&err);
    akt_population_source *kept = akt_population_source_save(pop, &err);
    if (!kept)
        return fail(&err);
    size_t Mt = data.test.rows, P2 = data.target.rows;
    double *f = malloc((Mt + P2 + 1) * sizeof *f), *f_prev = malloc((Mt + 1) * sizeof *f);
    if (!f || !f_prev)
        return 1;
    for (size_t k = 0; k < nkicks; k++) {
        akt_population_sample(pop, spec.seed, replica);
        if (akt_population_source_restore(pop, kept, &err) != AKT_OK)
            return fail(&err);
        int status = joint ? akt_population_start_joint(pop, spec.target.readout_init, &err)
                           : akt_population_start_scratch(pop, &err);
        if (status != AKT_OK || akt_population_run_target(pop, &target, &run, &err) != AKT_OK)
            return fail(&err);
        if (akt_population_predict(pop, AKT_POINTS_TEST, f, &err) != AKT_OK)
            return fail(&err);
        double test = mse(f, data.test.y, Mt);
        if (akt_population_predict(pop, AKT_POINTS_TARGET_TRAIN, f, &err) != AKT_OK)
            return fail(&err);
        double train = mse(f, data.target.y, P2);
        if (k == 0 && cont > 1.0) {
            /* the plain flow, run on from the same state */
            printf("continue t %.4g test %.8f train %.8f\n", target.time, test, train);
            if (akt_population_predict(pop, AKT_POINTS_TEST, f_prev, &err) != AKT_OK)
                return fail(&err);
            akt_population_phase more = target;
            more.time = (cont - 1.0) * target.time / chunks;
            for (int c = 1; c <= chunks; c++) {
                if (akt_population_run_target(pop, &more, &run, &err) != AKT_OK)
                    return fail(&err);
                if (akt_population_predict(pop, AKT_POINTS_TEST, f, &err) != AKT_OK)
                    return fail(&err);
                double moved = rms_diff(f, f_prev, Mt);
                double tl = mse(f, data.test.y, Mt);
                memcpy(f_prev, f, Mt * sizeof *f);
                if (akt_population_predict(pop, AKT_POINTS_TARGET_TRAIN, f, &err) != AKT_OK)
                    return fail(&err);
                printf("continue t %.4g test %.8f train %.8f moved %.3e steps %ld\n",
                       akt_population_time(pop), tl, mse(f, data.target.y, P2), moved, run.steps);
            }
            fflush(stdout);
            /* back to the state at target.time for the kicks */
            akt_population_sample(pop, spec.seed, replica);
            if (akt_population_source_restore(pop, kept, &err) != AKT_OK)
                return fail(&err);
            status = joint ? akt_population_start_joint(pop, spec.target.readout_init, &err)
                           : akt_population_start_scratch(pop, &err);
            if (status != AKT_OK || akt_population_run_target(pop, &target, &run, &err) != AKT_OK)
                return fail(&err);
        }
        akt_population_stability_report r;
        akt_stability stable;
        if (akt_population_stability_measure(pop, &target, extra, kicks[k], &r, &stable, &err) !=
            AKT_OK)
            return fail(&err);
        printf("kick %.1e test %.8f train %.8f d0 %.3e d_half %.3e d1 %.3e noise %.3e "
               "growth %.3e half_ratio %.3f s0 %.3e s_half %.3e s1 %.3e sgrowth %.3e "
               "s_half_ratio %.3f floor %.3e stable %d\n",
               kicks[k], test, train, r.d0, r.d_half, r.d1, r.noise, r.growth, r.d1 / r.d_half,
               r.s0, r.s_half, r.s1, r.s1 / r.s0, r.s1 / r.s_half, r.floor1, stable);
        if (cont > 1.0 && cont * target.time > target.time + extra) {
            /* the kicked copy (the state the test leaves) run on to cont x target.time */
            akt_population_phase more = target;
            more.time = cont * target.time - akt_population_time(pop);
            if (akt_population_run_target(pop, &more, &run, &err) != AKT_OK ||
                akt_population_predict(pop, AKT_POINTS_TEST, f, &err) != AKT_OK)
                return fail(&err);
            printf("kicked %.1e continued t %.4g test %.8f\n", kicks[k], akt_population_time(pop),
                   mse(f, data.test.y, Mt));
        }
        fflush(stdout);
    }
    free(f);
    free(f_prev);
    akt_population_source_free(kept);
    akt_population_free(pop);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return 0;
}
