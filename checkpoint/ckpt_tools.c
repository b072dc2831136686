/* ckpt_tools.c — `ztrain ckpt info|verify|export` (zt_ck_cmd; argv[0] = "ckpt").
 *
 *   ztrain ckpt info   DIR            meta, tensors, shards with CRC state
 *   ztrain ckpt verify DIR            exit 0, or 5 naming every bad shard
 *   ztrain ckpt export [--optim] DIR OUT.h5
 *                                     one file: /param/<name> in global shape
 *                                     (and /optim/<slot>/<name> with --optim)
 * DIR is a step dir or a checkpoint root (then its `latest`).
 * Exit status: 0 ok, 5 checkpoint bad, incomplete or missing / I/O error
 * (= ZT_EXIT_CKPT of zt_launcher.h, mirrored: this library does not depend on
 * the launcher), 2 usage (= ZT_EXIT_CONFIG). */
#include "ckpt_internal.h"

#include <getopt.h>   /* getopt_long */
#include <stdio.h>    /* printf, fprintf */
#include <stdlib.h>   /* malloc */
#include <string.h>   /* strcmp */
#include <unistd.h>   /* unlink */
#include "zt_log.h"   /* zt_error: the one logger (stamped stderr lines) */

#define EXIT_BAD   5   /* ZT_EXIT_CKPT */
#define EXIT_USAGE 2   /* ZT_EXIT_CONFIG */

/* sub: "info" | "verify" | "export", or NULL for all three */
static void usage(FILE *f, const char *sub) {
    if (!sub || !strcmp(sub, "info"))
        fprintf(f, "usage: ztrain ckpt info DIR              meta, tensors, shards with their CRC state\n");
    if (!sub || !strcmp(sub, "verify"))
        fprintf(f, "usage: ztrain ckpt verify DIR            exit 0, or 5 naming every bad shard\n");
    if (!sub || !strcmp(sub, "export"))
        fprintf(f, "usage: ztrain ckpt export [--optim] DIR OUT.h5\n"
                   "                                         one HDF5 file: /param/<name> in global shape\n"
                   "      --optim                            also /optim/<slot>/<name>\n"
                   "       ztrain ckpt export DIR OUT --format safetensors\n"
                   "                                         a GPT as Hugging Face GPT2LMHeadModel (`--format\n"
                   "                                         safetensors --help` says more)\n");
    fprintf(f, "DIR: a step dir (ckpt/step-00001200) or a checkpoint root with a `latest` file\n"
               "exit: 0 ok, 2 usage, 5 checkpoint bad, incomplete or missing\n");
}

static void shape_str(const zt_ck_tensor *t, char *out, size_t cap) {
    if (t->ndim == 2) snprintf(out, cap, "[%llu, %llu]", (unsigned long long)t->shape[0], (unsigned long long)t->shape[1]);
    else snprintf(out, cap, "[%llu]", (unsigned long long)t->shape[0]);
}

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static int cmd_info(const char *dir) {
    char err[4096];
    zt_ck_reader *r = ck_open(dir, 0, err, sizeof err);
    if (!r) {
        zt_error("ckpt info: %s", err);
        return EXIT_BAD;
    }
    const zt_ck_meta *m = zt_ck_meta_of(r);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    int W = zt_ck_world_of(r);
    printf("checkpoint %s\n", dir);
    printf("  step %llu   world %d   stage %d   seed %llu   format %d\n", (unsigned long long)m->step, m->world,
           m->stage, (unsigned long long)m->seed, m->format);
    if (W != m->world) printf("  layout: per-node, %d shard files for %d ranks\n", W, m->world);
    printf("  model: %s\n  optim: %s\n", m->model, m->optim);
    if (m->state[0]) printf("  training state: %s\n", m->state);
    printf("  parameters: %llu (%.2f MiB fp32)   optimizer slots: %d", (unsigned long long)L->n_flat,
           mib(L->n_flat * 4), L->n_slots);
    for (int s = 0; s < L->n_slots; s++) printf("%s%s", s ? ", " : " (", L->slot[s]);
    printf("%s   state: %.2f MiB\n", L->n_slots ? ")" : "", mib(L->n_flat * 4 * (uint64_t)(1 + L->n_slots)));
    printf("  tensors (%d):\n", L->n_tensors);
    printf("    %-32s %-16s %12s %12s %10s\n", "name", "shape", "elements", "offset", "MiB");
    for (int i = 0; i < L->n_tensors; i++) {
        char sh[64];
        const zt_ck_tensor *t = &L->t[i];
        shape_str(t, sh, sizeof sh);
        printf("    %-32s %-16s %12llu %12llu %10.3f\n", t->name, sh, (unsigned long long)ck_tensor_n(t),
               (unsigned long long)t->off, mib(ck_tensor_n(t) * 4));
    }
    printf("  shards (%d):\n", W);
    int bad = 0;
    for (int i = 0; i < W; i++) {
        uint64_t lo, hi, size;
        uint32_t crc;
        char name[64];
        zt_ck_shard_info(r, i, &lo, &hi, &crc, &size);
        ck_shard_name(i, W, name, sizeof name);
        int st = zt_ck_check_shard(r, i, err, sizeof err);
        printf("    %s  [%llu, %llu)  %llu bytes  crc32 %08x  %s", name, (unsigned long long)lo, (unsigned long long)hi,
               (unsigned long long)size, crc, st == 0 ? "ok" : st == ZT_CK_SHARD_MISSING ? "missing" : "BAD");
        if (st) printf("  (%s)", err), bad++;
        printf("\n");
    }
    if (bad) printf("  %d of %d shards bad or missing: this checkpoint is not usable\n", bad, W);
    else printf("  all %d shards ok\n", W);
    zt_ck_close(r);
    return bad ? EXIT_BAD : 0;
}

