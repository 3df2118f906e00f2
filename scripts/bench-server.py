#!/usr/bin/env python3
"""The live service measured: streaming-vs-offline parity, commit latency, hang-up-to-draft,
concurrent real-time consultations, memory.

Usage: scripts/bench-server.py [--concurrency 1,2,3,4] [--repeats 2] [--lockstep] [--speed 1.0]
                               [--threads 2] [--long N] [--cluster N]

Builds the release binary, makes two stereo test recordings (the 13 real Danish NST clips in
fixtures/speech/nst-da alternating between the doctor and patient channel, and an
English espeak-ng consultation, which Whisper base hears reliably), transcribes each offline
with `autonotar transcribe`, then streams each through `autonotar serve` with `autonotar replay`
at real-time pace and reports the word error rate against the offline transcript of both the
transcript the service keeps at hang-up and the text it committed live, commit latency p50/p95
and hang-up-to-draft. Then N replays of each recording run at once to find how many real-time
consultations one server sustains (the goal: commit p95 <= 2 s and hang-up-to-draft <= 3 s,
the kept transcripts still the offline ones), with the server's peak resident memory; with
--long N, N ten-minute Danish consultations (the NST clips over and over) stream at once.
With --cluster N the same runs go through `serve --nats`, a local nats-server and N
`autonotar worker`s that share the --threads cores (peak memory then sums gateway and workers):
on one machine that measures what the cluster path costs against the local decoder, not what
more machines give (scripts/simulate-region.py models that). Timings depend on the machine and
its load. Nothing is written outside target/bench-server.
"""
import argparse, os, re, subprocess, sys, tempfile, threading, time, wave, array
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
work = target / "bench-server"
work.mkdir(parents=True, exist_ok=True)
models = Path(os.environ.get("AUTONOTAR_MODELS_DIR", root / "models" / "cache"))
env = dict(os.environ, AUTONOTAR_MODELS_DIR=str(models))
binary = target / "release" / "autonotar"

ENGLISH = [
    "Good morning. What can I do for you today?",
    "I have had a sore throat and a headache for three days.",
    "Do you have a fever, or any trouble swallowing?",
    "It hurts when I swallow, and I feel tired in the evening.",
    "Let me have a look at your throat. Please open your mouth and say ah.",
    "Is it serious? I have an important meeting on Thursday.",
    "Your throat is red, but I see no signs of a bacterial infection.",
    "So I do not need any medicine?",
    "No. Please drink plenty of water, rest, and call me on Monday if it is not better.",
    "Thank you, doctor. Have a nice day.",
]


def write_stereo(path, rate, left, right):
    n = max(len(left), len(right))
    left = left + array.array("h", [0] * (n - len(left)))
    right = right + array.array("h", [0] * (n - len(right)))
    frames = array.array("h", [0] * (2 * n))
    frames[0::2], frames[1::2] = left, right
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(frames.tobytes())


def conversation(utterances, rate, path):
    """Turns (channel, samples) alternately into a stereo file with 0.6 s between turns."""
    tracks = [array.array("h"), array.array("h")]
    clock = 0
    for channel, samples in utterances:
        track = tracks[channel]
        track.extend([0] * (clock - len(track)))
        track.extend(samples)
        clock = len(track) + int(0.6 * rate)
    write_stereo(path, rate, tracks[0], tracks[1])
    return len(max(tracks, key=len)) / rate


def mono_samples(path):
    with wave.open(str(path)) as w:
        channels, data = w.getnchannels(), w.readframes(w.getnframes())
        rate = w.getframerate()
    samples = array.array("h", data)
    return rate, samples[0::channels]


def make_inputs():
    clips = sorted((root / "fixtures/speech/nst-da").glob("*.wav"))
    utterances = [(i % 2, mono_samples(c)[1]) for i, c in enumerate(clips)]
    danish = work / "nst-da.wav"
    d_seconds = conversation(utterances, 16000, danish)
    # The same clips over and over until the call lasts ten minutes.
    long_call = []
    while sum(len(s) for _, s in long_call) < 16000 * 600 * 0.9:
        long_call.extend((len(long_call) % 2, s) for _, s in utterances)
    long_seconds = conversation(long_call, 16000, work / "nst-da-10min.wav")
    utterances = []
    for i, line in enumerate(ENGLISH):
        out = work / f"en-{i}.wav"
        voice = "en-us" if i % 2 == 0 else "en-us+f3"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), line], check=True)
        rate, samples = mono_samples(out)
        utterances.append((i % 2, samples))
        out.unlink()
    english = work / "english.wav"
    e_seconds = conversation(utterances, rate, english)
    return [("nst-da (real Danish)", danish, "da", d_seconds), ("English espeak", english, "en", e_seconds)], (work / "nst-da-10min.wav", long_seconds)


