"""``python -m jointnas.search.cli``."""

from .main import main

raise SystemExit(main())
