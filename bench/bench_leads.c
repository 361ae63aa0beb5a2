/* bench_leads.c: issue 13's remaining integrator leads, measured (bench/RESULTS.md, "Issue 13:
 * remaining leads"). One relu source phase of the spec (default bench/specs/grid_relu.yaml,
 * data.source.samples = P), akt's population (replica 0 of the spec's seed, as bench_grid's
 * ladder), test loss on the source-test split.
 *
 * --richardson: Richardson extrapolation in the step, in a controlled form. For each mesh
 *   tolerance: an adaptive run at that step_tolerance records its accepted steps (the mesh, by
 *   the population's observer hook); the mesh is then replayed (akt_population_force_steps, every
 *   step accepted) with every step cut into k equal parts, for k = k0 < k1 < k2 of --subdivide
 *   (default 1, 2, 4; the adaptive run itself is not one of them: its rejected attempts leave a
 *   different stale K in the predictor, so it is not the k = 1 member of the family). A mesh
 *   scaled by theta = 1/k has the global error L(theta) - L* = a theta + b theta^2 + ... (first
 *   order from the relu kinks, second from the smooth part):
 *     ratio = (L_k0 - L_k1) / (L_k1 - L_k2)     first order predicts (1/k0-1/k1) / (1/k1-1/k2)
 *     E  = (k2 L_k2 - k1 L_k1) / (k2 - k1)      first-order extrapolation of the two finest
 *     E' = (k1 L_k1 - k0 L_k0) / (k1 - k0)      the same from the two coarsest
 *     estimate = |E - E'| k0 / (k2 - k0)        E's own error under that model
 *   The error model is accepted when the ratio lies within [--band-low, --band-high] (default
 *   0.8 to 1.25) times first order's; then the answer is E with that estimate. Otherwise the
 *   answer falls back to the finest replay with the estimate |L_k1 - L_k2| / (k2/k1 - 1) (its
 *   own error if it is first order). Each row prints the relative error of everything against
 *   the reference (--references, one per P: the Richardson references of the dense ladders in
 *   bench/results/grid_accuracy.csv), and the formula on consecutive adaptive runs
 *   (L = (n2 L2 - n1 L1) / (n2 - n1), n the step counts) for comparison. Cost of the answer: the
 *   mesh run and the three replays.
 * --sampling: fewer neurons for the same error. For each initial law (Gaussian, the default of
 *   akt_population_sample; orthogonal blocks, akt_population_set_sampling) --replicas replicas
 *   r = 0, 1, ... at --tolerance: the variance over replicas of the test loss and the mean over
 *   test points of the variance of the prediction, the seconds per replica, and the figure of
 *   merit variance x seconds (what one unit of mc_error^2 costs; smaller is better).
 *
 * Usage: bench_leads (--richardson | --sampling) [--spec FILE] [--P 300,1000] [--S 1024,256]
 *        [--references 0.8661006008,0.2552278482] [--tolerances 1e-2,3e-3,1e-3]
 *        [--subdivide 1,2,4] [--band-low 0.8] [--band-high 1.25] [--replicas 8]
 *        [--tolerance 1e-3] [--time T] [--csv FILE] [--commit HASH] [--smoke]
 * --S gives one S per P (the ladder's S). Seconds are CPU time (bench_util.h). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/solve.h"
#include "akt/spec.h"

#include "bench_util.h"

#define MAX_LIST 16

typedef struct {
    const char *spec_path, *csv_path, *commit;
    bool richardson, sampling, smoke;
    long P[MAX_LIST], S[MAX_LIST], subdivide[MAX_LIST];
    size_t P_count, S_count, subdivide_count;
    double references[MAX_LIST], tolerances[MAX_LIST];
    size_t reference_count, tolerance_count;
    double band_low, band_high, tolerance, time;
    long replicas;
} leads_options;

static int parse_doubles(const char *text, double *values, size_t capacity, size_t *count)
{
    *count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || *count >= capacity || !(v > 0.0))
            return 1;
        values[(*count)++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return 1;
    }
    return *count ? 0 : 1;
}

static int parse_options(int argc, char **argv, leads_options *o)
{
    memset(o, 0, sizeof *o);
    o->spec_path = "bench/specs/grid_relu.yaml";
    o->band_low = 0.8;
    o->band_high = 1.25;
    o->tolerance = 1e-3;
    o->replicas = 8;
    o->subdivide[0] = 1, o->subdivide[1] = 2, o->subdivide[2] = 4, o->subdivide_count = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool bad = false;
        if (strcmp(a, "--richardson") == 0)
            o->richardson = true;
        else if (strcmp(a, "--sampling") == 0)
            o->sampling = true;
        else if (strcmp(a, "--smoke") == 0)
            o->smoke = true;
        else if (!v)
            bad = true;
        else if (i++, strcmp(a, "--spec") == 0)
            o->spec_path = v;
        else if (strcmp(a, "--csv") == 0)
            o->csv_path = v;
        else if (strcmp(a, "--commit") == 0)
            o->commit = v;
        else if (strcmp(a, "--P") == 0)
            bad = !bench_parse_list(v, o->P, MAX_LIST, &o->P_count);
        else if (strcmp(a, "--S") == 0)
            bad = !bench_parse_list(v, o->S, MAX_LIST, &o->S_count);
        else if (strcmp(a, "--subdivide") == 0)
            bad = !bench_parse_list(v, o->subdivide, MAX_LIST, &o->subdivide_count);
        else if (strcmp(a, "--references") == 0)
            bad = parse_doubles(v, o->references, MAX_LIST, &o->reference_count);
        else if (strcmp(a, "--tolerances") == 0)
            bad = parse_doubles(v, o->tolerances, MAX_LIST, &o->tolerance_count);
        else if (strcmp(a, "--band-low") == 0)
            o->band_low = atof(v);
        else if (strcmp(a, "--band-high") == 0)
            o->band_high = atof(v);
        else if (strcmp(a, "--tolerance") == 0)
            o->tolerance = atof(v);
        else if (strcmp(a, "--time") == 0)
            o->time = atof(v);
        else if (strcmp(a, "--replicas") == 0)
            o->replicas = atol(v);
        else
            bad = true;
        if (bad) {
            fprintf(stderr, "bench_leads: bad option %s (see the file comment)\n", a);
            return 2;
        }
    }
    if (o->smoke) { /* a few seconds: both leads on a tiny problem */
        o->richardson = o->sampling = true;
        o->P[0] = 60, o->P_count = 1;
        o->S[0] = 64, o->S_count = 1;
        o->tolerances[0] = 1e-2, o->tolerance_count = 1;
        o->replicas = 3;
        o->tolerance = 1e-2;
        o->time = 1.0;
    }
    if (o->P_count == 0)
        o->P[0] = 300, o->P[1] = 1000, o->P_count = 2;
    if (o->S_count == 0)
        o->S[0] = 1024, o->S[1] = 256, o->S_count = 2;
    if (o->tolerance_count == 0)
        o->tolerances[0] = 1e-2, o->tolerances[1] = 3e-3, o->tolerances[2] = 1e-3,
        o->tolerance_count = 3;
    if (!o->richardson && !o->sampling) {
        fprintf(stderr, "bench_leads: --richardson or --sampling\n");
        return 2;
    }
    if (o->S_count < o->P_count || o->replicas < 2 || o->subdivide_count != 3 ||
        !(o->subdivide[0] < o->subdivide[1] && o->subdivide[1] < o->subdivide[2])) {
        fprintf(stderr, "bench_leads: one --S per --P, --replicas >= 2, --subdivide three "
                        "increasing values k0 < k1 < k2\n");
        return 2;
    }
    return 0;
}

