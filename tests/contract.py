"""The contract every builder in ``dlcourse.models.BUILDERS`` keeps (docs/DESIGN.md, "Contracts").

A test module lists its builders as ``CONTRACT_CASES = {name: (tiny_kwargs, default_parameter_count)}``
and adds ``test_builder_contract = make_contract_test(CONTRACT_CASES)``. Each case: the default build
has exactly the notes' parameter count; the tiny build is an uncompiled model named after the builder;
it survives ``.h5`` save -> load with identical predictions; one training step gives a finite loss.
"""

import numpy as np
import pytest

import dlcourse  # noqa: F401  (registers custom layers)
from dlcourse import artifacts
from dlcourse.models import BUILDERS


def random_inputs(model, batch=2, seed=0):
    """Random inputs for every model input: integers in [0, 2) for integer inputs, [0, 1) floats else."""
    generator = np.random.default_rng(seed)
    arrays = []
    for tensor in model.inputs:
        shape = (batch, *[dimension or 4 for dimension in tensor.shape[1:]])
        if "int" in str(tensor.dtype):
            arrays.append(generator.integers(0, 2, size=shape).astype(str(tensor.dtype)))
        else:
            arrays.append(generator.random(shape).astype("float32"))
    return arrays if len(arrays) > 1 else arrays[0]


def _as_list(outputs):
    return [np.asarray(output) for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def check_builder_contract(name, tiny_kwargs, default_parameters, tmp_path, *, compare_outputs=None):
    """Run the contract for ``BUILDERS[name]``; ``compare_outputs`` limits the compared outputs (random ones)."""
    import keras

    build = BUILDERS[name]
    if default_parameters is not None:
        default_model = build()
        assert default_model.count_params() == default_parameters
        del default_model
        keras.backend.clear_session()

    model = build(**tiny_kwargs)
    assert isinstance(model, keras.Model)
    if "name" not in tiny_kwargs:
        assert model.name == name
    assert not model.compiled, "builders return uncompiled models"

    inputs = random_inputs(model)
    before = _as_list(model.predict(inputs, verbose=0))
    path = artifacts.save_model(model, tmp_path / f"{name}.h5")
    reloaded = artifacts.load_model(path)
    after = _as_list(reloaded.predict(inputs, verbose=0))
    indexes = range(len(before)) if compare_outputs is None else compare_outputs
    for index in indexes:
        np.testing.assert_allclose(after[index], before[index], rtol=1e-5, atol=1e-6)

    targets = [np.random.default_rng(1).random(output.shape).astype("float32") for output in before]
    # SGD, not Adam: tracing Adam's update for many variables costs ~6x more and tests nothing extra
    model.compile(optimizer="sgd", loss=["mse"] * len(targets))
    loss = model.train_on_batch(inputs, targets if len(targets) > 1 else targets[0])
    loss = np.asarray(loss).ravel()[0]
    assert np.isfinite(loss)
    return model


def make_contract_test(cases):
    """A parametrised test over ``cases`` (``{name: (tiny_kwargs, default_parameters[, options])}``)."""

    @pytest.mark.parametrize("builder_name", sorted(cases))
    def test_builder_contract(builder_name, tmp_path):
        tiny_kwargs, default_parameters, *options = cases[builder_name]
        check_builder_contract(builder_name, tiny_kwargs, default_parameters, tmp_path,
                               **(options[0] if options else {}))

    return test_builder_contract
