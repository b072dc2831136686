"""torch_ddp.py — PyTorch DDP (gloo, CPU) reference for bench/ddp.sh.

Same architecture as ztrain's `mlp` (784 -> hidden... -> 10, ReLU, softmax
cross-entropy), same global batch split over W processes, same threads per
rank, AdamW. Data: with --data, the training split of ztrain's MNIST HDF5 file
(read once with h5py into memory, scaled by 1/255 as ztrain's loader does;
each step takes its rank's slice of a shuffled global batch), else random
inputs. --flush-denormal 1 runs with FTZ/DAZ, as ztrain's CPU ops always do.
Prints `samples_per_s <value>` (timed steps, after warm-up) from rank 0; the
wall time of the whole run is measured by bench/ddp.sh. Run with Debian's
/usr/bin/python3.
"""
import argparse, os, time
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, a):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(a.port))
    torch.set_num_threads(a.threads)
    if a.flush_denormal:
        torch.set_flush_denormal(True)
    dist.init_process_group("gloo", rank=rank, world_size=a.world)
    dims = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(*layers),
                                                      bucket_cap_mb=a.bucket_mb)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    per_rank = a.global_batch // a.world
    g = torch.Generator().manual_seed(rank)
    if a.data:
        import h5py
        with h5py.File(a.data, "r") as f:
            X = torch.from_numpy(f["train/images"][:].reshape(-1, 784)).float().mul_(1.0 / 255.0)
            Y = torch.from_numpy(f["train/labels"][:].astype("int64"))
        perm_g = torch.Generator().manual_seed(1234)   # same global batches on every rank
    else:
        X = torch.rand(per_rank, 784, generator=g)
        Y = torch.randint(0, 10, (per_rank,), generator=g)
    lossf = torch.nn.CrossEntropyLoss()
    pos = [0, None]

    def batch():
        if not a.data:
            return X, Y
        if pos[1] is None or pos[0] + a.global_batch > len(X):
            pos[0], pos[1] = 0, torch.randperm(len(X), generator=perm_g)
        idx = pos[1][pos[0] + rank * per_rank: pos[0] + (rank + 1) * per_rank]
        pos[0] += a.global_batch
        return X[idx], Y[idx]

    def step():
        x, y = batch()
        opt.zero_grad(set_to_none=True)
        lossf(model(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        print(f"samples_per_s {a.global_batch * a.steps / dt:.1f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", default="256,128")
    p.add_argument("--global-batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--bucket-mb", type=float, default=25)
    p.add_argument("--data", default="", help="ztrain MNIST HDF5 file (train split) instead of random inputs")
    p.add_argument("--flush-denormal", type=int, default=0)
    p.add_argument("--port", type=int, default=29517)
    a = p.parse_args()
    mp.spawn(worker, args=(a,), nprocs=a.world, join=True)