static int load_problem(const leads_options *o, long P, akt_spec *spec, akt_data *data)
{
    char samples[64], time[64];
    snprintf(samples, sizeof samples, "data.source.samples=%ld", P);
    snprintf(time, sizeof time, "source.time=%g", o->time);
    const char *overrides[2] = {samples, time};
    akt_error err = {0};
    if (akt_spec_load(spec, o->spec_path, overrides, o->time > 0.0 ? 2 : 1, &err) != AKT_OK ||
        akt_data_load(data, spec, &err) != AKT_OK) {
        fprintf(stderr, "bench_leads: %s\n", err.message);
        return 1;
    }
    return 0;
}

/* ---- one run ---------------------------------------------------------------------------------- */

typedef struct {
    double *t;                 /* accepted step end times */
    size_t count, capacity;
} mesh;

static int record_step(void *context, double t, akt_population *pop, akt_error *err)
{
    (void)pop;
    mesh *m = context;
    if (m->count == m->capacity) {
        size_t capacity = m->capacity ? 2 * m->capacity : 256;
        double *grown = realloc(m->t, capacity * sizeof *grown);
        if (!grown)
            return akt_error_set(err, AKT_ERR_MEMORY, "bench_leads: out of memory");
        m->t = grown;
        m->capacity = capacity;
    }
    m->t[m->count++] = t;
    return AKT_OK;
}

