#!/usr/bin/python3
"""cost_model.py — predicts ztrain's step time and checkpoint save/resume
time from per-op costs measured here (bench/cost_measure.sh) plus published
network and GPU figures, and checks itself against measured runs at W = 1-4.

  /usr/bin/python3 bench/cost_model.py [COST_DIR] [--plot OUT_DIR]

COST_DIR (default bench/results/cost) holds layers.txt, optim.txt, comm.txt,
ckpt.txt and runs/*.jsonl. Prints markdown (the "## Cost model" section of
SCALING.md is this output plus prose) and, with --plot, writes
cost_step.png (gnuplot) and the .dat files it plots.

The model, per step of one rank (one comm stream, one compute stream):
  compute  sum over units of forward + backward time, x micro-batches
  reduce   buckets of train.bucket_mb bytes, launched when the last unit of the
           bucket finishes backward (DDP/ZeRO-1: all-reduce on the last
           micro-batch; ZeRO-2/3: reduce-scatter on every micro-batch); only
           what runs past the end of backward is exposed
  update   AdamW over P (DDP) or P/W (ZeRO) parameters
  gather   ZeRO-1/2: all-gather of the parameters after the update (exposed);
           ZeRO-3: all-gather of each unit before its forward and before its
           backward, the next one prefetched while the current unit computes
  collectives (ring): all-reduce 2(W-1) steps, reduce-scatter and all-gather
           W-1 steps, each  alpha_hop + (S/W)/busbw_link.
"""
import json, math, os, re, subprocess, sys

# ---------------------------------------------------------------- inputs

def kv(line):
    return dict(re.findall(r"(\w+)=([^\s]+)", line))


def load(cost):
    layers, comm, optim, ckpt = [], [], None, {}
    for line in open(os.path.join(cost, "layers.txt")):
        if line.startswith("layer "):
            layers.append(kv(line))
    for line in open(os.path.join(cost, "comm.txt")):
        if line.startswith("comm "):
            comm.append(kv(line))
    for line in open(os.path.join(cost, "optim.txt")):
        if line.startswith("optim "):
            optim = float(kv(line)["ns_per_param"]) * 1e-9
    for line in open(os.path.join(cost, "ckpt.txt")):
        m = re.match(r"\| (write W=\d+ shards, 1 process|read \+ reshard|verify)[^|]*\| (\d+) \| (\d+) \|", line)
        if m:
            ckpt[m.group(1).split()[0]] = float(m.group(2)) * 1e6   # bytes/s
    return layers, comm, optim, ckpt


# Sizes above this are left out of the fit: on this loaded 2-core machine
# (load average ~25-30 during the measurement) a large message's many
# shared-memory fragments each wait for the peer rank to be scheduled again,
# so even the fastest of 5 samples measures the scheduler, not the copy.
FIT_MAX = 4 << 20


def fit_comm(comm):
    """alpha (s) and seconds per byte per collective at W=2, least squares on
    the fastest samples up to FIT_MAX, relative error (every size weighs the
    same). Returns {op: (alpha, s_per_byte, fitted points, all points)}."""
    out = {}
    for op in ("allreduce", "reduce_scatter", "allgather"):
        allp = [(float(c["bytes"]), float(c.get("min_ms", c["ms"])) * 1e-3) for c in comm if c["op"] == op]
        pts = [p for p in allp if p[0] <= FIT_MAX]
        # minimise sum ((a + b x - t) / t)^2: normal equations in a, b
        s11 = sum(1 / t ** 2 for x, t in pts); s12 = sum(x / t ** 2 for x, t in pts)
        s22 = sum(x * x / t ** 2 for x, t in pts); r1 = sum(1 / t for x, t in pts); r2 = sum(x / t for x, t in pts)
        det = s11 * s22 - s12 * s12
        a = (r1 * s22 - r2 * s12) / det
        b = (s11 * r2 - s12 * r1) / det
        a = max(a, 1e-7)
        out[op] = (a, b, pts, allp)
    return out


