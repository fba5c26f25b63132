"""Fuzzing the public API: about 400 bad or edge-case inputs, each answered in a worker
process under a timeout and classified.

Every case is a record (:class:`Case`): an area, a name, a zero-argument callable and an
expectation:

* ``error``: a bad input; the right answer is a ``ValueError``/``TypeError`` (or an error
  class of ``sciml``/``problems``, e.g. ``MaxStepsError``, ``ConfigError``) raised by the
  library, whose message names the argument (one of the case's ``names``);
* ``value``: a valid edge case (0-d state, reversed time, float32, one time point,
  batch 1, ...); the result must pass the case's ``check`` (finite, correct);
* ``either``: an input the library may legitimately reject or solve; a clear error or a
  checked-correct value both pass;
* ``cli``: ``sciml.cli.main(argv)`` with a bad flag or config; the right answer is exit
  code 2 with a message (no traceback) that names the flag or config key.

Each answer is classified as

* ``clear``: the expected error, raised by the library, naming the argument;
* ``unclear``: an exception of another type, one raised inside torch/numpy, one whose
  message does not name the argument, a valid input rejected, a worker crash;
* ``hang``: no answer within the timeout (default 10 s per case);
* ``silent``: a bad input accepted (a value came back), or a value case whose result
  failed its check (wrong or non-finite);
* ``ok``: a value case with a correct result.

Cases run in ``--jobs`` worker processes forked from a parent that has imported the
library once; each case runs in a fresh temporary working directory, with the global
seed and default dtype reset, under an address-space limit (``--memory-gb``) so that an
input that would allocate the machine's memory fails instead. A worker that hangs or
dies is replaced and the remaining cases go on.

    python benchmarks/fuzz_public_api.py --jobs 2 --json fuzz.json   # every case (a few minutes)
    python benchmarks/fuzz_public_api.py --area solvers              # one area
    python benchmarks/fuzz_public_api.py --quick                     # a fixed subset of ~40 (< 60 s)

The two ``selftest`` areas' cases do not touch the library: a toy that returns the right
value (``ok``), a toy that rejects a bad input clearly (``clear``), one that accepts it
(``silent``), one that fails with an unrelated error (``unclear``) and one that sleeps
(``hang``); they check the harness itself (``tests/test_fuzz_harness.py``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import contextlib
import io
import json
import math
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUTCOMES = ("clear", "unclear", "hang", "silent", "ok")
EXPECTATIONS = ("error", "value", "either", "cli")
LIBRARY_PACKAGES = ("sciml", "problems")
F64 = torch.float64


@dataclass(frozen=True)
class Case:
    """One input to try. ``call()`` runs it (in a fresh working directory); ``names``: an
    error message must contain one of them (case-insensitive); ``check(result)``: a value
    case's result is right; ``types``: the accepted exception types; ``timeout``: seconds
    (``None``: the run's default)."""

    area: str
    name: str
    call: Callable[[], Any]
    expect: str
    names: tuple[str, ...] = ()
    check: Callable[[Any], bool] | None = None
    types: tuple[type, ...] = (ValueError, TypeError)
    timeout: float | None = None

    @property
    def key(self) -> str:
        return f"{self.area}/{self.name}"


@dataclass
class Registry:
    """The cases in the order they were added; ``add`` refuses a duplicate key."""

    cases: list[Case] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def add(self, case: Case) -> None:
        if case.key in self.keys:
            raise ValueError(f"duplicate fuzz case {case.key}")
        self.keys.add(case.key)
        self.cases.append(case)

    def error(self, area: str, name: str, call: Callable, *names: str, types: tuple[type, ...] = (ValueError, TypeError),
              timeout: float | None = None) -> None:
        self.add(Case(area, name, call, "error", names, types=types, timeout=timeout))

    def value(self, area: str, name: str, call: Callable, check: Callable[[Any], bool],
              timeout: float | None = None) -> None:
        self.add(Case(area, name, call, "value", check=check, timeout=timeout))

    def either(self, area: str, name: str, call: Callable, check: Callable[[Any], bool], *names: str,
               timeout: float | None = None) -> None:
        self.add(Case(area, name, call, "either", names, check=check, timeout=timeout))

    def cli(self, name: str, argv: Callable[[], list[str]], *names: str, timeout: float | None = None) -> None:
        self.add(Case("cli", name, lambda: run_cli(argv()), "cli", names, timeout=timeout))


# ---------------------------------------------------------------- classification


@dataclass
class CliAnswer:
    """What ``sciml.cli.main`` did: its exit code and what it wrote to stderr."""

    code: Any
    stderr: str


def run_cli(argv: list[str]) -> CliAnswer:
    """``sciml.cli.main(argv)`` with stdout/stderr captured; ``SystemExit`` (argparse)
    becomes its code. Any other exception escapes (a traceback for the user)."""
    from sciml.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return CliAnswer(code, err.getvalue())


def _first_line(text: str, limit: int = 160) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _origin(exc: BaseException) -> str:
    """The file of the innermost Python frame of ``exc``'s traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1].filename if frames else ""


def _foreign_origin(path: str) -> str | None:
    """``"torch"``/``"numpy"``/... when ``path`` is a third-party file, else ``None``."""
    parts = Path(path).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            i = parts.index(marker)
            return parts[i + 1] if i + 1 < len(parts) else marker
    return None


def _is_library_class(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in LIBRARY_PACKAGES


def _names(case: Case, text: str) -> bool:
    low = text.lower()
    return not case.names or any(n.lower() in low for n in case.names)


def classify_exception(case: Case, exc: BaseException) -> tuple[str, str]:
    """``clear`` or ``unclear`` (with the reason) for an exception raised by a case."""
    kind = type(exc).__name__
    message = str(exc)
    shown = f"{kind}: {_first_line(message)}"
    if case.expect == "value":
        return "unclear", f"valid input rejected: {shown}"
    if isinstance(exc, MemoryError) or not (isinstance(exc, case.types) or _is_library_class(exc)):
        return "unclear", f"{shown} (expected {'/'.join(t.__name__ for t in case.types)})"
    foreign = _foreign_origin(_origin(exc))
    if foreign and not (_is_library_class(exc) or isinstance(exc, OSError)):
        return "unclear", f"raised inside {foreign}: {shown}"
    if not message.strip():
        return "unclear", f"{kind} with an empty message"
    if not _names(case, message):
        return "unclear", f"message names none of {', '.join(case.names)}: {shown}"
    return "clear", shown


def classify_cli(case: Case, answer: CliAnswer) -> tuple[str, str]:
    """A CLI answer: exit code 2, no traceback, a message naming the flag/key."""
    line = _first_line(answer.stderr.strip().splitlines()[-1] if answer.stderr.strip() else "")
    if answer.code in (0, None):
        return "silent", f"exit code {answer.code}: the bad input was accepted"
    if "Traceback (most recent call last)" in answer.stderr:
        return "unclear", f"traceback on stderr (exit {answer.code}): {line}"
    if answer.code != 2:
        return "unclear", f"exit code {answer.code} (expected 2): {line}"
    if not _names(case, answer.stderr):
        return "unclear", f"message names none of {', '.join(case.names)}: {line}"
    return "clear", line


def classify_value(case: Case, result: Any) -> tuple[str, str]:
    """A case that returned ``result``."""
    if case.expect == "cli":
        return classify_cli(case, result)
    if case.expect == "error":
        return "silent", f"bad input accepted, returned {_describe(result)}"
    try:
        good = bool(case.check(result))
    except Exception as exc:  # the check itself failing means the result has the wrong form
        good, why = False, f"{type(exc).__name__}: {_first_line(str(exc))}"
    else:
        why = "" if good else f"wrong or non-finite result {_describe(result)}"
    return ("ok", "correct result") if good else ("silent", why)


def _describe(result: Any) -> str:
    if isinstance(result, torch.Tensor):
        finite = bool(torch.isfinite(result).all()) if result.is_floating_point() else True
        return f"tensor{tuple(result.shape)} {result.dtype}{'' if finite else ' with NaN/Inf'}"
    return _first_line(type(result).__name__ + ("" if result is None else f" {result!r}"), 80)


def run_case(case: Case) -> dict:
    """Run one case here (in a fresh working directory) and classify its answer."""
    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    here = os.getcwd()
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float32)
    start = time.perf_counter()
    try:
        os.chdir(work)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = case.call()
            except (Exception, SystemExit) as exc:
                outcome, reason = classify_exception(case, exc) if case.expect != "cli" else (
                    "unclear", f"exception escaped main(): {type(exc).__name__}: {_first_line(str(exc))}")
            else:
                outcome, reason = classify_value(case, result)
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    return {"outcome": outcome, "reason": reason, "seconds": round(time.perf_counter() - start, 3)}


# ---------------------------------------------------------------- workers


def _worker(conn, cases: dict[str, Case], memory_gb: float) -> None:
    """Answer case keys from ``conn`` until ``None``."""
    limit = int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    while True:
        key = conn.recv()
        if key is None:
            return
        try:
            answer = run_case(cases[key])
        except MemoryError:
            answer = {"outcome": "unclear", "reason": "MemoryError outside the case", "seconds": 0.0}
        conn.send(answer)


class _Worker:
    def __init__(self, ctx, cases: dict[str, Case], memory_gb: float):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, cases, memory_gb), daemon=True)
        self.process.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def warm_up() -> None:
    """Run once what torch imports lazily (the optimiser's compile hooks, FFTs, autograd), so
    that forked workers do not spend a case's time on it."""
    torch.manual_seed(0)
    layer = torch.nn.Conv1d(1, 1, 1)
    optimizer = torch.optim.Adam(layer.parameters())
    torch.fft.irfft(torch.fft.rfft(layer(torch.randn(2, 1, 8)))).sum().backward()
    optimizer.step()


def run_cases(cases: list[Case], jobs: int = 2, timeout: float = 10.0, memory_gb: float = 4.0,
              progress: Callable[[Case, dict], None] | None = None) -> dict[str, dict]:
    """Every case in one of ``jobs`` workers; ``{key: {"outcome", "reason", "seconds"}}``.
    A case that times out is tried once more in a fresh worker before it counts as a hang."""
    warm_up()
    ctx = mp.get_context("fork")
    by_key = {c.key: c for c in cases}
    pending = deque(cases)
    retried: set[str] = set()
    results: dict[str, dict] = {}
    free = [_Worker(ctx, by_key, memory_gb) for _ in range(max(1, min(jobs, len(cases))))]
    busy: dict[Any, tuple[_Worker, Case, float, float]] = {}

    def record(case: Case, answer: dict) -> None:
        results[case.key] = answer
        if progress:
            progress(case, answer)

    while pending or busy:
        while free and pending:
            w, case = free.pop(), pending.popleft()
            w.conn.send(case.key)
            limit = case.timeout if case.timeout is not None else timeout
            busy[w.conn] = (w, case, time.monotonic() + limit, limit)
        next_deadline = min(d for _, _, d, _ in busy.values())
        for conn in wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic())):
            w, case, _, _ = busy.pop(conn)
            try:
                record(case, conn.recv())
                free.append(w)
            except (EOFError, OSError):
                w.stop(kill=True)
                code = w.process.exitcode
                record(case, {"outcome": "unclear", "reason": f"worker died (exit code {code})", "seconds": None})
                free.append(_Worker(ctx, by_key, memory_gb))
        now = time.monotonic()
        for conn, (w, case, deadline, limit) in list(busy.items()):
            if now >= deadline:
                del busy[conn]
                w.stop(kill=True)
                if case.key in retried or case.area == "selftest":
                    record(case, {"outcome": "hang", "reason": f"no answer within {limit:g} s"
                                  + ("" if case.area == "selftest" else ", twice"), "seconds": limit})
                else:  # once more in a fresh worker, so that a slow moment of the machine is not a hang
                    retried.add(case.key)
                    pending.appendleft(case)
                free.append(_Worker(ctx, by_key, memory_gb))
    for w in free:
        w.stop()
    return results


# ---------------------------------------------------------------- reporting


def summarise(cases: list[Case], results: dict[str, dict]) -> dict[str, dict[str, int]]:
    """``{area: {outcome: count, "total": n}}`` plus ``"total"``."""
    table: dict[str, dict[str, int]] = {}
    for case in cases:
        for row in (case.area, "total"):
            counts = table.setdefault(row, {o: 0 for o in (*OUTCOMES, "total")})
            counts[results[case.key]["outcome"]] += 1
            counts["total"] += 1
    total = table.pop("total", {o: 0 for o in (*OUTCOMES, "total")})
    table["total"] = total
    return table


def format_table(table: dict[str, dict[str, int]]) -> str:
    head = f"{'area':<12}" + "".join(f"{o:>9}" for o in (*OUTCOMES, "total"))
    rows = [head, "-" * len(head)]
    for area, counts in table.items():
        if area == "total":
            rows.append("-" * len(head))
        rows.append(f"{area:<12}" + "".join(f"{counts[o]:>9}" for o in (*OUTCOMES, "total")))
    return "\n".join(rows)


