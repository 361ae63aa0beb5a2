/* test_source_cache.c: source phases shared between solves (akt_solver_set_cache, akt sweep).
 *
 * The claim under test: a solve that reuses a kept source phase gives exactly the rows of an
 * independent akt_solve on freshly loaded data. The comparison is bit for bit (tolerance 0), not
 * to a loose round-off: a reuse restores the very floating-point source state the fresh run ends
 * with (exact: the moment matrix, which the flow keeps exactly symmetric; population: the
 * per-replica (a, z)) and recomputes everything else (h0 from the same w0 stream, h_s on the
 * target points, every target regime) by the same code on the same inputs, with one OpenBLAS
 * thread (meson.build sets OPENBLAS_NUM_THREADS=1), so any difference at all is a bug (e.g. a
 * key that misses a setting the source depends on). Counts of hits and misses show that each
 * distinct source phase ran once; changing any source setting, or the source data bytes under
 * unchanged keys, must miss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../../src/solve/source_cache.h"
#include "akt/population.h"
#include "akt/resources.h"
#include "akt/sweep.h"
#include "akt/solve.h"

/* Linear network, solved exactly (moment closure): the source phase is a finite-time flow. */
/* A solve with the cache set on its solver. */
static int solve_cached(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                        akt_solution *solution, akt_error *err)
{
    akt_solver *solver = akt_solver_alloc(spec, data, err);
    if (!solver)
        return err->status;
    akt_solver_set_cache(solver, cache);
    int status = akt_solver_run(solver, solution, err);
    akt_solver_free(solver);
    return status;
}

static const char linear_yaml[] =
    "seed: 5\n"
    "data: {task: linear, dim: 10, alignment: 0.5, noise: 0.1,\n"
    "       source: {samples: 30}, target: {samples: 8}, test: {samples: 50}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 3}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0.05, time: 3,\n"
    "         readout_decay: 0.01}\n"
    "solver: {method: exact}\n";

/* Relu network, population method, small enough for the default suite (S = 128, P <= 24). */
static const char relu_yaml[] =
    "seed: 7\n"
    "data: {task: polynomial, dim: 8, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 24}, target: {samples: 10}, test: {samples: 60}}\n"
    "network: {activation: relu}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 2}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0.05, time: 2,\n"
    "         elastic: 0.5, readout_decay: 0.1}\n"
    "solver: {method: population, neurons: 128, replicas: 2, step_tolerance: 1.0e-2,"
    " estimate_errors: false}\n";

static int load(akt_spec *spec, const char *yaml, const char *const *overrides, size_t count)
{
    akt_error err = {0};
    int status = akt_spec_load_string(spec, yaml, "test", ".", overrides, count, &err);
    if (status != AKT_OK)
        fprintf(stderr, "spec: %s\n", err.message);
    return status;
}

static bool same_number(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Every field of every row but seconds, bit for bit. */
static bool same_rows(const akt_solution *a, const akt_solution *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const akt_result *x = &a->results[i], *y = &b->results[i];
        if (x->regime != y->regime || x->method != y->method || x->converged != y->converged ||
            x->stable != y->stable || x->iterations != y->iterations ||
            !same_number(x->test_loss, y->test_loss) ||
            !same_number(x->train_loss, y->train_loss) ||
            !same_number(x->mc_error, y->mc_error) || !same_number(x->residual, y->residual)) {
            fprintf(stderr, "row %zu (%s): test_loss %.17g vs %.17g, train_loss %.17g vs %.17g\n",
                    i, akt_regime_name(x->regime), x->test_loss, y->test_loss, x->train_loss,
                    y->train_loss);
            return false;
        }
    }
    return true;
}

