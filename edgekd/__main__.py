"""`python -m edgekd ...` is the `edgekd` command (torchrun starts ranks this way)."""

from edgekd.cli import main

main()
