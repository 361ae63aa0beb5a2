/* test_spec_roundtrip.c: akt_spec_to_yaml prints a spec that loads back to an identical struct
 * (DESIGN.md: "its output is itself a valid spec"), for every task, with non-default values
 * that exercise every value type; it prints only the keys of the task; akt_spec_to_json
 * carries the same content. */
#define SPEC_TEST_NO_EXPECT
#include "spec_test_util.h"

/* 0.1 + 0.2 = 0.30000000000000004 needs all 17 significant digits to come back exactly. */
static const char *linear_spec =
    "seed: 12345678901\n"
    "data: {task: linear, dim: 37, alignment: 0.30000000000000004, noise: 0.1}\n"
    "network: {activation: tanh, center: true}\n"
    "source: {gamma: 1e-3, weight_decay: 0, time: 2.5}\n"
    "target: {regimes: [joint, scratch], gamma: 7, weight_decay: 0, elastic: 0.5, readout_init: random, time: converge}\n"
    "solver: {method: lazy, neurons: 64, replicas: 2, target_error: 1e-3, step_tolerance: 1e-7, "
    "tolerance: 3e-10, max_time: 1e7, min_step: 1e-12}\n"
    "output: {kernels: \"dir with space/k.csv\", trajectory: traj.csv, kernel_splits: [test, source]}\n"
    "sweep: {data.alignment: [0, 0.5, 1], target.elastic: \"logspace(-2, 1, 4)\", output.trajectory: [a.csv, \"b c.csv\"]}\n";

static const char *polynomial_spec =
    "data: {task: polynomial, hermite: {0: -0.25, 2: 0.5, 8: 1e-300}, alignment: -1}\n"
    "target: {regimes: [readout]}\n"
    "source: {time: converge}\n";

static const char *fashion_spec =
    "data: {task: fashion_mnist, path: images, noise: 0.2, source: {classes: [9, 1], samples: 1000},"
    " target: {classes: [3, 5]}, test: {samples: 10000}}\n"
    "solver: {method: population}\n";

static const char *csv_spec =
    "data:\n  task: csv\n  source: {x: sx.csv, y: sy.csv}\n  target: {x: tx.csv, y: ty.csv}\n"
    "  test: {x: ex.csv, y: ey.csv}\n  source_test: {x: qx.csv, y: qy.csv}\n"
    "solver: {method: convex}\noutput: {kernel_splits: source_test}\n";

/* yaml -> struct -> yaml -> struct: equal structs, and the printed YAML is a fixed point. */
static void round_trip(const char *yaml, const char *const *present, const char *const *absent)
{
    akt_spec first, second;
    akt_error err = { 0 };
    int status = akt_spec_load_string(&first, yaml, "first.yaml", "/nonexistent-akt-dir", NULL, 0, &err);
    CHECK(status == AKT_OK);
    if (status != AKT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    char *printed = akt_spec_to_yaml(&first);
    CHECK(printed != NULL);
    /* Load from another directory: resolved paths are absolute, so nothing moves. */
    status = akt_spec_load_string(&second, printed, "second.yaml", "/elsewhere", NULL, 0, &err);
    CHECK(status == AKT_OK);
    if (status != AKT_OK)
        fprintf(stderr, "%s\n%s\n", err.message, printed);
    CHECK(akt_spec_equal(&first, &second));
    CHECK(first.data.alignment == second.data.alignment && first.seed == second.seed);
    char *again = akt_spec_to_yaml(&second);
    CHECK(again && !strcmp(printed, again));
    for (size_t i = 0; present[i]; i++)
        if (!strstr(printed, present[i])) {
            fprintf(stderr, "printed spec lacks \"%s\":\n%s\n", present[i], printed);
            CHECK(!"present");
        }
    for (size_t i = 0; absent[i]; i++)
        if (strstr(printed, absent[i])) {
            fprintf(stderr, "printed spec has \"%s\":\n%s\n", absent[i], printed);
            CHECK(!"absent");
        }
    free(printed);
    free(again);
    akt_spec_free(&first);
    akt_spec_free(&second);
}

static void json_content(void)
{
    akt_spec spec;
    akt_error err = { 0 };
    CHECK(akt_spec_load_string(&spec, linear_spec, "j.yaml", "/d", NULL, 0, &err) == AKT_OK);
    char *json = akt_spec_to_json(&spec);
    CHECK(json != NULL);
    const char *expected[] = {
        "{\"seed\": 12345678901, \"data\": {\"task\": \"linear\", \"dim\": 37, \"alignment\": 0.30000000000000004,",
        "\"time\": \"converge\"", "\"regimes\": [\"scratch\", \"joint\"]", "\"readout_init\": \"random\"",
        "\"kernels\": \"dir with space/k.csv\"", "\"min_step\": 1e-12", "\"center\": true",
        "\"kernel_splits\": [\"source\", \"test\"]",
        "\"sweep\": {\"data.alignment\": [\"0\", \"0.5\", \"1\"], \"target.elastic\": \"logspace(-2, 1, 4)\"",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!strstr(json, expected[i])) {
            fprintf(stderr, "json lacks %s:\n%s\n", expected[i], json);
            CHECK(!"json");
        }
    /* Balanced braces and brackets outside strings, and one object. */
    int depth = 0, minimum = 1;
    bool in_string = false;
    for (const char *c = json; *c; c++) {
        if (*c == '"' && c[-1] != '\\')
            in_string = !in_string;
        else if (!in_string && (*c == '{' || *c == '['))
            depth++;
        else if (!in_string && (*c == '}' || *c == ']'))
            depth--;
        if (c != json && c[1] && depth < minimum)
            minimum = depth;
    }
    CHECK(depth == 0 && minimum == 1 && json[0] == '{' && json[strlen(json) - 1] == '}');
    free(json);
    akt_spec_free(&spec);

    CHECK(akt_spec_load_string(&spec, "", "j.yaml", "/d", NULL, 0, &err) == AKT_OK);
    json = akt_spec_to_json(&spec);
    CHECK(json && strstr(json, "\"output\": {\"kernels\": null, \"trajectory\": null, "
                                "\"kernel_splits\": [\"target\"]}, \"sweep\": {}}"));
    CHECK(json && strstr(json, "\"time\": 20}") && !strstr(json, "hermite"));
    free(json);
    akt_spec_free(&spec);
}

int main(void)
{
    round_trip(linear_spec,
               (const char *const[]){ "seed: 12345678901\n", "  alignment: 0.30000000000000004\n",
                                      "  time: converge\n", "  regimes: [scratch, joint]\n", NULL },
               (const char *const[]){ "hermite", "classes", "path", "source_test", "  x:", NULL });
    round_trip(polynomial_spec,
               (const char *const[]){ "  hermite: {0: -0.25, 2: 0.5, 8: 1e-300}\n", "  alignment: -1\n", NULL },
               (const char *const[]){ "classes", "path:", NULL });
    round_trip(fashion_spec,
               (const char *const[]){ "  path: /nonexistent-akt-dir/images\n", "    classes: [9, 1]\n",
                                      "    classes: [3, 5]\n", "  noise: 0.2\n", NULL },
               (const char *const[]){ "dim", "alignment", "hermite", "source_test", NULL });
    round_trip(csv_spec,
               (const char *const[]){ "    x: /nonexistent-akt-dir/qx.csv\n", "  source_test:\n", NULL },
               (const char *const[]){ "dim", "alignment", "hermite", "samples", "noise", "classes", NULL });
    json_content();
    return check_finish();
}
