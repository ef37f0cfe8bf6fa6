"""Command line of sparse-nas; see :mod:`nas.cli.main`."""
