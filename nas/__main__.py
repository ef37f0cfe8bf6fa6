"""``python -m nas`` runs the ``nas`` command line."""

import sys

from nas.cli.main import main

sys.exit(main())
