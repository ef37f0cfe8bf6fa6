"""Does fusing a wavefront step's elementwise gate work pay? Eager kernels against ``torch.compile``.

One GRU step of the wavefront (:func:`nas.training.stacking.recurrence.cell_step`: two sigmoids,
a tanh, the reset product and the interpolation, each its own kernel writing into preallocated
buffers) is timed against the same arithmetic compiled into one kernel by ``torch.compile``
(Inductor's C++ backend on the CPU), at the shapes a wavefront step has: ``--blocks`` blocks of
``--width`` units, batch ``--batch``. The compile time is reported apart. Needs a C++ compiler;
without one the compiled row says why and the eager figure still prints.

Usage::

    python scripts/bench_fused_step.py --threads 1
    python scripts/bench_fused_step.py --blocks 40 1280 --width 10 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from nas.training.device import device_name, resolve_device, set_threads
from nas.training.stacking.recurrence import StepBuffers, cell_step


def gru_math(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor):
    """The GRU step's elementwise work as one expression (what the compiler fuses)."""
    W = h.shape[-1]
    r = torch.sigmoid(gi[..., :W] + gh[..., :W])
    z = torch.sigmoid(gi[..., W:2 * W] + gh[..., W:2 * W])
    n = torch.tanh(gi[..., 2 * W:] + r * gh[..., 2 * W:])
    return r, z, n, torch.lerp(n, h, z)


def _time(run, repeats: int) -> float:
    for _ in range(3):
        run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[40, 1280], help="blocks in one step (several sizes)")
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eager-only", action="store_true", help="skip the compiled kernel (no compile time)")
    args = parser.parse_args(argv)
    for name in ("width", "batch", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if min(args.blocks) < 1:
        parser.error(f"--blocks must all be >= 1, got {args.blocks}")
    set_threads(args.threads)
    print(f"device: {device_name(resolve_device('cpu'))}; torch threads: {torch.get_num_threads()}; "
          f"GRU step, width {args.width}, batch {args.batch}")
    for n in args.blocks:
        W, B = args.width, args.batch
        gen = torch.Generator().manual_seed(0)
        gi, gh = torch.randn(n, B, 3 * W, generator=gen), torch.randn(n, B, 3 * W, generator=gen)
        buf = StepBuffers("gru", gi, 1, n, n, B, W, 0)
        buf.hs[0].normal_(generator=gen)
        eager = _time(lambda: cell_step("gru", buf, 0, 0, n, gi, gh), args.repeats)
        line = f"{n:>6} blocks: eager {eager * 1e6:9.0f} µs"
        if args.eager_only:
            print(line)
            continue
        try:
            start = time.perf_counter()
            fused = torch.compile(gru_math, dynamic=False)
            fused(gi, gh, buf.hs[0])
            compile_s = time.perf_counter() - start
            compiled = _time(lambda: fused(gi, gh, buf.hs[0]), args.repeats)
            line += f", compiled {compiled * 1e6:9.0f} µs ({eager / compiled:.2f}x; compile {compile_s:.1f} s)"
        except Exception as err:  # no compiler, or a backend that cannot build here: the eager figure stands
            line += f", compiled: not available ({type(err).__name__}: {str(err).splitlines()[0][:80]})"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
