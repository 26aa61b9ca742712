r"""McDonald's omega: one-factor omega total and Schmid–Leiman omega hierarchical.

The steps are those of ``psych::omega`` with its defaults (Revelle, 2024):

1. the correlation matrix (``cor(x, use="pairwise")`` for raw data);
2. a minimum-residual (minres) factor analysis with ``nfactors`` factors, rotated by
   varimax (``stats::varimax``) and then by direct oblimin (GPArotation's gradient
   projection ``GPFoblq`` with :math:`\gamma = 0`, started at the varimax solution);
3. a one-factor minres analysis of the factor correlations :math:`\Phi` gives the general
   loadings :math:`g` of the factors (for two factors :math:`\sqrt{|\phi_{12}|}` each, psych's
   ``option="equal"``); the items' general loadings are :math:`F g` and their group loadings
   :math:`F_j \sqrt{1 - g_j^2}` (Schmid & Leiman, 1957);
4. items whose general loading is negative are reversed (psych's ``flip=TRUE``) unless the
   keys are known (an instrument or ``reverse=``), and

.. math::

    \omega_h = \frac{(\sum_i g_i)^2}{\mathbf 1^\top R \mathbf 1}, \qquad
    \omega_t = \frac{\mathbf 1^\top R \mathbf 1 - \sum_i u_i^2}{\mathbf 1^\top R \mathbf 1}

with :math:`u_i^2 = 1 - h_i^2` the uniquenesses of the ``nfactors`` solution. With one factor
:math:`\omega_t` is McDonald's omega total of the congeneric model.

The minres fit minimises the concentrated unweighted least-squares criterion
:math:`\tfrac12\lVert R - \Psi - \Lambda\Lambda^\top\rVert^2` over the uniquenesses
:math:`\Psi \in [0.005, \max(1, \mathrm{smc})]` (L-BFGS-B with the exact gradient
:math:`-\mathrm{diag}(R - \Psi - \Lambda\Lambda^\top)`); at an interior optimum this is the
minres solution psych finds. Results agree with psych to about 1e-4 (psych 2.2.9; checked on
simulated data with two to five factors and missing answers, and on ``psych::bfi``). On a
singular correlation matrix (an item duplicated, or the exact reverse of another), where
psych warns that it smoothed the matrix, the difference reached 4e-4. At an ultra-Heywood
case (an item's communality or a factor's general loading above 1, where psych's ``fa``
warns), the two fits stop at different points of the bound and omega differed by up to
5e-3 (``psychTools::epi.bfi`` with four factors); the result's ``note`` says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from screening.instruments import Instrument
from screening.scoring._frames import (
    ItemMatrix,
    PsychometricInputError,
    item_matrix,
    resolve_instrument,
)
from screening.scoring._moments import Moments
from screening.scoring.reliability import (
    MissingPolicy,
    _matrix_moments,
    _policy,
    _scales,
    smc,
)

PSI_LOWER = 0.005

OMEGA_SCHEMA = {
    "scale": pl.String,
    "n": pl.Int64,
    "n_items": pl.Int64,
    "nfactors": pl.Int64,
    "omega_total": pl.Float64,
    "omega_h": pl.Float64,
    "omega_t": pl.Float64,
    "omega_lim": pl.Float64,
    "ecv": pl.Float64,
    "alpha_std": pl.Float64,
    "note": pl.String,
}


class OmegaIdentificationWarning(UserWarning):
    """The Schmid–Leiman model asked for is not identified, or its fit is improper (a Heywood
    case): omega_h is to be read with care."""


def degrees_of_freedom(p: int, nfactors: int) -> int:
    r"""Degrees of freedom of a ``nfactors``-factor model of ``p`` items (psych's ``dof``).

    .. math:: \mathrm{df} = \frac{p(p-1)}{2} - p\,k + \frac{k(k-1)}{2}
              = \frac{(p-k)^2 - (p+k)}{2}
    """
    return (p * (p - 1)) // 2 - p * nfactors + (nfactors * (nfactors - 1)) // 2


def identification_note(p: int, nfactors: int) -> str | None:
    """Why the ``nfactors``-factor omega of ``p`` items is not identified (None when it is)."""
    if nfactors < 2 or p <= nfactors:
        return None
    dof = degrees_of_freedom(p, nfactors)
    if dof < 0:
        most = max(k for k in range(1, p) if degrees_of_freedom(p, k) >= 0)
        fewer = f"nfactors={most} or fewer, or " if most > 1 else ""
        return (
            f"A {nfactors}-factor model of {p} items is not identified ({dof} degrees of "
            "freedom: more loadings than correlations), so many loadings fit equally well and "
            "omega_h, omega_t, omega_lim and ecv depend on the one the fit finds (psych may "
            f"find another). Use {fewer}nfactors=1 and read omega_total only."
        )
    if nfactors == 2:
        return (
            "Three factors are required for identification of the general factor; with two, "
            "their general loadings are set equal (psych's option='equal'). Read omega_h "
            "with caution."
        )
    return None


#: Two factor correlations this close to 0 leave a three-factor general factor undetermined.
NEAR_ZERO_PHI = 0.05


def general_factor_note(phi: np.ndarray) -> str | None:
    r"""Why the general factor of a three-factor solution is not determined (None when it is).

    With three group factors the general loadings follow exactly from the three factor
    correlations (:math:`g_2^2 = \phi_{12}\phi_{23}/\phi_{13}`): where two of them are
    near 0, their ratio, and so the loadings, is barely fixed, and many general loadings
    fit almost equally well (the one psych's ``fa`` finds then differs from this fit's).
    """
    if phi.shape != (3, 3):
        return None
    between = phi[np.triu_indices(3, 1)]
    if np.sum(np.abs(between) < NEAR_ZERO_PHI) < 2:
        return None
    shown = ", ".join(f"{v:.2f}" for v in between)
    return (
        f"The general factor is not determined: the correlations of the three group factors "
        f"are {shown}, and with two near 0 many general loadings fit almost equally well, "
        "so omega_h depends on the one the fit finds (psych may find another). Read "
        "omega_t, or try another nfactors."
    )


def _named(positions: np.ndarray, names: Sequence[str] | None, what: str) -> str:
    """``item 3`` / ``items 'a', 'b'``: positions by name where known, else numbered from 1."""
    shown = [repr(names[j]) if names is not None else str(j + 1) for j in positions]
    return f"{what}{'s' if len(shown) > 1 else ''} {', '.join(shown)}"


def heywood_note(
    items: np.ndarray, factors: np.ndarray, names: Sequence[str] | None = None
) -> str | None:
    """Why the fit is improper: an ultra-Heywood case (None when there is none).

    Parameters
    ----------
    items : int array
        Positions of the items whose communality exceeds 1 (a negative uniqueness).
    factors : int array
        Positions of the group factors whose general loading exceeds 1 (in the factor
        analysis of the factor correlations).
    names : list of str, optional
        Item names; without them items are numbered from 1.
    """
    where = []
    if len(items):
        where.append(f"the communality of {_named(items, names, 'item')} exceeds 1")
    if len(factors):
        where.append(f"the general loading of {_named(factors, None, 'group factor')} exceeds 1")
    if not where:
        return None
    return (
        f"An ultra-Heywood case: {' and '.join(where)} (a uniqueness at its lower bound "
        f"{PSI_LOWER}), so the solution is improper and omega depends on how the fit treats "
        "the bound; psych's fa warns here too and stops elsewhere on the bound, and the two "
        "may differ by 1e-2. Look for items that nearly repeat others, or try fewer factors."
    )


# ---------------------------------------------------------------------------------------------
# correlations from moments


def pairwise_correlation(m: Moments) -> np.ndarray:
    r"""R's ``cor(x, use="pairwise")`` of every group, shape (G, p, p).

    Each pair uses its own complete rows for the means and standard deviations:

    .. math:: r_{jk} = \frac{n S_{jk} - S_j S_k}
                            {\sqrt{(n Q_j - S_j^2)(n Q_k - S_k^2)}}

    with sums over the rows where both items are present. Pairs with fewer than two rows
    or without variance are NaN.
    """
    n = m.pair[:, 0]
    s = m.pair[:, 1]
    q = m.pair[:, 2]
    st = np.swapaxes(s, 1, 2)
    qt = np.swapaxes(q, 1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (n * m.pair[:, 3] - s * st) / np.sqrt((n * q - s**2) * (n * qt - st**2))
    r[n < 2] = np.nan
    idx = np.arange(r.shape[-1])
    diag = r[:, idx, idx]
    r[:, idx, idx] = np.where(np.isfinite(diag), 1.0, np.nan)
    return r


# ---------------------------------------------------------------------------------------------
# factor analysis


def _top_loadings(s: np.ndarray, nfactors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(s)
    values, vectors = values[::-1], vectors[:, ::-1]
    loadings = vectors[:, :nfactors] * np.sqrt(np.maximum(values[:nfactors], 0.0))
    return loadings, values, vectors


def minres(r: np.ndarray, nfactors: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-residual factor analysis of a correlation matrix.

    Parameters
    ----------
    r : array (p, p)
        Correlation matrix.
    nfactors : int
        Number of factors.

    Returns
    -------
    loadings : array (p, nfactors)
        Unrotated loadings, each column's sum made positive (psych's convention).
    psi : array (p,)
        Uniquenesses.
    """
    r = np.asarray(r, dtype=np.float64)
    p = r.shape[0]
    start_smc = smc(r[None])[0]
    upper = max(1.0, float(np.nanmax(start_smc)))
    start = np.clip(1.0 - start_smc, PSI_LOWER, upper)

    def objective(psi: np.ndarray) -> tuple[float, np.ndarray]:
        reduced = r - np.diag(psi)
        loadings, _, _ = _top_loadings(reduced, nfactors)
        residual = reduced - loadings @ loadings.T
        return 0.5 * float(np.sum(residual**2)), -np.diag(residual).copy()

    fit = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(PSI_LOWER, upper)] * p,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
    )
    psi = fit.x
    loadings, _, _ = _top_loadings(r - np.diag(psi), nfactors)
    signs = np.sign(loadings.sum(axis=0))
    signs[signs == 0] = 1.0
    loadings = loadings * signs
    loadings[loadings == 0] = 1e-15
    return loadings, psi


