"""Lab 05 — activation functions and pooling (Unit II, "Activation functions" and "Types of pooling layers").

From the main notes (000 L585-L676, activations; 000 L677-L733, pooling): computes sigmoid, tanh,
ReLU, Leaky ReLU (alpha 0.01, the notes' text; their figure says 0.1: docs/SOURCES.md, erratum A7),
ELU (alpha 1), softmax and Maxout with their derivatives, plus the handbook's GELU x·Φ(x) and Swish
x·σ(x) (003 §1.4.2, 003 L253-L254) and PReLU (the notes' "Parametric ReLU", 000 L672, with a learned
slope, here at its usual starting value 0.25: docs/SOURCES.md, erratum A55), checks each
derivative but Maxout's (a layer with weights, ``dlcourse.layers.Maxout``; only plotted here)
against Keras' activation under
``tf.GradientTape`` (softmax: its Jacobian), and works the notes' pooling example [[2, 4], [1, 3]]
and a 4x4 feature map with 2x2 / stride-2 max, average and min pooling (``MinPooling2D``: Keras has
none, erratum A12) and global pooling.

What to observe:
- sigmoid'(x) is at most 0.25 and tanh'(x) at most 1: stacked, they shrink gradients (vanishing).
- ReLU's derivative is 0 for every x < 0 (dying ReLU); Leaky ReLU keeps alpha there; ELU saturates
  at -alpha instead of going to minus infinity.
- GELU and Swish are smooth ReLU-like curves with a small dip below 0 (minimum -0.170 at x = -0.75
  and -0.278 at x = -1.28; the handbook's range "(-inf, +inf)" is wrong: erratum B66); their
  derivatives pass 1 slightly above 0 before settling at 1. PReLU looks like Leaky ReLU, but Keras'
  ``PReLU`` layer trains its slope.
- Max pooling of [[2, 4], [1, 3]] is 4 (average 2.5, min 1); 2x2 / stride 2 halves height and width.

Outputs (in <out>/05_activations_pooling/): activations.png, activations.json (worked values and
the GradientTape check), pooling.json (the worked numbers), run.json.
"""

import sys

from dlcourse import activations, training
from dlcourse.errors import report_user_errors
from dlcourse.layers.pooling import pooling_examples

TOLERANCE = 1e-6  # largest accepted |ours - GradientTape| (float64; leaky_relu is float32 inside Keras)


def activation_step(run):
    """The activations plotted, worked at the notes' values and differentiated; returns the worst error."""
    run.save_figure(activations.plot_activations(), "activations.png")
    values = activations.worked_values()
    check = activations.gradient_check()
    worst = max(entry["derivative"] for entry in check.values())
    run.save_json({"worked_values": values, "gradient_check": check, "ranges": activations.RANGES,
                   "leaky_relu_alpha": activations.LEAKY_RELU_ALPHA, "elu_alpha": activations.ELU_ALPHA,
                   "prelu_alpha": activations.PRELU_ALPHA},
                  "activations.json")
    for name, value in values.items():
        print(f"  {name:30s} = {value}")
    print(f"  largest derivative error vs GradientTape: {worst:.2e}")
    return worst


def pooling_step(run):
    """The notes' pooling example and a 4x4 feature map, in NumPy and in Keras layers."""
    pooling = pooling_examples()
    run.save_json(pooling, "pooling.json")
    region = pooling["worked_region"]["numpy"]
    feature_map = pooling["feature_map"]
    print(f"  pooling [[2, 4], [1, 3]]: max {region['max'][0][0]:g}, average {region['average'][0][0]:g}, "
          f"min {region['min'][0][0]:g}")
    print(f"  2x2 / stride 2 on a 4x4 map -> {feature_map['output_shape']}: max {feature_map['numpy']['max']}")
    return pooling


def main(argv=None):
    parser = training.lab_parser("05", epochs=1, batch_size=1)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("05", args) as run:
        worst = activation_step(run)
        pooling = pooling_step(run)
        run.finish(metrics={"max_derivative_error": worst,
                            "derivatives_match": bool(worst < TOLERANCE),
                            "pooling_max": pooling["worked_region"]["numpy"]["max"][0][0],
                            "pooling_layers_agree": bool(pooling["worked_region"]["agree"]
                                                         and pooling["feature_map"]["agree"])})


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
