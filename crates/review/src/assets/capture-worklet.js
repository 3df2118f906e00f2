// On the audio thread: hands every 128-frame block of its input, mixed to mono, to the capture
// page. A block with no input (a track that ended) is passed on as silence, so both tracks keep
// the same clock and the server's transcript times stay aligned.
class CaptureTap extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    const mono = new Float32Array(128);
    if (input && input.length) {
      for (const channel of input) {
        for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / input.length;
      }
    }
    this.port.postMessage(mono, [mono.buffer]);
    return true;
  }
}
registerProcessor("capture-tap", CaptureTap);
