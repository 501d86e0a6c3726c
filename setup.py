"""Packages of neuroflow: everything under neuroflow/, plus conf/ shipped as ``neuroflow.conf``.

The Hydra configs stay at the repository's top level (where users look for them) and ship
inside the package, so a non-editable install finds them from any directory. Every other
setting is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["neuroflow", "neuroflow.*"]), "neuroflow.conf"],
    package_dir={"neuroflow.conf": "conf"},
)
