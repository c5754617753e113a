/* Native kernels of streamer's hot per-event steps (see streamer/core/kernels.py).
 *
 * Each function computes exactly what its pure-Python twin in kernels.py computes (the same
 * integers, the same IEEE doubles in the same order); tests/unit/test_kernels.py checks them
 * value for value. No state, no text kept: inputs in, a number out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* zlib.crc32(data, start): the CRC-32 of data, continuing from start */
static inline uint32_t crc32_from(uint32_t start, const unsigned char *p, Py_ssize_t n) {
    uint32_t c = ~start;
    while (n-- > 0) c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return ~c;
}

/* Bit votes of 64-bit feature hashes, eight byte-wide counters to a word (SWAR): byte j of
 * lanes[i] counts bit j of byte i of the hashes, i.e. bit 8i + j. lane_table[b] has byte j
 * set to bit j of b, so a hash is counted with eight look-ups and adds; the byte counters are
 * moved into `counts` before any of them can pass 255. */
static uint64_t lane_table[256];

static void lane_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++)
            if ((b >> j) & 1u) v |= (uint64_t)1 << (8 * j);
        lane_table[b] = v;
    }
}

#define SIMHASH_SEED 0x9E3779B9u

/* The running SimHash of a token sequence: bit votes and the CRC states after "previous word "
 * (a bigram "a b" is hashed from a's state over b's bytes only). */
typedef struct {
    uint32_t counts[64];
    uint64_t lanes[8];
    uint32_t pending; /* hashes in lanes, not yet in counts (< 255) */
    uint32_t after_hi, after_lo;
    Py_ssize_t n;
} simhash_acc;

static void lanes_flush(simhash_acc *acc) {
    for (int i = 0; i < 8; i++) {
        uint64_t v = acc->lanes[i];
        for (int j = 0; j < 8; j++) acc->counts[8 * i + j] += (uint32_t)((v >> (8 * j)) & 0xFFu);
        acc->lanes[i] = 0;
    }
    acc->pending = 0;
}

static inline void count_bits(simhash_acc *acc, uint64_t h) {
    for (int i = 0; i < 8; i++) acc->lanes[i] += lane_table[(h >> (8 * i)) & 0xFFu];
    if (++acc->pending == 255) lanes_flush(acc);
}

static void simhash_add(simhash_acc *acc, const unsigned char *p, Py_ssize_t len) {
    uint32_t hi = crc32_from(0, p, len), lo = crc32_from(SIMHASH_SEED, p, len);
    count_bits(acc, ((uint64_t)hi << 32) | lo);
    if (acc->n > 0) {
        uint32_t bhi = crc32_from(acc->after_hi, p, len), blo = crc32_from(acc->after_lo, p, len);
        count_bits(acc, ((uint64_t)bhi << 32) | blo);
    }
    acc->after_hi = crc32_from(hi, (const unsigned char *)" ", 1);
    acc->after_lo = crc32_from(lo, (const unsigned char *)" ", 1);
    acc->n++;
}

/* bit k set when more than half of the 2n - 1 features have it; no tokens: 0 */
static uint64_t simhash_value(simhash_acc *acc) {
    uint64_t out = 0;
    if (acc->n == 0) return 0;
    lanes_flush(acc);
    uint64_t features = (uint64_t)(2 * acc->n - 1);
    for (int k = 0; k < 64; k++)
        if ((uint64_t)acc->counts[k] * 2 > features) out |= (uint64_t)1 << k;
    return out;
}

static PyObject *simhash_tokens(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "simhash_tokens: a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    simhash_acc acc;
    memset(&acc, 0, sizeof acc);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = PyList_GET_ITEM(arg, i);
        if (!PyBytes_Check(tok)) {
            PyErr_SetString(PyExc_TypeError, "simhash_tokens: a list of bytes");
            return NULL;
        }
        simhash_add(&acc, (const unsigned char *)PyBytes_AS_STRING(tok), PyBytes_GET_SIZE(tok));
    }
    uint64_t out = simhash_value(&acc);
    return PyLong_FromUnsignedLongLong(out);
}

/* ascii_fingerprint(lowered, limit, edge): from lower-cased ASCII text at once, what the
 * pure-Python path gets from fingerprints.word_bytes: the tokens ([a-z0-9']+ with every run of
 * digits one "0", at most `limit`), their SimHash, their count, and the first and the last
 * `edge` tokens joined by spaces (the template wrapper). No token object is made. */
