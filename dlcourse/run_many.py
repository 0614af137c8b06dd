"""``dlcourse run all`` and ``dlcourse run 01,04,06``: several labs, one after another or ``--jobs N`` at a time.

With one job (the default for real runs, where one lab already keeps every core busy) the labs run
in this process and their output streams as it comes. With ``--jobs N`` (the default for ``--smoke``:
one per CPU core, at most :data:`MAX_SMOKE_JOBS`) N worker processes, each importing TensorFlow
once, take the labs in catalog order; each lab's output is captured and printed whole, in catalog
order, when it ends, so the log reads as a sequential run would. A smoke lab is seconds of graph
tracing and small eager steps, mostly one Python thread, so two labs at a time on two cores take
about half as long; each worker gets ``cores / N`` threads for TensorFlow's kernels. The labs write
to their own folders under ``--out``, so they do not share files.
"""

import contextlib
import io
import os
import sys
import time

from dlcourse import catalog
from dlcourse.errors import UserError, report_user_errors

__all__ = ["select_labs", "split_jobs", "default_jobs", "run_labs"]

MAX_SMOKE_JOBS = 4


def select_labs(key):
    """The labs ``key`` names: ``"all"``, or numbers/names separated by commas (``"01,04,06"``)."""
    if key == "all":
        labs = list(catalog.LABS)
    else:
        labs = []
        for part in key.split(","):
            lab = catalog.get_lab(part)
            if lab not in labs:
                labs.append(lab)
    missing = [lab.name for lab in labs if not lab.script.is_file()]
    if missing:
        raise UserError(f"this installation lacks the scripts of labs {', '.join(missing)} "
                        f"(looked in {catalog.labs_directory()}); reinstall dlcourse")
    return labs


def split_jobs(flags):
    """``(jobs or None, other flags)``: ``--jobs N`` / ``--jobs=N`` taken out of the lab flags."""
    from dlcourse.launcher import count_flag, take_flags

    found, rest = take_flags(flags, ("--jobs",))
    return (count_flag("--jobs", found["--jobs"]) if "--jobs" in found else None), rest


def default_jobs(flags, cores=None):
    """One job for real runs; for ``--smoke`` runs one per core, at most :data:`MAX_SMOKE_JOBS`."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, MAX_SMOKE_JOBS)) if "--smoke" in flags else 1


def run_labs(labs, flags, jobs=1):
    """Run ``labs`` with the same lab ``flags``; prints a summary and returns 0, or 1 if one failed."""
    jobs = max(1, min(int(jobs), len(labs)))
    results = _in_this_process(labs, flags) if jobs == 1 else _in_workers(labs, flags, jobs)
    failures = [lab.name for lab, code in zip(labs, results) if code != 0]
    print(f"\nran {len(labs)} labs: {len(labs) - len(failures)} ok, {len(failures)} failed"
          + (f" ({', '.join(failures)})" if failures else "")
          + (f"; {jobs} at a time" if jobs > 1 else ""))
    return 1 if failures else 0


def _header(index, count, lab):
    return f"\n=== [{index}/{count}] lab {lab.name} ==="


def _footer(lab, code, seconds):
    return f"=== lab {lab.name}: {'ok' if code == 0 else 'FAILED'} in {seconds:.1f}s ==="


def _in_this_process(labs, flags):
    codes = []
    for index, lab in enumerate(labs, 1):
        print(_header(index, len(labs), lab), flush=True)
        started = time.perf_counter()
        code = report_user_errors(lambda: catalog.load_lab_module(lab).main(flags) or 0)
        print(_footer(lab, code, time.perf_counter() - started), flush=True)
        codes.append(code)
    return codes


def _in_workers(labs, flags, jobs):
    import concurrent.futures
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # never fork a process that has started TensorFlow
    codes = []
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                                                initargs=(threads,)) as pool:
        futures = [pool.submit(_run_captured, lab.name, list(flags)) for lab in labs]
        try:
            for index, (lab, future) in enumerate(zip(labs, futures), 1):
                print(_header(index, len(labs), lab), flush=True)
                try:
                    code, output, seconds, exited = future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    code, output, seconds, exited = 1, f"the worker running this lab died: {error}\n", 0.0, False
                sys.stdout.write(output)
                if exited:  # a bad lab flag: argparse's usage message, as a sequential run stops on it
                    raise SystemExit(code)
                print(_footer(lab, code, seconds), flush=True)
                codes.append(code)
        except BaseException:  # Ctrl-C: start no more labs; the running ones get the same SIGINT
            for future in futures:
                future.cancel()
            raise
    return codes


def _start_worker(threads):
    """In each worker, before any TensorFlow op: ``threads`` threads for kernels and between ops."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _run_captured(name, flags):
    """Run lab ``name`` in a worker: ``(exit status, its stdout and stderr, seconds, exited)``, where
    ``exited`` says the lab called ``sys.exit`` (argparse does on a bad flag)."""
    import keras

    buffer = io.StringIO()
    started = time.perf_counter()
    exited = False
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            code = report_user_errors(lambda: catalog.load_lab_module(catalog.get_lab(name)).main(flags) or 0)
        except SystemExit as error:
            code, exited = error.code if isinstance(error.code, int) else 1, True
    keras.backend.clear_session()  # the next lab in this worker starts from a clean graph and names
    return code, buffer.getvalue(), time.perf_counter() - started, exited