def ring_params(fit):
    """per-hop alpha and seconds per byte on a link, from the W=2 fits:
    at W=2 all-reduce is 2 steps of S/2 bytes, RS and AG one step of S/2."""
    a, b = fit["allreduce"][:2]
    p = {"allreduce": (a / 2, b)}
    for op in ("reduce_scatter", "allgather"):
        a, b = fit[op][:2]
        p[op] = (a, 2 * b)
    return p


def coll_time(op, W, S, hop):
    if W == 1:
        return 0.0
    steps = 2 * (W - 1) if op == "allreduce" else W - 1
    a, g = hop[op]
    return steps * (a + (S / W) * g)

# ------------------------------------------------------------ the engine

def buckets_of(unit_bytes, bucket_b):
    """units grouped from the last one down into buckets of >= bucket_b bytes
    (trainer/partition.c: consecutive units, closed when full)"""
    out, cur, size = [], [], 0
    for u in range(len(unit_bytes) - 1, -1, -1):
        cur.append(u); size += unit_bytes[u]
        if size >= bucket_b:
            out.append((cur, size)); cur, size = [], 0
    if cur:
        out.append((cur, size))
    return out


def step_time(units, P, W, stage, k, bucket_b, coll, opt_s_per_param, serial=False):
    """units: [(params, fwd_s, bwd_s)] for ONE micro-batch; k micro-batches.
    coll(op, S) -> seconds. serial=True: no overlap at all (this 2-core
    machine: communication needs the same cores as compute).
    Returns dict of compute, exposed comm, gathers, update, total (s)."""
    ub = [4 * p for p, _, _ in units]
    fwd = sum(f for _, f, _ in units); bwd = sum(b for _, _, b in units)
    compute = k * (fwd + bwd)
    bk = buckets_of(ub, bucket_b)
    red = "allreduce" if stage <= 1 else "reduce_scatter"
    # gradient reduction: simulate one comm stream against backward
    def reduce_exposed(bwd_times):
        t, comm_end, done = 0.0, 0.0, {}
        for u in range(len(units) - 1, -1, -1):
            t += bwd_times[u]; done[u] = t
        for us, size in bk:
            ready = max(done[u] for u in us)
            comm_end = max(comm_end, ready) + coll(red, size)
        return max(0.0, comm_end - t), sum(coll(red, s) for _, s in bk)
    bwd_times = [b for _, _, b in units]
    if serial:
        red_total = sum(coll(red, s) for _, s in bk) * (k if stage >= 2 else 1)
        red_exp = red_total
    else:
        e, _ = reduce_exposed(bwd_times)
        red_exp = e * (k if stage >= 2 else 1)
    update = opt_s_per_param * (P if stage == 0 else P / W)
    gathers = 0.0
    if stage in (1, 2):
        gathers = coll("allgather", 4 * P)
    elif stage == 3:
        # forward: gather u+1 while u computes; backward the same downwards.
        g = [coll("allgather", b) for b in ub]
        if serial:
            gathers = k * 2 * sum(g)
        else:
            fwd_times = [f for _, f, _ in units]
            def pipelined(order, times):
                t = g[order[0]]          # the first gather is not hidden
                for i, u in enumerate(order):
                    nxt = g[order[i + 1]] if i + 1 < len(order) else 0.0
                    t += max(times[u], nxt)
                return t - sum(times[u] for u in order)
            n = len(units)
            gathers = k * (pipelined(list(range(n)), fwd_times) + pipelined(list(range(n - 1, -1, -1)), bwd_times))
    total = compute + red_exp + update + gathers
    return dict(compute=compute, comm=red_exp, update=update, gathers=gathers, total=total)

# ------------------------------------------------- local check (W = 1..4)

def local_units(layers, model, threads, est="ms"):
    key_f, key_b = ("fwd_ms", "bwd_ms") if est == "ms" else ("fwd_min_ms", "bwd_min_ms")
    rows = [l for l in layers if l["model"] == model and int(l["threads"]) == threads]
    return [(int(l["params"]), float(l[key_f]) * 1e-3, float(l[key_b]) * 1e-3) for l in rows]


