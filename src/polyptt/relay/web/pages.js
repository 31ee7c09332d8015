// Listening: the live list of pages being heard (channel, caller id, elapsed time, a
// mute button per channel) and the recent pages (with their recordings when the relay
// records). Audio goes to the playback worklet through PageAudio.

import { clock } from './talk.js';

export class PageLists {
  /**
   * @param {import('./audio.js').PageAudio} audio
   * @param {(channel: number) => string} channelLabel
   */
  constructor(audio, channelLabel) {
    this.audio = audio;
    this.channelLabel = channelLabel;
    this.live = new Map(); // page id -> {record, item, started}
    this.mutedChannels = new Set();
    this.liveList = document.getElementById('live-pages');
    this.recentList = document.getElementById('recent-pages');
    this.noLive = document.getElementById('no-live');
    this.noRecent = document.getElementById('no-recent');
  }

  started(record) {
    if (this.live.has(record.id)) return;
    const item = document.createElement('li');
    item.className = 'live';
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = describe(record, this.channelLabel(record.channel));
    const elapsed = document.createElement('span');
    elapsed.className = 'timer';
    elapsed.textContent = '0:00';
    const mute = document.createElement('button');
    mute.type = 'button';
    mute.textContent = `Mute ${this.channelLabel(record.channel)}`;
    mute.dataset.channel = String(record.channel);
    mute.setAttribute('aria-pressed', String(this.mutedChannels.has(record.channel)));
    mute.addEventListener('click', () => this.toggleMute(record.channel));
    item.append(what, elapsed, mute);
    this.liveList.append(item);
    this.live.set(record.id, { record, item, elapsed, started: performance.now() });
    this.noLive.hidden = true;
  }

  audioFrame({ page, pcm }) {
    const entry = this.live.get(page);
    if (entry) this.audio.play(page, entry.record.channel, pcm);
  }

  ended(record) {
    const entry = this.live.get(record.id);
    if (entry) {
      entry.item.remove();
      this.live.delete(record.id);
    }
    this.audio.end(record.id);
    this.noLive.hidden = this.live.size > 0;
    this.addRecent(record, true);
  }

  /** The connection dropped: what was live is no longer known. */
  clearLive() {
    for (const [id, entry] of this.live) {
      entry.item.remove();
      this.audio.end(id);
    }
    this.live.clear();
    this.noLive.hidden = false;
  }

  setRecent(records) {
    this.recentList.replaceChildren();
    for (const record of records.slice(0, 20).reverse()) this.addRecent(record, true);
    this.noRecent.hidden = this.recentList.children.length > 0;
  }

  addRecent(record, first) {
    const item = document.createElement('li');
    const what = document.createElement('span');
    what.className = 'what';
    const when = record.start ? new Date(record.start).toLocaleTimeString() : '';
    const length = record.duration_s != null ? ` · ${clock(record.duration_s)}` : '';
    what.textContent = `${when} · ${describe(record, this.channelLabel(record.channel))}${length}`;
    item.append(what);
    if (record.wav) {
      const player = document.createElement('audio');
      player.controls = true;
      player.preload = 'none';
      player.src = record.wav;
      player.setAttribute('aria-label', `Recording of the page from ${record.caller_id}`);
      item.append(player);
    }
    if (first) this.recentList.prepend(item);
    else this.recentList.append(item);
    while (this.recentList.children.length > 20) this.recentList.lastElementChild.remove();
    this.noRecent.hidden = true;
  }

  toggleMute(channel) {
    const muted = !this.mutedChannels.has(channel);
    if (muted) this.mutedChannels.add(channel);
    else this.mutedChannels.delete(channel);
    this.audio.setChannelMuted(channel, muted);
    for (const button of this.liveList.querySelectorAll(`button[data-channel="${channel}"]`)) {
      button.setAttribute('aria-pressed', String(muted));
    }
  }

  /** Update the elapsed times (once a second). */
  tick() {
    for (const entry of this.live.values()) {
      entry.elapsed.textContent = clock((performance.now() - entry.started) / 1000);
    }
  }
}

function describe(record, channel) {
  const direction = record.direction === 'sent' ? 'sent by the relay' : 'heard';
  return `${channel} · ${record.caller_id || 'unknown caller'} · ${direction}`;
}
