/*
 * The compiled helpers of the network connectors' column-wise path, each where Python or
 * numpy measured too slow, and each running without the GIL, so that both parse threads
 * can use them at once:
 *
 * - digests: BLAKE3 of many short records at once.
 * - json_nonstandard_number: whether a block of JSON lines holds NaN or Inf as a value.
 * - json_keep_keys: a block of JSON lines with only the members a reader asks for.
 * - json_columns: the columns a reader asks for, read from a block of JSON lines.
 * - line_feeds: where the line feeds of a block are.
 *
 * digests: the first 16 bytes of the BLAKE3 hash of each record of up to 1,024 bytes (one
 * BLAKE3 chunk), written side by side.
 * Why: the network connectors give every record an id made of its BLAKE3 hash.
 * The `blake3` package hashes one input a call, holding the GIL for inputs under 2 KiB, and
 * a record of a few hundred bytes is one chunk, which it compresses block after block. That
 * was 0.9 us of a full-size Suricata record's 9 us, all of it under the GIL. Here sixteen
 * records are compressed side by side, one in each lane of a vector (GCC's vector
 * extensions: AVX-512 where the processor has it, else SSE2), with the GIL released:
 * 0.25 us a record with AVX-512 and 0.5 us with SSE2. (With AVX2, sixteen lanes were slower
 * than with SSE2, its sixteen registers being too few for their state, and eight lanes only
 * 10-15% faster than sixteen with SSE2: not worth a third variant.)
 * Longer records are left to the `blake3` package (the caller fills them in).
 *
 * Written from the BLAKE3 specification (https://github.com/BLAKE3-team/BLAKE3-specs);
 * the tests check it against the `blake3` package.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_LEN 64
#define CHUNK_LEN 1024
#define LANES 16
#define MAX_BLOCKS (CHUNK_LEN / BLOCK_LEN)
#define OUT_LEN 16
/* The helpers are inlined into each processor-specific copy of `hash_lanes`: vectors passed
 * between functions compiled for different processors would not agree on registers. */
#define INLINE static inline __attribute__((always_inline))

enum { CHUNK_START = 1, CHUNK_END = 2, ROOT = 8 };

typedef uint32_t lanes_t __attribute__((vector_size(4 * LANES)));

static const uint32_t IV[8] = {
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

/* The message words each of the seven rounds takes, in order: the specification's
 * permutation applied once more at each round. */
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

INLINE lanes_t splat(uint32_t x) {
    lanes_t out;
    for (int i = 0; i < LANES; i++) out[i] = x;
    return out;
}

INLINE lanes_t rotr(lanes_t x, int n) { return (x >> n) | (x << (32 - n)); }

INLINE uint32_t load_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

#define G(a, b, c, d, x, y)                 \
    do {                                    \
        v[a] = v[a] + v[b] + (x);           \
        v[d] = rotr(v[d] ^ v[a], 16);       \
        v[c] = v[c] + v[d];                 \
        v[b] = rotr(v[b] ^ v[c], 12);       \
        v[a] = v[a] + v[b] + (y);           \
        v[d] = rotr(v[d] ^ v[a], 8);        \
        v[c] = v[c] + v[d];                 \
        v[b] = rotr(v[b] ^ v[c], 7);        \
    } while (0)

/* One block of each lane's chunk: the chaining values `cv` become the compression's output
 * in the lanes where `active` is set, and stay as they are in the others. */
INLINE void compress(lanes_t cv[8], const lanes_t m[16], lanes_t block_len,
                            lanes_t flags, lanes_t active) {
    lanes_t v[16];
    for (int i = 0; i < 8; i++) v[i] = cv[i];
    for (int i = 0; i < 4; i++) v[8 + i] = splat(IV[i]);
    v[12] = splat(0); /* chunk counter, low and high: every record is chunk 0 */
    v[13] = splat(0);
    v[14] = block_len;
    v[15] = flags;
    for (int r = 0; r < 7; r++) {
        const uint8_t *s = SCHEDULE[r];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) cv[i] = ((v[i] ^ v[i + 8]) & active) | (cv[i] & ~active);
}

/* Hashes the records `order[0..count)` (count <= LANES) side by side. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "default")))
#endif
static void hash_lanes(const uint8_t *data, const int64_t *offsets, const int64_t *order,
                       int count, uint8_t *out) {
    int64_t start[LANES], length[LANES];
    uint32_t blocks[LANES];
    uint32_t most = 1;
    for (int l = 0; l < LANES; l++) {
        int64_t i = order[l < count ? l : 0];
        start[l] = offsets[i];
        length[l] = l < count ? offsets[i + 1] - offsets[i] : 0;
        blocks[l] = length[l] == 0 ? 1 : (uint32_t)((length[l] + BLOCK_LEN - 1) / BLOCK_LEN);
        if (blocks[l] > most) most = blocks[l];
    }
    lanes_t cv[8];
    for (int i = 0; i < 8; i++) cv[i] = splat(IV[i]);
    uint8_t padded[BLOCK_LEN];
    for (uint32_t b = 0; b < most; b++) {
        uint32_t words[16][LANES];
        lanes_t block_len, flags, active;
        for (int l = 0; l < LANES; l++) {
            int64_t at = (int64_t)b * BLOCK_LEN;
            int64_t left = length[l] - at;
            uint32_t len = left <= 0 ? 0 : left >= BLOCK_LEN ? BLOCK_LEN : (uint32_t)left;
            const uint8_t *p = data + start[l] + at;
            if (len < BLOCK_LEN) {
                memset(padded, 0, BLOCK_LEN);
                if (len) memcpy(padded, p, len);
                p = padded;
            }
            for (int w = 0; w < 16; w++) words[w][l] = load_le(p + 4 * w);
            block_len[l] = len;
            flags[l] = (b == 0 ? CHUNK_START : 0) | (b + 1 == blocks[l] ? CHUNK_END | ROOT : 0);
            active[l] = b < blocks[l] ? 0xFFFFFFFFu : 0;
        }
        lanes_t m[16];
        for (int w = 0; w < 16; w++) memcpy(&m[w], words[w], sizeof m[w]);
        compress(cv, m, block_len, flags, active);
    }
    for (int l = 0; l < count; l++) {
        uint8_t *o = out + order[l] * OUT_LEN;
        for (int w = 0; w < OUT_LEN / 4; w++) {
            uint32_t x = cv[w][l];
            o[4 * w] = (uint8_t)x;
            o[4 * w + 1] = (uint8_t)(x >> 8);
            o[4 * w + 2] = (uint8_t)(x >> 16);
            o[4 * w + 3] = (uint8_t)(x >> 24);
        }
    }
}

/* Records grouped by their number of blocks, so that the lanes of a group finish together;
 * records longer than a chunk are left out. Returns how many are in `order`. */
static Py_ssize_t by_blocks(const int64_t *offsets, Py_ssize_t n, int64_t *order) {
    Py_ssize_t first[MAX_BLOCKS + 2] = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t len = offsets[i + 1] - offsets[i];
        if (len <= CHUNK_LEN) first[(len == 0 ? 1 : (len + BLOCK_LEN - 1) / BLOCK_LEN) + 1]++;
    }
    for (int k = 1; k <= MAX_BLOCKS + 1; k++) first[k] += first[k - 1];
    Py_ssize_t total = first[MAX_BLOCKS + 1];
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t len = offsets[i + 1] - offsets[i];
        if (len <= CHUNK_LEN) order[first[len == 0 ? 1 : (len + BLOCK_LEN - 1) / BLOCK_LEN]++] = i;
    }
    return total;
}