def report(cases: list[Case], results: dict[str, dict]) -> dict:
    """The JSON report: every case's outcome, the per-area counts."""
    return {"cases": [{"area": c.area, "name": c.name, "expect": c.expect, **results[c.key]} for c in cases],
            "counts": summarise(cases, results)}


# ---------------------------------------------------------------- helpers for the cases


def finite(x: Any) -> bool:
    """Every tensor in ``x`` (a tensor, a tuple/list/dict of them or an object with ``ys``/
    ``states``) is finite."""
    if isinstance(x, torch.Tensor):
        return bool(torch.isfinite(x).all()) if x.is_floating_point() or x.is_complex() else True
    if isinstance(x, (tuple, list)):
        return all(finite(v) for v in x)
    if isinstance(x, dict):
        return all(finite(v) for v in x.values())
    for attr in ("ys", "states", "u", "estimate"):
        if hasattr(x, attr):
            return finite(getattr(x, attr))
    if isinstance(x, float):
        return math.isfinite(x)
    return x is not None


def near(x: torch.Tensor, expected: Any, tol: float) -> bool:
    expected = torch.as_tensor(expected, dtype=x.dtype)
    return bool(torch.isfinite(x).all()) and bool(((x - expected).abs() <= tol * (1 + expected.abs())).all())


def shaped(*shape: int) -> Callable[[Any], bool]:
    return lambda x: isinstance(x, torch.Tensor) and tuple(x.shape) == shape and finite(x)


def decay(t, y):
    """``dy/dt = -y``."""
    return -y


class OU(torch.nn.Module):
    """``dY = -Y dt + 0.5 dW`` (diagonal noise), the SDE of the solver cases."""

    noise_type = "diagonal"
    sde_type = "ito"

    def f(self, t, y):
        return -y

    def g(self, t, y):
        return 0.5 * torch.ones_like(y)


class BadNoise(OU):
    noise_type = "bogus"


class NoDrift:
    noise_type = "diagonal"
    sde_type = "ito"

    def g(self, t, y):
        return torch.ones_like(y)


def y0() -> torch.Tensor:
    return torch.ones(2, dtype=F64)


def ts(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64) if values else torch.linspace(0, 1, 5, dtype=F64)


def h5(name: str = "d.h5", n: int = 12, s: int = 9, grid: bool = True) -> str:
    """A small dataset ``inputs``/``outputs`` ``(n, s, s)`` in the working directory, with
    its ``grid`` group (``x``, ``y``) unless ``grid=False``."""
    from sciml.data import write_fields

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, s, s, generator=g)
    nodes = torch.linspace(0, 1, s, dtype=F64).numpy()
    write_fields(name, x, 2 * x, grid={"x": nodes, "y": nodes} if grid else None)
    return name


def run_config(extra: str = "") -> str:
    """A small valid ``sciml train`` config on :func:`h5` data (``extra`` appended)."""
    train, test = h5("train.h5"), h5("test.h5", n=4)
    Path("run.yaml").write_text(f"""seed: 0
out_dir: run
data: {{format: h5, train: {train}, test: {{t: {test}}}, normalize_inputs: scalar}}
model: {{name: fno, n_modes: [3, 3], hidden_channels: 4, n_layers: 1}}
optimizer: {{name: adam, lr: 1.0e-2}}
trainer: {{max_epochs: 1, batch_size: 4, progress: false, threads: 1}}
{extra}""")
    return "run.yaml"


def sim_config(extra: str = "") -> str:
    """A small valid ``sciml simulate`` config (Burgers 32, two steps)."""
    Path("sim.yaml").write_text(f"""problem: {{name: burgers, resolution: 32, dt: 1.0e-3, t_end: 0.01}}
initial: {{n: 1, seed: 0}}
stepper: {{kind: solver}}
steps: 2
out: out.h5
progress: false
{extra}""")
    return "sim.yaml"


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Conv1d(1, 1, 1)


def tiny_data(n: int = 8):
    from sciml.data import TensorFieldDataset

    x = torch.randn(n, 1, 8)
    return TensorFieldDataset(x, 2 * x, spatial=1)


def trainer(**options):
    from sciml.train import LpLoss, Trainer

    opts = {"max_epochs": 1, "batch_size": 4, "progress": False, **options}
    return Trainer(opts.pop("model", tiny_model()), opts.pop("loss", LpLoss(reduction="mean")), **opts)


def checkpoint() -> str:
    """``ck/latest.pt`` of a one-epoch Trainer run of a tiny FNO on :func:`h5`-shaped data."""
    from sciml.data import TensorFieldDataset
    from sciml.operators import fno

    x = torch.randn(4, 9, 9)
    trainer(model=fno(n_modes=(3, 3), hidden_channels=4, n_layers=1), checkpoint_dir="ck").fit(
        TensorFieldDataset(x, 2 * x, spatial=2))
    return "ck/latest.pt"


class Halve:
    """A stepper ``u -> u / 2`` with ``dt = 0.1``."""

    dt = 0.1

    def __call__(self, u):
        return u / 2


class Blowup:
    dt = 0.1

    def __call__(self, u):
        return u * float("nan")


def state(*shape: int) -> torch.Tensor:
    return torch.ones(*(shape or (1, 1, 8)), dtype=F64)


# ---------------------------------------------------------------- the cases


def selftest_cases(r: Registry) -> None:
    """Toys that do not touch the library: one case per outcome."""

    def rejects(x):
        if x < 0:
            raise ValueError(f"x must be >= 0, got {x}")
        return x

    def crashes(x):
        return [][x]

    r.value("selftest", "value_ok", lambda: 1 + 1, lambda v: v == 2)
    r.error("selftest", "clear_error", lambda: rejects(-1), "x")
    r.error("selftest", "silent_accept", lambda: abs(-1), "x")
    r.error("selftest", "unclear_error", lambda: crashes(3), "x")
    r.value("selftest", "silent_wrong_value", lambda: float("nan"), lambda v: math.isfinite(v))
    r.error("selftest", "hang", lambda: time.sleep(60), "x", timeout=1.5)


