"""`python -m services.cli`: the same as `lockstep`."""

import sys

from services.cli import main

sys.exit(main())
