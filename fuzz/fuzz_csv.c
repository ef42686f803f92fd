/* fuzz_csv.c — the CSV reader (src/io/csv.c) on arbitrary bytes. Every field of a parsed table is
 * read back through each accessor (text, integer, number, line), so that a table the parser
 * accepts is one its users can walk. */
#include "fuzz.h"

#include "aspire/csv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aspire_csv *csv = NULL;
    if (aspire_csv_parse(&csv, (const char *)data, size, "fuzz.csv") != ASPIRE_OK) {
        if (csv) abort();                       /* a refusal leaves no table behind */
        if (!*aspire_errmsg()) abort();         /* and names its reason */
        return 0;
    }
    int ncols = aspire_csv_ncols(csv);
    int64_t nrows = aspire_csv_nrows(csv);
    if (ncols < 1 || nrows < 0) abort();
    for (int c = 0; c < ncols; c++) {
        const char *name = aspire_csv_colname(csv, c);
        if (!name || aspire_csv_col(csv, name) != c) abort();  /* names are unique */
    }
    (void)aspire_csv_line(csv, -1);
    for (int64_t r = 0; r < nrows; r++) {
        if (aspire_csv_line(csv, r) < 1) abort();
        for (int c = 0; c < ncols; c++) {
            if (!aspire_csv_field(csv, r, c)) abort();
            int64_t i;
            double d;
            (void)aspire_csv_get_int(csv, r, c, &i);
            if (aspire_csv_get_double(csv, r, c, &d) == ASPIRE_OK && d != d) abort();  /* finite only */
        }
    }
    int col;
    (void)aspire_csv_require(csv, "img_filename", &col);
    aspire_csv_free(csv);
    return 0;
}