/* Where a line's JSON strings are, found for the bytes asked about, in order: the lexer's
 * state at `at` (in a string or not), once `started`. A quote opens or closes a string,
 * except when escaped by a backslash inside one; a line feed ends a line. */
typedef struct {
    int started;
    const uint8_t *at;
    int in_string;
} strings;

/* Whether p, at or after every byte asked about before, lies inside a string of its line.
 * Each byte of the data is looked at once over all the calls (or twice, to find where its
 * line starts): linear in the data, however many bytes are asked about. */
static int in_string(strings *s, const uint8_t *data, const uint8_t *p) {
    int new_line = !s->started || (s->at < p && memchr(s->at, '\n', (size_t)(p - s->at)));
    if (new_line) { /* p's line starts after the last line feed before it, with no string open */
        const uint8_t *floor = s->started ? s->at : data;
        const uint8_t *start = p;
        while (start > floor && start[-1] != '\n') start--;
        s->started = 1;
        s->at = start;
        s->in_string = 0;
    }
    while (s->at < p) {
        uint8_t c = *s->at++;
        if (c == '"') {
            s->in_string = !s->in_string;
        } else if (c == '\\' && s->in_string) {
            s->at++; /* the escaped byte, a quote perhaps */
        }
    }
    /* No line feed lies between `at` and p (or p's line was started above), and p is never
     * the byte a backslash escapes (its caller asks about bytes after a colon, comma or
     * bracket, and blanks and a sign): `at` stops at p, and the state is p's. */
    return s->in_string;
}

/* The regular expression [:,\[][ \t]*-?(NaN|Inf) outside JSON strings, found by looking for
 * each N and I with memchr (vectorised by the C library) and, where NaN or Inf starts there,
 * at what is before; and only then, whether it lies in a string (a community id such as
 * "1:Inf3k…" is text, not a number: taken for one, it sent its whole block line by line). */
static int nonstandard_at(const uint8_t *data, Py_ssize_t size, uint8_t first,
                          const char *word) {
    const uint8_t *p = data;
    const uint8_t *end = data + size;
    strings lexer = {0, data, 0};
    while ((p = memchr(p, first, (size_t)(end - p))) != NULL) {
        if (end - p >= 3 && p[1] == (uint8_t)word[1] && p[2] == (uint8_t)word[2]) {
            Py_ssize_t before = p - data; /* how many bytes precede, the one looked at last */
            if (before > 0 && data[before - 1] == '-') before--;
            while (before > 0 && (data[before - 1] == ' ' || data[before - 1] == '\t')) before--;
            if (before > 0) {
                uint8_t c = data[before - 1];
                if ((c == ':' || c == ',' || c == '[') && !in_string(&lexer, data, p)) return 1;
            }
        }
        p++;
    }
    return 0;
}

