/* test_spec_load.c: defaults per task (DESIGN.md "Spec"), --set overrides, sweeps, resolved
 * csv paths, copy, equality and akt_spec_set. Expected values are the numbers DESIGN.md lists. */
#define SPEC_TEST_NO_EXPECT
#include "spec_test_util.h"

static int load(akt_spec *spec, const char *yaml, const char *const *overrides, size_t count)
{
    akt_error err = { 0 };
    int status = akt_spec_load_string(spec, yaml, "test.yaml", "/nonexistent-akt-dir", overrides, count, &err);
    if (status != AKT_OK)
        fprintf(stderr, "load failed: %s\n", err.message);
    return status;
}

static void check_common_defaults(const akt_spec *s)
{
    CHECK(s->seed == 1);
    CHECK(s->network.activation == AKT_ACTIVATION_RELU && !s->network.center);
    CHECK(s->source.gamma == 1.0 && s->source.weight_decay == 0.05 && s->source.time == 20.0);
    CHECK(s->target.regimes[AKT_REGIME_SOURCE] && s->target.regimes[AKT_REGIME_SCRATCH] &&
          s->target.regimes[AKT_REGIME_READOUT] && s->target.regimes[AKT_REGIME_JOINT]);
    CHECK(s->target.gamma == 1.0 && s->target.weight_decay == 0.05 && s->target.elastic == 0.0);
    CHECK(s->target.readout_decay == 0.0 && s->target.readout_init == AKT_READOUT_ZERO && s->target.time == 20.0);
    CHECK(!strcmp(s->solver.method, "auto") && s->solver.neurons == 8192 && s->solver.replicas == 4);
    CHECK(s->solver.target_error == 0.0 && s->solver.estimate_errors && s->solver.step_tolerance == 1e-4 && s->solver.tolerance == 1e-6);
    CHECK(s->solver.max_time == 1e5 && s->solver.min_step == 1e-9);
    CHECK(s->output.kernels == NULL && s->output.trajectory == NULL && s->sweep_count == 0);
}

static void defaults_synthetic(void)
{
    akt_spec s;
    CHECK(load(&s, "", NULL, 0) == AKT_OK);   /* an empty spec is the linear default problem */
    CHECK(s.data.task == AKT_TASK_LINEAR && s.data.dim == 100 && s.data.alignment == 0.5 && s.data.noise == 0.0);
    CHECK(s.data.source.samples == 400 && s.data.target.samples == 50 && s.data.test.samples == 2000);
    /* the source test split has test.samples points */
    CHECK(s.data.source_test.present && s.data.source_test.samples == 2000);
    CHECK(s.data.hermite[1] == 0.0 && s.data.path == NULL);   /* hermite is not a linear key */
    CHECK(!strcmp(s.file, "test.yaml") && !strcmp(s.directory, "/nonexistent-akt-dir"));
    check_common_defaults(&s);
    akt_spec_free(&s);

    CHECK(load(&s, "data: {task: polynomial, test: {samples: 77}}\n", NULL, 0) == AKT_OK);
    CHECK(s.data.task == AKT_TASK_POLYNOMIAL && s.data.dim == 100 && s.data.alignment == 0.5);
    CHECK(s.data.hermite[1] == 1.0);
    double others = 0;
    for (int k = 0; k <= AKT_HERMITE_MAX; k++)
        others += k == 1 ? 0 : s.data.hermite[k] * s.data.hermite[k];
    CHECK(others == 0.0);
    CHECK(s.data.test.samples == 77 && s.data.source_test.samples == 77);
    check_common_defaults(&s);
    akt_spec_free(&s);
}

