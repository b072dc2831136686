/* model.h — a model is a sequence of units over one flat fp32 parameter
 * buffer. Unit u owns params [unit_off[u], unit_off[u]+unit_len[u]); the
 * engines call forward(u) for u = 0..n_units-1, then backward(u) from the last
 * unit down, and communicate a unit's gradients as soon as they are final.
 * Each call gets a pointer to *that unit's* parameters (under ZeRO-3 a freshly
 * gathered copy), so a model never assumes the full buffer is resident. */
#ifndef ZT_MODEL_H
#define ZT_MODEL_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* int32_t, uint64_t */

struct zt_ops;   /* ops.h */

typedef struct {
    char   name[64];    /* e.g. "h0.w", "blk3.attn.qkv_w" */
    int    ndim;        /* 1 or 2 */
    size_t shape[2];    /* row-major */
    size_t off;         /* global offset in the flat parameter buffer */
    size_t numel;
    int    unit;
    int    init;        /* zt_init_kind */
    float  init_scale;  /* std (normal) or bound (uniform) */
    int    buffer;      /* 1: not trained (BatchNorm running statistics): the
                         * optimizer skips it, update_buffers writes it */
} zt_tensor;

/* How zt_model_init_range fills a tensor. */
typedef enum {
    ZT_INIT_ZEROS = 0,   /* biases, LayerNorm biases */
    ZT_INIT_ONES = 1,    /* LayerNorm gains */
    ZT_INIT_NORMAL = 2,  /* N(0, init_scale²) */
    ZT_INIT_UNIFORM = 3, /* U(-init_scale, init_scale) */
} zt_init_kind;

/* One micro-batch. mlp: xf [n, in_dim], y [n]. gpt: xi [n, T], y [n, T].
 * Every label / token id must lie in [0, n_ids): an id outside would index
 * past the logits or the embedding table. set_batch does not scan for that
 * (it runs every micro-batch): the loader checked every id once, when it
 * opened the file (datasets/loader.c), sample and export check their prompts,
 * and any other producer calls zt_model_check_batch first.
 * On a host op table set_batch reads the buffers where they lie (no copy), so
 * they must stay unchanged until the model's next set_batch; a device table
 * copies them in. */
typedef struct {
    int            n;
    const float   *xf;
    const int32_t *xi;
    const int32_t *y;
} zt_batch;

typedef struct zt_model zt_model;
struct zt_model {
    char      kind[16];                 /* "mlp" | "gpt" */
    size_t    n_params;
    /* The tables grow with the model (no fixed limit): zt_model_add_tensor
     * appends, zt_model_free releases them. */
    int       n_units;
    size_t   *unit_off, *unit_len;      /* [n_units] */
    int       n_tensors;
    zt_tensor *tensors;                 /* [n_tensors], sorted by offset */
    int       cap_units, cap_tensors;   /* allocated lengths of the three arrays */
    int       max_batch;                /* micro-batch rows the activations fit */
    size_t    tokens_per_row;           /* 1 for mlp, T for gpt (throughput) */
    int       n_ids;                    /* ids lie in [0, n_ids): classes, or gpt's vocabulary */
    double    flops_per_row;            /* fwd+bwd FLOPs per row (MFU) */
    /* backward() accumulates d(grad_scale * sum over rows of row_loss)/dparam
     * into gu. row_loss = cross-entropy (gpt: mean over the T positions).
     * The engine sets grad_scale = 1/global_batch, so a SUM all-reduce yields
     * the gradient of the global mean loss, independent of W. */
    float     grad_scale;

    void  (*set_batch)(zt_model *m, const zt_batch *b);
    void  (*forward)(zt_model *m, int u, const float *pu);
    void  (*backward)(zt_model *m, int u, const float *pu, float *gu);
    double (*loss_sum)(zt_model *m);    /* sum of row losses of the last forward */
    int   (*correct)(zt_model *m);      /* mlp: argmax hits of last forward; gpt: 0 */
    void  (*destroy)(zt_model *m);
    /* Buffers (tensors with .buffer = 1) live in the flat buffer, so they are
     * sharded, gathered, checkpointed and resharded like parameters, but
     * change only through update_buffers. The engine sets `training` (1 in a
     * step, 0 in an evaluation); after each training forward it collects
     * n_stats doubles from batch_stats, all-gathers them in global micro-batch
     * order (rank-major: the sampler gives rank r the r-th contiguous share),
     * and after the optimizer update calls update_buffers with all n_mb of
     * them and the flat range [lo, hi) it holds at p (its memory space). The
     * update must be elementwise in the flat index, so any partition gives
     * the same values, on every rank and at every W. n_stats = 0: no buffers. */
    int   training;
    int   n_stats;
    void  (*batch_stats)(zt_model *m, double *out);
    void  (*update_buffers)(zt_model *m, const double *stats, int n_mb, size_t lo, size_t hi,
                            float *p);
    void  *impl;
    /* The op table the model runs on (its memory space is where pu/gu and
     * the activations live; set_batch takes host pointers and copies them in)
     * and the bytes of activations it holds. */
    const struct zt_ops *ops;
    size_t    act_bytes;
};

