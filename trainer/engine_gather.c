/* engine_gather.c — where each unit's parameters come from before compute:
 * ZeRO-1/2 gather the other ranks' updated partitions into the full buffer
 * unit by unit as the update finishes each, awaited by the next forward
 * just before each unit; ZeRO-3 gathers each
 * unit into one of two buffers just before use, the next one prefetched; a
 * bf16 op table converts each unit once its parameters are final. */
#include "engine_impl.h"  /* the engine's state, inflight, wait_req */
#include "ops.h"          /* weights_ready of a bf16 table */

/* Unit u's parameters from every rank into dst, sent from this rank's
 * partition: ZeRO-3 gathers into ubuf; ZeRO-1/2 into the full buffer itself
 * (dst = params + unit_off[u]), where the send range is the own slice of dst
 * (in place: comm.h allows send == recv + offset, and the own slice is not
 * written, so the checkpoint snapshot may read it meanwhile). */
inflight zt_eng_gather_unit(zt_engine *e, int u, float *dst) {
    const zt_range_plan *up = &e->plan.unit[u];
    e->bytes += (double)up->len * sizeof(float);
    inflight f = { zt_iallgather_v(e->c, e->ppart + (up->my_lo - e->plo), dst, up->counts, ZT_F32),
                   "allgather_v", "parameters of unit", u, 0 };
    stepReqCheck(e, f.q, f.op, f.what, u);
    return f;
}

/* Parameters of unit u for compute: a pointer into the full buffer, or under
 * ZeRO-3 the gathered copy in ubuf[slot]. */
static const float *unit_params(zt_engine *e, int u, int slot) {
    return e->stage == 3 ? e->ubuf[slot] : e->params + e->m->unit_off[u];
}

/* A bf16 op table converts unit u's parameters once they are final (ops.h
 * weights_ready): at the first forward after they changed (wfresh), and under
 * ZeRO-3 after every gather. NULL hook (fp32 tables): nothing. */
void zt_eng_weights_ready(zt_engine *e, int u, const float *pu) {
    if (e->ops->weights_ready) e->ops->weights_ready(pu, e->m->unit_len[u]);
}
void zt_eng_params_changed(zt_engine *e) {
    e->wfresh = 1; e->ulow = 0;
    if (e->ops->weights_ready) e->ops->weights_ready(NULL, 0);
}

void zt_eng_unit0_current(zt_engine *e) {
    if (e->stage == 3) { zt_eng_weights_ready(e, 0, e->ubuf[0]); e->ulow = 1; }
}

/* ZeRO-1/2: make the full parameter buffer current for a reader other than
 * zt_eng_forward_all (zt_engine_full_params, the engine's teardown): wait for
 * the gathers the last update launched. Collective; a no-op on every rank
 * alike when none is in flight (and at stage 0). */
void zt_eng_params_current(zt_engine *e) {
    for (int u = 0; e->preq && u < e->m->n_units; u++) wait_req(e, &e->preq[u], NULL);
}

/* forward through all units. ZeRO-1/2 after an update: every unit's gather
 * was launched by the update (update_partition), and unit u waits only for
 * its own right before its forward, so the later units' parameters travel
 * while the earlier ones compute.
 * ZeRO-3: each unit is gathered just before use with the next one
 * prefetched; leaves the last two units' params in ubuf (backward_all starts
 * from them). */
void zt_eng_forward_all(zt_engine *e) {
    zt_model *m = e->m; int U = m->n_units;
    if (e->stage != 3) {
        for (int u = 0; u < U; u++) {
            if (e->preq) wait_req(e, &e->preq[u], NULL);
            if (e->wfresh) zt_eng_weights_ready(e, u, unit_params(e, u, 0));
            m->forward(m, u, unit_params(e, u, 0));
        }
        e->wfresh = 0;
        return;
    }
    /* the next micro-batch of a step finds units 0 and 1 in ubuf from the
     * backward before: gathering starts at `have` */
    int have = e->ulow;
    e->ulow = 0;
    inflight pend = {0};
    if (have == 0) pend = zt_eng_gather_unit(e, 0, e->ubuf[0]);
    for (int u = 0; u < U; u++) {
        if (u >= have) wait_req(e, &pend, NULL);
        if (u + 1 < U && u + 1 >= have) pend = zt_eng_gather_unit(e, u + 1, e->ubuf[(u + 1) & 1]);
        if (u >= have) zt_eng_weights_ready(e, u, e->ubuf[u & 1]);
        m->forward(m, u, e->ubuf[u & 1]);
    }
}
