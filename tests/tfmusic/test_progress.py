"""tfmusic.progress: tqdm on a terminal, a plain line per N % (never a carriage return) elsewhere."""

import io

from tfmusic import progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_redirected_output_gets_a_bounded_number_of_plain_lines():
    stream = io.StringIO()
    bar = progress.progress_bar(total=1000, desc="train", unit="step", file=stream, dynamic_ncols=True)
    assert isinstance(bar, progress.PlainProgress)
    for i in range(1000):
        bar.update(1)
        bar.set_postfix({"loss": f"{1.0 / (i + 1):.3f}"}, refresh=False)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 10  # 10 %, 20 %, ... 100 %
    assert lines[0].startswith("train:  10% 100/1,000 step")
    assert lines[-1].startswith("train: 100% 1,000/1,000 step") and "loss=0.001" in lines[-1]


def test_iteration_resume_and_early_stop():
    stream = io.StringIO()
    items = list(progress.progress_bar(range(50), desc="files", file=stream, every_percent=25))
    assert items == list(range(50))
    assert len(stream.getvalue().splitlines()) == 4

    stream = io.StringIO()
    bar = progress.progress_bar(total=100, initial=60, file=stream)  # a resumed run
    bar.update(5)
    bar.close()  # stopped early: one closing line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith(" 65% 65/100 it")


def test_unknown_total_writes_on_close_and_disabled_writes_nothing():
    stream = io.StringIO()
    bar = progress.progress_bar(desc="seqs", unit="seq", file=stream)
    for _ in range(500):
        bar.update(1)
    bar.close()
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[0]]
    assert stream.getvalue().startswith("seqs: 500 seq [")

    stream = io.StringIO()
    with progress.progress_bar(total=10, file=stream, disable=True) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_a_terminal_gets_tqdm():
    from tqdm import tqdm

    stream = _Tty()
    bar = progress.progress_bar(total=3, file=stream)
    assert isinstance(bar, tqdm)
    bar.update(3)
    bar.close()
    assert "\r" in stream.getvalue()
