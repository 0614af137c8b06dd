"""The Tkinter window of `dlcourse gui`: its text headless, the window itself under Xvfb."""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import keras

from dlcourse import artifacts, gui, prediction

CLASSES = ["cat", "dog", "rabbit"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gui_model")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    path = artifacts.save_model(keras.Model(inputs, outputs, name="tiny_classifier"), folder / "classifier.h5")
    artifacts.write_json({"class_names": CLASSES, "pixel_scale": 255.0}, folder / "run.json")
    return path


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("gui_images") / "eight.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def display():
    """A display for Tk: $DISPLAY if set, else a private Xvfb server, else skip."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not sys.platform.startswith("linux") or not shutil.which("Xvfb"):
        pytest.skip("no $DISPLAY and no Xvfb (Debian: apt-get install xvfb) to test the Tk window")
    number = next(n for n in range(99, 200) if not pathlib.Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = pathlib.Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 15
    while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not socket.exists():
        server.kill()
        pytest.skip(f"Xvfb :{number} did not start")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISPLAY", f":{number}")
        yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def _args(*argv):
    return gui.configure_parser(argparse.ArgumentParser()).parse_args([str(arg) for arg in argv])


def test_format_predictions():
    assert gui.format_predictions([("dog", 0.7), ("cat", 0.25), ("rabbit", 0.05)]) == \
        "1. dog: 70.0%\n2. cat: 25.0%\n3. rabbit: 5.0%"


def test_missing_model_is_a_user_error(tmp_path, capsys):
    assert gui.command(_args(tmp_path / "missing.h5")) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Tk needs $DISPLAY only on X11")
def test_no_display_is_a_user_error(model_path, monkeypatch, capsys):
    pytest.importorskip("tkinter")  # without Tk the error is "no Tkinter", tested below
    monkeypatch.delenv("DISPLAY", raising=False)
    assert gui.command(_args(model_path)) == 2
    err = capsys.readouterr().err
    assert "cannot open a window" in err and "dlcourse predict" in err


def test_no_tkinter_is_a_user_error(model_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tkinter(name, *args, **kwargs):
        if name == "tkinter" or name.startswith("tkinter."):
            raise ImportError("No module named 'tkinter'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tkinter)
    assert gui.command(_args(model_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: this Python has no Tkinter") and "python3-tk" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_window_shows_image_predictions_and_verdict(display, model_path, image_path, tmp_path):
    import tkinter

    predictor = prediction.Predictor.from_file(model_path)
    expected = predictor.predict(image_path, k=3)
    root = tkinter.Tk()
    try:
        window = gui.PredictionWindow(root, predictor)
        assert list(window.true_class_box.cget("values")) == CLASSES
        assert window.open_image(image_path) == expected
        root.update()
        assert window.predictions_label.cget("text") == gui.format_predictions(expected)
        assert window.path_label.cget("text") == "eight.png"
        assert str(window._photo) in str(window.image_label.cget("image"))
        assert (window._photo.width(), window._photo.height()) == (256, 256)  # 8x8 shown 32x larger
        top = expected[0][0]
        assert window.check(top) is True
        assert window.verdict_label.cget("text").startswith(f"correct: the model says {top}")
        other = next(name for name in CLASSES if name != top)
        assert window.check(other) is False
        assert window.verdict_label.cget("text").endswith(f"the image is {other}")
        assert window.check("horse") is None and "unknown class" in window.verdict_label.cget("text")
        (tmp_path / "notes.png").write_text("not an image")
        assert window.open_image(tmp_path / "notes.png") is None
        assert window.predictions_label.cget("text").startswith("error: ")
        assert window.check("cat") is None  # nothing to check without a prediction
    finally:
        root.destroy()


def test_command_opens_the_window(display, model_path, image_path, monkeypatch):
    import tkinter

    shown = []

    def fake_mainloop(self, n=0):  # draw once, record, close instead of waiting for the user
        self.update()
        shown.append((self.title(), self.winfo_children()))
        self.destroy()

    monkeypatch.setattr(tkinter.Tk, "mainloop", fake_mainloop)
    assert gui.command(_args(model_path, "--image", image_path)) == 0
    assert shown and shown[0][0] == "dlcourse: tiny_classifier"
