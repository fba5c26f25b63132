"""sciml vs torchdiffeq on a neural ODE: same vector field, same inputs, one process.

Vector fields: MLP 2 -> W -> W -> 2 with tanh, W = 64 ("small") and W = 256 ("wide").
dopri5 at rtol=1e-6, atol=1e-8 on t in [0, 1], float32, batch 1 / 256 / 4096,
forward only (no_grad) and forward+backward (backprop through the solver).

Printed per case: NFE of each library, median wall time, the speed-up
torchdiffeq/sciml, and the overhead ratio wall / (NFE x cost of one call), where the
cost of one call is the median time of one vector-field evaluation (forward, or
forward+backward) at that batch size. diffrax (JAX, jit-compiled) is timed on the
same weights and inputs when it is installed.

    python benchmarks/ode_vs_torchdiffeq.py            # full table
    python benchmarks/ode_vs_torchdiffeq.py --quick    # one small case
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sciml.solvers import odeint as sciml_odeint

RTOL, ATOL = 1e-6, 1e-8


def mlp(width: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(2, width), torch.nn.Tanh(), torch.nn.Linear(width, width), torch.nn.Tanh(),
        torch.nn.Linear(width, 2),
    )


class Field(torch.nn.Module):
    """f(t, y) = MLP(y), counting evaluations."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y)


def median_time(fn, repeats: int, min_time: float = 0.3) -> float:
    return median_times([fn], repeats, min_time)[0]


def median_times(fns, repeats: int, min_time: float = 0.3) -> list[float]:
    """Median wall time of each function, timed in alternation so that machine
    noise hits all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < repeats or (time.perf_counter() - start < min_time and len(times[0]) < 50 * repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def run_case(width: int, batch: int, backward: bool, repeats: int, with_diffrax: bool):
    field = Field(mlp(width, seed=0))
    y0 = torch.randn(batch, 2, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.0, 1.0])
    import torchdiffeq

    def solve(odeint):
        def go():
            if backward:
                y = y0.clone().requires_grad_(True)
                out = odeint(field, y, t, rtol=RTOL, atol=ATOL, method="dopri5")
                out[-1].square().sum().backward()
            else:
                with torch.no_grad():
                    odeint(field, y0, t, rtol=RTOL, atol=ATOL, method="dopri5")
        return go

    def one_call():
        if backward:
            y = y0.clone().requires_grad_(True)
            field.net(y).square().sum().backward()
        else:
            with torch.no_grad():
                field.net(y0)

    row = {"width": width, "batch": batch, "mode": "fwd+bwd" if backward else "fwd"}
    libraries = {"sciml": sciml_odeint, "torchdiffeq": torchdiffeq.odeint}
    nfe = {}
    for name, odeint in libraries.items():
        field.nfe = 0
        solve(odeint)()
        nfe[name] = field.nfe
    walls = median_times([solve(o) for o in libraries.values()] + [one_call], repeats)
    call = walls[-1]
    row["call_ms"] = call * 1e3
    for name, wall in zip(libraries, walls):
        row[name] = {"nfe": nfe[name], "ms": wall * 1e3, "overhead": wall / (nfe[name] * call)}
    if with_diffrax and not backward:
        row["diffrax"] = diffrax_time(field.net, y0, repeats)
    return row


def diffrax_time(net, y0, repeats):
    """diffrax Dopri5 with the same weights, jit-compiled, vmapped over the batch."""
    import diffrax
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")
    ws = [(jnp.asarray(m.weight.detach().numpy()), jnp.asarray(m.bias.detach().numpy()))
          for m in net if isinstance(m, torch.nn.Linear)]

    def vf(t, y, args):
        (w1, b1), (w2, b2), (w3, b3) = ws
        h = jnp.tanh(y @ w1.T + b1)
        h = jnp.tanh(h @ w2.T + b2)
        return h @ w3.T + b3

    term = diffrax.ODETerm(vf)
    ctrl = diffrax.PIDController(rtol=RTOL, atol=ATOL)

    @jax.jit
    def solve(y):
        sol = diffrax.diffeqsolve(term, diffrax.Dopri5(), 0.0, 1.0, None, y, stepsize_controller=ctrl,
                                  saveat=diffrax.SaveAt(t1=True))
        return sol.ys, sol.stats["num_steps"]

    y = jnp.asarray(y0.numpy())
    ys, steps = solve(y)
    ys.block_until_ready()
    wall = median_time(lambda: solve(y)[0].block_until_ready(), repeats)
    return {"ms": wall * 1e3, "steps": int(steps)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small case, few repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import diffrax  # noqa: F401
        with_diffrax = True
    except ImportError:
        with_diffrax = False
    cases = [(64, 256, False)] if args.quick else [
        (w, b, bw) for w in (64, 256) for b in (1, 256, 4096) for bw in (False, True)
    ]
    repeats = 3 if args.quick else args.repeats
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, dopri5 rtol={RTOL} atol={ATOL}, float32")
    header = (f"{'width':>5} {'batch':>5} {'mode':>7} | {'NFE s/t':>9} | {'sciml ms':>9} {'tdiffeq ms':>10} "
              f"{'speed-up':>8} | {'ovh sciml':>9} {'ovh tdq':>7}")
    if with_diffrax:
        header += f" | {'diffrax ms':>10}"
    print(header)
    print("-" * len(header))
    for width, batch, backward in cases:
        r = run_case(width, batch, backward, repeats, with_diffrax)
        s, d = r["sciml"], r["torchdiffeq"]
        line = (f"{width:>5} {batch:>5} {r['mode']:>7} | {s['nfe']:>4}/{d['nfe']:<4} | {s['ms']:>9.2f} {d['ms']:>10.2f} "
                f"{d['ms'] / s['ms']:>7.2f}x | {s['overhead']:>9.2f} {d['overhead']:>7.2f}")
        if with_diffrax:
            line += f" | {r['diffrax']['ms']:>10.2f}" if "diffrax" in r else f" | {'-':>10}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
