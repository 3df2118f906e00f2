#!/usr/bin/env python3
"""Trains the note-section classifier on the synthetic consultation corpus and writes it as ONNX.

Each utterance is labelled with the journal-note section its content belongs to, or "none".
The features are computed identically in Rust (crates/note/src/features.rs); the ONNX graph is
only MatMul + Add + Softmax over a dense float vector, so any ONNX Runtime runs it.

Feature vector (FEATURE_DIM = 2**14 + 3 + 5 floats):
  * hashed part (2**14 buckets): the strings below, each hashed with 32-bit FNV-1a over its UTF-8
    bytes, bucket = hash % 2**14, value = occurrence count; the hashed part is then scaled to unit
    Euclidean length.
      w:<token>            every token of the utterance
      b:<token> <token>    every pair of consecutive tokens
      c:<gram>             character 3-, 4- and 5-grams of "<token>" (with the angle brackets)
      p:<token>            every token of the previous utterance
      q:1 / pq:1           the utterance / the previous utterance contains "?"
    Tokens: the lowercased text split on every character that is not alphanumeric.
  * role (3): one-hot doctor, patient, other.
  * position (5): one-hot of min(4, floor(5 * index / count)) in the consultation.

Usage: python3 train.py --fixtures fixtures/consultations --out models/cache
Writes <out>/note-classifier.onnx and <out>/note-classifier.parity.json (held-out utterances with
the probabilities scikit-learn gives them, which the Rust tests reproduce through ONNX Runtime),
and prints the held-out accuracy.
"""

import os

# One BLAS thread: the fit must not depend on how work is split across threads.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
# The same kernels on every x86-64 CPU: OpenBLAS and numpy otherwise pick code paths by CPU
# (AVX-512 on one machine, AVX2 on another), which differ in the last bits of a sum or an exp,
# and L-BFGS carries such differences into other bytes of the model (an Intel and an AMD machine
# trained different files). AVX2 with FMA is what every machine the project runs on has.
os.environ["OPENBLAS_CORETYPE"] = "Haswell"
# numpy's names for its AVX-512 code paths (x86-64-v4 and later); a CPU without them warns.
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V4 AVX512_ICL AVX512_SPR"

import argparse
import json
import pathlib
import sys
import tomllib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

LABELS = ["none", "kontaktaarsag", "anamnese", "objektivt", "vurdering", "plan", "medicin"]
ROLES = ["doctor", "patient", "other"]
HASH_BITS = 14
HASH_DIM = 1 << HASH_BITS
POSITION_BINS = 5
FEATURE_DIM = HASH_DIM + len(ROLES) + POSITION_BINS
FEATURE_VERSION = "autonotar-hash-v1"
# Chosen by 5-fold cross-validation over train consultations (grouped by consultation): 1, 3, 10,
# 30 and 100 gave 0.75, 0.78, 0.80, 0.81, 0.81 accuracy; 30 is the smallest at the plateau.
C = 30.0


def tokens(text):
    out, current = [], []
    for ch in text.lower():
        if ch.isalnum():
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def fnv1a(s):
    h = 0x811C9DC5
    for byte in s.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def feature_strings(text, previous):
    words = tokens(text)
    out = ["w:" + w for w in words]
    out += ["b:" + a + " " + b for a, b in zip(words, words[1:])]
    for w in words:
        padded = "<" + w + ">"
        for n in (3, 4, 5):
            out += ["c:" + padded[i:i + n] for i in range(len(padded) - n + 1)]
    out += ["p:" + w for w in tokens(previous)]
    if "?" in text:
        out.append("q:1")
    if "?" in previous:
        out.append("pq:1")
    return out


