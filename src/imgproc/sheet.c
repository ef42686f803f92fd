/* sheet.c — contact sheets: a grid of labelled tiles, drawn with a built-in 3×5 bitmap font. */
#include "aspire/sheet.h"

#include <string.h>

#define PAD 2

/* The font: each glyph is 5 rows of 3 pixels, one octal digit a row (4 = left pixel, 1 = right). */
static const struct { char c; const char *rows; } font[] = {
    {'A', "25755"}, {'B', "65656"}, {'C', "34443"}, {'D', "65556"}, {'E', "74647"}, {'F', "74644"},
    {'G', "34553"}, {'H', "55755"}, {'I', "72227"}, {'J', "11152"}, {'K', "55655"}, {'L', "44447"},
    {'M', "57755"}, {'N', "65555"}, {'O', "25552"}, {'P', "65644"}, {'Q', "25563"}, {'R', "65655"},
    {'S', "34216"}, {'T', "72222"}, {'U', "55557"}, {'V', "55552"}, {'W', "55775"}, {'X', "55255"},
    {'Y', "55222"}, {'Z', "71247"}, {'0', "75557"}, {'1', "26227"}, {'2', "61247"}, {'3', "61216"},
    {'4', "55711"}, {'5', "74616"}, {'6', "34652"}, {'7', "71222"}, {'8', "25252"}, {'9', "25316"},
    {'.', "00002"}, {',', "00024"}, {':', "02020"}, {'-', "00700"}, {'+', "02720"}, {'(', "12221"},
    {')', "42224"}, {'/', "11244"}, {'%', "51245"}, {'=', "07070"}, {'|', "22222"}, {'_', "00007"},
    {'>', "42124"}, {'<', "12421"}, {'#', "57575"}, {'?', "61202"}, {'!', "22202"}, {'\'', "22000"},
};

static const char *glyph(char c) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c) return font[i].rows;
    return NULL;
}

int aspire_sheet_text(aspire_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3]) {
    if (scale < 1) scale = 1;
    int x0 = x;
    for (; *text; text++, x += 4 * scale) {
        const char *g = glyph(*text);
        for (int r = 0; g && r < 5; r++)
            for (int c = 0; c < 3; c++) {
                if (!(((g[r] - '0') >> (2 - c)) & 1)) continue;
                for (int yy = y + r * scale; yy < y + (r + 1) * scale; yy++)
                    for (int xx = x + c * scale; xx < x + (c + 1) * scale; xx++)
                        if (xx >= 0 && yy >= 0 && xx < img->w && yy < img->h)
                            memcpy(img->data + ((size_t)yy * img->w + xx) * 3, rgb, 3);
            }
    }
    return x - x0;
}

typedef struct cell {
    aspire_image img;  /* tile×tile RGB, or empty for a skipped cell */
    char *label;
} cell;

struct aspire_sheet {
    int cols, tile, scale;
    char **header;     /* cols */
    cell *cells;
    int n, cap;
};

int aspire_sheet_new(aspire_sheet **out, int cols, int tile, int scale) {
    *out = NULL;
    if (cols < 1 || cols > 256 || tile < 4 || tile > 2048)
        return aspire_error(ASPIRE_ERR_ARG, "sheet: %d columns of %d px (want 1..256 of 4..2048)", cols, tile);
    aspire_sheet *s = aspire_calloc(1, sizeof *s);
    if (!s) return ASPIRE_ERR_NOMEM;
    s->cols = cols;
    s->tile = tile;
    s->scale = scale > 0 ? scale : tile < 96 ? 1 : 2;
    if (!(s->header = aspire_calloc((size_t)cols, sizeof *s->header))) { aspire_sheet_free(s); return ASPIRE_ERR_NOMEM; }
    *out = s;
    return ASPIRE_OK;
}

void aspire_sheet_free(aspire_sheet *s) {
    if (!s) return;
    for (int c = 0; s->header && c < s->cols; c++) aspire_strfree(s->header[c]);
    for (int i = 0; i < s->n; i++) {
        aspire_image_destroy(&s->cells[i].img);
        aspire_strfree(s->cells[i].label);
    }
    aspire_free(s->header, 0);
    aspire_free(s->cells, 0);
    aspire_free(s, sizeof *s);
}

int aspire_sheet_header(aspire_sheet *s, int col, const char *text) {
    if (col < 0 || col >= s->cols) return aspire_error(ASPIRE_ERR_ARG, "sheet: column %d of %d", col, s->cols);
    aspire_strfree(s->header[col]);
    s->header[col] = NULL;
    if (text && !(s->header[col] = aspire_strdup(text))) return ASPIRE_ERR_NOMEM;
    return ASPIRE_OK;
}

