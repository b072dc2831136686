/* prep_idx.c — `ztrain data prep idx`: the IDX files of Fashion-MNIST (Debian's
 * dataset-fashion-mnist) or the classic MNIST → HDF5.
 *
 * IDX format (LeCun's MNIST page): a 4-byte magic 0x00 0x00 TYPE NDIMS
 * (TYPE 0x08 = unsigned byte), NDIMS big-endian uint32 sizes, then the data,
 * row-major. Images are idx3 [N,rows,cols], labels idx1 [N]. zlib's gzread
 * reads gzip'd and plain files alike, so both forms need one code path.
 *
 * Output (datasets/FORMAT.md, kind = images): /train and /test, images u8
 * [N,H,W,1], labels u8 [N]; root attributes kind, n_classes (10), source,
 * sha256 (of the four files as they are on disk, in the order train images,
 * train labels, test images, test labels), n_train, n_test; /train and /test
 * carry class_counts u64[10]. The splits are the files' own (60,000 / 10,000
 * for Fashion-MNIST and MNIST). */
#include "zt_data.h"
#include "zt_h5util.h"    /* zt_h5_begin, zt_h5_write_u8, zt_h5_attr*, zt_h5_commit */
#include "zt_sha256.h"    /* the raw files' checksum */

#include <errno.h>        /* errno */
#include <stdio.h>        /* fopen, fread, snprintf */
#include <stdlib.h>       /* malloc */
#include <string.h>       /* strerror, strlen */
#include <sys/stat.h>     /* stat */
#include <zlib.h>         /* gzopen, gzread: .gz and plain files */

#define N_CLASSES 10
#define MAX_ROWS (1u << 28)   /* a sanity bound on N from a header */

typedef struct {
    char path[4200];
    uint32_t dims[3];
    int ndims;
    uint8_t *data;
    uint64_t bytes;
} idx_file;

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first of the usual spellings that exists: "train-images-idx3-ubyte"
 * (both datasets' download names) or "train-images.idx3-ubyte" (some
 * unpackers), each with or without ".gz". */
static int find_idx(const char *dir, const char *split, const char *what, int nd, char *out, size_t n) {
    static const char *const forms[] = {"%s/%s-%s-idx%d-ubyte.gz", "%s/%s-%s-idx%d-ubyte",
                                        "%s/%s-%s.idx%d-ubyte.gz", "%s/%s-%s.idx%d-ubyte"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(out, n, forms[i], dir, split, what, nd);
        if (is_file(out)) return 0;
    }
    snprintf(out, n, forms[0], dir, split, what, nd);
    return -1;
}

/* Reads exactly len bytes; 0, or -1 with a reason in err. */
static int gz_exact(gzFile g, const idx_file *f, void *buf, uint64_t len, const char *part, char *err,
                    size_t errlen) {
    uint64_t got = 0;
    while (got < len) {
        unsigned chunk = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int k = gzread(g, (uint8_t *)buf + got, chunk);
        if (k < 0) {
            int zerr;
            const char *m = gzerror(g, &zerr);
            snprintf(err, errlen, "%s: %s: %s", f->path,
                     zerr == Z_BUF_ERROR || zerr == Z_DATA_ERROR ? "truncated or corrupt gzip data" : "read error",
                     m ? m : "");
            return -1;
        }
        if (k == 0) {
            snprintf(err, errlen, "%s: truncated: %s needs %llu bytes, the file holds %llu", f->path, part,
                     (unsigned long long)len, (unsigned long long)got);
            return -1;
        }
        got += (uint64_t)k;
    }
    return 0;
}

/* Reads one IDX file of want_nd dimensions, type unsigned byte. */
static int read_idx(idx_file *f, int want_nd, char *err, size_t errlen) {
    gzFile g = gzopen(f->path, "rb");
    if (!g) {
        snprintf(err, errlen, "%s: cannot open: %s", f->path, errno ? strerror(errno) : "out of memory");
        return -1;
    }
    gzbuffer(g, 1u << 20);
    int rc = -1;
    uint8_t magic[4], hd[12];
    if (gz_exact(g, f, magic, 4, "the 4-byte magic", err, errlen)) goto out;
    if (magic[0] || magic[1] || magic[2] != 0x08 || magic[3] != want_nd) {
        snprintf(err, errlen, "%s: bad magic %02x %02x %02x %02x: expected 00 00 08 %02x (IDX, unsigned byte, "
                 "%d dimensions)", f->path, magic[0], magic[1], magic[2], magic[3], want_nd, want_nd);
        goto out;
    }
    if (gz_exact(g, f, hd, 4u * (unsigned)want_nd, "the header", err, errlen)) goto out;
    f->ndims = want_nd;
    f->bytes = 1;
    for (int i = 0; i < want_nd; i++) {
        f->dims[i] = (uint32_t)hd[4 * i] << 24 | (uint32_t)hd[4 * i + 1] << 16 | (uint32_t)hd[4 * i + 2] << 8 |
                     hd[4 * i + 3];
        f->bytes *= f->dims[i];
    }
    if (f->dims[0] == 0 || f->dims[0] > MAX_ROWS || f->bytes == 0 || f->bytes > (1ull << 34)) {
        snprintf(err, errlen, "%s: implausible sizes in the header (%u items, %llu bytes)", f->path, f->dims[0],
                 (unsigned long long)f->bytes);
        goto out;
    }
    f->data = malloc(f->bytes);
    if (!f->data) { snprintf(err, errlen, "%s: out of memory", f->path); goto out; }
    if (gz_exact(g, f, f->data, f->bytes, "the data its header declares", err, errlen)) goto out;
    uint8_t extra;
    int k = gzread(g, &extra, 1);
    if (k != 0) {
        snprintf(err, errlen, "%s: %s", f->path,
                 k > 0 ? "size mismatch: more data than its header declares" : "truncated or corrupt gzip data");
        goto out;
    }
    rc = 0;
out:
    gzclose(g);
    return rc;
}

