/* prep_text.c — `ztrain data prep text`: a text corpus → HDF5 tokens.
 * The last val_frac of the corpus bytes is the validation text, the rest the
 * training text (the same cut for every tokenizer, so validation bits per
 * character compare across them). Tokenizers:
 *  - char: tokens are indices into the sorted set of bytes present (vocab
 *    attribute: token i is byte vocab[i]), uint8;
 *  - bpe: a SentencePiece BPE model of `vocab` pieces trained on the training
 *    text (zt_tokenizer.h), tokens uint16, the model proto in /tokenizer/model.
 * Root attributes kind = tokens, tokenizer = char | sentencepiece, vocab_size,
 * n_train / n_val (tokens), n_train_bytes / n_val_bytes (characters). Files are concatenated as they are, in the order
 * given; a directory expands to its regular files (no symlinks, no *.dat or
 * *.u8 — the fortune indexes and their UTF-8 symlinks — no dot files),
 * sorted by name with strcmp, so the corpus does not depend on locale or
 * readdir order. */
#include "zt_data.h"
#include "zt_h5util.h"    /* zt_h5_begin, zt_h5_write_u8, zt_h5_attr*, zt_h5_commit */
#include "zt_sha256.h"    /* the corpus checksum */
#include "zt_tokenizer.h" /* SentencePiece BPE: train, encode */

#include <dirent.h>       /* opendir, readdir */
#include <errno.h>        /* errno */
#include <stdio.h>        /* fopen, fread, snprintf */
#include <stdlib.h>       /* malloc, realloc, qsort */
#include <string.h>       /* strcmp, strerror, memcpy */
#include <sys/stat.h>     /* stat, lstat */

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 64;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int expand_dir(const char *dir, strlist *out, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) { snprintf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno)); return -1; }
    strlist names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || ends_with(e->d_name, ".dat") || ends_with(e->d_name, ".u8"))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;   /* symlinks, dirs, ... */
        if (sl_push(&names, p)) { rc = -1; break; }
    }
    closedir(d);
    if (names.n) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    for (int i = 0; rc == 0 && i < names.n; i++)
        if (sl_push(out, names.v[i])) rc = -1;
    sl_free(&names);
    if (rc) snprintf(err, errlen, "out of memory");
    return rc;
}

static int append_file(const char *path, uint8_t **buf, size_t *n, size_t *cap, char *err,
                       size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    for (;;) {
        if (*cap - *n < 65536) {
            size_t nc = *cap ? *cap * 2 : (1 << 22);
            uint8_t *nb = realloc(*buf, nc);
            if (!nb) { fclose(f); snprintf(err, errlen, "out of memory"); return -1; }
            *buf = nb;
            *cap = nc;
        }
        size_t k = fread(*buf + *n, 1, *cap - *n, f);
        *n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { snprintf(err, errlen, "%s: read error", path); return -1; }
    return 0;
}

/* ids (all < 65536) as a uint16 dataset, creating intermediate groups. */
static int write_u16(hid_t f, const char *name, const int32_t *ids, size_t n) {
    uint16_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) v[i] = (uint16_t)ids[i];
    hsize_t d = n;
    int rc = -1;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_obj_track_times(dcpl, 0);   /* same input, same bytes */
    hid_t ds = H5Dcreate2(f, name, H5T_STD_U16LE, sp, lcpl, dcpl, H5P_DEFAULT);
    if (ds >= 0 && (n == 0 || H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0))
        rc = 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl); H5Pclose(lcpl); H5Sclose(sp);
    free(v);
    return rc;
}

/* BPE: train on the training text, encode both parts. 0 or -1 (+err). */
static int bpe_tokens(const uint8_t *buf, size_t n_train, size_t n, int vocab, uint8_t **model,
                      size_t *mlen, int32_t **ids_tr, size_t *n_tr, int32_t **ids_va, size_t *n_va,
                      char *err, size_t errlen) {
    if (vocab < 300 || vocab > 65535) {
        snprintf(err, errlen, "--vocab %d: expected 300..65535 (BPE keeps 256 byte pieces and 4 specials)", vocab);
        return -1;
    }
    if (zt_spm_train_bpe((const char *)buf, n_train, vocab, 2, model, mlen, err, errlen)) return -1;
    zt_spm *sp = zt_spm_load(*model, *mlen, err, errlen);
    if (!sp) return -1;
    int rc = zt_spm_encode(sp, (const char *)buf, n_train, ids_tr, n_tr, err, errlen) ||
             zt_spm_encode(sp, (const char *)buf + n_train, n - n_train, ids_va, n_va, err, errlen);
    zt_spm_free(sp);
    return rc ? -1 : 0;
}

int zt_prep_text(const char *const *files, int n_files, const char *out_h5,
                 double val_frac, char *err, size_t errlen) {
    return zt_prep_text_tok(files, n_files, out_h5, val_frac, "char", 0, err, errlen);
}

