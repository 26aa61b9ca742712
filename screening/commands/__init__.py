"""Subcommands of the ``screening`` command line, one module each (see screening.cli)."""
