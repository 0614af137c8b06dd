"""The shared lab runner: flags -> data -> (build, compile under a strategy) -> fit -> save -> run.json.

Labs stay thin (docs/DESIGN.md, "Labs"): they parse flags with :func:`lab_parser`, open a :class:`LabRun`,
and call library code. ``LabRun`` owns the output folder ``<out>/NN_slug/``, the seed, the
``tf.distribute`` strategy, ``history.csv`` / ``learning_curves.png`` and the run record ``run.json``.
See docs/DEVELOPING.md for a full example.
"""

import argparse
import contextlib
import datetime
import os
import pathlib
import shlex
import shutil
import sys
import tempfile
import time

from dlcourse import artifacts, catalog, resume, runtime
from dlcourse.arguments import batch_range, fraction, positive_float, positive_int, seed
from dlcourse.data import files as data_files
from dlcourse.errors import UserError

DEFAULT_SEED = 42
SMOKE_TRAIN_SAMPLES = 256  # what a --smoke run keeps of each split (LabRun.load_splits), unless a lab names others
SMOKE_TEST_SAMPLES = 128
VALIDATE_ON = ("split", "test")  # --validate-on: a training-set share, or the notes' test-set validation


def lab_parser(number, *, epochs, batch_size, learning_rate=None, validation_split=None, description=None,
               datasets=None, validate_on_test=False):
    """An ``argparse`` parser with the flags every lab accepts, defaults set for lab ``number``.

    ``learning_rate`` and ``validation_split``, when given, add ``--learning-rate`` and
    ``--validation-split`` with those defaults (the notes' values where they give one); a value is a
    number, or ``(number, help)`` to say where it comes from. ``datasets`` lists the dataset names the
    lab accepts besides ``sample`` (default: the lab's own). ``validate_on_test`` adds ``--validate-on
    {split,test}`` for a lab whose notes' listing validates on the test set; the lab then passes
    :meth:`LabRun.validation`'s arguments to ``fit``.
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
    if learning_rate is not None:
        default, note = learning_rate if isinstance(learning_rate, tuple) else (learning_rate, "")
        common.add_argument("--learning-rate", type=positive_float, default=default,
                            help=f"optimizer learning rate (default %(default)s{'; ' + note if note else ''})")
    if validation_split is not None:
        default, note = validation_split if isinstance(validation_split, tuple) else (validation_split, "")
        common.add_argument("--validation-split", type=fraction, default=default,
                            help="share of the training set held out for validation "
                                 f"(default %(default)s{'; ' + note if note else ''})")
    if validate_on_test:
        common.add_argument("--validate-on", choices=VALIDATE_ON, default=VALIDATE_ON[0],
                            help="validate on a share of the training set (split, the default) or on the "
                                 "test set as the notes' listings do (test: the test score is then no "
                                 "longer unseen data)")
    common.add_argument("--data-dir", type=pathlib.Path, default=None,
                        help="folder searched first for dataset files (then $DLCOURSE_DATA, a checkout's "
                             "datasets/, ~/.keras/datasets, where downloads go)")
    common.add_argument("--out", type=pathlib.Path, default=None,
                        help="output root; this lab writes to OUT/%s/ (default $DLCOURSE_OUT, "
                             "else ./saved_models of the working directory)" % lab.name)
    common.add_argument("--seed", type=seed, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    common.add_argument("--deterministic", action="store_true", help="also enable TF op determinism (slower)")
    common.add_argument("--no-speedups", action="store_true",
                        help="train as a plain model.fit would (one step per call), for comparison; "
                             "README \"Performance\" has the measured defaults")
    common.add_argument("--mixed-precision", action="store_true",
                        help="mixed precision on a GPU or TPU (float16 on T4/V100, bfloat16 on A100 and "
                             "later and TPUs; no effect on a CPU); off by default, as it changes the arithmetic")
    common.add_argument("--strategy", choices=runtime.STRATEGIES, default="auto",
                        help="tf.distribute strategy (default auto)")
    common.add_argument("--dataset", choices=choices, default=choices[0],
                        help=f"dataset; 'sample' is the embedded {lab.sample!r} (no download)")
    common.add_argument("--smoke", action="store_true",
                        help="run end to end in seconds on embedded data (implies --dataset sample, 1 epoch)")
    common.add_argument("--tensorboard", action="store_true",
                        help=f"write TensorBoard logs under OUT/{lab.name}/tensorboard/, one run per training")
    common.add_argument("--profile-batches", type=batch_range, default=None, metavar="START,STOP",
                        help="profile these training steps, e.g. 10,15, into the TensorBoard logs "
                             "(implies --tensorboard; default off)")
    common.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="N",
                        help=f"also checkpoint every N training steps (every epoch always) into "
                             f"OUT/{lab.name}/.checkpoint/; rerunning the same command resumes an interrupted run")
    common.add_argument("--restart", action="store_true",
                        help="discard the checkpoint of an interrupted run and start over")
    parallel = parser.add_argument_group(
        "data parallelism (options of `dlcourse run`, README \"Training on several GPUs or machines\")",
        "Under TF_CONFIG (several machines) the lab trains under MultiWorkerMirroredStrategy with the\n"
        "library's own loop; only the chief (worker 0) writes OUT; rerun the same command on every\n"
        "worker to resume.")
    parallel.add_argument("--workers", type=positive_int, default=None, metavar="N",
                          help=f"dlcourse run {lab.number} --workers N: N local worker processes "
                               "(MultiWorkerMirroredStrategy on 127.0.0.1, one device each)")
    parallel.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                          help="with --workers: stop every worker after this long")
    parallel.add_argument("--devices", type=positive_int, default=None, metavar="N",
                          help="split the CPU into N logical devices (or $DLCOURSE_CPU_DEVICES=N); with "
                               "--strategy mirrored each one is a replica")
    return parser


def parse_lab_args(parser, argv=None):
    """Parse ``argv``; ``--smoke`` implies ``--dataset sample`` and at most one epoch."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    workers, devices = args.__dict__.pop("workers", None), args.__dict__.pop("devices", None)
    args.__dict__.pop("timeout", None)
    if workers is not None:  # `dlcourse run` takes --workers before the lab sees its flags
        parser.error(f"--workers starts several processes: use `dlcourse run {parser.prog.split()[-1]} --workers N`")
    if devices is not None:
        os.environ[runtime.CPU_DEVICES_VARIABLE] = str(devices)
    args.out = artifacts.output_root(args.out)
    out = args.out.absolute()
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
        self.fit_seconds = {}  # history file name -> seconds that fit trained (0 when restored)
        self.tensorboard_runs = []  # TensorBoard sub-runs written, one per fit
        self.checkpoint = None  # resume.RunCheckpoint: the lab's .checkpoint/ folder
        self._started = None
        self._signals = contextlib.ExitStack()
        self._worker_dir = None  # a non-chief worker's temporary lab folder, removed at the end

    def __enter__(self):
        runtime.configure_cpu_devices()  # --devices N / $DLCOURSE_CPU_DEVICES, before TF starts
        runtime.set_seed(self.args.seed, deterministic=getattr(self.args, "deterministic", False))
        self.strategy = runtime.get_strategy(getattr(self.args, "strategy", "auto"))
        if getattr(self.args, "mixed_precision", False):
            from dlcourse import performance

            self.record["mixed_precision"] = performance.set_mixed_precision(self.strategy, self.lab.number)
        chief_dir = self.out_dir
        if not runtime.is_chief(self.strategy):
            # TF's multi-worker pattern: only the chief writes the lab folder; the others write the
            # same files into a temporary folder, removed when the run ends
            task_type, task_id = runtime.task_of(self.strategy)
            self._worker_dir = tempfile.mkdtemp(prefix=f"dlcourse-{self.lab.name}-{task_type}{task_id}-")
            self.out_dir = pathlib.Path(self._worker_dir) / self.lab.name
        # smoke runs are seconds long: not worth a checkpoint
        self.checkpoint = resume.RunCheckpoint(self.out_dir, self.args,
                                               enabled=not getattr(self.args, "smoke", False))
        restart = getattr(self.args, "restart", False)
        note = self.checkpoint.open(restart=restart) if self._worker_dir is None else None
        if runtime.is_multi_worker(self.strategy):
            from dlcourse import distributed

            distributed.from_chief(self.strategy, [0.0])  # a barrier: the chief has opened its checkpoint
            if self._worker_dir is not None:
                # every worker resumes from the chief's checkpoint (a copy: on one machine or a shared --out)
                if self.checkpoint.enabled and not restart and (chief_dir / resume.CHECKPOINT_FOLDER).is_dir():
                    shutil.copytree(chief_dir / resume.CHECKPOINT_FOLDER, self.checkpoint.root, dirs_exist_ok=True,
                                    ignore_dangling_symlinks=True)
                self.checkpoint.open(restart=restart)
        # a run.json beside the files of a run in progress would describe an older run, and the
        # .partial files of atomic writes are what a killed run left half-written (.checkpoint/ stays)
        artifacts.remove_stale(self.out_dir, "run.json")
        self._signals.enter_context(resume.sigterm_raises())
        # The folder appears with the first file written (artifacts create parents), so a run that
        # stops early, e.g. on missing data, leaves nothing behind.
        self._started = time.perf_counter()
        print(f"lab {self.lab.name}: {self.lab.title} -> {self.out_dir}"
              f" (dataset {self.dataset}, {runtime.strategy_description(self.strategy)['replicas']} replica(s))")
        if note:
            print(note)
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._signals.close()
        if getattr(self.args, "mixed_precision", False):
            import keras

            keras.config.set_dtype_policy("float32")  # the next run in this process starts from float32
        if self._worker_dir is not None:
            shutil.rmtree(self._worker_dir, ignore_errors=True)
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            # Ctrl-C or SIGTERM: the last checkpoint stays; one line, then the shell's status (130 / 143)
            print(self._interruption_line(), file=sys.stderr, flush=True)
            raise SystemExit(resume.exit_status(exc)) from None
        if exc_type is not None and issubclass(exc_type, OSError):
            # a full disk or an unwritable folder met outside artifacts (a checkpoint, a log): one line
            error = artifacts.write_error(exc, exc.filename or self.out_dir)
            if error is not None:
                raise error from None
        return False

    def _interruption_line(self):
        checkpoint = self.checkpoint
        if checkpoint is None or not checkpoint.enabled:
            return (f"interrupted: lab {self.lab.number} stopped (smoke runs keep no checkpoint); "
                    "rerun the command to start again")
        if checkpoint.current is None and not self.histories:
            return f"interrupted: lab {self.lab.number} stopped before training; rerun the command to start again"
        if checkpoint.current is None:
            where = "between trainings"
        else:
            history_name = checkpoint.current[0]
            where = f"at epoch {checkpoint.epoch_saved() or 0}"
            if history_name != "history.csv":
                where += f" of {history_name}"
        return (f"interrupted: lab {self.lab.number} stopped {where}; rerun the same command to resume, "
                "or add --restart")

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

    def load_splits(self, *, smoke_train=SMOKE_TRAIN_SAMPLES, smoke_test=SMOKE_TEST_SAMPLES, **options):
        """``((x_train, y_train), (x_test, y_test))`` of this run's dataset, as ``keras.datasets`` returns.

        A ``--smoke`` run keeps the first ``smoke_train`` and ``smoke_test`` examples of each split
        (256 and 128 unless the lab names other sizes); ``options`` go to :meth:`load_data`.
        """
        train, test = self.load_data("train", **options), self.load_data("test", **options)
        if getattr(self.args, "smoke", False):
            train = tuple(array[:smoke_train] for array in train)
            test = tuple(array[:smoke_test] for array in test)
        return train, test

    # -- training --------------------------------------------------------------------------------
    def validation(self, x_test, y_test):
        """The ``fit`` arguments choosing the validation data: ``validation_split`` (the share
        ``--validation-split`` of the training set, the default), or with ``--validate-on test`` the
        test split, as the notes' Listings II-B and V-A do (docs/SOURCES.md, errata A25 and A51): the
        notes' variant, reachable, with run.json's ``validation`` saying which was used."""
        if getattr(self.args, "validate_on", "split") == "test":
            self.record["validation"] = "test set (--validate-on test: the test score is not on unseen data)"
            return {"validation_data": (x_test, y_test)}
        self.record["validation"] = f"{self.args.validation_split:g} of the training set"
        return {"validation_split": self.args.validation_split}

    @contextlib.contextmanager
    def timed(self, samples):
        """Time training done without :meth:`fit` (a NumPy loop, a ``GradientTape`` loop).

        Adds the block's seconds and ``samples`` (training examples processed, counting repeats) to
        run.json's ``training_seconds`` and ``samples_per_second``; labs never write those counters.
        """
        started = time.perf_counter()
        yield
        self.training_seconds += time.perf_counter() - started
        self.samples_seen += int(samples)

    def fit(self, model, x=None, y=None, *, history_name="history.csv", curves_name="learning_curves.png",
            early_stopping=None, callbacks=(), samples_per_epoch=None, **fit_kwargs):
        """``model.fit`` with the runner's callbacks; writes history CSV and learning curves; times it.

        Adds ``CSVLogger`` and ``TerminateOnNaN(raise_error=True)`` (``compat.terminate_on_nan()`` on
        every Keras), and, except in smoke runs, a ``BackupAndRestore`` checkpoint
        (:class:`dlcourse.resume.EpochBackup`) in ``.checkpoint/<history stem>/``: on a resumed run
        the fit continues from its last checkpoint, and a fit that had finished is not retrained (its
        weights and history are restored). The history CSV (each epoch once) is moved into place at
        the end. ``early_stopping`` is a dict of ``EarlyStopping`` arguments (``monitor="val_loss"``
        and ``restore_best_weights=True`` by default; its patience restarts on a resumed fit).
        ``samples_per_epoch`` feeds run.json's samples per second; it is inferred for arrays,
        ``PyDataset`` objects and tf.data datasets with a static batch size. With ``--tensorboard``
        it also adds Keras's ``TensorBoard`` callback, logging to ``tensorboard/<history stem>/``.
        """
        import keras

        from dlcourse import compat
        from dlcourse.data.pipeline import fit_arguments

        custom_loop = runtime.uses_custom_loop(self.strategy)  # MultiWorkerMirroredStrategy: dlcourse.distributed
        if self.strategy.num_replicas_in_sync > 1:
            synchronize_batch_norm(model)
        history_path = self.path(history_name)
        checkpoint = self.checkpoint if self.checkpoint is not None and self.checkpoint.enabled else None
        if samples_per_epoch is None:
            samples_per_epoch = samples_in(x, fit_kwargs)
        if not custom_loop:  # arrays: a pipeline reshuffled every epoch (Keras' repeats one order when seeded)
            converted = fit_arguments(x, y, fit_kwargs, seed=self.args.seed)
            if converted is not None:
                x, y, fit_kwargs = converted[0], None, converted[1]
                callbacks = (converted[2], *callbacks)  # tells the pipeline each epoch's number
        if not custom_loop:  # dlcourse.distributed's loop runs one step per call
            self._speed_up(model, history_name, training_steps(x, fit_kwargs, samples_per_epoch),
                           sequence_length(x))
        finished = checkpoint.finished(history_name) if checkpoint else None
        if runtime.is_multi_worker(self.strategy):
            self._agree_with_chief(history_name, finished, checkpoint)
        if finished is not None:
            return self._restore_finished_fit(model, history_name, curves_name, finished)
        saved = checkpoint.saved_epoch(history_name) if checkpoint else None
        # one TensorBoard sub-run per fit (history.csv -> tensorboard/history/), kept when resuming it
        tensorboard = (self._tensorboard_callback(history_path.stem, clear=saved is None)
                       if self.tensorboard else None)
        with contextlib.ExitStack() as stack:
            if checkpoint:  # a durable partial history, moved into place when the fit ends
                restored = checkpoint.start_fit(history_name, saved)
                csv_path = checkpoint.history_path(history_name)
                csv_path.parent.mkdir(parents=True, exist_ok=True)
            else:
                restored = {}
                csv_path = stack.enter_context(artifacts.atomic_path(history_path))
            # CSVLogger first (its row for an epoch is written before that epoch's checkpoint), the
            # NaN check before the checkpoint (a NaN step is never saved), the checkpoint last
            run_callbacks = [keras.callbacks.CSVLogger(str(csv_path), append=checkpoint is not None),
                             *([] if custom_loop else [compat.terminate_on_nan()]), *callbacks]
            if early_stopping is not None:
                options = {"monitor": "val_loss", "restore_best_weights": True, **early_stopping}
                run_callbacks.append(keras.callbacks.EarlyStopping(**options))
            if tensorboard is not None:
                run_callbacks.append(tensorboard)
            backup = None
            if checkpoint and custom_loop:
                backup = checkpoint.loop_backup(history_name)
            elif checkpoint:
                run_callbacks.append(checkpoint.callback(history_name))
            if saved:
                epochs = fit_kwargs.get("epochs", 1)
                step = (f" (weights from step {saved[1] + 1} of epoch {saved[0] + 1}, which restarts)"
                        if saved[1] else "")
                which = "" if history_name == "history.csv" else f" ({history_name})"
                print(f"resuming lab {self.lab.number} from epoch {saved[0]} of {epochs}{which}{step}", flush=True)
            # a progress bar per epoch for real runs ("auto"); silence for the seconds-long smoke runs
            fit_kwargs.setdefault("verbose", 0 if getattr(self.args, "smoke", False) else "auto")
            if hasattr(x, "element_spec"):  # tf.data shuffles in its own pipeline; Keras would warn
                fit_kwargs.setdefault("shuffle", False)
            started = time.perf_counter()
            try:
                if custom_loop:
                    from dlcourse import distributed

                    history = distributed.fit(model, x, y, strategy=self.strategy, callbacks=run_callbacks,
                                              backup=backup, seed=self.args.seed, **fit_kwargs)
                else:
                    history = model.fit(x, y, callbacks=run_callbacks, **fit_kwargs)
            except RuntimeError as error:
                if "NaN" in str(error) or "nan" in str(error):
                    kept = (f" (the checkpoint of epoch {checkpoint.epoch_saved()} is kept; add --restart "
                            "to start over)" if checkpoint and checkpoint.epoch_saved() else "")
                    raise UserError(f"training diverged (loss became NaN) in lab {self.lab.name}; "
                                    f"lower the learning rate or check the data{kept}") from None
                raise
            finally:
                model._initial_epoch = None  # BackupAndRestore's resume epoch must not leak into a later fit
            seconds = time.perf_counter() - started
        epochs_run = len(history.epoch)
        if saved:  # the epochs trained before the interruption, then this fit's
            keys = dict.fromkeys([*restored, *history.history])
            history.history = {key: restored.get(key, []) + list(history.history.get(key, [])) for key in keys}
            history.epoch = list(range(saved[0])) + list(history.epoch)
        if checkpoint:
            checkpoint.finish_fit(model, history_name, history, seconds=seconds,
                                  samples_per_epoch=samples_per_epoch)
            with artifacts.atomic_path(history_path) as temporary:
                shutil.copyfile(csv_path, temporary)
        return self._record_fit(history, history_name, curves_name, seconds, epochs_run * (samples_per_epoch or 0))

    def _speed_up(self, model, history_name, steps, length=None):
        """Apply :mod:`dlcourse.performance`'s settings for this fit (``steps``: its training steps,
        ``length``: its longest sequence, each if known); record them in run.json."""
        from dlcourse import performance

        per_batch = bool(getattr(self.args, "checkpoint_every", None) or getattr(self.args, "profile_batches", None))
        chosen = performance.settings(model, self.strategy, enabled=not getattr(self.args, "no_speedups", False),
                                      per_batch_callbacks=per_batch, steps=steps, sequence_length=length)
        performance.apply(model, chosen)
        self.record.setdefault("performance", {})[history_name] = chosen

    def _agree_with_chief(self, history_name, finished, checkpoint):
        """Every worker must start a fit where the chief does (else the collectives would hang)."""
        from dlcourse import distributed

        saved = checkpoint.saved_epoch(history_name) if checkpoint and finished is None else None
        mine = [1.0 if finished is not None else 0.0, float(saved[0]) if saved else -1.0]
        if distributed.from_chief(self.strategy, mine) != mine:
            raise UserError(f"this worker cannot see the chief's checkpoint of {history_name} under "
                            f"{self.args.out}; resuming a multi-worker run needs --out on storage every worker "
                            "reads (or add --restart on every worker)")

    def _restore_finished_fit(self, model, history_name, curves_name, record):
        """A resumed run meets a fit that had finished: restore it instead of training again."""
        history = self.checkpoint.restore_fit(model, history_name, record)
        print(f"resuming lab {self.lab.number}: {history_name} had finished; its weights and history are "
              "restored, not retrained", flush=True)
        with artifacts.atomic_path(self.path(history_name)) as temporary:
            shutil.copyfile(self.checkpoint.history_path(history_name), temporary)
        if self.tensorboard and pathlib.Path(history_name).stem not in self.tensorboard_runs:
            self.tensorboard_runs.append(pathlib.Path(history_name).stem)
        samples = len(history.epoch) * (record.get("samples_per_epoch") or 0)
        return self._record_fit(history, history_name, curves_name, record.get("seconds", 0.0), samples)

    def _record_fit(self, history, history_name, curves_name, seconds, samples):
        self.training_seconds += seconds
        self.samples_seen += samples
        self.histories[history_name] = history.history
        self.fit_seconds[history_name] = seconds
        if curves_name and history.epoch:
            artifacts.plot_learning_curves(history, self.path(curves_name), title=f"Lab {self.lab.number}")
        return history

    # -- TensorBoard -----------------------------------------------------------------------------
    @property
    def tensorboard(self):
        """True when ``--tensorboard`` (or ``--profile-batches``, which needs its logs) is given."""
        return bool(getattr(self.args, "tensorboard", False) or getattr(self.args, "profile_batches", None))

    @property
    def tensorboard_dir(self):
        return self.out_dir / "tensorboard"

    def _tensorboard_callback(self, run_name, clear=True):
        """Keras's TensorBoard callback writing to ``tensorboard/<run_name>/``, cleared first (unless a
        resumed fit continues its curves) so a rerun's curves do not mix with the last run's."""
        import keras

        try:  # TensorFlow >= 2.21 no longer installs it, and tf.summary.scalar needs it
            import tensorboard.summary.v2  # noqa: F401
        except ImportError:
            raise UserError("--tensorboard needs the tensorboard package, which is not installed: "
                            'pip install "dlcourse[tensorboard]"') from None
        log_dir = self.tensorboard_dir / run_name
        if clear:
            shutil.rmtree(log_dir, ignore_errors=True)
        if run_name not in self.tensorboard_runs:
            self.tensorboard_runs.append(run_name)
        return keras.callbacks.TensorBoard(log_dir=str(log_dir),
                                           profile_batch=getattr(self.args, "profile_batches", None) or 0)

    def _tensorboard_record(self):
        if not self.tensorboard:
            return {"enabled": False}
        profile = getattr(self.args, "profile_batches", None)
        return {"enabled": True,
                "log_dir": str(self.tensorboard_dir.absolute()) if self.tensorboard_runs else None,
                "runs": list(self.tensorboard_runs),
                "profile_batches": list(profile) if profile else None}

    # -- the run record --------------------------------------------------------------------------
    def finish(self, metrics=None, model=None, **extra):
        """Write ``run.json`` (the fields of docs/DESIGN.md, "Contracts") and print the one-line result; returns the record."""
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
            "tensorboard": self._tensorboard_record(),
            "resumed_from_epoch": self.checkpoint.resumed_from_epoch if self.checkpoint else None,
            "cluster": (runtime.cluster_description(self.strategy, getattr(self.args, "batch_size", None))
                        if self.strategy else None),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **self.record,
            **{key: _plain(value) for key, value in extra.items()},
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record["outputs"] = sorted(path.name for path in self.out_dir.iterdir()
                                   if path.is_file() and not path.name.startswith(".")) + ["run.json"]
        if self.checkpoint is not None and self.checkpoint.restored_fits:
            record["resumed_fits_not_retrained"] = list(self.checkpoint.restored_fits)
        artifacts.write_json(record, self.path("run.json"))
        if self.checkpoint is not None:
            self.checkpoint.discard()  # after run.json: a kill in between resumes by restoring every fit
        summary = " ".join(f"{key}={_format(value)}" for key, value in metrics.items())
        if record["parameters"] is not None:
            summary += f" params={record['parameters']}"
        print(f"lab{self.lab.number} {summary}".rstrip())
        if record["smoke"]:
            print(f"(smoke run: a seconds-long check that the lab works end to end, not a result; "
                  f"`dlcourse run {self.lab.number} --help` says what to observe in a full run)")
        return record