/* sha256 of the file as it is on disk */
static int hash_file(zt_sha256_ctx *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    static uint8_t b[1 << 16];
    size_t k;
    while ((k = fread(b, 1, sizeof b, f)) > 0) zt_sha256_update(c, b, k);
    int bad = ferror(f);
    fclose(f);
    if (bad) { snprintf(err, errlen, "%s: read error", path); return -1; }
    return 0;
}

int zt_prep_idx(const char *dir, const char *out_h5, char *err, size_t errlen) {
    static const char *const split_file[2] = {"train", "t10k"};
    idx_file im[2], lb[2];
    memset(im, 0, sizeof im);
    memset(lb, 0, sizeof lb);
    int rc = -1;
    zt_sha256_ctx sha;
    zt_sha256_init(&sha);
    for (int s = 0; s < 2; s++) {
        if (find_idx(dir, split_file[s], "images", 3, im[s].path, sizeof im[s].path)) {
            snprintf(err, errlen, "%s: missing (no %s-images-idx3-ubyte[.gz] in %s)", im[s].path, split_file[s],
                     dir);
            goto out;
        }
        if (find_idx(dir, split_file[s], "labels", 1, lb[s].path, sizeof lb[s].path)) {
            snprintf(err, errlen, "%s: missing (no %s-labels-idx1-ubyte[.gz] in %s)", lb[s].path, split_file[s],
                     dir);
            goto out;
        }
        if (read_idx(&im[s], 3, err, errlen) || read_idx(&lb[s], 1, err, errlen)) goto out;
        if (im[s].dims[0] != lb[s].dims[0]) {
            snprintf(err, errlen, "%s: size mismatch: %u labels, but %s has %u images", lb[s].path, lb[s].dims[0],
                     im[s].path, im[s].dims[0]);
            goto out;
        }
        if (s == 1 && (im[1].dims[1] != im[0].dims[1] || im[1].dims[2] != im[0].dims[2])) {
            snprintf(err, errlen, "%s: size mismatch: images are %ux%u, but %s has %ux%u", im[1].path,
                     im[1].dims[1], im[1].dims[2], im[0].path, im[0].dims[1], im[0].dims[2]);
            goto out;
        }
        for (uint32_t i = 0; i < lb[s].dims[0]; i++)
            if (lb[s].data[i] >= N_CLASSES) {
                snprintf(err, errlen, "%s: label %u at index %u is out of range [0,%d)", lb[s].path, lb[s].data[i],
                         i, N_CLASSES);
                goto out;
            }
        if (hash_file(&sha, im[s].path, err, errlen) || hash_file(&sha, lb[s].path, err, errlen)) goto out;
    }

    char hex[65], src[4 * sizeof im[0].path + 16];
    zt_sha256_hex(&sha, hex);
    snprintf(src, sizeof src, "idx: %s, %s, %s, %s", im[0].path, lb[0].path, im[1].path, lb[1].path);
    char tmp[4200];
    hid_t f = zt_h5_begin(out_h5, tmp, sizeof tmp, err, errlen);
    if (f < 0) goto out;
    int bad = 0;
    uint64_t n[2] = {im[0].dims[0], im[1].dims[0]};
    for (int s = 0; s < 2 && !bad; s++) {
        const char *g = s ? "test" : "train";
        char nm[32];
        hsize_t d[4] = {n[s], im[s].dims[1], im[s].dims[2], 1};
        snprintf(nm, sizeof nm, "/%s/images", g);
        bad |= zt_h5_write_u8(f, nm, 4, d, im[s].data);
        snprintf(nm, sizeof nm, "/%s/labels", g);
        bad |= zt_h5_write_u8(f, nm, 1, d, lb[s].data);
        uint64_t cc[N_CLASSES] = {0};
        for (uint64_t i = 0; i < n[s]; i++) cc[lb[s].data[i]]++;
        hid_t gid;
        snprintf(nm, sizeof nm, "/%s", g);
        ZT_H5_QUIET(gid = H5Gopen2(f, nm, H5P_DEFAULT));
        bad |= gid < 0 || zt_h5_attr(gid, "class_counts", H5T_STD_U64LE, N_CLASSES, cc);
        if (gid >= 0) H5Gclose(gid);
    }
    int32_t nc = N_CLASSES;
    bad |= zt_h5_attr_str(f, "kind", "images", 6);
    bad |= zt_h5_attr(f, "n_classes", H5T_STD_I32LE, -1, &nc);
    bad |= zt_h5_attr_str(f, "source", src, strlen(src));
    bad |= zt_h5_attr_str(f, "sha256", hex, 64);
    bad |= zt_h5_attr(f, "n_train", H5T_STD_U64LE, -1, &n[0]);
    bad |= zt_h5_attr(f, "n_test", H5T_STD_U64LE, -1, &n[1]);
    if (zt_h5_commit(f, bad, tmp, out_h5, err, errlen)) goto out;
    rc = 0;
out:
    for (int s = 0; s < 2; s++) { free(im[s].data); free(lb[s].data); }
    return rc;
}
