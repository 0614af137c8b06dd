"""Atomic writes, the run record helpers and safe model loading (dlcourse/artifacts.py)."""

import errno
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from dlcourse import artifacts
from dlcourse.errors import UserError


def small_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="tanh", name="small_dense")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="small_out")(hidden), name="small")


def test_atomic_path_moves_into_place_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too
    artifacts.write_json({"a": np.float32(1.5), "b": np.arange(3)}, target)
    assert json.loads(target.read_text()) == {"a": 1.5, "b": [0, 1, 2]}


def test_interrupted_model_save_leaves_no_file(tmp_path, monkeypatch):
    model = small_model()
    original_save = keras.Model.save

    def save_then_die(self, filepath, *args, **kwargs):
        original_save(self, filepath, *args, **kwargs)  # the temporary file is complete...
        raise KeyboardInterrupt  # ...but the process is stopped before the move

    monkeypatch.setattr(keras.Model, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        artifacts.save_model(model, tmp_path / "model.h5")
    assert list(tmp_path.iterdir()) == []


def test_existing_model_survives_a_failed_overwrite(tmp_path, monkeypatch):
    path = artifacts.save_model(small_model(), tmp_path / "model.h5")
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"\x89HDF")  # a truncated write
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError):
        artifacts.save_model(small_model(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.h5"]


@pytest.mark.parametrize("options", [{}, {"include_optimizer": True}], ids=["default", "include_optimizer"])
def test_saving_h5_leaves_the_live_model_training_as_before(tmp_path, options):
    # Saving .h5 changes nothing on the live model: its optimizer (same object, step count, slots),
    # compile config and further training are those of a twin that was never saved. A lab may save
    # its models in any order.
    def compiled_twin():
        keras.utils.set_random_seed(0)
        model = small_model()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        return model

    rng = np.random.default_rng(0)
    batches = [(rng.random((8, 4), dtype="float32"), rng.random((8, 2), dtype="float32")) for _ in range(3)]
    saved, unsaved = compiled_twin(), compiled_twin()
    for model in (saved, unsaved):
        for x, y in batches[:2]:
            model.train_on_batch(x, y)
    for weight, twin in zip(saved.get_weights(), unsaved.get_weights()):
        np.testing.assert_array_equal(weight, twin)
    optimizer, config = saved.optimizer, saved.get_compile_config()
    slots = [np.array(variable) for variable in optimizer.variables]
    assert int(optimizer.iterations) == 2 and len(slots) > 1  # Adam has moments to lose

    artifacts.save_model(saved, tmp_path / "x.h5", **options)

    assert saved.compiled and saved.optimizer is optimizer and int(optimizer.iterations) == 2
    if not options:  # what the labs do
        assert saved.get_compile_config() == config
    else:
        # Keras 3.15's legacy .h5 writer (saving_utils.model_metadata) pops "optimizer" from the live
        # model's compile config when it includes the optimizer: training goes on unchanged (below),
        # but a later .keras save of the same model then records no optimizer.
        assert saved.get_compile_config() in (config, {k: v for k, v in config.items() if k != "optimizer"})
    for variable, before in zip(optimizer.variables, slots, strict=True):
        np.testing.assert_array_equal(np.array(variable), before)
    x, y = batches[2]
    saved_loss, unsaved_loss = (np.asarray(model.train_on_batch(x, y)) for model in (saved, unsaved))
    np.testing.assert_array_equal(saved_loss, unsaved_loss)
    assert int(saved.optimizer.iterations) == int(unsaved.optimizer.iterations) == 3
    for weight, twin in zip(saved.get_weights(), unsaved.get_weights(), strict=True):
        np.testing.assert_array_equal(weight, twin)


def test_model_suffix_is_checked(tmp_path):
    with pytest.raises(ValueError, match=".h5"):
        artifacts.save_model(small_model(), tmp_path / "model.bin")


def test_h5_reloads_in_a_fresh_process_with_identical_predictions(tmp_path):
    model = small_model()
    inputs = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)
    expected = model.predict(inputs, verbose=0)
    path = artifacts.save_model(model, tmp_path / "model.h5")
    np.save(tmp_path / "inputs.npy", inputs)
    script = (
        "import sys, numpy as np, dlcourse, keras\n"
        "model = keras.saving.load_model(sys.argv[1], compile=False, safe_mode=True)\n"
        "np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))\n")
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "inputs.npy"),
                    str(tmp_path / "predicted.npy")], check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    np.testing.assert_array_equal(np.load(tmp_path / "predicted.npy"), expected)