def synchronize_batch_norm(model):
    """Make every ``BatchNormalization`` in ``model`` use the GLOBAL batch's statistics (``synchronized``).

    With several replicas each one would otherwise normalise by its own share of the batch, so the
    same lab would train a different model on 1, 2 or 8 devices; synchronised, N replicas (or N
    workers) train what one device trains with the same global batch. Returns the layers changed.
    """
    import keras

    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized]
    for layer in layers:
        layer.synchronized = True
    return layers


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


def training_steps(x, fit_kwargs, samples_per_epoch):
    """The training steps a ``fit`` will run over all its epochs, or None when they cannot be known."""
    steps = fit_kwargs.get("steps_per_epoch")
    if steps is None and hasattr(x, "element_spec"):
        cardinality = int(x.cardinality())
        steps = cardinality if cardinality >= 0 else None
    elif steps is None and samples_per_epoch:
        steps = -(-samples_per_epoch // (fit_kwargs.get("batch_size") or 32))  # Keras's default batch: 32
    return steps * fit_kwargs.get("epochs", 1) if steps else None


def sequence_length(x):
    """The longest second axis among the tensors a dataset yields (inputs and targets; None when
    unknown or when ``x`` is not a dataset): a bound on the time steps a recurrent model loops over."""
    import tensorflow as tf

    if not hasattr(x, "element_spec"):
        return None
    lengths = [spec.shape[1] for spec in tf.nest.flatten(x.element_spec) if spec.shape.rank and spec.shape.rank >= 2]
    return None if not lengths or None in lengths else max(lengths)


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