/* ascii_stand_in(text): each non-ASCII character replaced by an ASCII one of the same class
 * of Python's str regexes: \d -> "0", else \s -> "\x1c", else \w -> "Z", else "\x01". sre's
 * Unicode categories are exactly these tests: \d is Py_UNICODE_ISDECIMAL, \s
 * Py_UNICODE_ISSPACE, \w Py_UNICODE_ISALNUM or "_". The twin: markers.py_ascii_stand_in. */
static PyObject *ascii_stand_in(PyObject *self, PyObject *text) {
    (void)self;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "ascii_stand_in: str expected");
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyUnicode_New(len, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *dst = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) dst[i] = (Py_UCS1)c;
        else if (Py_UNICODE_ISDECIMAL(c)) dst[i] = '0';
        else if (Py_UNICODE_ISSPACE(c)) dst[i] = 0x1c;
        else if (Py_UNICODE_ISALNUM(c)) dst[i] = 'Z';
        else dst[i] = 0x01;
    }
    return out;
}

static PyObject *ascii_fingerprint(PyObject *self, PyObject *args) {
    (void)self;
    const unsigned char *p;
    Py_ssize_t len, limit, edge;
    if (!PyArg_ParseTuple(args, "y#nn", &p, &len, &limit, &edge)) return NULL;
    if (limit < 0 || limit > 4096 || edge < 0 || edge > limit) {
        PyErr_SetString(PyExc_ValueError, "ascii_fingerprint: limit in 0..4096, edge <= limit");
        return NULL;
    }
    unsigned char *buf = PyMem_Malloc(len > 0 ? (size_t)len : 1);
    Py_ssize_t *start = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(limit + 1));
    Py_ssize_t *stop = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(limit + 1));
    PyObject *result = NULL;
    if (buf == NULL || start == NULL || stop == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = 0, w = 0;
    int in_token = 0;
    for (Py_ssize_t i = 0; i < len && n < limit; i++) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            PyErr_SetString(PyExc_ValueError, "ascii_fingerprint: ASCII text only");
            goto done;
        }
        int word = (c >= 'a' && c <= 'z') || c == '\'';
        int digit = c >= '0' && c <= '9';
        if (word || digit) {
            unsigned char out = digit ? '0' : c;
            if (!in_token) {
                in_token = 1;
                start[n] = w;
            } else if (out == '0' && buf[w - 1] == '0') {
                continue; /* a run of digits is one "0" */
            }
            buf[w++] = out;
        } else if (in_token) {
            in_token = 0;
            stop[n++] = w;
        }
    }
    if (in_token) stop[n++] = w;
    simhash_acc acc;
    memset(&acc, 0, sizeof acc);
    for (Py_ssize_t t = 0; t < n; t++) simhash_add(&acc, buf + start[t], stop[t] - start[t]);
    uint64_t sim = simhash_value(&acc);
    /* joined edges: tokens [0, e) and [n - e, n), e = min(edge, n), one space between */
    Py_ssize_t e = edge < n ? edge : n;
    PyObject *parts[2] = {NULL, NULL};
    Py_ssize_t first[2] = {0, n - e};
    for (int which = 0; which < 2; which++) {
        Py_ssize_t size = 0;
        for (Py_ssize_t t = first[which]; t < first[which] + e; t++)
            size += (stop[t] - start[t]) + (t > first[which] ? 1 : 0);
        parts[which] = PyBytes_FromStringAndSize(NULL, size);
        if (parts[which] == NULL) {
            Py_XDECREF(parts[0]);
            goto done;
        }
        char *q = PyBytes_AS_STRING(parts[which]);
        for (Py_ssize_t t = first[which]; t < first[which] + e; t++) {
            if (t > first[which]) *q++ = ' ';
            memcpy(q, buf + start[t], (size_t)(stop[t] - start[t]));
            q += stop[t] - start[t];
        }
    }
    PyObject *head = parts[0], *tail = parts[1];
    PyObject *simo = PyLong_FromUnsignedLongLong(sim);
    if (simo == NULL) {
        Py_DECREF(head);
        Py_DECREF(tail);
        goto done;
    }
    result = Py_BuildValue("(NnNN)", simo, n, head, tail);
done:
    PyMem_Free(buf);
    PyMem_Free(start);
    PyMem_Free(stop);
    return result;
}

/* nearest_distance(h, others): the smallest Hamming distance of the low 64 bits of h to any of
 * others (64-bit non-negative ints), 64 for none. */