typedef struct {
    double test_loss, seconds;
    long attempts;             /* accepted + rejected */
} run_result;

/* One source run of replica `replica`: adaptive at tolerance (recording its mesh if `record`),
 * or replaying `forced` (count steps). f: the test predictions (Mt), may be NULL. */
static int run_once(const akt_spec *spec, const akt_data *data, size_t S, double tolerance,
                    akt_population_sampling sampling, unsigned long replica, mesh *record,
                    const double *forced, size_t count, double *f_out, run_result *out)
{
    akt_error err = {0};
    size_t Mt = data->source_test.rows;
    double *f = malloc((Mt ? Mt : 1) * sizeof *f);
    akt_population *pop = f ? akt_population_alloc(data, spec->network.activation, S, &err) : NULL;
    if (!pop) {
        fprintf(stderr, "bench_leads: %s\n", f ? err.message : "out of memory");
        free(f);
        return 1;
    }
    akt_population_set_sampling(pop, sampling);
    if (record)
        akt_population_set_observer(pop, record_step, record);
    akt_population_phase phase = {spec->source.gamma, spec->source.weight_decay, 0.0,
                                  spec->source.time, tolerance, spec->solver.tolerance,
                                  spec->solver.max_time, spec->solver.min_step};
    akt_population_run run;
    double start = bench_now();
    int status = akt_population_force_steps(pop, forced, count, &err);
    akt_population_sample(pop, spec->seed, replica);
    if (status == AKT_OK)
        status = akt_population_run_source(pop, &phase, &run, &err);
    if (status == AKT_OK)
        status = akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err);
    out->seconds = bench_now() - start;
    if (status == AKT_OK && fabs(run.time - spec->source.time) > 1e-9 * spec->source.time) {
        status = AKT_ERR_NUMERIC;
        snprintf(err.message, sizeof err.message, "the run ended at t = %.12g", run.time);
    }
    if (status == AKT_OK) {
        out->attempts = run.steps + run.rejected;
        out->test_loss = akt_mean_squared_error(f, data->source_test.y, Mt);
        if (f_out)
            memcpy(f_out, f, Mt * sizeof *f);
    } else {
        fprintf(stderr, "bench_leads: run: %s\n", err.message);
    }
    free(f);
    akt_population_free(pop);
    return status == AKT_OK ? 0 : 1;
}

/* ---- lead (a): Richardson in the step ------------------------------------------------------- */

