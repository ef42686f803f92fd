/* utf8.h — internal to src/io: UTF-8 validation for text formats (CSV, JSON lines, safetensors
 * headers), so that a non-UTF-8 byte is reported with its file and line instead of flowing on. */
#ifndef ASPIRE_IO_UTF8_H
#define ASPIRE_IO_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
 * surrogates and code points above U+10FFFF are ill-formed), or -1 if s[0..n) is valid. */
static inline ptrdiff_t io_utf8_invalid_at(const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return (ptrdiff_t)i;
        if (n - i < len) return (ptrdiff_t)i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return (ptrdiff_t)i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return (ptrdiff_t)i;
        i += len;
    }
    return -1;
}

#endif
