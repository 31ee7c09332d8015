// Listening: the live list of pages being heard ("Now": channel, caller id, elapsed
// time, one Mute button per channel) and the recent pages, newest first (with their
// recordings when the relay records). Audio goes to the playback worklet through
// PageAudio.
//
// Recent pages come from the relay's page store (GET PAGES_PATH, which outlives the
// relay's restarts), RECENT at a time: "Load more" asks for the older ones the answer's
// `next` names, and a channel filter lists one channel's pages (pages that end while
// the page is open are added as they end, if the filter shows them).
//
// The page's own talk is listed in Now too (the relay marks it `own`), without a Mute
// button: the relay never sends a talker its own voice. Muting is per channel, so two
// pages at once on one channel share the first one's button. On a phone, Now is a bar
// at the bottom of the screen while something is paged (style.css): it shows without
// scrolling, and the Talk button above does not move when it comes and goes.

import { clock } from './talk.js';

export const RECENT = 20; // recent pages asked for at a time

export class PageLists {
  /**
   * @param {import('./audio.js').PageAudio} audio
   * @param {(channel: number) => string} channelLabel
   */
  constructor(audio, channelLabel) {
    this.audio = audio;
    this.channelLabel = channelLabel;
    this.live = new Map(); // page id -> {record, item, elapsed, started, mute}
    this.recent = new Map(); // page id -> {record, item, mark}
    this.marks = 0;
    this.mutedChannels = new Set();
    this.nowSection = document.getElementById('now-section');
    this.liveList = document.getElementById('live-pages');
    this.recentList = document.getElementById('recent-pages');
    this.noLive = document.getElementById('no-live');
    this.noRecent = document.getElementById('no-recent');
    this.moreButton = document.getElementById('recent-more');
    this.channelFilter = null; // a channel number: only its pages are listed
    this.next = null; // where the older pages are (the store's `next`), if any
    // a new session's lists (signed in again): nothing of the last one stays
    this.liveList.replaceChildren();
    this.recentList.replaceChildren();
    this.noRecent.hidden = false;
    this.liveChanged();
  }

  started(record) {
    if (this.live.has(record.id) || !this.hears(record)) return;
    const item = document.createElement('li');
    item.className = 'live';
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = describe(record, this.channelLabel(record.channel));
    const elapsed = document.createElement('span');
    elapsed.className = 'timer';
    elapsed.textContent = '0:00';
    item.append(what, elapsed);
    this.liveList.append(item);
    this.live.set(record.id, { record, item, elapsed, started: performance.now(), mute: null });
    this.liveChanged();
  }