/* An independent solve: its own data, no cache. */
static int fresh_solve(const akt_spec *spec, akt_solution *solution)
{
    akt_data data;
    akt_error err = {0};
    int status = akt_data_load(&data, spec, &err);
    if (status == AKT_OK)
        status = akt_solve(spec, &data, solution, &err);
    if (status != AKT_OK)
        fprintf(stderr, "fresh solve: %s\n", err.message);
    akt_data_free(&data);
    return status;
}

/* Runs every point of the grid of (yaml + axes) through one sweep solver (data and source
 * reuse) and compares each with a fresh solve; returns the cache's counts. */
static void sweep_against_fresh(const char *yaml, const char *const *axes, size_t axis_count,
                                akt_source_cache_stats *stats)
{
    akt_spec spec;
    CHECK(load(&spec, yaml, axes, axis_count) == AKT_OK);
    akt_sweep_grid grid;
    akt_error err = {0};
    CHECK(akt_sweep_grid_init(&grid, &spec, &err) == AKT_OK);
    akt_sweep_solver solver;
    akt_sweep_solver_init(&solver, &grid);
    double run_seconds[16]; /* the source rows' seconds of the points that ran their source */
    size_t runs = 0;
    for (size_t point = 0; point < grid.point_count; point++) {
        akt_solution swept, fresh;
        akt_spec point_spec;
        akt_source_cache_stats before;
        akt_source_cache_statistics(solver.sources, &before);
        CHECK(akt_sweep_solve_point(&solver, point, &swept, &err) == AKT_OK);
        CHECK(akt_sweep_point_spec(&grid, point, &point_spec, &err) == AKT_OK);
        CHECK(fresh_solve(&point_spec, &fresh) == AKT_OK);
        CHECK(same_rows(&swept, &fresh));
        /* A reused source row is the kept one, seconds included (solve.h). */
        akt_source_cache_statistics(solver.sources, stats);
        if (stats->hits > before.hits) {
            bool found = false;
            for (size_t k = 0; k < runs; k++)
                found = found || swept.results[0].seconds == run_seconds[k];
            CHECK(found);
        } else if (runs < 16) {
            run_seconds[runs++] = swept.results[0].seconds;
        }
        akt_spec_free(&point_spec);
    }
    akt_source_cache_statistics(solver.sources, stats);
    CHECK(stats->entries <= AKT_SOURCE_CACHE_CAPACITY);
    akt_sweep_solver_free(&solver);
    akt_sweep_grid_free(&grid);
    akt_spec_free(&spec);
}

static void test_exact_target_keys(void)
{
    const char *axes[] = {"sweep.target.gamma=[0.5, 1.0]", "sweep.target.elastic=[0, 0.5]",
                          "sweep.target.readout_decay=[0, 0.1]"};
    akt_source_cache_stats stats;
    sweep_against_fresh(linear_yaml, axes, 3, &stats);
    CHECK(stats.misses == 1 && stats.hits == 7); /* one source phase for 8 points */
}

static void test_exact_target_data(void)
{
    /* data.target.samples and data.alignment reload the data (new target and test splits) but
     * leave the source split's bytes unchanged (README, "How the data are drawn"). */
    const char *axes[] = {"sweep.data.target.samples=[5, 8]", "sweep.data.alignment=[0.2, 0.8]"};
    akt_source_cache_stats stats;
    sweep_against_fresh(linear_yaml, axes, 2, &stats);
    CHECK(stats.misses == 1 && stats.hits == 3);
}

static void test_exact_converged_source(void)
{
    /* time converge: the kept state is the adaptive-ridge fixed point. */
    const char *axes[] = {"source.time=converge", "target.regimes=[scratch, readout]",
                          "sweep.target.readout_decay=[0, 0.1, 1]"};
    akt_source_cache_stats stats;
    sweep_against_fresh(linear_yaml, axes, 3, &stats);
    CHECK(stats.misses == 1 && stats.hits == 2);
}

