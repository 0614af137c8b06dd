"""Packaging: metadata and dependencies live in setup.cfg; this file only maps the lab scripts.

The numbered scripts stay in the top-level ``labs/`` folder (one copy, runnable as
``python labs/06_cifar10_cnn.py``) and are installed as the ``dlcourse.labs`` package, so a wheel,
``pip install .`` and ``pip install git+...`` all ship them (``dlcourse.catalog`` finds them there).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["dlcourse", "dlcourse.*"]) + ["dlcourse.labs"],
    package_dir={"dlcourse.labs": "labs"},
)
