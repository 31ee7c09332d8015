// AudioWorklet processor: the microphone at the context's own rate -> PCM16 at the
// relay's rate in the relay's frames (wire.js), posted to the page with each frame's
// peak level.
//
// The page sends the frames to the relay as they are; between talks it only uses the
// level (the meter). Runs on the audio rendering thread: no DOM, and as little
// allocation per block as the transfer of each frame allows.

import { Resampler } from './resample.js';
import { FRAME_SAMPLES as FRAME, RATE } from './wire.js';

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the context's rate, a global of the worklet scope
    this.resampler = new Resampler(sampleRate, RATE);
    this.frame = new Int16Array(FRAME);
    this.filled = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // no microphone connected (yet)
    let mono = channels[0];
    if (channels.length > 1) {
      mono = new Float32Array(mono.length);
      for (const channel of channels) {
        for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
      }
    }
    const samples = this.resampler.process(mono);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      this.frame[this.filled++] = Math.round(s * 32767);
      const magnitude = Math.abs(s);
      if (magnitude > this.peak) this.peak = magnitude;
      if (this.filled === FRAME) {
        // the buffer is transferred, not copied: a new one for the next frame
        this.port.postMessage({ pcm: this.frame.buffer, peak: this.peak }, [this.frame.buffer]);
        this.frame = new Int16Array(FRAME);
        this.filled = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor('polyptt-capture', CaptureProcessor);
