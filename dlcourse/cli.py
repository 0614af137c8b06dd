"""The ``dlcourse`` console command.

``dlcourse list | run NN|name|all [lab flags] | info | data ... | predict | predict-text | gui | check | grade``.
Subcommands that live in other modules are imported only when used. ``import dlcourse`` itself loads
Keras (it registers the package's layers, so saved models load anywhere), so every command pays
TensorFlow's start-up of a few seconds.
"""

import argparse
import importlib
import os
import sys

from dlcourse import __version__, catalog
from dlcourse.errors import UserError, report_user_errors

# name -> (module with configure_parser(parser) and command(args) -> int, one-line help)
COMMANDS = {
    "data": ("dlcourse.data.cli", "list, verify or fetch datasets"),
    "predict": ("dlcourse.prediction", "top-k classes of images with a saved image classifier"),
    "predict-text": ("dlcourse.text_prediction", "score raw text with a saved sentiment model"),
    "gui": ("dlcourse.gui", "a window that classifies images with a saved model"),
    "check": ("dlcourse.grading.check", "check your saved_models/ against the grading manifests"),
    "grade": ("dlcourse.grading.grade", "grade a folder of student submissions (instructors)"),
}
BUILTIN = {
    "list": "list the labs with their unit and outputs",
    "run": "run lab NN (or all) with lab flags, e.g. `dlcourse run 06 --smoke`",
    "info": "versions, devices, data root and settings",
}


def _top_parser():
    parser = argparse.ArgumentParser(
        prog="dlcourse", description="Deep-learning course labs (TensorFlow/Keras).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {name:<13} {text}" for name, text in
                                         {**BUILTIN, **{k: v[1] for k, v in COMMANDS.items()}}.items()))
    parser.add_argument("--version", action="version", version=f"dlcourse {__version__}")
    parser.add_argument("command", choices=[*BUILTIN, *COMMANDS], metavar="command")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def list_labs():
    print(f"{'lab':<28} {'unit':<5} {'trains on (sample)':<26} outputs")
    for lab in catalog.LABS:
        data = lab.dataset if lab.dataset == "none" else f"{lab.dataset} ({lab.sample})"
        print(f"{lab.name:<28} {lab.unit:<5} {data:<26} {', '.join(lab.outputs)}")
    return 0


def run_labs(arguments):
    if not arguments or arguments[0] in ("-h", "--help"):
        print("usage: dlcourse run NN|name|all|NN,NN,... [lab flags] [--workers N [--timeout S] | --devices N]"
              " [--jobs N]\n"
              "  (see `dlcourse run NN --help` for a lab's flags; --jobs N runs several labs N at a time)")
        return 0 if arguments else 2
    key, flags = arguments[0], arguments[1:]
    from dlcourse import launcher, runtime

    workers, devices, timeout, flags = launcher.split_flags(flags)
    if devices is not None:
        if workers is not None:
            raise UserError("--devices splits one process's CPU; with --workers each worker has one device")
        os.environ[runtime.CPU_DEVICES_VARIABLE] = str(devices)  # read by LabRun before TF starts
    if workers is not None and (key == "all" or "," in key):
        raise UserError("--workers runs one lab: dlcourse run NN --workers N")
    if workers is not None and not {"-h", "--help"} & set(flags):
        from dlcourse import resume

        catalog.get_lab(key)  # an unknown lab fails here, not in N workers
        with resume.sigterm_raises():
            return launcher.launch(key, flags, workers=workers, timeout=timeout)
    if key != "all" and "," not in key:
        return catalog.load_lab_module(catalog.get_lab(key)).main(flags) or 0
    from dlcourse import run_many

    jobs, flags = run_many.split_jobs(flags)
    return run_many.run_labs(run_many.select_labs(key), flags, jobs or run_many.default_jobs(flags))


def show_info(arguments):
    parser = argparse.ArgumentParser(prog="dlcourse info")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(arguments)
    from dlcourse import runtime

    for key, value in runtime.environment_report(args.data_dir).items():
        if isinstance(value, list):
            value = "\n" + "\n".join(f"    {item}" for item in value) if value else "(none)"
        print(f"{key:<18} {value}")
    return 0


def run_module_command(name, arguments):
    module_name, text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise UserError(f"`dlcourse {name}` is not available in this version of dlcourse") from None
    parser = argparse.ArgumentParser(prog=f"dlcourse {name}", description=text)
    module.configure_parser(parser)
    return module.command(parser.parse_args(arguments))


def dispatch(argv):
    args = _top_parser().parse_args(argv)
    if args.command == "list":
        return list_labs()
    if args.command == "run":
        return run_labs(args.arguments)
    if args.command == "info":
        return show_info(args.arguments)
    return run_module_command(args.command, args.arguments)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return report_user_errors(dispatch, argv)


if __name__ == "__main__":
    sys.exit(main())