def test_load_model_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        artifacts.load_model(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not a model")
    with pytest.raises(UserError, match="not an HDF5"):
        artifacts.load_model(tmp_path / "text.h5")
    good = artifacts.save_model(small_model(), tmp_path / "good.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UserError, match="truncated|cannot load"):
        artifacts.load_model(truncated)


def test_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.h5"
    model.save(path)
    with pytest.raises(UserError, match="cannot load"):
        artifacts.load_model(path)


def test_csv_and_learning_curves(tmp_path):
    artifacts.write_csv([{"optimizer": "sgd", "accuracy": 0.5}, {"optimizer": "adam", "accuracy": 0.875, "s": 1}],
                        tmp_path / "table.csv")
    rows = artifacts.read_csv(tmp_path / "table.csv")
    assert rows == [{"optimizer": "sgd", "accuracy": "0.5", "s": ""}, {"optimizer": "adam", "accuracy": "0.875", "s": "1"}]
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}
    path = artifacts.plot_learning_curves(history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert artifacts.plot_learning_curves({"loss": []}, tmp_path / "none.png") is None


def test_load_model_names_folders_and_non_model_files(tmp_path):
    artifacts.save_model(small_model(), tmp_path / "lab" / "model.h5")
    with pytest.raises(UserError, match=r"is a folder, not a model file; give one of its .h5 files \(model.h5\)"):
        artifacts.load_model(tmp_path / "lab")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(UserError, match="is not a model file"):
        artifacts.load_model(tmp_path / "run.json")


NO_SPACE = "no space left on device writing {path}; free space or choose another --out"


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    # h5py's errors carry no errno, only the C library's words
    OSError("Unable to synchronously create dataset (file write failed: time = now, filename = 'x.h5', "
            "errno = 28, error message = 'No space left on device')"),
])
def test_full_disk_while_saving_a_model_is_one_clear_error(tmp_path, monkeypatch, error):
    def full_disk(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"\x89HDF")  # a partial write, then the disk is full
        raise error

    monkeypatch.setattr(keras.Model, "save", full_disk)
    path = tmp_path / "model.h5"
    with pytest.raises(UserError) as caught:
        artifacts.save_model(small_model(), path)
    assert str(caught.value) == NO_SPACE.format(path=path)
    assert list(tmp_path.iterdir()) == []  # the .partial file is removed


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_real_enospc_from_the_kernel_is_one_clear_error(tmp_path, monkeypatch):
    def write_to_a_full_device(self, data):
        with open("/dev/full", "wb") as handle:  # the kernel answers every write with ENOSPC
            handle.write(data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_to_a_full_device)
    with pytest.raises(UserError, match="^no space left on device writing .*run.json; free space"):
        artifacts.write_json({"a": 1}, tmp_path / "run.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing, error, message", [
    ("write", OSError(errno.ENOSPC, "No space left on device"), "no space left on device writing"),
    ("fsync", OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded writing"),
    ("replace", PermissionError(errno.EACCES, "Permission denied"), "cannot write .* \\(permission denied\\)"),
    ("replace", OSError(errno.EROFS, "Read-only file system"), "cannot write .* \\(read-only file system\\)"),
])
def test_os_errors_in_each_step_of_an_atomic_write_are_user_errors(tmp_path, monkeypatch, failing, error, message):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(UserError, match=message):
        with artifacts.atomic_path(tmp_path / "table.csv") as temporary:
            descriptor = os.open(temporary, os.O_WRONLY)
            try:
                os.write(descriptor, b"a,b\n")
            finally:
                os.close(descriptor)
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_are_left_to_raise(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="Input/output error"):
        artifacts.write_text("x", tmp_path / "a.txt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_is_one_clear_error(tmp_path):
    folder = tmp_path / "lab"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(UserError, match="cannot write .*run.json \\(.*ermission denied\\); choose another --out"):
            artifacts.write_json({"a": 1}, folder / "run.json")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_remove_stale_takes_only_the_partial_files_of_atomic_writes(tmp_path):
    for name in (".history.ab_d12z9.partial.csv", ".lenet5.x1y2z3w4.partial.h5", ".notes.abcdefgh.partial",
                 "run.json", "history.csv", "lenet5.h5", ".hidden", "my.partial.txt", ".checkpoint/state.json",
                 ".checkpoint/history/.history.abcdefgh.partial.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    removed = artifacts.remove_stale(tmp_path, "run.json")
    assert sorted(path.name for path in removed) == [".history.ab_d12z9.partial.csv", ".lenet5.x1y2z3w4.partial.h5",
                                                     ".notes.abcdefgh.partial", "run.json"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [".checkpoint", ".hidden", "history.csv", "lenet5.h5",
                                                                "my.partial.txt"]
    assert (tmp_path / ".checkpoint/history/.history.abcdefgh.partial.csv").exists()  # sub-folders stay
    assert artifacts.remove_stale(tmp_path / "missing") == []
    # the name atomic_path makes is the name remove_stale recognises
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(tmp_path / "curves.png") as temporary:
            assert artifacts.PARTIAL_NAME.match(temporary.name)
            raise RuntimeError


def test_write_json_writes_standard_json_with_null_for_non_finite_numbers(tmp_path):
    import json

    path = artifacts.write_json({"loss": float("nan"), "curve": [np.float32(np.inf), 0.5], "n": np.int64(3)},
                                tmp_path / "record.json")
    text = path.read_text() if hasattr(path, "read_text") else (tmp_path / "record.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "curve": [None, 0.5], "n": 3}


# -- image grids ---------------------------------------------------------------------------------
def test_tile_images_maps_the_value_range_and_pads():
    images = np.stack([np.full((2, 2, 1), value) for value in (-1.0, 0.0, 1.0)])
    grid = artifacts.tile_images(images, ncols=2, value_range=(-1, 1), padding=1)
    assert grid.shape == (5, 5)  # 2 rows x 2 columns of 2x2 tiles with 1-pixel gaps
    np.testing.assert_allclose(grid[:2, :2], 0.0)
    np.testing.assert_allclose(grid[:2, 3:], 0.5)
    np.testing.assert_allclose(grid[3:, :2], 1.0)
    np.testing.assert_allclose(grid[3:, 3:], 0.5)  # blank tile after the last image: mid-grey
    np.testing.assert_allclose(grid[2, :], 0.5)  # the gap between rows
    assert artifacts.tile_images(np.full((1, 2, 2), 2.0), value_range=(0, 1)).max() == 1.0  # clipped
    with pytest.raises(ValueError):
        artifacts.tile_images(np.zeros((0, 2, 2)))
    with pytest.raises(ValueError, match="low < high"):
        artifacts.tile_images(np.zeros((1, 2, 2)), value_range=(1, 1))


def _drawn(monkeypatch, *args, **kwargs):
    """The figure ``image_grid(*args, **kwargs)`` would save, and the path it returned."""
    figures = []
    monkeypatch.setattr(artifacts, "save_figure", lambda figure, path, dpi=110: figures.append(figure) or path)
    path = artifacts.image_grid(*args, **kwargs)
    return figures[0], path


def test_image_grid_draws_one_axes_per_image_on_a_fixed_scale(monkeypatch, tmp_path):
    grey = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2, 1) * 20  # uint8: 0..255 is black..white
    figure, path = _drawn(monkeypatch, grey, tmp_path / "grid.png", ncols=2, titles=["a", "b", "c"],
                          row_titles=["first row", "second row"])
    assert path == tmp_path / "grid.png"
    axes = [axis for axis in figure.axes if axis.images]
    assert len(figure.axes) == 4 and len(axes) == 3  # 2 x 2 axes, the fourth left empty
    for axis, image in zip(axes, grey):
        np.testing.assert_allclose(axis.images[0].get_array(), image[..., 0] / 255.0, rtol=1e-6)
        assert axis.images[0].get_clim() == (0.0, 1.0)  # no contrast stretching
    assert [axis.get_title() for axis in axes] == ["a", "b", "c"]
    assert figure.axes[0].get_title(loc="left") == "first row" and figure.axes[2].get_title(loc="left") == "second row"
    colour = np.full((1, 2, 2, 3), 0.25, dtype="float32")  # floats: 0..1 by default
    figure, _ = _drawn(monkeypatch, colour, tmp_path / "colour.png", ncols=1)
    np.testing.assert_allclose(figure.axes[0].images[0].get_array(), colour[0])
    signed = np.full((1, 2, 2), 0.0, dtype="float32")  # a tanh generator's mid-grey
    figure, _ = _drawn(monkeypatch, signed, tmp_path / "signed.png", ncols=1, value_range=(-1.0, 1.0))
    np.testing.assert_allclose(figure.axes[0].images[0].get_array(), 0.5)


def test_image_grid_tiled_is_one_array_with_row_titles_on_the_left(monkeypatch, tmp_path):
    images = np.linspace(-1.0, 1.0, 6 * 3 * 3, dtype="float32").reshape(6, 3, 3, 1)
    figure, _ = _drawn(monkeypatch, images, tmp_path / "tiled.png", ncols=3, value_range=(-1.0, 1.0), tiled=True,
                       row_titles=["zero", "one"], title="samples")
    (axis,) = figure.axes
    np.testing.assert_allclose(axis.images[0].get_array(), artifacts.tile_images(images, ncols=3,
                                                                                  value_range=(-1.0, 1.0)))
    assert [label.get_text() for label in axis.get_yticklabels()] == ["zero", "one"]
    assert axis.get_title() == "samples"
    with pytest.raises(ValueError, match="tiled=False"):
        artifacts.image_grid(images, tmp_path / "bad.png", tiled=True, titles=list("abcdef"))
    monkeypatch.undo()
    for tiled in (False, True):  # both layouts write a PNG
        path = artifacts.image_grid(images, tmp_path / f"grid_{tiled}.png", ncols=3, value_range=(-1, 1), tiled=tiled)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
