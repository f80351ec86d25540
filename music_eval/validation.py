"""Validation of the MIR estimators against ground truth nobody here wrote: music21's Bach chorales.

For each chorale (``music21.corpus.chorales.Iterator()``, in corpus order):

* **key**: the Krumhansl–Schmuckler estimate from the notes against the key the score declares
  (chorales whose first key signature carries no mode are left out of this one); scored as exact
  match, same key signature, and mir_eval's MIREX weighted score;
* **meter**: beats per bar estimated from note onsets and accents of a MIDI made *without* time
  signatures (:func:`features_symbolic.score_to_midi`) against the numerator of the score's first
  time signature; scored as meter class (duple 2/4 or triple 3), its per-class recall and their
  mean (balanced accuracy: 331 of the 370 chorales with a 2/3/4 numerator are in 4/4, so
  "always duple" scores 89 %), and exact numerator (2 and 4 are hard to tell apart, 2/2 vs 4/4
  even for people);
* **tempo**: the chorale rendered with FluidSynth at a known tempo (cycling through
  ``TEMPI``), beat-tracked from the audio with librosa, scored MIREX-style: ACC1 (within 4 %) and
  ACC2 (within 4 % of 1, 2, 3, 1/2 or 1/3 times the tempo); also the symbolic estimate from the
  MIDI's onsets, and the audio meter and key.

Run ``python -m music_eval.validation --num 371`` (or ``music_eval validate``) for all chorales.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import List, Optional, Sequence

import numpy as np

from music_eval import features_audio as fa
from music_eval import features_symbolic as fs
from music_eval import theory

TEMPI = (66.0, 80.0, 96.0, 112.0, 128.0)
RENDER_RATE = 22050
ORGAN_PROGRAM = 19  # Church Organ: sustained, like a chorale


@dataclasses.dataclass
class ChoraleResult:
    """One chorale's estimates against its declared key, meter and the rendering tempo."""

    name: str
    declared_key: Optional[str]
    declared_fifths: int
    key: str
    audio_key: Optional[str]
    declared_numerator: Optional[int]
    beats_per_bar: int
    audio_beats_per_bar: Optional[int]
    rendered_bpm: float
    symbolic_bpm: float
    audio_bpm: Optional[float]


def _declared(score):
    from music21 import key as m21key
    from music21 import meter as m21meter

    ks = list(score.recurse().getElementsByClass(m21key.KeySignature))
    ts = list(score.recurse().getElementsByClass(m21meter.TimeSignature))
    k = ks[0] if ks else None
    declared_key = None
    if isinstance(k, m21key.Key) and k.mode in ("major", "minor"):
        declared_key = theory.key_from_name(f"{k.tonic.name} {k.mode}").name
    return declared_key, (int(k.sharps) if k is not None else 0), (int(ts[0].numerator) if ts else None)


def validate_chorale(name: str, index: int = 0, with_audio: bool = True) -> ChoraleResult:
    """Estimates for one corpus chorale (``name`` as the chorale iterator gives it)."""
    from music21 import corpus

    score = corpus.parse(name)
    declared_key, fifths, numerator = _declared(score)
    bpm = TEMPI[index % len(TEMPI)]
    midi = fs.score_to_midi(score, bpm=bpm, program=ORGAN_PROGRAM)
    feats = fs.symbolic_features(midi)
    audio_key = audio_meter = audio_bpm = None
    if with_audio:
        from music_eval.io import render_symbolic

        audio = render_symbolic(midi, RENDER_RATE, rms_dbfs=None)  # FluidSynth's own scale, as measured
        env = fa.onset_envelope(audio, RENDER_RATE)
        audio_bpm, beats = fa.beats_and_tempo(audio, RENDER_RATE, env)
        audio_meter = theory.estimate_meter(fa.beat_accents(env, beats, RENDER_RATE)).beats_per_bar
        audio_key = theory.estimate_key(fa.chroma(audio, RENDER_RATE).mean(axis=1)).name
    return ChoraleResult(
        name,
        declared_key,
        fifths,
        feats.key.name,
        audio_key,
        numerator,
        feats.meter.beats_per_bar,
        audio_meter,
        bpm,
        feats.tempo_bpm,
        audio_bpm,
    )


def _meter_ok(numerator, estimate, exact: bool) -> bool:
    if numerator is None or not estimate:
        return False
    if exact:
        return numerator == estimate
    duple = {2, 4}
    return numerator == estimate or (numerator in duple and estimate in duple)


