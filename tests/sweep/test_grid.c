/* test_grid.c: sweep grids: value expansion against closed forms, the row-major point order, a
 * spec sweep block combined with command-line axes, up-front validation, and data reuse. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "akt/sweep.h"

static const char tiny_yaml[] =
    "seed: 3\n"
    "data: {task: linear, dim: 10, alignment: 0.5, noise: 0.1,\n"
    "       source: {samples: 30}, target: {samples: 8}, test: {samples: 50}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 5}\n"
    "target: {regimes: [scratch, joint], gamma: 1.0, weight_decay: 0.05, time: 5}\n"
    "solver: {method: exact}\n"
    "sweep: {target.gamma: [0.5, 1.0]}\n";

static void free_values(char **values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(values[i]);
    free(values);
}

/* Expands one written value and checks it against expected doubles (relative tolerance). */
static void check_expansion(const char *written, const double *expected, size_t count,
                            double tolerance)
{
    char *text = (char *)written, **values = NULL;
    size_t n = 0;
    akt_error err = {0};
    CHECK(akt_sweep_expand_values("data.alignment", &text, 1, &values, &n, &err) == AKT_OK);
    CHECK(n == count);
    for (size_t i = 0; i < n && i < count; i++) {
        if (tolerance == 0)
            CHECK(strtod(values[i], NULL) == expected[i]);
        else
            CHECK_RELATIVE(strtod(values[i], NULL), expected[i], tolerance);
    }
    free_values(values, n);
}

static void test_generators(void)
{
    /* End points are exact and interior points a + (b - a) i / (n - 1) are exact here because
     * every intermediate is a dyadic rational. */
    check_expansion("linspace(0, 1, 5)", (double[]){0, 0.25, 0.5, 0.75, 1}, 5, 0);
    check_expansion("linspace(-1, 2, 4)", (double[]){-1, 0, 1, 2}, 4, 0);
    check_expansion("linspace(0.3, 0.7, 1)", (double[]){0.3}, 1, 0);
    /* logspace takes exponents (numpy): 10^0 .. 10^3; integer powers of 10 are exact doubles. */
    check_expansion("logspace(0, 3, 4)", (double[]){1, 10, 100, 1000}, 4, 0);
    /* Negative powers of ten are not representable: within 2 ulp of the decimal literal. */
    check_expansion("logspace(-2, 0, 3)", (double[]){0.01, 0.1, 1}, 3, 4.5e-16);
    check_expansion("logspace(-1, 1, 5)", (double[]){0.1, 0.31622776601683794, 1,
                                                     3.1622776601683795, 10}, 5, 4.5e-16);
    /* %.17g round-trips: a value read back is the double computed. */
    char *text = "linspace(0, 1, 7)", **values = NULL;
    size_t n = 0;
    akt_error err = {0};
    CHECK(akt_sweep_expand_values("k", &text, 1, &values, &n, &err) == AKT_OK && n == 7);
    for (size_t i = 0; i < n; i++)
        CHECK(strtod(values[i], NULL) == (i == 6 ? 1.0 : (double)i / 6.0));
    free_values(values, n);

    const char *bad[] = {"linspace(0, 1)", "linspace(0, 1, 0)", "logspace(0, 400, 2)",
                         "linspace(a, 1, 3)", "logspace(0, 1, 3) x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *one = (char *)bad[i];
        err.status = 0;
        CHECK(akt_sweep_expand_values("data.alignment", &one, 1, &values, &n, &err) == AKT_ERR_INPUT);
        CHECK(strstr(err.message, "data.alignment") != NULL);
    }
}

static void test_cli_axes(void)
{
    CHECK(akt_sweep_is_axis_assignment("data.alignment=0,0.5"));
    CHECK(akt_sweep_is_axis_assignment("data.alignment=linspace(0, 1, 3)"));
    CHECK(!akt_sweep_is_axis_assignment("data.alignment=0.5"));
    CHECK(!akt_sweep_is_axis_assignment("target.regimes=[scratch, joint]"));
    char *override = NULL;
    akt_error err = {0};
    CHECK(akt_sweep_axis_override("data.alignment= 0, 0.5 ,1", &override, &err) == AKT_OK);
    CHECK(override && !strcmp(override, "sweep.data.alignment=[0, 0.5, 1]"));
    free(override);
    CHECK(akt_sweep_axis_override("source.gamma=logspace(-1, 1, 3)", &override, &err) == AKT_OK);
    CHECK(override && !strcmp(override, "sweep.source.gamma=logspace(-1, 1, 3)"));
    free(override);
    CHECK(akt_sweep_axis_override("=1,2", &override, &err) == AKT_ERR_INPUT);
    CHECK(akt_sweep_axis_override("data.alignment=0,,1", &override, &err) == AKT_ERR_INPUT);
    CHECK(akt_sweep_axis_override("data.alignment", &override, &err) == AKT_ERR_INPUT);
}

