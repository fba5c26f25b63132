"""SDE integrators against torchsde (same increments), analytic solutions on the same
Brownian path (strong order), OU moments (weak order), and gradient checks.

The Brownian source here is torchsde's BrownianInterval (exact Brownian bridge),
an independent reference for sciml's own BrownianPath.
"""

import math

import pytest
import torch
import torchsde

from sciml.solvers import IController, PIController, sdeint, solve_sde

DT64 = torch.float64


class Snapped:
    """A torchsde Brownian interval queried at times snapped to a grid of spacing dt,
    so that two solvers whose grid times differ by round-off draw identical increments."""

    def __init__(self, batch, m, dt, entropy=0, levy=False):
        kwargs = {"levy_area_approximation": "space-time"} if levy else {}
        self.bm = torchsde.BrownianInterval(0.0, 1.0, size=(batch, m), entropy=entropy, dtype=DT64, **kwargs)
        self.dt, self.shape, self.dtype, self.device = dt, self.bm.shape, DT64, self.bm.device
        self.levy_area_approximation = self.bm.levy_area_approximation

    @classmethod
    def around(cls, bm, dt):
        """Snap an existing torchsde Brownian interval (to share one path across grids)."""
        snap = cls.__new__(cls)
        snap.bm, snap.dt, snap.shape, snap.dtype, snap.device = bm, dt, bm.shape, DT64, bm.device
        snap.levy_area_approximation = bm.levy_area_approximation
        return snap

    def _snap(self, t):
        return round(float(t) / self.dt) * self.dt

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        return self.bm(self._snap(ta), None if tb is None else self._snap(tb), return_U=return_U, return_A=return_A)

    def space_time_levy_area(self, ta, tb):
        """H = U / h - dW / 2 from torchsde's U = int (W_s - W_a) ds."""
        dw, u = self.bm(self._snap(ta), self._snap(tb), return_U=True)
        return u / (tb - ta) - 0.5 * dw


class GBM(torch.nn.Module):
    """dY = mu Y dt + sigma Y dW (diagonal noise)."""

    noise_type = "diagonal"

    def __init__(self, mu=0.5, sigma=0.8, sde_type="ito"):
        super().__init__()
        self.sde_type = sde_type
        self.mu = torch.nn.Parameter(torch.tensor(mu, dtype=DT64))
        self.sigma = torch.nn.Parameter(torch.tensor(sigma, dtype=DT64))

    def f(self, t, y):
        return self.mu * y

    def g(self, t, y):
        return self.sigma * y

    def exact(self, y0, w, t):
        drift = self.mu - 0.5 * self.sigma**2 if self.sde_type == "ito" else self.mu
        return y0 * torch.exp(drift * t + self.sigma * w)


class Additive(torch.nn.Module):
    """dY = (-Y + sin t) dt + A dW with a constant (d, m) matrix A (Itô = Stratonovich)."""

    noise_type = "additive"

    def __init__(self, d=2, m=3, sde_type="ito"):
        super().__init__()
        self.sde_type = sde_type
        self.A = torch.nn.Parameter(torch.linspace(0.1, 0.6, d * m, dtype=DT64).reshape(d, m))

    def f(self, t, y):
        return -y + torch.sin(t)

    def g(self, t, y):
        return self.A.expand(y.shape[0], *self.A.shape)


class Scalar(torch.nn.Module):
    noise_type = "scalar"

    def __init__(self, sde_type="ito"):
        super().__init__()
        self.sde_type = sde_type

    def f(self, t, y):
        return -0.5 * y

    def g(self, t, y):
        return (0.3 * torch.cos(y)).unsqueeze(-1)


class General(torch.nn.Module):
    noise_type = "general"

    def __init__(self, sde_type="ito"):
        super().__init__()
        self.sde_type = sde_type
        self.W = torch.nn.Parameter(torch.randn(2, 2, 3, generator=torch.Generator().manual_seed(0), dtype=DT64) * 0.2)

    def f(self, t, y):
        return -y

    def g(self, t, y):
        return torch.tanh(torch.einsum("bi,ijk->bjk", y, self.W))


class BadScalar(Scalar):
    """Declares scalar noise but returns a diagonal-shaped g."""

    def g(self, t, y):
        return y


