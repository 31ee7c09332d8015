// Talking: the hold-to-talk state machine between the Talk button, the microphone and
// the relay's talk / talking / busy / stop / stopped messages.
//
//   idle -> opening (the microphone; permission is asked here, before any alert)
//        -> waiting (talk sent) -> alerting (the relay sends the 31 alerts, ~0.93 s)
//        -> talking -> stopping -> idle
//   waiting -> busy (someone else has the channel) | idle (refused)
//
// Audio captured while waiting for the relay's answer is kept and sent once it says
// `talking`, so the first word is never lost; the relay holds it during the alerts.

import { ALERTS_MS, ERROR, FRAME_MS, LIVE_CODEC, MESSAGE } from './wire.js';

const MAX_PENDING = 100; // frames kept while waiting for `talking` (2 s)

export class Talker extends EventTarget {
  /**
   * @param {import('./audio.js').PageAudio} audio
   * @param {import('./connection.js').Connection} connection
   */
  constructor(audio, connection) {
    super();
    this.audio = audio;
    this.connection = connection;
    this.state = 'idle';
    this.detail = '';
    this.held = false;
    this.latched = false;
    this.stopWanted = false;
    this.pending = [];
    this.startedAt = 0;
    this.alertTimer = null;
    /** Called with (pcm, peak) for every frame sent to the relay (benchmarks). */
    this.onsent = null;
  }

  get active() {
    return ['opening', 'waiting', 'alerting', 'talking', 'stopping'].includes(this.state);
  }

  set(state, detail = '') {
    this.state = state;
    this.detail = detail;
    this.audio.setMuted(['waiting', 'alerting', 'talking'].includes(state));
    this.dispatchEvent(new Event('change'));
  }

  fail(message) {
    this.dispatchEvent(new CustomEvent('failure', { detail: message }));
  }

  /**
   * Talk button pressed.
   * @param {{channel: number, target: string, latched: boolean, microphone: object,
   *          confirm: (() => Promise<boolean>) | null}} request
   */
  async press(request) {
    if (this.latched && this.active) {
      this.latched = false;
      this.release();
      return;
    }
    if (this.active) return;
    this.held = true;
    this.latched = request.latched;
    this.stopWanted = false;
    this.fail('');
    if (request.confirm) {
      const confirmed = await request.confirm();
      if (!confirmed) return;
      this.latched = true; // the hold was interrupted by the question: stop with Talk
    }
    this.set('opening', 'Opening the microphone…');
    try {
      await this.audio.openMicrophone(request.microphone);
      await this.audio.unlock();
    } catch (error) {
      this.set('idle');
      this.fail(error.message);
      return;
    }
    if (!this.held && !this.latched) {
      this.set('idle'); // let go before the microphone was open: no page
      return;
    }
    if (!this.connection.open) {
      this.set('idle');
      this.fail('Not connected to the relay; wait for it to reconnect.');
      return;
    }
    this.pending = [];
    const message = { type: MESSAGE.TALK, channel: request.channel, codec: LIVE_CODEC };
    if (request.target) message.target = request.target;
    if (request.sites) message.sites = request.sites;
    this.connection.send(message);
    this.set('waiting', 'Starting…');
  }

  /** Talk button let go (ignored when latched: the next press stops). */
  release() {
    this.held = false;
    if (this.latched) return;
    if (this.state === 'waiting') this.stopWanted = true;
    else if (this.state === 'alerting' || this.state === 'talking') this.stop();
  }

  stop() {
    this.connection.send({ type: MESSAGE.STOP });
    clearTimeout(this.alertTimer);
    this.set('stopping', 'Ending the page…');
  }

  /** A 20 ms frame from the microphone. */
  frame(pcm, peak) {
    if (this.state === 'waiting') {
      if (this.pending.length < MAX_PENDING) this.pending.push([pcm, peak]);
    } else if (this.state === 'alerting' || this.state === 'talking') {
      this.send(pcm, peak);
    }
  }

  send(pcm, peak) {
    this.onsent?.(pcm, peak);
    this.connection.sendAudio(pcm);
  }

  /** A JSON message from the relay; true if it was about talking. */
  message(message) {
    switch (message.type) {
      case MESSAGE.TALKING:
        if (this.state !== 'waiting') return true;
        for (const [pcm, peak] of this.pending) this.send(pcm, peak);
        this.pending = [];
        this.startedAt = performance.now();
        this.set('alerting', 'Alerting…');
        this.alertTimer = setTimeout(() => {
          if (this.state === 'alerting') this.set('talking', 'Talking');
        }, ALERTS_MS);
        if (this.stopWanted) this.stop();
        return true;
      case MESSAGE.BUSY:
        if (this.state === 'waiting') {
          this.latched = false;
          this.set('busy', `Busy: ${message.message}`);
        }
        return true;
      case MESSAGE.STOPPED: {
        clearTimeout(this.alertTimer);
        this.latched = false;
        const seconds = Math.round((message.frames * FRAME_MS) / 1000);
        const why = message.reason === 'limit' ? ' (the longest page the relay allows)' : '';
        this.set('idle', `Idle. Last page: ${clock(seconds)}${why}.`);
        return true;
      }
      case MESSAGE.ERROR:
        if (this.state === 'waiting') {
          this.latched = false;
          this.set('idle');
          const prefix = message.code === ERROR.FORBIDDEN ? 'Not allowed' : 'Refused';
          this.fail(`${prefix}: ${message.message}`);
          return true;
        }
        return message.code === ERROR.NOT_TALKING || message.code === ERROR.TOO_FAST;
      default:
        return false;
    }
  }

  /** The connection dropped: the relay ended our page with its end packets. */
  disconnected() {
    if (!this.active) return;
    clearTimeout(this.alertTimer);
    this.latched = false;
    this.held = false;
    this.set('idle');
    this.fail('The connection dropped, so the page was ended.');
  }

  /** Elapsed talking time as m:ss, or '' when not talking. */
  get elapsed() {
    if (this.state !== 'alerting' && this.state !== 'talking') return '';
    return clock(Math.floor((performance.now() - this.startedAt) / 1000));
  }
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
