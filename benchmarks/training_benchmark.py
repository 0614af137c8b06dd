"""Train each lab and the plain Keras code a student would otherwise run, side by side, and print the ratios.

    python benchmarks/training_benchmark.py                      # every row, 3 repeats (tens of minutes)
    python benchmarks/training_benchmark.py --rows 06 --repeats 5
    python benchmarks/training_benchmark.py --quick --rows 06 --repeats 1   # a one-minute check
    python benchmarks/training_benchmark.py --json results.json --epochs 2 --images 4000

Rows (benchmarks/README.md says more):

    06  lab 06 (CIFAR-10 CNN)        vs  the notes' Listing II-B as written (plain/listing_2b.py)
    07  lab 07 (LeNet-5)             vs  the common Keras LeNet-5 (plain/lenet5_keras.py)
    12  lab 12 --models lstm         vs  keras.io's IMDB LSTM example, one LSTM (plain/imdb_lstm.py)
    14  lab 14 (DCGAN)               vs  keras.io's DCGAN train_step (plain/dcgan_keras.py)
    16  lab 16 (dense autoencoder)   vs  the notes' Listing V-A as written (plain/dense_autoencoder.py)
    18  lab 18 (VAE)                 vs  keras.io's VAE example (plain/vae_keras.py)

Both sides of a row read the same canonical-format file (``cifar-10-python.tar.gz``, ``mnist.npz``,
``imdb.npz``) from one temporary data folder (benchdata.py: the real dataset where a verified copy is
on dlcourse's data path, else the embedded ``shapes`` / ``digits`` / ``reviews`` replicated to
``--images``), train for the same epochs, each run in a fresh Python process, alternating lab, plain,
lab, plain for ``--repeats`` runs; medians are reported. The plain scripts are unseeded, so the lab's
repeats use ``--seed 0``, ``1``, ``2``, ...: both medians then span initializations and shuffles (a
seeded lab repeated alone would report one draw of its metric). Lab samples/s is run.json's
``samples_per_second`` (training samples over the seconds inside ``fit``, validation included); the
plain scripts time their ``fit`` call the same way. FLOPs per training sample are counted once from
the lab's saved models (flops.py); the share of peak is against this machine's fp32 matmul rate,
measured first. Progress goes to stderr, the Markdown table to stdout.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PLAIN = HERE / "plain"
RESULT_PREFIX = "BENCHMARK_RESULT "
sys.path.insert(0, str(HERE))
from rows import ROWS  # noqa: E402  (benchmarks/rows.py)

QUICK = dict(epochs=1, images=512, peak_size=1024, peak_repeats=3)


def image_count(text):
    """``5000``, ``5k`` or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(float(text[:-1]) * 1000) if text.lower().endswith("k") else int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of images, e.g. 5000 or 5k, or 'all'; got {text!r}")
    return value


