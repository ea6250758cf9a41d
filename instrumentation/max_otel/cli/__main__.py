"""``python -m max_otel.cli`` is the same as the ``max-otel`` command."""

from __future__ import annotations

import sys

from max_otel.cli import main

sys.exit(main())