/* A grid from the YAML sweep block plus command-line axes (as akt sweep builds it). */
static int load_grid(akt_sweep_grid *grid, const char *const *cli, size_t cli_count)
{
    char *overrides[8];
    akt_error err = {0};
    int status = AKT_OK;
    for (size_t i = 0; i < cli_count; i++)
        if (akt_sweep_axis_override(cli[i], &overrides[i], &err) != AKT_OK)
            return err.status;
    akt_spec spec;
    status = akt_spec_load_string(&spec, tiny_yaml, "tiny", ".", (const char *const *)overrides,
                                  cli_count, &err);
    if (status == AKT_OK)
        status = akt_sweep_grid_init(grid, &spec, &err);
    if (status != AKT_OK)
        fprintf(stderr, "load_grid: %s\n", err.message);
    akt_spec_free(&spec);
    for (size_t i = 0; i < cli_count; i++)
        free(overrides[i]);
    return status;
}

static void test_grid_order(void)
{
    akt_sweep_grid grid;
    const char *cli[] = {"data.alignment=0,0.5,1", "target.elastic=linspace(0, 1, 3)"};
    CHECK(load_grid(&grid, cli, 2) == AKT_OK);
    /* Axes in order: the spec's block, then new command-line keys; 2 x 3 x 3 points. */
    CHECK(grid.axis_count == 3 && grid.point_count == 18);
    CHECK(!strcmp(grid.axes[0].key, "target.gamma") && !strcmp(grid.axes[1].key, "data.alignment") &&
          !strcmp(grid.axes[2].key, "target.elastic"));
    /* Row-major, last axis fastest: point = (g * 3 + a) * 3 + e. */
    for (size_t point = 0; point < grid.point_count; point++) {
        size_t indices[3];
        akt_sweep_point_indices(&grid, point, indices);
        CHECK(indices[0] == point / 9 && indices[1] == (point / 3) % 3 && indices[2] == point % 3);
        for (size_t a = 0; a < 3; a++)
            CHECK(akt_sweep_point_value(&grid, point, a) == grid.axes[a].values[indices[a]]);
    }
    akt_spec spec;
    akt_error err = {0};
    CHECK(akt_sweep_point_spec(&grid, 14, &spec, &err) == AKT_OK); /* (1, 1, 2) */
    CHECK(spec.target.gamma == 1.0 && spec.data.alignment == 0.5 && spec.target.elastic == 1.0);
    akt_spec_free(&spec);
    CHECK(akt_sweep_validate(&grid, &err) == AKT_OK);
    akt_sweep_grid_free(&grid);

    /* A command-line axis on a key of the sweep block replaces it. */
    const char *replace[] = {"target.gamma=2,3,4"};
    CHECK(load_grid(&grid, replace, 1) == AKT_OK);
    CHECK(grid.axis_count == 1 && grid.point_count == 3 && !strcmp(grid.axes[0].values[2], "4"));
    akt_sweep_grid_free(&grid);
}

static void test_validation(void)
{
    akt_sweep_grid grid;
    akt_error err = {0};
    /* Unknown keys and out-of-range values are refused when the spec loads. */
    const char *unknown[] = {"data.alignmnt=0,1"};
    CHECK(load_grid(&grid, unknown, 1) == AKT_ERR_INPUT);
    const char *range[] = {"data.alignment=0,2"};
    CHECK(load_grid(&grid, range, 1) == AKT_ERR_INPUT);
    /* A cross-key rule fails only at some points: lazy needs weight_decay 0 everywhere, so point 1
     * (source.weight_decay 0.1) is refused up front, naming the point; point 0 passes although
     * its values, applied one at a time, would pass through invalid states. */
    const char *lazy[] = {"solver.method=lazy,lazy", "target.weight_decay=0,0",
                          "source.weight_decay=0,0.1"};
    CHECK(load_grid(&grid, lazy, 3) == AKT_OK);
    CHECK(akt_sweep_validate(&grid, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "sweep point 1") != NULL);
    akt_sweep_grid_free(&grid);
}

static void test_data_reuse(void)
{
    akt_sweep_grid grid;
    const char *cli[] = {"data.alignment=0,1"};
    CHECK(load_grid(&grid, cli, 1) == AKT_OK); /* target.gamma outer, data.alignment inner */
    akt_sweep_solver solver;
    akt_sweep_solver_init(&solver, &grid);
    akt_solution first, again;
    akt_error err = {0};
    /* Points 0, 2 share data (alignment 0), point 1 differs: loads at 0, 1, 2 in this order. */
    CHECK(akt_sweep_solve_point(&solver, 0, &first, &err) == AKT_OK);
    CHECK(akt_sweep_solve_point(&solver, 2, &again, &err) == AKT_OK);
    CHECK(solver.data_loads == 1);
    CHECK(akt_sweep_solve_point(&solver, 1, &again, &err) == AKT_OK);
    CHECK(solver.data_loads == 2);
    /* Reused data give the numbers of a fresh load: point 0 solved again after point 1. */
    CHECK(akt_sweep_solve_point(&solver, 0, &again, &err) == AKT_OK);
    CHECK(solver.data_loads == 3);
    CHECK(again.count == first.count && first.count == 3);
    for (size_t i = 0; i < first.count; i++)
        CHECK(again.results[i].test_loss == first.results[i].test_loss);
    akt_sweep_solver_free(&solver);
    akt_sweep_grid_free(&grid);
}

int main(void)
{
    test_generators();
    test_cli_axes();
    test_grid_order();
    test_validation();
    test_data_reuse();
    return check_finish();
}