def words_by_speaker(lines):
    out = {}
    for line in lines:
        m = re.match(r"\[\d+:\d+\] ([^:]+): (.*)", line)
        if m:
            out.setdefault(m.group(1), []).extend(normalise(m.group(2)))
    return out


def normalise(text):
    return [w for w in re.sub(r"[^\w\s]", " ", text.lower()).split() if w]


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def wer(reference, hypothesis):
    errors = sum(edit_distance(reference.get(s, []), hypothesis.get(s, [])) for s in set(reference) | set(hypothesis))
    return errors / max(1, sum(len(v) for v in reference.values()))


class Server:
    """`autonotar serve` on a free port; with --cluster N, `serve --nats` in front of a
    nats-server and N `autonotar worker`s sharing the --threads cores."""

    def __init__(self, language, threads, cluster=0):
        self.config = work / f"bench-{language}.toml"
        config = f'[asr]\nlanguage = "{language}"\nthreads = {max(1, threads // max(1, cluster))}\n[server]\nmax_sessions = 32\n'
        self.helpers = []
        serve_args = []
        if cluster:
            port = free_port()
            nats_conf = work / "nats.conf"
            nats_conf.write_text(f"listen: 127.0.0.1:{port}\nmax_payload: 4MB\njetstream {{ store_dir: {str(work / 'jetstream')!r} }}\n")
            nats = next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(p).exists()), "nats-server")
            self.helpers.append(subprocess.Popen([nats, "-js", "-c", str(nats_conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            while subprocess.run(["bash", "-c", f"echo > /dev/tcp/127.0.0.1/{port}"], capture_output=True).returncode:
                time.sleep(0.05)
            url = f"nats://127.0.0.1:{port}"
            config += f'[cluster]\nnats_url = "{url}"\nkey_file = "{work / "bench.cluster-key"}"\n'
            serve_args = ["--nats", url]
        self.config.write_text(config)
        self.proc = subprocess.Popen([str(binary), "--config", str(self.config), "--data-dir", str(work / "data"), "serve", "--listen", "127.0.0.1:0", *serve_args],
                                     env=env, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            m = re.search(r"listening on (\S+)", line)
            if m:
                self.addr = m.group(1)
                break
        # Keep reading its log, so a full pipe never stalls the server.
        log = open(work / f"server-{language}.log", "w")
        threading.Thread(target=lambda: [log.write(line) for line in self.proc.stderr], daemon=True).start()
        # Workers after the gateway, which made the cluster key on its first start.
        for i in range(cluster):
            self.helpers.append(subprocess.Popen([str(binary), "--config", str(self.config), "worker", "--name", f"bench-{i}"],
                                                 env=env, stderr=open(work / f"worker-{i}.log", "w")))
        time.sleep(0.5 + 2 * bool(cluster))
        self.baseline = self.memory("VmRSS")

    def memory(self, key):
        """Of the service, and with --cluster of its workers too (MiB)."""
        total = 0.0
        for proc in [self.proc] + self.helpers[1:]:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1]) / 1024
        return total

    def stop(self):
        for proc in [self.proc] + self.helpers[::-1]:
            proc.terminate()
            proc.wait()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_words(wav, language, threads):
    """What `autonotar transcribe` hears in the recording, per speaker."""
    out = subprocess.run([str(binary), "transcribe", str(wav), "--language", language, "--threads", str(threads)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return words_by_speaker(out.splitlines())


def ingest_key():
    """A key of the bench's own data directory for the replays (the service refuses calls without one)."""
    created = subprocess.run([str(binary), "--data-dir", str(work / "data"), "ingest-key", "create", f"bench-{time.time_ns()}"],
                             env=env, check=True, capture_output=True, text=True).stdout
    return created.strip().splitlines()[-1]


def replay(server, wav, speed, name):
    return subprocess.Popen([str(binary), "replay", str(wav), "--server", server.addr, "--speed", str(speed), "--consultation", f"{name}-{run_id}", "--draft-timeout", "900"],
                            env=replay_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc):
    """The replay's committed text and kept transcript per speaker, and its timing line."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"replay failed: {err}")
    live, rest = out.split("--- transcript ---", 1)
    kept = rest.split("--- draft ---", 1)[0]
    m = re.search(r"p50 ([\d.]+) s p95 ([\d.]+) s, hang-up to draft ([\d.]+) s", err)
    return words_by_speaker(live.splitlines()), words_by_speaker(kept.splitlines()), tuple(float(x) for x in m.groups())


def concurrent_calls(server, wav, seconds, n, args, name):
    """n lines of calls. Calls in a clinic do not start and end in the same second, so unless
    --lockstep each line replays the recording --repeats times back to back, line i starting
    i/n of a call later: n calls run at once through the middle of the run, and hang-ups fall
    at different moments. With --lockstep all n start together once and hang up together."""
    if args.lockstep or n == 1:
        return [finish(p) for p in [replay(server, wav, args.speed, f"{name}-{i}") for i in range(n)]]
    results = [[] for _ in range(n)]

    def line(i):
        time.sleep(i * seconds / n / args.speed)
        for k in range(args.repeats):
            results[i].append(finish(replay(server, wav, args.speed, f"{name}-{i}-{k}")))

    threads = [threading.Thread(target=line, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for rs in results for r in rs]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", default="1,2,3,4")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2, help="[asr] threads of the server (1 on a busy machine)")
    parser.add_argument("--repeats", type=int, default=2, help="calls per line in the concurrency tables")
    parser.add_argument("--lockstep", action="store_true", help="start the concurrent calls together, once (the worst case)")
    parser.add_argument("--long", type=int, default=0, metavar="N", help="then N ten-minute Danish consultations at once")
    parser.add_argument("--cluster", type=int, default=0, metavar="N", help="decode on N `autonotar worker`s behind a local nats-server (serve --nats), the --threads cores split between them")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "autonotar"], check=True, cwd=root)
    inputs, (long_wav, long_seconds) = make_inputs()
    global replay_env, run_id
    # Consultation ids are never reused in a data directory, so each run has its own.
    run_id = time.strftime("%Y%m%d%H%M%S")
    replay_env = dict(env, AUTONOTAR_INGEST_KEY=ingest_key())
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[:3]
    cluster = f", {args.cluster} NATS worker(s)" if args.cluster else ""
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, commit {commit}, {os.cpu_count()} cores, load average before the run {' '.join(load)}, [asr] threads = {args.threads}{cluster}")
    print()
    print(f"| recording | audio s | WER kept transcript vs offline | WER live committed text vs offline | commit p50 s | commit p95 s | hang-up to draft s |")
    print(f"|---|---|---|---|---|---|---|")
    offlines = {}
    for name, wav, language, seconds in inputs:
        offline = offline_words(wav, language, args.threads)
        offlines[name] = offline
        server = Server(language, args.threads, args.cluster)
        live, kept, (p50, p95, hangup) = finish(replay(server, wav, args.speed, f"parity-{language}"))
        server.stop()
        print(f"| {name} | {seconds:.0f} | {100 * wer(offline, kept):.1f} % | {100 * wer(offline, live):.1f} % | {p50:.2f} | {p95:.2f} | {hangup:.2f} |", flush=True)
    for name, wav, language, seconds in inputs:
        print()
        mode = "started together" if args.lockstep else f"{args.repeats} calls per line, lines staggered"
        print(f"| concurrent {name} consultations ({seconds:.0f} s, real time, {mode}) | worst commit p50 s | worst commit p95 s | worst hang-up to draft s | worst WER kept vs offline | server peak RSS MiB | per session MiB |")
        print("|---|---|---|---|---|---|---|")
        for n in [int(x) for x in args.concurrency.split(",")]:
            server = Server(language, args.threads, args.cluster)
            finished = concurrent_calls(server, wav, seconds, n, args, f"load-{language}-{n}")
            peak = server.memory("VmHWM")
            server.stop()
            results = [f[2] for f in finished]
            p50 = max(r[0] for r in results)
            p95 = max(r[1] for r in results)
            hangup = max(r[2] for r in results)
            parity = max(wer(offlines[name], f[1]) for f in finished)
            print(f"| {n} | {p50:.2f} | {p95:.2f} | {hangup:.2f} | {100 * parity:.1f} % | {peak:.0f} | {(peak - server.baseline) / n:.0f} |", flush=True)
    if args.long:
        offline = offline_words(long_wav, "da", args.threads)
        print()
        print(f"| ten-minute Danish consultation ({long_seconds:.0f} s), {args.long} at once | commit p50 s | commit p95 s | hang-up to draft s | WER kept vs offline | server peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        server = Server("da", args.threads, args.cluster)
        # Started 20 s apart, so that their hang-ups do not coincide.
        procs = []
        for i in range(args.long):
            procs.append(replay(server, long_wav, args.speed, f"long-{i}"))
            time.sleep(0 if args.lockstep else 20)
        finished = [finish(p) for p in procs]
        peak = server.memory("VmHWM")
        server.stop()
        for i, (_, kept, (p50, p95, hangup)) in enumerate(finished):
            print(f"| call {i + 1} | {p50:.2f} | {p95:.2f} | {hangup:.2f} | {100 * wer(offline, kept):.1f} % | {peak:.0f} |", flush=True)

main()
