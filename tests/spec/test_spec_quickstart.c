/* test_spec_quickstart.c: the built-in quickstart constant is byte-identical to
 * problems/quickstart.yaml (path given by meson), and loads to the problem it describes. */
#define SPEC_TEST_NO_EXPECT
#include "spec_test_util.h"

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    if (argc != 2)
        return check_finish();
    FILE *file = fopen(argv[1], "rb");
    CHECK(file != NULL);
    if (!file)
        return check_finish();
    static char text[65536];
    size_t size = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    CHECK(size == strlen(akt_spec_quickstart_yaml));
    CHECK(memcmp(text, akt_spec_quickstart_yaml, size) == 0);

    akt_spec from_file, built_in;
    akt_error err = { 0 };
    CHECK(akt_spec_load(&from_file, argv[1], NULL, 0, &err) == AKT_OK);
    CHECK(akt_spec_load_string(&built_in, akt_spec_quickstart_yaml, "<built-in quickstart>", ".", NULL, 0,
                               &err) == AKT_OK);
    CHECK(akt_spec_equal(&from_file, &built_in));
    CHECK(built_in.data.task == AKT_TASK_LINEAR && built_in.data.dim == 50 && built_in.data.noise == 0.1);
    CHECK(built_in.data.source.samples == 200 && built_in.data.target.samples == 25);
    CHECK(built_in.network.activation == AKT_ACTIVATION_LINEAR && !strcmp(built_in.solver.method, "exact"));
    CHECK(built_in.target.elastic == 0.5 && built_in.target.readout_decay == 0.01 && built_in.target.time == 20);
    CHECK(built_in.target.regimes[AKT_REGIME_JOINT] && built_in.source.time == 20);
    akt_spec_free(&from_file);
    akt_spec_free(&built_in);
    return check_finish();
}