static const char richardson_header[] =
    "P,S,T,tolerance,mesh_attempts,mesh_loss,k0,k1,k2,steps_0,steps_1,steps_2,L0,L1,L2,ratio,"
    "ratio_over_first_order,extrapolated,estimate,accepted,answer,answer_estimate,answer_steps,"
    "reference,error_mesh,error_0,error_1,error_2,error_extrapolated,error_answer,seconds_mesh,"
    "seconds_0,seconds_1,seconds_2\n";

/* The mesh m (accepted step end times) with every step cut into `cut` equal parts. */
static double *cut_mesh(const mesh *m, size_t cut)
{
    double *steps = malloc(m->count * cut * sizeof *steps);
    if (!steps)
        return NULL;
    for (size_t s = 0; s < m->count; s++) {
        double from = s ? m->t[s - 1] : 0.0, to = m->t[s];
        for (size_t part = 0; part < cut; part++) /* the parts end on the mesh points exactly */
            steps[s * cut + part] = from + (to - from) * (double)(part + 1) / (double)cut -
                                    (from + (to - from) * (double)part / (double)cut);
    }
    return steps;
}

static int richardson(const leads_options *o, FILE *csv)
{
    const long *kk = o->subdivide;
    printf("\n## Richardson extrapolation in the step (the mesh of an adaptive run, replayed cut "
           "into %ld, %ld, %ld)\n\n", kk[0], kk[1], kk[2]);
    printf("| P | S | mesh tolerance | mesh run: steps, rel. error | replays: steps | rel. error "
           "of L_k0, L_k1, L_k2 | ratio / first order's | model | answer: rel. error (own "
           "estimate) | steps of the answer (mesh run + replays) | issue's 1/steps pair of "
           "adaptive runs: rel. error |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < o->P_count; i++) {
        akt_spec spec;
        akt_data data;
        if (load_problem(o, o->P[i], &spec, &data))
            return 1;
        size_t S = (size_t)o->S[i];
        double T = spec.source.time;
        double reference = i < o->reference_count ? o->references[i] : NAN;
        double previous_L = NAN, previous_steps = NAN;
        for (size_t k = 0; k < o->tolerance_count; k++) {
            mesh m = {0};
            run_result base, r[3];
            int failed = run_once(&spec, &data, S, o->tolerances[k],
                                  AKT_POPULATION_SAMPLING_GAUSSIAN, 0, &m, NULL, 0, NULL, &base);
            for (int j = 0; j < 3 && !failed; j++) {
                double *steps = cut_mesh(&m, (size_t)kk[j]);
                failed = !steps ||
                         run_once(&spec, &data, S, o->tolerances[k],
                                  AKT_POPULATION_SAMPLING_GAUSSIAN, 0, NULL, steps,
                                  m.count * (size_t)kk[j], NULL, &r[j]);
                free(steps);
            }
            free(m.t);
            if (failed) {
                akt_data_free(&data);
                akt_spec_free(&spec);
                return 1;
            }
            double L0 = r[0].test_loss, L1 = r[1].test_loss, L2 = r[2].test_loss;
            double k0 = (double)kk[0], k1 = (double)kk[1], k2 = (double)kk[2];
            /* L(theta) = L* + a theta + b theta^2 at theta = 1/k: first order extrapolates a pair
             * (ka < kb) to (kb L_kb - ka L_ka) / (kb - ka), off by -b / (ka kb) */
            double ratio = (L0 - L1) / (L1 - L2);
            double expected = (1.0 / k0 - 1.0 / k1) / (1.0 / k1 - 1.0 / k2);
            double extrapolated = (k2 * L2 - k1 * L1) / (k2 - k1);
            double coarse = (k1 * L1 - k0 * L0) / (k1 - k0);
            double estimate = fabs(coarse - extrapolated) * k0 / (k2 - k0);
            bool accepted = ratio >= o->band_low * expected && ratio <= o->band_high * expected;
            double answer = accepted ? extrapolated : L2;
            double answer_estimate = accepted ? estimate : fabs(L1 - L2) / (k2 / k1 - 1.0);
            long answer_steps = base.attempts + r[0].attempts + r[1].attempts + r[2].attempts;
            double eb = fabs(base.test_loss - reference) / reference;
            double e0 = fabs(L0 - reference) / reference, e1 = fabs(L1 - reference) / reference,
                   e2 = fabs(L2 - reference) / reference;
            double ee = fabs(extrapolated - reference) / reference;
            double ea = fabs(answer - reference) / reference;
            /* the formula on two adaptive runs: L = (n2 L2 - n1 L1) / (n2 - n1) */
            double n1 = previous_steps, n2 = (double)base.attempts;
            double pair = (n2 * base.test_loss - n1 * previous_L) / (n2 - n1);
            fprintf(csv, "%ld,%zu,%g,%g,%ld,%.10f,%ld,%ld,%ld,%ld,%ld,%ld,%.10f,%.10f,%.10f,%.4f,"
                    "%.4f,%.10f,%.3e,%d,%.10f,%.3e,%ld,%.10f,%.3e,%.3e,%.3e,%.3e,%.3e,%.3e,%.3f,"
                    "%.3f,%.3f,%.3f\n",
                    o->P[i], S, T, o->tolerances[k], base.attempts, base.test_loss, kk[0], kk[1],
                    kk[2], r[0].attempts, r[1].attempts, r[2].attempts, L0, L1, L2, ratio,
                    ratio / expected, extrapolated, estimate, accepted, answer, answer_estimate,
                    answer_steps, reference, eb, e0, e1, e2, ee, ea, base.seconds, r[0].seconds,
                    r[1].seconds, r[2].seconds);
            fflush(csv);
            printf("| %ld | %zu | %g | %ld, %.2e | %ld / %ld / %ld | %.2e, %.2e, %.2e | %.3f | %s "
                   "| %.2e (%.2e) | %ld | ",
                   o->P[i], S, o->tolerances[k], base.attempts, eb, r[0].attempts, r[1].attempts,
                   r[2].attempts, e0, e1, e2, ratio / expected,
                   accepted ? "first order: extrapolated" : "rejected: finest replay", ea,
                   answer_estimate / reference, answer_steps);
            if (isfinite(pair))
                printf("%.2e (%.0f + %.0f steps) |\n", fabs(pair - reference) / reference,
                       previous_steps, n2);
            else
                printf("- |\n");
            fflush(stdout);
            previous_L = base.test_loss;
            previous_steps = n2;
        }
        akt_data_free(&data);
        akt_spec_free(&spec);
    }
    printf("\nrel. error: |L - reference| / reference (reference: --references, the dense "
           "ladder's Richardson value). ratio: (L_k0 - L_k1) / (L_k1 - L_k2) over what first order "
           "predicts (2 for k = 1, 2, 4). answer: the first-order extrapolation of the two finest "
           "replays when that ratio is within [%g, %g], else the finest replay; its own estimate: "
           "|E - E'| k0 / (k2 - k0) (E' the coarse pair's extrapolation), or |L_k1 - L_k2| / "
           "(k2/k1 - 1). Steps: attempts, rejected ones included.\n", o->band_low, o->band_high);
    return 0;
}

