"""Problems against independent references, and reproducible, resumable generation."""

import hashlib
import math

import h5py
import numpy as np
import pytest
import torch

from problems import PROBLEMS, Burgers, Convection, Darcy
from sciml.cli import main
from sciml.problems import (ConservationLawProblem, FlowDiagnosticsProblem, ResidualProblem, TimeSteppingProblem,
                            check_problem)
from sciml.solvers import solve_ode

DT = torch.float64


def test_convection_matches_a_method_of_lines_solve():
    """The exact Fourier propagation vs the ODE core (rk4, small steps) on the same spectral semi-discretisation."""
    problem = Convection(beta=2.0, nu=0.05, resolution=64, n_times=5, t_end=1.0)
    u0 = problem.sample_inputs(3, generator=torch.Generator().manual_seed(0)).to(DT)
    exact = problem.solve(u0)
    grid = problem.spectral

    def rhs(t, u):
        return -problem.beta * grid.derivative(u, (1,)) + problem.nu * grid.derivative(u, (2,))

    errors = [(exact - solve_ode(rhs, u0, problem.times(), method="rk4", dt=dt).ys.transpose(0, 1)).abs().max()
              for dt in (1e-3, 5e-4)]
    # the method-of-lines error is rk4's alone: it falls 16x per halving and reaches 1e-10
    assert 12 < errors[0] / errors[1] < 20 and errors[1] < 1e-10, errors


def test_pure_advection_is_an_exact_shift():
    problem = Convection(beta=1.0, nu=0.0, resolution=33, n_times=2, t_end=2 * math.pi * 5 / 33)  # odd: no Nyquist mode
    u0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(1)).to(DT)
    shifted = torch.roll(u0, shifts=5, dims=-1)  # u(x, t) = u0(x - beta t), beta t = 5 cells
    assert (problem.solve(u0)[:, -1] - shifted).abs().max() < 1e-12


def test_convection_residual_vanishes_on_the_closed_form():
    problem = Convection(beta=3.0, nu=0.1)
    x, t = torch.tensor(0.7, dtype=DT), torch.tensor(0.3, dtype=DT)
    # u = exp(-nu t) sin(x - beta t)
    u_t = -problem.nu * torch.exp(-problem.nu * t) * torch.sin(x - problem.beta * t) \
        - problem.beta * torch.exp(-problem.nu * t) * torch.cos(x - problem.beta * t)
    u_x = torch.exp(-problem.nu * t) * torch.cos(x - problem.beta * t)
    u_xx = -torch.exp(-problem.nu * t) * torch.sin(x - problem.beta * t)
    assert problem.residual(u_t, u_x, u_xx).abs() < 1e-14