static void test_population(void)
{
    /* New target splits (h_s recomputed on their points from the kept (a, z) and the same w0)
     * and a target key, 4 points, one source phase. */
    const char *axes[] = {"sweep.data.target.samples=[6, 12]", "sweep.target.gamma=[0.5, 1.0]"};
    akt_source_cache_stats stats;
    sweep_against_fresh(relu_yaml, axes, 2, &stats);
    CHECK(stats.misses == 1 && stats.hits == 3);
}

static void test_source_axis(void)
{
    /* A source key misses: two source phases for source.gamma x target.gamma. */
    const char *axes[] = {"sweep.source.gamma=[0.5, 1.0]", "sweep.target.gamma=[0.5, 1.0]"};
    akt_source_cache_stats stats;
    sweep_against_fresh(linear_yaml, axes, 2, &stats);
    CHECK(stats.misses == 2 && stats.hits == 2);
}

/* Solves spec (+ one override) on data with the cache; true when the source phase was reused. */
static bool reused(akt_source_cache *cache, const char *yaml, const char *override,
                   const akt_data *data)
{
    akt_spec spec;
    if (load(&spec, yaml, override ? &override : NULL, override ? 1 : 0) != AKT_OK)
        return false;
    akt_source_cache_stats before, after;
    akt_source_cache_statistics(cache, &before);
    akt_solution solution;
    akt_error err = {0};
    CHECK(solve_cached(&spec, data, cache, &solution, &err) == AKT_OK);
    akt_source_cache_statistics(cache, &after);
    akt_spec_free(&spec);
    CHECK(after.hits + after.misses == before.hits + before.misses + 1);
    return after.hits == before.hits + 1;
}

static int load_data(const char *yaml, akt_data *data)
{
    akt_spec spec;
    akt_error err = {0};
    int status = load(&spec, yaml, NULL, 0);
    if (status == AKT_OK)
        status = akt_data_load(data, &spec, &err);
    akt_spec_free(&spec);
    return status;
}

static void test_misses(void)
{
    akt_data data;
    CHECK(load_data(linear_yaml, &data) == AKT_OK);
    akt_error err = {0};
    akt_source_cache *cache = akt_source_cache_alloc(16, &err);
    CHECK(cache != NULL);
    CHECK(!reused(cache, linear_yaml, NULL, &data));
    CHECK(reused(cache, linear_yaml, NULL, &data));
    CHECK(reused(cache, linear_yaml, "target.time=5", &data));
    /* Every source setting is part of the key (each miss is kept, so check against the base
     * spec again afterwards: it is still there). */
    const char *source_changes[] = {"source.gamma=0.9", "source.weight_decay=0.04",
                                    "source.time=4", "solver.step_tolerance=5.0e-5",
                                    "solver.min_step=1.0e-10", "network.center=true"};
    for (size_t i = 0; i < sizeof source_changes / sizeof source_changes[0]; i++) {
        CHECK(!reused(cache, linear_yaml, source_changes[i], &data));
        CHECK(reused(cache, linear_yaml, source_changes[i], &data));
    }
    CHECK(reused(cache, linear_yaml, NULL, &data));
    /* Same keys, other source bytes: the data are compared, not inferred from the keys. */
    double saved = data.source.y[3];
    data.source.y[3] = nextafter(saved, INFINITY);
    CHECK(!reused(cache, linear_yaml, NULL, &data));
    data.source.y[3] = saved;
    saved = data.source_test.x[7];
    data.source_test.x[7] = nextafter(saved, -INFINITY);
    CHECK(!reused(cache, linear_yaml, NULL, &data));
    data.source_test.x[7] = saved;
    /* Target bytes do not matter to the source. */
    data.target.y[0] += 1.0;
    CHECK(reused(cache, linear_yaml, NULL, &data));
    akt_source_cache_free(cache);
    akt_data_free(&data);

    /* Population: neurons and replicas are part of the key too. */
    CHECK(load_data(relu_yaml, &data) == AKT_OK);
    cache = akt_source_cache_alloc(4, &err);
    CHECK(!reused(cache, relu_yaml, NULL, &data));
    CHECK(!reused(cache, relu_yaml, "solver.neurons=64", &data));
    CHECK(!reused(cache, relu_yaml, "solver.replicas=1", &data));
    CHECK(reused(cache, relu_yaml, "target.elastic=0", &data));
    akt_source_cache_free(cache);
    akt_data_free(&data);
}