def solver_cases(r: Registry) -> None:
    from sciml.solvers import (BrownianPath, IController, LinearSDE, MarkovFBM, PIController, initial_step_size,
                               odeint, sample_exact_fbm, sdeint, solve_ode, solve_sde, step_error)

    A = "solvers"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    exp1 = math.exp(-1)
    # solve_ode: arguments
    e("solve_ode/func_not_callable", lambda: solve_ode(3, y0(), ts()), "func")
    e("solve_ode/y0_list", lambda: solve_ode(decay, [1.0, 1.0], ts()), "y0")
    e("solve_ode/y0_int", lambda: solve_ode(decay, torch.ones(2, dtype=torch.long), ts()), "y0")
    e("solve_ode/y0_nan", lambda: solve_ode(decay, torch.tensor([1.0, math.nan], dtype=F64), ts()), "y0")
    e("solve_ode/y0_inf", lambda: solve_ode(decay, torch.tensor([math.inf], dtype=F64), ts()), "y0")
    e("solve_ode/y0_complex", lambda: solve_ode(decay, torch.ones(2, dtype=torch.complex128), ts()), "y0")
    e("solve_ode/t_2d", lambda: solve_ode(decay, y0(), ts().reshape(1, -1)), "t")
    e("solve_ode/t_empty", lambda: solve_ode(decay, y0(), torch.zeros(0, dtype=F64)), "t")
    e("solve_ode/t_not_monotonic", lambda: solve_ode(decay, y0(), ts(0, 1, 0.5)), "t", "monoton")
    e("solve_ode/t_nan", lambda: solve_ode(decay, y0(), ts(0, math.nan, 1)), "t")
    e("solve_ode/t_inf", lambda: solve_ode(decay, y0(), ts(0, math.inf)), "t")
    r.either(A, "solve_ode/t_int", lambda: solve_ode(decay, y0(), torch.tensor([0, 1])).ys[-1],
             lambda y: near(y, exp1, 1e-6), "t")
    r.either(A, "solve_ode/t_list", lambda: solve_ode(decay, y0(), [0.0, 1.0]).ys[-1], lambda y: near(y, exp1, 1e-6),
             "t")
    e("solve_ode/t_repeated", lambda: solve_ode(decay, y0(), ts(0, 0, 1)), "t")
    e("solve_ode/rtol_atol_zero", lambda: solve_ode(decay, y0(), ts(), rtol=0.0, atol=0.0), "rtol", "atol", "tol")
    e("solve_ode/rtol_negative", lambda: solve_ode(decay, y0(), ts(), rtol=-1e-6), "rtol")
    e("solve_ode/atol_negative", lambda: solve_ode(decay, y0(), ts(), atol=-1.0), "atol")
    e("solve_ode/rtol_nan", lambda: solve_ode(decay, y0(), ts(), rtol=math.nan), "rtol")
    e("solve_ode/rtol_string", lambda: solve_ode(decay, y0(), ts(), rtol="1e-6"), "rtol")
    e("solve_ode/rtol_bool", lambda: solve_ode(decay, y0(), ts(), rtol=True), "rtol")
    e("solve_ode/rtol_below_float64_resolution", lambda: solve_ode(decay, y0(), ts(), rtol=1e-20, atol=1e-22),
      "rtol", "tol", "resolution", "eps")
    e("solve_ode/rtol_below_float32_resolution",
      lambda: solve_ode(decay, torch.ones(2), ts().float(), rtol=1e-12, atol=1e-14), "rtol", "tol", "float32")
    e("solve_ode/float16_default_tol", lambda: solve_ode(decay, torch.ones(2, dtype=torch.float16),
                                                          ts().half()), "rtol", "tol", "float16", "dtype")
    e("solve_ode/bfloat16_default_tol", lambda: solve_ode(decay, torch.ones(2, dtype=torch.bfloat16),
                                                           ts().bfloat16()), "rtol", "tol", "bfloat16", "dtype")
    e("solve_ode/method_unknown", lambda: solve_ode(decay, y0(), ts(), method="rk99"), "method")
    e("solve_ode/method_int", lambda: solve_ode(decay, y0(), ts(), method=4), "method")
    e("solve_ode/dt_zero", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=0.0), "dt")
    e("solve_ode/dt_negative", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=-0.1), "dt")
    e("solve_ode/dt_nan", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=math.nan), "dt")
    e("solve_ode/dt_bool", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=True), "dt")
    e("solve_ode/dt_tiny_fixed", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=1e-12), "dt", "max_steps")
    e("solve_ode/adaptive_string", lambda: solve_ode(decay, y0(), ts(), adaptive="yes"), "adaptive")
    e("solve_ode/max_steps_zero", lambda: solve_ode(decay, y0(), ts(), max_steps=0), "max_steps")
    e("solve_ode/max_steps_float", lambda: solve_ode(decay, y0(), ts(), max_steps=10.5), "max_steps")
    e("solve_ode/max_steps_bool", lambda: solve_ode(decay, y0(), ts(), max_steps=True), "max_steps")
    e("solve_ode/max_steps_hit", lambda: solve_ode(decay, y0(), ts(0, 100), max_steps=3), "max_steps")
    e("solve_ode/per_sample_string", lambda: solve_ode(decay, y0(), ts(), per_sample="yes"), "per_sample")
    e("solve_ode/stiffness_string", lambda: solve_ode(decay, y0(), ts(), stiffness="no"), "stiffness")
    e("solve_ode/controller_string", lambda: solve_ode(decay, y0(), ts(), controller="pi"), "controller")
    e("solve_ode/adjoint_string", lambda: solve_ode(decay, y0(), ts(), adjoint="yes"), "adjoint")
    e("solve_ode/field_wrong_shape", lambda: solve_ode(lambda t, y: torch.ones(3, dtype=F64), y0(), ts()),
      "func", "shape")
    e("solve_ode/field_wrong_dtype", lambda: solve_ode(lambda t, y: (-y).float(), y0(), ts()), "func", "dtype")
    e("solve_ode/field_returns_none", lambda: solve_ode(lambda t, y: None, y0(), ts()), "func")
    e("solve_ode/field_nan_adaptive", lambda: solve_ode(lambda t, y: y * math.nan, y0(), ts()),
      "nan", "finite")
    e("solve_ode/field_nan_fixed", lambda: solve_ode(lambda t, y: y * math.nan, y0(), ts(), method="rk4", dt=0.1),
      "nan", "finite")
    e("solve_ode/blowup_fixed", lambda: solve_ode(lambda t, y: y * y, 10 * y0(), ts(0, 10), method="rk4", dt=0.1),
      "finite", "nan", "blow", "overflow", "explod")
    e("solve_ode/stiff_explicit_fixed", lambda: solve_ode(lambda t, y: -1e4 * y, y0(), ts(0, 10), method="rk4",
                                                          dt=0.01), "stiff", "finite", "explod", "implicit", "dt")
    e("solve_ode/stiff_euler_fixed", lambda: solve_ode(lambda t, y: -1e3 * y, y0(), ts(0, 5), method="euler",
                                                       dt=0.01), "stiff", "finite", "explod", "implicit", "dt")
    r.either(A, "solve_ode/stiff_explicit_adaptive",
             lambda: solve_ode(lambda t, y: -1e6 * (y - torch.cos(t)), y0(), ts(0, 100)).ys[-1],
             lambda y: near(y, math.cos(100), 1e-3), "max_steps", "stiff")
    # solve_ode: valid edge cases
    v("solve_ode/y0_0d", lambda: solve_ode(decay, torch.tensor(1.0, dtype=F64), ts()).ys[-1],
      lambda y: near(y, exp1, 1e-6))
    v("solve_ode/t_reversed", lambda: solve_ode(decay, y0(), ts(1, 0)).ys[-1], lambda y: near(y, math.e, 1e-6))
    v("solve_ode/float32", lambda: solve_ode(decay, torch.ones(2), ts().float(), rtol=1e-5, atol=1e-7).ys[-1],
      lambda y: y.dtype == torch.float32 and near(y, exp1, 1e-4))
    v("solve_ode/single_time", lambda: solve_ode(decay, y0(), ts(0.5)).ys, lambda y: near(y, torch.ones(1, 2), 0))
    v("solve_ode/batch_1", lambda: solve_ode(decay, torch.ones(1, 2, dtype=F64), ts()).ys[-1],
      lambda y: y.shape == (1, 2) and near(y, exp1, 1e-6))
    v("solve_ode/rk4_fixed", lambda: solve_ode(decay, y0(), ts(), method="rk4", dt=0.01).ys[-1],
      lambda y: near(y, exp1, 1e-8))
    v("solve_ode/dt_larger_than_span", lambda: solve_ode(decay, y0(), ts(0, 0.1), method="rk4", dt=1.0).ys[-1],
      lambda y: near(y, math.exp(-0.1), 1e-5))
    r.either(A, "solve_ode/empty_state", lambda: solve_ode(decay, torch.zeros(0, dtype=F64), ts()).ys,
             lambda y: tuple(y.shape) == (5, 0), "y0", "empty")
    v("solve_ode/zero_field", lambda: solve_ode(lambda t, y: torch.zeros_like(y), y0(), ts()).ys[-1],
      lambda y: near(y, 1.0, 0))
    v("solve_ode/per_sample", lambda: solve_ode(decay, torch.ones(3, 2, dtype=F64), ts(), per_sample=True).ys[-1],
      lambda y: near(y, exp1, 1e-6))
    v("solve_ode/negative_times", lambda: solve_ode(decay, y0(), ts(-2, -1)).ys[-1], lambda y: near(y, exp1, 1e-6))
    # odeint
    e("odeint/func_not_callable", lambda: odeint(None, y0(), ts()), "func")
    e("odeint/y0_nan", lambda: odeint(decay, torch.tensor([math.nan], dtype=F64), ts()), "y0")
    e("odeint/t_not_monotonic", lambda: odeint(decay, y0(), ts(0, 1, 0.5)), "t", "monoton")
    e("odeint/method_unknown", lambda: odeint(decay, y0(), ts(), method="dopri99"), "method")
    e("odeint/rtol_negative", lambda: odeint(decay, y0(), ts(), rtol=-1.0), "rtol")
    e("odeint/options_not_dict", lambda: odeint(decay, y0(), ts(), options="fast"), "options")
    e("odeint/options_unknown_key", lambda: odeint(decay, y0(), ts(), options={"bogus": 1}), "bogus", "options")
    e("odeint/options_dt_zero", lambda: odeint(decay, y0(), ts(), method="rk4", options={"step_size": 0.0}),
      "step_size", "dt")
    v("odeint/y0_0d", lambda: odeint(decay, torch.tensor(1.0, dtype=F64), ts())[-1], lambda y: near(y, exp1, 1e-6))
    v("odeint/t_reversed", lambda: odeint(decay, y0(), ts(1, 0))[-1], lambda y: near(y, math.e, 1e-6))
    # step_error, initial_step_size
    e("step_error/h_zero", lambda: step_error(decay, 0.0, y0(), 0.0), "h")
    e("step_error/method_unknown", lambda: step_error(decay, 0.0, y0(), 0.1, method="bogus"), "method")
    e("initial_step_size/order_zero", lambda: initial_step_size(decay, 0.0, y0(), 0, 1e-6, 1e-8), "order")
    e("initial_step_size/rtol_negative", lambda: initial_step_size(decay, 0.0, y0(), 4, -1.0, 1e-8), "rtol")
    # controllers
    e("PIController/safety_zero", lambda: PIController(safety=0.0), "safety")
    e("PIController/factors_swapped", lambda: PIController(min_factor=5.0, max_factor=2.0), "factor")
    e("IController/alpha_nan", lambda: IController(alpha=math.nan), "alpha")
    e("IController/min_factor_negative", lambda: IController(min_factor=-0.1), "min_factor")
    # solve_sde / sdeint
    sy0 = lambda: torch.ones(3, 2, dtype=F64)  # noqa: E731
    e("solve_sde/dt_zero", lambda: solve_sde(OU(), sy0(), ts(), dt=0.0), "dt")
    e("solve_sde/dt_negative", lambda: solve_sde(OU(), sy0(), ts(), dt=-0.01), "dt")
    e("solve_sde/dt_nan", lambda: solve_sde(OU(), sy0(), ts(), dt=math.nan), "dt")
    e("solve_sde/dt_tiny_grid", lambda: solve_sde(OU(), sy0(), ts(), dt=1e-10), "dt", "max_steps")
    e("solve_sde/dt_min_zero_adaptive", lambda: solve_sde(OU(), sy0(), ts(), adaptive=True, dt_min=0.0),
      "dt_min")
    e("solve_sde/rtol_negative_adaptive", lambda: solve_sde(OU(), sy0(), ts(), adaptive=True, rtol=-1.0), "rtol")
    e("solve_sde/method_unknown", lambda: solve_sde(OU(), sy0(), ts(), method="bogus"), "method")
    e("solve_sde/y0_1d", lambda: solve_sde(OU(), torch.ones(2, dtype=F64), ts()), "y0")
    e("solve_sde/y0_nan", lambda: solve_sde(OU(), torch.full((3, 2), math.nan, dtype=F64), ts()), "y0")
    e("solve_sde/y0_int", lambda: solve_sde(OU(), torch.ones(3, 2, dtype=torch.long), ts()), "y0")
    e("solve_sde/ts_not_monotonic", lambda: solve_sde(OU(), sy0(), ts(0, 1, 0.5)), "ts", "monoton")
    e("solve_sde/ts_2d", lambda: solve_sde(OU(), sy0(), ts().reshape(1, -1)), "ts")
    e("solve_sde/seed_float", lambda: solve_sde(OU(), sy0(), ts(), seed=1.7), "seed")
    e("solve_sde/seed_negative", lambda: solve_sde(OU(), sy0(), ts(), seed=-1), "seed")
    e("solve_sde/max_steps_zero", lambda: solve_sde(OU(), sy0(), ts(), max_steps=0), "max_steps")
    e("solve_sde/max_steps_hit", lambda: solve_sde(OU(), sy0(), ts(), dt=1e-3, max_steps=10), "max_steps")
    e("solve_sde/sde_without_drift", lambda: solve_sde(NoDrift(), sy0(), ts()), "sde", "f")
    e("solve_sde/noise_type_unknown", lambda: solve_sde(BadNoise(), sy0(), ts()), "noise_type")
    e("solve_sde/adaptive_string", lambda: solve_sde(OU(), sy0(), ts(), adaptive="yes"), "adaptive")
    e("solve_sde/bm_wrong_shape", lambda: solve_sde(OU(), sy0(), ts(), bm=BrownianPath(0.0, 1.0, (5, 7),
                                                                                     dtype=F64, levy_area=True)),
      "bm", "shape")
    e("solve_sde/controller_string", lambda: solve_sde(OU(), sy0(), ts(), adaptive=True, controller="pi"),
      "controller")
    v("solve_sde/single_time", lambda: solve_sde(OU(), sy0(), ts(0.0)).ys, lambda y: near(y, torch.ones(1, 3, 2), 0))
    v("solve_sde/float32", lambda: solve_sde(OU(), torch.ones(3, 2), ts().float(), seed=0).ys, shaped(5, 3, 2))
    v("solve_sde/batch_1", lambda: solve_sde(OU(), torch.ones(1, 2, dtype=F64), ts(), seed=0).ys, shaped(5, 1, 2))
    v("solve_sde/adaptive", lambda: solve_sde(OU(), sy0(), ts(), adaptive=True, seed=0).ys, shaped(5, 3, 2))
    v("solve_sde/mean_decays", lambda: solve_sde(OU(), torch.ones(2000, 1, dtype=F64), ts(0, 1), dt=0.01,
                                                 seed=0).ys[-1].mean(), lambda m: near(m, exp1, 0.05))
    e("sdeint/dt_zero", lambda: sdeint(OU(), sy0(), ts(), dt=0.0), "dt")
    e("sdeint/ts_nan", lambda: sdeint(OU(), sy0(), ts(0, math.nan)), "ts")
    e("sdeint/dt_min_zero_adaptive", lambda: sdeint(OU(), sy0(), ts(), adaptive=True, dt_min=0.0), "dt_min")
    e("sdeint/method_unknown", lambda: sdeint(OU(), sy0(), ts(), method="srk99"), "method")
    v("sdeint/shape", lambda: sdeint(OU(), sy0(), ts()), shaped(5, 3, 2))
    # Brownian paths, fractional noise
    e("BrownianPath/t1_before_t0", lambda: BrownianPath(1.0, 0.0, (2,)), "t0", "t1")
    e("BrownianPath/t0_equals_t1", lambda: BrownianPath(1.0, 1.0, (2,)), "t0", "t1")
    e("BrownianPath/t1_nan", lambda: BrownianPath(0.0, math.nan, (2,)), "t1")
    e("BrownianPath/shape_negative", lambda: BrownianPath(0.0, 1.0, (-2,)), "shape")
    e("BrownianPath/shape_float", lambda: BrownianPath(0.0, 1.0, (2.5,)), "shape")
    e("BrownianPath/seed_float", lambda: BrownianPath(0.0, 1.0, (2,), seed=1.7), "seed")
    e("BrownianPath/tol_negative", lambda: BrownianPath(0.0, 1.0, (2,), tol=-1e-3), "tol")
    e("BrownianPath/dtype_int", lambda: BrownianPath(0.0, 1.0, (2,), dtype=torch.int64), "dtype")
    e("BrownianPath/query_outside", lambda: BrownianPath(0.0, 1.0, (2,), dtype=F64)(0.0, 2.0), "t", "outside",
      "range")
    v("BrownianPath/increment", lambda: BrownianPath(0.0, 1.0, (4,), dtype=F64)(0.0, 1.0), shaped(4))
    v("BrownianPath/zero_increment", lambda: BrownianPath(0.0, 1.0, (4,), dtype=F64)(0.5, 0.5),
      lambda w: near(w, 0.0, 0))
    e("MarkovFBM/hurst_zero", lambda: MarkovFBM(0.0), "hurst")
    e("MarkovFBM/hurst_one", lambda: MarkovFBM(1.0), "hurst")
    e("MarkovFBM/hurst_nan", lambda: MarkovFBM(math.nan), "hurst")
    e("MarkovFBM/hurst_string", lambda: MarkovFBM("0.7"), "hurst")
    e("MarkovFBM/n_processes_zero", lambda: MarkovFBM(0.7, n_processes=0), "n_processes")
    e("MarkovFBM/n_processes_float", lambda: MarkovFBM(0.7, n_processes=2.5), "n_processes")
    e("MarkovFBM/gamma_max_negative", lambda: MarkovFBM(0.7, gamma_max=-1.0), "gamma_max")
    e("MarkovFBM/kind_unknown", lambda: MarkovFBM(0.7, kind="III"), "kind")
    e("MarkovFBM/horizon_zero", lambda: MarkovFBM(0.7, horizon=0.0), "horizon")
    v("MarkovFBM/hurst_half", lambda: MarkovFBM(0.5), lambda m: m is not None)
    e("sample_exact_fbm/n_paths_zero", lambda: sample_exact_fbm(ts(0.1, 0.5, 1), 0, 0.7), "n_paths")
    e("sample_exact_fbm/hurst_zero", lambda: sample_exact_fbm(ts(0.1, 0.5, 1), 4, 0.0), "hurst")
    e("sample_exact_fbm/ts_not_monotonic", lambda: sample_exact_fbm(ts(0.5, 0.1, 1), 4, 0.7), "ts", "monoton")
    e("LinearSDE/not_square", lambda: LinearSDE(torch.ones(2, 3, dtype=F64)), "drift_matrix", "square")
    e("LinearSDE/sigma_negative", lambda: LinearSDE(-torch.eye(2, dtype=F64), sigma=-1.0), "sigma")
    e("LinearSDE/drift_nan", lambda: LinearSDE(torch.full((2, 2), math.nan, dtype=F64)), "drift_matrix", "drift")


