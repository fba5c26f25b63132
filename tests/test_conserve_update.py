"""The ProbConserv update and conservation constraints, against their defining identities."""

import math

import pytest
import torch

from problems import PROBLEMS
from sciml.conserve import ConservationConstraint, conservation_update, trapezoid_weights

DT = torch.float64


def _prior(batch=(3,), n=41, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(*batch, n, generator=g, dtype=DT)
    a = torch.randn(*batch, n, n, generator=g, dtype=DT) / math.sqrt(n)
    cov = a @ a.transpose(-1, -2) + 0.1 * torch.eye(n, dtype=DT)
    var = 0.05 + torch.rand(*batch, n, generator=g, dtype=DT)
    G = torch.rand(*batch, 2, n, generator=g, dtype=DT)
    b = torch.randn(*batch, 2, generator=g, dtype=DT)
    return mu, cov, var, G, b


def test_exact_conservation_and_a_degenerate_psd_posterior():
    mu, cov, _, G, b = _prior()
    m, c = conservation_update(mu, cov, G, b)
    assert ((G @ m.unsqueeze(-1)).squeeze(-1) - b).abs().max() < 1e-12
    assert (G @ c @ G.transpose(-1, -2)).abs().max() < 1e-12
    torch.testing.assert_close(c, c.transpose(-1, -2), atol=0, rtol=0)
    assert torch.linalg.eigvalsh(c).min() > -1e-12


def test_noisy_constraint_shrinks_the_residual_by_the_exact_factor():
    mu, _, var, G, b = _prior(n=30)
    G, b = G[:, :1], b[:, :1]  # one row: a scalar factor
    noise = 0.3
    m, _ = conservation_update(mu, var, G, b, noise_var=noise)
    before = (G @ mu.unsqueeze(-1)).squeeze(-1) - b
    after = (G @ m.unsqueeze(-1)).squeeze(-1) - b
    g_sigma_g = (G.squeeze(1) ** 2 * var).sum(-1, keepdim=True)
    torch.testing.assert_close(after, before * noise / (noise + g_sigma_g))


def test_identity_when_already_conservative_and_diagonal_path_matches_full():
    mu, _, var, G, _ = _prior()
    b = (G @ mu.unsqueeze(-1)).squeeze(-1)
    m, v = conservation_update(mu, var, G, b)
    torch.testing.assert_close(m, mu)
    m_full, c_full = conservation_update(mu, var, G, b + 1.0, full_covariance=True)
    m_diag, v_diag = conservation_update(mu, var, G, b + 1.0)
    torch.testing.assert_close(m_full, m_diag)
    torch.testing.assert_close(torch.diagonal(c_full, dim1=-2, dim2=-1), v_diag)
    assert (v_diag <= var + 1e-15).all()  # conditioning never adds variance


def test_hardc_is_the_euclidean_projection_with_unchanged_covariance():
    mu, cov, _, G, b = _prior()
    m, c = conservation_update(mu, cov, G, b, mode="hardc")
    assert torch.equal(c, cov)
    assert ((G @ m.unsqueeze(-1)).squeeze(-1) - b).abs().max() < 1e-12
    # the correction is orthogonal to the constraint's null space: it lies in the row space of G
    correction = (mu - m).unsqueeze(-1)
    coeffs = torch.linalg.lstsq(G.transpose(-1, -2), correction).solution
    torch.testing.assert_close(G.transpose(-1, -2) @ coeffs, correction)


def test_errors():
    mu, cov, _, G, b = _prior()
    with pytest.raises(ValueError, match="mode"):
        conservation_update(mu, cov, G, b, mode="soft")
    with pytest.raises(ValueError, match="columns"):
        conservation_update(mu, cov, G[..., :-1], b)
    with pytest.raises(ValueError, match="noise_var"):
        conservation_update(mu, cov, G, b, noise_var=-1.0)
    with pytest.raises(ValueError, match="sorted"):
        trapezoid_weights(torch.tensor([0.0, 2.0, 1.0]))


def test_trapezoid_weights_on_non_uniform_nodes_and_in_two_dimensions():
    x = torch.tensor([0.0, 0.1, 0.35, 0.5, 0.9, 1.0], dtype=DT)
    w = trapezoid_weights(x)
    assert abs(float((w * (3 * x + 2)).sum()) - 3.5) < 1e-14  # exact for linear functions
    c2 = ConservationConstraint(lambda t: torch.zeros_like(t), dims=2)
    y = torch.linspace(0, 2, 5, dtype=DT)
    G = c2.matrix(x, y)
    f = (x[:, None] + 0 * y[None]).reshape(-1)
    assert G.shape == (1, 30) and abs(float(G @ f) - 0.5 * 2) < 1e-14


@pytest.mark.parametrize("name", ["heat", "porous_medium", "stefan", "advection", "burgers_ramp"])
def test_closed_forms_carry_the_mass_b_of_t(name):
    """b(t) (initial mass + boundary flux) equals the trapezoid mass of the closed form on a
    fine grid, per parameter: the data and the constraint agree (a wrong flux term would
    be off by O(0.1))."""
    problem = PROBLEMS[name]()
    lo, hi = problem.param_range
    params = torch.tensor([lo, 0.5 * (lo + hi), hi], dtype=DT)
    t = torch.linspace(0.1, 1.0, 4, dtype=DT) * problem.t_end
    x = torch.linspace(*problem.x_range, 20001, dtype=DT)
    u = problem.exact(params, t[:, None], x[None, :])  # (n_p, n_t, n_x)
    constraint_errors = []
    for i, p in enumerate(params):
        c = ConservationConstraint(lambda tt, p=p: problem.mass(p, tt)[0])
        constraint_errors.append(c.error(u[i], t, x).abs().max())
    h = float(x[1] - x[0])
    # a jump (advection, Burgers shock, Stefan front) costs the trapezoid rule at most h * max|u|
    assert max(constraint_errors) < h * float(u.abs().max()), constraint_errors


def test_update_is_differentiable_for_end_to_end_training():
    """Gradients reach the model's mean and variance through the update (the layer can be
    trained through), and agree with finite differences."""
    mu, _, var, G, b = _prior(batch=(2,), n=12)
    mu = mu.clone().requires_grad_(True)
    var = var.clone().requires_grad_(True)

    def f(m, v):
        new_mean, new_var = conservation_update(m, v, G, b)
        return (new_mean ** 2).sum() + new_var.sum()

    assert torch.autograd.gradcheck(f, (mu, var))
