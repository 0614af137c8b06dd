"""How often lab 02's 2-2-1 XOR network ends in a local minimum, per hidden activation.

Trains the notes' network exactly as lab 02 does (``build_xor_mlp``, Adam(0.1), binary
cross-entropy, 10 epochs of 20 full-batch steps, ``runtime.set_seed(seed)``) for seeds 0..N-1 and
counts the starts that do not fit all four rows. Prints one line per activation; the README's lab 02
numbers (ReLU 84 of 100 stuck, tanh and sigmoid 53, Swish 0) come from ``--seeds 100``.

    python benchmarks/xor_local_minima.py --seeds 100
"""

import argparse
import json

import keras
import numpy as np

from dlcourse import runtime
from dlcourse.models.mlp import build_xor_mlp
from dlcourse.scratch.perceptron import truth_table

ACTIVATIONS = ("relu", "tanh", "sigmoid", "swish")


def stuck_share(activation, seeds):
    """The share of ``seeds`` starts whose trained network gets a row of the XOR table wrong."""
    inputs, targets = truth_table("xor")
    x, y = np.tile(inputs, (20, 1)), np.tile(targets, 20)
    solved = 0
    for seed in range(seeds):
        keras.backend.clear_session()
        runtime.set_seed(seed)
        model = build_xor_mlp(hidden_units=2, activation=activation)
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy", steps_per_execution=20)
        model.fit(x, y, epochs=10, batch_size=4, shuffle=False, verbose=0)
        outputs = np.asarray(model(inputs, training=False)).ravel()
        solved += bool(np.all((outputs > 0.5) == (targets > 0.5)))
    return 1.0 - solved / seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    results = {}
    for activation in ACTIVATIONS:
        results[activation] = stuck_share(activation, args.seeds)
        print(f"{activation:8s} stuck in {results[activation]:.0%} of {args.seeds} starts", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
