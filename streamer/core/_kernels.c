/* Native kernels of streamer's hot per-event steps (see streamer/core/kernels.py).
 *
 * Each function computes exactly what its pure-Python twin in kernels.py computes (the same
 * integers, the same IEEE doubles in the same order); tests/unit/test_kernels.py checks them
 * value for value. No state, no text kept: inputs in, a number out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
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

static inline void count_bits(uint32_t *counts, uint64_t h) {
    for (int k = 0; k < 64; k++) counts[k] += (uint32_t)((h >> k) & 1u);
}

#define SIMHASH_SEED 0x9E3779B9u

static PyObject *simhash_tokens(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "simhash_tokens: a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    if (n == 0) return PyLong_FromLong(0);
    uint32_t counts[64];
    memset(counts, 0, sizeof counts);
    uint32_t after_hi = 0, after_lo = 0; /* CRC states after "previous word " */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = PyList_GET_ITEM(arg, i);
        if (!PyBytes_Check(tok)) {
            PyErr_SetString(PyExc_TypeError, "simhash_tokens: a list of bytes");
            return NULL;
        }
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(tok);
        Py_ssize_t len = PyBytes_GET_SIZE(tok);
        uint32_t hi = crc32_from(0, p, len), lo = crc32_from(SIMHASH_SEED, p, len);
        count_bits(counts, ((uint64_t)hi << 32) | lo);
        if (i > 0) {
            uint32_t bhi = crc32_from(after_hi, p, len), blo = crc32_from(after_lo, p, len);
            count_bits(counts, ((uint64_t)bhi << 32) | blo);
        }
        after_hi = crc32_from(hi, (const unsigned char *)" ", 1);
        after_lo = crc32_from(lo, (const unsigned char *)" ", 1);
    }
    uint64_t features = (uint64_t)(2 * n - 1), out = 0;
    for (int k = 0; k < 64; k++)
        if ((uint64_t)counts[k] * 2 > features) out |= (uint64_t)1 << k;
    return PyLong_FromUnsignedLongLong(out);
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

static PyMethodDef methods[] = {
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
    return PyModule_Create(&module);
}
