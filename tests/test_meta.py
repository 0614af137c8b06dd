"""Tests about the tests and the labs' shared skeleton, read with ``ast`` (nothing is imported or run).

(a) Every test function checks something: it contains an ``assert``, ``pytest.raises``/``pytest.warns``,
    a NumPy/unittest ``assert_*`` call, or a call to a helper in ``tests/`` that itself asserts
    (found by scanning ``tests/*.py``, not listed by hand).
(b) Every ``labs/NN_slug.py`` follows the checkable parts of the lab skeleton of docs/DEVELOPING.md
    (module docstring sections, ``main(argv=None)`` last, imports at the top, no timing or counters of
    its own, flags from the runner) and names its metrics by the rule: a key containing ``test_``,
    ``train_``, ``validation_`` or ``final_`` starts with it (``test_accuracy_sgd``, not
    ``sgd_test_accuracy``); the grading manifests' ``metrics.<name>`` keys follow the same rule.
The checkers are tested on small fake sources first, so a failure over the real files means the file.
"""

import ast
import json
import pathlib
import re
import textwrap

import pytest

from json_leaves import leaves

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
LABS = ROOT / "labs"
MANIFESTS = ROOT / "dlcourse" / "grading" / "manifests"

TEST_FILES = sorted(TESTS.glob("*.py"))
LAB_FILES = sorted(LABS.glob("[0-9][0-9]_*.py"))
MANIFEST_FILES = sorted(MANIFESTS.glob("*.json"))

# Calls that are checks wherever they come from: pytest's context managers and failure, and the
# assert_* families of numpy.testing / unittest (assert_allclose, assert_array_equal, assertEqual).
CHECKING_CALLS = {"raises", "warns", "deprecated_call", "fail"}
CHECKING_CALL_PREFIX = "assert"


# ---------------------------------------------------------------------------------------------
# (a) every test checks something
# ---------------------------------------------------------------------------------------------
def _called_name(call):
    """``("module", "name")`` for ``module.name(...)``, ``(None, "name")`` for ``name(...)``, else None."""
    func = call.func
    if isinstance(func, ast.Name):
        return None, func.id
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        return owner, func.attr
    return None


def _functions(tree):
    """Every function defined in ``tree`` (top level, in classes, nested), as ``{name: [nodes]}``."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, []).append(node)
    return found


def _imported_helpers(tree, modules):
    """``{local name: (module, name)}`` for ``from <test helper module> import name [as local]``."""
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in modules and node.level == 0:
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    return imported


class _TestSuite:
    """The test modules' functions and which of them check something (directly or through helpers)."""

    def __init__(self, sources):
        self.trees = {module: ast.parse(source) for module, source in sources.items()}
        self.functions = {module: _functions(tree) for module, tree in self.trees.items()}
        self.imports = {module: _imported_helpers(tree, set(sources)) for module, tree in self.trees.items()}
        self.checks = {(module, name): any(self._checks_directly(node) for node in nodes)
                       for module, functions in self.functions.items() for name, nodes in functions.items()}
        self.calls = {(module, name): set().union(*(self._calls(module, node) for node in nodes))
                      for module, functions in self.functions.items() for name, nodes in functions.items()}
        self.asserting = self._asserting_helpers()

    def _resolve(self, module, call):
        """The helper ``(module, name)`` a call reaches inside the test modules, or None."""
        called = _called_name(call)
        if called is None:
            return None
        owner, name = called
        if owner is None:
            if name in self.functions[module]:
                return module, name
            return self.imports[module].get(name)
        if owner in self.trees:  # import contract; contract.check_builder_contract(...)
            return owner, name
        return None

    def _checks_directly(self, node):
        for child in ast.walk(node):
            if isinstance(child, ast.Assert):
                return True
            if isinstance(child, ast.Call) and (called := _called_name(child)) is not None:
                owner, name = called
                if name.startswith(CHECKING_CALL_PREFIX) or (owner == "pytest" and name in CHECKING_CALLS):
                    return True
        return False

    def _calls(self, module, node):
        return {target for child in ast.walk(node) if isinstance(child, ast.Call)
                if (target := self._resolve(module, child)) is not None}

    def _asserting_helpers(self):
        """``{(module, name)}`` of the functions that check something, to a fixed point over calls."""
        asserting = {function for function, checks in self.checks.items() if checks}
        changed = True
        while changed:
            changed = False
            for function, calls in self.calls.items():
                if function not in asserting and calls & asserting:
                    asserting.add(function)
                    changed = True
        return asserting

    def helper_names(self):
        """The asserting helpers that are not tests themselves, ``module.name``."""
        return sorted(f"{module}.{name}" for module, name in self.asserting if not name.startswith("test_"))

    def tests_that_check_nothing(self):
        """``module.py:line test_name`` for every test function that checks nothing."""
        offenders = []
        for module, functions in self.functions.items():
            for name, nodes in functions.items():
                if not name.startswith("test_"):
                    continue
                for node in nodes:
                    if not (self._checks_directly(node) or self._calls(module, node) & self.asserting):
                        offenders.append(f"{module}.py:{node.lineno} {name}")
        return sorted(offenders)