def _hash(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generation_is_deterministic_and_resumable(tmp_path, monkeypatch):
    problem = Convection(resolution=32, n_times=3)
    a = problem.generate(10, tmp_path / "a.h5", seed=3, chunk_size=4, progress=False)
    b = problem.generate(10, tmp_path / "b.h5", seed=3, chunk_size=4, progress=False)
    c = problem.generate(10, tmp_path / "c.h5", seed=4, chunk_size=4, progress=False)
    assert _hash(a) == _hash(b) != _hash(c)
    with h5py.File(a) as f:
        assert f["inputs"].shape == (10, 32) and f["outputs"].shape == (10, 3, 32)
        assert np.allclose(f["outputs"][:, 0], f["inputs"][:], atol=1e-6)
        assert f.attrs["seed"] == 3 and f.attrs["problem"] == "convection"
        assert np.allclose(f["grid/t"][:], [0.0, 0.5, 1.0])

    calls = {"n": 0}
    original = Convection.solve

    def flaky(self, inputs, times=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the run dies during the second chunk
        return original(self, inputs, times)

    monkeypatch.setattr(Convection, "solve", flaky)
    with pytest.raises(KeyboardInterrupt):
        problem.generate(10, tmp_path / "d.h5", seed=3, chunk_size=4, progress=False)
    assert not (tmp_path / "d.h5").exists()
    monkeypatch.setattr(Convection, "solve", original)
    d = problem.generate(10, tmp_path / "d.h5", seed=3, chunk_size=4, progress=False)
    assert _hash(d) == _hash(a)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # shards and temporaries cleaned up


def test_cli_data_generate(tmp_path, capsys):
    out = tmp_path / "conv.h5"
    assert main(["data", "generate", "convection", "--n", "5", "--resolution", "16", "--out", str(out),
                 "--no-progress"]) == 0
    with h5py.File(out) as f:
        assert f["inputs"].shape == (5, 16)
    assert "convection" in PROBLEMS


def test_bad_generation_arguments(tmp_path):
    with pytest.raises(ValueError, match="n must be a positive int"):
        Convection().generate(0, tmp_path / "x.h5")
    with pytest.raises(ValueError, match="nu >= 0"):
        Convection(nu=-1.0)


def test_burgers_matches_cole_hopf_with_second_order_in_time():
    """Pseudo-spectral IMEX solve vs the exact Cole-Hopf solution (FNO setting, nu = 0.1)."""
    errors = []
    for dt in (2e-3, 1e-3):
        problem = Burgers(resolution=256, dt=dt)
        u0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(0)).to(DT)
        u0 = u0 - u0.mean(-1, keepdim=True)
        errors.append((problem.solve(u0)[:, -1] - problem.cole_hopf(u0, 1.0)).abs().max().item())
    assert 3.5 < errors[0] / errors[1] < 4.5 and errors[1] < 1e-8, errors  # measured 1.7e-8 -> 4.2e-9


def test_burgers_on_a_two_pi_period_matches_cole_hopf():
    """The PINN literature's period: x in [0, 2 pi), u0 = sin x (zero mean), a steepening
    front by t = 1; nu = 0.05 because at 0.01 the Cole-Hopf potential spans exp(-100),
    below the round-off of its spectral heat solve."""
    problem = Burgers(nu=0.05, resolution=512, n_times=2, dt=2e-4, length=2 * math.pi)
    x = torch.as_tensor(problem.grid()["x"], dtype=DT)
    u0 = torch.sin(x)[None]
    u1 = problem.solve(u0)[:, -1]
    assert (u1 - problem.cole_hopf(u0, 1.0)).abs().max() < 1e-6
    assert (u1 - u0).abs().max() > 0.3  # the solution did move


def test_burgers_conserves_the_mean_and_generates(tmp_path):
    problem = Burgers(resolution=64, n_times=3, dt=2e-3)
    u0 = problem.sample_inputs(3, generator=torch.Generator().manual_seed(2)).to(DT)
    u = problem.solve(u0)
    assert (u.mean(-1) - u0.mean(-1, keepdim=True)).abs().max() < 1e-12
    path = problem.generate(4, tmp_path / "burgers.h5", seed=1, chunk_size=2, progress=False)
    with h5py.File(path) as f:
        assert f["outputs"].shape == (4, 3, 64)
    with pytest.raises(ValueError, match="zero-mean"):
        problem.cole_hopf(u0, 1.0)


def test_generation_sharded_under_torchrun_equals_single_process(tmp_path):
    """Two ranks (torchrun, gloo) each generate every other chunk; rank 0 assembles."""
    import os
    import subprocess
    import sys

    single = Convection(resolution=16).generate(7, tmp_path / "one.h5", seed=5, chunk_size=2, progress=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "--", "sciml.cli", "data", "generate", "convection", "--n", "7", "--resolution", "16",
           "--seed", "5", "--chunk-size", "2", "--out", str(tmp_path / "two.h5"), "--no-progress"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _hash(tmp_path / "two.h5") == _hash(single)
    assert run.stdout.count("wrote 7 samples") == 1  # rank 0 reports
    # the same through the CLI's own launcher
    assert main(["data", "generate", "convection", "--n", "7", "--resolution", "16", "--seed", "5",
                 "--chunk-size", "2", "--out", str(tmp_path / "three.h5"), "--no-progress", "--nproc", "2"]) == 0
    assert _hash(tmp_path / "three.h5") == _hash(single)


# which declared protocols each built-in problem satisfies (and, as important, which it does not)
PROTOCOLS = {
    "advection": {ConservationLawProblem}, "burgers": {TimeSteppingProblem}, "burgers_ramp": {ConservationLawProblem},
    "convection": set(), "darcy": set(), "heat": {ConservationLawProblem},
    "navier_stokes": {TimeSteppingProblem, FlowDiagnosticsProblem, ResidualProblem}, "ou_population": set(),
    "porous_medium": {ConservationLawProblem}, "repressilator": set(), "stefan": {ConservationLawProblem},
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_built_in_problems_satisfy_their_declared_protocols(name):
    problem = PROBLEMS[name]()
    for protocol in (TimeSteppingProblem, FlowDiagnosticsProblem, ConservationLawProblem, ResidualProblem):
        assert isinstance(problem, protocol) == (protocol in PROTOCOLS[name]), (name, protocol.__name__)


def test_check_problem_names_the_protocol_and_its_members():
    darcy = Darcy(resolution=9)
    with pytest.raises(TypeError, match=r"simulate needs a TimeSteppingProblem \(a problem with at_resolution, "
                                        r"resolution, sample_inputs, solver_resolution, solver_stepper\), got Darcy"):
        check_problem("simulate", darcy, TimeSteppingProblem)
    burgers = Burgers(resolution=32)
    assert check_problem("simulate", burgers, TimeSteppingProblem) is burgers


def test_burgers_at_resolution_is_the_same_problem_on_another_grid():
    problem = Burgers(resolution=64, n_times=3, t_end=0.2, dt=2e-3)
    assert problem.solver_resolution == 64 and problem.at_resolution(64) is problem
    coarse = problem.at_resolution(32)
    assert coarse.resolution == coarse.solver_resolution == 32
    assert {**coarse.parameters(), "resolution": 64} == problem.parameters()
    u0 = coarse.sample_inputs(2, torch.Generator().manual_seed(0)).to(DT)
    torch.testing.assert_close(coarse.solver_stepper()(u0[:, None])[:, 0], coarse.solve(u0)[:, 1])
