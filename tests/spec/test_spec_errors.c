/* test_spec_errors.c: every class of bad spec fails with AKT_ERR_INPUT and a one-line message
 * naming file:line:column of the offending text (or the --set override), as DESIGN.md asks.
 * Lines and columns are 1-based and counted by hand from the spec text written here. */
#include "spec_test_util.h"

static void syntax_and_file_errors(void)
{
    /* A tab cannot indent YAML: libyaml stops at the tab, line 2 column 1. */
    EXPECT_ERROR("data:\n\ttask: linear\n", NULL, 0, ":2:1: malformed YAML");
    /* "bad:" indented under a scalar: the ':' at line 2 column 6 is where libyaml fails. */
    EXPECT_ERROR("seed: 1\n  bad: 2\n", NULL, 0, ":2:6: malformed YAML");
    EXPECT_ERROR("- 1\n- 2\n", NULL, 0, ":1:1: the spec: expected a mapping");
    EXPECT_ERROR("a: &x 1\nb: *x\n", NULL, 0, ":2:4: aliases are not supported");

    akt_spec spec;
    akt_error err = { 0 };
    const char *missing = "/nonexistent-akt-dir/spec.yaml";
    CHECK(akt_spec_load(&spec, missing, NULL, 0, &err) == AKT_ERR_INPUT);
    CHECK(!strcmp(err.message, "/nonexistent-akt-dir/spec.yaml: cannot read: No such file or directory"));
    CHECK(akt_spec_load(&spec, test_dir(), NULL, 0, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, ": cannot read: Is a directory") != NULL);
}

static void key_errors(void)
{
    EXPECT_ERROR("seed: 1\nsource:\n  gama: 1.0\n", NULL, 0,
                 ":3:3: unknown key 'source.gama'; did you mean 'source.gamma'?");
    EXPECT_ERROR("sorce: {gamma: 1}\n", NULL, 0, ":1:1: unknown key 'sorce'; did you mean 'source'?");
    EXPECT_ERROR("solver:\n  neuron: 64\n", NULL, 0, ":2:3: unknown key 'solver.neuron'; did you mean 'solver.neurons'?");
    EXPECT_ERROR("target:\n  gamma: 1\n  gamma: 2\n", NULL, 0,
                 ":3:3: duplicate key 'target.gamma' (first given at line 2)");
    EXPECT_ERROR("seed: 1\nseed: 2\n", NULL, 0, ":2:1: duplicate key 'seed'");
    EXPECT_ERROR("data: {task: polynomial, hermite: {1: 1, 1: 2}}\n", NULL, 0, ":1:42: data.hermite: degree 1 given twice");
}

static void type_errors(void)
{
    EXPECT_ERROR("seed: 1\nsource:\n  gamma: abc\n", NULL, 0, ":3:10: source.gamma: expected a number, got 'abc'");
    EXPECT_ERROR("data:\n  dim: 2.5\n", NULL, 0, ":2:8: data.dim: expected an integer, got '2.5'");
    EXPECT_ERROR("seed: -3\n", NULL, 0, ":1:7: seed: expected a non-negative integer, got '-3'");
    EXPECT_ERROR("network: {center: maybe}\n", NULL, 0, ":1:19: network.center: expected true or false, got 'maybe'");
    EXPECT_ERROR("source: {time: soon}\n", NULL, 0, ":1:16: source.time: expected a positive number or converge, got 'soon'");
    EXPECT_ERROR("target: {time: 0}\n", NULL, 0, ":1:16: target.time: expected a positive number or converge, got '0'");
    EXPECT_ERROR("target: {gamma: [1, 2]}\n", NULL, 0, ":1:17: target.gamma: expected a number, got a list");
    EXPECT_ERROR("source: 3\n", NULL, 0, ":1:9: source: expected a mapping of keys");
    EXPECT_ERROR("target:\n  regimes: [scratch, jiont]\n", NULL, 0,
                 ":2:22: target.regimes: unknown value 'jiont'", "did you mean 'joint'?");
    EXPECT_ERROR("network: {activation: rellu}\n", NULL, 0,
                 ":1:23: network.activation: unknown value 'rellu' (expected one of linear, relu, tanh or erf); did you mean 'relu'?");
    /* Which method names exist is the solve layer's registry's (tests/methods); the spec checks
     * the form of the word. */
    EXPECT_ERROR("solver: {method: Exact}\n", NULL, 0, ":1:18: solver.method", "a method name");
    EXPECT_ERROR("solver: {method: [exact]}\n", NULL, 0, ":1:18: solver.method", "a method name");
    EXPECT_ERROR("target: {readout_init: sauce}\n", NULL, 0, ":1:24: target.readout_init: unknown value 'sauce'", "did you mean 'source'?");
    EXPECT_ERROR("data: {task: fashion}\n", NULL, 0, ":1:14: data.task: unknown value 'fashion'");
}

