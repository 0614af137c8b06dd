"""Meta-tests: the builder registry, module ``__all__`` lists, contract cases and the lab catalogue agree."""

import importlib
import inspect
import pathlib

import pytest

from dlcourse import catalog
from dlcourse.models import BUILDERS, MODULES

TESTS = pathlib.Path(__file__).parent


def _contract_cases():
    cases = {}
    for path in sorted(TESTS.glob("test_*.py")):
        source = path.read_text()
        if "CONTRACT_CASES" in source and path.name != "test_registry.py":
            module = importlib.import_module(path.stem)
            cases.update(getattr(module, "CONTRACT_CASES", {}))
    return cases


def test_every_builder_has_a_contract_case():
    missing = sorted(set(BUILDERS) - set(_contract_cases()))
    assert not missing, f"builders without a CONTRACT_CASES entry: {missing}"


def test_contract_cases_name_real_builders():
    unknown = sorted(set(_contract_cases()) - set(BUILDERS))
    assert not unknown, f"CONTRACT_CASES entries with no builder: {unknown}"


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_builders_are_keyword_only_and_named(module):
    for name in module.__all__:
        function = getattr(module, name)
        if not name.startswith("build_"):
            continue
        parameters = inspect.signature(function).parameters.values()
        positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert not positional, f"{name} takes positional arguments {positional}"
        assert function.__doc__, f"{name} has no docstring"
        default_name = inspect.signature(function).parameters.get("name")
        assert default_name is not None and default_name.default == name[len("build_"):], \
            f"{name} should default name={name[len('build_'):]!r}"


def test_lab_numbers_are_unique_and_consecutive():
    numbers = [lab.number for lab in catalog.LABS]
    assert numbers == [f"{n:02d}" for n in range(1, len(numbers) + 1)]
    assert len({lab.slug for lab in catalog.LABS}) == len(catalog.LABS)


def test_every_lab_script_has_a_main():
    for lab in catalog.LABS:
        assert lab.script.is_file(), lab.script
        assert "def main(argv=None)" in lab.script.read_text(), lab.script
