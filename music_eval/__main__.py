"""``python -m music_eval ...`` runs the ``music_eval`` command."""

import sys

from music_eval.cli import main

sys.exit(main())
