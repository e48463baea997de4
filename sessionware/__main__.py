"""``python -m sessionware``: the same as the ``sessionware`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
