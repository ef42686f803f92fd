/* test_edit.c — the editing stages and `aspire edit`: one image and folder mode, the plate bank built
 * from a small dataset (captions → extractor → plates) and used by replace, and errors that name
 * the file at fault. Telea is used throughout (no model file needed). */
#include "aspire/edit.h"
#include "aspire/fileio.h"
#include "aspire/image.h"

#include "test.h"
#include "testdir.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[256];

static void save_img(const char *rel, int w, int h, int seed, int mask) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    aspire_mkdir_p(path);
    *slash = '/';
    aspire_image img;
    aspire_image_init(&img, w, h, mask ? 1 : 3);
    for (int i = 0; i < w * h * img.c; i++) img.data[i] = (uint8_t)(i * 7 + seed);
    if (mask)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) img.data[y * w + x] = (x > w / 3 && x < w / 2 && y > h / 3 && y < h / 2) ? 255 : 0;
    CHECK(aspire_image_save_png(&img, path) == ASPIRE_OK);
    aspire_image_destroy(&img);
}

static void path_of(char *buf, size_t n, const char *rel) { snprintf(buf, n, "%s/%s", dir, rel); }

static void test_remove_one_and_folder(void) {
    save_img("in/a.png", 20, 16, 1, 0);
    save_img("in/sub/b.png", 20, 16, 2, 0);
    save_img("masks/a.png", 20, 16, 0, 1);
    save_img("masks/sub/b.png", 20, 16, 0, 1);
    char img[512], mask[512], out[512];
    path_of(img, sizeof img, "in/a.png");
    path_of(mask, sizeof mask, "masks/a.png");
    path_of(out, sizeof out, "out1/a.png");
    aspire_edit_remove_opts o;
    aspire_edit_remove_opts_default(&o);
    o.image = img, o.mask = mask, o.out = out, o.classical = 1, o.progress = 0;
    CHECK(aspire_edit_remove_run(&o) == ASPIRE_OK);
    CHECK(aspire_file_exists(out));
    path_of(img, sizeof img, "in");
    path_of(mask, sizeof mask, "masks");
    path_of(out, sizeof out, "out2");
    CHECK(aspire_edit_remove_run(&o) == ASPIRE_OK);
    char b[512];
    path_of(b, sizeof b, "out2/sub/b.png");
    CHECK(aspire_file_exists(b));
    /* a missing mask is named */
    save_img("in/c.png", 20, 16, 3, 0);
    CHECK(aspire_edit_remove_run(&o) != ASPIRE_OK && strstr(aspire_errmsg(), "masks/c.png"));
    /* a mask of another size is named */
    save_img("masks/c.png", 21, 16, 0, 1);
    CHECK(aspire_edit_remove_run(&o) != ASPIRE_OK && strstr(aspire_errmsg(), "masks/c.png") &&
          strstr(aspire_errmsg(), "21x16"));
}

/* A two-image dataset with captions naming a lake and a forest, its plates, and a replacement. */
static void test_plates_and_replace(void) {
    save_img("data/duck/1.png", 24, 24, 5, 0);
    save_img("data/owl/2.png", 24, 24, 6, 0);
    save_img("objmasks/duck/1.png", 24, 24, 0, 1);
    save_img("objmasks/owl/2.png", 24, 24, 0, 1);
    char p[512];
    path_of(p, sizeof p, "data/metadata.csv");
    const char *meta = "img_id,img_filename,y,split,place\n1,duck/1.png,1,0,1\n2,owl/2.png,0,0,0\n";
    CHECK(testdir_write(p, meta, strlen(meta)) == 0);
    path_of(p, sizeof p, "caps.csv");
    const char *caps = "path,caption\nduck/1.png,a duck swimming on a lake\nowl/2.png,an owl in the forest\n";
    CHECK(testdir_write(p, caps, strlen(caps)) == 0);
    char data[512], masks[512], plates[512];
    path_of(data, sizeof data, "data");
    path_of(masks, sizeof masks, "objmasks");
    path_of(plates, sizeof plates, "bank");
    aspire_edit_plates_opts o;
    aspire_edit_plates_opts_default(&o);
    o.data = data, o.captions = p, o.masks = masks, o.out = plates, o.classical = 1, o.progress = 0;
    CHECK(aspire_edit_plates_run(&o) == ASPIRE_OK);
    char csv[512], *text = NULL;
    size_t n = 0;
    path_of(csv, sizeof csv, "bank/plates.csv");
    CHECK(aspire_read_file(csv, &text, &n) == ASPIRE_OK);
    CHECK(text && strstr(text, "plates/1.png,lake,water,duck/1.png") && strstr(text, "plates/2.png,forest,land,owl/2.png"));
    if (text) aspire_free(text, n + 1);
    /* replace the duck's background with the forest plate; its foreground stays */
    char img[512], fg[512], out[512];
    path_of(img, sizeof img, "data/duck/1.png");
    path_of(fg, sizeof fg, "objmasks/duck/1.png");
    path_of(out, sizeof out, "replaced.png");
    aspire_edit_replace_opts r;
    aspire_edit_replace_opts_default(&r);
    r.image = img, r.mask = fg, r.out = out, r.alt = "woods", r.plates = plates, r.progress = 0;
    CHECK(aspire_edit_replace_run(&r) == ASPIRE_OK);
    aspire_image a = {0}, b = {0};
    CHECK(aspire_image_load(&a, img, 3) == ASPIRE_OK && aspire_image_load(&b, out, 3) == ASPIRE_OK);
    int same_fg = a.data && b.data && memcmp(a.data + 3 * (10 * 24 + 10), b.data + 3 * (10 * 24 + 10), 3) == 0;
    CHECK(same_fg);
    aspire_image_destroy(&a);
    aspire_image_destroy(&b);
    /* a caption file without the image's row is named */
    const char *short_caps = "path,caption\nduck/1.png,a duck on a lake\n";
    CHECK(testdir_write(p, short_caps, strlen(short_caps)) == 0);
    CHECK(aspire_edit_plates_run(&o) == ASPIRE_ERR_NOTFOUND && strstr(aspire_errmsg(), "caps.csv") &&
          strstr(aspire_errmsg(), "owl/2.png"));
}

static int run_cli(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", ASPIRE_BIN, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void) {
    CHECK(run_cli("edit --help") == 0);
    CHECK(run_cli("edit remove --help") == 0);
    CHECK(run_cli("edit replace --help") == 0);
    CHECK(run_cli("edit plates --help") == 0);
    CHECK(run_cli("edit frobnicate") == 2);
    CHECK(run_cli("edit remove --image x.png") == 2);
    CHECK(run_cli("pretrain inpainter --help") == 0);
    char args[4096], err[512];
    path_of(err, sizeof err, "err.txt");
    snprintf(args, sizeof args, "edit remove --image %s/nope.png --mask %s/masks/a.png --out %s/o.png --classical 2>%s",
             dir, dir, dir, err);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", ASPIRE_BIN, args);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *text = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(err, &text, &n) == ASPIRE_OK && text && strstr(text, "nope.png"));
    if (text) aspire_free(text, n + 1);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_remove_one_and_folder);
    RUN(test_plates_and_replace);
    RUN(test_cli);
    testdir_remove(dir);
    return TEST_REPORT();
}