static PyObject *nearest_distance(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "nearest_distance(h: int, others: list[int])");
        return NULL;
    }
    unsigned long long h = PyLong_AsUnsignedLongLongMask(args[0]);
    if (h == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    PyObject *others = args[1];
    Py_ssize_t n = PyList_GET_SIZE(others);
    int best = 64;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(others, i);
        unsigned long long v = PyLong_AsUnsignedLongLong(o);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
        int d = __builtin_popcountll(h ^ v);
        if (d < best) {
            best = d;
            if (d == 0) break;
        }
    }
    return PyLong_FromLong(best);
}

/* hst_score(vals, split_feature, split_at, partial_at, stops_at, n_trees, height, denominator):
 * the half-space-trees score of complete values, walked over precomputed partial scores
 * (HalfSpaceTrees.score_values). Buffers: int64, double, double, uint8. */
static PyObject *hst_score(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *vals;
    Py_buffer sf, sa, pa, st;
    Py_ssize_t n_trees, height;
    double denominator;
    if (!PyArg_ParseTuple(args, "O!y*y*y*y*nnd", &PyList_Type, &vals, &sf, &sa, &pa, &st,
                          &n_trees, &height, &denominator))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_nodes = ((Py_ssize_t)1 << (height + 1)) - 1;
    Py_ssize_t n_branches = ((Py_ssize_t)1 << height) - 1;
    Py_ssize_t n_vals = PyList_GET_SIZE(vals);
    double xs[256];
    if (height < 1 || height > 12 || n_trees < 1 || n_vals > 256
        || sf.len != (Py_ssize_t)sizeof(int64_t) * n_trees * n_branches
        || sa.len != (Py_ssize_t)sizeof(double) * n_trees * n_branches
        || pa.len != (Py_ssize_t)sizeof(double) * n_trees * n_nodes
        || st.len != n_trees * n_nodes) {
        PyErr_SetString(PyExc_ValueError, "hst_score: buffers do not match the trees");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_vals; i++) {
        xs[i] = PyFloat_AsDouble(PyList_GET_ITEM(vals, i));
        if (xs[i] == -1.0 && PyErr_Occurred()) goto done;
    }
    const int64_t *split_feature = (const int64_t *)sf.buf;
    const double *split_at = (const double *)sa.buf, *partial_at = (const double *)pa.buf;
    const unsigned char *stops_at = (const unsigned char *)st.buf;
    double score = 0.0;
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        Py_ssize_t base = t * n_nodes, tree = t * n_branches, node = 0;
        for (Py_ssize_t d = 0; d < height; d++) {
            if (stops_at[base + node]) break;
            Py_ssize_t at = tree + node;
            int64_t f = split_feature[at];
            if (f < 0 || f >= n_vals) {
                PyErr_SetString(PyExc_ValueError, "hst_score: split feature out of range");
                goto done;
            }
            node = xs[f] < split_at[at] ? 2 * node + 1 : 2 * node + 2;
        }
        score += partial_at[base + node];
    }
    result = PyFloat_FromDouble(1.0 - score / denominator);
done:
    PyBuffer_Release(&sf);
    PyBuffer_Release(&sa);
    PyBuffer_Release(&pa);
    PyBuffer_Release(&st);
    return result;
}

/* hst_learn(vals, split_feature, split_at, l_mass, n_trees, height): fold complete values into
 * the trees' mass list l_mass (a list of ints, changed in place): each tree's path from the
 * root to a leaf gets +1 (HalfSpaceTrees.learn_values). Buffers: int64, double. */