PyDoc_STRVAR(nonstandard_doc,
             "json_nonstandard_number(data) -> bool\n\n"
             "Whether data holds NaN or Inf (Infinity too), signed or not, after a colon, comma"
             " or bracket and any spaces: as a JSON value, which Arrow's JSON reader takes and"
             " orjson refuses. Runs without the GIL.");

static PyObject *json_nonstandard_number(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    int found;
    Py_BEGIN_ALLOW_THREADS
    const uint8_t *bytes = (const uint8_t *)data.buf;
    found = nonstandard_at(bytes, data.len, 'N', "NaN") || nonstandard_at(bytes, data.len, 'I', "Inf");
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyBool_FromLong(found);
}

/* json_keep_keys: each line that is one JSON object, strictly valid, keeps only the members a
 * reader asks for, at every level (a spec: the wanted keys of an object, each with the spec
 * of its own value, or none to keep the value whole; an array's objects take their array's
 * spec). Why: Arrow's JSON reader tokenizes every byte of a line, the fields it is not asked
 * for too, and a Suricata 7 record is mostly sections no column reads (flow counters, TCP
 * flags, metadata); a line scanned here and parsed at a third of its size costs less.
 * What is removed must be JSON orjson (the per-line path) accepts, or the column-wise path
 * would store a record the per-line one rejects. So the scan is stricter than orjson: a line
 * with anything it does not vouch for is copied whole, and parsed as before. Not vouched
 * for: escapes in a key, surrogate escapes (\uD800-\uDFFF), control characters in strings,
 * integer parts over 18 digits or exponents over 2 digits (which orjson reads as floats, or
 * refuses as infinite), nesting deeper than 64, and whitespace other than spaces and tabs.
 * Bytes from 0x80 up pass here: the caller checks the block is UTF-8. A value of another
 * kind than its spec expects (text where an object is asked for) is kept whole, for the
 * reader to refuse as before. */

#define MAX_DEPTH 64

typedef struct spec spec;
typedef struct {
    const char *name;
    Py_ssize_t length;
    uint64_t head; /* the name's first 8 bytes (zero-padded): most keys differ there */
    const spec *child; /* NULL: the value is kept whole */
} member;
struct spec {
    Py_ssize_t count;
    member members[];
};

INLINE const uint8_t *skip_blank(const uint8_t *p, const uint8_t *end) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

INLINE int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* A mask with the high bit of each of the 8 bytes of w (little-endian) that is a quote, a
 * backslash or a control character; bits above the lowest may be false alarms (borrows), the
 * lowest is exact. */
INLINE uint64_t special_bytes(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"'), backslash = w ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) |
            ((w - ONES * 0x20) & ~w)) & HIGHS;
}

/* The first quote, backslash or control character at p or after, or end. */
INLINE const uint8_t *next_special(const uint8_t *p, const uint8_t *end) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) { /* eight bytes at a time */
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t found = special_bytes(w);
        if (found) return p + (__builtin_ctzll(found) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
    return p;
}

/* The end of the string starting at p (its opening quote), or NULL; `plain` is cleared where
 * the string holds an escape. */
INLINE const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, int *plain) {
    p++;
    for (;;) {
        p = next_special(p, end);
        if (p >= end) return NULL;
        uint8_t c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        *plain = 0; /* a backslash */
        if (end - p < 2) return NULL;
        c = p[1];
        if (c == 'u') {
            if (end - p < 6) return NULL;
            int code = 0;
            for (int i = 2; i < 6; i++) {
                int digit = hex_digit(p[i]);
                if (digit < 0) return NULL;
                code = code * 16 + digit;
            }
            if (code >= 0xD800 && code <= 0xDFFF) return NULL;
            p += 6;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                   c == 'r' || c == 't') {
            p += 2;
        } else {
            return NULL;
        }
    }
}

INLINE const uint8_t *scan_number(const uint8_t *p, const uint8_t *end) {
    if (p < end && *p == '-') p++;
    const uint8_t *digits = p;
    if (p < end && *p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p == digits || p - digits > 18) return NULL;
    if (p < end && *p == '.') {
        const uint8_t *fraction = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == fraction) return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const uint8_t *exponent = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == exponent || p - exponent > 2) return NULL;
    }
    return p;
}

INLINE const uint8_t *scan_literal(const uint8_t *p, const uint8_t *end, const char *word,
                                   size_t length) {
    return (size_t)(end - p) >= length && memcmp(p, word, length) == 0 ? p + length : NULL;
}

static const uint8_t *filter_value(const uint8_t *p, const uint8_t *end, const spec *want,
                                   int depth, uint8_t **out);

INLINE uint64_t head_of(const uint8_t *name, Py_ssize_t length) {
    uint64_t head = 0;
    memcpy(&head, name, (size_t)(length < 8 ? length : 8));
    return head;
}

