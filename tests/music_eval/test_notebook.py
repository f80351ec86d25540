"""colab/evaluation.ipynb runs top to bottom (tiny settings) and shows both tables and the plots."""

import pytest

from tests import notebooks
from tests.browser import check_if_chromium


@pytest.mark.slow
def test_evaluation_notebook_executes(tmp_path):
    outputs = notebooks.run("evaluation", tmp_path / "out")
    markdown = notebooks.markdown(outputs)
    assert any("| piece | role |" in m for m in markdown)  # the MIR table
    assert any("| set | notes | NDB |" in m for m in markdown)  # the GANSynth table
    assert len(notebooks.images(outputs)) >= 8  # piano rolls, chroma, spectrograms, tempo curves, NDB cells
    for html in (tmp_path / "out" / "comparison" / "report.html", tmp_path / "out" / "gan" / "gan_report.html"):
        assert html.is_file()
        check_if_chromium(html, tmp_path / "screenshots")
