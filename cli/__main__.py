"""`python -m ragkit.cli`: the same command as `ragkit`."""

from ragkit.cli import main

main()
