// The WebSocket to the relay (WS_PATH, see polyptt/relay/ws.py for the protocol),
// reconnecting by itself when it drops.
//
// Events: 'open', 'message' (detail: the JSON object), 'audio' (detail: {page, frame,
// pcm: ArrayBuffer}), 'close' (detail: {code, reason, retryIn: ms or null, idle}),
// 'connecting' (an attempt starts).
//
// After a drop the attempts back off (0.5 s, 1 s, 2 s ... 15 s, jittered), so that a
// relay that is down is not hammered by every open tab; `retryAt` says when the next
// one is due, and `retryNow()` makes it at once. Meanwhile `/healthz` (no token, no
// WebSocket, a few bytes) is asked about every second: once the relay answers again
// after it did not, the page reconnects at once instead of sitting out the backoff
// (a restarted relay is back for its tabs within about a second). A relay that
// answers /healthz but refuses the WebSocket is not asked again and again: the probe
// only cuts a wait short when it saw the relay down and then up.
//
// The relay closes a connection that neither listens nor talks for its idle_s (code
// IDLE_CLOSE_CODE, reason IDLE_REASON). For a page kept open to talk that is no failure:
// it comes back at once, and says so with `idle`, so that the page need not show a drop.

import {
  AUDIO_HEADER_BYTES,
  AUDIO_HEADER_FIELDS,
  IDLE_CLOSE_CODE,
  IDLE_REASON,
  WS_PATH,
} from './wire.js';

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 15000;
// each probe 0.6-1 s after the last: a restarted relay is seen within a second, and
// many tabs do not all ask at the same moment
const PROBE_MS = 600;
const PROBE_JITTER_MS = 400;

export class Connection extends EventTarget {
  constructor() {
    super();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.url = `${scheme}://${location.host}${WS_PATH}`;
    this.socket = null;
    this.failures = 0;
    this.timer = null;
    this.probeTimer = null;
    this.waits = 0; // counts the waits, so that a probe of an earlier one stops
    this.relayDown = false;
    /** When the next attempt is due (epoch ms), or null when none is waiting. */
    this.retryAt = null;
    this.wanted = false;
  }

  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.wanted = true;
    this.stopWaiting();
    // the session cookie goes with the handshake: no token in the URL
    const socket = new WebSocket(this.url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.dispatchEvent(new Event('connecting'));
    socket.onopen = () => {
      this.failures = 0;
      this.relayDown = false;
      this.dispatchEvent(new Event('open'));
    };
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const idle = event.code === IDLE_CLOSE_CODE && event.reason === IDLE_REASON;
      const retryIn = this.wanted ? this.scheduleRetry(idle) : null;
      const detail = { code: event.code, reason: event.reason, retryIn, idle };
      this.dispatchEvent(new CustomEvent('close', { detail }));
    };
  }

  /** Try again now (the "Retry now" button); the backoff goes on if it fails. */
  retryNow() {
    if (this.wanted && this.socket === null) this.connect();
  }

  /** Stop for good (signing out). */
  close() {
    this.wanted = false;
    this.stopWaiting();
    this.socket?.close(1000, 'signed out');
    this.socket = null;
  }

  send(message) {
    if (this.open) this.socket.send(JSON.stringify(message));
  }

  sendAudio(pcm) {
    if (this.open) this.socket.send(pcm);
  }

  // ---------------------------------------------------------------- internals

  received(data) {
    if (typeof data === 'string') {
      this.dispatchEvent(new CustomEvent('message', { detail: JSON.parse(data) }));
      return;
    }
    // the header's fields (page, frame: unsigned 32-bit big-endian), then the PCM
    const header = new DataView(data, 0, AUDIO_HEADER_BYTES);
    const detail = { pcm: data.slice(AUDIO_HEADER_BYTES) }; // PCM16LE, as browsers' platforms
    AUDIO_HEADER_FIELDS.forEach((field, i) => {
      detail[field] = header.getUint32(4 * i);
    });
    this.dispatchEvent(new CustomEvent('audio', { detail }));
  }

  /** Wait before the next attempt (none after an idle close); the wait in ms. */
  scheduleRetry(idle) {
    let wait = 0;
    if (!idle) {
      // each somewhere in the upper half of its ceiling, so that many pages do not
      // all come back at the same moment after a relay restart
      const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
      wait = Math.round(ceiling * (0.5 + Math.random() / 2));
      this.failures++;
    }
    this.retryAt = Date.now() + wait;
    this.timer = setTimeout(() => this.connect(), wait);
    if (wait > 0) this.probe(this.waits);
    return wait;
  }

  stopWaiting() {
    this.waits++;
    clearTimeout(this.timer);
    clearTimeout(this.probeTimer);
    this.timer = null;
    this.probeTimer = null;
    this.retryAt = null;
  }

  /** Ask /healthz; reconnect at once if the relay answers after it did not. */
  async probe(wait) {
    let up = false;
    try {
      const answer = await fetch('/healthz', { cache: 'no-store', credentials: 'omit' });
      up = answer.ok;
    } catch {
      up = false;
    }
    if (wait !== this.waits) return; // this wait is over (an attempt, or signed out)
    if (up && this.relayDown) {
      this.relayDown = false;
      this.connect();
      return;
    }
    this.relayDown = !up;
    const next = PROBE_MS + Math.random() * PROBE_JITTER_MS;
    this.probeTimer = setTimeout(() => this.probe(wait), next);
  }
}
