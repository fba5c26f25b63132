"""Context/target sets of one-parameter conservation laws with closed forms
(``problems.porous_medium``, ``problems.convection.Advection``,
``problems.burgers.BurgersRamp``), sampled as in ProbConserv.

Per function (parameter ``p ~ U(param_range)``):

* context: 10 x 10 points, times stratified (one uniform draw in each tenth of
  ``[0, t_end]``), at each time 10 sorted uniform positions;
* target: 10 x 10 points, 10 uniform times with 10 uniform positions each.

Items are ``{"xc": (100, 2), "yc": (100, 1), "xt": (100, 2), "yt": (100, 1), "param": (1,)}``
with inputs ``(t, x)``, float32.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from sciml.problems import ConservationLawProblem, check_problem

__all__ = ["ContextTargetSet", "exact_values", "sample_context"]


def _uniform(lo, hi, shape, g):
    return lo + (hi - lo) * torch.rand(shape, generator=g, dtype=torch.float64)


def sample_context(problem: ConservationLawProblem, n: int, n_t: int = 10, n_x: int = 10,
                   generator=None) -> torch.Tensor:
    """Stratified context inputs ``(n, n_t n_x, 2)`` (float64)."""
    check_problem("sample_context", problem, ConservationLawProblem)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    (x0, x1), t1 = problem.x_range, problem.t_end
    t = (torch.arange(n_t, dtype=torch.float64) + torch.rand(n, n_t, generator=g, dtype=torch.float64)) * (t1 / n_t)
    x = _uniform(x0, x1, (n, n_t, n_x), g).sort(-1).values
    return torch.stack([t[:, :, None].expand(-1, -1, n_x), x], -1).reshape(n, n_t * n_x, 2)


def _targets(problem: ConservationLawProblem, n: int, n_t: int, n_x: int, g) -> torch.Tensor:
    (x0, x1), t1 = problem.x_range, problem.t_end
    t = _uniform(0.0, t1, (n, n_t), g)
    x = _uniform(x0, x1, (n, n_t, n_x), g)
    return torch.stack([t[:, :, None].expand(-1, -1, n_x), x], -1).reshape(n, n_t * n_x, 2)


def exact_values(problem: ConservationLawProblem, params: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``u`` at per-function points ``(n, P, 2)`` (``(t, x)``) for parameters ``(n, 1)``: ``(n, P, 1)``."""
    check_problem("exact_values", problem, ConservationLawProblem)
    t, x = points[..., 0].unsqueeze(1), points[..., 1].unsqueeze(1)  # (n, 1, P): exact() reads params as (n, 1, 1)
    return problem.exact(params.reshape(-1, 1), t, x).squeeze(1).unsqueeze(-1)


class ContextTargetSet(Dataset):
    """``n`` functions of ``problem`` with parameters ``params`` (default uniform on its
    ``param_range``), sampled from ``seed``."""

    def __init__(self, problem: ConservationLawProblem, n: int, seed: int = 0, params: torch.Tensor | None = None,
                 n_t: int = 10, n_x: int = 10):
        check_problem("ContextTargetSet", problem, ConservationLawProblem)
        g = torch.Generator().manual_seed(seed)
        self.problem = problem
        self.params = problem.sample_inputs(n, g) if params is None else \
            torch.as_tensor(params, dtype=torch.float64).reshape(-1, 1).expand(n, 1).clone()
        self.xc = sample_context(problem, n, n_t, n_x, g)
        self.xt = _targets(problem, n, n_t, n_x, g)
        self.yc, self.yt = exact_values(problem, self.params, self.xc), exact_values(problem, self.params, self.xt)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, i: int) -> dict:
        return {"xc": self.xc[i].float(), "yc": self.yc[i].float(), "xt": self.xt[i].float(),
                "yt": self.yt[i].float(), "param": self.params[i].float()}