int zt_prep_text_tok(const char *const *files, int n_files, const char *out_h5, double val_frac,
                     const char *tokenizer, int vocab, char *err, size_t errlen) {
    const int bpe = tokenizer && !strcmp(tokenizer, "bpe");
    if (tokenizer && !bpe && strcmp(tokenizer, "char")) {
        snprintf(err, errlen, "tokenizer '%s': expected char or bpe", tokenizer);
        return -1;
    }
    if (!(val_frac > 0.0 && val_frac < 1.0)) {
        snprintf(err, errlen, "val_frac %g: must be in (0,1)", val_frac);
        return -1;
    }
    int rc = -1;
    strlist list = {0};
    uint8_t *buf = NULL, *model = NULL;
    int32_t *ids_tr = NULL, *ids_va = NULL;
    size_t mlen = 0, n_tr = 0, n_va = 0;
    size_t n = 0, cap = 0;
    char *src = NULL;

    if (n_files <= 0) {
        if (expand_dir(ZT_TEXT_DEFAULT_DIR, &list, err, errlen)) goto out;
    } else {
        for (int i = 0; i < n_files; i++) {
            struct stat st;
            if (stat(files[i], &st) != 0) {
                snprintf(err, errlen, "%s: %s", files[i], strerror(errno));
                goto out;
            }
            if (S_ISDIR(st.st_mode)) {
                if (expand_dir(files[i], &list, err, errlen)) goto out;
            } else if (sl_push(&list, files[i])) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
        }
    }
    if (list.n == 0) {
        snprintf(err, errlen, "%s: no text files", n_files > 0 ? files[0] : ZT_TEXT_DEFAULT_DIR);
        goto out;
    }
    for (int i = 0; i < list.n; i++)
        if (append_file(list.v[i], &buf, &n, &cap, err, errlen)) goto out;

    uint64_t n_val = (uint64_t)((double)n * val_frac);
    uint64_t n_train = n - n_val;
    if (n_val < 2 || n_train < 2) {
        snprintf(err, errlen, "corpus of %zu bytes is too small for a train/val split at val_frac %g",
                 n, val_frac);
        goto out;
    }

    zt_sha256_ctx sha;
    zt_sha256_init(&sha);
    zt_sha256_update(&sha, buf, n);
    char hex[65];
    zt_sha256_hex(&sha, hex);

    char chars[256];
    int V = 0;
    if (bpe) {
        if (bpe_tokens(buf, n_train, n, vocab, &model, &mlen, &ids_tr, &n_tr, &ids_va, &n_va, err,
                       errlen))
            goto out;
        V = vocab;
        if (n_tr < 2 || n_va < 2) {
            snprintf(err, errlen, "BPE gives %zu train and %zu val tokens: too few for a split", n_tr, n_va);
            goto out;
        }
    } else {   /* the hashes above saw the bytes; now they become indices */
        int present[256] = {0}, index[256] = {0};
        for (size_t i = 0; i < n; i++) present[buf[i]] = 1;
        for (int b = 0; b < 256; b++)
            if (present[b]) { index[b] = V; chars[V++] = (char)b; }
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)index[buf[i]];
        n_tr = n_train;
        n_va = n_val;
    }

    /* source: the file list, one path a line (capped well below the 64 KiB
     * compact attribute limit) */
    size_t scap = 48000, sl = 0;
    src = malloc(scap);
    if (!src) { snprintf(err, errlen, "out of memory"); goto out; }
    sl = (size_t)snprintf(src, scap, "%d files:", list.n);
    for (int i = 0; i < list.n; i++) {
        size_t L = strlen(list.v[i]);
        if (sl + L + 32 >= scap) { sl += (size_t)snprintf(src + sl, scap - sl, "\n..."); break; }
        src[sl++] = '\n';
        memcpy(src + sl, list.v[i], L);
        sl += L;
    }

    char tmp[4200];
    hid_t f = zt_h5_begin(out_h5, tmp, sizeof tmp, err, errlen);
    if (f < 0) goto out;
    hsize_t dtr = n_train, dva = n_val, dm = mlen;
    uint64_t nf = (uint64_t)list.n, ntr = n_tr, nva = n_va;
    int32_t V32 = V;
    int bad = 0;
    if (bpe) {
        bad |= write_u16(f, "/train/tokens", ids_tr, n_tr);
        bad |= write_u16(f, "/val/tokens", ids_va, n_va);
        bad |= zt_h5_write_u8(f, "/tokenizer/model", 1, &dm, model);
        bad |= zt_h5_attr_str(f, "tokenizer", "sentencepiece", 13);
    } else {
        bad |= zt_h5_write_u8(f, "/train/tokens", 1, &dtr, buf);
        bad |= zt_h5_write_u8(f, "/val/tokens", 1, &dva, buf + n_train);
        bad |= zt_h5_attr_str(f, "vocab", chars, (size_t)V);
        bad |= zt_h5_attr_str(f, "tokenizer", "char", 4);
    }
    bad |= zt_h5_attr(f, "vocab_size", H5T_STD_I32LE, -1, &V32);
    bad |= zt_h5_attr_str(f, "source", src, sl);
    bad |= zt_h5_attr_str(f, "sha256", hex, 64);
    bad |= zt_h5_attr_str(f, "kind", "tokens", 6);
    bad |= zt_h5_attr(f, "n_train", H5T_STD_U64LE, -1, &ntr);
    bad |= zt_h5_attr(f, "n_val", H5T_STD_U64LE, -1, &nva);
    bad |= zt_h5_attr(f, "n_train_bytes", H5T_STD_U64LE, -1, &n_train);
    bad |= zt_h5_attr(f, "n_val_bytes", H5T_STD_U64LE, -1, &n_val);
    bad |= zt_h5_attr(f, "n_files", H5T_STD_U64LE, -1, &nf);
    if (zt_h5_commit(f, bad, tmp, out_h5, err, errlen)) goto out;
    rc = 0;
out:
    free(src);
    free(buf);
    free(model); free(ids_tr); free(ids_va);
    sl_free(&list);
    return rc;
}