def _suite_of(sources):
    return _TestSuite({module: textwrap.dedent(source) for module, source in sources.items()})


def test_the_no_check_finder_finds_tests_that_check_nothing():
    suite = _suite_of({
        "helpers": """
            def check_positive(x):
                assert x > 0
            def check_twice(x):
                check_positive(x)
                check_positive(x)
            def just_print(x):
                print(x)
        """,
        "test_fake": """
            import numpy as np
            import pytest
            import helpers
            from helpers import check_twice as twice, just_print
            def local_check(x):
                np.testing.assert_allclose(x, 1)
            def test_asserts():
                assert 1
            def test_raises():
                with pytest.raises(ValueError):
                    int("x")
            def test_numpy():
                np.testing.assert_array_equal([1], [1])
            def test_local_helper():
                local_check(1)
            def test_module_helper():
                helpers.check_positive(1)
            def test_imported_transitive_helper():
                twice(1)
            def test_prints_only():
                just_print(1)
            def test_calls_nothing():
                x = 1 + 1
            def test_calls_an_unknown_module():
                other.check_positive(1)
            class TestGroup:
                def test_method_without_assert(self):
                    pass
        """,
    })
    assert suite.tests_that_check_nothing() == [
        "test_fake.py:21 test_prints_only", "test_fake.py:23 test_calls_nothing",
        "test_fake.py:25 test_calls_an_unknown_module", "test_fake.py:28 test_method_without_assert"]
    assert suite.helper_names() == ["helpers.check_positive", "helpers.check_twice", "test_fake.local_check"]


def test_every_test_checks_something():
    suite = _TestSuite({path.stem: path.read_text(encoding="utf-8") for path in TEST_FILES})
    # the shared helpers are found by the scan, not trusted by name
    assert {"contract.check_builder_contract", "lab_runs.run_smoke"} <= set(suite.helper_names())
    offenders = suite.tests_that_check_nothing()
    assert not offenders, ("tests with no assert, pytest.raises/warns or asserting helper:\n  "
                           + "\n  ".join(offenders))


# ---------------------------------------------------------------------------------------------
# (b) the lab skeleton and the metric-naming rule
# ---------------------------------------------------------------------------------------------
METRIC_PREFIXES = ("test_", "train_", "validation_", "final_")
# the prefixes as words: "latest_loss" does not contain "test_"; "{}" stands for an f-string field
_METRIC_WORD = re.compile(r"(?:^|(?<=[_}]))(?:test|train|validation|final)_")
COUNTERS = {"training_seconds", "samples_seen"}
RUNNER_FLAGS = {"--learning-rate", "--validation-split"}
OPTIONAL_IMPORT_MARK = "# optional:"


def metric_name_problem(shape, prefix=None):
    """Why a metric name breaks the rule, or None.

    ``shape`` is the name with ``{}`` for each f-string field; ``prefix`` its literal start (the whole
    name for a plain string).
    """
    prefix = shape if prefix is None else prefix
    if _METRIC_WORD.search(shape) and not prefix.startswith(METRIC_PREFIXES):
        return (f"metric {shape!r}: a name containing {'/'.join(METRIC_PREFIXES)} starts with it "
                "(quantity first, variant last: test_accuracy_<variant>)")
    return None