static PyObject *hst_learn(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *vals, *l_mass;
    Py_buffer sf, sa;
    Py_ssize_t n_trees, height;
    if (!PyArg_ParseTuple(args, "O!y*y*O!nn", &PyList_Type, &vals, &sf, &sa, &PyList_Type,
                          &l_mass, &n_trees, &height))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_nodes = ((Py_ssize_t)1 << (height + 1)) - 1;
    Py_ssize_t n_branches = ((Py_ssize_t)1 << height) - 1;
    Py_ssize_t n_vals = PyList_GET_SIZE(vals);
    double xs[256];
    Py_ssize_t path[13];
    if (height < 1 || height > 12 || n_trees < 1 || n_vals > 256
        || sf.len != (Py_ssize_t)sizeof(int64_t) * n_trees * n_branches
        || sa.len != (Py_ssize_t)sizeof(double) * n_trees * n_branches
        || PyList_GET_SIZE(l_mass) != n_trees * n_nodes) {
        PyErr_SetString(PyExc_ValueError, "hst_learn: buffers do not match the trees");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_vals; i++) {
        xs[i] = PyFloat_AsDouble(PyList_GET_ITEM(vals, i));
        if (xs[i] == -1.0 && PyErr_Occurred()) goto done;
    }
    const int64_t *split_feature = (const int64_t *)sf.buf;
    const double *split_at = (const double *)sa.buf;
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        Py_ssize_t base = t * n_nodes, tree = t * n_branches, node = 0;
        for (Py_ssize_t d = 0; d < height; d++) {
            path[d] = base + node;
            Py_ssize_t at = tree + node;
            int64_t f = split_feature[at];
            if (f < 0 || f >= n_vals) {
                PyErr_SetString(PyExc_ValueError, "hst_learn: split feature out of range");
                goto done;
            }
            node = xs[f] < split_at[at] ? 2 * node + 1 : 2 * node + 2;
        }
        path[height] = base + node;
        for (Py_ssize_t d = 0; d <= height; d++) {
            PyObject *old = PyList_GET_ITEM(l_mass, path[d]);
            int overflow = 0;
            long long v = PyLong_Check(old) ? PyLong_AsLongLongAndOverflow(old, &overflow) : 0;
            if (v == -1 && PyErr_Occurred()) goto done;
            PyObject *inc;
            if (PyLong_Check(old) && !overflow && v < LLONG_MAX) {
                inc = PyLong_FromLongLong(v + 1);
            } else { /* a huge count (or another number): as Python adds it */
                PyObject *one = PyLong_FromLong(1);
                if (one == NULL) goto done;
                inc = PyNumber_Add(old, one);
                Py_DECREF(one);
            }
            if (inc == NULL) goto done;
            PyList_SET_ITEM(l_mass, path[d], inc);
            Py_DECREF(old);
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&sf);
    PyBuffer_Release(&sa);
    return result;
}

static int read5(PyObject *list, double *out) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != 5) {
        PyErr_SetString(PyExc_ValueError, "p2_update: lists of five markers");
        return -1;
    }
    for (Py_ssize_t i = 0; i < 5; i++) {
        out[i] = PyFloat_AsDouble(PyList_GET_ITEM(list, i));
        if (out[i] == -1.0 && PyErr_Occurred()) return -1;
    }
    return 0;
}

static int write5(PyObject *list, const double *values) {
    for (Py_ssize_t i = 0; i < 5; i++) {
        PyObject *v = PyFloat_FromDouble(values[i]);
        if (v == NULL) return -1;
        PyObject *old = PyList_GET_ITEM(list, i);
        PyList_SET_ITEM(list, i, v);
        Py_DECREF(old);
    }
    return 0;
}

/* p2_update(heights, positions, markers, desired, x): one P-square step of a ready quantile
 * (five sorted heights), the lists changed in place (Quantile.update after its first five
 * values). Division is IEEE, as kernels._div spells it in Python. */
