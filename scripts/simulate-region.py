#!/usr/bin/env python3
"""A region's working day of video consultations, replayed on paper against N Whisper workers.

Usage: scripts/simulate-region.py [--practices 500] [--peak 300] [--workers 40,50,60,80]
                                  [--cores-per-worker 2] [--gpu] [--no-spare] [--seed 1]
       scripts/simulate-region.py --calibrate     # the model against the measured bench runs
       scripts/simulate-region.py --self-test     # invariants; exits non-zero on failure

A discrete-event simulation of the design in docs/scale-out.md: gateways (`autonotar serve
--nats`) publish every Whisper pass to the JetStream work queue AUTONOTAR_PASSES in four
priorities (now, final, later, spare), and N workers (`autonotar worker --nats`), each running
one pass at a time on its cores, take the most urgent pass whenever they are free. Calls arrive
over the day (a morning peak), each with one track per participant; each track makes the passes
crates/server/src/pipeline.rs makes: an utterance pass when the VAD closes a speech region (the
text shown, priority now), a window pass when a window of up to 28 s of speech is complete
(later) or is the last at hang-up (final), and, only while a worker is idle, interim passes over
speech still going on and early passes over the window still filling (spare). It prints, per N,
commit latency (speech end to shown text), hang-up-to-draft, worker utilisation and queue depth,
and the load the day puts on what the workers share (NATS, the network, the gateways' disks).

Every cost constant says where it comes from: our measurements (docs/PERFORMANCE.md) for CPU,
published figures for GPU (this machine has none). The call mix is an assumption, stated beside
each constant; docs/scale-out.md lists what the model leaves out. Standard library only, and
deterministic: the same --seed gives the same day and the same table.
"""
import argparse
import math
import os
import random
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from heapq import heappop, heappush

# --- What each track does (the gateway's pipeline, as coded) ------------------------------------
VAD_CLOSE = 0.5  # s of silence that closes a speech region (vad::Params::default, min_silence)
INTERIM_AFTER = 1.0  # interim passes from 1 s of open speech (pipeline.rs INTERIM_AFTER)
INTERIM_EVERY = 0.5  # and every 0.5 s of audio after ([server] interim_seconds default)
FORCE_CUT = 24.0  # an open region this long is committed up to its last words (FORCE_CUT)
SETTLED_TAIL = 1.0  # a force cut keeps its last words, about a second, for the next pass
MAX_WINDOW = 28.0  # s of packed speech per window (asr::MAX_WINDOW)
PACK_GAP = 0.3  # s between packed regions (asr GAP)
MIN_UTTERANCE = 0.1  # close_region decodes only more than RATE/10 of new speech
MIN_PASS = 1.1  # shorter audio is padded to 1.1 s (server::decode MIN_SAMPLES)

# --- Bytes ----------------------------------------------------------------------------------------
PASS_BYTES_PER_S = 16000 * 4  # a pass carries 16 kHz mono f32 samples
SEAL_BYTES = 12 + 16 + 64  # AES-256-GCM nonce and tag, and a small header (pass id, kind)
INGEST_BYTES_PER_TRACK_S = 48000 * 2  # pcm_s16le at 48 kHz, docs/ingest-protocol.md's example
RESULT_BYTES = 4000  # a result: a few segments of words with times (assumption)

# --- Cost of a pass, CPU: whisper.cpp, base q8_0, this machine (docs/PERFORMANCE.md) ------------
# "a full 30 s encoder pass costs 4.2-4.6 s on one core, 2-2.5 s on two": the midpoints.
CPU_WINDOW_1, CPU_WINDOW_2 = 4.4, 2.25
# "asr::Pass::Utterance: 0.2-0.5 s for 2-6 s of speech": a line through both ends, read as the
# two-core cost (an utterance pass takes every free core on the 2-core machine; if the figures
# were one-core ones, this overstates utterance passes on 2-core workers by about 2x).
CPU_UTT_BASE, CPU_UTT_PER_S = 0.05, 0.075
# Cores beyond two: Amdahl's law through the two measured points (serial share 2.3 %). Not
# measured; whisper.cpp's scaling flattens with many threads, so this is optimistic above 2.
CPU_SERIAL = 2 * CPU_WINDOW_2 / CPU_WINDOW_1 - 1

# --- Cost of a pass, GPU: published, not measured here ------------------------------------------
# whisper.cpp's own CI bench on a Tesla V100 (CUDA backend, base f16, whisper.cpp 96db0c5a,
# 2025-03-19, github.com/ggml-org/ci whisper.cpp/96/db0c5a…/ggml-4-x86-cuda-v100): encoder
# 10.62 ms per 30 s pass, decoder 1.41 ms per token.
GPU_ENCODE, GPU_TOKEN = 0.01062, 0.00141
TOKENS_PER_S = 6.0  # "fast Danish speech is about 3 words and 6 tokens a second" (crates/asr)
# A fresh decoding state per pass (~20 ms on CPU, crates/asr), the log-mel on the CPU, copies to
# and from the device: assumed 30 ms per pass, not measured.
GPU_PER_PASS = 0.030

