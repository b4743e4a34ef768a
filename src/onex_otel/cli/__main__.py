"""``python -m onex_otel.cli``."""

import sys

from onex_otel.cli import main

sys.exit(main())
