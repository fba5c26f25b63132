"""The fuzzing harness of benchmarks/fuzz_public_api.py works: its quick run completes in
worker processes and classifies its self-test toys (which do not depend on the library)
as ok / clear / silent / unclear / hang. The library's own counts are not asserted here."""

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "fuzz_public_api.py"

SELFTEST = {"value_ok": "ok", "clear_error": "clear", "silent_accept": "silent", "unclear_error": "unclear",
            "silent_wrong_value": "silent", "hang": "hang"}


def _harness():
    spec = importlib.util.spec_from_file_location("fuzz_public_api", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_quick_run_completes_and_classifies_the_selftests(tmp_path):
    out = tmp_path / "fuzz.json"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--jobs", "2", "--json", str(out)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[-2000:]
    assert elapsed < 60, f"the quick run took {elapsed:.0f} s"
    report = json.loads(out.read_text())
    cases = report["cases"]
    assert 30 <= len(cases) <= 60
    outcomes = {"clear", "unclear", "hang", "silent", "ok"}
    assert all(c["outcome"] in outcomes and c["reason"] for c in cases)
    selftest = {c["name"]: c["outcome"] for c in cases if c["area"] == "selftest"}
    assert selftest == SELFTEST
    assert report["counts"]["total"]["total"] == len(cases)
    assert sum(report["counts"]["total"][o] for o in outcomes) == len(cases)
    assert {c["area"] for c in cases} >= {"solvers", "pde", "problems", "data", "models", "losses", "trainer", "sim",
                                           "cli"}
    assert "total" in run.stdout and "selftest" in run.stdout


def test_classifiers_without_workers():
    fuzz = _harness()
    case = fuzz.Case("toy", "bad_rtol", lambda: None, "error", ("rtol",))
    assert fuzz.classify_exception(case, ValueError("rtol must be > 0, got 0.0"))[0] == "clear"
    assert fuzz.classify_exception(case, ValueError("something else"))[0] == "unclear"
    assert fuzz.classify_exception(case, IndexError("rtol out of range"))[0] == "unclear"
    assert fuzz.classify_exception(case, ValueError(""))[0] == "unclear"
    try:
        torch.zeros(2) @ torch.zeros(3)  # an error raised inside torch, not by the library
    except RuntimeError as exc:
        assert fuzz.classify_exception(case, exc)[0] == "unclear"
    assert fuzz.classify_value(case, 3)[0] == "silent"
    value = fuzz.Case("toy", "edge", lambda: None, "value", check=lambda x: x == 1)
    assert fuzz.classify_value(value, 1)[0] == "ok" and fuzz.classify_value(value, 2)[0] == "silent"
    assert fuzz.classify_exception(value, ValueError("rtol"))[0] == "unclear"  # a valid input rejected
    cli = fuzz.Case("cli", "flag", lambda: None, "cli", ("--n",))
    assert fuzz.classify_cli(cli, fuzz.CliAnswer(2, "sciml: --n must be a positive int"))[0] == "clear"
    assert fuzz.classify_cli(cli, fuzz.CliAnswer(0, ""))[0] == "silent"
    assert fuzz.classify_cli(cli, fuzz.CliAnswer(1, "Traceback (most recent call last):\n  ..."))[0] == "unclear"