def _key_shape(node):
    """``(shape, literal prefix)`` of a string key expression, or None when it cannot be read."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, node.value
    if isinstance(node, ast.JoinedStr):
        parts = [part.value if isinstance(part, ast.Constant) else "{}" for part in node.values]
        prefix = ""
        for part in node.values:
            if not isinstance(part, ast.Constant):
                break
            prefix += part.value
        return "".join(parts), prefix
    return None


def _assignments(tree):
    """``{variable: [value nodes assigned to it]}`` and ``{variable: [key nodes set on it]}``."""
    values, keys = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    keys.setdefault(target.value.id, []).append(target.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            name = node.func.value.id
            if node.func.attr == "update":
                values.setdefault(name, []).extend(node.args)
                values.setdefault(name, []).extend(keyword.value for keyword in node.keywords if not keyword.arg)
                keys.setdefault(name, []).extend(ast.Constant(keyword.arg, lineno=node.lineno)
                                                 for keyword in node.keywords if keyword.arg)
            elif node.func.attr == "setdefault" and node.args:
                keys.setdefault(name, []).append(node.args[0])
    return values, keys


def _metric_keys(node, module, seen):
    """The key expressions a ``metrics=`` argument can hold: dict literals, comprehensions, ``dict(...)``,
    what the module assigns to the variables it names (``metrics = {...}``, ``metrics[k] = v``,
    ``metrics.update(...)``) and what the module's own functions it calls return."""
    values, keys, functions = module
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                yield from _metric_keys(value, module, seen)
            else:
                yield key
    elif isinstance(node, ast.DictComp):
        yield node.key
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        for argument in node.args:
            yield from _metric_keys(argument, module, seen)
        for keyword in node.keywords:
            if keyword.arg:
                yield ast.Constant(keyword.arg, lineno=node.lineno)
            else:
                yield from _metric_keys(keyword.value, module, seen)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions \
            and ("call", node.func.id) not in seen:
        seen.add(("call", node.func.id))
        for child in ast.walk(functions[node.func.id]):
            if isinstance(child, ast.Return) and child.value is not None:
                yield from _metric_keys(child.value, module, seen)
    elif isinstance(node, ast.Name) and node.id not in seen:
        seen.add(node.id)
        yield from keys.get(node.id, [])
        for value in values.get(node.id, []):
            yield from _metric_keys(value, module, seen)


def _is_call_to(node, owner, attribute):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute
            and isinstance(node.func.value, ast.Name) and (owner is None or node.func.value.id == owner))


def _docstring_problems(tree, stem):
    number = stem[:2]
    docstring = ast.get_docstring(tree, clean=True)
    if docstring is None:
        return ["no module docstring"]
    problems = []
    first = docstring.splitlines()[0]
    if not first.startswith(f"Lab {number} — "):
        problems.append(f"docstring's first line must start with 'Lab {number} — ', got {first[:40]!r}")
    paragraphs = [paragraph.strip() for paragraph in re.split(r"\n\s*\n", docstring)]
    for start in ("What to observe:", f"Outputs (in <out>/{stem}/):"):
        if not any(paragraph.startswith(start) for paragraph in paragraphs):
            problems.append(f"docstring has no paragraph starting {start!r}")
    return problems


def _main_problems(tree):
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    mains = [node for node in functions if node.name == "main"]
    if not mains:
        return ["no top-level main(argv=None)"]
    main, problems = mains[-1], []
    arguments = main.args
    if not (not arguments.posonlyargs and [argument.arg for argument in arguments.args] == ["argv"]
            and len(arguments.defaults) == 1 and isinstance(arguments.defaults[0], ast.Constant)
            and arguments.defaults[0].value is None and not arguments.vararg and not arguments.kwonlyargs
            and not arguments.kwarg):
        problems.append(f"line {main.lineno}: main must be defined as main(argv=None)")
    if functions[-1] is not main:
        problems.append(f"line {functions[-1].lineno}: {functions[-1].name}() is defined after main; "
                        "helpers come before main")
    return problems