static PyObject *p2_update(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *hl, *pl, *ml, *dl;
    double x, h[5], pos[5], mk[5], des[5];
    if (!PyArg_ParseTuple(args, "OOOOd", &hl, &pl, &ml, &dl, &x)) return NULL;
    if (read5(hl, h) || read5(pl, pos) || read5(ml, mk)) return NULL;
    if (!PyTuple_Check(dl) || PyTuple_GET_SIZE(dl) != 5) {
        PyErr_SetString(PyExc_ValueError, "p2_update: five desired increments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < 5; i++) {
        des[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(dl, i));
        if (des[i] == -1.0 && PyErr_Occurred()) return NULL;
    }
    int k;
    if (x < h[0]) {
        h[0] = x;
        k = 1;
    } else if (h[0] <= x && x < h[1]) {
        k = 1;
    } else if (h[1] <= x && x < h[2]) {
        k = 2;
    } else if (h[2] <= x && x < h[3]) {
        k = 3;
    } else if (h[3] <= x && x < h[4]) {
        k = 4;
    } else {
        k = 4;
        if (h[4] < x) h[4] = x;
    }
    for (int i = k; i < 5; i++) pos[i] += 1.0;
    for (int i = 0; i < 5; i++) mk[i] += des[i];
    for (int i = 1; i < 4; i++) {
        double n = pos[i], hq = h[i];
        double d = mk[i] - n;
        if (!((d >= 1.0 && pos[i + 1] - n > 1.0) || (d <= -1.0 && pos[i - 1] - n < -1.0)))
            continue;
        d = copysign(1.0, d);
        double hp = h[i + 1], hm = h[i - 1], np_ = pos[i + 1], nm = pos[i - 1];
        double left = ((n - nm + d) * (hp - hq)) / (np_ - n);
        double right = ((np_ - n - d) * (hq - hm)) / (n - nm);
        double qn = hq + (d / (np_ - nm)) * (left + right);
        if (hm < qn && qn < hp) {
            h[i] = qn;
        } else {
            int j = d > 0 ? i + 1 : i - 1;
            h[i] = hq + (d * (h[j] - hq)) / (pos[j] - n);
        }
        pos[i] = n + d;
    }
    if (write5(hl, h) || write5(pl, pos) || write5(ml, mk)) return NULL;
    Py_RETURN_NONE;
}

/* bump(counts, key, cap): counts[key] += 1.0 (from 0.0), then, past cap entries, drop the
 * first entry with the smallest count (insertion order); returns the count before. */
static PyObject *bump(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyDict_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "bump(counts: dict, key, cap: int)");
        return NULL;
    }
    PyObject *counts = args[0], *key = args[1];
    Py_ssize_t cap = PyLong_AsSsize_t(args[2]);
    if (cap == -1 && PyErr_Occurred()) return NULL;
    PyObject *old = PyDict_GetItemWithError(counts, key);
    if (old == NULL && PyErr_Occurred()) return NULL;
    double before = 0.0;
    if (old != NULL) {
        before = PyFloat_AsDouble(old);
        if (before == -1.0 && PyErr_Occurred()) return NULL;
    }
    PyObject *after = PyFloat_FromDouble(before + 1.0);
    if (after == NULL) return NULL;
    int failed = PyDict_SetItem(counts, key, after);
    Py_DECREF(after);
    if (failed) return NULL;
    if (PyDict_GET_SIZE(counts) > cap) {
        Py_ssize_t pos = 0;
        PyObject *k, *v, *smallest = NULL;
        double best = 0.0;
        while (PyDict_Next(counts, &pos, &k, &v)) {
            double x = PyFloat_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred()) return NULL;
            if (smallest == NULL || x < best) {
                smallest = k;
                best = x;
            }
        }
        if (smallest != NULL) {
            Py_INCREF(smallest);
            failed = PyDict_DelItem(counts, smallest);
            Py_DECREF(smallest);
            if (failed) return NULL;
        }
    }
    return PyFloat_FromDouble(before);
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
                               1e22}; /* exact doubles */

/* round(x, ndigits) for 0 <= ndigits <= 22, exactly as Python rounds a float (correctly
 * rounded, ties to even on the exact binary value). Fast path: x * 10^n is within half an
 * ulp of the exact product, so when its fractional part is clearly not one half, the exact
 * product rounds the same way, and r / 10^n (both exact) is the double nearest to the decimal
 * r * 10^-n, as Python's strtod gives. Otherwise Python's own dtoa does it, as round() does. */
static int round_to(double x, int ndigits, double *out) {
    if (!isfinite(x)) {
        *out = x;
        return 0;
    }
    double scale = POW10[ndigits];
    double y = x * scale;
    if (fabs(y) < 4503599627370496.0) { /* 2^52: y - floor(y) is exact */
        double f = floor(y);
        double d = y - f;
        double eps = fabs(y) * 4.440892098500626e-16 + 1e-300; /* 2^-51 |y| */
        if (d > 0.5 + eps || d < 0.5 - eps) {
            double r = d > 0.5 ? f + 1.0 : f;
            double res = r / scale;
            *out = res == 0.0 ? copysign(0.0, x) : res;
            return 0;
        }
    }
    char *text = PyOS_double_to_string(x, 'f', ndigits, 0, NULL);
    if (text == NULL) return -1;
    double back = PyOS_string_to_double(text, NULL, NULL);
    PyMem_Free(text);
    if (back == -1.0 && PyErr_Occurred()) return -1;
    *out = back;
    return 0;
}

/* rounded(values: dict, ndigits) -> {k: round(v, ndigits)}: floats rounded, ints kept, any
 * other value rounded by Python (its __round__) */
