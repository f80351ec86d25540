"""Typed errors for bad pipeline input.

Every error names the input (a file or an ``examples.json`` entry) and says what is wrong,
so that converters can skip the input, count it and report the reason.
"""

from __future__ import annotations


class InputError(ValueError):
    """An input that a pipeline cannot use.

    Attributes:
      name: the input (file path or note name).
      problem: what is wrong with it, in words.
    """

    def __init__(self, name: str, problem: str):
        self.name = str(name)
        self.problem = problem
        super().__init__(f"{self.name}: {problem}")


class MetadataError(InputError):
    """An ``examples.json`` entry is missing a key, or a value has the wrong type or value."""