# --- Storage, per consultation (counted from crates/storage and docs/vault-format.md §7) --------
AUDIT_RECORDS_PER_CALL = 4  # consultation_started; at hang-up audio_received, transcript, draft
FSYNCS_PER_CALL = 15  # 1 + 3 audit records, the consultation's directory and keyring, 2 artefacts
# Drafting and storing after the last pass: interim drafts took 28 ms each on average
# (docs/PERFORMANCE.md, "Interim drafts"), plus 3 audit records and 2 artefacts with their fsyncs
# (3.7-4.6 ms each on a loaded disk, ~0.2 ms idle: "Audit log"). Taken as 60 ms.
DRAFT_AND_STORE = 0.060

# --- The day (assumptions, not measurements) -----------------------------------------------------
# Relative arrival rate by clock hour: opening at 08:00, a peak 09-11 after the telephone hour,
# lunch, a lower afternoon. Scaled so that the plateau's expected concurrency is --peak.
PROFILE = [(7.75, 0.0), (8.0, 0.35), (9.0, 1.0), (11.0, 1.0), (12.0, 0.55), (12.5, 0.35),
           (13.0, 0.65), (15.0, 0.55), (16.0, 0.2), (16.5, 0.0)]
# Speech regions (VAD regions, so a turn may be several): lognormal, median 3.5 s; silences
# between regions 0.5 s plus an exponential with mean 1.5 s (same speaker again: 0.6 s plus mean
# 0.8 s). About 2/3 of the call holds speech on one track or the other, near the bench's real
# Danish recording (13 NST clips: ~3.9 s of speech each, ~2 s of silence between, 64 % speech).
REGION_MEDIAN, REGION_SIGMA = 3.5, 0.6
SAME_SPEAKER = 0.25

BUCKET = 900.0  # s: rates and utilisation are given for the busiest 15 minutes
PEAK = (9 * 3600.0, 11 * 3600.0)  # the morning plateau of PROFILE: latencies "at the peak"

NOW, FINAL, LATER, SPARE = 0, 1, 2, 3
NAMES = ("now", "final", "later", "spare")
UTTERANCE, WINDOW = 0, 1
QUEUED, RUNNING, DONE, CANCELLED = 0, 1, 2, 3


class CpuCost:
    def __init__(self, cores, scale=1.0):
        share = (CPU_SERIAL + (1 - CPU_SERIAL) / cores) / (CPU_SERIAL + (1 - CPU_SERIAL) / 2)
        self.factor = share * scale
        self.window_cost = CPU_WINDOW_2 * self.factor
        self.label = f"CPU, {cores} core{'s' if cores > 1 else ''} per worker"

    def window(self, speech):
        return self.window_cost  # always a full 30 s encoder pass

    def utterance(self, seconds):
        return min(CPU_UTT_BASE + CPU_UTT_PER_S * seconds, CPU_WINDOW_2) * self.factor


class GpuCost:
    def __init__(self, scale=1.0):
        self.scale = scale
        self.label = "GPU (published V100 figures), one pass at a time per worker"

    def window(self, speech):
        return (GPU_ENCODE + GPU_TOKEN * TOKENS_PER_S * speech + GPU_PER_PASS) * self.scale

    def utterance(self, seconds):
        encoder = GPU_ENCODE * min(1.0, (seconds + 1.3) / 30)  # the encoder cut to the utterance
        return (encoder + GPU_TOKEN * TOKENS_PER_S * seconds + GPU_PER_PASS) * self.scale


def profile(hour):
    for (h0, r0), (h1, r1) in zip(PROFILE, PROFILE[1:]):
        if h0 <= hour < h1:
            return r0 + (r1 - r0) * (hour - h0) / (h1 - h0)
    return 0.0


def mean_duration(args):
    return args.call_median * 60 * math.exp(args.call_sigma ** 2 / 2)


def arrivals(args):
    """Call start times (s since midnight) and practices: a Poisson process thinned by PROFILE."""
    rng = random.Random(f"{args.seed}-arrivals")
    rate = args.peak / mean_duration(args)  # Little's law: concurrency = rate x mean duration
    t, end = PROFILE[0][0] * 3600, PROFILE[-1][0] * 3600
    out = []
    while True:
        t += rng.expovariate(rate)
        if t >= end:
            return out
        if rng.random() < profile(t / 3600):
            out.append((t, rng.randrange(args.practices)))