static void range_errors(void)
{
    EXPECT_ERROR("source: {gamma: 0}\n", NULL, 0, ":1:17: source.gamma must be > 0, got 0");
    EXPECT_ERROR("target: {gamma: -1}\n", NULL, 0, ":1:17: target.gamma must be > 0, got -1");
    EXPECT_ERROR("data:\n  target: {samples: 0}\n", NULL, 0, ":2:21: data.target.samples must be >= 1, got 0");
    EXPECT_ERROR("data:\n  alignment: 1.5\n", NULL, 0, ":2:14: data.alignment must be in [-1, 1], got 1.5");
    EXPECT_ERROR("data:\n  alignment: -1.0001\n", NULL, 0, ":2:14: data.alignment must be in [-1, 1], got -1.0001");
    EXPECT_ERROR("data:\n  noise: -0.1\n", NULL, 0, ":2:10: data.noise must be >= 0, got -0.1");
    EXPECT_ERROR("data:\n  dim: 0\n", NULL, 0, ":2:8: data.dim must be >= 1, got 0");
    EXPECT_ERROR("source: {weight_decay: -0.5}\n", NULL, 0, ":1:24: source.weight_decay must be >= 0, got -0.5");
    EXPECT_ERROR("target: {weight_decay: -1e-3}\n", NULL, 0, ":1:24: target.weight_decay must be >= 0, got -0.001");
    EXPECT_ERROR("target: {elastic: -2}\n", NULL, 0, ":1:19: target.elastic must be >= 0");
    EXPECT_ERROR("target: {readout_decay: -2}\n", NULL, 0, ":1:25: target.readout_decay must be >= 0");
    EXPECT_ERROR("solver: {neurons: 4097}\n", NULL, 0, ":1:19: solver.neurons must be an even number >= 2", "got 4097");
    EXPECT_ERROR("solver: {neurons: 0}\n", NULL, 0, ":1:19: solver.neurons must be an even number >= 2");
    EXPECT_ERROR("solver: {replicas: 0}\n", NULL, 0, ":1:20: solver.replicas must be >= 1, got 0");
    EXPECT_ERROR("solver: {tolerance: 0}\n", NULL, 0, ":1:21: solver.tolerance must be > 0");
    EXPECT_ERROR("solver: {step_tolerance: -1}\n", NULL, 0, ":1:26: solver.step_tolerance must be > 0");
    EXPECT_ERROR("solver: {max_time: 0}\n", NULL, 0, ":1:20: solver.max_time must be > 0");
    EXPECT_ERROR("solver: {min_step: 0}\n", NULL, 0, ":1:20: solver.min_step must be > 0");
    EXPECT_ERROR("solver: {target_error: -1}\n", NULL, 0, ":1:24: solver.target_error must be >= 0");
}