def varimax(loadings: np.ndarray, normalize: bool = True, eps: float = 1e-5) -> np.ndarray:
    """Kaiser's varimax rotation, as R's ``stats::varimax``."""
    x = np.asarray(loadings, dtype=np.float64)
    p, k = x.shape
    if k < 2:
        return x.copy()
    sc = np.sqrt((x**2).sum(axis=1)) if normalize else np.ones(p)
    x = x / sc[:, None]
    rot = np.eye(k)
    d = 0.0
    for _ in range(1000):
        z = x @ rot
        b = x.T @ (z**3 - z @ np.diag((z**2).sum(axis=0)) / p)
        u, sv, vt = np.linalg.svd(b)
        rot = u @ vt
        d_past, d = d, float(sv.sum())
        if d < d_past * (1 + eps):
            break
    return (x @ rot) * sc[:, None]


def _oblimin_criterion(lam: np.ndarray) -> tuple[float, np.ndarray]:
    k = lam.shape[1]
    x = (lam**2) @ (1.0 - np.eye(k))
    return float(np.sum(lam**2 * x) / 4.0), lam * x


def oblimin(
    loadings: np.ndarray, eps: float = 1e-5, maxit: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Direct oblimin (quartimin, gamma 0) by gradient projection, as GPArotation's GPFoblq.

    Returns the rotated pattern loadings and the factor correlations.
    """
    a = np.asarray(loadings, dtype=np.float64)
    k = a.shape[1]
    t = np.eye(k)
    step = 1.0
    lam = a @ np.linalg.inv(t).T
    f, gq = _oblimin_criterion(lam)
    g = -(lam.T @ gq @ np.linalg.inv(t)).T
    for _ in range(maxit + 1):
        gp = g - t @ np.diag(np.sum(t * g, axis=0))
        s = float(np.sqrt(np.sum(gp**2)))
        if s < eps:
            break
        step *= 2.0
        for _ in range(11):
            x = t - step * gp
            t_new = x / np.sqrt(np.sum(x**2, axis=0))
            lam = a @ np.linalg.inv(t_new).T
            f_new, gq = _oblimin_criterion(lam)
            if f - f_new > 0.5 * s**2 * step:
                break
            step /= 2.0
        t = t_new
        f = f_new
        g = -(lam.T @ gq @ np.linalg.inv(t)).T
    return lam, t.T @ t


def schmid(r: np.ndarray, nfactors: int = 3) -> dict[str, np.ndarray]:
    """Schmid–Leiman transformation of an oblimin-rotated minres solution (``psych::schmid``).

    Returns
    -------
    dict
        ``g`` (general loadings of the items), ``groups`` (group-factor loadings),
        ``h2`` and ``u2`` (communalities and uniquenesses of the ``nfactors`` solution),
        ``phi`` (factor correlations), ``gload`` (general loadings of the factors), and
        ``heywood_items`` and ``heywood_factors``: the positions of the items whose
        communality exceeds 1 and of the factors whose general loading does (where psych's
        ``fa`` warns of an ultra-Heywood case).
    """
    loadings, _ = minres(r, nfactors)
    orth = varimax(loadings) if nfactors > 1 else loadings
    signs = np.sign(orth.sum(axis=0))
    signs[signs == 0] = 1.0
    orth = orth * signs
    if nfactors == 1:
        fload, phi, gload = orth, np.ones((1, 1)), np.ones(1)
    else:
        fload, phi = oblimin(orth)
        if nfactors > 2:
            gl, _ = minres(phi, 1)
            gload = gl[:, 0]
        else:  # two factors: equal general loadings (option="equal")
            root = np.sqrt(abs(phi[0, 1]))
            gload = np.array([root, np.sign(phi[0, 1]) * root])
    g = fload @ gload
    h2 = np.sum(orth**2, axis=1)
    u2 = np.diag(r) - h2
    uniq = np.diag(r)[:, None] - fload**2
    primeload = fload * gload[None, :]
    uniq2 = np.clip(np.diag(r)[:, None] - uniq - primeload**2, 0.0, None)
    groups = np.sign(fload) * np.sqrt(uniq2)
    return {
        "g": g,
        "groups": groups,
        "h2": h2,
        "u2": u2,
        "phi": phi,
        "gload": gload,
        "heywood_items": np.flatnonzero(u2 < 0),
        "heywood_factors": np.flatnonzero(np.abs(gload) > 1),
    }


def omega_from_correlation(
    r: np.ndarray, nfactors: int = 3, keys: np.ndarray | None = None
) -> dict[str, float]:
    """Omega hierarchical and total of a correlation matrix (``psych::omega``).

    Parameters
    ----------
    r : array (p, p)
        Correlation matrix (no missing entries).
    nfactors : int
        Factors of the Schmid–Leiman solution; 1 gives the one-factor omega total.
    keys : array of +1/-1, optional
        Known item keys, applied first (psych's ``key=``); otherwise items with a negative
        general loading are reversed (psych's ``flip=TRUE``).

    Returns
    -------
    dict
        ``omega_h``, ``omega_t``, ``omega_lim`` (:math:`\\omega_h / \\omega_t` of the common
        variance), ``ecv`` (explained common variance of the general factor),
        ``alpha_std`` (standardised alpha of the keyed matrix) and ``note`` (why the general
        factor is not determined, as :func:`general_factor_note`, or why the fit is improper,
        as :func:`heywood_note`; None when neither).
    """
    nfactors = _check_nfactors(nfactors)
    r = np.asarray(r, dtype=np.float64)
    note = identification_note(r.shape[0], nfactors)
    if note:
        warnings.warn(note, OmegaIdentificationWarning, stacklevel=2)
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only cost
        result = _omega(r, nfactors, keys)
    if result["note"] and not note:
        warnings.warn(result["note"], OmegaIdentificationWarning, stacklevel=2)
    return result


def _omega(
    r: np.ndarray,
    nfactors: int,
    keys: np.ndarray | None,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    p = r.shape[0]
    if r.ndim != 2 or r.shape != (p, p) or not np.isfinite(r).all():
        raise PsychometricInputError(
            "Omega needs a square correlation matrix without missing entries; some pair of "
            "items has too few rows in common or no variance."
        )
    if not 1 <= nfactors < p:
        raise PsychometricInputError(
            f"nfactors must be between 1 and {p - 1} for {p} items; got {nfactors}."
        )
    if keys is not None:
        k = np.asarray(keys, dtype=np.float64)
        r = r * np.outer(k, k)
    sl = schmid(r, nfactors)
    if keys is None:
        flip = np.sign(sl["g"])
        flip[flip == 0] = 1.0
        if flip.sum() < p:
            r = r * np.outer(flip, flip)
            sl["g"] = sl["g"] * flip
            sl["groups"] = sl["groups"] * flip[:, None]
    vt = float(r.sum())
    gsq = float(sl["g"].sum() ** 2)
    uniq = float(sl["u2"].sum())
    ev = np.sum(sl["g"] ** 2) + np.sum(sl["groups"] ** 2)
    return {
        "omega_h": gsq / vt,
        "omega_t": (vt - uniq) / vt,
        "omega_lim": gsq / (vt - uniq),
        "ecv": float(np.sum(sl["g"] ** 2) / ev) if nfactors > 1 else 1.0,
        "alpha_std": (vt - float(np.trace(r))) / vt * p / (p - 1),
        "note": _joined(
            general_factor_note(sl["phi"]),
            heywood_note(sl["heywood_items"], sl["heywood_factors"], names),
        ),
    }


def _joined(*notes: str | None) -> str | None:
    """The notes given, in one text (None when there is none)."""
    return " ".join(n for n in notes if n) or None


# ---------------------------------------------------------------------------------------------
# front


def _is_correlation(data: Any) -> bool:
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[0] != data.shape[1]:
        return False
    x = data.astype(np.float64)
    return bool(
        np.isfinite(x).all()
        and np.allclose(x, x.T)
        and np.allclose(np.diag(x), 1.0)
        and np.all(np.abs(x) <= 1.0 + 1e-12)
    )


def _keys(matrix: ItemMatrix, known: bool) -> np.ndarray | None:
    # the moment kernel has already reversed the keyed items: keep them, flip nothing
    return np.ones(len(matrix.names)) if known else None


def mcdonald_omega(
    data: Any,
    items: Sequence[str] | None = None,
    *,
    nfactors: int = 3,
    instrument: Instrument | str | None = None,
    scale: str | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    missing: MissingPolicy = "pairwise",
) -> pl.DataFrame:
    r"""McDonald's omega: one-factor omega total and Schmid–Leiman omega hierarchical.

    Parameters
    ----------
    data : polars.DataFrame, pandas.DataFrame or numpy.ndarray
        Raw answers, or a correlation matrix (a square symmetric numpy array with a unit
        diagonal).
    items, instrument, scale, reverse
        As in :func:`screening.scoring.cronbach_alpha`. Known keys are applied to the
        correlations first; without keys, items with a negative general loading are
        reversed, as psych does.
    nfactors : int
        Group factors of the Schmid–Leiman solution (psych's default 3). Scales with
        ``nfactors`` or fewer items get only the one-factor omega total.
    missing : {"pairwise", "listwise"}
        Correlations from pairwise-complete rows (R's ``cor(use="pairwise")``) or from the
        complete rows.

    Returns
    -------
    polars.DataFrame
        One row per scale: ``n`` (rows used; null for a correlation matrix), ``n_items``,
        ``nfactors``, ``omega_total`` (one-factor minres, ``psych::omega(x, nfactors=1)``'s
        ``omega.tot``), ``omega_h`` and ``omega_t`` (Schmid–Leiman with ``nfactors``),
        ``omega_lim``, ``ecv``, ``alpha_std`` (standardised alpha of the correlations) and
        ``note``: why the ``nfactors`` model is not identified, when it is not, or why a fit
        is improper (an ultra-Heywood case, :func:`heywood_note`), also given as an
        :class:`OmegaIdentificationWarning`; else null.

    Warns
    -----
    OmegaIdentificationWarning
        When the model has negative degrees of freedom (e.g. 4 items with two factors, 5
        items with three: the loadings are not unique) or two factors (the general loadings
        are set equal), as psych's "Three factors are required for identification"; and at
        an ultra-Heywood case, as psych's "An ultra-Heywood case was detected".

    Notes
    -----
    See the module docstring for the steps. With general loadings :math:`g_i` and
    uniquenesses :math:`u_i^2`:

    .. math::

        \omega_h = \frac{(\sum_i g_i)^2}{\mathbf 1^\top R \mathbf 1}, \qquad
        \omega_t = 1 - \frac{\sum_i u_i^2}{\mathbf 1^\top R \mathbf 1}.

    References
    ----------
    .. [1] McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    .. [2] Schmid, J., & Leiman, J. M. (1957). The development of hierarchical factor
       solutions. Psychometrika, 22(1), 53–61.
    .. [3] Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha,
       Revelle's beta, and McDonald's omega_h. Psychometrika, 70(1), 123–133.
    .. [4] Jennrich, R. I. (2002). A simple general method for oblique rotation.
       Psychometrika, 67(1), 7–19.
    .. [5] Revelle, W. (2024). psych (``omega``, ``schmid``, ``fa``). R package.
    """
    nfactors = _check_nfactors(nfactors)
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only cost
        return _mcdonald_omega(data, items, nfactors, instrument, scale, reverse, missing)


def _check_nfactors(nfactors: Any) -> int:
    """A positive whole number of factors (an integral float such as 2.0 is taken)."""
    whole = isinstance(nfactors, (int, np.integer)) and not isinstance(nfactors, bool)
    if isinstance(nfactors, (float, np.floating)) and float(nfactors).is_integer():
        whole = True
    if not whole or nfactors < 1:
        raise PsychometricInputError(
            f"nfactors must be a whole number of group factors, 1 or more (psych's default "
            f"is 3); got {nfactors!r}."
        )
    return int(nfactors)


def _mcdonald_omega(
    data: Any,
    items: Sequence[str] | None,
    nfactors: int,
    instrument: Instrument | str | None,
    scale: str | None,
    reverse: Any,
    missing: MissingPolicy,
) -> pl.DataFrame:
    rows = []
    if _is_correlation(data):
        if instrument is not None or scale is not None:
            raise PsychometricInputError("A correlation matrix takes no instrument or scale.")
        keys = None
        if reverse is not None:
            flags = np.asarray(reverse)
            if flags.dtype != bool or flags.shape != (data.shape[0],):
                raise PsychometricInputError(
                    "With a correlation matrix give reverse= as one boolean per item."
                )
            keys = np.where(flags, -1.0, 1.0)
        rows.append(_omega_row(None, None, np.asarray(data, dtype=np.float64), nfactors, keys))
    else:
        listwise = _policy(missing)
        inst = resolve_instrument(instrument)
        matrix = item_matrix(data, items, instrument=inst, reverse=reverse)
        known = inst is not None or reverse is not None
        for scale_id, sub in _scales(matrix, inst, scale):
            m = _matrix_moments(sub, listwise)
            r = pairwise_correlation(m)[0]
            problems = _unusable(m, r, sub.names)
            if problems:
                of = f" of scale {scale_id!r}" if scale_id is not None else ""
                raise PsychometricInputError(
                    f"Omega needs the correlation of every pair of items{of}: "
                    f"{'; '.join(problems)}. Leave such items out (items=[...]) or add rows "
                    "that answer them."
                )
            rows.append(
                _omega_row(scale_id, int(m.rows[0, 1]), r, nfactors, _keys(sub, known), sub.names)
            )
    return pl.DataFrame(rows, schema=OMEGA_SCHEMA, orient="row")


def _unusable(m: Moments, r: np.ndarray, names: list[str]) -> list[str]:
    """The items (or else pairs of items) whose correlations cannot be computed.

    An item without variance is one whose sum of squared deviations is zero, or below the
    rounding residue of float answers (relative 1e-12, as in item statistics): its
    correlations would be rounding noise, not NaN.
    """
    n = m.pair[0, 0]
    problems = []
    for j, name in enumerate(names):
        count, total, squares = int(n[j, j]), m.pair[0, 1, j, j], m.pair[0, 2, j, j]
        if count == 0:
            problems.append(f"item {name!r} has no answers")
        elif count == 1:
            problems.append(f"item {name!r} has one answer")
        elif squares * count - total**2 <= 1e-12 * squares * count:
            problems.append(f"item {name!r} has no variance (every answer is {total / count:g})")
    if problems:
        return problems
    for j, k in zip(*np.nonzero(np.triu(~np.isfinite(r), 1)), strict=True):
        problems.append(
            f"items {names[j]!r} and {names[k]!r} are answered together in {int(n[j, k])} "
            "rows, or do not vary there"
        )
    return problems[:5]


def _omega_row(
    scale_id: str | None,
    n: int | None,
    r: np.ndarray,
    nfactors: int,
    keys: np.ndarray | None,
    names: Sequence[str] | None = None,
) -> tuple:
    p = r.shape[0]
    one = _omega(r, 1, keys, names)
    of = f"Scale {scale_id!r}: " if scale_id is not None else ""
    if p > nfactors >= 2:
        many = _omega(r, nfactors, keys, names)
        note = _joined(
            identification_note(p, nfactors) or many["note"],
            one["note"] and f"omega_total (one factor): {one['note']}",
        )
        if note:
            warnings.warn(of + note, OmegaIdentificationWarning, stacklevel=4)
        return (
            scale_id,
            n,
            p,
            nfactors,
            one["omega_t"],
            many["omega_h"],
            many["omega_t"],
            many["omega_lim"],
            many["ecv"],
            many["alpha_std"],
            note,
        )
    if one["note"]:
        warnings.warn(of + one["note"], OmegaIdentificationWarning, stacklevel=4)
    return (
        scale_id,
        n,
        p,
        1,
        one["omega_t"],
        one["omega_h"],
        one["omega_t"],
        one["omega_lim"],
        1.0,
        one["alpha_std"],
        one["note"],
    )


__all__ = [
    "OmegaIdentificationWarning",
    "degrees_of_freedom",
    "general_factor_note",
    "heywood_note",
    "identification_note",
    "mcdonald_omega",
    "minres",
    "oblimin",
    "omega_from_correlation",
    "pairwise_correlation",
    "schmid",
    "varimax",
]
