/* tokenizer_h5.c — the tokenizer a tokens dataset file carries (datasets/
 * FORMAT.md): the char vocabulary (root attributes vocab, vocab_size) or the
 * serialized SentencePiece model (/tokenizer/model). The loader checks the
 * attributes at open; this reads the model bytes for the saver and `sample`. */
#include "zt_data.h"
#include "zt_h5util.h"    /* ZT_H5_QUIET, zt_h5_open_ro, zt_h5_exists, zt_h5_read_attr_* */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* malloc, free */
#include <string.h>       /* memcpy, strcmp */

static int read_tokenizer(const char *h5, const char **kind, uint8_t **model, size_t *len,
                          char *err, size_t errlen) {
    *model = NULL; *len = 0; *kind = "char";
    hid_t f = zt_h5_open_ro(h5, "the tokenizer", err, errlen);
    if (f < 0) return -1;
    int rc = -1;
    char tk[32] = "char";
    long tl = zt_h5_read_attr_str(f, "tokenizer", tk, sizeof tk, 1);
    if (tl < 0 || !strcmp(tk, "char")) {   /* char (older files have no attribute) */
        char v[512];
        long vl = zt_h5_read_attr_str(f, "vocab", v, sizeof v, 0);
        int64_t vs = 0;
        if (vl < 0 || zt_h5_read_attr_i64(f, "vocab_size", &vs) < 0 || vs < 1 || vs > 256 || vl < vs)
            snprintf(err, errlen, "%s: attributes /vocab, /vocab_size: missing or inconsistent (tokenizer char)", h5);
        else if ((*model = malloc((size_t)vs))) {
            memcpy(*model, v, (size_t)vs);
            *len = (size_t)vs;
            rc = 0;
        } else snprintf(err, errlen, "%s: out of memory", h5);
    } else if (!strcmp(tk, "sentencepiece")) {
        *kind = "sentencepiece";
        hid_t d = zt_h5_exists(f, "/tokenizer/model") ? H5Dopen2(f, "/tokenizer/model", H5P_DEFAULT) : -1;
        hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
        hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        if (n <= 0) snprintf(err, errlen, "%s: dataset /tokenizer/model: missing or empty", h5);
        else if (!(*model = malloc((size_t)n))) snprintf(err, errlen, "%s: out of memory", h5);
        else if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *model) < 0)
            snprintf(err, errlen, "%s: dataset /tokenizer/model: read error", h5);
        else { *len = (size_t)n; rc = 0; }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    } else snprintf(err, errlen, "%s: attribute /tokenizer: '%s' is not char or sentencepiece", h5, tk);
    if (rc) { free(*model); *model = NULL; *len = 0; }
    H5Fclose(f);
    return rc;
}

int zt_data_tokenizer(const char *h5, const char **kind, uint8_t **model, size_t *len,
                      char *err, size_t errlen) {
    int rc;
    ZT_H5_QUIET(rc = read_tokenizer(h5, kind, model, len, err, errlen));
    return rc;
}
