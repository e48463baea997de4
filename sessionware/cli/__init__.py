"""The ``sessionware`` command line: demo, keygen, sessions, cleanup, audit, bench.

- :mod:`~sessionware.cli.command`: argument parsing and the subcommands.
- :mod:`~sessionware.cli.audit`: the deployment checklist ``sessionware audit`` runs.
- :mod:`~sessionware.cli.bench`: ``sessionware bench``, measured on the user's own setup.
- :mod:`~sessionware.cli.demo`: the demo app ``sessionware demo`` serves.
"""

from __future__ import annotations

from .command import main

__all__ = ["main"]
