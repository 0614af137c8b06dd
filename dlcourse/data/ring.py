"""Lab 25's toy data: a mixture of Gaussians on a ring, and the mode counter that scores samples of it.

The "8 Gaussians on a ring" is the standard 2-D test of mode collapse (Metz et al. 2017, "Unrolled
GANs"; Srivastava et al. 2017, "VEEGAN"): ``modes`` isotropic Gaussians of standard deviation ``std``
with centres evenly spaced on a circle of ``radius``, all equally likely. A generator that has
collapsed puts its samples on one or a few of them (003 §4.5.1).

Scoring (as in those papers): a sample is HIGH QUALITY if it lies within ``3 std`` of some centre; a mode
is COVERED if at least ``min_share`` of all samples lie within ``3 std`` of its centre. The notes give no
such numbers; the defaults (radius 2, ``std`` 0.05, ``min_share`` 0.02, a sixth of a fair 1/8) are
this package's.
"""

import numpy as np

__all__ = ["MODES", "RADIUS", "STD", "MIN_SHARE", "ring_centres", "ring_of_gaussians", "mode_statistics"]

MODES = 8
RADIUS = 2.0
STD = 0.05
MIN_SHARE = 0.02  # of ALL samples; a fair share is 1 / MODES = 0.125


def ring_centres(modes=MODES, radius=RADIUS):
    """``(modes, 2)`` centres at angles ``2 pi k / modes`` on the circle of ``radius`` (k = 0 at (radius, 0))."""
    if modes < 1 or radius <= 0:
        raise ValueError(f"need modes >= 1 and radius > 0; got {modes}, {radius}")
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(count, *, modes=MODES, radius=RADIUS, std=STD, seed=0):
    """``count`` float32 points ``(count, 2)`` and their int64 mode indices ``(count,)``.

    Mode ``i % modes`` for point ``i`` (each mode gets ``count // modes`` or one more), then shuffled, so
    every mode is equally represented; the same ``seed`` gives the same points.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % modes).astype("int64")
    points = ring_centres(modes, radius)[labels] + std * rng.standard_normal((count, 2))
    return points.astype("float32"), labels


def mode_statistics(samples, *, modes=MODES, radius=RADIUS, std=STD, min_share=MIN_SHARE):
    """Score ``(n, 2)`` samples against the ring: a dict with

    * ``modes_covered``: how many modes have at least ``min_share * n`` samples within ``3 std`` of their centre;
    * ``high_quality_share``: the share of samples within ``3 std`` of ANY centre;
    * ``counts``: samples within ``3 std`` of each centre (a list of ``modes`` ints).

    (The centres are at least ``2 radius sin(pi / modes)`` apart, 1.53 for the defaults, far more than
    ``6 std``, so no sample is near two centres.)
    """
    samples = np.asarray(samples, dtype="float64")
    if samples.ndim != 2 or samples.shape[1] != 2 or not len(samples):
        raise ValueError(f"samples must have shape (n, 2) with n >= 1; got {samples.shape}")
    distances = np.linalg.norm(samples[:, None, :] - ring_centres(modes, radius)[None], axis=2)  # (n, modes)
    near = distances <= 3.0 * std
    counts = near.sum(axis=0)
    return {"modes_covered": int(np.sum(counts >= min_share * len(samples))),
            "high_quality_share": float(np.mean(near.any(axis=1))),
            "counts": [int(count) for count in counts]}