def pde_cases(r: Registry) -> None:
    from sciml.pde import (FiniteVolume1D, FiniteVolume2D, SolverStepper, SpectralGrid, burgers_flux,
                           crank_nicolson_rk2, crank_nicolson_rk3, crank_nicolson_rk4, gaussian_random_field,
                           integrate, linear_advection_flux, multigrid_solve, pcg, rollout, solve_elliptic,
                           time_derivative)

    A = "pde"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    e("SpectralGrid/shape_empty", lambda: SpectralGrid(()), "shape")
    e("SpectralGrid/shape_zero", lambda: SpectralGrid((0,)), "shape")
    e("SpectralGrid/shape_negative", lambda: SpectralGrid((-4, 4)), "shape")
    e("SpectralGrid/shape_float", lambda: SpectralGrid((8.5,)), "shape")
    r.either(A, "SpectralGrid/shape_int", lambda: SpectralGrid(8).shape, lambda s: s == (8,), "shape")
    e("SpectralGrid/length_zero", lambda: SpectralGrid((8,), length=0.0), "length")
    e("SpectralGrid/length_negative", lambda: SpectralGrid((8,), length=-1.0), "length")
    e("SpectralGrid/length_nan", lambda: SpectralGrid((8,), length=math.nan), "length")
    e("SpectralGrid/length_wrong_count", lambda: SpectralGrid((8, 8), length=(1.0, 1.0, 1.0)), "length")
    r.either(A, "SpectralGrid/one_point", lambda: SpectralGrid((1,)).coordinates(F64)[0], shaped(1), "shape")
    v("SpectralGrid/coordinates", lambda: SpectralGrid((8,), length=2.0).coordinates(F64)[0],
      lambda x: near(x, torch.arange(8, dtype=F64) / 4, 1e-12))
    e("grf/n_samples_zero", lambda: gaussian_random_field(0, (8, 8)), "n_samples")
    e("grf/n_samples_float", lambda: gaussian_random_field(2.0, (8, 8)), "n_samples")
    e("grf/n_samples_bool", lambda: gaussian_random_field(True, (8, 8)), "n_samples")
    e("grf/shape_zero", lambda: gaussian_random_field(1, (0, 8)), "shape")
    e("grf/shape_empty", lambda: gaussian_random_field(1, ()), "shape")
    e("grf/alpha_nan", lambda: gaussian_random_field(1, (8, 8), alpha=math.nan), "alpha")
    e("grf/alpha_negative", lambda: gaussian_random_field(1, (8, 8), alpha=-1.0), "alpha")
    e("grf/tau_negative", lambda: gaussian_random_field(1, (8, 8), tau=-3.0), "tau")
    e("grf/sigma_negative", lambda: gaussian_random_field(1, (8, 8), sigma=-1.0), "sigma")
    e("grf/boundary_unknown", lambda: gaussian_random_field(1, (8, 8), boundary="bogus"), "boundary")
    e("grf/dtype_int", lambda: gaussian_random_field(1, (8, 8), dtype=torch.int64), "dtype")
    e("grf/generator_string", lambda: gaussian_random_field(1, (8, 8), generator="seed"), "generator")
    v("grf/batch_1", lambda: gaussian_random_field(1, (8, 8)), shaped(1, 8, 8))
    v("grf/float64_1d", lambda: gaussian_random_field(2, (16,), dtype=F64), shaped(2, 16))
    v("grf/3d", lambda: gaussian_random_field(1, (4, 4, 4)), shaped(1, 4, 4, 4))
    v("grf/zero_mean", lambda: gaussian_random_field(3, (8, 8), zero_mean=True, dtype=F64).mean((-1, -2)),
      lambda m: near(m, 0.0, 1e-10))
    a = lambda n=17: torch.ones(1, n, n, dtype=F64)  # noqa: E731
    e("multigrid/a_negative", lambda: multigrid_solve(-a(), a()), "a", "positive")
    e("multigrid/a_nan", lambda: multigrid_solve(a() * math.nan, a()), "a")
    e("multigrid/a_int", lambda: multigrid_solve(torch.ones(1, 17, 17, dtype=torch.long), a()), "a")
    e("multigrid/f_shape_mismatch", lambda: multigrid_solve(a(), a(9)), "f", "shape")
    e("multigrid/f_nan", lambda: multigrid_solve(a(), a() * math.nan), "f")
    e("multigrid/bc_unknown", lambda: multigrid_solve(a(), a(), bc="bogus"), "bc")
    e("multigrid/cycle_unknown", lambda: multigrid_solve(a(), a(), cycle="Q"), "cycle")
    r.either(A, "multigrid/tol_zero", lambda: multigrid_solve(a(), a(), tol=0.0, max_cycles=5).u, finite, "tol")
    e("multigrid/tol_nan", lambda: multigrid_solve(a(), a(), tol=math.nan), "tol")
    e("multigrid/max_cycles_zero", lambda: multigrid_solve(a(), a(), max_cycles=0), "max_cycles")
    e("multigrid/max_cycles_float", lambda: multigrid_solve(a(), a(), max_cycles=2.5), "max_cycles")
    e("multigrid/a_1d", lambda: multigrid_solve(torch.ones(17, dtype=F64), torch.ones(17, dtype=F64)), "a")
    e("multigrid/smoother_unknown", lambda: multigrid_solve(a(), a(), smoother="bogus"), "smoother")
    e("multigrid/omega_zero", lambda: multigrid_solve(a(), a(), omega=0.0), "omega")
    e("multigrid/u0_wrong_shape", lambda: multigrid_solve(a(), a(), u0=a(9)), "u0")
    v("multigrid/constant", lambda: multigrid_solve(a(), a(), tol=1e-10), lambda res: finite(res.u)
      and bool(res.converged.all()))
    v("multigrid/tiny_grid", lambda: multigrid_solve(a(5), a(5), tol=1e-10).u, shaped(1, 5, 5))
    e("pcg/preconditioner_unknown", lambda: pcg(a(), a(), preconditioner="bogus"), "preconditioner")
    e("pcg/max_iter_zero", lambda: pcg(a(), a(), max_iter=0), "max_iter")
    e("pcg/tol_negative", lambda: pcg(a(), a(), tol=-1.0), "tol")
    e("pcg/a_zero", lambda: pcg(torch.zeros(1, 17, 17, dtype=F64), a()), "a", "positive")
    v("pcg/constant", lambda: pcg(a(), a(), tol=1e-10), lambda res: finite(res.u) and bool(res.converged.all()))
    e("solve_elliptic/max_iter_zero", lambda: solve_elliptic(a(), a(), max_iter=0), "max_iter")
    v("solve_elliptic/constant", lambda: solve_elliptic(a(), a()), shaped(1, 17, 17))
    e("FiniteVolume1D/n_zero", lambda: FiniteVolume1D(0), "n")
    e("FiniteVolume1D/n_float", lambda: FiniteVolume1D(20.5), "n")
    e("FiniteVolume1D/length_zero", lambda: FiniteVolume1D(20, length=0.0), "length")
    e("FiniteVolume1D/length_nan", lambda: FiniteVolume1D(20, length=math.nan), "length")
    e("FiniteVolume1D/bc_unknown", lambda: FiniteVolume1D(20, flux=burgers_flux(), bc="bogus"), "bc")
    e("FiniteVolume1D/numerical_flux_unknown", lambda: FiniteVolume1D(20, flux=burgers_flux(), numerical_flux="bogus"), "numerical_flux")
    e("FiniteVolume1D/reconstruction_unknown", lambda: FiniteVolume1D(20, flux=burgers_flux(), reconstruction="bogus"), "reconstruction")
    e("FiniteVolume1D/limiter_unknown", lambda: FiniteVolume1D(20, flux=burgers_flux(), reconstruction="muscl", limiter="bogus"),
      "limiter")
    e("FiniteVolume1D/diffusivity_negative", lambda: FiniteVolume1D(20, diffusivity=-1.0), "diffusivity")
    e("FiniteVolume1D/face_average_unknown", lambda: FiniteVolume1D(20, diffusivity=1.0, face_average="bogus"),
      "face_average")
    e("FiniteVolume1D/flux_not_flux", lambda: FiniteVolume1D(20, flux="burgers"), "flux")
    e("FiniteVolume2D/nx_zero", lambda: FiniteVolume2D(0, 8, flux_x=burgers_flux()), "nx")
    e("FiniteVolume2D/ly_negative", lambda: FiniteVolume2D(8, 8, ly=-1.0, flux_x=burgers_flux()), "ly")
    fv = lambda: FiniteVolume1D(20, flux=linear_advection_flux(1.0))  # noqa: E731
    u = lambda: torch.ones(1, 20, dtype=F64)  # noqa: E731
    e("integrate/u0_wrong_shape", lambda: integrate(fv(), torch.ones(1, 7, dtype=F64), [0.0, 0.1]), "u0", "shape")
    e("integrate/u0_nan", lambda: integrate(fv(), u() * math.nan, [0.0, 0.1]), "u0")
    e("integrate/t_not_monotonic", lambda: integrate(fv(), u(), [0.0, 0.2, 0.1]), "t", "monoton")
    e("integrate/cfl_zero", lambda: integrate(fv(), u(), [0.0, 0.1], cfl=0.0), "cfl")
    e("integrate/cfl_negative", lambda: integrate(fv(), u(), [0.0, 0.1], cfl=-0.4), "cfl")
    e("integrate/cfl_nan", lambda: integrate(fv(), u(), [0.0, 0.1], cfl=math.nan), "cfl")
    e("integrate/dt_negative", lambda: integrate(fv(), u(), [0.0, 0.1], dt=-0.01), "dt")
    e("integrate/dt_tiny", lambda: integrate(fv(), u(), [0.0, 1.0], dt=1e-12), "dt", "steps")
    e("integrate/method_unknown", lambda: integrate(fv(), u(), [0.0, 0.1], method="bogus"), "method")
    e("integrate/scheme_not_scheme", lambda: integrate("fv", u(), [0.0, 0.1]), "scheme")
    v("integrate/constant_state", lambda: integrate(fv(), u(), [0.0, 0.3])[-1], lambda y: near(y, 1.0, 1e-12))
    r.either(A, "integrate/single_time", lambda: integrate(fv(), u(), [0.0]),
             lambda y: near(y, torch.ones(1, 1, 20), 0), "t")
    v("integrate/burgers_finite", lambda: integrate(FiniteVolume1D(32, flux=burgers_flux()),
                                                    torch.sin(torch.linspace(0, 6.28, 32, dtype=F64))[None],
                                                    [0.0, 0.5]), finite)
    step = lambda x: x / 2  # noqa: E731
    e("rollout/step_not_callable", lambda: rollout(3, state(), 2), "step")
    e("rollout/n_steps_negative", lambda: rollout(step, state(), -1), "n_steps")
    e("rollout/n_steps_float", lambda: rollout(step, state(), 1.5), "n_steps")
    e("rollout/save_every_zero", lambda: rollout(step, state(), 2, save_every=0), "save_every")
    e("rollout/not_multiple", lambda: rollout(step, state(), 3, save_every=2), "save_every")
    e("rollout/step_nan", lambda: rollout(lambda x: x * math.nan, state(), 2), "nan", "finite")
    e("rollout/step_wrong_shape", lambda: rollout(lambda x: x[..., :3], state(), 2), "shape")
    e("rollout/u0_not_tensor", lambda: rollout(step, [1.0], 2), "u0")
    v("rollout/zero_steps", lambda: rollout(step, state(), 0), lambda y: near(y, torch.ones(1, 1, 1, 8), 0))
    v("rollout/halving", lambda: rollout(step, state(), 4, save_every=2)[-1], lambda y: near(y, 1 / 16, 1e-15))
    lin = lambda: -torch.arange(4, dtype=F64) ** 2  # noqa: E731
    e("cnrk2/dt_zero", lambda: crank_nicolson_rk2(lin(), lambda u: 0 * u, 0.0), "dt")
    e("cnrk3/dt_nan", lambda: crank_nicolson_rk3(lin(), lambda u: 0 * u, math.nan), "dt")
    e("cnrk4/nonlinear_not_callable", lambda: crank_nicolson_rk4(lin(), 1.0, 0.1), "nonlinear")
    e("cnrk2/linear_not_tensor", lambda: crank_nicolson_rk2("laplacian", lambda u: u, 0.1), "linear")
    e("cnrk2/linear_nan", lambda: crank_nicolson_rk2(lin() * math.nan, lambda u: u, 0.1), "linear")
    e("cnrk3/state_wrong_shape", lambda: crank_nicolson_rk3(lin(), lambda u: 0 * u, 0.1)(torch.ones(2, 5,
                                                                                                    dtype=F64)),
      "shape", "linear")
    v("cnrk2/heat_decays", lambda: crank_nicolson_rk2(lin(), lambda u: 0 * u, 0.1)(torch.ones(1, 4, dtype=F64)),
      lambda y: near(y[0, 0], 1.0, 1e-12) and bool((y[0, 1:].abs() < 1).all()))
    v("cnrk4/float32", lambda: crank_nicolson_rk4(lin().float(), lambda u: -u * u, 0.01)(torch.ones(1, 4)),
      lambda y: y.dtype == torch.float32 and finite(y))
    e("time_derivative/dt_zero", lambda: time_derivative(torch.ones(1, 1, 5, 4, 4), 0.0), "dt")
    e("time_derivative/too_few_frames", lambda: time_derivative(torch.ones(1, 1, 2, 4, 4), 0.1), "frames")
    e("time_derivative/axis_out_of_range", lambda: time_derivative(torch.ones(1, 1, 5, 4, 4), 0.1, axis=7), "axis")
    v("time_derivative/linear_in_time", lambda: time_derivative(
        torch.arange(7, dtype=F64)[None, None, :, None, None].expand(1, 1, 7, 2, 2) * 0.1, 0.1),
      lambda d: near(d, 1.0, 1e-10))
    e("SolverStepper/dt_zero", lambda: SolverStepper(lambda like: step, 0.0), "dt")
    e("SolverStepper/substeps_zero", lambda: SolverStepper(lambda like: step, 0.1, substeps=0), "substeps")
    e("SolverStepper/make_step_not_callable", lambda: SolverStepper(5, 0.1), "make_step")
    e("SolverStepper/state_1d", lambda: SolverStepper(lambda like: step, 0.1)(torch.ones(4)), "states", "solver")


