"""Data pipelines: NSynth and symbolic music to TFRecords (tf.data readers, Beam writers).

Submodules are imported on demand; importing ``pipelines`` itself loads nothing heavy.
"""