static cell *next_cell(aspire_sheet *s) {
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 32;
        cell *c = aspire_realloc(s->cells, (size_t)s->cap * sizeof *c, (size_t)nc * sizeof *c);
        if (!c) return NULL;
        s->cells = c;
        s->cap = nc;
    }
    cell *c = &s->cells[s->n++];
    memset(c, 0, sizeof *c);
    return c;
}

/* img as a tile×tile RGB image: integer nearest-neighbour zoom where it divides, else resized. */
static int make_tile(const aspire_image *img, int tile, aspire_image *out) {
    aspire_image rgb = {0};
    int rc = aspire_image_init(&rgb, img->w, img->h, 3);
    for (int64_t p = 0; !rc && p < (int64_t)img->w * img->h; p++)
        for (int ch = 0; ch < 3; ch++) rgb.data[3 * p + ch] = img->data[p * img->c + (img->c >= 3 ? ch : 0)];
    if (!rc && img->w == img->h && tile % img->w == 0) {
        int f = tile / img->w;
        rc = aspire_image_init(out, tile, tile, 3);
        for (int y = 0; !rc && y < tile; y++)
            for (int x = 0; x < tile; x++)
                memcpy(out->data + ((size_t)y * tile + x) * 3, rgb.data + ((size_t)(y / f) * img->w + x / f) * 3, 3);
    } else if (!rc) {
        rc = aspire_image_resize(out, &rgb, tile, tile, ASPIRE_RESIZE_AUTO);
    }
    aspire_image_destroy(&rgb);
    return rc;
}

int aspire_sheet_add(aspire_sheet *s, const aspire_image *img, const char *label) {
    cell *c = next_cell(s);
    if (!c) return ASPIRE_ERR_NOMEM;
    int rc = make_tile(img, s->tile, &c->img);
    if (!rc && label && !(c->label = aspire_strdup(label))) rc = ASPIRE_ERR_NOMEM;
    return rc;
}

int aspire_sheet_add_mask(aspire_sheet *s, const uint8_t *mask, int w, int h, const char *label) {
    aspire_image m = {0};
    int rc = aspire_image_init(&m, w, h, 1);
    for (int64_t i = 0; !rc && i < (int64_t)w * h; i++) m.data[i] = mask[i] ? 255 : 0;
    if (!rc) rc = aspire_sheet_add(s, &m, label);
    aspire_image_destroy(&m);
    return rc;
}

int aspire_sheet_skip(aspire_sheet *s) { return next_cell(s) ? ASPIRE_OK : ASPIRE_ERR_NOMEM; }

int aspire_sheet_render(const aspire_sheet *s, aspire_image *out) {
    memset(out, 0, sizeof *out);
    const int line = 6 * s->scale + 2, rows = (s->n + s->cols - 1) / s->cols;
    int has_header = 0, has_labels = 0;
    for (int c = 0; c < s->cols; c++) has_header |= s->header[c] != NULL;
    for (int i = 0; i < s->n; i++) has_labels |= s->cells[i].label != NULL;
    const int head = has_header ? line + PAD : 0, cell_h = s->tile + PAD + (has_labels ? line : 0);
    const int W = s->cols * (s->tile + PAD) + PAD, H = head + (rows ? rows : 1) * cell_h + PAD;
    int rc = aspire_image_init(out, W, H, 3);
    if (rc) return rc;
    memset(out->data, 24, (size_t)W * H * 3);
    static const uint8_t white[3] = {235, 235, 235}, grey[3] = {60, 60, 60};
    for (int c = 0; c < s->cols; c++)
        if (s->header[c]) aspire_sheet_text(out, PAD + c * (s->tile + PAD), PAD, s->header[c], s->scale, white);
    for (int i = 0; i < s->n; i++) {
        int x0 = PAD + (i % s->cols) * (s->tile + PAD), y0 = head + PAD + (i / s->cols) * cell_h;
        const cell *c = &s->cells[i];
        for (int y = 0; y < s->tile; y++)
            for (int x = 0; x < s->tile; x++) {
                uint8_t *dst = out->data + ((size_t)(y0 + y) * W + x0 + x) * 3;
                if (c->img.data) memcpy(dst, c->img.data + ((size_t)y * s->tile + x) * 3, 3);
                else memcpy(dst, grey, 3);
            }
        if (c->label) aspire_sheet_text(out, x0, y0 + s->tile + 1, c->label, s->scale, white);
    }
    return ASPIRE_OK;
}

int aspire_sheet_save(const aspire_sheet *s, const char *path) {
    aspire_image img;
    int rc = aspire_sheet_render(s, &img);
    if (!rc) rc = aspire_image_save_png(&img, path);
    aspire_image_destroy(&img);
    return rc;
}