/* Whether a name (with its head_of) is key[0:length] (whose head_of is `head`). */
INLINE int same_name(const char *name, Py_ssize_t name_length, uint64_t name_head,
                     const uint8_t *key, Py_ssize_t length, uint64_t head) {
    return name_head == head && name_length == length &&
           (length <= 8 || memcmp(name + 8, key + 8, (size_t)(length - 8)) == 0);
}

/* The member of `want` named key[0:length], or NULL. */
INLINE const member *find_member(const spec *want, const uint8_t *key, Py_ssize_t length) {
    uint64_t head = head_of(key, length);
    for (Py_ssize_t i = 0; i < want->count; i++) {
        const member *m = &want->members[i];
        if (same_name(m->name, m->length, m->head, key, length, head)) return m;
    }
    return NULL;
}

/* An object or an array from its opening bracket, filtered by `want` (objects: their wanted
 * members; arrays: their values) and written at *out when out is not NULL. */
static const uint8_t *filter_container(const uint8_t *p, const uint8_t *end, const spec *want,
                                       int depth, uint8_t **out) {
    uint8_t close = *p == '{' ? '}' : ']';
    int object = *p == '{';
    if (depth >= MAX_DEPTH) return NULL;
    if (out) *(*out)++ = *p;
    int written = 0;
    p = skip_blank(p + 1, end);
    if (p < end && *p == close) {
        if (out) *(*out)++ = close;
        return p + 1;
    }
    for (;;) {
        const uint8_t *key = p;
        const spec *child = want;
        uint8_t **to = out;
        if (object) {
            int plain = 1;
            if (p >= end || *p != '"' || (p = scan_string(p, end, &plain)) == NULL || !plain)
                return NULL;
            Py_ssize_t length = p - key - 2;
            to = NULL;
            child = NULL;
            const member *m = out && want ? find_member(want, key + 1, length) : NULL;
            if (m) {
                to = out;
                child = m->child;
            }
            if (to) {
                if (written++) *(*to)++ = ',';
                memcpy(*to, key, (size_t)(p - key));
                *to += p - key;
                *(*to)++ = ':';
            }
            p = skip_blank(p, end);
            if (p >= end || *p != ':') return NULL;
            p = skip_blank(p + 1, end);
        } else if (to) {
            if (written++) *(*to)++ = ',';
        }
        if ((p = filter_value(p, end, child, depth + 1, to)) == NULL) return NULL;
        p = skip_blank(p, end);
        if (p >= end) return NULL;
        if (*p == close) {
            if (out) *(*out)++ = close;
            return p + 1;
        }
        if (*p != ',') return NULL;
        p = skip_blank(p + 1, end);
    }
}

/* A value: scanned (out NULL), copied whole (no spec, or not a container), or filtered. */
static const uint8_t *filter_value(const uint8_t *p, const uint8_t *end, const spec *want,
                                   int depth, uint8_t **out) {
    if (p >= end) return NULL;
    if (*p == '{' || *p == '[') {
        if (want || !out) return filter_container(p, end, want, depth, out);
    }
    const uint8_t *start = p;
    int plain = 1;
    switch (*p) {
        case '"': p = scan_string(p, end, &plain); break;
        case '{':
        case '[': p = filter_container(p, end, NULL, depth, NULL); break;
        case 't': p = scan_literal(p, end, "true", 4); break;
        case 'f': p = scan_literal(p, end, "false", 5); break;
        case 'n': p = scan_literal(p, end, "null", 4); break;
        default: p = scan_number(p, end);
    }
    if (p && out) {
        memcpy(*out, start, (size_t)(p - start));
        *out += p - start;
    }
    return p;
}

static Py_ssize_t keep_keys_lines(const uint8_t *data, Py_ssize_t size, const spec *want,
                                  uint8_t *out) {
    const uint8_t *p = data, *end = data + size;
    uint8_t *o = out;
    while (p < end) {
        const uint8_t *line_end = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = line_end != NULL ? line_end : end;
        uint8_t *written = o;
        const uint8_t *q = skip_blank(p, stop);
        if (q < stop && *q == '{') q = filter_container(q, stop, want, 0, &written);
        else q = NULL;
        if (q == NULL || skip_blank(q, stop) != stop) { /* copied whole: parsed as before */
            memcpy(o, p, (size_t)(stop - p));
            written = o + (stop - p);
        }
        o = written;
        if (line_end == NULL) break;
        *o++ = '\n';
        p = line_end + 1;
    }
    return o - out;
}

static void free_spec(spec *s) {
    if (s == NULL) return;
    for (Py_ssize_t i = 0; i < s->count; i++) free_spec((spec *)s->members[i].child);
    PyMem_Free(s);
}

/* A spec from ((b"key", child spec or None), ...); NULL with an exception set. The names
 * point into the bytes objects, which the caller's argument keeps alive. */
