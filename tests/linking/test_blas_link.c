/* Which library serves cblas_dgemm (DESIGN.md, Decisions: Linking). GSL's pkg-config file adds
 * -lgslcblas, GSL's slow reference CBLAS; if it were linked ahead of OpenBLAS it would serve
 * every matrix product. The symbol must resolve to OpenBLAS, and a product must be right. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include <cblas.h>

#include "../check.h"

int main(void)
{
    Dl_info info;
    CHECK(dladdr((void *)cblas_dgemm, &info) != 0);
    const char *library = info.dli_fname ? info.dli_fname : "(unknown)";
    printf("cblas_dgemm is served by %s\n", library);
    CHECK(strstr(library, "openblas") != NULL);
    CHECK(strstr(library, "gslcblas") == NULL);

    /* [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50] */
    double a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {0};
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0, a, 2, b, 2, 0.0, c, 2);
    CHECK_ABSOLUTE(c[0], 19, 0);
    CHECK_ABSOLUTE(c[1], 22, 0);
    CHECK_ABSOLUTE(c[2], 43, 0);
    CHECK_ABSOLUTE(c[3], 50, 0);
    return check_finish();
}