static void cross_key_errors(void)
{
    /* lazy with the default decays: located at the method, the only thing the user wrote. */
    EXPECT_ERROR("solver: {method: lazy}\n", NULL, 0,
                 ":1:18: solver.method lazy needs source.weight_decay = 0", "got 0.05");
    /* lazy with a written nonzero target decay: located at that decay. */
    EXPECT_ERROR("source: {weight_decay: 0}\ntarget: {weight_decay: 0.2}\nsolver: {method: lazy}\n", NULL, 0,
                 ":2:24: solver.method lazy needs target.weight_decay = 0", "got 0.2");
    EXPECT_ERROR("source: {time: converge}\n", NULL, 0,
                 ":1:16: the joint regime needs a numeric source.time", "neuron diversity");
    EXPECT_ERROR("data:\n  task: fashion_mnist\n  alignment: 0.5\n", NULL, 0,
                 ":3:14: data.alignment does not apply to task fashion_mnist (only to linear and polynomial)");
    EXPECT_ERROR("data:\n  task: fashion_mnist\n  dim: 10\n", NULL, 0, ":3:8: data.dim does not apply to task fashion_mnist");
    EXPECT_ERROR("data:\n  task: fashion_mnist\n  hermite: {1: 1}\n", NULL, 0,
                 ":3:12: data.hermite does not apply to task fashion_mnist (only to polynomial)");
    EXPECT_ERROR("data:\n  task: linear\n  hermite: {1: 1}\n", NULL, 0, ":3:12: data.hermite does not apply to task linear");
    EXPECT_ERROR("data:\n  task: linear\n  source: {classes: [0, 1]}\n", NULL, 0,
                 ":3:21: data.source.classes does not apply to task linear");

    const char *csv_head = "data:\n  task: csv\n";
    char text[512];
    snprintf(text, sizeof text, "%s  alignment: 0.3\n", csv_head);
    EXPECT_ERROR(text, NULL, 0, ":3:14: data.alignment does not apply to task csv");
    snprintf(text, sizeof text, "%s  source: {x: a.csv, y: b.csv, samples: 10}\n", csv_head);
    EXPECT_ERROR(text, NULL, 0, ":3:41: data.source.samples does not apply to task csv",
                 "a csv task takes its sizes from the files");
    /* A missing file name is reported at the task that requires it. */
    snprintf(text, sizeof text,
             "%s  source: {x: a.csv, y: b.csv}\n  target: {x: c.csv, y: d.csv}\n  test: {x: e.csv}\n", csv_head);
    EXPECT_ERROR(text, NULL, 0, ":2:9: data.test.y is required for task csv");
    snprintf(text, sizeof text,
             "%s  source: {x: a.csv, y: b.csv}\n  target: {x: c.csv, y: d.csv}\n  test: {x: e.csv, y: f.csv}\n"
             "  source_test: {x: g.csv}\n", csv_head);
    EXPECT_ERROR(text, NULL, 0, ":6:20: data.source_test.x is given, so data.source_test.y is required too");

    const char *fm = "data:\n  task: fashion_mnist\n";
    snprintf(text, sizeof text, "%s  source: {classes: [3, 3]}\n", fm);
    EXPECT_ERROR(text, NULL, 0, ":3:21: data.source.classes must be two distinct Fashion-MNIST classes in 0..9, got [3, 3]");
    snprintf(text, sizeof text, "%s  target: {classes: [0, 10]}\n", fm);
    EXPECT_ERROR(text, NULL, 0, ":3:21: data.target.classes must be two distinct", "got [0, 10]");
    snprintf(text, sizeof text, "%s  target: {classes: [1]}\n", fm);
    EXPECT_ERROR(text, NULL, 0, ":3:21: data.target.classes: expected a pair of classes");

    EXPECT_ERROR("data:\n  task: polynomial\n  hermite: {1: 0, 3: 0.0}\n", NULL, 0,
                 ":3:12: data.hermite: all coefficients are 0");
    EXPECT_ERROR("data:\n  task: polynomial\n  hermite: {9: 1}\n", NULL, 0,
                 ":3:13: data.hermite: degree must be an integer in 0..8, got '9'");
}

/* Output files: CSV names, two different files, splits the task has (README "Output files"). */
static void output_errors(void)
{
    EXPECT_ERROR("output:\n  kernels: k.bin\n", NULL, 0,
                 ":2:12: output.kernels must be a file name ending in .csv (the format written), got 'k.bin'");
    EXPECT_ERROR("output: {trajectory: out/.csv}\n", NULL, 0, ":1:22: output.trajectory must be a file name");
    EXPECT_ERROR("output: {kernels: a.csv, trajectory: a.csv}\n", NULL, 0,
                 ":1:38: output.kernels and output.trajectory name the same file 'a.csv'");
    EXPECT_ERROR("output: {kernels: [a.csv]}\n", NULL, 0, ":1:19: output.kernels: expected a file name or null");
    EXPECT_ERROR("output:\n  kernel_splits: [target, tset]\n", NULL, 0,
                 ":2:27: output.kernel_splits: unknown value 'tset'", "did you mean 'test'?");
    EXPECT_ERROR("output:\n  kernel_splits: [test, test]\n", NULL, 0,
                 ":2:25: output.kernel_splits: split test given twice");
    EXPECT_ERROR("output:\n  kernel_splits: []\n", NULL, 0,
                 ":2:18: output.kernel_splits: expected a non-empty list of source, target, test, source_test");
    EXPECT_ERROR("sweep:\n  output.kernel_splits: [test]\n", NULL, 0,
                 ":2:3: sweep: output.kernel_splits is not a scalar key");
    EXPECT_ERROR("data:\n  task: csv\n  source: {x: a.csv, y: b.csv}\n  target: {x: c.csv, y: d.csv}\n"
                 "  test: {x: e.csv, y: f.csv}\noutput: {kernel_splits: [target, source_test]}\n", NULL, 0,
                 ":6:25: output.kernel_splits: this csv task has no source_test split");
    EXPECT_ERROR("seed: 1\n", (const char *const[]){ "output.trajectory=t.txt" }, 1,
                 "--set output.trajectory=t.txt: output.trajectory must be a file name ending in .csv");
}

