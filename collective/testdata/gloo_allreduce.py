#!/usr/bin/python3
"""Reference numbers: torch.distributed gloo all_reduce (sum, float32) on CPU
over loopback TCP, printed in the same columns as `lens bench allreduce`:

    ranks bytes time_ms algbw_GBps busbw_GBps

algbw = bytes / time and busbw = algbw * 2(n-1)/n, as nccl-tests defines
them for all-reduce. time is the median over --iters timed calls after
--warmup untimed ones, measured on rank 0 between barriers.

Usage: /usr/bin/python3 gloo_allreduce.py [--ranks 2,4] [--sizes 1MiB,16MiB,64MiB]
                                 [--iters 10] [--warmup 3] [--port 29533]
"""
import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def parse_size(s):
    s = s.strip()
    for suffix, mult in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)):
        if s.endswith(suffix):
            return int(float(s[: -len(suffix)]) * mult)
    return int(s)


def worker(rank, world, port, sizes, iters, warmup, q):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    for size in sizes:
        t = torch.randn(size // 4, dtype=torch.float32)
        for _ in range(warmup):
            dist.all_reduce(t)
        times = []
        for _ in range(iters):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        # The slowest rank decides the collective's time.
        mx = torch.tensor([statistics.median(times)], dtype=torch.float64)
        dist.all_reduce(mx, op=dist.ReduceOp.MAX)
        if rank == 0:
            q.put((world, size, mx.item()))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", default="2,4")
    ap.add_argument("--sizes", default="1MiB,16MiB,64MiB")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--port", type=int, default=29533)
    a = ap.parse_args()
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    sizes = [parse_size(s) for s in a.sizes.split(",")]
    print(f"# torch {torch.__version__} gloo all_reduce sum float32, loopback")
    print(f"{'ranks':>5} {'bytes':>12} {'time_ms':>10} {'algbw_GBps':>11} {'busbw_GBps':>11}")
    ctx = mp.get_context("spawn")
    for i, n in enumerate(int(r) for r in a.ranks.split(",")):
        q = ctx.SimpleQueue()
        mp.start_processes(worker, args=(n, a.port + i, sizes, a.iters, a.warmup, q), nprocs=n, join=True, start_method="spawn")
        while not q.empty():
            world, size, sec = q.get()
            algbw = size / sec / 1e9
            busbw = algbw * 2 * (world - 1) / world
            print(f"{world:>5} {size:>12} {sec * 1e3:>10.3f} {algbw:>11.3f} {busbw:>11.3f}", flush=True)


if __name__ == "__main__":
    main()
