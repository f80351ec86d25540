"""colab/evaluation.ipynb runs top to bottom (tiny settings) and shows both tables and the plots."""

import pytest

from tests import notebooks
from tests.browser import check_if_chromium


@pytest.mark.slow
def test_evaluation_notebook_executes(tmp_path):
    pytest.importorskip("nbclient")
    nb = notebooks.execute("evaluation", tmp_path / "out")
    outputs = notebooks.outputs(nb)
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any("| piece | role |" in m for m in markdown)  # the MIR table
    assert any("| set | notes | NDB |" in m for m in markdown)  # the GANSynth table
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # piano rolls, chroma, spectrograms, tempo curves, NDB cells
    for html in (tmp_path / "out" / "comparison" / "report.html", tmp_path / "out" / "gan" / "gan_report.html"):
        assert html.is_file()
        check_if_chromium(html, tmp_path / "screenshots")