def measured_step(path):
    """median step, compute and comm (s) of a run's step records (the
    trainer's comm_ms is time spent waiting in collectives, peers included)"""
    rows = []
    for line in open(path):
        o = json.loads(line)
        if "step_ms" in o:
            rows.append(o)
    rows = rows[1:] if len(rows) > 1 else rows   # the first interval includes warm-up
    if not rows:
        return None
    med = lambda k: sorted(r[k] for r in rows)[len(rows) // 2] * 1e-3
    return med("step_ms"), med("compute_ms"), med("comm_ms")


def local_check(cost, layers, hop, opt):
    out = []
    cores = os.cpu_count() or 2
    for stage in (0, 3):
        for W in (1, 2, 3, 4):
            p = os.path.join(cost, "runs", f"w{W}_s{stage}.jsonl")
            if not os.path.exists(p):
                continue
            meas = measured_step(p)
            threads = max(1, cores // W)
            units = local_units(layers, "gpt", min(threads, 2))
            P = sum(u[0] for u in units)
            k = 48 // (W * 4)
            over = max(1.0, W * threads / cores)   # ranks x threads beyond the cores
            r = step_time(units, P, W, stage, k, 0.25 * 2 ** 20,
                          lambda op, S: coll_time(op, W, S, hop), opt, serial=True)
            pred = r["total"] * over
            out.append((stage, W, threads, over, r, pred, meas))
    return out

# ------------------------------------------------------- cluster prediction

# Published figures (see SCALING.md "Sources"):
#  [1] nccl-tests #212 (S. Jeaugey, NVIDIA): 8xH100 NVLink, effective ring
#      bus bandwidth ~370 GB/s (450 GB/s line rate less ~20% protocol).
#  [2] nccl-tests #290 (NVIDIA): NDR 400 Gb/s InfiniBand, 46-48 GB/s per NIC;
#      a DGX H100 has 8 such NICs (one per GPU) -> ~370 GB/s per node.
#  [3] nccl #1244: 2 nodes x 8 GPUs (NDR), small-message all-reduce ~46 us.
#  [4] H100 SXM datasheet: 989 TFLOP/s dense BF16, 3.35 TB/s HBM3.
NVL_BUSBW = 370e9
IB_BUSBW = 8 * 46e9
GPU_FLOPS = 989e12
MFU = 0.40                  # assumed model FLOPs utilisation
HBM = 3.35e12
ALPHA_NVL_HOP = 2e-6        # assumed per ring step inside a node
ALPHA_IB_HOP = 46e-6 / 2    # [3]: a 2-node all-reduce ~ 2 inter-node steps
GPUS_PER_NODE = 8


def cluster_coll(op, W, S):
    if W <= 1:
        return 0.0
    inter = W > GPUS_PER_NODE
    bus = IB_BUSBW if inter else NVL_BUSBW
    hop = ALPHA_IB_HOP if inter else ALPHA_NVL_HOP
    if op == "allreduce":
        # NCCL picks a tree for latency-bound sizes across nodes: latency
        # ~ 2 log2(nodes) inter-node hops + the intra-node ring; bandwidth as ring
        nodes = max(1, W // GPUS_PER_NODE)
        lat_ring = 2 * (W - 1) * hop
        lat_tree = 2 * math.log2(max(2, nodes)) * ALPHA_IB_HOP + 2 * (GPUS_PER_NODE - 1) * ALPHA_NVL_HOP if inter else lat_ring
        return min(lat_ring, lat_tree) + 2 * (W - 1) / W * S / bus
    # reduce-scatter / all-gather: ring, W-1 steps (no tree in NCCL's ring/NVLS paths)
    lat = (W - 1) * hop if not inter else (GPUS_PER_NODE - 1) * ALPHA_NVL_HOP + (W // GPUS_PER_NODE - 1) * ALPHA_IB_HOP
    return lat + (W - 1) / W * S / bus


def gpt_units(V, T, C, L, tokens):
    """units of ztrain's GPT, GPU time from FLOPs at MFU. The head is tied to
    wte (model_gpt.c): the last unit holds only ln_f's 2C parameters but
    computes the V x C head product (its gradient goes to wte, unit 0)."""
    def t(flops):
        return flops / (GPU_FLOPS * MFU)
    blk = 12 * C * C + 13 * C
    # fwd FLOPs/token: 2 x params of matmuls + attention 2*2*T*C (QK^T, AV)
    f_blk = 2 * 12 * C * C + 4 * T * C
    units = [(V * C + T * C, t(0.01 * 2 * C * tokens), t(0.01 * 2 * C * tokens))]   # embeddings: gathers, ~free
    units += [(blk, t(f_blk * tokens), t(2 * f_blk * tokens)) for _ in range(L)]
    units.append((2 * C, t(2 * V * C * tokens), t(4 * V * C * tokens)))
    return units


MODELS = {"gpt2": (50257, 1024, 768, 12), "gpt2-medium": (50257, 1024, 1024, 24)}
WS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
SEQ_PER_GPU = 8   # weak scaling: 8 x 1024 tokens per GPU per step, one micro-batch


def cluster_table(bucket_mb=25):
    res = {}
    for name, (V, T, C, L) in MODELS.items():
        units = gpt_units(V, T, C, L, SEQ_PER_GPU * T)
        P = sum(u[0] for u in units)
        for W in WS:
            for stage in (0, 1, 2, 3):
                r = step_time(units, P, W, stage, 1, bucket_mb * 2 ** 20,
                              lambda op, S: cluster_coll(op, W, S), 28 / HBM)
                res[(name, W, stage)] = (P, r)
    return res


BUCKETS = (0.25, 1, 4, 16, 25, 64, 128, 256)


def bucket_sweep(name, W, stage):
    V, T, C, L = MODELS[name]
    units = gpt_units(V, T, C, L, SEQ_PER_GPU * T)
    P = sum(u[0] for u in units)
    return [(mb, step_time(units, P, W, stage, 1, mb * 2 ** 20, lambda op, S: cluster_coll(op, W, S), 28 / HBM))
            for mb in BUCKETS]


def best_bucket(name, W, stage=0):
    """the bucket with the least exposed gradient communication; among those
    within 2% of it the largest (fewer collectives: robust to latency the
    model underestimates)"""
    sw = bucket_sweep(name, W, stage)
    least = min(r["comm"] for _, r in sw)
    return max(mb for mb, r in sw if r["comm"] <= least * 1.02), least


def ckpt_times(P, W, ckpt):
    """save and resume of params + AdamW m, v (12 bytes/param) at W ranks.
    Per-rank bandwidth: measured here (one process writing its shard, fsync);
    aggregate: an assumed parallel file system of 100 GB/s and 20,000 file
    creates/s on its metadata server (one shard per rank + index)."""
    size = 12 * P
    w_rank = ckpt.get("write", 100e6); r_rank = ckpt.get("read", 100e6)
    FS_BW, MDS = 100e9, 20000.0
    save = max(size / W / w_rank, size / FS_BW) + (W + 1) / MDS
    # resume reads every shard twice in aggregate: the CRC check (split over
    # the ranks) and each rank's new partition; opens cost like creates
    resume = max(2 * size / W / r_rank, 2 * size / FS_BW) + (W + 1) / MDS
    return size, save, resume

# ------------------------------------------------------------------ output

def main():
    args = sys.argv[1:]
    plot = None
    if "--plot" in args:
        i = args.index("--plot"); plot = args[i + 1]; del args[i:i + 2]
    cost = args[0] if args else os.path.join(os.path.dirname(__file__), "results", "cost")
    layers, comm, opt, ckpt = load(cost)
    fit = fit_comm(comm)
    hop = ring_params(fit)
    hdr = open(os.path.join(cost, "comm.txt")).readline().strip()
    print("### Measured here (inputs)\n")
    print(f"`{hdr}`\n")
    print(f"| collective (W=2, MPI backend) | alpha (us) | beta (GB/s) | worst rel. error, 4 KB-{FIT_MAX >> 20} MB |")
    print("|---|---:|---:|---:|")
    for op, (a, b, pts, _) in fit.items():
        err = max(abs(a + b * x - t) / t for x, t in pts)
        print(f"| {op} | {a * 1e6:.2f} | {1 / b / 1e9:.2f} | {err * 100:.0f}% |")
    print(f"\nFit against every size (fastest of >= 5 samples; sizes > {FIT_MAX >> 20} MB not fitted, see FIT_MAX):\n")
    print("| bytes | " + " | ".join(f"{op} measured / fit ms" for op in fit) + " |")
    print("|---:|" + "---:|" * len(fit))
    for i, (x, _) in enumerate(next(iter(fit.values()))[3]):
        cells = []
        for op, (a, b, _, allp) in fit.items():
            t = allp[i][1]
            cells.append(f"{t * 1e3:.4g} / {(a + b * x) * 1e3:.4g}" + ("" if x <= FIT_MAX else " (not fitted)"))
        print(f"| {int(x)} | " + " | ".join(cells) + " |")
    print(f"\nAdamW update: {opt * 1e9:.2f} ns/parameter. Checkpoint (one process, fsync): "
          f"write {ckpt.get('write', 0) / 1e6:.0f} MB/s, read+reshard {ckpt.get('read', 0) / 1e6:.0f} MB/s.\n")
    print("| unit (validation GPT, 4 rows x 64 tokens) | params | fwd ms (1 thr) | bwd ms (1 thr) | fwd ms (2 thr) | bwd ms (2 thr) |")
    print("|---|---:|---:|---:|---:|---:|")
    u1, u2 = local_units(layers, "gpt", 1), local_units(layers, "gpt", 2)
    for i, (a, b) in enumerate(zip(u1, u2)):
        print(f"| {i} | {a[0]} | {a[1] * 1e3:.2f} | {a[2] * 1e3:.2f} | {b[1] * 1e3:.2f} | {b[2] * 1e3:.2f} |")
    for tag, label in (("gpt2w", "gpt2 width (C=768)"), ("gpt2mw", "gpt2-medium width (C=1024)")):
        rows = [l for l in layers if l["model"] == tag]
        if rows:
            blk = rows[1]
            tok = int(blk["rows_tokens"])
            print(f"\n{label}, one block, {tok} tokens, 2 threads: fwd {float(blk['fwd_ms']):.1f} ms, "
                  f"bwd {float(blk['bwd_ms']):.1f} ms; head (V=50257): fwd {float(rows[2]['fwd_ms']):.1f} ms, "
                  f"bwd {float(rows[2]['bwd_ms']):.1f} ms")
            C = 768 if tag == "gpt2w" else 1024
            fl = 3 * (2 * 12 * C * C + 4 * tok * C) * tok
            print(f"  (block: {fl / ((float(blk['fwd_ms']) + float(blk['bwd_ms'])) * 1e-3) / 1e9:.1f} GFLOP/s on this CPU)")

    print("\n### Check against measured runs here (W = 1-4, validation GPT, global batch 48, micro 4)\n")
    print("The prediction uses the per-unit times, the W=2 collective fits scaled by the ring formula,")
    print("and the AdamW cost, all serial (2 cores: communication competes with compute for them),")
    print("times the oversubscription factor W x threads / cores.\n")
    print("| stage | W | BLAS thr | oversub | pred. compute+update ms | pred. comm+gathers ms | predicted step ms "
          "| measured compute ms | measured comm (wait) ms | measured step ms | error |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stage, W, thr, over, r, pred, meas in local_check(cost, layers, hop, opt):
        if not meas:
            continue
        ms, mc, mw = meas
        print(f"| {stage} | {W} | {thr} | {over:.1f} | {(r['compute'] + r['update']) * over * 1e3:.1f} | "
              f"{(r['comm'] + r['gathers']) * over * 1e3:.1f} | {pred * 1e3:.1f} | {mc * 1e3:.1f} | {mw * 1e3:.1f} | "
              f"{ms * 1e3:.1f} | {(pred - ms) / ms * 100:+.0f}% |")

    res = cluster_table()
    print("\n### Prediction: H100 cluster, 8 GPUs/node, NVLink + 8x400 Gb/s InfiniBand\n")
    print(f"Weak scaling: {SEQ_PER_GPU} x 1024 tokens per GPU per step, one micro-batch, bucket_mb = 25, "
          f"compute at {MFU:.0%} of 989 TFLOP/s. The head is tied to the token embedding, as in GPT-2, "
          "so the parameter counts are GPT-2's.\n")
    for name in MODELS:
        P = res[(name, 8, 0)][0]
        print(f"**{name}** ({P / 1e6:.0f}M parameters): step time ms (exposed comm + gathers)\n")
        print("| W | DDP | ZeRO-1 | ZeRO-2 | ZeRO-3 | ZeRO-3 gathers / compute |")
        print("|---:|---:|---:|---:|---:|---:|")
        for W in WS:
            cells = []
            for s in range(4):
                r = res[(name, W, s)][1]
                cells.append(f"{r['total'] * 1e3:.1f} ({(r['comm'] + r['gathers']) * 1e3:.1f})")
            r3 = res[(name, W, 3)][1]
            print(f"| {W} | " + " | ".join(cells) + f" | {r3['gathers'] / r3['compute']:.2f} |")
        dom = [W for W in WS if res[(name, W, 3)][1]["gathers"] > res[(name, W, 3)][1]["compute"]]
        print(f"\nZeRO-3's gathers exceed compute from W = {dom[0] if dom else 'beyond 4096'}.\n")
    print("**train.bucket_mb**: exposed gradient communication (ms) per bucket size\n")
    print("| model, stage, W | " + " | ".join(f"{b:g} MB" for b in BUCKETS) + " | recommended |")
    print("|---|" + "---:|" * (len(BUCKETS) + 1))
    for name in MODELS:
        for stage in (0, 2):
            for W in (8, 64, 512, 4096):
                sw = bucket_sweep(name, W, stage)
                rec = best_bucket(name, W, stage)[0]
                print(f"| {name}, {'DDP' if stage == 0 else 'ZeRO-2'}, {W} | " +
                      " | ".join(f"{r['comm'] * 1e3:.2f}" for _, r in sw) + f" | {rec:g} MB |")
    print("\n**Checkpoint save / resume** (params + AdamW m, v; per-rank bandwidth as measured here, "
          "file system assumed 100 GB/s aggregate, 20,000 creates/s; without the index write/open, "
          "which bench/ckpt_scale.sh measures):\n")
    print("| W | gpt2 size GB | save s | resume s | gpt2-medium size GB | save s | resume s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for W in WS:
        row = [f"{W}"]
        for name in MODELS:
            P = res[(name, 8, 0)][0]
            size, sv, rs = ckpt_times(P, W, ckpt)
            row += [f"{size / 1e9:.2f}", f"{sv:.2f}", f"{rs:.2f}"]
        print("| " + " | ".join(row) + " |")

    if plot:
        os.makedirs(plot, exist_ok=True)
        for name in MODELS:
            with open(os.path.join(plot, f"cost_{name}.dat"), "w") as f:
                f.write("# W ddp_ms zero1_ms zero2_ms zero3_ms zero3_gathers_ms compute_ms\n")
                for W in WS:
                    r = [res[(name, W, s)][1] for s in range(4)]
                    f.write(f"{W} " + " ".join(f"{x['total'] * 1e3:.3f}" for x in r) +
                            f" {r[3]['gathers'] * 1e3:.3f} {r[0]['compute'] * 1e3:.3f}\n")
        gp = f"""set terminal pngcairo size 1100,450 font ',10'
set output '{plot}/cost_step.png'
set multiplot layout 1,2
set logscale x 2
set logscale y
set xlabel 'W (GPUs, 8 per node)'
set ylabel 'predicted step time (ms)'
set key top left
set grid
do for [m in 'gpt2 gpt2-medium'] {{
  set title m.' (8x1024 tokens/GPU, bucket 25 MB)'
  f = '{plot}/cost_'.m.'.dat'
  plot f u 1:2 w lp t 'DDP', f u 1:3 w lp t 'ZeRO-1', f u 1:4 w lp t 'ZeRO-2', f u 1:5 w lp t 'ZeRO-3', \\
       f u 1:6 w l dt 2 t 'ZeRO-3 exposed gathers', f u 1:7 w l dt 3 lc rgb 'black' t 'compute'
}}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=gp.encode(), check=True)
        print(f"\nPlot: {plot}/cost_step.png")


if __name__ == "__main__":
    main()