CASES = [
    (GBM, "ito", ["euler", "milstein", "srk"]),
    (GBM, "stratonovich", ["milstein", "heun", "midpoint", "reversible_heun"]),
    (Additive, "ito", ["euler", "milstein", "srk"]),
    (Additive, "stratonovich", ["heun", "midpoint", "reversible_heun"]),
    (Scalar, "ito", ["euler", "milstein", "srk"]),
    (Scalar, "stratonovich", ["milstein", "heun", "midpoint", "reversible_heun"]),
    (General, "ito", ["euler"]),
    (General, "stratonovich", ["heun", "midpoint", "reversible_heun"]),
]


@pytest.mark.parametrize("cls,sde_type,methods", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_same_increments_same_paths_as_torchsde(cls, sde_type, methods):
    sde = cls(sde_type=sde_type)
    m = {"diagonal": 2, "scalar": 1}.get(sde.noise_type, 3)
    y0 = torch.full((16, 2), 0.7, dtype=DT64)
    ts = torch.linspace(0, 1, 5, dtype=DT64)
    for method in methods:
        bm = Snapped(16, m, 0.01, entropy=1, levy=(method == "srk"))
        ours = sdeint(sde, y0, ts, bm=bm, method=method, dt=0.01)
        theirs = torchsde.sdeint(sde, y0, ts, bm=bm, method=method, dt=0.01)
        # identical increments and the same scheme: only round-off separates the paths
        assert (ours - theirs).abs().max().item() < 1e-11, method


def _strong_error(sde, method, n_steps, n_paths=4000, entropy=7):
    y0 = torch.ones(n_paths, 1, dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(n_paths, 1), entropy=entropy, dtype=DT64,
                                   levy_area_approximation="space-time")
    snap = Snapped.around(bm, 1.0 / n_steps)
    ys = sdeint(sde, y0, torch.tensor([0.0, 1.0], dtype=DT64), bm=snap, method=method, dt=1.0 / n_steps)
    exact = sde.exact(y0, bm(0.0, 1.0), 1.0)
    return (ys[-1] - exact).abs().mean().item()


@pytest.mark.parametrize("method,sde_type,order", [
    ("euler", "ito", 0.5), ("milstein", "ito", 1.0), ("milstein", "stratonovich", 1.0),
    ("srk", "ito", 1.5), ("heun", "stratonovich", 1.0), ("midpoint", "stratonovich", 1.0),
])
def test_strong_order_on_gbm(method, sde_type, order):
    """Mean absolute error at T=1 against the exact GBM on the same path; fitted slope
    within 0.2 of the order (scalar commutative noise, so Heun and midpoint reach 1.0)."""
    sde = GBM(mu=0.3, sigma=0.5, sde_type=sde_type)
    steps = [16, 32, 64, 128]
    errors = [_strong_error(sde, method, n) for n in steps]
    slope = -torch.tensor([math.log(e) for e in errors]).diff().mean().item() / math.log(2)
    assert abs(slope - order) < 0.2, (slope, errors)


def test_srk_strong_order_additive_noise():
    """Additive noise: SRA1 has strong order 1.5 (here vs a 4096-step SRK solution on the same path)."""
    sde = Additive(d=1, m=1)
    y0 = torch.full((2000, 1), 0.5, dtype=DT64)
    ts = torch.tensor([0.0, 1.0], dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(2000, 1), entropy=3, dtype=DT64, levy_area_approximation="space-time")

    def solve(n):
        snap = Snapped.around(bm, 1.0 / n)
        return sdeint(sde, y0, ts, bm=snap, method="srk", dt=1.0 / n)[-1]

    ref = solve(2048)
    errors = [(solve(n) - ref).abs().mean().item() for n in (8, 16, 32, 64)]
    slope = -torch.tensor([math.log(e) for e in errors]).diff().mean().item() / math.log(2)
    assert slope > 1.3, (slope, errors)  # strong order 1.5 (Euler would give 1.0 here)


def test_weak_order_euler_on_ou_moments():
    """OU dX = -X dt + dW from X0 = 1: E[X_1^2] = e^-2 + (1 - e^-2)/2. Euler's weak
    error in the second moment halves with dt (weak order 1); 200k paths."""
    class OU:
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t, y):
            return -y

        def g(self, t, y):
            return torch.ones_like(y)

    exact = math.exp(-2) + (1 - math.exp(-2)) / 2
    errs = []
    for n in (4, 8):
        torch.manual_seed(0)
        y = sdeint(OU(), torch.ones(200_000, 1, dtype=DT64), torch.tensor([0.0, 1.0], dtype=DT64), method="euler",
                   dt=1.0 / n, bm=torchsde.BrownianInterval(0.0, 1.0, size=(200_000, 1), entropy=n, dtype=DT64))
        errs.append(abs((y[-1] ** 2).mean().item() - exact))
    # the exact Euler second moment differs by ~0.1/n; Monte-Carlo noise is ~1.5e-3
    assert 1.4 < errs[0] / errs[1] < 2.8, errs


