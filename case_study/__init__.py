"""The case study in one command (``tfmusic_study``): a primer continued or accompanied by Melody RNN
and Music Transformer, every result rendered by FluidSynth and by GANSynth (fixed and interpolated
timbre), and one evaluation report comparing each with the primer.

This package is the one place that joins the model families (as the demo does); they never import
each other.
"""