  /** Whether the Hear filter lets `record`'s page through (every site by default). */
  hears(record) {
    const filter = document.getElementById('site-filter').value;
    return !filter || (record.site || this.own) === filter;
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
      this.liveChanged();
    }
    this.audio.end(record.id);
    this.addRecent(record);
  }

  /** The connection dropped: what was live is no longer known. */
  clearLive() {
    for (const [id, entry] of this.live) {
      entry.item.remove();
      this.audio.end(id);
    }
    this.live.clear();
    this.liveChanged();
  }

  /**
   * The relay's newest pages (`GET` PAGES_PATH, wire.js), fetched after the page's
   * events started coming or the filter changed: they replace what was listed, but
   * pages whose end was told since `since` (a `recentMark()`) stay. `next`: the URL of
   * the older ones (null: none).
   */
  setRecent(records, since, next = null) {
    const told = [...this.recent.values()].filter(
      (entry) => entry.mark > since && this.shows(entry.record),
    );
    const known = new Map(this.recent);
    this.recent.clear();
    for (const record of records) this.keep(record, known.get(record.id));
    for (const entry of told) this.keep(entry.record, entry);
    for (const [id, entry] of known) {
      if (this.recent.get(id)?.item !== entry.item) entry.item.remove();
    }
    this.next = next;
    this.showRecent();
  }

  /** Older pages ("Load more"), listed after those shown; `next` as for `setRecent`. */
  addOlder(records, next = null) {
    for (const record of records) this.keep(record, this.recent.get(record.id));
    this.next = next;
    this.showRecent();
  }

  /** Whether the channel filter lists `record`'s page. */
  shows(record) {
    return this.channelFilter === null || record.channel === this.channelFilter;
  }

  /** A mark for `setRecent`: what is told after it is kept. */
  recentMark() {
    this.marks++;
    return this.marks;
  }

  addRecent(record) {
    if (!this.shows(record)) return;
    this.keep(record, this.recent.get(record.id), this.recentMark());
    this.showRecent();
  }

  toggleMute(channel) {
    const muted = !this.mutedChannels.has(channel);
    if (muted) this.mutedChannels.add(channel);
    else this.mutedChannels.delete(channel);
    this.audio.setChannelMuted(channel, muted);
    for (const entry of this.live.values()) {
      entry.mute?.setAttribute('aria-pressed', String(muted));
    }
  }

  /** Update the elapsed times (once a second). */
  tick() {
    for (const entry of this.live.values()) {
      entry.elapsed.textContent = clock((performance.now() - entry.started) / 1000);
    }
  }

  // ---------------------------------------------------------------- internals

  /** One Mute button per channel, on its earliest page; none for the page's own talk. */
  liveChanged() {
    const withButton = new Set();
    for (const entry of this.live.values()) {
      const channel = entry.record.channel;
      const wanted = !entry.record.own && !withButton.has(channel);
      if (wanted) withButton.add(channel);
      if (wanted && entry.mute === null) {
        entry.mute = this.muteButton(channel);
        entry.item.append(entry.mute);
      } else if (!wanted && entry.mute !== null) {
        entry.mute.remove();
        entry.mute = null;
      }
    }
    const empty = this.live.size === 0;
    this.noLive.hidden = !empty;
    this.nowSection.toggleAttribute('data-empty', empty);
    document.body.toggleAttribute('data-live', !empty);
  }

  muteButton(channel) {
    const mute = document.createElement('button');
    mute.type = 'button';
    mute.textContent = `Mute ${this.channelLabel(channel)}`;
    mute.setAttribute('aria-pressed', String(this.mutedChannels.has(channel)));
    mute.addEventListener('click', () => this.toggleMute(channel));
    return mute;
  }

  /** List `record`, reusing `entry`'s item if it shows the same (a player may be playing). */
  keep(record, entry, mark = 0) {
    if (entry && sameRecord(entry.record, record)) {
      this.recent.set(record.id, { ...entry, mark: Math.max(mark, entry.mark) });
      return;
    }
    entry?.item.remove();
    this.recent.set(record.id, { record, item: this.recentItem(record), mark });
  }

  recentItem(record) {
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
      // the header only (a range request): the player shows the length before it plays
      player.preload = 'metadata';
      player.src = record.wav;
      player.setAttribute('aria-label', `Recording of the page from ${record.caller_id}`);
      item.append(player);
    }
    return item;
  }

  /** The pages listed, newest first by start time; items moved only if needed. */
  showRecent() {
    const ordered = [...this.recent.values()].sort(
      (a, b) => startOf(b.record) - startOf(a.record) || b.record.id - a.record.id,
    );
    ordered.forEach((entry, index) => {
      if (this.recentList.children[index] !== entry.item) {
        this.recentList.insertBefore(entry.item, this.recentList.children[index] ?? null);
      }
    });
    this.noRecent.hidden = this.recent.size > 0;
    this.moreButton.hidden = this.next === null;
  }
}

function startOf(record) {
  const time = Date.parse(record.start ?? '');
  return Number.isNaN(time) ? 0 : time;
}

function sameRecord(a, b) {
  return a.start === b.start && a.end === b.end && a.wav === b.wav;
}

function describe(record, channel) {
  let direction = 'heard';
  if (record.own) direction = 'sent by you';
  else if (record.direction === 'sent') direction = 'sent by the relay';
  const site = record.site ? ` · at ${record.site}` : '';
  return `${channel} · ${record.caller_id || 'unknown caller'} · ${direction}${site}`;
}
