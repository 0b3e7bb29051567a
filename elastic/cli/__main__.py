"""``python -m elastic.cli``: the same as the ``elastic`` command."""

import sys

from elastic.cli import main

sys.exit(main())