static void test_capacity_and_memory(void)
{
    akt_data data;
    CHECK(load_data(relu_yaml, &data) == AKT_OK);
    akt_error err = {0};
    CHECK(akt_source_cache_alloc(0, &err) == NULL && err.status == AKT_ERR_INPUT);
    /* Capacity 1, sources A, B, A: B evicts A, so three runs; capacity 2 keeps both. */
    for (size_t capacity = 1; capacity <= 2; capacity++) {
        akt_source_cache *cache = akt_source_cache_alloc(capacity, &err);
        CHECK(!reused(cache, relu_yaml, NULL, &data));
        CHECK(!reused(cache, relu_yaml, "source.gamma=0.5", &data));
        CHECK(reused(cache, relu_yaml, NULL, &data) == (capacity == 2));
        akt_source_cache_stats stats;
        akt_source_cache_statistics(cache, &stats);
        CHECK(stats.entries == capacity);
        /* A population entry holds replicas x S (P1 + 1) doubles and copies of the source and
         * source-test splits ((P1 + Ms)(D + 1) doubles). */
        double entry = 2.0 * akt_population_source_gib(128, 24) +
                       (24.0 + 60.0) * 9.0 * sizeof(double) / (1024.0 * 1024.0 * 1024.0);
        CHECK_RELATIVE(stats.gib, (double)capacity * entry, 1e-12);
        /* ... which is what the memory estimate plans for, before the solve. */
        akt_spec spec;
        CHECK(load(&spec, relu_yaml, NULL, 0) == AKT_OK);
        CHECK_RELATIVE((double)spec.solver.replicas * akt_method_population.source_state_gib(&spec, &data),
                       2.0 * akt_population_source_gib(128, 24), 1e-12);
        akt_spec_free(&spec);
        /* A solve whose own estimate exceeds the machine keeps nothing and drops what is held:
         * the cache never adds to what the memory refusal allows. */
        CHECK(!akt_source_cache_reserve(cache, &data, 1e12, 0.0));
        akt_source_cache_statistics(cache, &stats);
        CHECK(stats.entries == 0 && stats.gib == 0.0);
        akt_source_cache_free(cache);
    }
    akt_data_free(&data);

    /* Exact: the kept moment matrix is the (1 + D)^2 doubles the estimate plans for. */
    CHECK(load_data(linear_yaml, &data) == AKT_OK);
    akt_source_cache *cache = akt_source_cache_alloc(1, &err);
    CHECK(!reused(cache, linear_yaml, NULL, &data));
    akt_spec spec;
    CHECK(load(&spec, linear_yaml, NULL, 0) == AKT_OK);
    akt_source_cache_stats stats;
    akt_source_cache_statistics(cache, &stats);
    CHECK_RELATIVE(akt_method_exact.source_state_gib(&spec, &data),
                   11.0 * 11.0 * sizeof(double) / (1024.0 * 1024.0 * 1024.0), 1e-12);
    CHECK_RELATIVE(stats.gib, (11.0 * 11.0 + (30.0 + 50.0) * 11.0) * sizeof(double) /
                                  (1024.0 * 1024.0 * 1024.0), 1e-12);
    akt_spec_free(&spec);
    akt_source_cache_free(cache);
    akt_data_free(&data);
}

int main(void)
{
    test_exact_target_keys();
    test_exact_target_data();
    test_exact_converged_source();
    test_population();
    test_source_axis();
    test_misses();
    test_capacity_and_memory();
    return check_finish();
}
