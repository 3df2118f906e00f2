#!/bin/sh
# Regenerates manifest.toml from the fixture scripts: one [[consultation]] per
# fixtures/consultations/<id>.toml, audio expected at audio/<id>.wav as render-fixtures writes it;
# and held-out.toml, the same for the scripts marked split = "test" (the part the note
# classifier was not trained on).
set -eu
cd "$(dirname "$0")"
# write_manifest NAME DESCRIPTION SCRIPT...
write_manifest() {
  name=$1 description=$2
  shift 2
  cat <<HEADER
# $description, from fixtures/consultations/.
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

name = "$name"
description = "$description"
language = "da"
audio_dir = "audio"
HEADER
  for script in "$@"; do
    [ -e "$script" ] || continue
    id=$(basename "$script" .toml)
    printf '\n[[consultation]]\nid = "%s"\naudio = "%s.wav"\nscript = "../../../fixtures/consultations/%s.toml"\n' "$id" "$id" "$id"
  done
}

write_manifest synthetic-da "Synthetic Danish general-practice video consultations (espeak-ng voices, not real patients)" \
  ../../../fixtures/consultations/*.toml > manifest.toml
# shellcheck disable=SC2046 # script paths have no spaces
write_manifest synthetic-da-held-out "The held-out part of synthetic-da (split = test): consultations the note classifier was not trained on" \
  $(grep -l '^split = "test"' ../../../fixtures/consultations/*.toml) > held-out.toml
