/* corpus_scan.h — the one reader of a world corpus's scenes.jsonl for the models' pretraining
 * loaders (captioner, segmenter): each line of one split, with a "file:line" for errors. */
#ifndef ASPIRE_CORPUS_SCAN_H
#define ASPIRE_CORPUS_SCAN_H

#include <cjson/cJSON.h>

#define CORPUS_SCAN_STOP 1  /* returned by a row callback: enough rows, stop reading */

/* Calls row(ud, o, where) for every line of path whose numeric "split" equals split (every line
 * when split < 0), in file order, until row returns CORPUS_SCAN_STOP or an error status. A line
 * without a numeric "split" is refused naming the file and line. Returns ASPIRE_OK or the error. */
int corpus_scan(const char *path, int split, int (*row)(void *ud, const cJSON *o, const char *where), void *ud);

#endif