static spec *build_spec(PyObject *tuple, int depth) {
    if (!PyTuple_Check(tuple) || depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_TypeError, "spec: a tuple of (bytes, spec or None) pairs");
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(tuple);
    spec *s = PyMem_Calloc(1, sizeof(spec) + (size_t)count * sizeof(member));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(tuple, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(pair, 0))) {
            PyErr_SetString(PyExc_TypeError, "spec: a tuple of (bytes, spec or None) pairs");
            free_spec(s);
            return NULL;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0), *child = PyTuple_GET_ITEM(pair, 1);
        s->members[i].name = PyBytes_AS_STRING(name);
        s->members[i].length = PyBytes_GET_SIZE(name);
        s->members[i].head = head_of((const uint8_t *)s->members[i].name, s->members[i].length);
        s->count = i + 1;
        if (child != Py_None && (s->members[i].child = build_spec(child, depth + 1)) == NULL) {
            free_spec(s);
            return NULL;
        }
    }
    return s;
}

PyDoc_STRVAR(keep_keys_doc,
             "json_keep_keys(data, spec) -> bytes\n\n"
             "data's lines, each JSON object strictly valid (stricter than orjson) with only"
             " the members spec asks for: ((b\"key\", spec of its value or None to keep it"
             " whole), ...), at every level, an array's objects taking the array's spec. A line"
             " it does not vouch for is copied whole. The bytes of data are not checked to be"
             " UTF-8. Runs without the GIL.");

static PyObject *json_keep_keys(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    PyObject *wanted;
    if (!PyArg_ParseTuple(args, "y*O", &data, &wanted)) return NULL;
    PyObject *result = NULL;
    spec *want = build_spec(wanted, 0);
    if (want == NULL) goto done;
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) goto done;
    Py_ssize_t written;
    Py_BEGIN_ALLOW_THREADS
    written = keep_keys_lines((const uint8_t *)data.buf, data.len, want,
                              (uint8_t *)PyBytes_AS_STRING(result));
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&result, written) < 0) result = NULL;
done:
    free_spec(want);
    PyBuffer_Release(&data);
    return result;
}

/* json_columns: the columns a reader's schema asks for, read straight from a block of JSON
 * lines, for the types Suricata's EVE reader uses (text, 64-bit integers, objects, lists of
 * objects).
 * Why: pyarrow's JSON reader cost 1.5 us of a full-size Suricata 7 record even on lines
 * trimmed to what it reads (json_keep_keys), plus 0.55 us for the trim; the same scan
 * filling the columns as it goes does both in one pass.
 * The block goes to pyarrow's reader instead (NULL here, None to the caller) wherever this
 * scan cannot vouch that the reader would give the same columns: anything json_keep_keys does
 * not vouch for, a value of another type than the schema's (the reader refuses those), a
 * kept key given twice in an object, a number with a fraction or an exponent, more than 18
 * digits or a leading zero where an integer is asked for, and the escape \u0000. So every
 * column it gives is the reader's; the tests check it against pyarrow. The bytes are not
 * checked to be UTF-8 here: the caller checks the block, as for json_keep_keys. */

enum { TEXT = 0, INT64 = 1, OBJECT = 2, LIST = 3 };
#define MAX_FIELDS 64

typedef struct {
    uint8_t *data;
    size_t length, capacity;
} growing;

INLINE int reserve(growing *b, size_t extra) {
    if (b->length + extra <= b->capacity) return 1;
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->length + extra) capacity *= 2;
    uint8_t *data = realloc(b->data, capacity);
    if (data == NULL) return 0;
    b->data = data;
    b->capacity = capacity;
    return 1;
}

INLINE int put(growing *b, const void *bytes, size_t length) {
    if (!reserve(b, length)) return 0;
    memcpy(b->data + b->length, bytes, length);
    b->length += length;
    return 1;
}

typedef struct fields fields;
typedef struct {
    const char *name;
    Py_ssize_t length;
    uint64_t head;
    int kind;
    fields *child;            /* OBJECT and LIST (of objects) */
    growing valid;            /* one byte a row: 1 present, 0 null */
    growing offsets;          /* int32, one more than the rows: TEXT and LIST */
    growing values;           /* TEXT: the bytes; INT64: the numbers; LIST: one byte an
                                 item (1 an object, 0 null) */
    int32_t items;            /* LIST: the child's rows so far */
} field;
struct fields {
    Py_ssize_t count;
    field members[];
};

static void free_fields(fields *s) {
    if (s == NULL) return;
    for (Py_ssize_t i = 0; i < s->count; i++) {
        field *f = &s->members[i];
        free(f->valid.data);
        free(f->offsets.data);
        free(f->values.data);
        free_fields(f->child);
    }
    PyMem_Free(s);
}

static const char *const FIELDS_SHAPE =
    "spec: a tuple of (bytes, kind, spec or None): kind 0 text, 1 int64, 2 object, 3 list"
    " of objects (these two with a spec), at most 64 members an object";

