/* fuzz_world_scene.c — a world scene as JSON (aspire_world_scene_from_json, the ground-truth files'
 * scenes.jsonl lines) on arbitrary bytes; an accepted scene is rendered at 16×16 with its label
 * map, its boxes taken and its captions drawn, so that whatever the parser lets through is safe
 * for the renderer. */
#include "fuzz.h"

#include "aspire/rng.h"
#include "aspire/world.h"

static aspire_world *world;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    if (aspire_world_new(&world, NULL) != ASPIRE_OK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = fuzz_cstr(data, size);
    aspire_world_scene s;
    if (aspire_world_scene_from_json(&s, json) == ASPIRE_OK) {
        if (s.nobjects < 0 || s.nobjects > ASPIRE_WORLD_MAX_OBJECTS || s.bird < -1 || s.bird >= s.nobjects) abort();
        enum { SIZE = 16 };
        uint8_t rgb[SIZE * SIZE * 3], labels[SIZE * SIZE];
        if (aspire_world_render(world, &s, SIZE, rgb, labels) != ASPIRE_OK) abort();
        for (int k = 0; k < s.nobjects; k++) {
            int box[4];
            aspire_world_object_box(&s, k, SIZE, box);
            if (box[0] < 0 || box[1] < 0 || box[2] > SIZE || box[3] > SIZE) abort();
        }
        aspire_rng rng;
        aspire_rng_seed(&rng, 1);
        char cap[256];
        (void)aspire_world_caption(&s, &rng, cap, sizeof cap);
    }
    free(json);
    return 0;
}
