"""Poisson regression with two sets of fixed effects (PPML), for price responses.

``E[y_i] = exp(x_i' beta) x a[g_i] x b[h_i]``: one multiplicative effect per group ``g`` (a
store x product series) and per group ``h`` (a city x date). The effects are never put in the
design: for a given ``beta`` they solve their own score equations in closed form (alternating
``a = sum y / sum exp(x'beta) b`` and the same for ``b``), and the Newton step for ``beta``
uses the design with both effects partialled out (weighted alternating projections, Frisch-
Waugh-Lovell). Poisson pseudo-likelihood keeps zero-demand days and estimates responses of
the mean, not of the log. The covariance is the cluster-robust sandwich (clusters: products),
the one statsmodels gives for the same model with the effects as dummies (a test checks).

Kernels take contiguous arrays (design as (k, n): one row per regressor) and know nothing of
DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

TOL = 1e-9
MAX_NEWTON = 50
MAX_SWEEPS = 500


@nb.njit(cache=True)
def _effects(y, eta, g, n_g, h, n_h, a, b, tol, max_sweeps):
    """Solve the fixed effects for a linear predictor `eta` (in place in `a`, `b`)."""
    n = len(y)
    e = np.exp(eta)
    yg = np.zeros(n_g)
    yh = np.zeros(n_h)
    for i in range(n):
        yg[g[i]] += y[i]
        yh[h[i]] += y[i]
    for _ in range(max_sweeps):
        sg = np.zeros(n_g)
        for i in range(n):
            sg[g[i]] += e[i] * b[h[i]]
        for j in range(n_g):
            a[j] = yg[j] / sg[j] if sg[j] > 0 else 0.0
        sh = np.zeros(n_h)
        for i in range(n):
            sh[h[i]] += e[i] * a[g[i]]
        change = 0.0
        for j in range(n_h):
            new = yh[j] / sh[j] if sh[j] > 0 else 0.0
            if b[j] > 0:
                change = max(change, abs(new / b[j] - 1.0))
            b[j] = new
        if change < tol:
            break
    mu = np.empty(n)
    for i in range(n):
        mu[i] = e[i] * a[g[i]] * b[h[i]]
    return mu


@nb.njit(cache=True, parallel=True)
def _partial_out(X, w, g, n_g, h, n_h, tol, max_sweeps):
    """Each row of X (k, n) minus its `w`-weighted projection on both sets of effects
    (computed in float64, stored as X's type)."""
    k, n = X.shape
    out = np.empty_like(X)
    wg = np.zeros(n_g)
    wh = np.zeros(n_h)
    for i in range(n):
        wg[g[i]] += w[i]
        wh[h[i]] += w[i]
    for j in nb.prange(k):
        x = X[j].astype(np.float64)
        scale = 0.0
        for i in range(n):
            scale = max(scale, abs(x[i]))
        for _ in range(max_sweeps):
            sg = np.zeros(n_g)
            for i in range(n):
                sg[g[i]] += w[i] * x[i]
            for i in range(n):
                if wg[g[i]] > 0:
                    x[i] -= sg[g[i]] / wg[g[i]]
            sh = np.zeros(n_h)
            for i in range(n):
                sh[h[i]] += w[i] * x[i]
            change = 0.0
            for q in range(n_h):
                if wh[q] > 0:
                    change = max(change, abs(sh[q] / wh[q]))
            for i in range(n):
                if wh[h[i]] > 0:
                    x[i] -= sh[h[i]] / wh[h[i]]
            if change <= tol * max(scale, 1e-300):
                break
        for i in range(n):
            out[j, i] = x[i]
    return out


@nb.njit(cache=True)
def _score_and_information(X, Xt, y, mu):
    """Gradient X (y - mu) (the effects' own scores are zero at `mu`) and information
    X~ diag(mu) X~' of the profile likelihood, accumulated in float64."""
    k, n = Xt.shape
    grad = np.zeros(k)
    info = np.zeros((k, k))
    for i in range(n):
        r = y[i] - mu[i]
        for p in range(k):
            grad[p] += X[p, i] * r
            wp = np.float64(Xt[p, i]) * mu[i]
            for q in range(p + 1):
                info[p, q] += wp * Xt[q, i]
    for p in range(k):
        for q in range(p):
            info[q, p] = info[p, q]
    return grad, info


@nb.njit(cache=True)
def _cluster_scores(Xt, y, mu, cluster, n_clusters):
    k, n = Xt.shape
    out = np.zeros((n_clusters, k))
    for i in range(n):
        r = y[i] - mu[i]
        for p in range(k):
            out[cluster[i], p] += Xt[p, i] * r
    return out


@nb.njit(cache=True)
def _loglik(y, mu):
    s = 0.0
    for i in range(len(y)):
        if mu[i] > 0:
            if y[i] > 0:
                s += y[i] * np.log(mu[i])
            s -= mu[i]
    return s


@nb.njit(cache=True, parallel=True)
def _linear(X, beta):
    """X' beta in float64."""
    k, n = X.shape
    out = np.zeros(n)
    for i in nb.prange(n):
        s = 0.0
        for p in range(k):
            s += beta[p] * X[p, i]
        out[i] = s
    return out


@dataclass
class PoissonFit:
    coef: np.ndarray  # (k,) responses of log E[y] to each regressor
    cov: np.ndarray  # (k, k) cluster-robust covariance of `coef`
    mu: np.ndarray  # (n,) fitted means
    a: np.ndarray  # (n_g,) first effects (multiplicative)
    b: np.ndarray  # (n_h,) second effects
    iterations: int
    n_clusters: int

    @property
    def std_error(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def poisson_two_way(X, y, g, h, cluster) -> PoissonFit:
    """Fit ``E[y] = exp(X' beta) a[g] b[h]`` by Poisson pseudo-likelihood.

    X : (k, n) regressors (kept as float32: a tenth of a percent of a log price is below what
    any price response is known to); y : (n,) outcomes >= 0; g, h : (n,) group indices 0..n_g-1, 0..n_h-1;
    cluster : (n,) cluster indices (each g inside one cluster) for the robust covariance,
    scaled by G / (G - 1). Groups whose outcomes are all zero have effect 0 and no weight."""
    X = np.ascontiguousarray(X, np.float32)
    y = np.ascontiguousarray(y, np.float64)
    g, h, cluster = (np.ascontiguousarray(v, np.int64) for v in (g, h, cluster))
    n_g, n_h, n_c = int(g.max()) + 1, int(h.max()) + 1, int(cluster.max()) + 1
    k = X.shape[0]
    beta = np.zeros(k)
    a, b = np.ones(n_g), np.ones(n_h)
    mu = _effects(y, _linear(X, beta), g, n_g, h, n_h, a, b, TOL, MAX_SWEEPS)
    ll = _loglik(y, mu)
    it = 0
    for it in range(1, MAX_NEWTON + 1):
        Xt = _partial_out(X, mu, g, n_g, h, n_h, TOL, MAX_SWEEPS)
        grad, info = _score_and_information(X, Xt, y, mu)
        step = np.linalg.solve(info, grad)
        for _ in range(30):  # halve a step that lowers the likelihood
            a2, b2 = a.copy(), b.copy()
            mu2 = _effects(y, _linear(X, beta + step), g, n_g, h, n_h, a2, b2, TOL, MAX_SWEEPS)
            ll2 = _loglik(y, mu2)
            if ll2 >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, a, b, mu, ll = beta + step, a2, b2, mu2, ll2
        if np.max(np.abs(step)) < 1e-8:
            break
    Xt = _partial_out(X, mu, g, n_g, h, n_h, TOL, MAX_SWEEPS)
    _, info = _score_and_information(X, Xt, y, mu)
    bread = np.linalg.inv(info)
    scores = _cluster_scores(Xt, y, mu, cluster, n_c)
    used = np.unique(cluster[mu > 0])
    G = len(used)
    meat = scores.T @ scores * (G / max(G - 1, 1))
    return PoissonFit(beta, bread @ meat @ bread, mu, a, b, it, G)
