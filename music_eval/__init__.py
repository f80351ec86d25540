"""music_eval: the project's yardstick.

* GANSynth's metrics (:mod:`music_eval.gan_metrics`: Inception Score, Pitch Accuracy, Pitch
  Entropy, FID, NDB) with a pitch classifier trained on spectrograms (:mod:`music_eval.classifier`)
  and the table for real vs generated notes (:mod:`music_eval.gan_eval`);
* MIR statistics of symbolic music and audio (:mod:`music_eval.features_symbolic`,
  :mod:`music_eval.features_audio`, :mod:`music_eval.theory`) and comparisons of an original with
  generated pieces (:mod:`music_eval.compare`);
* reports: Markdown / CSV / JSON tables and self-contained HTML with plots and audio
  (:mod:`music_eval.report`, :mod:`music_eval.plots`);
* validation against music21's Bach chorales (:mod:`music_eval.validation`);
* the ``music_eval`` and ``music_eval_train_classifier`` commands (:mod:`music_eval.cli`).

``write_report(original, generated, out_dir) -> html_path`` is the one-call entry point.
"""


def write_report(original, generated, out_dir, **kwargs) -> str:
    """Compares ``original`` with ``generated`` (paths, folders or Pieces) and writes the HTML report
    plus tables into ``out_dir``; returns the path of ``report.html``. See
    :func:`music_eval.report.write_report`."""
    from music_eval.report import write_report as _write_report

    return _write_report(original, generated, out_dir, **kwargs)


__all__ = ["write_report"]