def _body_problems(tree, source_lines):
    problems = []
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for function in functions:
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines = source_lines[node.lineno - 1:node.end_lineno]
                if not any(OPTIONAL_IMPORT_MARK in line for line in lines):
                    problems.append(f"line {node.lineno}: import inside {function.name}() (imports go at the top; "
                                    f"an optional dependency that may be absent is marked '{OPTIONAL_IMPORT_MARK}')")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr in COUNTERS:
                        problems.append(f"line {node.lineno}: writes the runner's counter .{part.attr} "
                                        "(time training with run.fit or `with run.timed(samples=n)`)")
        elif _is_call_to(node, None, "perf_counter") and node.func.value.id == "time":
            problems.append(f"line {node.lineno}: time.perf_counter() (LabRun times training: run.fit, run.timed)")
        elif isinstance(node, ast.ImportFrom) and node.module == "time" \
                and any(alias.name == "perf_counter" for alias in node.names):
            problems.append(f"line {node.lineno}: imports time.perf_counter (LabRun times training)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in COUNTERS:
            problems.append(f"line {node.lineno}: writes the runner's counter {node.args[1].value}")
        elif _is_call_to(node, None, "add_argument"):
            for argument in node.args:
                if isinstance(argument, ast.Constant) and argument.value in RUNNER_FLAGS:
                    problems.append(f"line {node.lineno}: declares {argument.value} itself (pass learning_rate= / "
                                    "validation_split= to training.lab_parser)")
    return problems


def _metric_problems(tree):
    problems = []
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    module = (*_assignments(tree), functions)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "finish"):
            continue
        for keyword in node.keywords:
            if keyword.arg != "metrics":
                continue
            for key in _metric_keys(keyword.value, module, set()):
                shape = _key_shape(key)
                problem = shape and metric_name_problem(*shape)
                if problem:
                    problems.append(f"line {getattr(key, 'lineno', node.lineno)}: {problem}")
    return problems


def lab_skeleton_problems(path):
    """Everything the checkable part of the skeleton finds wrong in the lab at ``path``."""
    path = pathlib.Path(path)
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    problems = (_docstring_problems(tree, path.stem) + _main_problems(tree)
                + _body_problems(tree, source.splitlines()) + _metric_problems(tree))
    return sorted(set(problems), key=problems.index)


def manifest_metric_problems(path):
    """Metric-name problems of every ``metrics.<name>`` string in a grading manifest."""
    names = [value.removeprefix("metrics.") for value in leaves(json.loads(pathlib.Path(path).read_text(encoding="utf-8")))
             if isinstance(value, str) and value.startswith("metrics.")]
    return [problem for problem in map(metric_name_problem, names) if problem]


GOOD_LAB = '''\
"""Lab 99 — a fake lab for the skeleton checker (Unit 0, nowhere in the notes).

It teaches nothing.

What to observe: nothing.

Outputs (in <out>/99_fake/): model.h5, run.json.
"""

import sys

from dlcourse import training
from dlcourse.errors import report_user_errors


def train_variant(run, name):
    import scipy  # optional: absent on small installs
    return {f"test_accuracy_{name}": 0.5}


def main(argv=None):
    parser = training.lab_parser("99", epochs=1, batch_size=8, learning_rate=0.1)
    parser.add_argument("--fine-tune-rate", type=float, default=0.01)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("99", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        metrics = {"test_accuracy": 0.5, "final_loss": 0.1, "max_relative_error": 0.0}
        metrics[f"test_accuracy_{args.seed}"] = 0.5
        metrics.update(latest_loss=1.0, **train_variant(run, "sgd"))
        with run.timed(samples=len(x_train)):
            pass
        run.finish(metrics={**metrics, "val_loss": 0.2, "test_loss_" + "x": 1.0},
                   model=None, seconds=run.fit_seconds)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
'''