/* Fields from the spec tuple; NULL with an exception set. */
static fields *build_fields(PyObject *tuple, int depth) {
    if (!PyTuple_Check(tuple) || depth > 8 || PyTuple_GET_SIZE(tuple) > MAX_FIELDS) {
        PyErr_SetString(PyExc_TypeError, FIELDS_SHAPE);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(tuple);
    fields *s = PyMem_Calloc(1, sizeof(fields) + (size_t)count * sizeof(field));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        s->count = i + 1;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3 ||
            !PyBytes_Check(PyTuple_GET_ITEM(item, 0)) || !PyLong_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, FIELDS_SHAPE);
            free_fields(s);
            return NULL;
        }
        field *f = &s->members[i];
        PyObject *name = PyTuple_GET_ITEM(item, 0), *child = PyTuple_GET_ITEM(item, 2);
        f->name = PyBytes_AS_STRING(name);
        f->length = PyBytes_GET_SIZE(name);
        f->head = head_of((const uint8_t *)f->name, f->length);
        f->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        int nested = f->kind == OBJECT || f->kind == LIST;
        if (f->kind < TEXT || f->kind > LIST || nested != (child != Py_None)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, FIELDS_SHAPE);
            free_fields(s);
            return NULL;
        }
        if (nested && (f->child = build_fields(child, depth + 1)) == NULL) {
            free_fields(s);
            return NULL;
        }
    }
    return s;
}

/* Each field's buffers start with the first offset. */
static int start_fields(fields *s) {
    static const int32_t zero = 0;
    for (Py_ssize_t i = 0; i < s->count; i++) {
        field *f = &s->members[i];
        if ((f->kind == TEXT || f->kind == LIST) && !put(&f->offsets, &zero, sizeof zero)) return 0;
        if (f->child && !start_fields(f->child)) return 0;
    }
    return 1;
}

static int put_null(field *f) {
    static const uint8_t absent = 0;
    static const int64_t nothing = 0;
    if (!put(&f->valid, &absent, 1)) return 0;
    switch (f->kind) {
        case TEXT: {
            int32_t at = (int32_t)f->values.length;
            return put(&f->offsets, &at, sizeof at);
        }
        case INT64: return put(&f->values, &nothing, sizeof nothing);
        case LIST: return put(&f->offsets, &f->items, sizeof f->items);
        default: /* an object's fields are null with it */
            for (Py_ssize_t i = 0; i < f->child->count; i++)
                if (!put_null(&f->child->members[i])) return 0;
            return 1;
    }
}

INLINE int put_valid(field *f) {
    static const uint8_t present = 1;
    return put(&f->valid, &present, 1);
}

INLINE uint8_t *put_utf8(uint8_t *o, int code) {
    if (code < 0x80) {
        *o++ = (uint8_t)code;
    } else if (code < 0x800) {
        *o++ = (uint8_t)(0xC0 | (code >> 6));
        *o++ = (uint8_t)(0x80 | (code & 0x3F));
    } else {
        *o++ = (uint8_t)(0xE0 | (code >> 12));
        *o++ = (uint8_t)(0x80 | ((code >> 6) & 0x3F));
        *o++ = (uint8_t)(0x80 | (code & 0x3F));
    }
    return o;
}

/* A string value from its opening quote, unescaped into f's bytes; NULL to give up. */
static const uint8_t *read_text(const uint8_t *p, const uint8_t *end, field *f) {
    const uint8_t *close;
    int plain = 1;
    if ((close = scan_string(p, end, &plain)) == NULL) return NULL;
    if (f->values.length + (size_t)(close - p) > INT32_MAX) return NULL;
    if (!reserve(&f->values, (size_t)(close - p)) || !put_valid(f)) return NULL;
    uint8_t *o = f->values.data + f->values.length;
    p++;
    if (plain) {
        memcpy(o, p, (size_t)(close - 1 - p));
        o += close - 1 - p;
    } else {
        while (p < close - 1) {
            const uint8_t *special = next_special(p, close - 1);
            memcpy(o, p, (size_t)(special - p));
            o += special - p;
            p = special;
            if (p >= close - 1) break;
            /* a backslash: scan_string vouched for the escape */
            uint8_t c = p[1];
            if (c == 'u') {
                int code = 0;
                for (int i = 2; i < 6; i++) code = code * 16 + hex_digit(p[i]);
                if (code == 0) return NULL;
                o = put_utf8(o, code);
                p += 6;
                continue;
            }
            *o++ = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r'
                 : c == 't' ? '\t' : c; /* " \ / stand for themselves */
            p += 2;
        }
    }
    f->values.length = (size_t)(o - f->values.data);
    int32_t at = (int32_t)f->values.length;
    return put(&f->offsets, &at, sizeof at) ? close : NULL;
}

