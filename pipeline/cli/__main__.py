"""``python -m pipeline.cli``: the same as the ``newsingest`` command."""

from pipeline.cli import main

raise SystemExit(main())
