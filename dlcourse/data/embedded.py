"""Embedded image datasets: no download, generated on the fly, deterministic, memoised.

- ``digits``: scikit-learn's bundled real handwritten digits (1797 images of 8x8, values 0..16),
  scaled to 0..255 and resized with Pillow to 28x28x1 uint8 so MNIST models take them unchanged;
  a stratified 80/20 split (1437 train / 360 test). Stand-in for MNIST and Fashion-MNIST.
- ``shapes``: Pillow-drawn 32x32x3 uint8 images of 10 shape classes with random position, size,
  rotation, colour (bright, any hue), background (darker, any hue) and pixel noise (2000 train /
  500 test); CIFAR-shaped, so the CIFAR-10 and transfer-learning labs run on it. Small shapes and
  similar classes (circle, hexagon, ring; square, diamond; cross, plus) keep it from being
  trivially solved: a small CNN reaches about 50% test accuracy after 4 epochs, about 75% after 10.
"""

import functools
import math

import numpy as np

DIGITS_CLASSES = tuple(str(digit) for digit in range(10))
SHAPES_CLASSES = ("circle", "square", "triangle", "diamond", "hexagon", "star", "cross", "plus",
                  "ring", "bar")
SHAPES_SIZES = {"train": 2000, "test": 500}
SHAPES_SEEDS = {"train": 20240, "test": 20241}
_SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def _digits():
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    resized = np.stack([np.asarray(Image.fromarray(image).resize((28, 28), Image.BILINEAR))
                        for image in images])[..., None]  # (1797, 28, 28, 1)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        resized, labels, test_size=0.2, stratify=labels, random_state=_SPLIT_SEED)
    return {"train": (x_train, y_train), "test": (x_test, y_test)}


def load_digits(split="train"):
    """``(x, y)``: x (N, 28, 28, 1) uint8 in 0..255, y int64 in 0..9 (N = 1437 train, 360 test)."""
    x, y = _digits()[split]
    return x.copy(), y.copy()


def _polygon(center, radius, sides, rotation, inner=None):
    """Vertices of a regular polygon (or a star when ``inner`` radius is given)."""
    points = []
    count = sides * 2 if inner else sides
    for k in range(count):
        r = inner if inner and k % 2 else radius
        angle = rotation + 2 * math.pi * k / count
        points.append((center[0] + r * math.cos(angle), center[1] + r * math.sin(angle)))
    return points


def _draw_shape(draw, shape, center, radius, rotation, colour, background):
    cx, cy = center
    width = max(2, int(round(radius * 0.45)))
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif shape == "ring":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
        hole = radius * 0.55
        draw.ellipse([cx - hole, cy - hole, cx + hole, cy + hole], fill=background)
    elif shape == "square":
        draw.polygon(_polygon(center, radius * 1.2, 4, rotation * 0.3 + math.pi / 4), fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, cy - radius * 1.2), (cx + radius * 0.75, cy), (cx, cy + radius * 1.2),
                      (cx - radius * 0.75, cy)], fill=colour)
    elif shape == "triangle":
        draw.polygon(_polygon(center, radius * 1.15, 3, rotation), fill=colour)
    elif shape == "hexagon":
        draw.polygon(_polygon(center, radius * 1.05, 6, rotation), fill=colour)
    elif shape == "star":
        draw.polygon(_polygon(center, radius * 1.25, 5, rotation, inner=radius * 0.5), fill=colour)
    elif shape in ("cross", "plus"):
        angle = (math.pi / 4 if shape == "cross" else 0.0) + rotation * 0.15
        for extra in (0.0, math.pi / 2):
            dx, dy = radius * math.cos(angle + extra), radius * math.sin(angle + extra)
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=width)
    elif shape == "bar":
        angle = rotation
        dx, dy = radius * 1.2 * math.cos(angle), radius * 1.2 * math.sin(angle)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=width + 1)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _contrasting_colours(rng):
    """A random bright shape colour on a random darker background (any hue for both)."""
    background = rng.randint(0, 120, size=3)
    colour = rng.randint(110, 256, size=3)
    while colour.sum() - background.sum() < 200:
        colour = rng.randint(110, 256, size=3)
    return tuple(int(c) for c in colour), tuple(int(c) for c in background)


@functools.lru_cache(maxsize=4)
def _shapes(count, seed):
    from PIL import Image, ImageDraw

    rng = np.random.RandomState(seed)
    labels = np.arange(count) % len(SHAPES_CLASSES)
    rng.shuffle(labels)
    images = np.empty((count, 32, 32, 3), dtype=np.uint8)
    for index, label in enumerate(labels):
        colour, background = _contrasting_colours(rng)
        image = Image.new("RGB", (32, 32), background)
        radius = rng.uniform(5.0, 10.0)
        margin = radius * 1.2
        center = (rng.uniform(margin, 32 - margin), rng.uniform(margin, 32 - margin))
        _draw_shape(ImageDraw.Draw(image), SHAPES_CLASSES[label], center, radius,
                    rng.uniform(0, 2 * math.pi), colour, background)
        noise = rng.normal(0.0, 8.0, size=(32, 32, 3))
        pixels = np.asarray(image, dtype=np.float64) + noise
        images[index] = np.clip(pixels, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def load_shapes(split="train", *, count=None):
    """``(x, y)``: x (N, 32, 32, 3) uint8, y int64 in 0..9 (N = 2000 train, 500 test by default;
    the classes are balanced)."""
    x, y = _shapes(count or SHAPES_SIZES[split], SHAPES_SEEDS[split])
    return x.copy(), y.copy()
