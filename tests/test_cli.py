"""The `sciml` command: help, and the quickstart demo in quick mode."""

import subprocess
import sys

from sciml.cli import main


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "sciml.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "quickstart" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: sciml" in capsys.readouterr().out


def test_quickstart_quick_trains_and_generalises(tmp_path, capsys):
    """Quick mode: 160 Darcy samples at 33^2, 6 epochs. Measured relative L2 0.17 at 33^2
    and 0.15 zero-shot at 65^2 (an untrained model is at ~1)."""
    assert main(["quickstart", "--quick", "--out", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: float(line.split()[-2]) for line in out.splitlines()
            if line.startswith(("33 ", "65 "))}
    assert rows["33"] < 0.3 and rows["65"] < 0.3, out
    assert (tmp_path / "quickstart.png").stat().st_size > 5000
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "metrics.csv").is_file()
