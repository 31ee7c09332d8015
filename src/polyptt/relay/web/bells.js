// Next bells: the next runs of the relay's bell schedules (name, time on the schedule's
// own clock, channel), for every signed-in token; a token with the `schedule` scope also
// gets each schedule's buttons: Ring now, and Pause or Resume (GET/POST
// /api/v1/schedules, see polyptt.relay.bells.api). The list is read again every
// REFRESH_MS and after every button.

import { SCHEDULES_PATH as SCHEDULES } from './wire.js';

const SHOWN = 5; // next runs listed
const REFRESH_MS = 30_000;

/** `2026-12-07T08:00:00+01:00` as `2026-12-07 08:00`: the schedule's wall clock. */
function wallClock(iso) {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

export class Bells {
  /** @param {(channel: number) => string} channelLabel */
  constructor(channelLabel) {
    this.channelLabel = channelLabel;
    this.section = document.getElementById('bells-section');
    this.list = document.getElementById('next-bells');
    this.none = document.getElementById('no-bells');
    this.controls = document.getElementById('bell-controls');
    this.state = document.getElementById('bells-state');
    this.timer = null;
    this.may = false;
  }

  /** Show the panel for `session` and keep it fresh. */
  async show(session) {
    this.may = session.scopes.includes('schedule');
    clearInterval(this.timer);
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    await this.load();
  }

  hide() {
    clearInterval(this.timer);
    this.section.hidden = true;
  }

  async load() {
    const answer = await fetch(`${SCHEDULES}?count=${SHOWN}`, { credentials: 'same-origin' })
      .catch(() => null);
    if (answer === null || !answer.ok) return;
    const { schedules, next } = await answer.json();
    this.section.hidden = schedules.length === 0;
    this.list.replaceChildren(...next.map((run) => this.runItem(run)));
    this.none.hidden = next.length > 0;
    this.controls.hidden = !this.may;
    if (this.may) this.controls.replaceChildren(...schedules.map((s) => this.controlItem(s)));
  }

  runItem(run) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'what';
    name.textContent = run.name;
    const when = document.createElement('time');
    when.dateTime = run.due;
    when.textContent = wallClock(run.due);
    const where = document.createElement('span');
    where.textContent = `${this.channelLabel(run.channel)} (${run.channel})`;
    item.append(name, ' ', when, ' ', where);
    return item;
  }

  controlItem(schedule) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'what';
    name.textContent = schedule.paused ? `${schedule.name} (paused)` : schedule.name;
    const ring = this.button(`Ring ${schedule.name} now`, 'Ring now', schedule.name, 'ring');
    const toggle = schedule.paused
      ? this.button(`Resume ${schedule.name}`, 'Resume', schedule.name, 'resume')
      : this.button(`Pause ${schedule.name}`, 'Pause', schedule.name, 'pause');
    item.append(name, ' ', ring, ' ', toggle);
    return item;
  }

  button(label, text, name, action) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = text;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', () => this.act(name, action));
    return button;
  }

  async act(name, action) {
    const path = `${SCHEDULES}/${encodeURIComponent(name)}/${action}`;
    const answer = await fetch(path, { method: 'POST', credentials: 'same-origin' })
      .catch(() => null);
    if (answer === null) {
      this.state.textContent = 'The relay could not be reached.';
      return;
    }
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) this.state.textContent = `${name}: ${body.error ?? answer.status}`;
    else if (action === 'ring') this.state.textContent = `Rang ${name} (page ${body.page}).`;
    else this.state.textContent = `${name} ${action === 'pause' ? 'paused' : 'resumed'}.`;
    await this.load();
  }
}