static int cmd_verify(const char *dir) {
    char err[8192];
    if (zt_ck_verify(dir, err, sizeof err) < 0) {
        zt_error("ckpt verify: FAILED: %s", err);
        return EXIT_BAD;
    }
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    printf("ok: %s (step %llu, %d shards, CRC32 verified)\n", dir, r ? (unsigned long long)zt_ck_meta_of(r)->step : 0ULL,
           r ? zt_ck_world_of(r) : 0);
    zt_ck_close(r);
    return 0;
}

/* One tensor (params or a slot) into `out` at its global shape. */
static int export_tensor(ck_ctx *C, zt_ck_reader *r, hid_t out, const zt_ck_tensor *t, const char *slot, float *buf) {
    char path[256];
    hid_t sp = -1, lcpl = -1, ds = -1;
    hsize_t dims[2] = {t->shape[0], t->ndim == 2 ? t->shape[1] : 1};
    uint64_t n = ck_tensor_n(t);
    char rerr[1024];
    if (zt_ck_read(r, slot, t->off, t->off + n, buf, rerr, sizeof rerr) < 0) return ck_fail(C, "%s", rerr);
    ck_dset_path(slot, t->name, path, sizeof path);
    h5Check(sp = H5Screate_simple(t->ndim, dims, NULL));
    h5Check(lcpl = ck_lcpl());
    h5Check(ds = H5Dcreate2(out, path, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT));
    if (n) h5Check(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    h5Check(H5Dclose(ds));
    H5Pclose(lcpl);
    H5Sclose(sp);
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (sp >= 0) H5Sclose(sp);
    return -1;
}

static int cmd_export(const char *dir, const char *outpath, int with_optim) {
    char err[8192];
    ck_ctx ctx, *C = &ctx;
    hid_t out = -1, fapl = -1;
    float *buf = NULL;
    int created = 0;
    /* Everything is checked before anything is exported. */
    if (zt_ck_verify(dir, err, sizeof err) < 0) {
        zt_error("ckpt export: %s", err);
        return EXIT_BAD;
    }
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    if (!r) {
        zt_error("ckpt export: %s", err);
        return EXIT_BAD;
    }
    ck_begin(C, err, sizeof err);
    C->what = outpath;
    const zt_ck_meta *m = zt_ck_meta_of(r);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    uint64_t maxn = 1, fmt = ZT_CK_FORMAT, step = m->step, seed = m->seed, total = 0;
    int32_t w = m->world, stage = m->stage;
    for (int i = 0; i < L->n_tensors; i++)
        if (ck_tensor_n(&L->t[i]) > maxn) maxn = ck_tensor_n(&L->t[i]);
    if (!(buf = malloc(maxn * sizeof *buf))) { ck_fail(C, "out of memory (%llu floats)", (unsigned long long)maxn); goto fail; }
    h5Check(fapl = ck_fapl());
    h5Check(out = H5Fcreate(outpath, H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    created = 1;
    h5Check(ck_attr_write(out, "format", H5T_NATIVE_UINT64, -1, &fmt));
    h5Check(ck_attr_write(out, "step", H5T_NATIVE_UINT64, -1, &step));
    h5Check(ck_attr_write(out, "world", H5T_NATIVE_INT32, -1, &w));
    h5Check(ck_attr_write(out, "stage", H5T_NATIVE_INT32, -1, &stage));
    h5Check(ck_attr_write(out, "seed", H5T_NATIVE_UINT64, -1, &seed));
    h5Check(ck_attr_write_str(out, "model", m->model));
    h5Check(ck_attr_write_str(out, "optim", m->optim));
    h5Check(ck_attr_write_str(out, "config", m->config));
    h5Check(ck_attr_write_str(out, "source", dir));
    for (int s = -1; s < (with_optim ? L->n_slots : 0); s++)
        for (int i = 0; i < L->n_tensors; i++) {
            if (export_tensor(C, r, out, &L->t[i], s < 0 ? NULL : L->slot[s], buf) < 0) goto fail;
            C->what = outpath;
            total += ck_tensor_n(&L->t[i]) * 4;
        }
    hid_t o = out;
    out = -1;
    h5Check(H5Fclose(o));
    H5Pclose(fapl);
    ck_end(C);
    free(buf);
    printf("exported %d tensors%s (%.2f MiB) of %s (step %llu) to %s\n", L->n_tensors,
           with_optim ? " with optimizer slots" : "", mib(total), dir, (unsigned long long)step, outpath);
    zt_ck_close(r);
    return 0;
fail:
    if (out >= 0) H5Fclose(out);
    if (fapl >= 0) H5Pclose(fapl);
    if (created) unlink(outpath);
    ck_end(C);
    free(buf);
    zt_ck_close(r);
    zt_error("ckpt export: %s", err);
    return EXIT_BAD;
}

static const struct option CKPT_OPTS[] = {
    { "optim", no_argument, NULL, 'o' },
    { "help",  no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 } };

int zt_ck_cmd(int argc, char **argv) {
    if (argc < 2) { usage(stderr, NULL); return EXIT_USAGE; }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) { usage(stdout, NULL); return 0; }
    int npos = !strcmp(sub, "export") ? 2 : (!strcmp(sub, "info") || !strcmp(sub, "verify")) ? 1 : 0;
    if (!npos) {
        zt_error("ckpt: unknown subcommand '%s'", sub);
        usage(stderr, NULL);
        return EXIT_USAGE;
    }
    int with_optim = 0;
    optind = 0; opterr = 0;    /* fresh parse (glibc), our own messages */
    for (int o; (o = getopt_long(argc - 1, argv + 1, ":h", CKPT_OPTS, NULL)) != -1;) {
        if (o == 'h') { usage(stdout, sub); return 0; }
        if (o == 'o' && !strcmp(sub, "export")) { with_optim = 1; continue; }
        if (o == '?' && optopt) zt_error("ckpt %s: unknown option '-%c'", sub, optopt);
        else zt_error("ckpt %s: unknown option '%s'", sub, argv[optind]);
        usage(stderr, sub);
        return EXIT_USAGE;
    }
    char **pos = argv + 1 + optind;
    int n = argc - 1 - optind;
    if (n != npos) {
        zt_error("ckpt %s: expected %s, got %d argument%s", sub,
                npos == 2 ? "DIR OUT.h5" : "DIR", n, n == 1 ? "" : "s");
        usage(stderr, sub);
        return EXIT_USAGE;
    }
    char dir[PATH_MAX], err[1024];
    if (zt_ck_locate(pos[0], dir, sizeof dir, err, sizeof err) < 0) {
        zt_error("ckpt %s: %s", sub, err);
        return EXIT_BAD;
    }
    if (!strcmp(sub, "info")) return cmd_info(dir);
    if (!strcmp(sub, "verify")) return cmd_verify(dir);
    return cmd_export(dir, pos[1], with_optim);
}
