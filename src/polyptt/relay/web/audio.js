// The page's audio: one AudioContext at the device's own rate, the playback worklet
// (pages heard) always connected to the speakers, and the microphone through the
// capture worklet while it is open.
//
// Browsers start a context suspended until the user does something (iOS Safari stays
// silent otherwise): `unlock()` is called from the first click, touch or key press.

export class MicrophoneError extends Error {
  /** @param {'insecure'|'denied'|'absent'|'in-use'|'failed'} kind */
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** Whether getUserMedia can exist here: HTTPS or localhost only. */
export function microphoneAvailable() {
  return window.isSecureContext && Boolean(navigator.mediaDevices?.getUserMedia);
}

/** Whether AudioWorklets exist here: also a secure context only. */
export function audioAvailable() {
  return window.isSecureContext && typeof AudioWorkletNode !== 'undefined';
}

export class PageAudio {
  constructor() {
    this.context = null;
    this.playback = null;
    this.capture = null;
    this.stream = null;
    this.source = null;
    this.settings = null; // what the open microphone was opened with
    /** Called with (pcm ArrayBuffer of one wire frame of PCM16, peak 0..1) per frame. */
    this.onframe = () => {};
    /** Called with each output block of the playback worklet while tapped (tests). */
    this.ontap = () => {};
  }

  /** Make the context and load the worklets (once). */
  async start() {
    if (this.context || !audioAvailable()) return;
    this.context = new AudioContext({ latencyHint: 'interactive' });
    await Promise.all([
      this.context.audioWorklet.addModule('/capture-worklet.js'),
      this.context.audioWorklet.addModule('/playback-worklet.js'),
    ]);
    this.playback = new AudioWorkletNode(this.context, 'polyptt-playback', {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    this.playback.port.onmessage = (event) => {
      if (event.data.type === 'tap') this.ontap(event.data.block);
    };
    this.playback.connect(this.context.destination);
  }

  /** True while the context waits for a gesture (false where there is no audio). */
  get locked() {
    return this.context !== null && this.context.state !== 'running';
  }

  /** Resume the context; call it from a user gesture. */
  unlock() {
    if (this.context && this.context.state === 'suspended') return this.context.resume();
    return Promise.resolve();
  }

  /**
   * Open the microphone (asking for permission) unless it is open with these settings.
   * @param {{deviceId: string, processing: boolean}} settings
   * @throws {MicrophoneError}
   */
  async openMicrophone(settings) {
    const wanted = JSON.stringify(settings);
    if (this.stream && this.settings === wanted) return;
    this.closeMicrophone();
    if (!microphoneAvailable()) {
      throw new MicrophoneError('insecure', 'The microphone needs a secure connection.');
    }
    const audio = {
      channelCount: 1,
      echoCancellation: settings.processing,
      noiseSuppression: settings.processing,
      autoGainControl: settings.processing,
    };
    if (settings.deviceId) audio.deviceId = { exact: settings.deviceId };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio });
    } catch (error) {
      throw microphoneError(error);
    }
    await this.start();
    this.stream = stream;
    this.settings = wanted;
    this.source = this.context.createMediaStreamSource(stream);
    this.capture = new AudioWorkletNode(this.context, 'polyptt-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: 'explicit',
    });
    this.capture.port.onmessage = (event) => this.onframe(event.data.pcm, event.data.peak);
    this.source.connect(this.capture);
  }

  get microphoneOpen() {
    return this.stream !== null;
  }

  closeMicrophone() {
    if (this.source) this.source.disconnect();
    if (this.capture) this.capture.port.onmessage = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = this.source = this.capture = this.settings = null;
  }

  /** A frame of page `page` (heard on `channel`) to play. */
  play(page, channel, pcm) {
    this.playback?.port.postMessage({ type: 'audio', page, channel, pcm }, [pcm]);
  }

  end(page) {
    this.playback?.port.postMessage({ type: 'end', page });
  }

  setChannelMuted(channel, muted) {
    this.playback?.port.postMessage({ type: 'channel', channel, gain: muted ? 0 : 1 });
  }

  setVolume(volume) {
    this.playback?.port.postMessage({ type: 'volume', volume });
  }

  /** Silence what is heard (while we talk: the microphone would pick it up). */
  setMuted(muted) {
    this.playback?.port.postMessage({ type: 'muted', muted });
  }

  tap(on) {
    this.playback?.port.postMessage({ type: 'tap', on });
  }
}

function microphoneError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new MicrophoneError(
        'denied',
        'Microphone access was denied. Allow the microphone for this site in the browser ' +
          "settings (the icon next to the address), then press Talk again.",
      );
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new MicrophoneError(
        'absent',
        'No microphone was found. Connect one, or pick another under Microphone.',
      );
    case 'NotReadableError':
    case 'AbortError':
      return new MicrophoneError(
        'in-use',
        'The microphone cannot be opened; another program may be using it.',
      );
    default:
      return new MicrophoneError('failed', `The microphone cannot be opened: ${error?.message ?? error}`);
  }
}
