"""``python -m bytepiece``: the command line, as ``bytepiece``."""

import sys

from .cli import main

sys.exit(main())