/* ---- lead (b): orthogonal blocks ------------------------------------------------------------ */

static const char sampling_header[] =
    "P,S,T,tolerance,sampling,replicas,mean_test_loss,var_test_loss,mean_point_var,"
    "seconds_per_replica,var_x_seconds,point_var_x_seconds\n";

static int sampling(const leads_options *o, FILE *csv)
{
    printf("\n## Initial sampling: Gaussian against orthogonal blocks (%ld replicas, "
           "step_tolerance %g)\n\n", o->replicas, o->tolerance);
    printf("| P | S | sampling | mean test loss (s.e.) | var(test loss) | mean var(f) over test "
           "points | s per replica | var x s | var(f) x s |\n|---|---|---|---|---|---|---|---|---|"
           "\n");
    static const char *names[2] = {"gaussian", "orthogonal"};
    for (size_t i = 0; i < o->P_count; i++) {
        akt_spec spec;
        akt_data data;
        if (load_problem(o, o->P[i], &spec, &data))
            return 1;
        size_t S = (size_t)o->S[i], Mt = data.source_test.rows, R = (size_t)o->replicas;
        double *f = malloc(R * Mt * sizeof *f), *loss = malloc(R * sizeof *loss);
        int failed = !f || !loss;
        for (int law = 0; law < 2 && !failed; law++) {
            double seconds = 0.0;
            for (size_t r = 0; r < R && !failed; r++) {
                run_result out;
                failed = run_once(&spec, &data, S, o->tolerance, (akt_population_sampling)law,
                                  (unsigned long)r, NULL, NULL, 0, f + r * Mt, &out);
                loss[r] = out.test_loss;
                seconds += out.seconds;
            }
            if (failed)
                break;
            double mean = 0.0, var = 0.0, point_var = 0.0;
            for (size_t r = 0; r < R; r++)
                mean += loss[r] / (double)R;
            for (size_t r = 0; r < R; r++)
                var += (loss[r] - mean) * (loss[r] - mean) / (double)(R - 1);
            for (size_t m = 0; m < Mt; m++) {
                double fm = 0.0, v = 0.0;
                for (size_t r = 0; r < R; r++)
                    fm += f[r * Mt + m] / (double)R;
                for (size_t r = 0; r < R; r++)
                    v += (f[r * Mt + m] - fm) * (f[r * Mt + m] - fm) / (double)(R - 1);
                point_var += v / (double)Mt;
            }
            double per = seconds / (double)R;
            fprintf(csv, "%ld,%zu,%g,%g,%s,%zu,%.10f,%.4e,%.4e,%.3f,%.4e,%.4e\n", o->P[i], S,
                    spec.source.time, o->tolerance, names[law], R, mean, var, point_var, per,
                    var * per, point_var * per);
            fflush(csv);
            printf("| %ld | %zu | %s | %.6f (%.1e) | %.3e | %.3e | %.2f | %.3e | %.3e |\n",
                   o->P[i], S, names[law], mean, sqrt(var / (double)R), var, point_var, per,
                   var * per, point_var * per);
            fflush(stdout);
        }
        free(f);
        free(loss);
        akt_data_free(&data);
        akt_spec_free(&spec);
        if (failed)
            return 1;
    }
    printf("\nvar: over the replicas (one replica = S neurons, replicas r = 0, 1, ...); var(f): "
           "the prediction's variance over replicas, averaged over the source-test points. "
           "var x s: what a unit of mc_error^2 costs (smaller is better).\n");
    return 0;
}

static FILE *open_csv(const char *path, const char *header)
{
    if (!path)
        return fopen("/dev/null", "w");
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "bench_leads: cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0)
        fputs(header, f);
    return f;
}

int main(int argc, char **argv)
{
    leads_options o;
    int status = parse_options(argc, argv, &o);
    if (status)
        return status;
    bench_print_machine(stdout, o.commit);
    if (o.richardson) {
        char path[4096];
        snprintf(path, sizeof path, "%s", o.csv_path ? o.csv_path : "");
        FILE *csv = open_csv(o.csv_path ? path : NULL, richardson_header);
        if (!csv)
            return 2;
        status = richardson(&o, csv);
        fclose(csv);
    }
    if (o.sampling && status == 0) {
        char path[4096];
        if (o.csv_path)
            snprintf(path, sizeof path, "%s.sampling.csv", o.csv_path);
        FILE *csv = open_csv(o.csv_path ? path : NULL, sampling_header);
        if (!csv)
            return 2;
        status = sampling(&o, csv);
        fclose(csv);
    }
    return status;
}