static void sweep_errors(void)
{
    EXPECT_ERROR("sweep:\n  data.alignmnt: [0, 1]\n", NULL, 0,
                 ":2:3: sweep: unknown key 'data.alignmnt'; did you mean 'data.alignment'?");
    EXPECT_ERROR("sweep:\n  data.alignment: [0, abc]\n", NULL, 0, ":2:23: data.alignment: expected a number, got 'abc'");
    EXPECT_ERROR("sweep:\n  data.alignment: [0, 2]\n", NULL, 0, ":2:23: data.alignment must be in [-1, 1], got 2");
    EXPECT_ERROR("sweep:\n  target.regimes: [[joint]]\n", NULL, 0, ":2:3: sweep: target.regimes is not a scalar key");
    EXPECT_ERROR("sweep:\n  data.task: [csv]\n", NULL, 0, ":2:3: sweep: data.task cannot be swept");
    EXPECT_ERROR("sweep:\n  data.alignment: \"linspace(0, 1)\"\n", NULL, 0, ":2:19: sweep.data.alignment: expected a list");
    EXPECT_ERROR("sweep:\n  network.activation: \"linspace(0, 1, 3)\"\n", NULL, 0,
                 ":2:23: sweep.network.activation: expected a list of values");
    EXPECT_ERROR("data: {task: fashion_mnist}\nsweep:\n  data.alignment: [0, 1]\n", NULL, 0,
                 ":3:19: sweep: data.alignment does not apply to task fashion_mnist");
}

static void override_errors(void)
{
    const char *ok = "seed: 1\n";
    EXPECT_ERROR(ok, (const char *const[]){ "data.alignment=2" }, 1,
                 "--set data.alignment=2: data.alignment must be in [-1, 1]");
    EXPECT_ERROR(ok, (const char *const[]){ "data.alignment" }, 1, "--set data.alignment: expected key=value");
    EXPECT_ERROR(ok, (const char *const[]){ "=3" }, 1, "--set =3: empty key");
    EXPECT_ERROR(ok, (const char *const[]){ "source.gama=1" }, 1,
                 "--set source.gama=1: unknown key 'source.gama'; did you mean 'source.gamma'?");
    EXPECT_ERROR(ok, (const char *const[]){ "sorce.gamma=1" }, 1,
                 "--set sorce.gamma=1: unknown key 'sorce.gamma'; did you mean 'source.gamma'?");
    EXPECT_ERROR(ok, (const char *const[]){ "source.gamma=abc" }, 1,
                 "--set source.gamma=abc: source.gamma: expected a number, got 'abc'");
    static const char *const unclosed[] = { "data.task=polynomial", "data.hermite={1: 1" };
    EXPECT_ERROR(ok, unclosed, 2,
                 "--set data.hermite={1: 1: malformed YAML");
    /* The joint rule fires for an override just as for the file. */
    EXPECT_ERROR(ok, (const char *const[]){ "source.time=converge" }, 1,
                 "--set source.time=converge: the joint regime needs a numeric source.time");
    EXPECT_ERROR(ok, (const char *const[]){ "solver.neurons=7" }, 1, "--set solver.neurons=7: solver.neurons must be an even");
    /* An override that would be valid still fails if an earlier one is bad: the first error wins. */
    static const char *const first_bad[] = { "data.dim=x", "data.dim=3" };
    EXPECT_ERROR(ok, first_bad, 2, "--set data.dim=x: data.dim: expected an integer");
}

static void validate_direct(void)
{
    /* akt_spec_validate on a struct edited by hand: no marks, the key and the file are named. */
    akt_spec spec;
    akt_error err = { 0 };
    CHECK(akt_spec_load_string(&spec, "seed: 1\n", "inline.yaml", "/tmp", NULL, 0, &err) == AKT_OK);
    CHECK(akt_spec_validate(&spec, &err) == AKT_OK);
    spec.target.gamma = 0;
    CHECK(akt_spec_validate(&spec, &err) == AKT_ERR_INPUT);
    CHECK(!strcmp(err.message, "inline.yaml: target.gamma must be > 0, got 0"));
    spec.target.gamma = 1;
    spec.solver.neurons = 10;
    CHECK(akt_spec_validate(&spec, &err) == AKT_OK);
    spec.solver.neurons = 9;
    CHECK(akt_spec_validate(&spec, &err) == AKT_ERR_INPUT);
    akt_spec_free(&spec);
}

int main(void)
{
    syntax_and_file_errors();
    key_errors();
    type_errors();
    range_errors();
    cross_key_errors();
    output_errors();
    sweep_errors();
    override_errors();
    validate_direct();
    return check_finish();
}
