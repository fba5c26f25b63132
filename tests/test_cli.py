"""The `sciml` command: help, and the quickstart demo in quick mode."""

import subprocess
import sys

from sciml.cli import main
from sciml.quickstart import run


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "sciml.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "quickstart" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: sciml" in capsys.readouterr().out


def test_quickstart_quick_learns_the_field(tmp_path):
    metrics = run(quick=True, out_dir=tmp_path, seed=0)
    # 150 Adam steps on 20-point windows: the learned field is already within ~10% of
    # A y^3 at most trajectory points (untrained, the relative error is about 1).
    assert metrics["field_rel_error_median"] < 0.2
    assert (tmp_path / "quickstart.png").stat().st_size > 5000
