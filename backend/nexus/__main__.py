"""Allow ``python -m nexus``."""

from nexus.cli import main

raise SystemExit(main())