def _meter_summary(metered: Sequence[ChoraleResult], field: str) -> dict:
    """Meter accuracies: class (duple/triple), exact numerator, recall per class and their mean
    (balanced accuracy: chorales are mostly in 4/4, so "always duple" already scores the duple share)."""

    def mean(xs):
        return float(np.mean(xs)) if len(xs) else float("nan")

    duple = [r for r in metered if r.declared_numerator in (2, 4)]
    triple = [r for r in metered if r.declared_numerator == 3]
    recall_duple = mean([_meter_ok(r.declared_numerator, getattr(r, field), False) for r in duple])
    recall_triple = mean([_meter_ok(r.declared_numerator, getattr(r, field), False) for r in triple])
    return {
        "n": len(metered),
        "class": mean([_meter_ok(r.declared_numerator, getattr(r, field), False) for r in metered]),
        "exact": mean([_meter_ok(r.declared_numerator, getattr(r, field), True) for r in metered]),
        "recall_duple": recall_duple,
        "recall_triple": recall_triple,
        "balanced_class": mean([x for x in (recall_duple, recall_triple) if x == x]),
        "majority_baseline": max(len(duple), len(triple)) / len(metered) if metered else float("nan"),
        "declared": {str(k): sum(r.declared_numerator == k for r in metered) for k in (2, 3, 4)},
    }


def summarize(results: Sequence[ChoraleResult]) -> dict:
    """Accuracies over chorale results (fractions in [0, 1]) and the counts they are taken over."""
    keyed = [r for r in results if r.declared_key]
    metered = [r for r in results if r.declared_numerator in (2, 3, 4)]
    audio = [r for r in results if r.audio_bpm is not None]
    mean = lambda xs: float(np.mean(xs)) if len(xs) else float("nan")  # noqa: E731
    out = {
        "num_chorales": len(results),
        "key": {
            "n": len(keyed),
            "exact": mean([r.key == r.declared_key for r in keyed]),
            "same_signature": mean([theory.key_from_name(r.key).fifths == r.declared_fifths for r in results]),
            "mirex_weighted": mean(
                [
                    theory.key_weighted_score(theory.key_from_name(r.declared_key), theory.key_from_name(r.key))
                    for r in keyed
                ]
            ),
        },
        "meter": _meter_summary(metered, "beats_per_bar"),
        "tempo_symbolic": {
            "n": len(results),
            "acc1": mean([theory.tempo_accuracy(r.symbolic_bpm, r.rendered_bpm)["acc1"] for r in results]),
            "acc2": mean([theory.tempo_accuracy(r.symbolic_bpm, r.rendered_bpm)["acc2"] for r in results]),
        },
    }
    if audio:
        out["tempo_audio"] = {
            "n": len(audio),
            "acc1": mean([theory.tempo_accuracy(r.audio_bpm, r.rendered_bpm)["acc1"] for r in audio]),
            "acc2": mean([theory.tempo_accuracy(r.audio_bpm, r.rendered_bpm)["acc2"] for r in audio]),
        }
        out["meter_audio"] = _meter_summary(
            [r for r in audio if r.declared_numerator in (2, 3, 4)], "audio_beats_per_bar"
        )
        keyed_audio = [r for r in audio if r.declared_key]
        out["key_audio"] = {
            "exact": mean([r.audio_key == r.declared_key for r in keyed_audio]),
            "mirex_weighted": mean(
                [
                    theory.key_weighted_score(theory.key_from_name(r.declared_key), theory.key_from_name(r.audio_key))
                    for r in keyed_audio
                ]
            ),
        }
    return out


def validate_chorales(
    num: Optional[int] = None, start: int = 0, with_audio: bool = True, progress: bool = False
) -> dict:
    """Runs the validation on chorales ``start .. start + num`` of music21's chorale iterator.

    Args:
      num: how many (None = all 371). start: first index. with_audio: also render and analyze
        audio (needed for the audio tempo accuracy). progress: print one line per chorale.

    Returns:
      dict: ``summary`` (see :func:`summarize`), ``results`` (per chorale), ``seconds``.
    """
    from music21 import corpus

    names = list(corpus.chorales.Iterator(returnType="filename"))
    names = names[start:] if num is None else names[start : start + num]
    t0 = time.time()
    results: List[ChoraleResult] = []
    for i, name in enumerate(names):
        r = validate_chorale(name, start + i, with_audio)
        results.append(r)
        if progress:
            print(
                f"{name}: key {r.key} (declared {r.declared_key}), beats/bar {r.beats_per_bar} "
                f"(declared {r.declared_numerator}), tempo {r.audio_bpm or r.symbolic_bpm:.1f} "
                f"(rendered {r.rendered_bpm:.0f})",
                flush=True,
            )
    return {
        "summary": summarize(results),
        "results": [dataclasses.asdict(r) for r in results],
        "seconds": time.time() - t0,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m music_eval.validation [--num N] [--start I] [--no_audio] [--out FILE.json]``."""
    p = argparse.ArgumentParser(prog="music_eval validate", description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=None, help="number of chorales (default: all)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--no_audio", action="store_true", help="skip FluidSynth rendering (no audio tempo)")
    p.add_argument("--out", default=None, help="write the full results as JSON here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    out = validate_chorales(args.num, args.start, not args.no_audio, progress=not args.quiet)
    print(json.dumps(out["summary"], indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