def test_reversible_adjoint_matches_backprop_exactly():
    torch.manual_seed(0)

    class NSDE(torch.nn.Module):
        noise_type, sde_type = "diagonal", "stratonovich"

        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
            self.gn = torch.nn.Linear(2, 2).double()

        def f(self, t, y):
            return self.net(y)

        def g(self, t, y):
            return 0.3 * torch.sigmoid(self.gn(y))

    sde = NSDE()
    y0 = torch.randn(8, 2, dtype=DT64, requires_grad=True)
    ts = torch.linspace(0, 1, 4, dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(8, 2), entropy=3, dtype=DT64)
    grads = {}
    for adjoint in (False, True):
        sol = solve_sde(sde, y0, ts, bm=bm, method="reversible_heun", dt=0.05, adjoint=adjoint)
        loss = (sol.ys**2).sum()
        grads[adjoint] = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, [y0, *sde.parameters()])])
    # algebraic reversibility: the same discrete gradient up to round-off
    assert ((grads[True] - grads[False]).norm() / grads[False].norm()).item() < 1e-12
    # and both agree with central finite differences on the same path
    p = next(sde.parameters())
    eps = 1e-6
    with torch.no_grad():
        p[0, 0] += eps
        up = (sdeint(sde, y0, ts, bm=bm, method="reversible_heun", dt=0.05) ** 2).sum()
        p[0, 0] -= 2 * eps
        down = (sdeint(sde, y0, ts, bm=bm, method="reversible_heun", dt=0.05) ** 2).sum()
        p[0, 0] += eps
    fd = (up - down) / (2 * eps)
    assert abs(fd.item() - grads[False][16].item()) < 1e-6 * max(1.0, abs(fd.item()))


def test_logqp_matches_manual_left_point_sum():
    class Prior(GBM):
        def h(self, t, y):
            return -y

    sde = Prior()
    y0 = torch.full((4, 2), 1.0, dtype=DT64)
    ts = torch.tensor([0.0, 0.5, 1.0], dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(4, 2), entropy=2, dtype=DT64)
    ys, log_ratio = sdeint(sde, y0, ts, bm=bm, method="euler", dt=0.1, logqp=True)
    assert log_ratio.shape == (2, 4)
    # u = (f - h) / g = (mu + 1) / sigma, constant: 1/2 u^2 d per unit time
    rate = 0.5 * ((0.5 + 1.0) / 0.8) ** 2 * 2
    assert torch.allclose(log_ratio, torch.full_like(log_ratio, rate * 0.5), rtol=1e-12)


def test_adaptive_step_doubling_converges_to_the_fine_solution():
    sde = GBM(mu=0.3, sigma=0.5, sde_type="stratonovich")
    y0 = torch.ones(64, 1, dtype=DT64)
    ts = torch.tensor([0.0, 1.0], dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(64, 1), entropy=5, dtype=DT64)
    exact = sde.exact(y0, bm(0.0, 1.0), 1.0)
    errors = []
    for tol in (1e-2, 1e-3, 1e-4):
        sol = solve_sde(sde, y0, ts, bm=bm, method="milstein", dt=0.1, adaptive=True, rtol=tol, atol=tol)
        errors.append((sol.ys[-1] - exact).abs().max().item())
        assert sol.stats.error_sum is not None and sol.stats.n_steps > 0
    assert errors[2] < errors[0] / 5, errors


