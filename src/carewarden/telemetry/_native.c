/*
 * The compiled helpers of the network connectors' column-wise path, each where Python or
 * numpy measured too slow, and each running without the GIL, so that both parse threads
 * can use them at once:
 *
 * - digests: BLAKE3 of many short records at once.
 * - json_nonstandard_number: whether a block of JSON lines holds NaN or Inf as a value.
 *
 * digests: the first 16 bytes of the BLAKE3 hash of each record of up to 1,024 bytes (one
 * BLAKE3 chunk), written side by side.
 * Why: the network connectors give every record an id made of its BLAKE3 hash.
 * The `blake3` package hashes one input a call, holding the GIL for inputs under 2 KiB, and
 * a record of a few hundred bytes is one chunk, which it compresses block after block. That
 * was 0.9 us of a full-size Suricata record's 9 us, all of it under the GIL. Here sixteen
 * records are compressed side by side, one in each lane of a vector (GCC's vector
 * extensions: AVX-512 where the processor has it, else SSE2), with the GIL released:
 * 0.25 us a record with AVX-512 and 0.5 us with SSE2. (Eight lanes were slower with
 * AVX-512 and no faster with AVX2, whose sixteen registers cannot hold sixteen-lane state.)
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

/* The regular expression [:,\[][ \t]*-?(NaN|Inf), found by looking for each N and I with
 * memchr (vectorised by the C library) and, where NaN or Inf starts there, at what is before. */
static int nonstandard_at(const uint8_t *data, Py_ssize_t size, uint8_t first,
                          const char *word) {
    const uint8_t *p = data;
    const uint8_t *end = data + size;
    while ((p = memchr(p, first, (size_t)(end - p))) != NULL) {
        if (end - p >= 3 && p[1] == (uint8_t)word[1] && p[2] == (uint8_t)word[2]) {
            const uint8_t *q = p - 1;
            if (q >= data && *q == '-') q--;
            while (q >= data && (*q == ' ' || *q == '\t')) q--;
            if (q >= data && (*q == ':' || *q == ',' || *q == '[')) return 1;
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
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The compiled helpers of the network connectors (digests, json_nonstandard_number).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
