"""The shared argument checks: canonical values back, and errors that name the argument,
the value and the fix."""

import numpy as np
import pytest
import torch

from sciml.validation import (ArgumentTypeError, check_callable, check_choice, check_int, check_probability,
                              check_real, check_seed, check_tensor)


def test_check_int_canonical_values_and_ranges():
    assert check_int("n", 3) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_int("n_steps", 0, minimum=0) == 0
    assert check_int("k", 5, minimum=2, maximum=5) == 5
    with pytest.raises(ValueError, match=r"n must be a positive int, got 0"):
        check_int("n", 0)
    with pytest.raises(ValueError, match=r"n_steps must be a non-negative int, got -1"):
        check_int("n_steps", -1, minimum=0)
    with pytest.raises(ValueError, match=r"k must be an int in \[2, 5\], got 6"):
        check_int("k", 6, minimum=2, maximum=5)


@pytest.mark.parametrize("value", [True, 2.0, 1.7, "3", None])
def test_check_int_rejects_other_kinds(value):
    with pytest.raises(ArgumentTypeError, match=r"n must be a positive int, got"):
        check_int("n", value)


def test_wrong_kind_is_both_a_type_and_a_value_error():
    for kind in (TypeError, ValueError):
        with pytest.raises(kind):
            check_int("n", "3")
    with pytest.raises(TypeError, match=r"pass 2 \(an int, not a float\)"):
        check_int("n", 2.0)


def test_check_seed_refuses_floats_that_would_be_truncated():
    assert check_seed("seed", 7) == 7
    with pytest.raises(TypeError, match=r"seed must be a non-negative int, got 1.7.*seeds are non-negative ints"):
        check_seed("seed", 1.7)
    with pytest.raises(ValueError, match="non-negative"):
        check_seed("seed", -1)


def test_check_real_bounds_and_conversions():
    assert check_real("dt", 1) == 1.0 and type(check_real("dt", np.float32(0.5))) is float
    assert check_real("dt", torch.tensor(0.25), positive=True) == 0.25
    assert check_real("dt", None, allow_none=True) is None
    for bad, message in ((float("nan"), "finite"), (float("inf"), "finite"), (0.0, "> 0"), (-1.0, "> 0")):
        with pytest.raises(ValueError, match=f"dt must be {message}"):
            check_real("dt", bad, positive=True)
    with pytest.raises(ValueError, match="decay must be >= 0, got -0.5; use a decay rate"):
        check_real("decay", -0.5, nonnegative=True, hint="use a decay rate")
    with pytest.raises(ValueError, match="x must be <= 1.0, got 2.0"):
        check_real("x", 2.0, maximum=1.0)
    with pytest.raises(ArgumentTypeError, match="dt must be a real number, got True"):
        check_real("dt", True)


def test_check_probability():
    assert check_probability("p", 1) == 1.0
    with pytest.raises(ValueError, match=r"val_fraction must lie in \[0, 1\), got 1.0"):
        check_probability("val_fraction", 1.0, closed=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_probability("p", -0.1)


def test_check_choice_and_callable():
    assert check_choice("method", "rk4", ("rk4", "euler")) == "rk4"
    with pytest.raises(ValueError, match="unknown method 'rk5'; known: euler, rk4"):
        check_choice("method", "rk5", ("rk4", "euler"))
    with pytest.raises(TypeError, match=r"f must be callable as f\(t, y\), got int"):
        check_callable("f", 3, "f(t, y)")


def test_check_tensor():
    u = torch.zeros(2, 1, 4)
    assert check_tensor("u", u, ndim=3, shape=(None, 1, 4), floating=True, finite=True) is u
    with pytest.raises(ValueError, match=r"u must have shape \(\*, 2, 4\) \(batch, channels, x\), got \(2, 1, 4\)"):
        check_tensor("u", u, shape=(None, 2, 4), layout="(batch, channels, x)")
    with pytest.raises(ValueError, match="at least 4 dimensions"):
        check_tensor("u", u, min_ndim=4)
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.int64; convert it with"):
        check_tensor("u", torch.zeros(2, dtype=torch.long), floating=True)
    with pytest.raises(ValueError, match="u contains NaN or Inf"):
        check_tensor("u", torch.tensor([0.0, float("nan")]), finite=True)
    with pytest.raises(TypeError, match="u must be a tensor, got list"):
        check_tensor("u", [0.0])
