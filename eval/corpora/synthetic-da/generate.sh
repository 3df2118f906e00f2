#!/bin/sh
# Regenerates manifest.toml from the fixture scripts: one [[consultation]] per
# fixtures/consultations/<id>.toml, audio expected at audio/<id>.wav as render-fixtures writes it.
set -eu
cd "$(dirname "$0")"
{
  cat <<'HEADER'
# The shipped synthetic corpus: every consultation in fixtures/consultations/.
#
# SYNTHETIC DATA: the scripts were written by the Autonotar developers and the audio is
# espeak-ng's synthetic Danish voices. No line comes from a real patient, and speech
# recognition on synthetic voices says little about recognition of real patients.
#
# Each script gives the reference transcript (its utterances), the section label of every
# utterance, the reference note and the fact list. The WAVs have channel 0 doctor, 1 patient
# and, where someone else takes part, 2 other (the default channel roles), and a
# <id>.timings.json beside them that gives the reference segments their real times. The audio
# is not committed: render it into audio/ first (or point the harness elsewhere, see
# eval/README.md):
#
#   cargo run -p fixtures --bin render-fixtures -- --out eval/corpora/synthetic-da/audio
#
# Regenerate this file with eval/corpora/synthetic-da/generate.sh when scripts are added.

name = "synthetic-da"
description = "Synthetic Danish general-practice video consultations (espeak-ng voices, not real patients)"
language = "da"
audio_dir = "audio"
HEADER
  for script in ../../../fixtures/consultations/*.toml; do
    [ -e "$script" ] || continue
    id=$(basename "$script" .toml)
    printf '\n[[consultation]]\nid = "%s"\naudio = "%s.wav"\nscript = "../../../fixtures/consultations/%s.toml"\n' "$id" "$id" "$id"
  done
} > manifest.toml