def conversation(seed, index, start, args):
    """(hang-up time, regions as (track, start, end)) of one call; track 0 is the doctor."""
    rng = random.Random(f"{seed}-call-{index}")
    minutes = rng.lognormvariate(math.log(args.call_median), args.call_sigma)
    hangup = start + min(max(minutes, 1.0), 60.0) * 60
    t = start + rng.uniform(1.0, 3.0)
    track = 0 if rng.random() < 0.8 else 1
    regions = []
    while True:
        length = min(max(rng.lognormvariate(math.log(REGION_MEDIAN), REGION_SIGMA), 0.3), 60.0)
        if t + length + 1.0 > hangup:
            return hangup, regions
        regions.append((track, t, t + length))
        t += length
        if rng.random() < SAME_SPEAKER:
            t += 0.6 + rng.expovariate(1 / 0.8)
        else:
            track ^= 1
            t += 0.5 + rng.expovariate(1 / 1.5)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Job:
    __slots__ = ("prio", "kind", "cost", "overhead", "issued", "track", "state", "bytes",
                 "speech", "counted", "tag", "cut_at", "started")

    def __init__(self, prio, kind, cost, overhead, issued, track, nbytes, speech, tag):
        self.prio, self.kind, self.cost, self.overhead = prio, kind, cost, overhead
        self.issued, self.track, self.bytes, self.speech, self.tag = issued, track, nbytes, speech, tag
        self.state, self.counted, self.cut_at, self.started = QUEUED, False, 0.0, 0.0


class Track:
    __slots__ = ("call", "index", "blocked", "pending", "region", "decode_from", "last_interim",
                 "win_len", "win_speech", "version", "early", "early_version", "window_jobs",
                 "stopping", "done", "wanting", "interim_job", "close_queued")

    def __init__(self, call, index):
        self.call, self.index = call, index
        self.blocked = False  # awaiting an utterance pass (the track's audio waits meanwhile)
        self.pending = deque()  # region closes, force cuts and the stop, in order
        self.region = None  # (start, end) while open
        self.decode_from = 0.0
        self.last_interim = 0.0
        self.win_len = self.win_speech = 0.0
        self.version = 0  # grows with every piece packed, over the whole track
        self.early = None
        self.early_version = -1
        self.window_jobs = 0  # window passes not yet done that the transcript needs
        self.stopping = self.done = self.wanting = False
        self.interim_job = None
        self.close_queued = None  # the region whose close waits in `pending`


class Call:
    __slots__ = ("start", "hangup", "tracks", "tracks_done", "commits")

    def __init__(self, start, hangup):
        self.start, self.hangup = start, hangup
        self.tracks = [Track(self, 0), Track(self, 1)]
        self.tracks_done = 0
        self.commits = []


