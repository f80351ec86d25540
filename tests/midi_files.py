"""MIDI files built with pretty_midi that several test folders read (tests/pipelines, tests/robustness)."""

import io


def midi_bytes(pm) -> bytes:
    """A ``pretty_midi.PrettyMIDI`` written to bytes (a standard MIDI file)."""
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def fuzz_seed_file() -> bytes:
    """The multi-track pretty_midi file of the byte-fuzz tests (tests/robustness): a flute with pitch bends
    and sustain changes, a drum kit, two time signatures and a key signature."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=90.0)
    lead = pretty_midi.Instrument(program=73, name="flute")
    lead.notes = [pretty_midi.Note(80, 60 + k % 12, 0.3 * k, 0.3 * k + 0.25) for k in range(16)]
    lead.pitch_bends = [pretty_midi.PitchBend(300 * k, 0.1 * k) for k in range(8)]
    lead.control_changes = [pretty_midi.ControlChange(64, 127 * (k % 2), 0.5 * k) for k in range(6)]
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="kit")
    drums.notes = [pretty_midi.Note(100, 36 + k % 3, 0.25 * k, 0.25 * k + 0.1) for k in range(12)]
    pm.instruments += [lead, drums]
    pm.time_signature_changes = [pretty_midi.TimeSignature(3, 4, 0.0), pretty_midi.TimeSignature(4, 4, 2.0)]
    pm.key_signature_changes = [pretty_midi.KeySignature(2, 0.0)]
    return midi_bytes(pm)