typedef struct {
    int in_dim, out_dim, n_hidden, hidden[8];
} zt_mlp_cfg;
typedef struct {
    int vocab, ctx, d_model, n_layer, n_head;
} zt_gpt_cfg;
/* cnn: NHWC images h x w x c, `layers` a spec string (model_cnn.c) */
typedef struct {
    int h, w, c, n_classes;
    char layers[256];
} zt_cnn_cfg;

zt_model *zt_mlp_create(const zt_mlp_cfg *c, int max_batch);
zt_model *zt_gpt_create(const zt_gpt_cfg *c, int max_batch);
/* The same on an explicit op table (NULL = zt_ops_cpu, see ops.h); then the
 * pu/gu pointers given to forward/backward are in that table's memory space.
 * Both return NULL (with a logged error) for an invalid config or when the
 * activations do not fit in memory.
 * Tensor names (stable: checkpoints use them), linear weights [out, in]:
 *   mlp: fc{i}.w [out,in], fc{i}.b [out]; one unit per layer, i = 0..n_hidden.
 *   gpt: unit 0: wte [V,C], wpe [T,C];
 *        unit 1+l: h{l}.ln1.g, h{l}.ln1.b [C], h{l}.attn.qkv.w [3C,C],
 *        h{l}.attn.qkv.b [3C], h{l}.attn.proj.w [C,C], h{l}.attn.proj.b [C],
 *        h{l}.ln2.g, h{l}.ln2.b [C], h{l}.mlp.fc.w [4C,C], h{l}.mlp.fc.b [4C],
 *        h{l}.mlp.proj.w [C,4C], h{l}.mlp.proj.b [C];
 *        last unit: lnf.g, lnf.b [C]; the output head is wte itself (tied,
 *        no bias), so there is no head tensor: d wte = embedding + head share.
 *   GPT-2 / Hugging Face GPT2LMHeadModel names: wte = transformer.wte,
 *   wpe = transformer.wpe, h{l}.ln1 = h.{l}.ln_1, h{l}.attn.qkv = attn.c_attn,
 *   h{l}.attn.proj = attn.c_proj, h{l}.ln2 = ln_2, h{l}.mlp.fc = mlp.c_fc,
 *   h{l}.mlp.proj = mlp.c_proj, lnf = transformer.ln_f (.g = weight,
 *   .b = bias); ours are [out,in] (nn.Linear), HF's Conv1D weights [in,out]. */
zt_model *zt_mlp_create_ops(const zt_mlp_cfg *c, int max_batch, const struct zt_ops *ops);
zt_model *zt_gpt_create_ops(const zt_gpt_cfg *c, int max_batch, const struct zt_ops *ops);
/* gpt on the CPU table: the probabilities [n,T,V] of the last forward (host
 * memory, valid until the next forward); NULL for any other model or table.
 * For tests and for checking a sampler's KV cache against the full forward. */
const float *zt_gpt_probs(const zt_model *m);
/* cnn: tensor names in model_cnn.c; NULL with one line naming the bad spec
 * item when `layers` does not parse. */
zt_model *zt_cnn_create_ops(const zt_cnn_cfg *c, int max_batch, const struct zt_ops *ops);
/* The tensor called `name`, or NULL. */
const zt_tensor *zt_model_tensor(const zt_model *m, const char *name);

/* For model implementations (model_common.c): append a tensor to unit `unit`
 * at the current end of the flat buffer (units must be added in order; the
 * unit's range grows to cover it). d1 = 0 for a 1-D tensor. Returns its index,
 * or -1 (with a logged error naming the tensor) if the unit is out of order,
 * the name does not fit zt_tensor.name, or the tables cannot grow. */
int zt_model_add_tensor(zt_model *m, int unit, const char *name, size_t d0, size_t d1,
                        zt_init_kind init, float scale);
/* Frees the tensor and unit tables and m itself (NULL is fine): the last call
 * of every model's destroy, after it has freed its own state. */
void zt_model_free(zt_model *m);

/* Deterministic init of flat elements [lo, hi) into out[0 .. hi-lo):
 * counter-based RNG keyed by (seed, global element index), so any rank at any W
 * produces identical values for the same index without a broadcast. */
void zt_model_init_range(const zt_model *m, uint64_t seed, size_t lo, size_t hi, float *out);
/* All units' forward/backward in one call, for tests: full params p, grads g
 * (accumulated, +=), both in the model's memory space; returns the loss sum. */
double zt_model_loss_and_grad(zt_model *m, const zt_batch *b, const float *p, float *g);
/* For classifiers' loss_sum and correct: the sum of n per-row losses, and how
 * many of n rows of V probabilities have their argmax (first on ties) at the
 * label; dev is in the op table's memory, hbuf a host buffer of n·V floats. */
double zt_model_row_loss_sum(const struct zt_ops *o, float *hbuf, const float *dev, int n);
int    zt_model_argmax_hits(const struct zt_ops *o, float *hbuf, const float *dev, const int32_t *y,
                            int n, int V);
/* For a producer of batches the loader did not check: 0 if every label /
 * token id of b lies in [0, m->n_ids), else -1 with err naming the row,
 * the position and the value. */
int    zt_model_check_batch(const zt_model *m, const zt_batch *b, char *err, size_t errlen);
/* For set_batch: a host table reads the batch's buffer `host` in place; a
 * device table copies `bytes` of it into `dev`. Returns what the model reads. */
const void *zt_model_batch_in(const struct zt_ops *o, void *dev, const void *host, size_t bytes);
#endif