static const uint8_t *read_integer(const uint8_t *p, const uint8_t *end, field *f) {
    int negative = p < end && *p == '-';
    if (negative) p++;
    const uint8_t *digits = p;
    int64_t value = 0;
    while (p < end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    Py_ssize_t count = p - digits;
    /* A fraction or an exponent after the digits is refused by the caller, which finds it
     * where a comma or a closing brace should be. */
    if (count == 0 || count > 18 || (count > 1 && *digits == '0')) return NULL;
    if (negative) value = -value;
    return put_valid(f) && put(&f->values, &value, sizeof value) ? p : NULL;
}

static const uint8_t *read_object(const uint8_t *p, const uint8_t *end, fields *s, int depth);

/* A value of field f; NULL to give up. */
static const uint8_t *read_value(const uint8_t *p, const uint8_t *end, field *f, int depth) {
    if (p >= end) return NULL;
    if (*p == 'n') {
        if ((p = scan_literal(p, end, "null", 4)) == NULL) return NULL;
        return put_null(f) ? p : NULL;
    }
    switch (f->kind) {
        case TEXT: return *p == '"' ? read_text(p, end, f) : NULL;
        case INT64: return read_integer(p, end, f);
        case OBJECT:
            if (*p != '{' || !put_valid(f)) return NULL;
            return read_object(p, end, f->child, depth + 1);
        default: /* LIST of objects */
            if (*p != '[' || !put_valid(f)) return NULL;
            p = skip_blank(p + 1, end);
            if (p < end && *p == ']') {
                return put(&f->offsets, &f->items, sizeof f->items) ? p + 1 : NULL;
            }
            for (;;) {
                if (p >= end) return NULL;
                static const uint8_t object = 1, none = 0;
                if (*p == 'n') {
                    if ((p = scan_literal(p, end, "null", 4)) == NULL || !put(&f->values, &none, 1))
                        return NULL;
                    for (Py_ssize_t i = 0; i < f->child->count; i++)
                        if (!put_null(&f->child->members[i])) return NULL;
                } else if (*p != '{' || !put(&f->values, &object, 1) ||
                           (p = read_object(p, end, f->child, depth + 1)) == NULL) {
                    return NULL;
                }
                if (f->items == INT32_MAX) return NULL;
                f->items++;
                p = skip_blank(p, end);
                if (p >= end) return NULL;
                if (*p == ']') break;
                if (*p != ',') return NULL;
                p = skip_blank(p + 1, end);
            }
            return put(&f->offsets, &f->items, sizeof f->items) ? p + 1 : NULL;
    }
}

/* An object from its opening brace: the fields of s read from its members (the others
 * scanned), then null where absent. */
static const uint8_t *read_object(const uint8_t *p, const uint8_t *end, fields *s, int depth) {
    if (depth >= MAX_DEPTH) return NULL;
    uint64_t seen = 0;
    p = skip_blank(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto absent;
    }
    for (;;) {
        const uint8_t *key = p;
        int plain = 1;
        if (p >= end || *p != '"' || (p = scan_string(p, end, &plain)) == NULL || !plain)
            return NULL;
        Py_ssize_t length = p - key - 2, index = -1;
        uint64_t head = head_of(key + 1, length);
        for (Py_ssize_t i = 0; i < s->count; i++) {
            const field *m = &s->members[i];
            if (same_name(m->name, m->length, m->head, key + 1, length, head)) {
                index = i;
                break;
            }
        }
        p = skip_blank(p, end);
        if (p >= end || *p != ':') return NULL;
        p = skip_blank(p + 1, end);
        if (index < 0) {
            p = filter_value(p, end, NULL, depth + 1, NULL);
        } else {
            if (seen & (1ULL << index)) return NULL; /* a kept key twice */
            seen |= 1ULL << index;
            p = read_value(p, end, &s->members[index], depth);
        }
        if (p == NULL) return NULL;
        p = skip_blank(p, end);
        if (p >= end) return NULL;
        if (*p == '}') {
            p++;
            break;
        }
        if (*p != ',') return NULL;
        p = skip_blank(p + 1, end);
    }
absent:
    for (Py_ssize_t i = 0; i < s->count; i++)
        if (!(seen & (1ULL << i)) && !put_null(&s->members[i])) return NULL;
    return p;
}

/* The rows of data's lines; -1 to give up (a line it cannot vouch for, or no memory). */
static Py_ssize_t columns_of_lines(const uint8_t *data, Py_ssize_t size, fields *s) {
    const uint8_t *p = data, *end = data + size;
    Py_ssize_t rows = 0;
    if (!start_fields(s)) return -1;
    while (p < end) {
        const uint8_t *line_end = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = line_end != NULL ? line_end : end;
        const uint8_t *q = skip_blank(p, stop);
        if (q >= stop || *q != '{' || (q = read_object(q, stop, s, 0)) == NULL ||
            skip_blank(q, stop) != stop)
            return -1;
        rows++;
        if (line_end == NULL) break;
        p = line_end + 1;
    }
    return rows;
}

static PyObject *as_bytes(const growing *b) {
    return PyBytes_FromStringAndSize((const char *)b->data, (Py_ssize_t)b->length);
}

/* Each field's buffers, in the spec's order, depth first, appended to out. */
static int collect(const fields *s, PyObject *out) {
    for (Py_ssize_t i = 0; i < s->count; i++) {
        const field *f = &s->members[i];
        PyObject *item = Py_BuildValue(
            "(NNN)", as_bytes(&f->valid),
            f->kind == TEXT || f->kind == LIST ? as_bytes(&f->offsets) : Py_NewRef(Py_None),
            f->kind != OBJECT ? as_bytes(&f->values) : Py_NewRef(Py_None));
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            return 0;
        }
        Py_DECREF(item);
        if (f->child && !collect(f->child, out)) return 0;
    }
    return 1;
}

