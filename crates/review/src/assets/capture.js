// The capture page: the doctor's microphone (the doctor's track) and the video call's shared tab
// (the patient's track) streamed over the ingest protocol (docs/ingest-protocol.md) to
// /review/optag/ws, which the review session authenticates. Every frame is numbered and kept
// until the server has it, so a dropped connection resumes where it stopped and no audio is lost
// without the page saying so.
(() => {
  "use strict";
  const root = document.querySelector(".capture");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $("msg").textContent = text; };
  const state = (text) => { $("capture-state").textContent = text; };

  const RATE = 48000;              // what the tracks are declared at; the server resamples
  const FRAME = RATE / 10;         // 100 ms of audio per frame
  const RESEND_FRAMES = 600;       // 60 s kept after sending, for a resume
  const HELD_FRAMES = 6000;        // 10 min held while the connection is down
  const QUIET_SECONDS = 30;        // a track this long without sound gets a warning
  const TRACKS = [
    { id: "laege", role: "doctor", name: "mikrofonen (lægen)", meter: "level-doctor" },
    { id: "patient", role: "patient", name: "den delte fane (patienten)", meter: "level-patient" },
  ];
  const ERRORS = {
    consent_required: "Optagelsen kræver patientens samtykke.",
    consultation_exists: "Der findes allerede en konsultation med dette id. Brug videokonsultationens eget id.",
    not_owner: "Konsultationen tilhører en anden. Brug videokonsultationens eget id.",
    bad_start: "Konsultationens id kan ikke bruges: brug bogstaver, tal og - _ . : (højst 48 tegn).",
    shutting_down: "Serveren er ved at genstarte. Prøv igen om lidt.",
    unavailable: "Serveren kan ikke optage lige nu. Prøv igen om lidt.",
    busy: "Serveren har ikke plads til flere optagelser lige nu. Prøv igen om lidt.",
    superseded: "Optagelsen fortsætter i et andet vindue.",
  };

  let consultation = null;
  let socket = null;
  let resumeToken = null;
  let started = false;
  let stopping = false;
  let finished = false;
  let media = [];
  let context = null;
  let retry = 0;
  const tracks = TRACKS.map(() => ({ pending: new Float32Array(FRAME), filled: 0, sequence: 0,
                                     unsent: [], sent: [], lastSound: Date.now(), warned: false, lost: 0 }));

  const frame = (index, sequence, samples) => {
    const bytes = new DataView(new ArrayBuffer(5 + samples.length * 2));
    bytes.setUint8(0, index);
    bytes.setUint32(1, sequence, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      bytes.setInt16(5 + i * 2, Math.round(s * 32767), true);
    }
    return { sequence, bytes: bytes.buffer };
  };

  const open = () => socket && socket.readyState === WebSocket.OPEN && started;

  const send = (index) => {
    const track = tracks[index];
    while (track.unsent.length && open()) {
      const next = track.unsent.shift();
      socket.send(next.bytes);
      track.sent.push(next);
      if (track.sent.length > RESEND_FRAMES) track.sent.shift();
    }
    if (track.unsent.length > HELD_FRAMES) {
      // Only after ten minutes without a connection: say so, never drop it unnoticed.
      track.lost += track.unsent.length - HELD_FRAMES;
      track.unsent.splice(0, track.unsent.length - HELD_FRAMES);
      say(`Forbindelsen har været væk i over 10 minutter: ${Math.round(track.lost / 10)} s lyd fra ${TRACKS[index].name} er gået tabt.`);
    }
  };

  const take = (index, block) => {
    if (stopping) return;
    const track = tracks[index];
    let peak = 0;
    for (const s of block) peak = Math.max(peak, Math.abs(s));
    $(TRACKS[index].meter).value = Math.min(1, peak * 2);
    if (peak > 0.01) { track.lastSound = Date.now(); track.warned = false; }
    // Blocks (128 samples) and frames need not line up: a block may finish one frame and start the next.
    for (let at = 0; at < block.length;) {
      const taken = Math.min(block.length - at, FRAME - track.filled);
      track.pending.set(block.subarray(at, at + taken), track.filled);
      track.filled += taken;
      at += taken;
      if (track.filled === FRAME) {
        track.unsent.push(frame(index, track.sequence++, track.pending));
        track.pending = new Float32Array(FRAME);
        track.filled = 0;
      }
    }
    send(index);
  };

  let quietWatch = null;
  const watchQuiet = () => setInterval(() => {
    if (!started || stopping) return;
    const quiet = TRACKS.filter((_, index) => Date.now() - tracks[index].lastSound > QUIET_SECONDS * 1000);
    const fresh = quiet.some((spec) => !tracks[TRACKS.indexOf(spec)].warned);
    quiet.forEach((spec) => { tracks[TRACKS.indexOf(spec)].warned = true; });
    if (fresh) {
      say(`Der er ikke kommet lyd fra ${quiet.map((spec) => spec.name).join(" og ")} i ${QUIET_SECONDS} sekunder. Tjek at mikrofonen ikke er slået fra, og at fanen med videoopkaldet deles med lyd.`);
    }
  }, 1000);

  const startMessage = () => JSON.stringify({
    type: "start",
    consultation,
    doctor: root.dataset.doctor,
    consent: true,
    tracks: TRACKS.map((t) => ({ id: t.id, role: t.role, sample_rate: RATE, encoding: "pcm_s16le" })),
    ...(resumeToken ? { resume_token: resumeToken } : {}),
  });

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${root.dataset.ws}`);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => socket.send(startMessage());
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      const event = JSON.parse(message.data);
      if (event.type === "started") {
        resumeToken = event.resume_token;
        started = true;
        retry = 0;
        state("optager");
        const live = $("capture-live");
        live.dataset.stream = `/review/k/${encodeURIComponent(consultation)}/direkte`;
        if (window.autonotarFollow) window.autonotarFollow(live);
        tracks.forEach((_, index) => send(index));
      } else if (event.type === "resumed") {
        started = true;
        retry = 0;
        state("optager (forbindelsen er genoprettet)");
        // Everything from where the server stopped hearing each track goes again.
        tracks.forEach((track, index) => {
          const next = event.next_sequence[index] ?? 0;
          track.unsent = track.sent.filter((f) => f.sequence >= next).concat(track.unsent);
          track.sent = [];
          send(index);
        });
        if (stopping) socket.send(JSON.stringify({ type: "stop" }));
      } else if (event.type === "gap") {
        say(`${event.silence_seconds.toFixed(1)} s lyd nåede ikke frem og er erstattet af stilhed.`);
      } else if (event.type === "stopped") {
        state("transskriberer …");
      } else if (event.type === "draft_ready") {
        finished = true;
        state("kladden er klar");
        location.assign(`/review/k/${encodeURIComponent(consultation)}`);
      } else if (event.type === "error") {
        say(ERRORS[event.code] || `Serveren afviste optagelsen: ${event.message}`);
        if (!started) end();
      }
    };
    socket.onclose = () => {
      if (finished || !consultation) return;
      if (!started && !resumeToken) { end(); return; }
      started = false;
      state("forbindelsen er afbrudt – forbinder igen …");
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, retry * 1000);
    };
  };

  const end = () => {
    media.forEach((stream) => stream.getTracks().forEach((t) => t.stop()));
    media = [];
    if (context) context.close();
    context = null;
    clearInterval(quietWatch);
    consultation = null;
    $("capture-running").hidden = true;
    $("capture-form").hidden = false;
  };

  const microphone = async () => {
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      throw new Error(error.name === "NotFoundError"
        ? "Der er ingen mikrofon på denne computer. Tilslut et headset, og prøv igen."
        : "Browseren fik ikke lov at bruge mikrofonen. Tillad mikrofonen for denne side, og prøv igen.");
    }
  };

  const sharedTab = async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true, systemAudio: "include" });
    } catch (error) {
      throw new Error("Der blev ikke delt nogen fane. Vælg fanen eller vinduet med videoopkaldet, og sæt flueben ved »Del lyd«.");
    }
    if (!stream.getAudioTracks().length) {
      stream.getTracks().forEach((t) => t.stop());
      throw new Error("Den delte fane har ingen lyd. Del fanen med videoopkaldet igen, og sæt flueben ved »Del lyd«.");
    }
    // Only the sound is used; the picture is not sent anywhere.
    stream.getVideoTracks().forEach((t) => { t.enabled = false; });
    return stream;
  };

  $("capture-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    say("");
    if (!$("capture-consent").checked) { say("Optagelsen kræver patientens samtykke."); return; }
    try {
      // The tab first: a browser lets a page ask to share one only straight after a click, and
      // the microphone's permission prompt may take longer than that.
      const tab = await sharedTab();
      media = [tab]; // so that a refused microphone also ends the share
      media = [await microphone(), tab];
      context = new AudioContext({ sampleRate: RATE });
      await context.audioWorklet.addModule("/review/assets/capture-worklet.js");
      media.forEach((stream, index) => {
        const tap = new AudioWorkletNode(context, "capture-tap");
        tap.port.onmessage = (message) => take(index, message.data);
        context.createMediaStreamSource(stream).connect(tap);
        // A worklet only runs when connected onwards; its output is silent.
        tap.connect(context.destination);
      });
    } catch (error) {
      end();
      say(error.message);
      return;
    }
    consultation = $("capture-id").value.trim();
    $("capture-form").hidden = true;
    $("capture-running").hidden = false;
    state("forbinder …");
    quietWatch = watchQuiet();
    connect();
  });

  $("capture-stop").addEventListener("click", () => {
    if (!consultation || stopping) return;
    stopping = true;
    $("capture-stop").disabled = true;
    // The last, partly filled frame goes too.
    tracks.forEach((track, index) => {
      if (track.filled) track.unsent.push(frame(index, track.sequence++, track.pending.subarray(0, track.filled)));
      send(index);
    });
    media.forEach((stream) => stream.getTracks().forEach((t) => t.stop()));
    if (open()) socket.send(JSON.stringify({ type: "stop" }));
    state("transskriberer …");
  });

  window.addEventListener("beforeunload", (leaving) => {
    if (consultation && !finished) leaving.preventDefault();
  });
})();
