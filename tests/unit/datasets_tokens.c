/* datasets_tokens.c — subword tokens: the SentencePiece shim round trip, and
 * `data prep text --tokenizer bpe|char` files read back with raw HDF5 and
 * decoded: the validation tokens decode to exactly the last bytes of the
 * corpus. Plus the token loader's checks on uint16 files (fixtures written
 * with raw HDF5, not the code under test). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets_util.h"
#include "zt_data.h"
#include "zt_tokenizer.h"

/* Made-up English-like lines from a small word list (deterministic), with
 * runs of spaces and a tab so that whitespace must survive the round trip. */
static char *corpus(size_t lines, uint32_t seed, size_t *n) {
    static const char *W[] = {"the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran",
                              "over", "green", "hills", "and", "rivers", "of", "light", "fortune",
                              "favours", "brave", "minds", "never", "stop", "learning", "code",
                              "runs", "fast", "slow", "tokens", "merge", "into", "pieces", "ok"};
    size_t cap = lines * 80 + 1, o = 0;
    char *t = malloc(cap);
    cr_assert(t);
    uint32_t x = seed;
    for (size_t l = 0; l < lines; l++) {
        int k = 3 + (int)(l % 7);
        for (int w = 0; w < k; w++) {
            x = x * 1664525u + 1013904223u;
            const char *s = W[(x >> 16) % (sizeof W / sizeof W[0])];
            o += (size_t)snprintf(t + o, cap - o, "%s%s", w ? ((x >> 8) % 13 == 0 ? "  " : " ") : "", s);
        }
        if (l % 11 == 0) o += (size_t)snprintf(t + o, cap - o, "\t%zu", l);
        t[o++] = '\n';
    }
    t[o] = 0;
    *n = o;
    return t;
}

static void roundtrip(const zt_spm *s, const char *text, size_t n) {
    char err[512];
    int32_t *ids = NULL;
    size_t k = 0, len = 0;
    cr_assert_eq(zt_spm_encode(s, text, n, &ids, &k, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < k; i++) cr_assert(ids[i] >= 0 && ids[i] < zt_spm_vocab(s));
    char *back = zt_spm_decode(s, ids, k, &len, err, sizeof err);
    cr_assert_not_null(back, "%s", err);
    cr_expect_eq(len, n, "decoded %zu bytes, encoded %zu", len, n);
    cr_expect(len == n && memcmp(back, text, n) == 0, "decode(encode(x)) != x for \"%.40s\"", text);
    free(back);
    free(ids);
}

Test(tokens, spm_train_encode_decode) {
    size_t n;
    char *text = corpus(3000, 7, &n);
    char err[512];
    uint8_t *model = NULL;
    size_t mlen = 0;
    cr_assert_eq(zt_spm_train_bpe(text, n, 320, 1, &model, &mlen, err, sizeof err), 0, "%s", err);
    cr_assert(mlen > 0);
    zt_spm *s = zt_spm_load(model, mlen, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(zt_spm_vocab(s), 320);
    /* the training text compresses (merges happened), and round-trips */
    int32_t *ids = NULL;
    size_t k = 0;
    cr_assert_eq(zt_spm_encode(s, text, n, &ids, &k, err, sizeof err), 0, "%s", err);
    cr_expect(k < n * 4 / 5, "BPE of %zu bytes gave %zu tokens: no merges?", n, k);   /* ~60 merges: ~1.5 bytes a token */
    free(ids);
    roundtrip(s, text, n);
    /* bytes never seen in training: byte fallback; leading/trailing spaces, blank lines */
    const char odd[] = "  \xce\xa9mega \x01\x7f{}|~ the cat\n\n\n  end ";
    roundtrip(s, odd, sizeof odd - 1);
    /* an id outside the vocabulary is an error, not a crash */
    int32_t bad = 320;
    cr_expect_null(zt_spm_decode(s, &bad, 1, NULL, err, sizeof err));
    cr_expect(strstr(err, "outside the vocabulary") != NULL, "%s", err);
    zt_spm_free(s);
    /* a damaged model is refused with a message */
    model[mlen / 2] ^= 0xff;
    model[0] ^= 0xff;
    zt_spm *d = zt_spm_load(model, mlen / 3, err, sizeof err);
    cr_expect_null(d, "a truncated model loaded");
    zt_spm_free(d);
    free(model);
    free(text);
}

/* Reads /<name> as int32 with raw HDF5; its file type in *type_size. */
static int32_t *read_tokens(const char *path, const char *name, size_t *n, size_t *type_size) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d), t = H5Dget_type(d);
    cr_assert(d >= 0, "no %s in %s", name, path);
    *n = (size_t)H5Sget_simple_extent_npoints(sp);
    *type_size = H5Tget_size(t);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    cr_assert(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Tclose(t); H5Sclose(sp); H5Dclose(d); H5Fclose(f);
    return v;
}

static void read_attr_str(const char *path, const char *name, char *out, size_t cap) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    cr_assert(a >= 0, "%s: no attribute %s", path, name);
    hid_t t = H5Aget_type(a);
    size_t sz = H5Tget_size(t);
    cr_assert(sz < cap);
    memset(out, 0, cap);
    H5Aread(a, t, out);
    H5Tclose(t); H5Aclose(a); H5Fclose(f);
}

