"""`python -m archiver.cli` — the same as the `archive` script."""

from archiver.cli import main

main()
