"""FLOPs per sample of saved models, counted analytically per layer, and the fp32 matmul peak.

    python benchmarks/flops.py peak [--size 2048] [--repeats 5]
    python benchmarks/flops.py count ROLE=PATH [ROLE=PATH ...]

Both print one JSON object on stdout. ``count`` loads each model with ``dlcourse.artifacts.load_model``
(the package's custom layers are registered) and adds up the forward FLOPs of one sample: 2 x the
multiply-adds of every ``Dense``, ``Conv1D/2D/3D``, ``Conv2DTranspose``, ``DepthwiseConv2D``,
``SimpleRNN``, ``LSTM``, ``GRU`` (per time step, times the steps) and lab 07's ``PartialConv2D`` (run
as a full convolution, as its ``call`` does); nested models and ``Bidirectional`` are walked.
Element-wise work (activations, biases, normalization, pooling, losses, the optimizer) is not counted,
so the figures are lower bounds of what the hardware does. Other layers with weights are listed under
``uncounted``. ``peak`` times ``tf.matmul`` of two ``size x size`` float32 matrices (2 size^3 FLOPs
each) in a compiled loop and reports the best of ``repeats`` timings.
"""

import argparse
import json
import math
import sys
import time

ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # this checkout's dlcourse, also when run as a script from elsewhere
    sys.path.insert(0, ROOT)


def _shape(tensor_or_shape):
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _positions(shape):
    """Product of the dimensions between batch and channels (1 for a (batch, features) tensor)."""
    inner = shape[1:-1]
    if any(size is None for size in inner):
        raise ValueError(f"unknown spatial/time size in {shape}")
    return math.prod(inner) if inner else 1


def _io_shapes(layer, inputs=None):
    if inputs is not None:
        return inputs, _shape(layer.compute_output_shape(inputs))
    return _shape(layer.input), _shape(layer.output)


def layer_flops(layer, uncounted, input_shape=None):
    """Forward FLOPs of one sample through ``layer`` (see the module docstring)."""
    import keras

    name = type(layer).__name__
    if isinstance(layer, keras.Model):
        return sum(layer_flops(inner, uncounted) for inner in layer.layers)
    if name == "Bidirectional":
        shape = input_shape or _shape(layer.input)
        return (layer_flops(layer.forward_layer, uncounted, shape)
                + layer_flops(layer.backward_layer, uncounted, shape))
    if name in ("SimpleRNN", "LSTM", "GRU"):
        shape = input_shape or _shape(layer.input)
        steps = shape[1]
        if steps is None:
            raise ValueError(f"{layer.name}: sequence length unknown; build the model with a fixed length")
        cell = layer.cell
        return 2 * (math.prod(cell.kernel.shape) + math.prod(cell.recurrent_kernel.shape)) * steps
    if not layer.weights:
        return 0
    kernel = getattr(layer, "kernel", None)
    if name in ("Dense", "EinsumDense") and kernel is not None:
        _, out_shape = _io_shapes(layer, input_shape)
        return 2 * math.prod(kernel.shape) * _positions(out_shape)
    if name in ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "DepthwiseConv1D"):
        _, out_shape = _io_shapes(layer, input_shape)
        # (kh, kw, in / groups, out), or (kh, kw, in, multiplier) for depthwise: the multiply-adds per position
        return 2 * math.prod(kernel.shape) * _positions(out_shape)
    if name in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        in_shape, _ = _io_shapes(layer, input_shape)
        return 2 * math.prod(kernel.shape) * _positions(in_shape)  # every input pixel scatters a full kernel
    if name == "PartialConv2D":  # dlcourse.layers.lenet: a full (kh, kw, in, filters) convolution
        in_shape, out_shape = _io_shapes(layer, input_shape)
        return 2 * math.prod(layer.kernel_size) * in_shape[-1] * layer.filters * _positions(out_shape)
    if name not in ("BatchNormalization", "LayerNormalization", "GroupNormalization", "Embedding",
                    "Subsampling", "PReLU", "Normalization"):
        uncounted.append(f"{layer.name} ({name})")
    return 0


def count(models):
    """``{role: forward FLOPs per sample}`` plus ``uncounted`` layers for ``{role: path}``."""
    import dlcourse  # noqa: F401  (registers the package's custom layers)
    from dlcourse import artifacts

    result, uncounted = {}, []
    for role, path in models.items():
        model = artifacts.load_model(path)
        result[role] = layer_flops(model, uncounted)
    return {"forward_flops": result, "uncounted": uncounted}


def matmul_peak(size=2048, repeats=5, inner=4):
    """Best GFLOP/s of ``inner`` chained float32 matmuls of ``size x size``, over ``repeats`` timings."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    b = tf.random.normal((size, size), dtype=tf.float32) / size

    @tf.function
    def chain(x):
        for _ in range(inner):
            x = tf.matmul(x, b)
        return tf.reduce_sum(x)

    chain(a).numpy()  # trace and warm up
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        chain(a).numpy()
        best = min(best, time.perf_counter() - started)
    flops = 2.0 * size ** 3 * inner
    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    return {"gflops": flops / best / 1e9, "size": size, "repeats": repeats, "matmuls_per_timing": inner,
            "best_seconds": best, "device": device, "tensorflow": tf.__version__}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    peak = commands.add_parser("peak")
    peak.add_argument("--size", type=int, default=2048)
    peak.add_argument("--repeats", type=int, default=5)
    counter = commands.add_parser("count")
    counter.add_argument("models", nargs="+", metavar="ROLE=PATH")
    args = parser.parse_args(argv)
    if args.command == "peak":
        print(json.dumps(matmul_peak(args.size, args.repeats)))
    else:
        print(json.dumps(count(dict(item.split("=", 1) for item in args.models))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