def features(text, previous, role, index, count):
    v = np.zeros(FEATURE_DIM, dtype=np.float64)
    for s in feature_strings(text, previous):
        v[fnv1a(s) % HASH_DIM] += 1.0
    norm = np.sqrt(np.sum(v[:HASH_DIM] ** 2))
    if norm > 0:
        v[:HASH_DIM] /= norm
    v[HASH_DIM + ROLES.index(role)] = 1.0
    v[HASH_DIM + len(ROLES) + min(POSITION_BINS - 1, (POSITION_BINS * index) // count)] = 1.0
    return v.astype(np.float32)


def load_corpus(fixtures):
    files = sorted(pathlib.Path(fixtures).glob("*.toml"))
    if not files:
        sys.exit(f"no consultations (*.toml) in {fixtures}")
    rows = {"train": [], "test": []}
    for path in files:
        with open(path, "rb") as f:
            c = tomllib.load(f)
        split = c.get("split")
        if split not in rows:
            sys.exit(f"{path}: split must be 'train' or 'test', not {split!r}")
        utterances = c.get("utterance", [])
        previous = ""
        for i, u in enumerate(utterances):
            if u["label"] not in LABELS or u["speaker"] not in ROLES:
                sys.exit(f"{path}: utterance {i + 1} has label {u['label']!r} / speaker {u['speaker']!r}")
            rows[split].append((path.stem, u["text"], previous, u["speaker"], i, len(utterances), u["label"]))
            previous = u["text"]
    return rows


def matrix(rows):
    x = np.stack([features(t, p, r, i, n) for _, t, p, r, i, n, _ in rows])
    y = np.array([LABELS.index(row[-1]) for row in rows])
    return x, y


def export(model, accuracy, path):
    # scikit-learn orders classes by label index; a class absent from training gets no column,
    # so fill the full label set with a large negative bias to keep the output shape fixed.
    weights = np.zeros((FEATURE_DIM, len(LABELS)), dtype=np.float32)
    bias = np.full(len(LABELS), -1e4, dtype=np.float32)
    for column, label_index in enumerate(model.classes_):
        weights[:, label_index] = model.coef_[column]
        bias[label_index] = model.intercept_[column]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "weights"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "note_section_classifier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", FEATURE_DIM])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", len(LABELS)])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    m = helper.make_model(graph, producer_name="autonotar-train", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    helper.set_model_props(m, {
        "labels": ",".join(LABELS),
        "features": FEATURE_VERSION,
        "feature_dim": str(FEATURE_DIM),
        "heldout_accuracy": f"{accuracy:.4f}",
    })
    onnx.checker.check_model(m)
    path.write_bytes(m.SerializeToString(deterministic=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", required=True, help="directory of consultation *.toml files")
    ap.add_argument("--out", required=True, help="model directory to write note-classifier.onnx into")
    args = ap.parse_args()

    rows = load_corpus(args.fixtures)
    if not rows["train"]:
        sys.exit("the corpus has no consultation with split = \"train\"")
    x_train, y_train = matrix(rows["train"])
    model = LogisticRegression(C=C, max_iter=5000, tol=1e-8)
    model.fit(x_train, y_train)

    accuracy = float("nan")
    parity = []
    if rows["test"]:
        x_test, y_test = matrix(rows["test"])
        probabilities = np.zeros((len(y_test), len(LABELS)))
        probabilities[:, model.classes_] = model.predict_proba(x_test)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == y_test))
        for row, p in zip(rows["test"], probabilities):
            consultation, text, previous, role, index, count, label = row
            parity.append({"consultation": consultation, "text": text, "previous": previous, "role": role,
                           "index": index, "count": count, "label": label,
                           "probabilities": [round(float(q), 6) for q in p]})

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    export(model, accuracy, out / "note-classifier.onnx")
    (out / "note-classifier.parity.json").write_text(
        json.dumps({"labels": LABELS, "heldout_accuracy": accuracy, "utterances": parity},
                   ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"train utterances: {len(rows['train'])}, held-out utterances: {len(rows['test'])}")
    print(f"held-out accuracy: {accuracy:.4f}")
    print(f"wrote {out / 'note-classifier.onnx'}")


if __name__ == "__main__":
    main()