static void defaults_real(void)
{
    akt_spec s;
    CHECK(load(&s, "data: {task: fashion_mnist}\n", NULL, 0) == AKT_OK);
    CHECK(s.data.task == AKT_TASK_FASHION_MNIST && !strcmp(s.data.path, "/usr/share/datasets/fashion-mnist"));
    CHECK(s.data.source.classes[0] == 0 && s.data.source.classes[1] == 6);
    CHECK(s.data.target.classes[0] == 2 && s.data.target.classes[1] == 4);
    CHECK(s.data.test.classes[0] == 2 && s.data.test.classes[1] == 4);              /* target task */
    CHECK(s.data.source_test.classes[0] == 0 && s.data.source_test.classes[1] == 6); /* source task */
    CHECK(s.data.source.samples == 400 && s.data.target.samples == 50 && s.data.test.samples == 2000);
    CHECK(s.data.noise == 0.0 && s.data.dim == 0 && s.data.alignment == 0.0);
    check_common_defaults(&s);
    akt_spec_free(&s);

    CHECK(load(&s, "data:\n  task: csv\n  source: {x: sx.csv, y: sy.csv}\n  target: {x: tx.csv, y: ty.csv}\n"
                   "  test: {x: /abs/ex.csv, y: sub/ey.csv}\n", NULL, 0) == AKT_OK);
    CHECK(s.data.task == AKT_TASK_CSV && s.data.source.samples == 0 && s.data.dim == 0);
    CHECK(!strcmp(s.data.source.x_path, "/nonexistent-akt-dir/sx.csv"));
    CHECK(!strcmp(s.data.target.y_path, "/nonexistent-akt-dir/ty.csv"));
    CHECK(!strcmp(s.data.test.x_path, "/abs/ex.csv"));                 /* absolute stays */
    CHECK(!strcmp(s.data.test.y_path, "/nonexistent-akt-dir/sub/ey.csv"));
    CHECK(s.data.source.present && s.data.test.present && !s.data.source_test.present);
    check_common_defaults(&s);
    akt_spec_free(&s);
}

/* A spec read from a file resolves its csv paths against the file's own directory. */
static void csv_paths_from_file(void)
{
    char sub[512], path[600], expected[700];
    snprintf(sub, sizeof sub, "%s/problems", test_dir());
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/csv.yaml", sub);
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    fputs("data:\n  task: csv\n  source: {x: sx.csv, y: sy.csv}\n  target: {x: tx.csv, y: ty.csv}\n"
          "  test: {x: ex.csv, y: ey.csv}\n  source_test: {x: ../qx.csv, y: qy.csv}\n", file);
    fclose(file);
    akt_spec s;
    akt_error err = { 0 };
    CHECK(akt_spec_load(&s, path, NULL, 0, &err) == AKT_OK);
    char *real = realpath(sub, NULL);
    snprintf(expected, sizeof expected, "%s/../qx.csv", real);
    CHECK(s.data.source_test.present && !strcmp(s.data.source_test.x_path, expected));
    snprintf(expected, sizeof expected, "%s/sx.csv", real);
    CHECK(!strcmp(s.data.source.x_path, expected));
    CHECK(!strcmp(s.directory, real) && !strcmp(s.file, path));
    free(real);
    akt_spec_free(&s);
}

static void overrides(void)
{
    static const char *const sets[] = {
        "data.task=polynomial", "data.hermite={1: 1, 2: 0.5}", "target.regimes=[scratch, readout]",
        "source.time=converge", "source.gamma=2", "source.gamma=3", "output.kernels=k.csv",
        "network={activation: erf, center: true}", "sweep.data.alignment=[0, 0.5, 1]",
        "data.target.samples=1e3", "seed=42",
    };
    akt_spec s;
    CHECK(load(&s, "source: {gamma: 0.5}\ndata: {alignment: 0.25}\n", sets, sizeof sets / sizeof sets[0]) == AKT_OK);
    CHECK(s.data.task == AKT_TASK_POLYNOMIAL);
    CHECK(s.data.hermite[1] == 1.0 && s.data.hermite[2] == 0.5 && s.data.hermite[0] == 0.0);
    CHECK(s.target.regimes[AKT_REGIME_SOURCE] && s.target.regimes[AKT_REGIME_SCRATCH]);
    CHECK(s.target.regimes[AKT_REGIME_READOUT] && !s.target.regimes[AKT_REGIME_JOINT]);
    CHECK(s.source.time == AKT_TIME_CONVERGE);
    CHECK(s.source.gamma == 3.0);               /* the last override wins over file and earlier --set */
    CHECK(s.data.alignment == 0.25);            /* file value kept where not overridden */
    CHECK(s.output.kernels && !strcmp(s.output.kernels, "k.csv") && s.output.trajectory == NULL);
    CHECK(s.network.activation == AKT_ACTIVATION_ERF && s.network.center);
    CHECK(s.data.target.samples == 1000 && s.seed == 42);
    CHECK(s.sweep_count == 1 && !strcmp(s.sweep[0].key, "data.alignment") && s.sweep[0].count == 3);
    CHECK(s.sweep_count == 1 && !strcmp(s.sweep[0].values[1], "0.5") && !strcmp(s.sweep[0].values[2], "1"));
    akt_spec_free(&s);
}

