"""Music Transformer in Keras: performance encoding, data pipelines, relative attention, model,
tensor2tensor checkpoint porting and generation (see README.md)."""


def load(run_dir):
    """The trained ``MusicTransformer`` of a ``music_transformer_train`` run folder: see
    :func:`music_transformer_ext.task.load`. Imports TensorFlow."""
    from music_transformer_ext.task import load as _load

    return _load(run_dir)
