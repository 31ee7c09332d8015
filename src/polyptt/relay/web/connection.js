// The WebSocket to the relay (see polyptt/relay/ws.py for the protocol), reconnecting by
// itself with exponential backoff and jitter when it drops.
//
// Events: 'open', 'message' (detail: the JSON object), 'audio' (detail: {page, frame,
// pcm: ArrayBuffer}), 'close' (detail: {code, reason, retryIn: ms or null, idle}).
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

export class Connection extends EventTarget {
  constructor() {
    super();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.url = `${scheme}://${location.host}${WS_PATH}`;
    this.socket = null;
    this.failures = 0;
    this.timer = null;
    this.wanted = false;
  }

  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.wanted = true;
    clearTimeout(this.timer);
    // the session cookie goes with the handshake: no token in the URL
    const socket = new WebSocket(this.url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.dispatchEvent(new Event('open'));
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') {
        this.dispatchEvent(new CustomEvent('message', { detail: JSON.parse(event.data) }));
        return;
      }
      // the header's fields (page, frame: unsigned 32-bit big-endian), then the PCM
      const header = new DataView(event.data, 0, AUDIO_HEADER_BYTES);
      const detail = { pcm: event.data.slice(AUDIO_HEADER_BYTES) }; // PCM16LE, as browsers' platforms
      AUDIO_HEADER_FIELDS.forEach((field, i) => {
        detail[field] = header.getUint32(4 * i);
      });
      this.dispatchEvent(new CustomEvent('audio', { detail }));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      let retryIn = null;
      const idle = event.code === IDLE_CLOSE_CODE && event.reason === IDLE_REASON;
      if (this.wanted) {
        if (idle) {
          retryIn = 0;
        } else {
          // 0.5 s, 1 s, 2 s ... 15 s, each somewhere in its upper half so that many
          // pages do not all come back at the same moment after a relay restart
          const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
          retryIn = Math.round(ceiling * (0.5 + Math.random() / 2));
          this.failures++;
        }
        this.timer = setTimeout(() => this.connect(), retryIn);
      }
      const detail = { code: event.code, reason: event.reason, retryIn, idle };
      this.dispatchEvent(new CustomEvent('close', { detail }));
    };
  }

  /** Stop for good (signing out). */
  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'signed out');
    this.socket = null;
  }

  send(message) {
    if (this.open) this.socket.send(JSON.stringify(message));
  }

  sendAudio(pcm) {
    if (this.open) this.socket.send(pcm);
  }
}