Test(tokens, prep_bpe_and_char) {
    char dir[256], f1[512], f2[512], out[512], outc[512], err[1024];
    fx_tmpdir(dir);
    fx_path(f1, sizeof f1, dir, "a.txt");
    fx_path(f2, sizeof f2, dir, "b.txt");
    fx_path(out, sizeof out, dir, "bpe.h5");
    fx_path(outc, sizeof outc, dir, "char.h5");
    size_t n1, n2;
    char *t1 = corpus(2000, 3, &n1), *t2 = corpus(600, 9, &n2);
    FILE *f = fopen(f1, "wb"); fwrite(t1, 1, n1, f); fclose(f);
    f = fopen(f2, "wb"); fwrite(t2, 1, n2, f); fclose(f);
    const char *files[] = {f1, f2};
    cr_assert_eq(zt_prep_text_tok(files, 2, out, 0.1, "bpe", 300, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_prep_text_tok(files, 2, outc, 0.1, "char", 0, err, sizeof err), 0, "%s", err);
    /* the corpus and its cut, as prep makes them */
    size_t n = n1 + n2, n_val = (size_t)((double)n * 0.1), n_train = n - n_val;
    char *all = malloc(n);
    memcpy(all, t1, n1); memcpy(all + n1, t2, n2);

    char s[64];
    read_attr_str(out, "kind", s, sizeof s);        cr_expect_str_eq(s, "tokens");
    read_attr_str(out, "tokenizer", s, sizeof s);   cr_expect_str_eq(s, "sentencepiece");
    read_attr_str(outc, "kind", s, sizeof s);       cr_expect_str_eq(s, "tokens");
    read_attr_str(outc, "tokenizer", s, sizeof s);  cr_expect_str_eq(s, "char");

    /* bpe: uint16, decodes to the exact train and val text */
    const char *kind;
    uint8_t *model;
    size_t mlen;
    cr_assert_eq(zt_data_tokenizer(out, &kind, &model, &mlen, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(kind, "sentencepiece");
    zt_spm *sp = zt_spm_load(model, mlen, err, sizeof err);
    cr_assert_not_null(sp, "%s", err);
    cr_expect_eq(zt_spm_vocab(sp), 300);
    for (int split = 0; split < 2; split++) {
        size_t k, ts, len;
        int32_t *ids = read_tokens(out, split ? "/val/tokens" : "/train/tokens", &k, &ts);
        cr_expect_eq(ts, 2u, "bpe tokens are %zu-byte integers, want uint16", ts);
        char *back = zt_spm_decode(sp, ids, k, &len, err, sizeof err);
        cr_assert_not_null(back, "%s", err);
        size_t want = split ? n_val : n_train;
        const char *ref = split ? all + n_train : all;
        cr_expect(len == want && memcmp(back, ref, want) == 0, "%s tokens do not decode to the %s text (%zu vs %zu bytes)",
                  split ? "val" : "train", split ? "val" : "train", len, want);
        free(back); free(ids);
    }
    zt_spm_free(sp);
    free(model);
    /* the loader: tokenizer and vocabulary from the file, rows of uint16 */
    zt_loader *l = zt_loader_open(out, ZT_DS_TEXT, "val", 8, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    cr_expect_str_eq(zt_loader_info(l)->tokenizer, "sentencepiece");
    cr_expect_eq(zt_loader_info(l)->vocab_size, 300);
    cr_expect(zt_loader_info(l)->unigram_entropy > 0);
    size_t k, ts;
    int32_t *ids = read_tokens(out, "/val/tokens", &k, &ts);
    uint64_t rows[2] = {1, 0};
    int32_t xi[16], y[16];
    cr_assert_eq(zt_loader_read(l, rows, 2, NULL, xi, y, err, sizeof err), 0, "%s", err);
    for (int t = 0; t < 8; t++) {
        cr_expect_eq(xi[t], ids[8 + t]); cr_expect_eq(y[t], ids[8 + t + 1]);
        cr_expect_eq(xi[8 + t], ids[t]); cr_expect_eq(y[8 + t], ids[t + 1]);
    }
    free(ids);
    zt_loader_close(l);
    /* char: the vocabulary string is the tokenizer */
    cr_assert_eq(zt_data_tokenizer(outc, &kind, &model, &mlen, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(kind, "char");
    ids = read_tokens(outc, "/val/tokens", &k, &ts);
    cr_expect_eq(ts, 1u);
    cr_assert_eq(k, n_val);
    int same = 1;
    for (size_t i = 0; i < k; i++) same &= ids[i] < (int32_t)mlen && model[ids[i]] == (uint8_t)all[n_train + i];
    cr_expect(same, "char val tokens do not map back to the val text");
    free(ids); free(model); free(all); free(t1); free(t2);
    /* an unknown tokenizer is refused */
    cr_expect_neq(zt_prep_text_tok(files, 2, out, 0.1, "wordpiece", 300, err, sizeof err), 0);
    cr_expect(strstr(err, "wordpiece") != NULL, "%s", err);
    fx_rmtree(dir);
}

/* uint16 fixtures: a bad token, a missing model, a vocabulary too large */
static void fx_u16(const char *path, int V, const char *tokenizer, int with_model, uint16_t poke) {
    hid_t f = fx_create(path);
    for (int s = 0; s < 2; s++) {
        uint16_t t[100];
        for (int i = 0; i < 100; i++) t[i] = (uint16_t)((i * 37 + s) % V);
        if (s == 1) t[50] = poke ? poke : t[50];
        hsize_t d = 100;
        fx_write(f, s ? "/val/tokens" : "/train/tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, 1, &d, t);
    }
    if (with_model) {
        uint8_t m[4] = {1, 2, 3, 4};
        hsize_t d = 4;
        fx_write(f, "/tokenizer/model", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, m);
    }
    fx_attr_str(f, "tokenizer", tokenizer, strlen(tokenizer));
    fx_attr_str(f, "kind", "tokens", 6);
    fx_attr_i32(f, "vocab_size", V);
    H5Fclose(f);
}

Test(tokens, loader_checks_u16) {
    char dir[256], p[512], err[1024];
    fx_tmpdir(dir);
    fx_path(p, sizeof p, dir, "t.h5");
    fx_u16(p, 1000, "sentencepiece", 1, 0);
    zt_loader *l = zt_loader_open(p, ZT_DS_TEXT, "val", 4, err, sizeof err);
    cr_expect_not_null(l, "%s", err);
    zt_loader_close(l);
    fx_u16(p, 1000, "sentencepiece", 1, 1000);
    cr_expect_null(zt_loader_open(p, ZT_DS_TEXT, "val", 4, err, sizeof err));
    cr_expect(strstr(err, "token 1000 at index 50") && strstr(err, "vocab_size 1000"), "%s", err);
    fx_u16(p, 1000, "sentencepiece", 0, 0);
    cr_expect_null(zt_loader_open(p, ZT_DS_TEXT, "val", 4, err, sizeof err));
    cr_expect(strstr(err, "/tokenizer/model") != NULL, "%s", err);
    fx_u16(p, 1000, "char", 0, 0);   /* char files stop at 256 symbols */
    cr_expect_null(zt_loader_open(p, ZT_DS_TEXT, "val", 4, err, sizeof err));
    cr_expect(strstr(err, "vocab_size") != NULL, "%s", err);
    fx_u16(p, 1000, "bytes", 1, 0);
    cr_expect_null(zt_loader_open(p, ZT_DS_TEXT, "val", 4, err, sizeof err));
    cr_expect(strstr(err, "/tokenizer") != NULL, "%s", err);
    fx_rmtree(dir);
}