def _problem_small(name: str):
    """A cheap instance of ``problems.PROBLEMS[name]`` for the value cases."""
    from problems import PROBLEMS

    small = {"advection": dict(resolution=17, n_times=5), "burgers": dict(resolution=16, t_end=0.01),
             "burgers_ramp": dict(resolution=17, n_times=5), "convection": dict(resolution=16, n_times=3),
             "darcy": dict(resolution=17), "heat": dict(resolution=17, n_times=5),
             "navier_stokes": dict(resolution=16, t_end=0.02, n_times=2, dt=0.01),
             "ou_population": {}, "porous_medium": dict(resolution=17, n_times=5), "repressilator": {},
             "stefan": dict(resolution=17, n_times=5)}
    return PROBLEMS[name](**small.get(name, {}))


def problem_cases(r: Registry) -> None:
    import inspect

    from problems import PROBLEMS

    A = "problems"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    for pname, cls in sorted(PROBLEMS.items()):
        params = inspect.signature(cls).parameters
        if "resolution" in params:
            for label, bad in (("zero", 0), ("float", 32.5), ("negative", -8), ("string", "64"), ("bool", True)):
                e(f"{pname}/resolution_{label}", lambda cls=cls, bad=bad: cls(resolution=bad), "resolution")
        if "n_times" in params:
            e(f"{pname}/n_times_zero", lambda cls=cls: cls(n_times=0), "n_times")
            e(f"{pname}/n_times_float", lambda cls=cls: cls(n_times=5.5), "n_times")
        if "t_end" in params:
            e(f"{pname}/t_end_negative", lambda cls=cls: cls(t_end=-1.0), "t_end")
        if "dt" in params:
            e(f"{pname}/dt_zero", lambda cls=cls: cls(dt=0.0), "dt")
            e(f"{pname}/dt_nan", lambda cls=cls: cls(dt=math.nan), "dt")
        if "param_range" in params:
            e(f"{pname}/param_range_reversed", lambda cls=cls: cls(param_range=(2.0, 1.0)), "param_range")
        e(f"{pname}/sample_inputs_negative", lambda p=pname: _problem_small(p).sample_inputs(-1), "n")
        r.either(A, f"{pname}/sample_inputs_zero", lambda p=pname: _problem_small(p).sample_inputs(0),
                 lambda x: isinstance(x, torch.Tensor) and x.shape[0] == 0, "n")
        e(f"{pname}/sample_inputs_float", lambda p=pname: _problem_small(p).sample_inputs(2.0), "n")
        e(f"{pname}/sample_inputs_generator_int", lambda p=pname: _problem_small(p).sample_inputs(1, generator=3),
          "generator")
        e(f"{pname}/solve_extra_axis", lambda p=pname: (lambda pr: pr.solve(pr.sample_inputs(1)[None]))(
            _problem_small(p)), "inputs", "shape")
        e(f"{pname}/solve_nan", lambda p=pname: (lambda pr: pr.solve(pr.sample_inputs(1) * math.nan))(
            _problem_small(p)), "inputs", "nan", "finite")
        e(f"{pname}/solve_not_tensor", lambda p=pname: _problem_small(p).solve("inputs.h5"), "inputs")
        r.value(A, f"{pname}/solve_batch_1", lambda p=pname: (lambda pr: pr.solve(pr.sample_inputs(1)))(
            _problem_small(p)), lambda y: isinstance(y, torch.Tensor) and y.shape[0] == 1 and finite(y))
    e("darcy/solve_int_tensor", lambda: _problem_small("darcy").solve(torch.ones(1, 17, 17, dtype=torch.long)),
      "inputs", "dtype", "float")
    e("darcy/high_below_low", lambda: PROBLEMS["darcy"](high=1.0, low=3.0), "high", "low")
    e("darcy/tol_zero", lambda: PROBLEMS["darcy"](tol=0.0), "tol")
    e("darcy/max_iter_zero", lambda: PROBLEMS["darcy"](max_iter=0), "max_iter")
    e("darcy/interpolation_unknown", lambda: PROBLEMS["darcy"](interpolation="bogus"), "interpolation")
    e("burgers/nu_zero", lambda: PROBLEMS["burgers"](nu=0.0), "nu")
    e("burgers/nu_negative", lambda: PROBLEMS["burgers"](nu=-0.1), "nu")
    e("convection/beta_nan", lambda: PROBLEMS["convection"](beta=math.nan), "beta")
    e("navier_stokes/viscosity_negative", lambda: PROBLEMS["navier_stokes"](viscosity=-1e-3), "viscosity")
    e("navier_stokes/forcing_unknown", lambda: PROBLEMS["navier_stokes"](forcing="bogus"), "forcing")
    e("navier_stokes/stepper_unknown", lambda: PROBLEMS["navier_stokes"](stepper="bogus"), "stepper")
    e("navier_stokes/solver_resolution_lower", lambda: PROBLEMS["navier_stokes"](resolution=64, solver_resolution=32),
      "solver_resolution")
    e("ou_population/sigma_negative", lambda: PROBLEMS["ou_population"](sigma=-0.3), "sigma")
    e("ou_population/drift_not_square", lambda: PROBLEMS["ou_population"](drift_matrix=((1.0, 2.0, 3.0),)),
      "drift_matrix")
    e("ou_population/times_not_monotonic", lambda: PROBLEMS["ou_population"](times=(0, 2, 1)), "times")
    e("ou_population/initial_std_negative", lambda: PROBLEMS["ou_population"](initial_std=-1.0), "initial_std")
    e("repressilator/hill_zero", lambda: PROBLEMS["repressilator"](hill=0.0), "hill")
    e("repressilator/noise_negative", lambda: PROBLEMS["repressilator"](noise=-0.1), "noise")
    e("advection/reconstruction_unknown", lambda: PROBLEMS["advection"](reconstruction="bogus"), "reconstruction")
    gen = lambda **kw: _problem_small("heat").generate(path="g.h5", progress=False, **kw)  # noqa: E731
    e("generate/seed_float", lambda: gen(n=2, seed=1.7), "seed")
    e("generate/seed_negative", lambda: gen(n=2, seed=-1), "seed")
    e("generate/seed_string", lambda: gen(n=2, seed="1"), "seed")
    e("generate/n_zero", lambda: gen(n=0), "n")
    e("generate/n_float", lambda: gen(n=2.0), "n")
    e("generate/chunk_size_zero", lambda: gen(n=2, chunk_size=0), "chunk_size")
    e("generate/path_is_directory", lambda: (os.mkdir("g.h5"), gen(n=2)), "path", "g.h5",
      types=(ValueError, TypeError, OSError))
    r.value(A, "generate/n_1", lambda: gen(n=1), lambda p: Path(p).exists())
    r.value(A, "generate/resume_same_file", lambda: (gen(n=2), gen(n=2))[1], lambda p: Path(p).exists())


def data_cases(r: Registry) -> None:
    from sciml.data import (FieldDataset, GaussianNormalizer, NormalizedModel, TensorFieldDataset, load_pt_dataset,
                            random_split, subsample, write_fields)

    A = "data"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    x = lambda *s: torch.randn(*(s or (4, 8, 8)))  # noqa: E731
    io_errors = (ValueError, TypeError, OSError)
    e("TensorFieldDataset/length_mismatch", lambda: TensorFieldDataset(x(4, 8, 8), x(3, 8, 8)), "x", "y", "length")
    e("TensorFieldDataset/x_not_tensor", lambda: TensorFieldDataset([[1.0]], x()), "x")
    e("TensorFieldDataset/spatial_negative", lambda: TensorFieldDataset(x(), x(), spatial=-1), "spatial")
    e("TensorFieldDataset/spatial_float", lambda: TensorFieldDataset(x(), x(), spatial=1.5), "spatial")
    e("TensorFieldDataset/spatial_too_large", lambda: TensorFieldDataset(x(), x(), spatial=5), "spatial")
    e("TensorFieldDataset/x_nan", lambda: TensorFieldDataset(x() * math.nan, x()), "x", "nan", "finite")
    v("TensorFieldDataset/existing_channel_axis", lambda: TensorFieldDataset(x(4, 1, 8, 8), x(4, 1, 8, 8),
                                                                             spatial=2)[0]["x"], shaped(1, 8, 8))
    r.either(A, "TensorFieldDataset/channel_axis_inferred", lambda: TensorFieldDataset(x(4, 1, 8, 8),
                                                                                  x(4, 1, 8, 8))[0]["x"],
             shaped(1, 8, 8), "spatial", "channel")
    v("TensorFieldDataset/batch_1", lambda: len(TensorFieldDataset(x(1, 8, 8), x(1, 8, 8))), lambda n: n == 1)
    e("FieldDataset/missing_file", lambda: FieldDataset("missing.h5"), "missing.h5", types=io_errors)
    e("FieldDataset/text_file", lambda: (Path("t.h5").write_text("hello"), FieldDataset("t.h5"))[1], "t.h5",
      types=io_errors)
    e("FieldDataset/truncated_file", lambda: (h5(), Path("d.h5").write_bytes(Path("d.h5").read_bytes()[:600]),
                                              FieldDataset("d.h5"))[2], "d.h5", types=io_errors)
    e("FieldDataset/subsample_zero", lambda: FieldDataset(h5(), subsample=0), "subsample")
    e("FieldDataset/subsample_float", lambda: FieldDataset(h5(), subsample=1.5), "subsample")
    e("FieldDataset/indices_out_of_range", lambda: FieldDataset(h5(), indices=[0, 99]), "indices", types=(ValueError, TypeError, IndexError))
    e("FieldDataset/indices_negative", lambda: FieldDataset(h5(), indices=[-100]), "indices", types=(ValueError, TypeError, IndexError))
    e("FieldDataset/time_index_no_time_axis", lambda: FieldDataset(h5(), time_index=50), "time_index")
    e("FieldDataset/input_key_missing", lambda: FieldDataset(h5(), input_key="bogus"), "bogus", "input_key",
      types=(ValueError, TypeError, KeyError))
    e("FieldDataset/step_lag_zero", lambda: FieldDataset(h5(), step_lag=0), "step_lag")
    e("FieldDataset/spatial_too_large", lambda: FieldDataset(h5(), spatial=4), "spatial")
    v("FieldDataset/item", lambda: FieldDataset(h5(), in_memory=True)[0]["x"], shaped(1, 9, 9))
    r.either(A, "FieldDataset/no_grid_group", lambda: FieldDataset(h5(grid=False))[0]["x"], shaped(1, 9, 9),
             "spatial", "grid")
    v("FieldDataset/length", lambda: len(FieldDataset(h5(), indices=[1, 2])), lambda n: n == 2)
    e("write_fields/length_mismatch", lambda: write_fields("w.h5", x(4, 8, 8), x(3, 8, 8)), "inputs", "outputs")
    e("write_fields/inputs_not_tensor", lambda: write_fields("w.h5", "data", x()), "inputs")
    e("write_fields/inputs_nan", lambda: write_fields("w.h5", x() * math.nan, x()), "inputs", "nan", "finite")
    e("load_pt_dataset/missing", lambda: load_pt_dataset("missing.pt"), "missing.pt", types=io_errors)
    e("load_pt_dataset/text_file", lambda: (Path("t.pt").write_text("x"), load_pt_dataset("t.pt"))[1], "t.pt",
      types=io_errors)
    e("GaussianNormalizer/eps_negative", lambda: GaussianNormalizer(eps=-1.0), "eps")
    e("GaussianNormalizer/eps_nan", lambda: GaussianNormalizer(eps=math.nan), "eps")
    e("GaussianNormalizer/pointwise_string", lambda: GaussianNormalizer(pointwise="yes"), "pointwise")
    e("GaussianNormalizer/fit_empty", lambda: GaussianNormalizer().fit(torch.zeros(0, 1, 4)), "data", "empty",
      "sample")
    e("GaussianNormalizer/fit_nan", lambda: GaussianNormalizer().fit(x() * math.nan), "data", "nan", "finite")
    e("GaussianNormalizer/encode_before_fit", lambda: GaussianNormalizer().encode(x()), "fit",
      types=(ValueError, TypeError, RuntimeError))
    e("GaussianNormalizer/encode_wrong_shape", lambda: GaussianNormalizer().fit(x(4, 1, 8, 8)).encode(x(2, 1, 5, 5)),
      "shape", "cannot apply")
    v("GaussianNormalizer/constant_data", lambda: GaussianNormalizer().fit(torch.ones(4, 1, 8)).encode(torch.ones(2, 1, 8)),
      finite)
    v("GaussianNormalizer/round_trip", lambda: (lambda n, d: (n.decode(n.encode(d)) - d).abs().max())(
        GaussianNormalizer().fit(torch.randn(16, 1, 8)), torch.randn(3, 1, 8)), lambda m: float(m) < 1e-5)
    e("NormalizedModel/model_not_module", lambda: NormalizedModel(lambda z: z), "model")
    e("random_split/lengths_too_long", lambda: random_split(tiny_data(8), [6, 6]), "lengths", "split sizes")
    e("random_split/fractions_over_one", lambda: random_split(tiny_data(8), [0.8, 0.5]), "lengths", "fractions")
    e("random_split/negative_length", lambda: random_split(tiny_data(8), [10, -2]), "lengths")
    e("random_split/seed_float", lambda: random_split(tiny_data(8), [4, 4], seed=1.5), "seed")
    v("random_split/fractions", lambda: [len(s) for s in random_split(tiny_data(10), [0.7, 0.3])],
      lambda n: sorted(n) == [3, 7])
    e("subsample/factor_zero", lambda: subsample(x(), 0, 2), "factor")
    e("subsample/n_spatial_too_large", lambda: subsample(x(), 2, 5), "n_spatial")
    v("subsample/factor_2", lambda: subsample(x(1, 8, 8), 2, 2), shaped(1, 4, 4))


