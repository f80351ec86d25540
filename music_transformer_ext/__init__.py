"""Music Transformer in Keras: performance encoding, data pipelines, relative attention, model,
tensor2tensor checkpoint porting and generation (see README.md)."""
