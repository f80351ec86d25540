"""What the demo's scripts share: importing this module puts the repository on ``sys.path`` (so that each
script runs from a checkout, installed or not), and the Bach chorales the training stages use.

The scripts import it as ``demo_common`` (their own folder is on ``sys.path``: the script's, or put there by
``run_demo.py`` and the tests); the name differs from ``bench/zoo/common.py``'s, which a test process may
also have imported.
"""

from __future__ import annotations

import pathlib
import sys
from typing import List

#: The repository's root folder.
ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bach_chorale_files() -> List[str]:
    """Paths of the Bach chorales (.mxl) in music21's corpus, sorted by name."""
    import music21

    return sorted(str(p) for p in music21.corpus.getComposer("bach") if str(p).endswith(".mxl"))