@pytest.mark.parametrize("make,match", [
    (lambda: sdeint(GBM(), torch.ones(3), torch.tensor([0.0, 1.0])), r"shape \(batch, d\)"),
    (lambda: sdeint(GBM(), torch.ones(3, 2, dtype=DT64), torch.tensor([1.0, 0.0])), r"strictly increasing"),
    (lambda: sdeint(GBM(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0]), dt=0.0), r"dt must be"),
    (lambda: sdeint(GBM(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0]), method="heun"),
     r"'heun' solves stratonovich SDEs, not ito; for this SDE use one of euler, milstein, srk"),
    (lambda: sdeint(General(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0]), method="milstein"),
     r"does not support general noise"),
    (lambda: sdeint(GBM(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0]), method="rk4"), r"unknown method"),
    (lambda: sdeint(object(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0])), r"missing 'f'"),
    (lambda: sdeint(BadScalar(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0], dtype=DT64),
                    method="euler", bm=torchsde.BrownianInterval(0.0, 1.0, size=(3, 1), dtype=DT64)),
     r"sde.g returned shape \(3, 2\) for noise_type 'scalar', expected \(3, 2, 1\)"),
    (lambda: solve_sde(GBM(), torch.ones(3, 2, dtype=DT64), torch.tensor([0.0, 1.0]), method="euler", adjoint=True),
     r"reversible_heun"),
])
def test_bad_input_is_rejected(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_default_brownian_is_exact_on_the_grid_and_seeded():
    """Without bm, fixed-step solves draw dW ~ N(0, h) on their own grid from `seed`."""
    class Pure:
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t, y):
            return torch.zeros_like(y)

        def g(self, t, y):
            return torch.ones_like(y)

    y0 = torch.zeros(40_000, 1, dtype=DT64)
    ts = torch.tensor([0.0, 0.3, 1.0], dtype=DT64)
    a = solve_sde(Pure(), y0, ts, method="euler", dt=0.05, seed=11).ys
    b = solve_sde(Pure(), y0, ts, method="euler", dt=0.05, seed=11).ys
    c = solve_sde(Pure(), y0, ts, method="euler", dt=0.05, seed=12).ys
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Var W_t = t within 4 standard errors (sqrt(2/n) relative)
    for k, t in ((1, 0.3), (2, 1.0)):
        assert abs(a[k].var().item() / t - 1) < 4 * (2 / 40_000) ** 0.5
    # increments over disjoint intervals are uncorrelated
    corr = torch.corrcoef(torch.stack([a[1, :, 0], a[2, :, 0] - a[1, :, 0]]))[0, 1].item()
    assert abs(corr) < 4 / 40_000**0.5


def test_markov_fbm_through_sdeint_and_step_guard():
    from sciml.solvers import FractionalNoiseSDE, MarkovFBM

    class Pure:
        noise_type, sde_type = "diagonal", "stratonovich"

        def f(self, t, x):
            return torch.zeros_like(x)

        def g(self, t, x):
            return torch.ones_like(x)

    fbm = MarkovFBM(0.7, n_processes=5, gamma_max=20.0, kind="II", horizon=1.0)
    sde = FractionalNoiseSDE(Pure(), fbm)
    z0 = sde.initial_state(torch.zeros(20_000, 1, dtype=DT64))
    ts = torch.tensor([0.0, 0.5, 1.0], dtype=DT64)
    zs = sdeint(sde, z0, ts, method="heun", dt=0.01)
    x = sde.split(zs[-1])[0]
    # Var(B_hat_1) = fbm.variance(1) (~ 1 = t^2H); 20k paths: 4 standard errors ~ 4%
    assert abs(x.var().item() / fbm.variance(torch.tensor(1.0, dtype=DT64)).item() - 1) < 0.04
    with pytest.raises(ValueError, match="dt"):
        sdeint(sde, z0, ts, method="heun", dt=0.05)  # gamma_max * dt = 1 >= 0.5


def test_srk_strong_order_with_brownian_path_levy_area():
    """The same strong-order check with sciml's own BrownianPath (space-time Lévy area)."""
    from sciml.solvers import BrownianPath

    sde = GBM(mu=0.3, sigma=0.5)
    y0 = torch.ones(3000, 1, dtype=DT64)
    bm = BrownianPath(0.0, 1.0, (3000, 1), seed=5, dtype=DT64, levy_area=True)
    exact = sde.exact(y0, bm(0.0, 1.0), 1.0)
    errors = [(sdeint(sde, y0, torch.tensor([0.0, 1.0], dtype=DT64), bm=bm, method="srk", dt=1.0 / n)[-1]
               - exact).abs().mean().item() for n in (16, 32, 64, 128)]
    slope = -torch.tensor([math.log(e) for e in errors]).diff().mean().item() / math.log(2)
    assert abs(slope - 1.5) < 0.2, (slope, errors)


def test_adaptive_without_bm_uses_a_queryable_path():
    sde = GBM(mu=0.3, sigma=0.5, sde_type="stratonovich")
    sol = solve_sde(sde, torch.ones(32, 1, dtype=DT64), torch.tensor([0.0, 0.5, 1.0], dtype=DT64), method="heun",
                    dt=0.1, adaptive=True, rtol=1e-3, atol=1e-3, seed=4)
    again = solve_sde(sde, torch.ones(32, 1, dtype=DT64), torch.tensor([0.0, 0.5, 1.0], dtype=DT64), method="heun",
                      dt=0.1, adaptive=True, rtol=1e-3, atol=1e-3, seed=4)
    assert torch.equal(sol.ys, again.ys) and sol.stats.n_steps > 2