PyDoc_STRVAR(columns_doc,
             "json_columns(data, spec) -> (rows, [(valid, offsets, values), ...]) or None\n\n"
             "The fields spec asks for, ((b\"key\", kind, spec or None), ...) with kind 0 text,"
             " 1 int64, 2 object, 3 list of objects, read from data's lines (one JSON object"
             " each): for each field, depth first, one byte a row (1 present, 0 null), the"
             " int32 offsets (text, lists) and the values (text bytes, int64s; for a list one"
             " byte an item, 1 an object, 0 null). None where a"
             " line holds anything the scan cannot vouch pyarrow's JSON reader would read the"
             " same. The text is not checked to be UTF-8. Runs without the GIL.");

static PyObject *json_columns(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    PyObject *wanted;
    if (!PyArg_ParseTuple(args, "y*O", &data, &wanted)) return NULL;
    PyObject *result = NULL, *buffers = NULL;
    fields *s = build_fields(wanted, 0);
    if (s == NULL) goto done;
    Py_ssize_t rows;
    Py_BEGIN_ALLOW_THREADS
    rows = columns_of_lines((const uint8_t *)data.buf, data.len, s);
    Py_END_ALLOW_THREADS
    if (rows < 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if ((buffers = PyList_New(0)) == NULL || !collect(s, buffers)) goto done;
    result = Py_BuildValue("(nO)", rows, buffers);
done:
    Py_XDECREF(buffers);
    free_fields(s);
    PyBuffer_Release(&data);
    return result;
}

/* line_feeds: where the line feeds of a block are.
 * Why: numpy's `flatnonzero(block == 10)` makes a 4 MiB mask and passes over it twice; the
 * reader thread spent 3% of a full-size EVE ingest's CPU on it. memchr finds each in one
 * pass. */

PyDoc_STRVAR(line_feeds_doc,
             "line_feeds(data, end) -> bytes\n\n"
             "The offset of each line feed in data[:end], as native int64s. Runs without the"
             " GIL.");

static PyObject *line_feeds(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    Py_ssize_t end;
    if (!PyArg_ParseTuple(args, "y*n", &data, &end)) return NULL;
    PyObject *result = NULL;
    if (end < 0 || end > data.len) {
        PyErr_SetString(PyExc_ValueError, "end outside the data");
        goto done;
    }
    const uint8_t *start = data.buf, *stop = start + end, *p;
    Py_ssize_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    for (p = start; (p = memchr(p, '\n', (size_t)(stop - p))) != NULL; p++) count++;
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (result == NULL) goto done;
    int64_t *out = (int64_t *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    for (p = start; (p = memchr(p, '\n', (size_t)(stop - p))) != NULL; p++) *out++ = p - start;
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(digests_doc,
             "digests(data, offsets, out) -> None\n\n"
             "The first 16 bytes of the BLAKE3 hash of each record data[offsets[i]:offsets[i+1]]"
             " of at most 1,024 bytes, written to out[16*i:16*i+16]; the places of longer"
             " records are left as they are. offsets: native int64, one more than the records;"
             " out: writable, 16 bytes a record. Runs without the GIL.");

static PyObject *digests(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, offsets, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &data, &offsets, &out)) return NULL;
    PyObject *result = NULL;
    int64_t *order = NULL;
    Py_ssize_t n = offsets.len / (Py_ssize_t)sizeof(int64_t) - 1;
    const int64_t *ends = (const int64_t *)offsets.buf;
    if (offsets.len % (Py_ssize_t)sizeof(int64_t) || n < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets: int64, one more than the records");
        goto done;
    }
    if (out.len != n * OUT_LEN) {
        PyErr_SetString(PyExc_ValueError, "out: 16 bytes a record");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ends[i] < 0 || ends[i + 1] < ends[i] || ends[i + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "offsets: not increasing within data");
            goto done;
        }
    }
    order = PyMem_RawMalloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t short_ones = by_blocks(ends, n, order);
    for (Py_ssize_t i = 0; i < short_ones; i += LANES) {
        Py_ssize_t left = short_ones - i;
        hash_lanes((const uint8_t *)data.buf, ends, order + i, left < LANES ? (int)left : LANES,
                   (uint8_t *)out.buf);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(order);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"digests", digests, METH_VARARGS, digests_doc},
    {"json_nonstandard_number", json_nonstandard_number, METH_VARARGS, nonstandard_doc},
    {"json_keep_keys", json_keep_keys, METH_VARARGS, keep_keys_doc},
    {"json_columns", json_columns, METH_VARARGS, columns_doc},
    {"line_feeds", line_feeds, METH_VARARGS, line_feeds_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The compiled helpers of the network connectors (digests, json_nonstandard_number,"
    " json_keep_keys, json_columns, line_feeds).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
