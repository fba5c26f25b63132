"""Every tutorial runs end to end in --quick mode and writes its figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted(p for p in (ROOT / "tutorials").glob("*.py") if not p.name.startswith("_"))  # _setup.py: a helper
FIGURES = {
    "ode_solvers.py": ["work_precision.png", "per_sample_nfe.png"],
    "sde_basics.py": ["ou_fit.png", "fractional_paths.png"],
    "define_a_problem.py": ["airy_sample.png", "airy.h5"],
    "neural_ode_spiral.py": ["spiral.png"],
    "train_an_operator.py": ["ns_prediction.png", "ns32.h5"],
    "mgno_vs_fno.py": ["mgno_vs_fno.png"],
    "spectral_refiner.py": ["refiner_vorticity.png", "refiner_spectra.png"],
    "lagrangian_pinn.py": ["lpinn_solutions.png", "lpinn_losses.png"],
    "probconserv_stefan.py": ["probconserv_stefan.png"],
    "regularized_neural_ode.py": ["nde_nfe.png", "nde_fields.png", "nde_steps.png"],
    "fractional_latent_sde.py": ["fractional_hurst.png", "fractional_paths.png"],
    "generative_bridges.py": ["interpolant_trajectories.png", "bridge_trajectories.png"],
    "operator_in_simulation.py": ["rollout_errors.png", "rollout_fields.png", "ns_stepper.pt2"],
    "inverse_problems.py": ["darcy_inverse.png", "ns_inverse.png"],
}


def test_every_tutorial_is_listed():
    assert {p.name for p in TUTORIALS} == set(FIGURES)


def test_shared_header(tmp_path):
    """tutorials/_setup.py parses --quick/--out, makes the folder, picks Agg, sets threads and the seed."""
    code = ("import sys, torch, matplotlib; from _setup import tutorial_setup; "
            "args, out = tutorial_setup('doc', 'x', threads=1, full_threads=2); "
            "print(args.quick, out.is_dir(), torch.get_num_threads(), matplotlib.get_backend().lower(), "
            "torch.equal(torch.rand(3), torch.manual_seed(0) and torch.rand(3)))")
    for flags, quick, threads in ((["--quick"], "True", "1"), ([], "False", "2")):
        result = subprocess.run([sys.executable, "-c", code, *flags, "--out", str(tmp_path / quick), "--extra"],
                                cwd=ROOT / "tutorials", capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split() == [quick, "True", threads, "agg", "True"]


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_quick(script, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    for name in FIGURES[script.name]:
        figure = tmp_path / name
        assert figure.is_file() and figure.stat().st_size > 5000, f"{script.name} did not write {name}"