@pytest.mark.parametrize("method,sde_type", [("milstein", "ito"), ("srk", "ito"), ("heun", "stratonovich")])
def test_backprop_through_solver_matches_finite_differences(method, sde_type):
    """d/d sigma of E|Y_1|^2 on a fixed Brownian path, direct mode vs central differences."""
    sde = GBM(mu=0.3, sigma=0.5, sde_type=sde_type)
    y0 = torch.ones(16, 1, dtype=DT64)
    ts = torch.tensor([0.0, 1.0], dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(16, 1), entropy=9, dtype=DT64, levy_area_approximation="space-time")
    snap = Snapped.around(bm, 0.05)

    def loss():
        return sdeint(sde, y0, ts, bm=snap, method=method, dt=0.05)[-1].square().mean()

    (grad,) = torch.autograd.grad(loss(), [sde.sigma])
    eps = 1e-6
    with torch.no_grad():
        sde.sigma += eps
        up = loss()
        sde.sigma -= 2 * eps
        down = loss()
        sde.sigma += eps
    fd = (up - down) / (2 * eps)
    assert abs(grad.item() - fd.item()) < 1e-6 * max(1.0, abs(fd.item())), (grad.item(), fd.item())


def test_adaptive_heun_embedded_estimate_converges():
    """heun's embedded error (Heun minus its Euler predictor) drives the step size:
    tighter tolerances take more steps and land closer to the exact GBM."""
    sde = GBM(mu=0.3, sigma=0.5, sde_type="stratonovich")
    y0 = torch.ones(64, 1, dtype=DT64)
    ts = torch.tensor([0.0, 1.0], dtype=DT64)
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(64, 1), entropy=6, dtype=DT64)
    exact = sde.exact(y0, bm(0.0, 1.0), 1.0)
    runs = [solve_sde(sde, y0, ts, bm=bm, method="heun", dt=0.1, adaptive=True, rtol=tol, atol=tol)
            for tol in (1e-2, 1e-3, 1e-4)]
    errors = [(r.ys[-1] - exact).abs().max().item() for r in runs]
    steps = [r.stats.n_steps for r in runs]
    assert steps[0] < steps[1] < steps[2], steps
    assert errors[2] < errors[0] / 5, errors
    # each attempt costs two (f, g) pairs, no doubling
    assert runs[1].stats.nfe == 2 * (runs[1].stats.n_steps + runs[1].stats.n_rejected)


class _Pendulum:
    """dY = (sin Y - Y / 2) dt + 0.3 cos Y dW (diagonal noise): a fixed problem for step counts."""

    noise_type = "diagonal"

    def __init__(self, sde_type):
        self.sde_type = sde_type

    def f(self, t, y):
        return torch.sin(y) - 0.5 * y

    def g(self, t, y):
        return 0.3 * torch.cos(y)


@pytest.mark.parametrize("method,sde_type,counts", [
    ("euler", "ito", (14, 11, 75)),  # (accepted, rejected, nfe), measured before the loop used the controllers
    ("heun", "stratonovich", (22, 15, 74)),
])
def test_adaptive_sde_steps_come_from_the_controller_objects(method, sde_type, counts):
    """solve_sde(adaptive=True) picks its steps with the ODE core's controllers: the default
    (IController with safety 0.9, factors in [0.2, 10], growth allowed after a rejection)
    reproduces the counts of the hand-written I-controller it replaced, bit for bit, and
    other controllers change them."""
    y0 = torch.linspace(-1, 1, 6, dtype=DT64).reshape(3, 2)
    ts = torch.tensor([0.0, 0.4, 1.0], dtype=DT64)

    def run(controller=None):
        sol = solve_sde(_Pendulum(sde_type), y0, ts, method=method, adaptive=True, dt=0.05, rtol=1e-3, atol=1e-3,
                        seed=7, controller=controller)
        return sol, (sol.stats.n_steps, sol.stats.n_rejected, sol.stats.nfe)

    default, got = run()
    assert got == counts
    explicit, again = run(IController(safety=0.9, min_factor=0.2, max_factor=10.0, hold_after_reject=False))
    assert again == counts and torch.equal(default.ys, explicit.ys)
    assert run(IController(safety=0.5, hold_after_reject=False))[1] != counts
    assert run(IController())[1] != counts  # no growth right after a rejection
    assert run(PIController())[1] != counts
    with pytest.raises(TypeError, match="controller must be"):
        run("pi")
