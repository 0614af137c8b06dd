"""The shared lab runner: flags -> data -> (build, compile under a strategy) -> fit -> save -> run.json.

Labs stay thin (DESIGN.md, "Labs"): they parse flags with :func:`lab_parser`, open a :class:`LabRun`,
and call library code. ``LabRun`` owns the output folder ``<out>/NN_slug/``, the seed, the
``tf.distribute`` strategy, ``history.csv`` / ``learning_curves.png`` and the run record ``run.json``.
See docs/DEVELOPING.md for a full example.
"""

import argparse
import datetime
import os
import pathlib
import shlex
import sys
import time

from dlcourse import artifacts, catalog, runtime
from dlcourse.data import files as data_files
from dlcourse.errors import UserError

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent.parent / "saved_models"
DEFAULT_SEED = 42


def _number(kind, minimum, allow_equal):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value < minimum or (value == minimum and not allow_equal):
            relation = ">=" if allow_equal else ">"
            raise argparse.ArgumentTypeError(f"must be {relation} {minimum}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


positive_int = _number(int, 0, allow_equal=False)
positive_float = _number(float, 0.0, allow_equal=False)
nonnegative_float = _number(float, 0.0, allow_equal=True)


def fraction(text):
    """A share strictly between 0 and 1 (``--validation-split``)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text!r}")
    return value


def rate(text):
    """A rate in [0, 1) (``--dropout-rate``, a masking fraction)."""
    value = nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text!r}")
    return value


def lab_parser(number, *, epochs, batch_size, description=None, datasets=None):
    """An ``argparse`` parser with the flags every lab accepts, defaults set for lab ``number``.

    ``datasets`` lists the dataset names the lab accepts besides ``sample`` (default: the lab's own).
    """
    lab = catalog.get_lab(number)
    parser = argparse.ArgumentParser(
        prog=f"dlcourse run {lab.number}",
        description=description or lab.docstring or f"Lab {lab.number}: {lab.title}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    choices = list(dict.fromkeys([*(datasets or [lab.dataset]), "sample"]))
    common = parser.add_argument_group("common lab flags")
    common.add_argument("--epochs", type=positive_int, default=epochs, help="training epochs (default %(default)s)")
    common.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help="global batch size, split across replicas (default %(default)s)")
    common.add_argument("--data-dir", type=pathlib.Path, default=None,
                        help="folder searched first for dataset files (then $DLCOURSE_DATA, datasets/, ~/.keras/datasets)")
    common.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                        help="output root; this lab writes to OUT/%s/ (default saved_models/)" % lab.name)
    common.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    common.add_argument("--deterministic", action="store_true", help="also enable TF op determinism (slower)")
    common.add_argument("--strategy", choices=runtime.STRATEGIES, default="auto",
                        help="tf.distribute strategy (default auto)")
    common.add_argument("--dataset", choices=choices, default=choices[0],
                        help=f"dataset; 'sample' is the embedded {lab.sample!r} (no download)")
    common.add_argument("--smoke", action="store_true",
                        help="run end to end in seconds on embedded data (implies --dataset sample, 1 epoch)")
    return parser


def parse_lab_args(parser, argv=None):
    """Parse ``argv``; ``--smoke`` implies ``--dataset sample`` and at most one epoch."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).expanduser().absolute()
    existing = next(folder for folder in (out, *out.parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        parser.error(f"--out {args.out}: {existing} is not a folder you can write to; choose another --out")
    if args.smoke:
        args.dataset = "sample"
        args.epochs = min(args.epochs, 1)
    args.command_line = " ".join([parser.prog, shlex.join(argv)]).strip()
    return args


class LabRun:
    """One run of a lab: output folder, seed, strategy, data, training, saved files and run.json.

    Use as a context manager; :meth:`finish` writes ``run.json`` last, so a folder with a run.json is
    a completed run.
    """

    def __init__(self, number, args):
        self.lab = catalog.get_lab(number)
        self.args = args
        self.out_dir = pathlib.Path(args.out) / self.lab.name
        dataset = getattr(args, "dataset", self.lab.dataset)
        self.dataset = self.lab.sample if dataset == "sample" else dataset
        self.record = {}
        self.strategy = None
        self.training_seconds = 0.0
        self.samples_seen = 0
        self.histories = {}
        self._started = None

    def __enter__(self):
        runtime.set_seed(self.args.seed, deterministic=getattr(self.args, "deterministic", False))
        self.strategy = runtime.get_strategy(getattr(self.args, "strategy", "auto"))
        # The folder appears with the first file written (artifacts create parents), so a run that
        # stops early, e.g. on missing data, leaves nothing behind.
        self._started = time.perf_counter()
        print(f"lab {self.lab.name}: {self.lab.title} -> {self.out_dir}"
              f" (dataset {self.dataset}, {runtime.strategy_description(self.strategy)['replicas']} replica(s))")
        return self

    def __exit__(self, exc_type, exc, traceback):
        return False

    # -- paths and files -------------------------------------------------------------------------
    def path(self, filename):
        return self.out_dir / filename

    def save_model(self, model, filename, include_optimizer=False):
        """Save ``model`` atomically under the lab folder and note it in run.json."""
        path = artifacts.save_model(model, self.path(filename), include_optimizer=include_optimizer)
        self.record.setdefault("models", {})[filename] = {"parameters": int(model.count_params())}
        return path

    def save_figure(self, figure, filename):
        return artifacts.save_figure(figure, self.path(filename))

    def save_json(self, obj, filename):
        return artifacts.write_json(obj, self.path(filename))

    def save_text(self, text, filename):
        return artifacts.write_text(text, self.path(filename))

    def save_csv(self, rows, filename, fieldnames=None):
        return artifacts.write_csv(rows, self.path(filename), fieldnames=fieldnames)

    # -- data ------------------------------------------------------------------------------------
    def load_data(self, split="train", **options):
        """``dlcourse.data.load`` for this run's dataset; records its name and checksums in run.json."""
        from dlcourse import data

        if self.dataset == "none":
            raise ValueError(f"lab {self.lab.name} has no dataset")
        arrays = data.load(self.dataset, split=split, data_dir=self.args.data_dir, **options)
        if "dataset" not in self.record:
            self.record["dataset"] = data.dataset_record(self.dataset, data_dir=self.args.data_dir)
        return arrays

    # -- training --------------------------------------------------------------------------------
    def fit(self, model, x=None, y=None, *, history_name="history.csv", curves_name="learning_curves.png",
            early_stopping=None, callbacks=(), samples_per_epoch=None, **fit_kwargs):
        """``model.fit`` with the runner's callbacks; writes history CSV and learning curves; times it.

        Adds ``CSVLogger`` (to a temporary file moved into place at the end) and
        ``TerminateOnNaN(raise_error=True)``; ``early_stopping`` is a dict of ``EarlyStopping``
        arguments (``monitor="val_loss"`` and ``restore_best_weights=True`` by default).
        ``samples_per_epoch`` feeds run.json's samples per second; it is inferred for arrays,
        ``PyDataset`` objects and tf.data datasets with a static batch size.
        """
        import keras

        runtime.fit_supported(self.strategy)
        history_path = self.path(history_name)
        with artifacts.atomic_path(history_path) as temporary_history:
            run_callbacks = [keras.callbacks.CSVLogger(str(temporary_history)),
                             keras.callbacks.TerminateOnNaN(raise_error=True), *callbacks]
            if early_stopping is not None:
                options = {"monitor": "val_loss", "restore_best_weights": True, **early_stopping}
                run_callbacks.append(keras.callbacks.EarlyStopping(**options))
            # a progress bar per epoch for real runs ("auto"); silence for the seconds-long smoke runs
            fit_kwargs.setdefault("verbose", 0 if getattr(self.args, "smoke", False) else "auto")
            if hasattr(x, "element_spec"):  # tf.data shuffles in its own pipeline; Keras would warn
                fit_kwargs.setdefault("shuffle", False)
            started = time.perf_counter()
            try:
                history = model.fit(x, y, callbacks=run_callbacks, **fit_kwargs)
            except RuntimeError as error:
                if "NaN" in str(error) or "nan" in str(error):
                    raise UserError(f"training diverged (loss became NaN) in lab {self.lab.name}; "
                                    "lower the learning rate or check the data") from None
                raise
            seconds = time.perf_counter() - started
        self.training_seconds += seconds
        epochs_run = len(history.epoch)
        if samples_per_epoch is None:
            samples_per_epoch = samples_in(x, fit_kwargs)
        self.samples_seen += epochs_run * (samples_per_epoch or 0)
        self.histories[history_name] = history.history
        if curves_name and epochs_run:
            artifacts.plot_learning_curves(history, self.path(curves_name), title=f"Lab {self.lab.number}")
        return history

    # -- the run record --------------------------------------------------------------------------
    def finish(self, metrics=None, model=None, **extra):
        """Write ``run.json`` (DESIGN.md's fields) and print the one-line result; returns the record."""
        metrics = {key: _plain(value) for key, value in (metrics or {}).items()}
        record = {
            "lab": self.lab.name,
            "title": self.lab.title,
            "unit": self.lab.unit,
            "dataset": self.record.pop("dataset", {"name": self.dataset}),
            "seed": self.args.seed,
            "strategy": runtime.strategy_description(self.strategy) if self.strategy else None,
            "versions": runtime.versions(),
            "command": getattr(self.args, "command_line", shlex.join(sys.argv)),
            "smoke": bool(getattr(self.args, "smoke", False)),
            "epochs": getattr(self.args, "epochs", None),
            "batch_size": getattr(self.args, "batch_size", None),
            "parameters": int(model.count_params()) if model is not None else None,
            "metrics": metrics,
            "training_seconds": round(self.training_seconds, 3),
            "samples_per_second": (round(self.samples_seen / self.training_seconds, 1)
                                   if self.training_seconds > 0 and self.samples_seen else None),
            "wall_seconds": round(time.perf_counter() - self._started, 3) if self._started else None,
            "data_verification": data_files.verification_enabled(),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **self.record,
            **{key: _plain(value) for key, value in extra.items()},
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record["outputs"] = sorted(path.name for path in self.out_dir.iterdir()
                                   if path.is_file() and not path.name.startswith(".")) + ["run.json"]
        artifacts.write_json(record, self.path("run.json"))
        summary = " ".join(f"{key}={_format(value)}" for key, value in metrics.items())
        if record["parameters"] is not None:
            summary += f" params={record['parameters']}"
        print(f"lab{self.lab.number} {summary}".rstrip())
        if record["smoke"]:
            print(f"(smoke run: a seconds-long check that the lab works end to end, not a result; "
                  f"`dlcourse run {self.lab.number} --help` says what to observe in a full run)")
        return record


def samples_in(x, fit_kwargs):
    """Training samples per epoch of a ``fit`` input, or 0 when it cannot be known cheaply."""
    import keras

    steps = fit_kwargs.get("steps_per_epoch")
    if isinstance(x, keras.utils.PyDataset):
        batch = getattr(x, "batch_size", None)
        return (steps or len(x)) * batch if batch else 0
    if hasattr(x, "element_spec"):  # tf.data: only a static batch size tells the sample count
        spec = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
        batch = spec.shape[0] if hasattr(spec, "shape") else None
        cardinality = int(x.cardinality())
        batches = steps or (cardinality if cardinality >= 0 else 0)
        return batches * batch if batch else 0
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    try:
        count = len(x)
    except TypeError:
        return 0
    return int(count * (1.0 - fit_kwargs.get("validation_split", 0.0)))


def _plain(value):
    """NumPy/TF scalars and arrays to plain Python for JSON."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