static PyObject *rounded(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "rounded(values: dict, ndigits: int)");
        return NULL;
    }
    long nd = PyLong_AsLong(args[1]);
    if (nd == -1 && PyErr_Occurred()) return NULL;
    if (nd < 0 || nd > 22) {
        PyErr_SetString(PyExc_ValueError, "rounded: ndigits must be in 0..22");
        return NULL;
    }
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(args[0], &pos, &k, &v)) {
        PyObject *r;
        if (PyFloat_CheckExact(v)) {
            double x;
            if (round_to(PyFloat_AS_DOUBLE(v), (int)nd, &x)) goto fail;
            r = PyFloat_FromDouble(x);
        } else if (PyLong_CheckExact(v)) {
            Py_INCREF(v);
            r = v;
        } else {
            r = PyObject_CallMethod(v, "__round__", "O", args[1]);
        }
        if (r == NULL) goto fail;
        int failed = PyDict_SetItem(out, k, r);
        Py_DECREF(r);
        if (failed) goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static int dict_or_none(PyObject *o) { return o == Py_None || PyDict_Check(o); }

/* a float from dict d at key, or fallback when absent (or d is None) */
static int dict_double(PyObject *d, PyObject *key, double fallback, double *out) {
    if (d == Py_None) {
        *out = fallback;
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL) {
        if (PyErr_Occurred()) return -1;
        *out = fallback;
        return 0;
    }
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

/* contributions(signals, rows, total, learnt, damped, parts) -> total (kernels.py) */
static PyObject *contributions(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 6 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !dict_or_none(args[3]) || !dict_or_none(args[4]) ||
        !(args[5] == Py_None || PyList_Check(args[5]))) {
        PyErr_SetString(PyExc_TypeError,
                        "contributions(signals: dict, rows: tuple, total: float, "
                        "learnt: dict | None, damped: dict | None, parts: list | None)");
        return NULL;
    }
    PyObject *signals = args[0], *rows = args[1], *learnt = args[3], *damped = args[4];
    PyObject *parts = args[5];
    double total = PyFloat_AsDouble(args[2]);
    if (total == -1.0 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(rows);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyTuple_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 4) {
            PyErr_SetString(PyExc_TypeError, "contributions: a row is (name, lo, span, weight)");
            return NULL;
        }
        PyObject *name = PyTuple_GET_ITEM(row, 0);
        PyObject *value = PyDict_GetItemWithError(signals, name);
        if (value == NULL) {
            if (PyErr_Occurred()) return NULL;
            continue;
        }
        if (value == Py_None) continue;
        double v = PyFloat_AsDouble(value);
        if (v == -1.0 && PyErr_Occurred()) return NULL;
        double lo = PyFloat_AsDouble(PyTuple_GET_ITEM(row, 1));
        if (lo == -1.0 && PyErr_Occurred()) return NULL;
        double span = PyFloat_AsDouble(PyTuple_GET_ITEM(row, 2));
        if (span == -1.0 && PyErr_Occurred()) return NULL;
        double base = PyFloat_AsDouble(PyTuple_GET_ITEM(row, 3));
        if (base == -1.0 && PyErr_Occurred()) return NULL;
        if (span == 0.0) {
            PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
            return NULL;
        }
        double r = (v - lo) / span;
        r = r > 0.0 ? r : 0.0; /* NaN included */
        r = r < 1.0 ? r : 1.0;
        if (!(r > 0.0)) continue;
        double extra, scale, c;
        if (dict_double(learnt, name, 0.0, &extra) || dict_double(damped, name, 1.0, &scale))
            return NULL;
        double weight = base + extra;
        if (round_to(weight * r * scale, 4, &c)) return NULL;
        if (c == 0.0) continue;
        total += c;
        if (parts != Py_None) {
            PyObject *pair = Py_BuildValue("(Od)", name, c);
            if (pair == NULL) return NULL;
            int failed = PyList_Append(parts, pair);
            Py_DECREF(pair);
            if (failed) return NULL;
        }
    }
    return PyFloat_FromDouble(total);
}

