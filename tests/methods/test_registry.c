/* test_registry.c: a method added from outside the library runs through the same protocol.
 *
 * A constant predictor (every phase predicts the mean of its training labels; its source kernel
 * is the all-ones kernel, so the readout regime is the ridge fit of a constant) is written as one
 * akt_method_type, registered through the public API and named in a spec. Its losses have a
 * closed form the test computes itself from the data: mean (ybar - y)^2 on each split, and for
 * the readout regime c = sum(y2) / (P2 + lambda_r), the ridge solution on the all-ones kernel
 * (K = 11', alpha = (11' + lambda I)^{-1} y2, f = 1'alpha = sum(y2) / (P2 + lambda) by
 * Sherman-Morrison). The registry's checks (unknown names with file:line:column and a
 * suggestion, duplicates, auto never choosing a registered method) are tested too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/method.h"
#include "akt/solve.h"
#include "akt/spec.h"

typedef struct {
    const akt_data *data;
    int phases;          /* operations called, to see the protocol drive them */
} constant_state;

static double mean_of(const double *y, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += y[i];
    return sum / (double)n;
}

static double constant_loss(double c, const double *y, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (c - y[i]) * (c - y[i]);
    return sum / (double)n;
}

static void *constant_alloc(const akt_method_problem *problem, akt_error *err)
{
    (void)err;
    constant_state *state = calloc(1, sizeof *state);
    if (state)
        state->data = problem->data;
    return state;
}

static void constant_free(void *state)
{
    free(state);
}

static int constant_phase(constant_state *state, const akt_split *train, const akt_split *test,
                          akt_result *result)
{
    double c = mean_of(train->y, train->rows);
    result->train_loss = constant_loss(c, train->y, train->rows);
    result->test_loss = constant_loss(c, test->y, test->rows);
    result->converged = true;
    state->phases++;
    return AKT_OK;
}

static int constant_source(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    (void)err;
    constant_state *s = state;
    return constant_phase(s, &s->data->source, &s->data->source_test, result);
}

static int constant_target(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    (void)err;
    constant_state *s = state;
    return constant_phase(s, &s->data->target, &s->data->test, result);
}

static int constant_kernel(void *state, size_t replica, double *K, double *K_cross,
                           akt_error *err)
{
    (void)replica;
    (void)err;
    constant_state *s = state;
    size_t P = s->data->target.rows, M = P + s->data->test.rows;
    for (size_t i = 0; i < P * P; i++)
        K[i] = 1.0;
    for (size_t i = 0; i < M * P; i++)
        K_cross[i] = 1.0;
    s->phases++;
    return AKT_OK;
}

static const akt_method_type constant_method = {
    .name = "constant",
    .alloc = constant_alloc,
    .free = constant_free,
    .source = constant_source,
    .scratch = constant_target,
    .readout_kernel = constant_kernel,
    .joint = constant_target,
};

static const char *problem_yaml =
    "seed: 3\n"
    "data: {task: linear, dim: 6, alignment: 0.5, noise: 0.1, source: {samples: 40},\n"
    "       target: {samples: 12}, test: {samples: 200}}\n"
    "network: {activation: relu}\n"
    "target: {regimes: [scratch, readout, joint], readout_decay: 0.5}\n"
    "solver:\n"
    "  method: constant\n";

