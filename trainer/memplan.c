/* memplan.c — projected host bytes per rank and node, against MemAvailable
 * (memplan.h). */
#include "memplan.h"
#include <stdio.h>        /* fopen, sscanf */
#include <stdlib.h>       /* getenv, strtoull */
#include <string.h>       /* strncmp */
#include "engine.h"       /* zt_engine_formula: the same formula the memory report prints */
#include "ops.h"          /* zt_ops: is the model on a device */
#include "optim.h"        /* zt_optim_n_slots */
#include "partition.h"    /* zt_plan_init: buckets and units as the engine will plan them */
#include "zt_launcher.h"  /* ZT_EXIT_CONFIG */
#include "zt_log.h"       /* zt_info, zt_error */

void zt_memplan_project(const zt_model *m, int W, int r, int stage, int n_slots, double bucket_mb,
                        int ckpt, zt_memplan *o) {
    size_t P = m->n_params, plo, plen;
    zt_part(P, W, r, &plo, &plen);
    zt_mem f;
    zt_engine_formula(P, W, stage, n_slots, &f);
    *o = (zt_memplan){ .states = f.params + f.grads + f.optim };
    size_t cap = (size_t)(bucket_mb * 1024 * 1024 / sizeof(float));
    zt_plan p;   /* per-unit counts from ZeRO-1 up: those stages gather parameters per unit */
    if (zt_plan_init(&p, P, W, r, m->n_units, m->unit_off, m->unit_len, cap ? cap : 1, stage >= 1) == 0) {
        if (stage >= 2) o->transient = 2 * (p.max_bucket + p.max_my_bucket) * sizeof(float);
        if (stage == 3) o->transient += 2 * p.max_unit * sizeof(float);
        o->plan = p.bytes;
        zt_plan_free(&p);
    }
    if (ckpt) o->ckpt = (size_t)(1 + n_slots) * plen * sizeof(float);
    o->total = o->states + o->transient + o->ckpt + o->plan;
}

size_t zt_memplan_available(void) {
    const char *t = getenv("ZT_TEST_MEMAVAILABLE");   /* tests only: a node of any size */
    if (t && *t) return (size_t)strtoull(t, NULL, 10);
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* "1.23 GiB", "45.6 MiB", "789 KiB" */
static const char *human(size_t b, char *buf, size_t cap) {
    if (b >= (1u << 30)) snprintf(buf, cap, "%.2f GiB", (double)b / (1u << 30));
    else if (b >= (1u << 20)) snprintf(buf, cap, "%.1f MiB", (double)b / (1u << 20));
    else snprintf(buf, cap, "%.0f KiB", (double)b / 1024);
    return buf;
}

void zt_memplan_check(const zt_config *c, const zt_model *m, zt_comm *ctl, int W, int r, int local_rank,
                      int local_ranks) {
    if (!c->mem_check || m->ops->device) return;
    zt_optim_kind kind;
    zt_optim_cfg oc;
    zt_optim_kind_parse(c->optim_name, &kind);
    zt_optim_defaults(&oc, kind);
    int S = zt_optim_n_slots(&oc), want = c->zero_stage;
    zt_memplan mine[4];
    int64_t per[4], mx[4];
    for (int s = 0; s < 4; s++) {
        /* host tables: only an async save keeps a snapshot (saver.c, needs_copy) */
        zt_memplan_project(m, W, r, s, S, c->bucket_mb, c->ckpt_dir[0] != 0 && c->ckpt_async, &mine[s]);
        per[s] = (int64_t)mine[s].total;
    }
    commCheck(ctl, zt_allreduce(ctl, per, mx, 4, ZT_I64, ZT_MAX), "allreduce", "memory projection", "at start");
    if (local_ranks < 1) local_ranks = 1;
    size_t avail = zt_memplan_available(), usable = avail / 20 * 19;
    int64_t short_here[4], short_any[4];   /* 1 = does not fit on this node; MAX: on some node */
    for (int s = 0; s < 4; s++) short_here[s] = avail && (size_t)mx[s] * (size_t)local_ranks > usable;
    commCheck(ctl, zt_allreduce(ctl, short_here, short_any, 4, ZT_I64, ZT_MAX), "allreduce", "memory verdict",
              "at start");
    char line[512], h1[32], h2[32], h3[32];
    size_t node[4];
    int n = snprintf(line, sizeof line, "projected bytes to allocate per node (%d local rank%s x largest rank):",
                     local_ranks, local_ranks == 1 ? "" : "s");
    for (int s = 0; s < 4 && n < (int)sizeof line; s++) {
        node[s] = (size_t)mx[s] * (size_t)local_ranks;
        n += snprintf(line + n, sizeof line - (size_t)n, " stage %d %zu B (%s)%s", s, node[s],
                      human(node[s], h1, sizeof h1), s < 3 ? "," : "");
    }
    if (!short_any[want]) {
        if (r == 0 && avail)
            zt_info("memory check: stage %d fits: %s; MemAvailable %zu B (%s, 95%% usable)", want, line, avail,
                    human(avail, h1, sizeof h1));
        else if (r == 0) zt_info("memory check: MemAvailable unknown, not checked: %s", line);
        return;
    }
    int lowest = -1;
    for (int s = 0; s < 4 && lowest < 0; s++) if (!short_any[s]) lowest = s;
    if (local_rank == 0 && short_here[want]) {   /* one report per short node, with its figures */
        const zt_memplan *p = &mine[want];
        zt_error("memory: train.zero_stage = %d (%s) needs %zu B (%s) per rank: model states %zu B (ZeRO "
                 "formula), transient buffers %zu B, checkpoint buffer %zu B, plan %zu B; x %d ranks on this node "
                 "= %s, more than 95%% of MemAvailable %zu B (%s)", want, zt_config_origin(c, "train.zero_stage"),
                 p->total, human(p->total, h1, sizeof h1), p->states, p->transient, p->ckpt, p->plan,
                 local_ranks, human(node[want], h2, sizeof h2), avail, human(avail, h3, sizeof h3));
        zt_error("memory: %s", line);
        if (lowest >= 0)
            zt_error("memory: suggestion: train.zero_stage = %d fits (%s on this node)", lowest,
                     human(node[lowest], h1, sizeof h1));
        else
            zt_error("memory: no ZeRO stage fits: use more nodes, fewer ranks per node, or a smaller model");
    }
    int64_t done = 1, any;   /* every report is out before any rank exits (and the launcher kills the rest) */
    commCheck(ctl, zt_allreduce(ctl, &done, &any, 1, ZT_I64, ZT_MAX), "allreduce", "memory report", "at start");
    zt_exit_now(ZT_EXIT_CONFIG);
}
