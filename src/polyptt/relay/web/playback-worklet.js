// AudioWorklet processor: the pages being heard (PCM16 frames from the relay, at its
// rate: wire.js), each in its own queue, mixed and resampled to the output rate.
//
// Each page waits until PREBUFFER of audio is queued before it plays (a small jitter
// buffer: frames arrive over the network in bursts), then plays its queue back to back,
// so the 20 ms frames join without gaps or clicks. An empty queue plays silence and
// waits for PREBUFFER again; a page whose end has come plays out what it has.
//
// Messages from the page (port):
//   {type: 'audio', page, channel, pcm: ArrayBuffer}   a frame of page `page`
//   {type: 'end', page}                                 no more audio for `page`
//   {type: 'channel', channel, gain}                    0 mutes a channel, 1 plays it
//   {type: 'volume', volume}                            master volume (0..1.5)
//   {type: 'muted', muted}                              silence everything (we talk)
//   {type: 'tap', on}                                   post every output block (tests)

import { Resampler } from './resample.js';
import { RATE } from './wire.js';

const PREBUFFER = 0.08 * RATE; // 80 ms
const MAX_QUEUED = 1.0 * RATE; // further behind than this: drop the oldest audio
const CHUNK = 64; // samples at 16 kHz mixed at a time

class PageQueue {
  constructor(channel) {
    this.channel = channel;
    this.frames = []; // Int16Array each
    this.offset = 0; // samples of frames[0] already played
    this.queued = 0;
    this.playing = false;
    this.ended = false;
  }

  push(frame) {
    this.frames.push(frame);
    this.queued += frame.length;
    while (this.queued - this.frames[0].length + this.offset > MAX_QUEUED) {
      this.queued -= this.frames.shift().length - this.offset;
      this.offset = 0;
    }
  }

  /** Add up to `count` samples times `gain` into `mix`. */
  mixInto(mix, count, gain) {
    if (!this.playing) {
      if (this.queued < PREBUFFER && !this.ended) return;
      this.playing = true;
    }
    let i = 0;
    while (i < count && this.frames.length) {
      const frame = this.frames[0];
      const take = Math.min(count - i, frame.length - this.offset);
      for (let k = 0; k < take; k++) mix[i + k] += (frame[this.offset + k] / 32768) * gain;
      i += take;
      this.offset += take;
      this.queued -= take;
      if (this.offset === frame.length) {
        this.frames.shift();
        this.offset = 0;
      }
    }
    if (i < count && !this.ended) this.playing = false; // underrun: buffer again
  }

  get finished() {
    return this.ended && this.queued === 0;
  }
}

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.pages = new Map();
    this.channelGains = new Map();
    this.volume = 1;
    this.muted = false;
    this.gain = 1; // the gain applied at the end of the last block (ramps avoid clicks)
    this.tap = false;
    this.resampler = new Resampler(RATE, sampleRate);
    this.fifo = new Float32Array(1024); // output-rate samples made but not yet played
    this.fifoLength = 0;
    this.mix = new Float32Array(CHUNK);
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    switch (message.type) {
      case 'audio': {
        let queue = this.pages.get(message.page);
        if (!queue) {
          queue = new PageQueue(message.channel);
          this.pages.set(message.page, queue);
        }
        queue.push(new Int16Array(message.pcm));
        break;
      }
      case 'end': {
        const queue = this.pages.get(message.page);
        if (queue) queue.ended = true;
        break;
      }
      case 'channel':
        this.channelGains.set(message.channel, message.gain);
        break;
      case 'volume':
        this.volume = message.volume;
        break;
      case 'muted':
        this.muted = message.muted;
        break;
      case 'tap':
        this.tap = message.on;
        break;
    }
  }

  /** The next CHUNK samples at 16 kHz: every page's queue, mixed. */
  mixChunk() {
    const mix = this.mix;
    mix.fill(0);
    for (const [id, queue] of this.pages) {
      queue.mixInto(mix, CHUNK, this.channelGains.get(queue.channel) ?? 1);
      if (queue.finished) this.pages.delete(id);
    }
    return mix;
  }

  process(_inputs, outputs) {
    const output = outputs[0];
    const block = output[0].length;
    while (this.fifoLength < block) {
      const samples = this.resampler.process(this.mixChunk());
      if (this.fifoLength + samples.length > this.fifo.length) {
        const bigger = new Float32Array(2 * (this.fifoLength + samples.length));
        bigger.set(this.fifo.subarray(0, this.fifoLength));
        this.fifo = bigger;
      }
      this.fifo.set(samples, this.fifoLength);
      this.fifoLength += samples.length;
    }
    const target = this.muted ? 0 : this.volume;
    const first = output[0];
    for (let i = 0; i < block; i++) {
      const gain = this.gain + ((target - this.gain) * (i + 1)) / block;
      first[i] = Math.max(-1, Math.min(1, this.fifo[i] * gain));
    }
    this.gain = target;
    this.fifo.copyWithin(0, block, this.fifoLength);
    this.fifoLength -= block;
    for (let c = 1; c < output.length; c++) output[c].set(first);
    if (this.tap) this.port.postMessage({ type: 'tap', block: first.slice() });
    return true;
  }
}

registerProcessor('polyptt-playback', PlaybackProcessor);
