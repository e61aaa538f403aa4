"""`python -m deploytool.cli`: the same as the `deploytool` console script."""

from deploytool.cli import run

run()
