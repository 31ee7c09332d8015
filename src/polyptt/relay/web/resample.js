// Streaming sample-rate conversion with a proper low-pass: a windowed-sinc FIR (Kaiser
// window) applied as a polyphase filter between two whole-number rates.
//
// Used on both sides of the page: the capture worklet takes the microphone from the
// browser's own rate down to the 16 kHz the relay wants (Firefox refuses to connect a
// microphone to a context running at another rate, so the context cannot simply be made
// 16 kHz), and the playback worklet takes the relay's 16 kHz up to the output rate.
// Decimating without a low-pass would fold everything above 8 kHz back into the voice
// band; the filter here passes up to about 6.9 kHz (G.722's band is 7 kHz) and stops
// from 7.9 kHz by about 80 dB.
//
// Pure JavaScript with no DOM: it runs in an AudioWorkletGlobalScope, and the tests
// import it in a page to check its response.

/** Modified Bessel function of the first kind, order 0 (the Kaiser window needs it). */
function besselI0(x) {
  const quarterSquare = (x * x) / 4;
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 64; k++) {
    term *= quarterSquare / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class Resampler {
  /**
   * @param {number} inRate input sample rate (Hz, a whole number)
   * @param {number} outRate output sample rate (Hz, a whole number)
   * @param {object} [options]
   * @param {number} [options.cutoff] -6 dB point in Hz (default 92.5 % of the lower
   *   rate's Nyquist frequency: 7.4 kHz between 16 kHz and anything higher)
   * @param {number} [options.halfWidth] half the filter's length in seconds; the
   *   transition band is about 2.5 / halfWidth Hz wide (1 kHz by default)
   * @param {number} [options.beta] Kaiser window shape (8: about 80 dB stop band)
   */
  constructor(inRate, outRate, { cutoff, halfWidth = 0.0025, beta = 8 } = {}) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`rates must be positive whole numbers: ${inRate}, ${outRate}`);
    }
    const divisor = gcd(inRate, outRate);
    // The output's position on the input's time line moves `down` / `up` input samples
    // per output sample: `up` distinct fractional positions (phases), each its own
    // set of taps, computed once.
    this.up = outRate / divisor;
    this.down = inRate / divisor;
    const half = Math.max(1, Math.ceil(halfWidth * inRate));
    this.half = half;
    this.taps = 2 * half;
    const fc = (cutoff ?? 0.4625 * Math.min(inRate, outRate)) / inRate; // cycles per input sample
    const norm = besselI0(beta);
    this.table = new Float32Array(this.up * this.taps);
    for (let phase = 0; phase < this.up; phase++) {
      const frac = phase / this.up;
      let sum = 0;
      for (let j = 0; j < this.taps; j++) {
        const t = half - 1 - j + frac; // distance from the output point to tap j, in input samples
        const x = t / half;
        const window = Math.abs(x) < 1 ? besselI0(beta * Math.sqrt(1 - x * x)) / norm : 0;
        const arg = 2 * fc * t;
        const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
        const h = 2 * fc * sinc * window;
        this.table[phase * this.taps + j] = h;
        sum += h;
      }
      for (let j = 0; j < this.taps; j++) this.table[phase * this.taps + j] /= sum; // unity gain at DC
    }
    // Input not yet used up. It starts with half - 1 zeros, so that the first output
    // sample sits on the first input sample with a full set of taps.
    this.buffer = new Float32Array(Math.max(4096, 4 * this.taps));
    this.length = half - 1;
    this.index = half - 1; // buffer index of the next output's input sample...
    this.phase = 0; // ...and its fractional part, in units of 1 / up
  }

  /** The filter's delay in output samples (its group delay). */
  get delay() {
    return ((this.half - 1) * this.up) / this.down;
  }

  /**
   * Feed input samples; returns the output samples they complete.
   * @param {Float32Array} input
   * @returns {Float32Array}
   */
  process(input) {
    if (this.length + input.length > this.buffer.length) {
      const bigger = new Float32Array(2 * (this.length + input.length));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;
    const { buffer, table, taps, half, up, down } = this;
    const most = Math.ceil(((this.length - this.index) * up) / down) + 1;
    const output = new Float32Array(Math.max(0, most));
    let produced = 0;
    let index = this.index;
    let phase = this.phase;
    while (index + half < this.length) {
      const base = index - half + 1;
      const row = phase * taps;
      let acc = 0;
      for (let j = 0; j < taps; j++) acc += buffer[base + j] * table[row + j];
      output[produced++] = acc;
      phase += down;
      index += Math.floor(phase / up);
      phase %= up;
    }
    // keep only what the next outputs still need
    const drop = Math.min(index - half + 1, this.length);
    if (drop > 0) {
      buffer.copyWithin(0, drop, this.length);
      this.length -= drop;
      index -= drop;
    }
    this.index = index;
    this.phase = phase;
    return output.subarray(0, produced);
  }
}