def model_cases(r: Registry) -> None:
    from sciml.conserve import AttentiveNP, ConservationConstraint, trapezoid_weights
    from sciml.generative import Interpolant, VelocityField
    from sciml.nde import FractionalSDE, LatentODE, LatentSDE, NeuralODE, NeuralSDE
    from sciml.nn import MLP, mlp
    from sciml.operators import build_model, fno
    from sciml.operators import MODELS
    from sciml.pinn import EulerianPINN, FourierFeatures, LagrangianPINN, PINNNet

    A = "models"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    bad_model_args = {
        "fno": [("n_modes", (0, 0)), ("n_modes", ()), ("n_modes", (8.5, 8)), ("in_channels", 0),
                ("out_channels", -1), ("hidden_channels", 0), ("n_layers", 0), ("lifting_channel_ratio", 0.0),
                ("positional_embedding", "bogus"), ("norm", "bogus"), ("factorization", "bogus"),
                ("domain_padding", -0.5), ("rank", 0.0)],
        "lsm": [("in_channels", 0), ("width", 0), ("patch", 0), ("num_basis", 0), ("num_token", 0), ("ndim", 4),
                ("padding", (-1, -1))],
        "mgno": [("channels", 0), ("n_layers", 0), ("in_channels", 0), ("padding_mode", "bogus"),
                 ("activation", "bogus"), ("num_iteration", ()), ("grid_size", 0)],
        "sfno": [("modes", (0, 0, 0)), ("width", 0), ("channels", 0), ("n_layers", 0), ("latent_steps", 0),
                 ("activation", "bogus"), ("beta", math.nan), ("expansion", 0), ("pe_dt", 0.0)],
    }
    for model, cases in bad_model_args.items():
        for arg, bad in cases:
            label = f"{model}/{arg}_{'empty' if bad == () else str(bad).replace(' ', '')}"
            e(label, lambda model=model, arg=arg, bad=bad: MODELS[model](**{arg: bad}), arg)
    small = lambda: fno(n_modes=(3, 3), hidden_channels=4, n_layers=1)  # noqa: E731
    e("fno/forward_wrong_channels", lambda: small()(torch.randn(1, 3, 8, 8)), "channel", "expects")
    e("fno/forward_float64", lambda: small()(torch.randn(1, 1, 8, 8, dtype=F64)), "dtype", "float64")
    e("fno/forward_wrong_rank", lambda: small()(torch.randn(1, 8, 8)), "shape", "dimension")
    v("fno/batch_1", lambda: small()(torch.randn(1, 1, 8, 8)), shaped(1, 1, 8, 8))
    r.either(A, "fno/batch_0", lambda: small()(torch.randn(0, 1, 8, 8)), shaped(0, 1, 8, 8), "batch")
    v("fno/odd_size", lambda: small()(torch.randn(2, 1, 7, 9)), shaped(2, 1, 7, 9))
    e("lsm/forward_wrong_channels", lambda: MODELS["lsm"](width=8, patch=2, num_basis=4, num_token=2)(
        torch.randn(1, 3, 16, 16)), "channel", "expects")
    e("mgno/forward_wrong_channels", lambda: MODELS["mgno"](channels=4, n_layers=1)(torch.randn(1, 3, 17, 17)),
      "channel", "expects")
    v("mgno/batch_1", lambda: MODELS["mgno"](channels=4, n_layers=1)(torch.randn(1, 1, 17, 17)), shaped(1, 1, 17, 17))
    e("build_model/unknown_name", lambda: build_model({"name": "bogus"}), "bogus", "model")
    e("build_model/unknown_argument", lambda: build_model({"name": "fno", "bogus": 1}), "bogus")
    e("build_model/not_a_dict", lambda: build_model("fno"), "spec")
    e("MLP/in_dim_zero", lambda: MLP(0, 1), "in_dim")
    e("MLP/out_dim_float", lambda: MLP(2, 1.5), "out_dim")
    e("MLP/width_zero", lambda: MLP(2, 1, width=0), "width")
    e("MLP/depth_zero", lambda: MLP(2, 1, depth=0), "depth")
    e("MLP/activation_unknown", lambda: MLP(2, 1, activation="bogus"), "activation")
    e("mlp/one_size", lambda: mlp([3]), "sizes")
    e("mlp/zero_size", lambda: mlp([3, 0]), "sizes")
    e("MLP/forward_wrong_width", lambda: MLP(2, 1, width=4, depth=1)(torch.randn(5, 3)), "in_dim", "shape", "2")
    v("MLP/batch_1", lambda: MLP(2, 1, width=4, depth=1)(torch.randn(1, 2)), shaped(1, 1))
    e("PINNNet/in_dim_zero", lambda: PINNNet(0), "in_dim")
    e("PINNNet/width_zero", lambda: PINNNet(2, width=0), "width")
    e("PINNNet/activation_unknown", lambda: PINNNet(2, activation="bogus"), "activation")
    e("PINNNet/embedding_not_module", lambda: PINNNet(2, embedding="fourier"), "embedding")
    e("FourierFeatures/n_features_zero", lambda: FourierFeatures(2, n_features=0), "n_features")
    e("FourierFeatures/scale_negative", lambda: FourierFeatures(2, scale=-1.0), "scale")
    e("FourierFeatures/seed_float", lambda: FourierFeatures(2, seed=1.5), "seed")
    e("EulerianPINN/residual_not_callable", lambda: EulerianPINN(None), "residual")
    e("EulerianPINN/length_zero", lambda: EulerianPINN(lambda *a: 0, length=0.0), "length")
    e("EulerianPINN/hard_initial_without_u0", lambda: EulerianPINN(lambda *a: 0, hard_initial=True), "u0")
    e("LagrangianPINN/speed_unknown", lambda: LagrangianPINN(speed="bogus"), "speed")
    e("LagrangianPINN/nu_negative", lambda: LagrangianPINN(nu=-1.0), "nu")
    e("LagrangianPINN/diffusion_unknown", lambda: LagrangianPINN(diffusion="bogus"), "diffusion")
    v("PINNNet/batch_1", lambda: PINNNet(2, width=8, depth=2)(torch.randn(1, 2)), shaped(1, 1))
    field = lambda: torch.nn.Linear(2, 2)  # noqa: E731
    e("NeuralODE/func_not_module", lambda: NeuralODE(lambda t, y: y), "func")
    e("NeuralODE/method_unknown", lambda: NeuralODE(field(), method="bogus"), "method")
    e("NeuralODE/rtol_negative", lambda: NeuralODE(field(), rtol=-1.0), "rtol")
    e("NeuralODE/regularize_unknown", lambda: NeuralODE(field(), regularize="bogus"), "regularize")
    e("NeuralODE/seed_float", lambda: NeuralODE(field(), seed=1.5), "seed")
    e("NeuralSDE/noise_type_unknown", lambda: NeuralSDE(field(), field(), noise_type="bogus"), "noise_type")
    e("NeuralSDE/sde_type_unknown", lambda: NeuralSDE(field(), field(), sde_type="bogus"), "sde_type")
    e("NeuralSDE/method_unknown", lambda: NeuralSDE(field(), field(), method="bogus"), "method")
    e("NeuralSDE/method_for_other_type", lambda: NeuralSDE(field(), field(), method="heun"), "method")
    e("NeuralSDE/dt_zero", lambda: NeuralSDE(field(), field(), dt=0.0), "dt")
    e("NeuralSDE/max_steps_zero", lambda: NeuralSDE(field(), field(), max_steps=0), "max_steps")
    e("LatentODE/obs_dim_zero", lambda: LatentODE(0), "obs_dim")
    e("LatentODE/latent_dim_zero", lambda: LatentODE(2, latent_dim=0), "latent_dim")
    e("LatentODE/obs_std_zero", lambda: LatentODE(2, obs_std=0.0), "obs_std")
    e("LatentSDE/diffusion_scale_negative", lambda: LatentSDE(2, diffusion_scale=-1.0), "diffusion_scale")
    e("LatentSDE/hidden_zero", lambda: LatentSDE(2, hidden=0), "hidden")
    e("FractionalSDE/hurst_zero", lambda: FractionalSDE(field(), field(), hurst=0.0), "hurst")
    e("FractionalSDE/hurst_one", lambda: FractionalSDE(field(), field(), hurst=1.0), "hurst")
    e("FractionalSDE/kind_unknown", lambda: FractionalSDE(field(), field(), kind="III"), "kind")
    e("FractionalSDE/n_processes_zero", lambda: FractionalSDE(field(), field(), n_processes=0), "n_processes")
    e("Interpolant/family_unknown", lambda: Interpolant("cubic"), "family")
    e("Interpolant/gamma_unknown", lambda: Interpolant("linear", "cosine"), "gamma")
    e("Interpolant/a_zero", lambda: Interpolant(a=0.0), "a")
    e("Interpolant/a_nan", lambda: Interpolant(a=math.nan), "a")
    e("Interpolant/a_inf", lambda: Interpolant(a=math.inf), "a")
    e("Interpolant/t_outside", lambda: Interpolant().coefficients(torch.tensor([1.5])), "t")
    e("Interpolant/t_negative", lambda: Interpolant().coefficients(torch.tensor([-0.5])), "t")
    e("Interpolant/t_nan", lambda: Interpolant().coefficients(torch.tensor([math.nan])), "t")
    e("Interpolant/sample_shape_mismatch", lambda: Interpolant().sample(torch.rand(4, 1), torch.randn(4, 2),
                                                                        torch.randn(3, 2)), "x0", "x1", "shape")
    v("Interpolant/endpoints", lambda: Interpolant("linear", "zero").sample(torch.zeros(2), torch.zeros(2, 3),
                                                                           torch.ones(2, 3)),
      lambda x: near(x if isinstance(x, torch.Tensor) else x[0], 0.0, 1e-12))
    e("VelocityField/dim_zero", lambda: VelocityField(0), "dim")
    e("VelocityField/width_zero", lambda: VelocityField(2, width=0), "width")
    e("VelocityField/activation_unknown", lambda: VelocityField(2, activation="bogus"), "activation")
    e("AttentiveNP/dim_x_zero", lambda: AttentiveNP(dim_x=0), "dim_x")
    e("AttentiveNP/hidden_zero", lambda: AttentiveNP(hidden=0), "hidden")
    e("AttentiveNP/heads_zero", lambda: AttentiveNP(heads=0), "heads")
    e("AttentiveNP/heads_not_dividing", lambda: AttentiveNP(hidden=30, heads=4), "heads")
    e("AttentiveNP/dropout_above_one", lambda: AttentiveNP(dropout=1.5), "dropout")
    e("AttentiveNP/dropout_negative", lambda: AttentiveNP(dropout=-0.1), "dropout")
    e("AttentiveNP/forward_wrong_dim_x", lambda: AttentiveNP(hidden=8, latent=8, heads=2)(
        torch.randn(1, 5, 3), torch.randn(1, 5, 1), torch.randn(1, 4, 3)), "dim_x", "x", "shape")
    v("AttentiveNP/one_context_point", lambda: AttentiveNP(hidden=8, latent=8, heads=2, dropout=0.0).eval()(
        torch.randn(1, 1, 2), torch.randn(1, 1, 1), torch.randn(1, 4, 2)), finite)
    mass = lambda t: torch.ones_like(t)  # noqa: E731
    e("trapezoid_weights/nan_node", lambda: trapezoid_weights(torch.tensor([0.0, math.nan, 1.0], dtype=F64)),
      "nodes", "nan", "finite")
    v("trapezoid_weights/uniform", lambda: trapezoid_weights(torch.linspace(0, 1, 5, dtype=F64)),
      lambda w: near(w, torch.tensor([0.125, 0.25, 0.25, 0.25, 0.125], dtype=F64), 1e-12))
    e("ConservationConstraint/mass_not_callable", lambda: ConservationConstraint(1.0), "mass")
    e("ConservationConstraint/dims_three", lambda: ConservationConstraint(mass, dims=3), "dims")
    e("ConservationConstraint/dims_float", lambda: ConservationConstraint(mass, dims=1.0), "dims")
    e("ConservationConstraint/nodes_not_monotonic", lambda: ConservationConstraint(mass).matrix(
        torch.tensor([0.0, 2.0, 1.0])), "nodes", "increasing", "monoton")
    e("ConservationConstraint/apply_shape_mismatch", lambda: ConservationConstraint(mass).apply(
        torch.zeros(1, 2, 5, dtype=F64), torch.ones(1, 2, 4, dtype=F64), ts(0, 1), torch.linspace(0, 1, 5,
                                                                                                   dtype=F64)),
      "cov", "shape", "mean")
    v("ConservationConstraint/exact_after_update", lambda: (lambda c, x: c.error(
        c.apply(torch.zeros(1, 2, 5, dtype=F64), torch.ones(1, 2, 5, dtype=F64), ts(0, 1), x)[0], ts(0, 1), x))(
        ConservationConstraint(mass), torch.linspace(0, 1, 5, dtype=F64)), lambda err: near(err, 0.0, 1e-10))