/* the floats of a list, or of a dict's values, into a fresh C array (caller frees) */
static double *doubles_of(PyObject *o, Py_ssize_t *n_out) {
    Py_ssize_t n;
    if (PyList_Check(o)) {
        n = PyList_GET_SIZE(o);
    } else if (PyDict_Check(o)) {
        n = PyDict_GET_SIZE(o);
    } else {
        PyErr_SetString(PyExc_TypeError, "a list or a dict of floats");
        return NULL;
    }
    double *out = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (PyList_Check(o)) {
        for (Py_ssize_t i = 0; i < n; i++) {
            out[i] = PyFloat_AsDouble(PyList_GET_ITEM(o, i));
            if (out[i] == -1.0 && PyErr_Occurred()) goto fail;
        }
    } else {
        Py_ssize_t pos = 0, i = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v)) {
            out[i] = PyFloat_AsDouble(v);
            if (out[i] == -1.0 && PyErr_Occurred()) goto fail;
            i++;
        }
    }
    *n_out = n;
    return out;
fail:
    PyMem_Free(out);
    return NULL;
}

/* entropy(weights: list | dict) -> Shannon entropy in bits of the positive weights */
static PyObject *entropy(PyObject *self, PyObject *arg) {
    (void)self;
    Py_ssize_t n;
    double *w = doubles_of(arg, &n);
    if (w == NULL) return NULL;
    double total = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) total += w[i];
    double acc = 0.0;
    if (total > 0.0 || isnan(total)) {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (w[i] > 0.0) {
                double p = w[i] / total;
                if (p > 0.0) acc += p * log2(p); /* 0 log 0 = 0 (an underflowed share) */
            }
        }
    }
    PyMem_Free(w);
    return PyFloat_FromDouble(total > 0.0 || isnan(total) ? -acc : 0.0);
}

/* scale(values: list | dict, factor): every float multiplied by factor, in place */
static PyObject *scale(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !(PyList_Check(args[0]) || PyDict_Check(args[0]))) {
        PyErr_SetString(PyExc_TypeError, "scale(values: list | dict, factor: float)");
        return NULL;
    }
    double factor = PyFloat_AsDouble(args[1]);
    if (factor == -1.0 && PyErr_Occurred()) return NULL;
    PyObject *o = args[0];
    if (PyList_Check(o)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); i++) {
            double x = PyFloat_AsDouble(PyList_GET_ITEM(o, i));
            if (x == -1.0 && PyErr_Occurred()) return NULL;
            PyObject *f = PyFloat_FromDouble(x * factor);
            if (f == NULL) return NULL;
            PyList_SetItem(o, i, f); /* steals f, releases the old item */
        }
    } else {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v)) { /* values change, keys do not: allowed */
            double x = PyFloat_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred()) return NULL;
            PyObject *f = PyFloat_FromDouble(x * factor);
            if (f == NULL) return NULL;
            Py_INCREF(k);
            int failed = PyDict_SetItem(o, k, f);
            Py_DECREF(k);
            Py_DECREF(f);
            if (failed) return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ew_fold(sums: list, x: list, decay) -> [s * decay + v for s, v in zip(sums, x, strict=True)] */
static PyObject *ew_fold(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyList_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "ew_fold(sums: list, x: list, decay: float)");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    if (PyList_GET_SIZE(args[1]) != n) {
        PyErr_SetString(PyExc_ValueError, "ew_fold: sums and x differ in length");
        return NULL;
    }
    double decay = PyFloat_AsDouble(args[2]);
    if (decay == -1.0 && PyErr_Occurred()) return NULL;
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        double s = PyFloat_AsDouble(PyList_GET_ITEM(args[0], i));
        if (s == -1.0 && PyErr_Occurred()) goto fail;
        double v = PyFloat_AsDouble(PyList_GET_ITEM(args[1], i));
        if (v == -1.0 && PyErr_Occurred()) goto fail;
        PyObject *f = PyFloat_FromDouble(s * decay + v);
        if (f == NULL) goto fail;
        PyList_SET_ITEM(out, i, f);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* clamped(signals, limits) -> [min(hi, max(lo, signals.get(name, lo))) as float, ...] with
 * NaN mapped to lo, for (name, lo, hi) in limits (the population trees' input vector) */
static PyObject *clamped(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "clamped(signals: dict, limits: tuple)");
        return NULL;
    }
    PyObject *signals = args[0], *limits = args[1];
    Py_ssize_t n = PyTuple_GET_SIZE(limits);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyTuple_GET_ITEM(limits, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 3) {
            PyErr_SetString(PyExc_TypeError, "clamped: a limit is (name, lo, hi)");
            goto fail;
        }
        double lo = PyFloat_AsDouble(PyTuple_GET_ITEM(row, 1));
        if (lo == -1.0 && PyErr_Occurred()) goto fail;
        double hi = PyFloat_AsDouble(PyTuple_GET_ITEM(row, 2));
        if (hi == -1.0 && PyErr_Occurred()) goto fail;
        double v;
        if (dict_double(signals, PyTuple_GET_ITEM(row, 0), lo, &v)) goto fail;
        v = v > lo ? v : lo;
        v = v < hi ? v : hi;
        PyObject *f = PyFloat_FromDouble(v);
        if (f == NULL) goto fail;
        PyList_SET_ITEM(out, i, f);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* divided(values: list, divisor) -> [v / divisor for v in values] */
