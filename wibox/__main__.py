"""`python -m wibox`: the same as the `wibox` command."""

import sys

from wibox.cli import main

sys.exit(main())
