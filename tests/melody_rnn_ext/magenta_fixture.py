"""Magenta ``melody_rnn_train`` run folders made by TF1 itself: the family-generic writer of
:mod:`tests.events_rnn.magenta_fixture` (Melody RNN widths are passed as ``input_size`` / ``num_classes``)."""

from tests.events_rnn.magenta_fixture import family_widths, make_magenta_run, tf1_adam_reference  # noqa: F401