def loss_cases(r: Registry) -> None:
    from sciml.train import H1Loss, HsLoss, LpLoss

    A = "losses"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    u = lambda *s: torch.randn(*(s or (2, 1, 8, 8)))  # noqa: E731
    e("LpLoss/p_zero", lambda: LpLoss(p=0), "p")
    e("LpLoss/p_negative", lambda: LpLoss(p=-2), "p")
    e("LpLoss/p_nan", lambda: LpLoss(p=math.nan), "p")
    e("LpLoss/d_zero", lambda: LpLoss(d=0), "d")
    e("LpLoss/d_float", lambda: LpLoss(d=1.5), "d")
    e("LpLoss/reduction_unknown", lambda: LpLoss(reduction="median"), "reduction")
    e("LpLoss/eps_negative", lambda: LpLoss(eps=-1.0), "eps")
    e("LpLoss/lengths_negative", lambda: LpLoss(lengths=-1.0), "lengths")
    e("LpLoss/relative_string", lambda: LpLoss(relative="yes"), "relative")
    e("LpLoss/shape_mismatch", lambda: LpLoss()(u(2, 1, 8, 8), u(2, 1, 4, 4)), "shape")
    e("LpLoss/batch_mismatch", lambda: LpLoss()(u(2, 1, 8, 8), u(3, 1, 8, 8)), "shape", "batch")
    e("LpLoss/d_too_large", lambda: LpLoss(d=4)(u(), u()), "d")
    r.either(A, "LpLoss/relative_zero_target", lambda: LpLoss()(u(), torch.zeros(2, 1, 8, 8)),
             lambda x: finite(x) and float(x) < 1e3, "zero", "target", "relative")
    v("LpLoss/identical", lambda: (lambda a: LpLoss()(a, a))(u()), lambda x: float(x) == 0.0)
    v("LpLoss/batch_1", lambda: LpLoss(reduction="mean")(u(1, 1, 8, 8), u(1, 1, 8, 8)), finite)
    v("LpLoss/scaled", lambda: (lambda a: LpLoss(reduction="mean")(2 * a, a))(u()), lambda x: near(x, 1.0, 1e-5))
    e("H1Loss/method_unknown", lambda: H1Loss(method="bogus"), "method")
    e("H1Loss/reduction_unknown", lambda: H1Loss(reduction="bogus"), "reduction")
    e("H1Loss/shape_mismatch", lambda: H1Loss()(u(2, 1, 8, 8), u(2, 1, 8, 4)), "shape")
    v("H1Loss/identical", lambda: (lambda a: H1Loss()(a, a))(u()), lambda x: float(x) == 0.0)
    e("HsLoss/s_nan", lambda: HsLoss(s=math.nan), "s")
    e("HsLoss/shift_negative", lambda: HsLoss(shift=-1.0), "shift")
    e("HsLoss/wavenumber_cutoff_zero", lambda: HsLoss(wavenumber_cutoff=0), "wavenumber_cutoff")
    e("HsLoss/reduction_unknown", lambda: HsLoss(reduction="bogus"), "reduction")
    v("HsLoss/identical", lambda: (lambda a: HsLoss()(a, a))(u()), lambda x: float(x) == 0.0)


def trainer_cases(r: Registry) -> None:
    from torch.utils.data import TensorDataset

    from sciml.train import LBFGS, load_checkpoint, minimize, save_checkpoint

    A = "trainer"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    for arg, bad in (("max_epochs", 0), ("max_epochs", 1.5), ("batch_size", 0), ("batch_size", True),
                     ("seed", 1.5), ("seed", -1), ("grad_clip", 0.0), ("grad_clip", -1.0), ("grad_clip", math.nan),
                     ("early_stopping", 0), ("eval_every", 0), ("mode", "maximum"), ("scheduler_interval", "week"),
                     ("metric_reduction", "median"), ("save_every", 0), ("save_every_steps", 0),
                     ("num_workers", -1), ("eval_batch_size", 0), ("shuffle", "yes"), ("progress", "no"),
                     ("mixed_precision", "yes"), ("optimizer", "adam"), ("eval_sets", [1, 2]),
                     ("metrics", ["l2"])):
        e(f"Trainer/{arg}_{bad!r}".replace(" ", ""), lambda arg=arg, bad=bad: trainer(**{arg: bad}), arg)
    e("Trainer/model_not_module", lambda: trainer(model=lambda x: x), "model")
    e("Trainer/no_loss_no_objective", lambda: trainer(loss=None), "loss", "objective")
    e("Trainer/loss_not_callable", lambda: trainer(loss="l2"), "loss")
    e("Trainer/monitor_without_eval_sets", lambda: trainer(monitor="val/l2"), "monitor")
    e("Trainer/fit_empty_dataset", lambda: trainer().fit(TensorDataset(torch.zeros(0, 1, 8), torch.zeros(0, 1, 8))),
      "empty", "train_set", "dataset")
    e("Trainer/fit_not_dataset", lambda: trainer().fit([1, 2, 3]), "train_set", "dataset")
    e("Trainer/fit_resume_missing", lambda: trainer().fit(tiny_data(), resume="missing.pt"), "missing.pt", "resume",
      types=(ValueError, TypeError, OSError))
    e("Trainer/fit_nan_data", lambda: trainer().fit(TensorDataset(torch.full((4, 1, 8), math.nan),
                                                                  torch.zeros(4, 1, 8))), "nan", "finite", "loss",
      types=(ValueError, TypeError, FloatingPointError))
    r.value(A, "Trainer/batch_1_one_epoch", lambda: trainer(batch_size=1).fit(tiny_data(1)),
            lambda h: len(h) == 1 and math.isfinite(h[-1]["train/loss"]))
    r.value(A, "Trainer/batch_larger_than_data", lambda: trainer(batch_size=64).fit(tiny_data(3)),
            lambda h: len(h) == 1 and math.isfinite(h[-1]["train/loss"]))
    ck_errors = (ValueError, TypeError, OSError)
    e("load_checkpoint/missing", lambda: load_checkpoint("missing.pt"), "missing.pt", types=ck_errors)
    e("load_checkpoint/text_file", lambda: (Path("c.pt").write_text("not a checkpoint"), load_checkpoint("c.pt"))[1],
      "c.pt", types=ck_errors)
    e("load_checkpoint/flipped_byte", lambda: (save_checkpoint("c.pt", {"model": {"w": torch.arange(64.0)}}),
                                               _flip_byte("c.pt"), load_checkpoint("c.pt"))[2], "c.pt",
      "hash", "corrupt", types=ck_errors)
    e("load_checkpoint/truncated", lambda: (save_checkpoint("c.pt", {"model": {"w": torch.arange(64.0)}}),
                                            Path("c.pt").write_bytes(Path("c.pt").read_bytes()[:100]),
                                            load_checkpoint("c.pt"))[2], "c.pt", types=ck_errors)
    e("save_checkpoint/state_not_dict", lambda: save_checkpoint("c.pt", [1, 2]), "state")
    w = lambda: [torch.nn.Parameter(torch.ones(2))]  # noqa: E731
    obj = lambda p: lambda: (p[0] ** 2).sum()  # noqa: E731
    e("minimize/steps_zero", lambda: (lambda p: minimize(obj(p), p, steps=0))(w()), "steps")
    e("minimize/lr_zero", lambda: (lambda p: minimize(obj(p), p, lr=0.0))(w()), "lr")
    e("minimize/lr_nan", lambda: (lambda p: minimize(obj(p), p, lr=math.nan))(w()), "lr")
    e("minimize/method_unknown", lambda: (lambda p: minimize(obj(p), p, method="sgd99"))(w()), "method")
    e("minimize/objective_not_callable", lambda: minimize(3.0, w()), "objective")
    e("minimize/no_params", lambda: minimize(lambda: torch.tensor(0.0), []), "params")
    r.value(A, "minimize/objective_nan", lambda: (lambda p: minimize(lambda: p[0].sum() * math.nan, p, steps=5))(
        w()), lambda m: m.stop_reason == "non_finite" and m.iterations == 0)  # a documented stop reason, no step
    r.value(A, "minimize/lbfgs_quadratic", lambda: (lambda p: (minimize(obj(p), p, method="lbfgs", steps=20),
                                                               p[0].detach())[1])(w()), lambda x: near(x, 0.0, 1e-4))
    e("LBFGS/lr_negative", lambda: LBFGS(w(), lr=-1.0), "lr")
    e("LBFGS/history_size_zero", lambda: LBFGS(w(), history_size=0), "history_size")
    e("LBFGS/line_search_unknown", lambda: LBFGS(w(), line_search_fn="bogus"), "line_search")
    e("LBFGS/max_iter_zero", lambda: LBFGS(w(), max_iter=0), "max_iter")


