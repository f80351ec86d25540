"""Melody RNN in Keras: Magenta's melody_rnn configs, encodings, data pipeline, model and .mag bundles."""
