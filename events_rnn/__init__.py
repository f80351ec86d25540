"""What Magenta's RNN models share (Magenta's ``models/shared/events_rnn_*``): the TF1-exact LSTM stack
and attention wrapper (:mod:`events_rnn.model`, :mod:`events_rnn.attention`), ``.mag`` reading, strict
porting and writing (:mod:`events_rnn.bundle`), hyperparameters (:mod:`events_rnn.config`), and
sampling / beam search (:mod:`events_rnn.generate`). Model packages add configs, encodings, data and
command lines on top; there are no per-model copies of this core.
"""


def load(family, run_dir, config_id=None):
    """The trained model of any events-RNN family's run folder or ``.mag`` (a ``LoadedModel``: model,
    config, step, source): see :func:`events_rnn.generate.load`. Imports TensorFlow."""
    from events_rnn.generate import load as _load

    return _load(family, run_dir, config_id)