class Sim:
    """One day against one worker pool."""

    def __init__(self, workers, cost, args, spare=True):
        self.workers, self.idle, self.cost, self.args, self.spare = workers, workers, cost, args, spare
        self.queues = [deque() for _ in range(4)]
        self.queued = 0  # queued jobs not cancelled
        self.wanters = deque()  # tracks waiting for an idle worker to make a spare-time guess
        self.events = []
        self.seq = 0
        self.link = args.link_gbit * 1e9 / 8
        self.commits = []  # (time, latency)
        self.hangups = []  # (time, hang-up to draft)
        self.busy = {}  # bucket -> [useful seconds, spare seconds]
        self.issued = {}  # bucket -> [count per priority] + [bytes]
        self.queue_peak = self.queue_peak_spare = 0
        self.now_wait_max = 0.0
        self.started_by_prio = [0, 0, 0, 0]
        self.reused_early = self.wasted = 0
        self.active = self.active_peak = 0
        self.active_by_bucket = {}
        self.calls = 0
        self.busy_total = 0.0
        self.cost_total = 0.0
        self.now = 0.0
        self.in_dispatch = False
        self.keep_calls = False
        self.call_list = []

    # --- events ---
    def at(self, t, code, a=None, b=None):
        self.seq += 1
        if t < self.now:
            t = self.now
        heappush(self.events, (t, self.seq, code, a, b))

    def run(self, calls):
        """calls: iterable of (start, hangup, regions)."""
        for start, hangup, regions in calls:
            self.at(start, "arrive", (hangup, regions))
        handlers = {code: getattr(self, "on_" + code) for code in
                    ("arrive", "speech", "close", "force", "interim_due", "hangup", "job_done", "draft")}
        events = self.events
        while events:
            t, _, code, a, b = heappop(events)
            self.now = t
            handlers[code](t, a, b)
        return self

    def on_arrive(self, t, a, b):
        hangup, regions = a
        call = Call(t, hangup)
        if self.keep_calls:
            self.call_list.append(call)
        self.calls += 1
        self.active += 1
        self.active_peak = max(self.active_peak, self.active)
        k = int(t // BUCKET)
        self.active_by_bucket[k] = max(self.active_by_bucket.get(k, 0), self.active)
        for track, start, end in regions:
            self.at(start, "speech", call.tracks[track], (start, end))
        self.at(hangup, "hangup", call)

    def on_speech(self, t, track, region):
        if track.region is not None or track.pending:  # the track is still busy with earlier audio
            track.pending.append(("open", region))
            return
        self.open_region(t, track, region)

    def open_region(self, t, track, region):
        track.region = region
        track.decode_from = max(track.decode_from, region[0])
        track.last_interim = t
        start, end = region
        self.at(end + VAD_CLOSE, "close", track, region)
        if end - start > FORCE_CUT:
            self.at(start + FORCE_CUT, "force", track, region)
        if self.spare and end + VAD_CLOSE > start + INTERIM_AFTER:
            self.at(start + INTERIM_AFTER, "interim_due", track, region)

    def on_close(self, t, track, region):
        if track.close_queued is region:  # closed already by the hang-up
            return
        track.close_queued = region
        self.before_later_speech(track, ("close", region))
        self.work(t, track)

    def on_force(self, t, track, region):
        if track.region is region:
            self.before_later_speech(track, ("force", region))
            self.work(t, track)

    @staticmethod
    def before_later_speech(track, item):
        """A late event of the open region goes before regions that began after it (they wait
        in `pending` when the track fell behind)."""
        for i, (kind, _) in enumerate(track.pending):
            if kind == "open":
                track.pending.insert(i, item)
                return
        track.pending.append(item)

    def on_interim_due(self, t, track, region):
        if track.region is region and not track.blocked:
            self.want(t, track)

    def on_hangup(self, t, call, b):
        for track in call.tracks:
            # The VAD's finish closes speech still open (the day's calls end in silence; the
            # bench's recordings need not).
            region = track.region
            if region is not None and track.close_queued is not region:
                track.close_queued = region
                track.pending.append(("close", (region[0], min(region[1], t))))
            track.pending.append(("stop", None))
            self.work(t, track)

    def on_job_done(self, t, job, b):
        job.state = DONE
        self.idle += 1
        track = job.track
        if job.kind == UTTERANCE:
            if job.prio == SPARE:  # an interim pass: its words are shown as partial text
                track.interim_job = None
                track.blocked = False
                region = track.region
                if region is not None and not track.pending:
                    due = max(t, job.issued + INTERIM_EVERY)
                    if due < region[1] + VAD_CLOSE:
                        self.at(due, "interim_due", track, region)
            else:  # a commit
                if job.tag == "force":
                    self.commits.append((t, t - job.cut_at))
                    track.decode_from = max(track.decode_from, job.cut_at)
                    track.blocked = False
                    if track.region is not None and track.region[1] - track.decode_from > FORCE_CUT:
                        self.at(track.decode_from + FORCE_CUT, "force", track, track.region)
                else:
                    region = job.tag
                    self.commits.append((t, t - region[1]))
                    if self.keep_calls:
                        track.call.commits.append(t - region[1])
                    track.blocked = False
                    self.closed(t, track, region)
            self.work(t, track)
        else:
            if job.counted:
                track.window_jobs -= 1
                if track.stopping and not track.done:
                    self.work(t, track)
        self.dispatch(t)

    def on_draft(self, t, call, b):
        self.hangups.append((t, t - call.hangup))
        self.active -= 1

    # --- a track's work, in order ---
    def work(self, t, track):
        while not track.blocked and track.pending and not track.done:
            kind, region = track.pending[0]
            if kind == "open":
                if track.region is not None:
                    return
                track.pending.popleft()
                self.open_region(t, track, region)
            elif kind == "close":
                track.pending.popleft()
                start, end = region
                new = end - max(start, track.decode_from)
                if new > MIN_UTTERANCE:
                    self.utterance(t, track, new, NOW, region)
                    track.blocked = True
                else:
                    self.closed(t, track, region)
            elif kind == "force":
                track.pending.popleft()
                if track.region is region:
                    cut = t - SETTLED_TAIL
                    job = self.utterance(t, track, t - track.decode_from, NOW, "force")
                    job.cut_at = cut
                    track.blocked = True
            else:  # stop: the last speech was closed above; wait for the windows, then the last
                if not track.stopping:
                    track.stopping = True
                    if track.early is not None and track.early.state == QUEUED and track.early_version != track.version:
                        self.cancel(track.early)
                if track.window_jobs:
                    return
                if track.win_len > 0:
                    self.last_window(t, track)
                    if track.window_jobs:
                        return
                track.pending.popleft()
                track.done = True
                call = track.call
                call.tracks_done += 1
                if call.tracks_done == len(call.tracks):
                    self.at(t + DRAFT_AND_STORE, "draft", call)
        if not track.blocked and not track.pending and not track.stopping:
            self.want(t, track)

    def closed(self, t, track, region):
        """The region's text is committed: its speech joins the windows."""
        track.region = None
        track.decode_from = region[1]
        if track.interim_job is not None and track.interim_job.state == QUEUED:
            self.cancel(track.interim_job)
        self.pack(t, track, region[1] - region[0])

    def pack(self, t, track, length):
        """asr::Packer::push, in seconds; each window it completes gets its pass."""
        at = 0.0
        while at < length - 1e-9:
            gap = PACK_GAP if track.win_len > 0 else 0.0
            if track.win_len + gap >= MAX_WINDOW:
                self.complete_window(t, track, LATER)
                continue
            room = MAX_WINDOW - track.win_len - gap
            take = min(length - at, room)
            if take < length - at and track.win_len > 0 and length <= MAX_WINDOW:
                self.complete_window(t, track, LATER)  # the region fits a window of its own
                continue
            track.win_len += gap + take
            track.win_speech += take
            track.version += 1
            at += take

    def complete_window(self, t, track, prio):
        """final_pass: keep the early pass when it covered exactly this window."""
        early = track.early
        track.early = None
        if early is not None and track.early_version == track.version and early.state != CANCELLED:
            if early.state == QUEUED:  # waiting as a guess: it is needed now
                self.cancel(early)
                self.window(t, track, prio)
            else:
                self.reused_early += 1
                if early.state == RUNNING:
                    early.counted = True
                    track.window_jobs += 1
        else:
            if early is not None and early.state == QUEUED:
                self.cancel(early)
            self.window(t, track, prio)
        track.win_len = track.win_speech = 0.0

    def last_window(self, t, track):
        self.complete_window(t, track, FINAL)

    # --- passes ---
    def overhead(self, nbytes):
        # publish, store, fetch, reply: a fixed part and the payload crossing the network twice
        # (gateway -> NATS, NATS -> worker); the result is small.
        return self.args.dispatch_ms / 1000 + 2 * nbytes / self.link + RESULT_BYTES / self.link

    def utterance(self, t, track, seconds, prio, tag):
        seconds = max(seconds, MIN_PASS)
        nbytes = int(seconds * PASS_BYTES_PER_S) + SEAL_BYTES
        job = Job(prio, UTTERANCE, self.cost.utterance(seconds), self.overhead(nbytes), t, track, nbytes, seconds, tag)
        self.submit(t, job)
        return job

    def window(self, t, track, prio):
        nbytes = int(track.win_len * PASS_BYTES_PER_S) + SEAL_BYTES
        job = Job(prio, WINDOW, self.cost.window(track.win_speech), self.overhead(nbytes), t, track, nbytes, track.win_speech, None)
        job.counted = prio != SPARE
        if job.counted:
            track.window_jobs += 1
        self.submit(t, job)
        return job

    def submit(self, t, job, kick=True):
        self.queues[job.prio].append(job)
        self.queued += 1
        k = int(t // BUCKET)
        row = self.issued.setdefault(k, [0, 0, 0, 0, 0])
        row[job.prio] += 1
        row[4] += job.bytes
        depth = self.queued
        if job.prio != SPARE and depth > self.queue_peak:
            spare = self.queues[SPARE]
            must_run = depth - (sum(1 for j in spare if j.state == QUEUED) if spare else 0)
            if must_run > self.queue_peak:
                self.queue_peak = must_run
        if kick and not self.in_dispatch:
            self.dispatch(t)

    def cancel(self, job):
        if job.state == QUEUED:
            job.state = CANCELLED
            self.queued -= 1

    def idle_for_guess(self):
        """Decode::idle_for: a worker is free and nothing waits that it could take."""
        return self.idle > 0 and self.queued == 0

    def want(self, t, track):
        """The track would make a spare-time guess (an interim pass while it speaks, an early
        pass over its window while it is silent) if a worker were idle."""
        if not self.spare or track.wanting or track.done or track.stopping:
            return
        if self.guess(t, track):
            return
        track.wanting = True
        self.wanters.append(track)

    def guess(self, t, track):
        """Makes the guess the track wants now, if any and if a worker is idle; True if made or
        if there is nothing to guess."""
        if track.blocked or track.done or track.stopping or track.pending:
            return True
        region = track.region
        if region is not None:
            spoken = t - max(region[0], track.decode_from)
            if spoken < INTERIM_AFTER or t - track.last_interim < INTERIM_EVERY - 1e-9 or t >= region[1] + VAD_CLOSE:
                return True
            if not self.idle_for_guess():
                return False
            track.last_interim = t
            job = self.utterance(t, track, spoken, SPARE, "interim")
            track.interim_job = job
            track.blocked = True  # the track awaits its interim pass
            return True
        if track.win_len <= 0 or track.early_version == track.version:
            return True
        if not self.idle_for_guess():
            return False
        if track.early is not None and track.early.state == QUEUED:
            self.cancel(track.early)
        track.early = self.window(t, track, SPARE)
        track.early_version = track.version
        return True

    def dispatch(self, t):
        self.in_dispatch = True
        try:
            self._dispatch(t)
        finally:
            self.in_dispatch = False

    def _dispatch(self, t):
        while self.idle > 0:
            if self.queued > 0:
                for queue in self.queues:
                    while queue and queue[0].state == CANCELLED:
                        queue.popleft()
                    if queue:
                        self.start(t, queue.popleft())
                        break
                continue
            if not self.wanters:
                return
            track = self.wanters.popleft()
            track.wanting = False
            if not self.guess(t, track):
                track.wanting = True
                self.wanters.appendleft(track)
                return

    def start(self, t, job):
        self.queued -= 1
        self.idle -= 1
        job.state = RUNNING
        job.started = t
        self.started_by_prio[job.prio] += 1
        if job.prio == NOW:
            self.now_wait_max = max(self.now_wait_max, t - job.issued)
        held = job.overhead + job.cost
        self.busy_total += held
        self.cost_total += job.cost
        self.account(t, t + held, job.prio == SPARE)
        self.at(t + held, "job_done", job)

    def account(self, a, b, spare):
        while a < b:
            k = int(a // BUCKET)
            edge = min(b, (k + 1) * BUCKET)
            row = self.busy.setdefault(k, [0.0, 0.0])
            row[1 if spare else 0] += edge - a
            a = edge

    # --- results ---
    def summary(self):
        commits = [l for _, l in self.commits]
        hangups = [l for _, l in self.hangups]
        peak_commits = [l for t, l in self.commits if PEAK[0] <= t < PEAK[1]]
        peak_hangups = [l for t, l in self.hangups if PEAK[0] <= t < PEAK[1]]
        cap = self.workers * BUCKET
        # The 15 minutes with the most passes that must run (now, final, later) asked for: the
        # demand peak, whose figures do not depend on how much spare time was left to guess in.
        peak_k = max(self.issued, key=lambda k: sum(self.issued[k][:3]), default=None)
        row = self.busy.get(peak_k, [0.0, 0.0])
        issued = self.issued.get(peak_k, [0, 0, 0, 0, 0])
        return {
            "workers": self.workers, "calls": self.calls, "active_peak": self.active_peak,
            "commit_p50": percentile(commits, 50), "commit_p95": percentile(commits, 95),
            "commit_p95_peak": percentile(peak_commits, 95), "commit_max": max(commits, default=float("nan")),
            "hangup_p50": percentile(hangups, 50), "hangup_p95": percentile(hangups, 95),
            "hangup_p95_peak": percentile(peak_hangups, 95), "hangup_max": max(hangups, default=float("nan")),
            "useful_util": row[0] / cap, "spare_util": row[1] / cap,
            "queue_peak": self.queue_peak, "now_wait_max": self.now_wait_max,
            "rates": [c / BUCKET for c in issued[:4]], "mbps": issued[4] / BUCKET / 1e6,
            "msgs": sum(issued[:4]) / BUCKET, "reused_early": self.reused_early,
            "started": self.started_by_prio, "commits": len(commits), "drafts": len(hangups),
        }


def cost_model(args):
    return GpuCost(args.cost_scale) if args.gpu else CpuCost(args.cores_per_worker, args.cost_scale)


def day(args):
    for index, (start, practice) in enumerate(arrivals(args)):
        hangup, regions = conversation(args.seed, index, start, args)
        yield start, hangup, regions


def simulate(job):
    args, workers = job
    began = time.process_time()
    sim = Sim(workers, cost_model(args), args, spare=not args.no_spare).run(day(args))
    out = sim.summary()
    out["cpu_seconds"] = time.process_time() - began
    return out


def workload(args):
    """What the day asks for, independent of the workers: calls, speech, passes that must run."""
    starts = arrivals(args)
    practices = {}
    speech = 0.0
    regions = 0
    call_seconds = 0.0
    for index, (start, practice) in enumerate(starts):
        hangup, rs = conversation(args.seed, index, start, args)
        practices[practice] = practices.get(practice, 0) + 1
        speech += sum(e - s for _, s, e in rs)
        regions += len(rs)
        call_seconds += hangup - start
    return {"calls": len(starts), "practices_with_calls": len(practices),
            "max_per_practice": max(practices.values(), default=0),
            "speech_share": speech / max(call_seconds, 1), "regions": regions,
            "mean_minutes": call_seconds / max(len(starts), 1) / 60}


def fmt(x, digits=2):
    return "–" if x != x else f"{x:.{digits}f}"


def report(args):
    workers = [int(w) for w in args.workers.split(",")]
    cost = cost_model(args)
    w = workload(args)
    print(f"# scripts/simulate-region.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"# seed {args.seed}; {args.practices} practices; expected peak concurrency {args.peak} calls;"
          f" call length lognormal, median {args.call_median:g} min, sigma {args.call_sigma:g}")
    print(f"# {w['calls']} calls in the day ({w['calls'] / args.practices:.1f} per practice, at most"
          f" {w['max_per_practice']} at one practice), mean {w['mean_minutes']:.1f} min, speech on"
          f" {100 * w['speech_share'] / 2:.0f} % of each track's time, {w['regions']} speech regions")
    print(f"# workers: {cost.label}; window pass {cost.window(MAX_WINDOW - 2):.2f} s, utterance pass of"
          f" 4 s {cost.utterance(4.0):.2f} s; spare-time guesses {'off' if args.no_spare else 'on (only while a worker is idle)'};"
          f" dispatch {args.dispatch_ms:g} ms + payload at {args.link_gbit:g} Gbit/s")
    print()
    jobs = [(args, n) for n in workers]
    if args.jobs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(jobs))) as pool:
            results = list(pool.map(simulate, jobs))
    else:
        results = [simulate(j) for j in jobs]
    unit = "GPUs" if args.gpu else "cores"
    per = 1 if args.gpu else args.cores_per_worker
    print(f"| workers | {unit} | commit p50 | commit p95 | commit p95 09-11 | commit max | hang-up to draft p50 | p95 | p95 09-11 | max | utilisation, busiest 15 min: must-run + spare | queue peak (must-run) | longest wait of a now pass |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['workers']} | {r['workers'] * per} | {fmt(r['commit_p50'])} s | {fmt(r['commit_p95'])} s |"
              f" {fmt(r['commit_p95_peak'])} s | {fmt(r['commit_max'], 1)} s | {fmt(r['hangup_p50'])} s | {fmt(r['hangup_p95'])} s |"
              f" {fmt(r['hangup_p95_peak'])} s | {fmt(r['hangup_max'], 1)} s |"
              f" {100 * r['useful_util']:.0f} % + {100 * r['spare_util']:.0f} % | {r['queue_peak']} | {fmt(r['now_wait_max'], 1)} s |")
    print()
    print("| workers | passes/s, busiest 15 min: now / final / later / spare | NATS messages in, /s | NATS payload in, MB/s | windows kept from an early pass (day) | simulated in |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in results:
        rates = " / ".join(f"{x:.1f}" for x in r["rates"])
        started = r["started"]
        windows = started[FINAL] + started[LATER] + r["reused_early"]
        kept = r["reused_early"] / windows if windows else 0.0
        print(f"| {r['workers']} | {rates} | {r['msgs']:.0f} | {r['mbps']:.1f} | {100 * kept:.0f} % | {r['cpu_seconds']:.0f} s |")
    peak = max(r["active_peak"] for r in results)
    print()
    print(f"# most calls at once: {peak}. At that: ingest {peak * 2 * INGEST_BYTES_PER_TRACK_S / 1e6:.1f} MB/s of 48 kHz 16-bit audio into the gateways;"
          f" audit records ~{AUDIT_RECORDS_PER_CALL * peak / mean_duration(args):.1f}/s and fsyncs"
          f" ~{FSYNCS_PER_CALL * peak / mean_duration(args):.1f}/s on the vault disks (all gateways together)")
    return results


# --- the model against what was measured ----------------------------------------------------------
NST_CLIPS = [  # (duration, leading silence, speech) of fixtures/speech/nst-da, from their energy
    (4.18, 0.0, 3.3), (5.78, 1.22, 2.96), (6.58, 0.32, 4.3), (7.58, 0.3, 5.88), (6.78, 0.14, 5.0),
    (7.98, 1.1, 5.1), (5.98, 0.22, 4.0), (5.18, 0.66, 2.7), (5.98, 0.4, 4.1), (6.98, 0.9, 4.68),
    (3.78, 0.7, 1.7), (2.98, 0.72, 0.72), (6.38, 0.72, 4.26)]
ENGLISH_LINES = [3.2, 3.56, 3.19, 3.75, 4.75, 4.01, 4.47, 2.14, 6.6, 3.18]  # espeak-ng, 150 wpm


def bench_recording(kind):
    """The regions of scripts/bench-server.py's recordings: turns alternate, 0.6 s apart."""
    regions, t = [], 0.0
    if kind == "nst":
        for i, (length, lead, speech) in enumerate(NST_CLIPS):
            regions.append((i % 2, t + max(lead - 0.2, 0), t + lead + speech + 0.2))  # VAD pads 0.2 s
            t += length + 0.6
    else:
        for i, length in enumerate(ENGLISH_LINES):
            regions.append((i % 2, t + 0.1, t + length - 0.1))
            t += length + 0.6
    return t - 0.6, regions


def calibrate(args):
    """bench-server.py's runs of 2026-11-30 were one two-thread worker taking one pass at a time:
    what one 2-core worker here is. Its concurrency rows start line i at i/n of a call and play
    the recording twice per line; every figure is the worst call's."""
    measured = {("nst", 1): (3.03, 1.38), ("en", 1): (1.28, 2.32), ("en", 2): (2.89, 7.73), ("en", 3): (12.19, 14.70)}
    print("| recording | calls at once | model: worst commit p95 | measured 2026-11-30 | model: worst hang-up to draft | measured |")
    print("|---|---:|---:|---:|---:|---:|")
    for (kind, n), (p95, hangup) in measured.items():
        length, regions = bench_recording(kind)
        calls = []
        for line in range(n):
            offset = line * length / n
            for repeat in range(1 if n == 1 else 2):
                start = 100 + offset + repeat * (length + 0.5)
                calls.append((start, start + length, [(tr, start + s, start + e) for tr, s, e in regions]))
        sim = Sim(1, CpuCost(2), args, spare=True)
        sim.keep_calls = True
        sim.run(sorted(calls))
        worst_p95 = max(percentile(call.commits, 95) for call in sim.call_list)
        worst_hangup = max(l for _, l in sim.hangups)
        name = "NST real Danish (83 s)" if kind == "nst" else "English espeak (44 s)"
        print(f"| {name} | {n} | {worst_p95:.2f} s | {p95:.2f} s | {worst_hangup:.2f} s | {hangup:.2f} s |")


# --- invariants -------------------------------------------------------------------------------------
def self_test(args):
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    cost = CpuCost(2)
    # 1. One call, idle workers, no guesses: each commit costs the VAD's close, the dispatch and
    # the pass, nothing more; hang-up to draft is the last window's pass plus drafting.
    regions = [(0, 10.0, 14.0), (1, 16.0, 21.0), (0, 30.0, 33.0)]
    sim = Sim(4, cost, args, spare=False).run([(5.0, 40.0, regions)])
    expected = []
    for _, s, e in regions:
        nbytes = int((e - s) * PASS_BYTES_PER_S) + SEAL_BYTES
        expected.append(VAD_CLOSE + sim.overhead(nbytes) + cost.utterance(e - s))
    got = [l for _, l in sim.commits]
    check(len(got) == 3 and all(abs(a - b) < 1e-9 for a, b in zip(got, expected)),
          f"one call on idle workers: commit latency = VAD close + dispatch + pass cost {[round(x, 3) for x in expected]} (got {[round(x, 3) for x in got]})")
    nbytes = int((4.0 + PACK_GAP + 3.0) * PASS_BYTES_PER_S) + SEAL_BYTES
    want = sim.overhead(nbytes) + cost.window(7.0) + DRAFT_AND_STORE
    check(len(sim.hangups) == 1 and abs(sim.hangups[0][1] - want) < 1e-9,
          f"one call on idle workers: hang-up to draft = the last window's pass + drafting ({want:.3f} s, got {sim.hangups[0][1]:.3f} s)")
    # 2. With guesses on, the last window was decoded early: the draft needs no pass at hang-up.
    sim = Sim(4, cost, args, spare=True).run([(5.0, 40.0, regions)])
    check(abs(sim.hangups[0][1] - DRAFT_AND_STORE) < 1e-9 and sim.reused_early >= 2,
          f"guesses on: both tracks' last windows kept from their early passes, hang-up to draft = drafting only ({sim.hangups[0][1]:.3f} s)")
    # 3. A small day: every call gets its draft, with and without guesses. Without guesses,
    # more workers never make a p95 worse. (With guesses they can, by a little: an idle worker
    # takes an interim pass, and the track waits for it before its region's commit, as in
    # `autonotar serve`.) The same seed gives the same figures.
    small = argparse.Namespace(**vars(args))
    small.practices, small.peak = 40, 24
    calls = sum(1 for _ in day(small))
    for n in (3, 12):
        r = simulate((small, n))
        check(r["drafts"] == calls, f"guesses on, {n} workers: {r['drafts']} drafts for {calls} calls")
    small.no_spare = True
    previous = None
    for n in (3, 4, 6, 8, 12, 16):
        r = simulate((small, n))
        check(r["drafts"] == calls, f"no guesses, {n} workers: {r['drafts']} drafts for {calls} calls")
        if previous is not None:
            check(r["commit_p95"] <= previous["commit_p95"] + 1e-9 and r["hangup_p95"] <= previous["hangup_p95"] + 1e-9,
                  f"no guesses, {previous['workers']} -> {n} workers: commit p95 {previous['commit_p95']:.3f} -> {r['commit_p95']:.3f} s,"
                  f" hang-up p95 {previous['hangup_p95']:.3f} -> {r['hangup_p95']:.3f} s, never worse")
        previous = r
    small.no_spare = False
    first, again = simulate((small, 8)), simulate((small, 8))
    check(again == {**first, "cpu_seconds": again["cpu_seconds"]}, "the same seed gives the same figures")
    # 4. Utilisation never exceeds the workers, and a worker is never given a guess while a pass
    # that must run waits.
    sim = Sim(6, cost, small, spare=True).run(day(small))
    over = [k for k, row in sim.busy.items() if sum(row) > 6 * BUCKET + 1e-6]
    check(not over, "busy time in every 15 minutes ≤ workers × 15 minutes")
    print("self-test:", "FAILED" if failures else "passed")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--practices", type=int, default=500, help="practices in the region (default 500)")
    p.add_argument("--peak", type=float, default=300, help="expected concurrent calls at the morning peak (default 300)")
    p.add_argument("--workers", default="40,50,60,80", help="worker counts to try, comma-separated")
    p.add_argument("--cores-per-worker", type=int, default=2, help="[asr] threads of each CPU worker (default 2)")
    p.add_argument("--gpu", action="store_true", help="GPU workers, from published figures (default workers 6,8,12,16)")
    p.add_argument("--no-spare", action="store_true", help="no interim or early passes ([server] interim_seconds = 0, no guesses)")
    p.add_argument("--call-median", type=float, default=8.0, help="median call length, minutes (default 8)")
    p.add_argument("--call-sigma", type=float, default=0.5, help="sigma of the lognormal call length (default 0.5)")
    p.add_argument("--dispatch-ms", type=float, default=5.0, help="fixed NATS cost per pass: publish, store, fetch, reply (default 5)")
    p.add_argument("--link-gbit", type=float, default=10.0, help="network between gateways, NATS and workers (default 10)")
    p.add_argument("--cost-scale", type=float, default=1.0, help="multiply every pass cost (a slower or busier machine)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes, one worker count each")
    p.add_argument("--calibrate", action="store_true", help="the model beside bench-server.py's measured runs")
    p.add_argument("--self-test", action="store_true", help="check invariants; non-zero exit on failure")
    args = p.parse_args()
    if args.gpu and args.workers == p.get_default("workers"):
        args.workers = "6,8,12,16"
    if args.self_test:
        sys.exit(self_test(args))
    if args.calibrate:
        calibrate(args)
        return
    report(args)


if __name__ == "__main__":
    main()