def progress(message):
    print(f"[training_benchmark {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment():
    """The environment of every child: this checkout's dlcourse, no downloads, unverified files allowed."""
    env = dict(os.environ, DLCOURSE_VERIFY="0", DLCOURSE_OFFLINE="1", MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_child(command, log, cwd, timeout):
    """Run ``command`` with its output in ``log``; returns the output, raises RuntimeError on failure."""
    started = time.perf_counter()
    with open(log, "w") as handle:
        try:
            code = subprocess.run(command, cwd=cwd, env=environment(), stdout=handle, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    output = pathlib.Path(log).read_text(errors="replace")
    if code != 0:
        tail = "\n".join(output.splitlines()[-15:])
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({code}); see {log}:\n{tail}")
    return output, time.perf_counter() - started


def helper(script, *args, log, timeout=900):
    output, _ = run_child([sys.executable, str(HERE / script), *map(str, args)], log, cwd=HERE, timeout=timeout)
    return json.loads(output.strip().splitlines()[-1])


def run_lab(row, data_dir, epochs, work, timeout, quick, seed=0):
    out = pathlib.Path(tempfile.mkdtemp(prefix=f"lab{row.key}_", dir=work))
    command = [sys.executable, "-m", "dlcourse", "run", row.key, "--epochs", str(epochs), "--data-dir",
               str(data_dir), "--out", str(out), "--seed", str(seed), *row.lab_args,
               *(row.quick_lab_args if quick else ())]
    _, wall = run_child(command, out / "log.txt", cwd=out, timeout=timeout)
    record = json.loads(next(out.glob(f"{row.key}_*/run.json")).read_text())
    return {"samples_per_second": record.get("samples_per_second"), "training_seconds": record.get("training_seconds"),
            "metric": record.get("metrics", {}).get(row.lab_metric), "metrics": record.get("metrics", {}),
            "parameters": record.get("parameters"), "wall_seconds": round(wall, 2),
            "folder": str(next(out.glob(f"{row.key}_*"))), "run_json": record}


def run_plain(row, data_dir, epochs, work, timeout):
    folder = pathlib.Path(tempfile.mkdtemp(prefix=f"plain{row.key}_", dir=work))
    command = [sys.executable, str(PLAIN / row.plain), "--data-dir", str(data_dir), "--epochs", str(epochs)]
    output, wall = run_child(command, folder / "log.txt", cwd=folder, timeout=timeout)
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise RuntimeError(f"{row.plain} printed no {RESULT_PREFIX.strip()} line; see {folder / 'log.txt'}")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    seconds, samples = result["training_seconds"], result["samples"]
    return {"samples_per_second": round(samples / seconds, 1) if seconds > 0 else None,
            "training_seconds": round(seconds, 3), "samples": samples,
            "metric": result["metrics"].get(row.plain_metric), "metrics": result["metrics"],
            "parameters": result.get("parameters"), "wall_seconds": round(wall, 2)}


def median(runs, key):
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def metric_check(row, lab, plain):
    """True/False where the row's metric can be compared (accuracy: no worse than plain - 0.01; a loss:
    no worse than plain + 5%), None where it cannot (a GAN loss is not a quality measure)."""
    if row.higher_is_better is None or lab is None or plain is None:
        return None
    return lab >= plain - 0.01 if row.higher_is_better else lab <= plain * 1.05


def benchmark_row(row, args, work, data_dirs):
    epochs = args.epochs or (QUICK["epochs"] if args.quick else row.epochs)
    images = args.images or ((row.quick_images or QUICK["images"]) if args.quick else row.images)
    whole_real = args.images is None and not args.quick  # a real dataset found is used whole by default
    sizes = ("--whole-real",) if whole_real else ()
    if images != "all":
        test_images = max(100, round(images * row.validation / (1 - row.validation)))
        sizes += ("--images", images, "--test-images", test_images)
    key = (row.kind, *sizes)
    if key not in data_dirs:
        folder = work / "_".join(["data", row.kind, *(str(size).strip("-") for size in sizes)])
        size = "all examples" if images == "all" else f"{images} training / {test_images} test examples"
        whole = "; a real dataset found is used whole" if whole_real else ""
        progress(f"{row.key}: writing the {row.kind} files ({size}{whole})")
        try:
            data_dirs[key] = helper("benchdata.py", row.kind, folder, *sizes, "--source", args.data,
                                    log=work / f"{folder.name}.log")
        except (RuntimeError, ValueError) as error:
            progress(f"{row.key}: writing the data FAILED: {error}")
            data_dirs[key] = {"error": str(error), "source": "none", "train": None, "test": None}
    data = data_dirs[key]
    lab_runs, plain_runs, errors = [], [], [f"data: {data['error']}"] if "error" in data else []
    for repeat in range(1, args.repeats + 1 if "error" not in data else 1):
        for side, runs in (("lab", lab_runs), ("plain", plain_runs)):
            try:
                if side == "lab":
                    result = run_lab(row, data["folder"], epochs, work, args.timeout, args.quick, seed=repeat - 1)
                else:
                    result = run_plain(row, data["folder"], epochs, work, args.timeout)
            except (RuntimeError, OSError, StopIteration, ValueError, KeyError) as error:
                errors.append(f"{side} run {repeat}: {error}")
                progress(f"{row.key}: {side} run {repeat}/{args.repeats} FAILED: {error}")
                continue
            runs.append(result)
            progress(f"{row.key}: {side} run {repeat}/{args.repeats}: {result['samples_per_second']} samples/s, "
                     f"{row.metric} {_number(result['metric'], 4)}, {result['wall_seconds']:.0f} s in all")
    result = {"row": row.key, "title": row.title, "plain_title": row.plain_title, "plain_script": f"plain/{row.plain}",
              "epochs": epochs, "data": data, "metric": row.metric, "lab_metric_key": row.lab_metric,
              "plain_metric_key": row.plain_metric, "lab_runs": lab_runs, "plain_runs": plain_runs, "errors": errors,
              "lab_samples_per_second": median(lab_runs, "samples_per_second"),
              "plain_samples_per_second": median(plain_runs, "samples_per_second"),
              "lab_metric": median(lab_runs, "metric"), "plain_metric": median(plain_runs, "metric"),
              "target_ratio": row.target, "flop_rule": row.flop_rule}
    lab_sps, plain_sps = result["lab_samples_per_second"], result["plain_samples_per_second"]
    result["ratio"] = lab_sps / plain_sps if lab_sps and plain_sps else None
    result["metric_ok"] = metric_check(row, result["lab_metric"], result["plain_metric"])
    result["flops_per_sample"] = training_flops(row, lab_runs, work)
    return result


def training_flops(row, lab_runs, work):
    """Training FLOPs per sample from the first lab run's saved models, or None."""
    if not lab_runs:
        return None
    folder = pathlib.Path(lab_runs[0]["folder"])
    try:
        counted = helper("flops.py", "count", *(f"{role}={folder / name}" for role, name, _ in row.models),
                         log=work / f"flops_{row.key}.log")
    except (RuntimeError, ValueError) as error:
        progress(f"{row.key}: FLOPs not counted: {error}")
        return None
    if counted["uncounted"]:
        progress(f"{row.key}: layers with weights not counted: {', '.join(counted['uncounted'])}")
    return sum(weight * counted["forward_flops"][role] for role, _, weight in row.models)


def _number(value, digits=1):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def table(results, peak):
    lines = ["| row | lab samples/s | plain samples/s | ratio lab/plain (target) | lab metric | plain metric "
             "| GFLOP/s lab | % of peak |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        gflops = r["flops_per_sample"] * r["lab_samples_per_second"] / 1e9 \
            if r["flops_per_sample"] and r["lab_samples_per_second"] else None
        r["gflops_lab"] = gflops
        r["gflops_plain"] = (r["flops_per_sample"] * r["plain_samples_per_second"] / 1e9
                             if r["flops_per_sample"] and r["plain_samples_per_second"] else None)
        r["percent_of_peak_lab"] = 100 * gflops / peak["gflops"] if gflops and peak else None
        r["percent_of_peak_plain"] = 100 * r["gflops_plain"] / peak["gflops"] if r["gflops_plain"] and peak else None
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        met = "" if r["ratio"] is None else (" met" if r["ratio"] >= r["target_ratio"] and r["metric_ok"] is not False
                                             else " not met")
        check = {True: "", False: " (worse)", None: ""}[r["metric_ok"]]
        digits = 4 if r["metric"] != "test MSE" else 5
        lines.append(
            f"| {r['row']} {r['title'][7:]} vs {r['plain_title']} | {_number(r['lab_samples_per_second'])} "
            f"| {_number(r['plain_samples_per_second'])} | {ratio} (>= {r['target_ratio']:.1f}x{met}) "
            f"| {r['metric']} {_number(r['lab_metric'], digits)}{check} "
            f"| {r['metric']} {_number(r['plain_metric'], digits)} "
            f"| {_number(gflops, 2)} | {_number(r['percent_of_peak_lab'], 1)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows (default {','.join(ROWS)})")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, alternating (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every row (default: per row, "
                        "see --list)")
    parser.add_argument("--images", type=image_count, default=None,
                        help="training images (or reviews) for every row: a number, 10k, or 'all' for the "
                             "source's own size (default: per row, see --list; a real dataset found: all of it)")
    parser.add_argument("--data", choices=["auto", "real", "embedded"], default="auto",
                        help="auto: the real dataset where a verified copy is found, else the embedded one")
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes for a check: {QUICK['images']} images, "
                        f"{QUICK['epochs']} epoch, a {QUICK['peak_size']}-matmul peak (the numbers mean little)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write every number here")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per run (default 3600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, lab outputs)")
    parser.add_argument("--list", action="store_true", help="print the rows and their default sizes, then exit")
    args = parser.parse_args(argv)
    if args.list:
        for row in ROWS.values():
            print(f"{row.key}  {row.title} vs {row.plain_title} (plain/{row.plain}): {row.epochs} epochs, "
                  f"{row.images} images, metric {row.metric}, FLOPs {row.flop_rule}, target {row.target}x")
        return 0
    keys = [key.strip().zfill(2) for key in args.rows.split(",") if key.strip()]
    unknown = [key for key in keys if key not in ROWS]
    if unknown or args.repeats < 1:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}" if unknown
                     else "--repeats must be at least 1")

    work = pathlib.Path(tempfile.mkdtemp(prefix="dlcourse_training_benchmark_"))
    progress(f"working in {work}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    try:
        size, repeats = (QUICK["peak_size"], QUICK["peak_repeats"]) if args.quick else (2048, 5)
        try:
            peak = helper("flops.py", "peak", "--size", size, "--repeats", repeats, log=work / "peak.log")
            progress(f"fp32 matmul peak: {peak['gflops']:.1f} GFLOP/s ({size}x{size}, best of {repeats}, "
                     f"{peak['device']})")
        except (RuntimeError, ValueError) as error:
            peak = None
            progress(f"matmul peak not measured: {error}")
        data_dirs, results = {}, []
        for key in keys:
            progress(f"row {key}: {ROWS[key].title} vs plain/{ROWS[key].plain}")
            results.append(benchmark_row(ROWS[key], args, work, data_dirs))
        markdown = table(results, peak)
        report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                              "python": platform.python_version(),
                              "load_average": os.getloadavg(), "matmul_peak": peak},
                  "settings": {"rows": keys, "repeats": args.repeats, "quick": args.quick, "data": args.data,
                               "epochs": args.epochs, "images": args.images},
                  "seconds": round(time.perf_counter() - started, 1), "rows": results, "table": markdown}
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(markdown)
    print()
    peak_text = f"{peak['gflops']:.1f} GFLOP/s ({peak['device']}, {peak['size']}x{peak['size']} float32 tf.matmul, " \
                f"best of {peak['repeats']})" if peak else "not measured"
    print(f"Medians of {args.repeats} alternating run(s) per side; {os.cpu_count()} CPUs; "
          f"fp32 matmul peak {peak_text}.")
    for r in results:
        data = r["data"]
        errors = "; ERRORS: " + " | ".join(error.splitlines()[0] for error in r["errors"]) if r["errors"] else ""
        print(f"- {r['row']}: {r['epochs']} epoch(s), {data['train']} training / {data['test']} test examples from "
              f"{data['source']}; FLOPs/sample {_number(r['flops_per_sample'] and r['flops_per_sample'] / 1e6, 1)} M "
              f"({r['flop_rule']}){errors}")
    print("FLOPs: 2 x multiply-adds of the Dense/Conv/ConvTranspose/recurrent layers of the lab's saved models, "
          "counted analytically (flops.py); training = forward + backward ~ 3 x forward; element-wise work and "
          "validation passes not counted. Samples/s include the validation inside fit on both sides.")
    if args.quick:
        print("(--quick: tiny sizes; a check that the benchmark works, not a measurement)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        progress(f"wrote {args.json}")
    progress(f"done in {time.perf_counter() - started:.0f} s")
    return 0 if all(not r["errors"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