static void solves_through_the_protocol(void)
{
    akt_error err = {0};
    CHECK(akt_method_register(&constant_method, &err) == AKT_OK);
    CHECK(akt_method_find("constant") == &constant_method);

    akt_spec spec;
    akt_data data;
    CHECK(akt_spec_load_string(&spec, problem_yaml, "constant.yaml", ".", NULL, 0, &err) == AKT_OK);
    CHECK(akt_method_check_name(&spec, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    akt_solution solution;
    CHECK(akt_solve(&spec, &data, &solution, &err) == AKT_OK);
    CHECK(solution.count == 4);

    double source = mean_of(data.source.y, data.source.rows);
    double target = mean_of(data.target.y, data.target.rows);
    double sum = target * (double)data.target.rows;
    double readout = sum / ((double)data.target.rows + spec.target.readout_decay);
    double expected_test[4] = {constant_loss(source, data.source_test.y, data.source_test.rows),
                               constant_loss(target, data.test.y, data.test.rows),
                               constant_loss(readout, data.test.y, data.test.rows),
                               constant_loss(target, data.test.y, data.test.rows)};
    double expected_train[4] = {constant_loss(source, data.source.y, data.source.rows),
                                constant_loss(target, data.target.y, data.target.rows),
                                constant_loss(readout, data.target.y, data.target.rows),
                                constant_loss(target, data.target.y, data.target.rows)};
    for (size_t k = 0; k < solution.count; k++) {
        const akt_result *r = &solution.results[k];
        CHECK(r->regime == (akt_regime)k);
        CHECK(!strcmp(r->method, "constant"));
        CHECK(r->converged && isnan(r->mc_error) && r->stable == AKT_STABLE_UNTESTED);
        CHECK_RELATIVE(r->test_loss, expected_test[k], 1e-12);
        CHECK_RELATIVE(r->train_loss, expected_train[k], 1e-12);
    }

    /* A source cache or outputs are options of the solver; this method keeps no source, so a
     * cache sees nothing to reuse and the rows are the same. */
    akt_source_cache *cache = akt_source_cache_alloc(1, &err);
    akt_solver *solver = akt_solver_alloc(&spec, &data, &err);
    CHECK(cache && solver && akt_solver_method(solver, AKT_REGIME_JOINT) == &constant_method);
    akt_solver_set_cache(solver, cache);
    akt_solution again;
    CHECK(akt_solver_run(solver, &again, &err) == AKT_OK);
    CHECK(again.count == 4 && again.results[2].test_loss == solution.results[2].test_loss);
    akt_source_cache_stats stats;
    akt_source_cache_statistics(cache, &stats);
    CHECK(stats.hits == 0 && stats.misses == 0 && stats.entries == 0);
    akt_solver_free(solver);
    akt_source_cache_free(cache);

    /* auto never picks a registered method: linear activation is still exact. */
    const akt_method_type *chosen = NULL;
    CHECK(akt_spec_set(&spec, "solver.method=auto", &err) == AKT_OK);
    CHECK(akt_spec_set(&spec, "network.activation=linear", &err) == AKT_OK);
    CHECK(akt_method_resolve(&spec, AKT_REGIME_SCRATCH, &chosen, &err) == AKT_OK);
    CHECK(chosen == &akt_method_exact);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

static void registry_refusals(void)
{
    akt_error err = {0};
    CHECK(akt_method_register(&constant_method, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "already registered") != NULL);
    akt_method_type nameless = constant_method;
    nameless.name = "Bad Name";
    CHECK(akt_method_register(&nameless, &err) == AKT_ERR_INPUT);

    /* An unknown name is refused where it was written, with the closest name. */
    akt_spec spec;
    const char *yaml = "solver:\n  method: constnat\n";
    CHECK(akt_spec_load_string(&spec, yaml, "typo.yaml", ".", NULL, 0, &err) == AKT_OK);
    CHECK(akt_method_check_name(&spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "typo.yaml:2:11: solver.method: unknown value 'constnat'") != NULL);
    CHECK(strstr(err.message, "did you mean 'constant'?") != NULL);
    akt_spec_free(&spec);
    const char *overrides[] = {"solver.method=exakt"};
    CHECK(akt_spec_load_string(&spec, "", "empty.yaml", ".", overrides, 1, &err) == AKT_OK);
    CHECK(akt_method_check_name(&spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "--set solver.method=exakt: solver.method: unknown value 'exakt'"));
    CHECK(strstr(err.message, "did you mean 'exact'?") != NULL);
    akt_spec_free(&spec);
}

int main(void)
{
    solves_through_the_protocol();
    registry_refusals();
    return check_finish();
}
