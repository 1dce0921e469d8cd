"""`python -m runner` is the same as the `mktows-run` console script."""

from runner.entry import main

main()