static PyObject *divided(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "divided(values: list, divisor: float)");
        return NULL;
    }
    double divisor = PyFloat_AsDouble(args[1]);
    if (divisor == -1.0 && PyErr_Occurred()) return NULL;
    if (divisor == 0.0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(PyList_GET_ITEM(args[0], i));
        if (v == -1.0 && PyErr_Occurred()) goto fail;
        PyObject *f = PyFloat_FromDouble(v / divisor);
        if (f == NULL) goto fail;
        PyList_SET_ITEM(out, i, f);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* count_above(values: list[int], floor: int) -> how many values are > floor */
static PyObject *count_above(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "count_above(values: list[int], floor: int)");
        return NULL;
    }
    int overflow = 0;
    long long floor = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (floor == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(args[0]), count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(args[0], i);
        if (!PyLong_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "count_above: the values must be ints");
            return NULL;
        }
        if (overflow) { /* a floor beyond 64 bits: compare as Python does */
            int gt = PyObject_RichCompareBool(item, args[1], Py_GT);
            if (gt < 0) return NULL;
            count += gt;
            continue;
        }
        int item_overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(item, &item_overflow);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (item_overflow) count += item_overflow > 0;
        else count += v > floor;
    }
    return PyLong_FromSsize_t(count);
}

static PyMethodDef methods[] = {
    {"rounded", (PyCFunction)(void (*)(void))rounded, METH_FASTCALL,
     "A dict's values rounded as round(v, ndigits) does, as a new dict."},
    {"count_above", (PyCFunction)(void (*)(void))count_above, METH_FASTCALL,
     "How many ints of a list are greater than floor."},
    {"divided", (PyCFunction)(void (*)(void))divided, METH_FASTCALL,
     "Every float of a list divided by one divisor, as a new list."},
    {"contributions", (PyCFunction)(void (*)(void))contributions, METH_FASTCALL,
     "Log-odds total of the evidence ramps (scoring._contributions); pairs into parts."},
    {"entropy", entropy, METH_O, "Shannon entropy (bits) of the positive weights."},
    {"scale", (PyCFunction)(void (*)(void))scale, METH_FASTCALL,
     "Multiply every float of a list or dict by a factor, in place."},
    {"ew_fold", (PyCFunction)(void (*)(void))ew_fold, METH_FASTCALL,
     "Exponentially weighted sums: s * decay + x, element by element, as a new list."},
    {"clamped", (PyCFunction)(void (*)(void))clamped, METH_FASTCALL,
     "Signal values clamped to their limits, in the limits' order."},
    {"bump", (PyCFunction)(void (*)(void))bump, METH_FASTCALL,
     "Count one more of key in a capped dict of counts; the count before."},
    {"ascii_stand_in", ascii_stand_in, METH_O,
     "Non-ASCII characters as ASCII ones of the same regex class."},
    {"ascii_fingerprint", ascii_fingerprint, METH_VARARGS,
     "SimHash, token count and joined edge tokens of lower-cased ASCII text."},
    {"p2_update", p2_update, METH_VARARGS,
     "One P-square step of a ready quantile, in place (Quantile.update)."},
    {"hst_learn", hst_learn, METH_VARARGS,
     "Fold complete values into the half-space trees' mass list (in place)."},
    {"simhash_tokens", simhash_tokens, METH_O,
     "64-bit SimHash of word uni- and bi-grams of a token list (fingerprints._simhash_of)."},
    {"nearest_distance", (PyCFunction)(void (*)(void))nearest_distance, METH_FASTCALL,
     "Smallest Hamming distance from h to any of others (64 for none)."},
    {"hst_score", hst_score, METH_VARARGS,
     "Half-space-trees score of complete values over precomputed partial scores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Native kernels of streamer's hot per-event steps.", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) {
    crc_init();
    lane_init();
    return PyModule_Create(&module);
}