def _flip_byte(path: str) -> None:
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def sim_cases(r: Registry) -> None:
    from sciml.sim import (LearnedStepper, ResampledStepper, Simulation, grid_observation, invert, parareal,
                           relative_error)

    A = "sim"
    e = lambda name, call, *names, **kw: r.error(A, name, call, *names, **kw)  # noqa: E731
    v = lambda name, call, check, **kw: r.value(A, name, call, check, **kw)  # noqa: E731
    conv = lambda: torch.nn.Conv1d(1, 1, 1).double()  # noqa: E731
    e("LearnedStepper/model_not_module", lambda: LearnedStepper(lambda u: u, 0.1), "model")
    e("LearnedStepper/dt_zero", lambda: LearnedStepper(conv(), 0.0), "dt")
    e("LearnedStepper/dt_nan", lambda: LearnedStepper(conv(), math.nan), "dt")
    e("LearnedStepper/residual_string", lambda: LearnedStepper(conv(), 0.1, residual="yes"), "residual")
    e("Simulation/stepper_not_stepper", lambda: Simulation(lambda u: u), "stepper")
    e("Simulation/blowup_factor_zero", lambda: Simulation(Halve(), blowup_factor=0.0), "blowup_factor")
    e("Simulation/blowup_factor_nan", lambda: Simulation(Halve(), blowup_factor=math.nan), "blowup_factor")
    e("Simulation/diagnostics_not_dict", lambda: Simulation(Halve(), diagnostics=[len]), "diagnostics")
    e("Simulation/run_n_steps_negative", lambda: Simulation(Halve()).run(state(), -1), "n_steps")
    e("Simulation/run_n_steps_float", lambda: Simulation(Halve()).run(state(), 2.5), "n_steps")
    e("Simulation/run_save_every_zero", lambda: Simulation(Halve()).run(state(), 2, save_every=0), "save_every")
    e("Simulation/run_u0_1d", lambda: Simulation(Halve()).run(torch.ones(8), 2), "states", "u0")
    e("Simulation/run_u0_nan", lambda: Simulation(Halve()).run(state() * math.nan, 2), "u0", "nan", "finite")
    e("Simulation/run_reference_wrong_shape", lambda: Simulation(Halve()).run(state(), 2, reference=state()),
      "reference")
    e("Simulation/raise_on_blowup", lambda: Simulation(Blowup()).run(state(), 2, raise_on_failure=True),
      "nan", "finite", "blow")
    v("Simulation/blowup_reported", lambda: Simulation(Blowup()).run(state(), 2), lambda ro: not ro.ok)
    v("Simulation/zero_steps", lambda: Simulation(Halve()).run(state(), 0).states,
      lambda s: near(s, torch.ones(1, 1, 1, 8), 0))
    v("Simulation/halving", lambda: Simulation(Halve()).run(state(), 3).states[-1], lambda s: near(s, 0.125, 1e-15))
    e("parareal/n_steps_zero", lambda: parareal(Halve(), Halve(), state(), 0), "n_steps")
    r.either(A, "parareal/iterations_zero", lambda: parareal(Halve(), Halve(), state(), 2, iterations=0).states,
             lambda s: near(s[-1], 0.25, 1e-12), "iterations")
    e("parareal/tol_negative", lambda: parareal(Halve(), Halve(), state(), 2, tol=-1.0), "tol")
    e("parareal/different_dt", lambda: parareal(Halve(), LearnedStepper(conv(), 0.2), state(), 2), "dt", "time")
    v("parareal/same_stepper", lambda: parareal(Halve(), Halve(), state(), 3).states[-1],
      lambda s: near(s, 0.125, 1e-12))
    fwd = lambda x: 2 * x  # noqa: E731
    e("invert/steps_zero", lambda: invert(fwd, torch.zeros(1, 2), torch.zeros(1, 2), steps=0), "steps")
    e("invert/lr_zero", lambda: invert(fwd, torch.zeros(1, 2), torch.zeros(1, 2), lr=0.0), "lr")
    e("invert/noise_std_zero", lambda: invert(fwd, torch.zeros(1, 2), torch.zeros(1, 2), noise_std=0.0), "noise_std")
    e("invert/prior_weight_negative", lambda: invert(fwd, torch.zeros(1, 2), torch.zeros(1, 2), prior_weight=-1.0),
      "prior_weight")
    e("invert/optimizer_unknown", lambda: invert(fwd, torch.zeros(1, 2), torch.zeros(1, 2), optimizer="sgd"),
      "optimizer")
    e("invert/shape_mismatch", lambda: invert(fwd, torch.zeros(1, 3), torch.zeros(1, 2), steps=1), "shape",
      "observations")
    e("invert/forward_not_callable", lambda: invert(None, torch.zeros(1, 2), torch.zeros(1, 2)), "forward")
    e("invert/observations_nan", lambda: invert(fwd, torch.full((1, 2), math.nan), torch.zeros(1, 2), steps=2),
      "observations", "nan", "finite")
    v("invert/linear", lambda: invert(fwd, torch.full((1, 2), 2.0, dtype=F64), torch.zeros(1, 2, dtype=F64),
                                      prior_weight=0.0, steps=50, optimizer="lbfgs").estimate,
      lambda x: near(x, 1.0, 1e-3))
    e("grid_observation/stride_zero", lambda: grid_observation(0), "stride")
    e("grid_observation/offset_negative", lambda: grid_observation(2, offset=-1), "offset")
    e("grid_observation/ndim_zero", lambda: grid_observation(2, ndim=0), "ndim")
    e("ResampledStepper/shape_string", lambda: ResampledStepper(Halve(), "big"), "shape")
    e("ResampledStepper/shape_zero", lambda: ResampledStepper(Halve(), (0,)), "shape")
    e("relative_error/shape_mismatch", lambda: relative_error(torch.ones(2, 4), torch.ones(2, 5)), "shape")
    v("relative_error/zero_reference", lambda: relative_error(torch.zeros(2, 4), torch.zeros(2, 4)), finite)


def cli_cases(r: Registry) -> None:
    c = r.cli
    c("unknown_command", lambda: ["bogus"], "bogus", "invalid choice")
    c("data_generate/n_zero", lambda: ["data", "generate", "heat", "--n", "0", "--out", "x.h5", "--no-progress"],
      "--n")
    c("data_generate/n_negative", lambda: ["data", "generate", "heat", "--n", "-3", "--out", "x.h5",
                                           "--no-progress"], "--n")
    c("data_generate/n_float", lambda: ["data", "generate", "heat", "--n", "1.5", "--out", "x.h5"], "--n")
    c("data_generate/chunk_size_zero", lambda: ["data", "generate", "heat", "--n", "2", "--chunk-size", "0",
                                                "--out", "x.h5", "--no-progress"], "--chunk-size", "chunk")
    c("data_generate/seed_negative", lambda: ["data", "generate", "heat", "--n", "2", "--seed", "-1", "--out", "x.h5",
                                              "--no-progress"], "--seed")
    c("data_generate/resolution_zero", lambda: ["data", "generate", "heat", "--n", "2", "--resolution", "0", "--out",
                                                "x.h5", "--no-progress"], "--resolution", "resolution")
    c("data_generate/resolution_one", lambda: ["data", "generate", "darcy", "--n", "2", "--resolution", "1", "--out",
                                               "x.h5", "--no-progress"], "--resolution", "resolution")
    c("data_generate/unknown_problem", lambda: ["data", "generate", "bogus", "--n", "2", "--out", "x.h5"], "bogus")
    c("data_generate/out_is_directory", lambda: (os.mkdir("d.h5"), ["data", "generate", "heat", "--n", "2",
                                                                    "--resolution", "17", "--out", "d.h5",
                                                                    "--no-progress"])[1], "--out", "d.h5")
    c("data_generate/missing_n", lambda: ["data", "generate", "heat", "--out", "x.h5"], "--n")
    c("train/missing_config", lambda: ["train", "missing.yaml"], "missing.yaml")
    c("train/invalid_yaml", lambda: (Path("bad.yaml").write_text("model: [unclosed\n"), ["train", "bad.yaml"])[1],
      "bad.yaml", "yaml")
    c("train/yaml_python_tag", lambda: (Path("tag.yaml").write_text("seed: !!python/object/apply:os.getcwd []\n"),
                                        ["train", "tag.yaml"])[1], "tag.yaml", "tag", "yaml")
    c("train/config_is_list", lambda: (Path("l.yaml").write_text("- 1\n- 2\n"), ["train", "l.yaml"])[1], "l.yaml",
      "mapping")
    for key, bad in (("trainer.batch_size", "0"), ("trainer.max_epochs", "0"), ("trainer.max_epochs", "abc"),
                     ("data.n_train", "0"), ("data.val_fraction", "1.5"), ("data.val_fraction", "-0.1"),
                     ("optimizer.lr", "-1"), ("optimizer.lr", "nan"), ("model.name", "bogus"),
                     ("model.hidden_channels", "0"), ("model.n_modes", "[0,0]"), ("loss.name", "bogus"),
                     ("data.subsample", "0"), ("trainer.grad_clip", "0"), ("trainer.early_stopping", "0"),
                     ("seed", "1.5"), ("data.train", "missing.h5"), ("scheduler.name", "bogus"),
                     ("trainer.monitor", "bogus/l2"), ("data.n_train", "100000")):
        c(f"train/{key}={bad}", lambda key=key, bad=bad: ["train", run_config(), f"{key}={bad}", "--no-resume"],
          key.split(".")[0], key.split(".")[-1], timeout=20)
    c("train/unknown_key", lambda: ["train", run_config(), "trainer.bogus=1"], "bogus")
    c("train/override_without_equals", lambda: ["train", run_config(), "trainer.max_epochs"], "trainer.max_epochs",
      "=")
    c("train/data_is_text", lambda: (run_config(), Path("train.h5").write_text("x"), ["train", "run.yaml"])[2],
      "train.h5",
      timeout=20)
    c("evaluate/missing_checkpoint", lambda: ["evaluate", "missing.pt"], "missing.pt")
    c("evaluate/text_checkpoint", lambda: (Path("c.pt").write_text("hello"), ["evaluate", "c.pt"])[1], "c.pt")
    c("evaluate/batch_size_zero", lambda: ["evaluate", checkpoint(), "--data", h5(), "--batch-size", "0"],
      "--batch-size", "batch")
    c("evaluate/unknown_metric", lambda: ["evaluate", checkpoint(), "--data", h5(), "--metrics", "bogus"], "bogus")
    c("evaluate/data_missing", lambda: ["evaluate", checkpoint(), "--data", "missing.h5"], "missing.h5")
    c("evaluate/data_without_checkpoint_data", lambda: ["evaluate", checkpoint()], "--data", "data")
    c("simulate/missing_config", lambda: ["simulate", "missing.yaml"], "missing.yaml")
    for key, bad in (("steps", "0"), ("steps", "-1"), ("save_every", "0"), ("initial.n", "0"),
                     ("initial.seed", "-1"), ("stepper.kind", "bogus"), ("problem.name", "bogus"),
                     ("blowup_factor", "0"), ("problem.resolution", "0"), ("stepper.substeps", "0"),
                     ("stepper.dt", "-0.1"), ("stepper.kind", "model")):
        c(f"simulate/{key}={bad}", lambda key=key, bad=bad: ["simulate", sim_config(), f"{key}={bad}"],
          key.split(".")[-1], "checkpoint" if bad == "model" else key.split(".")[-1], timeout=20)


BUILDERS = {"selftest": selftest_cases, "solvers": solver_cases, "pde": pde_cases, "problems": problem_cases,
            "data": data_cases, "models": model_cases, "losses": loss_cases, "trainer": trainer_cases,
            "sim": sim_cases, "cli": cli_cases}
QUICK_PER_AREA = 4


def build_cases(areas: list[str] | None = None) -> list[Case]:
    """The cases of ``areas`` (all by default), in a fixed order."""
    registry = Registry()
    for area in areas or list(BUILDERS):
        if area not in BUILDERS:
            raise ValueError(f"unknown area {area!r}; known: {', '.join(BUILDERS)}")
        BUILDERS[area](registry)
    return registry.cases


def quick_subset(cases: list[Case]) -> list[Case]:
    """Every selftest case and the first :data:`QUICK_PER_AREA` cases of each other area."""
    seen: dict[str, int] = {}
    chosen = []
    for case in cases:
        seen[case.area] = seen.get(case.area, 0) + 1
        if case.area == "selftest" or seen[case.area] <= QUICK_PER_AREA:
            chosen.append(case)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--area", choices=list(BUILDERS), help="run one area only")
    parser.add_argument("--quick", action="store_true", help=f"selftests and the first {QUICK_PER_AREA} cases "
                                                             "of each area (~40 cases)")
    parser.add_argument("--match", default=None, help="only cases whose area/name contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case (default: %(default)s)")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit per worker")
    parser.add_argument("--json", default=None, help="write every case's outcome to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print every case as it is answered")
    args = parser.parse_args(argv)
    if args.jobs < 1 or not args.timeout > 0 or not args.memory_gb > 0:
        parser.error("--jobs must be >= 1, --timeout and --memory-gb > 0")
    torch.set_num_threads(1)
    cases = build_cases([args.area] if args.area else None)
    if args.quick:
        cases = quick_subset(cases)
    if args.match:
        cases = [c for c in cases if args.match in c.key]
    if not cases:
        parser.error("no case matches")

    def show(case: Case, answer: dict) -> None:
        if args.verbose:
            print(f"{answer['outcome']:<8} {case.key}: {answer['reason']}", flush=True)

    start = time.perf_counter()
    results = run_cases(cases, jobs=args.jobs, timeout=args.timeout, memory_gb=args.memory_gb, progress=show)
    rep = report(cases, results)
    print(format_table(rep["counts"]))
    bad = [c for c in rep["cases"] if c["outcome"] in ("unclear", "hang", "silent")]
    if bad:
        print("\nunclear, hang and silent answers:")
        for c in bad:
            print(f"  {c['outcome']:<8} {c['area']}/{c['name']}: {c['reason']}")
    timed = sorted((c for c in rep["cases"] if c["seconds"] and c["outcome"] != "hang"), key=lambda c: -c["seconds"])
    if timed and timed[0]["seconds"] > 3:
        print("\nslowest answers:")
        for c in timed[:5]:
            print(f"  {c['seconds']:6.1f} s  {c['area']}/{c['name']} ({c['outcome']})")
    print(f"\n{len(cases)} cases in {time.perf_counter() - start:.0f} s with {args.jobs} job(s)")
    if args.json:
        rep["seconds"] = round(time.perf_counter() - start, 1)
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
