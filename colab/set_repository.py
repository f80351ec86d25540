"""Points every notebook in ``colab/`` at the repository it is published in.

The project has no public address yet, so the notebooks ship with an "Open in Colab" badge that opens
Colab's start page and an install cell whose ``TFMUSIC_SOURCE`` field is empty. Whoever publishes the
repository (on GitHub, which Colab opens notebooks from) runs, once, from the repository root::

    .venv/bin/python colab/set_repository.py OWNER/NAME [--branch main]

and commits the result. Each notebook's badge then opens that notebook in Colab
(``https://colab.research.google.com/github/OWNER/NAME/blob/BRANCH/colab/<file>.ipynb``) and its install
cell clones ``https://github.com/OWNER/NAME`` unless the user types another source. Saved outputs, ids
and everything else in the notebooks are left as they are. Running it again with another name rewrites
both. Each notebook is rewritten atomically (``tfmusic.files``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import Optional, Sequence

COLAB_DIR = pathlib.Path(__file__).resolve().parent
if str(COLAB_DIR.parent) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(COLAB_DIR.parent))
from tfmusic import files  # noqa: E402

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(r"(\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\()[^)]*(\))")
_SOURCE_FIELD = re.compile(r'^(TFMUSIC_SOURCE = )"[^"\n]*"(  #@param)', re.M)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def badge_target(repository: str, branch: str, notebook_name: str) -> str:
    """Colab's address for ``colab/<notebook_name>`` of GitHub's ``repository`` ("OWNER/NAME") at ``branch``."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/colab/{notebook_name}"


def point_notebook(path: pathlib.Path, repository: str, branch: str = "main") -> None:
    """Rewrites the badge link and the ``TFMUSIC_SOURCE`` default of the notebook at ``path`` in place.

    Raises ValueError naming the file when it has no badge or no ``TFMUSIC_SOURCE`` field to rewrite.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found_badge = found_field = False
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        new = _BADGE.sub(lambda m: m.group(1) + badge_target(repository, branch, path.name) + m.group(2), source)
        found_badge |= bool(_BADGE.search(source))
        if cell["cell_type"] == "code":
            url = f"https://github.com/{repository}"
            replaced = _SOURCE_FIELD.sub(lambda m: f'{m.group(1)}"{url}"{m.group(2)}', new)
            found_field |= bool(_SOURCE_FIELD.search(new))
            new = replaced
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
    missing = [
        what
        for what, found in (("Open in Colab badge", found_badge), ("TFMUSIC_SOURCE field", found_field))
        if not found
    ]
    if missing:
        raise ValueError(f"{path}: no {' and no '.join(missing)} to point at the repository")
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    files.atomic_write_text(path, text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: ``set_repository.py OWNER/NAME [--branch B] [--colab_dir DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="colab/set_repository.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", help="GitHub's OWNER/NAME of the published repository")
    parser.add_argument("--branch", default="main", help="the branch the badges open (default: main)")
    parser.add_argument("--colab_dir", type=pathlib.Path, default=COLAB_DIR, help="the notebooks' folder")
    args = parser.parse_args(argv)
    if not _REPOSITORY.match(args.repository):
        parser.error(f"{args.repository!r} is not OWNER/NAME (e.g. my-org/tfmusic)")
    notebooks = sorted(args.colab_dir.glob("*.ipynb"))
    if not notebooks:
        parser.error(f"{args.colab_dir}: no notebooks")
    for path in notebooks:
        point_notebook(path, args.repository, args.branch)
        print(f"{path.name}: {badge_target(args.repository, args.branch, path.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