static void sweeps(void)
{
    static const char *const replace[] = { "sweep.data.target.samples=[5]" };
    akt_spec s;
    CHECK(load(&s, "target: {regimes: [scratch]}\nsweep:\n  data.alignment: \"linspace(0, 1, 5)\"\n"
                   "  data.target.samples: [10, 50, 200]\n  source.time: [1, converge]\n", replace, 1) == AKT_OK);
    CHECK(s.sweep_count == 3);
    CHECK(!strcmp(s.sweep[0].key, "data.alignment") && s.sweep[0].count == 1 &&
          !strcmp(s.sweep[0].values[0], "linspace(0, 1, 5)"));
    CHECK(!strcmp(s.sweep[1].key, "data.target.samples") && s.sweep[1].count == 1 &&
          !strcmp(s.sweep[1].values[0], "5"));    /* replaced by the override */
    CHECK(!strcmp(s.sweep[2].key, "source.time") && s.sweep[2].count == 2 &&
          !strcmp(s.sweep[2].values[1], "converge"));
    akt_spec_free(&s);
}

static void copy_equal_set(void)
{
    akt_spec a, b;
    akt_error err = { 0 };
    CHECK(load(&a, "data: {task: fashion_mnist}\noutput: {trajectory: t.csv}\nsweep: {target.elastic: [0, 1]}\n",
               NULL, 0) == AKT_OK);
    CHECK(akt_spec_copy(&b, &a, &err) == AKT_OK);
    CHECK(akt_spec_equal(&a, &b));
    CHECK(b.data.path != a.data.path && b.output.trajectory != a.output.trajectory);  /* deep */
    CHECK(b.sweep != a.sweep && b.sweep[0].values[1] != a.sweep[0].values[1]);
    b.data.target.classes[1] = 5;
    CHECK(!akt_spec_equal(&a, &b));
    b.data.target.classes[1] = 4;
    b.output.trajectory[0] = 'u';
    CHECK(!akt_spec_equal(&a, &b));
    akt_spec_free(&b);
    CHECK(b.data.path == NULL && b.sweep == NULL);   /* freed spec is empty */

    CHECK(akt_spec_set(&a, "target.elastic=0.75", &err) == AKT_OK);
    CHECK(a.target.elastic == 0.75);
    CHECK(akt_spec_set(&a, "target.elastic=-1", &err) == AKT_ERR_INPUT);
    CHECK(a.target.elastic == 0.75);                 /* unchanged on failure */
    CHECK(!strcmp(err.message, "--set target.elastic=-1: target.elastic must be >= 0, got -1"));
    CHECK(akt_spec_set(&a, "data.alignment=0.1", &err) == AKT_ERR_INPUT);   /* not a fashion_mnist key */
    CHECK(akt_spec_set(&a, "data.task=linear", &err) == AKT_ERR_INPUT);
    CHECK(akt_spec_set(&a, "data.target.samples=20", &err) == AKT_OK && a.data.target.samples == 20);
    akt_spec_free(&a);
}

static void names(void)
{
    CHECK(!strcmp(akt_task_name(AKT_TASK_FASHION_MNIST), "fashion_mnist"));
    CHECK(!strcmp(akt_regime_name(AKT_REGIME_READOUT), "readout"));
    CHECK(!strcmp(akt_regime_name(AKT_REGIME_JOINT), "joint"));
    CHECK(!strcmp(akt_activation_name(AKT_ACTIVATION_ERF), "erf"));
}

int main(void)
{
    defaults_synthetic();
    defaults_real();
    csv_paths_from_file();
    overrides();
    sweeps();
    copy_equal_set();
    names();
    return check_finish();
}