BAD_LABS = {  # (replace this, with that) in GOOD_LAB -> the problem it must report
    "title": (('"""Lab 99 — a fake', '"""Lab 98 — a fake'), "first line must start with 'Lab 99 — '"),
    "dash": (('"""Lab 99 — a fake', '"""Lab 99 - a fake'), "first line must start with 'Lab 99 — '"),
    "no docstring": (('"""Lab 99 — a fake lab', 'x = 1\n"""Lab 99 — a fake lab'), "no module docstring"),
    "observe": (("What to observe: nothing.", "To observe: nothing."), "no paragraph starting 'What to observe:'"),
    "observe inside a paragraph": (("\n\nWhat to observe:", "\nWhat to observe:"),
                                   "no paragraph starting 'What to observe:'"),
    "outputs folder": (("(in <out>/99_fake/)", "(in <out>/99_other/)"),
                       "no paragraph starting 'Outputs (in <out>/99_fake/):'"),
    "main signature": (("def main(argv=None):", "def main(argv):"), "main must be defined as main(argv=None)"),
    "main extra argument": (("def main(argv=None):", "def main(argv=None, verbose=False):"),
                            "main must be defined as main(argv=None)"),
    "no main": (("def main(argv=None):", "def run_lab(argv=None):"), "no top-level main(argv=None)"),
    "helper after main": (("\n\nif __name__", "\n\ndef late_helper():\n    pass\n\n\nif __name__"),
                          "late_helper() is defined after main"),
    "counter": (("        with run.timed", "        run.training_seconds += 1.0\n        with run.timed"),
                "writes the runner's counter .training_seconds"),
    "counter assigned": (("        with run.timed", "        run.samples_seen = 3\n        with run.timed"),
                         "writes the runner's counter .samples_seen"),
    "perf_counter": (("        with run.timed", "        started = time.perf_counter()\n        with run.timed"),
                     "time.perf_counter()"),
    "learning rate flag": (('"--fine-tune-rate"', '"--learning-rate"'), "declares --learning-rate itself"),
    "validation flag": (('"--fine-tune-rate"', '"--validation-split"'), "declares --validation-split itself"),
    "import in function": (("  # optional: absent on small installs", ""), "import inside train_variant()"),
    "from-import in main": (("    args = training", "    from dlcourse import data\n    args = training"),
                            "import inside main()"),
    "variant first": (('"test_accuracy": 0.5,', '"sgd_test_accuracy": 0.5,'), "metric 'sgd_test_accuracy'"),
    "f-string variant first": (('f"test_accuracy_{args.seed}"', 'f"{args.seed}_test_accuracy"'),
                               "metric '{}_test_accuracy'"),
    "helper's dict": (('{f"test_accuracy_{name}": 0.5}', '{f"{name}_final_loss": 0.5}'), "metric '{}_final_loss'"),
    "helper's comprehension": (('{f"test_accuracy_{name}": 0.5}', '{f"{name}_final_loss": 0.5 for _ in "a"}'),
                               "metric '{}_final_loss'"),
    "literal in finish": (('"val_loss": 0.2', '"loss_train_": 0.2'), "metric 'loss_train_'"),
    "update keyword": (("latest_loss=1.0", "adam_validation_loss=1.0"), "metric 'adam_validation_loss'"),
}


def _write_lab(tmp_path, source, stem="99_fake"):
    path = tmp_path / f"{stem}.py"
    path.write_text(source, encoding="utf-8")
    return path


def test_the_skeleton_checker_passes_a_lab_that_follows_it(tmp_path):
    assert lab_skeleton_problems(_write_lab(tmp_path, GOOD_LAB)) == []


@pytest.mark.parametrize("variant", sorted(BAD_LABS))
def test_the_skeleton_checker_reports_each_departure(tmp_path, variant):
    (old, new), expected = BAD_LABS[variant]
    assert GOOD_LAB.count(old) == 1, f"the {variant!r} edit does not apply to GOOD_LAB"
    problems = lab_skeleton_problems(_write_lab(tmp_path, GOOD_LAB.replace(old, new)))
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_the_metric_rule():
    for good in ("test_accuracy", "test_accuracy_sgd", "final_loss_clipnorm", "train_accuracy_cutmix",
                 "max_relative_error", "classifier_score", "val_loss", "latest_loss", "test_accuracy_pretrained"):
        assert metric_name_problem(good) is None, good
    for bad in ("sgd_test_accuracy", "feature_extraction_test_accuracy", "loss_final_", "accuracy_validation_x"):
        assert metric_name_problem(bad), bad
    assert metric_name_problem("{}_test_accuracy", "") and metric_name_problem("x{}test_loss", "x")
    assert metric_name_problem("test_loss_{}", "test_loss_") is None


def test_the_manifest_metric_check(tmp_path):
    path = tmp_path / "99_fake.json"
    path.write_text(json.dumps({"json_checks": [{"key": "metrics.test_accuracy_sgd"},
                                                {"key": "metrics.sgd_test_accuracy"}, {"key": "parameters"}],
                                "note": "metrics.variant_final_loss"}))
    assert [problem.split(":")[0] for problem in manifest_metric_problems(path)] == [
        "metric 'sgd_test_accuracy'", "metric 'variant_final_loss'"]


def test_there_are_labs_and_manifests_to_check():
    assert len(LAB_FILES) >= 19 and len(MANIFEST_FILES) >= 19


@pytest.mark.parametrize("path", LAB_FILES, ids=[path.stem for path in LAB_FILES])
def test_lab_follows_the_skeleton(path):
    problems = lab_skeleton_problems(path)
    assert not problems, f"labs/{path.name} departs from the lab skeleton (docs/DEVELOPING.md):\n  " + \
        "\n  ".join(problems)


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[path.stem for path in MANIFEST_FILES])
def test_manifest_metric_names_follow_the_rule(path):
    problems = manifest_metric_problems(path)
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)
