// The relay's web page: sign in, talk (hold the Talk button or Space), listen.
//
// Modules, one concern each: connection.js (the WebSocket, reconnecting), audio.js
// (AudioContext, microphone, worklets), talk.js (the talk state machine), pages.js
// (the lists of pages heard), resample.js (used by both worklets). This one wires
// them to the document. Nothing here is inline in the HTML: the Content-Security-Policy
// allows scripts from the relay's own files only. wire.js is made by the relay: its
// paths, message types and audio format.

import { PageAudio, microphoneAvailable } from './audio.js';
import { Bells } from './bells.js';
import { Connection } from './connection.js';
import { PageLists, RECENT } from './pages.js';
import { Talker } from './talk.js';
import { ERROR, MESSAGE, PAGES_PATH, SESSION_PATH } from './wire.js';

const $ = (id) => document.getElementById(id);

const audio = new PageAudio();
const connection = new Connection();
const talker = new Talker(audio, connection);
let me = null; // the session: {name, scopes, channels, talk_channels, urgent, targets, ...}
let lists = null;
const bells = new Bells(channelLabel);

/**
 * Hooks for the browser tests and benchmarks/web.py: inert until used. `sent` (when an
 * array) collects [epoch ms, peak] per frame sent; `pressed` the epoch ms of the last
 * Talk press; `startTap()` collects the playback worklet's output blocks in `tapped`.
 */
export const probe = {
  sent: null,
  pressed: null,
  tapped: null,
  sampleRate: () => audio.context?.sampleRate,
  startTap() {
    probe.tapped = [];
    audio.ontap = (block) => probe.tapped.push(block);
    audio.tap(true);
  },
};

function now() {
  return performance.timeOrigin + performance.now();
}

// ------------------------------------------------------------------ sign in / out

async function fetchSession() {
  const answer = await fetch(SESSION_PATH, { credentials: 'same-origin' });
  if (answer.status === 401) return null;
  if (!answer.ok) throw new Error(`the relay answered ${answer.status}`);
  return answer.json();
}

async function signIn(event) {
  event.preventDefault();
  const field = $('token');
  const error = $('sign-in-error');
  error.textContent = '';
  let answer;
  try {
    answer = await fetch(SESSION_PATH, {
      method: 'POST',
      headers: { Authorization: `Bearer ${field.value.trim()}` },
      credentials: 'same-origin',
    });
  } catch {
    error.textContent = 'The relay cannot be reached.';
    return;
  }
  if (answer.status === 401) {
    error.textContent = 'This token was refused. Check it and try again.';
    field.select();
    return;
  }
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    error.textContent = body.error ?? `Sign-in failed (${answer.status}).`;
    return;
  }
  field.value = '';
  await enter(await fetchSession());
}

async function signOut(message = '') {
  connection.close();
  audio.closeMicrophone();
  await fetch('/signout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
  me = null;
  showSignIn(message);
}

function showSignIn(message = '') {
  lists?.clearLive();
  bells.hide();
  for (const id of ['talk-section', 'now-section', 'listen-section', 'who', 'sign-out']) {
    $(id).hidden = true;
  }
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  showConnection(null);
  $('token').focus();
}

// ------------------------------------------------------------------ signed in

function channelLabel(channel) {
  const name = me?.channels?.[String(channel)];
  if (name) return name;
  return channel > 25 ? `Paging group ${channel - 25}` : `PTT channel ${channel}`;
}

async function enter(session) {
  me = session;
  $('talk-error').textContent = '';
  $('sign-in').hidden = true;
  $('who-name').textContent = `Signed in as ${me.name}`;
  $('who').hidden = false;
  $('sign-out').hidden = false;
  const mayTalk = me.talk_channels.length > 0;
  const mayListen = me.scopes.includes('listen');
  $('talk-section').hidden = false;
  $('now-section').hidden = !mayListen;
  $('listen-section').hidden = !mayListen;
  fillPickers();
  fillRecentChannels();
  $('talk').disabled = !mayTalk || !microphoneAvailable();
  $('say-button').disabled = !mayTalk;
  if (!mayTalk) $('talk-error').textContent = 'Not allowed: this token may not talk.';
  lists = new PageLists(audio, channelLabel);
  bells.show(me);
  lists.own = me.sites?.own; // the site of pages without one (this relay's)
  showConnection('connecting');
  connection.connect();
  try {
    await audio.start();
  } catch (error) {
    $('talk-error').textContent = `Audio cannot start in this browser: ${error.message}`;
  }
  $('sound-locked').hidden = !audio.locked;
}

function fillPickers() {
  const channels = $('channel');
  channels.replaceChildren();
  // named channels first, in the configuration's order, then the others by number
  const named = me.talk_channels.filter((c) => me.channels[String(c)]);
  const others = me.talk_channels.filter((c) => !me.channels[String(c)]);
  for (const channel of [...named, ...others]) {
    const urgent = me.urgent[String(channel)];
    const option = new Option(
      `${channelLabel(channel)} (${channel})${urgent ? ` (${urgent})` : ''}`,
      String(channel),
    );
    channels.append(option);
  }
  if (!named.length && me.talk_channels.includes(26)) channels.value = '26';
  const targets = $('target');
  targets.replaceChildren(new Option('Whole group', ''));
  for (const target of me.targets) targets.append(new Option(target, target));
  targets.disabled = me.targets.length === 0;
  showSites(me.sites);
}

/** The site pickers, with [nats] (`sites` in the session): where a page goes (this
 * site, one other the token may page, or all) and which site's pages are heard. */
function showSites(sites) {
  const picker = $('sites');
  const filter = $('site-filter');
  const labels = document.querySelectorAll('label[for=sites], label[for=site-filter]');
  for (const element of [picker, filter, ...labels]) element.hidden = !sites;
  if (!sites) return;
  picker.replaceChildren(new Option(`This site (${sites.own})`, ''));
  for (const site of sites.may) picker.append(new Option(site, site));
  if (sites.all) picker.append(new Option('All sites', 'all'));
  filter.replaceChildren(new Option('Every site', ''));
  filter.append(new Option(`This site (${sites.own})`, sites.own));
  for (const site of sites.known) filter.append(new Option(site, site));
}

/** The recent-pages filter: every channel, then the named ones, then the others. */
function fillRecentChannels() {
  const picker = $('recent-channel');
  picker.replaceChildren(new Option('All channels', ''));
  const named = Object.keys(me.channels).map(Number);
  const others = [];
  for (let channel = 1; channel <= 50; channel++) {
    if (!named.includes(channel)) others.push(channel);
  }
  for (const channel of [...named, ...others]) {
    picker.append(new Option(`${channelLabel(channel)} (${channel})`, String(channel)));
  }
}

/**
 * The newest recent pages from the relay's store (at each connection, and when the
 * filter changes): what ended while the page was away is listed too.
 */
async function loadRecent() {
  const pages = lists;
  const since = pages.recentMark();
  const query = new URLSearchParams({ limit: String(RECENT) });
  if (pages.channelFilter !== null) query.set('channel', String(pages.channelFilter));
  const answer = await fetch(`${PAGES_PATH}?${query}`, { credentials: 'same-origin' }).catch(
    () => null,
  );
  if (!answer?.ok || lists !== pages) return;
  const { pages: records, next } = await answer.json();
  if (lists === pages) pages.setRecent(records, since, next ?? null);
}

/** "Load more": the next older pages the store has. */
async function loadMore() {
  const pages = lists;
  if (pages?.next == null) return;
  const button = $('recent-more');
  button.disabled = true;
  try {
    const answer = await fetch(pages.next, { credentials: 'same-origin' }).catch(() => null);
    if (!answer?.ok || lists !== pages) return;
    const { pages: records, next } = await answer.json();
    if (lists === pages) pages.addOlder(records, next ?? null);
  } finally {
    button.disabled = false;
  }
}

$('recent-more').addEventListener('click', loadMore);
$('recent-channel').addEventListener('change', (event) => {
  if (!lists) return;
  const value = event.target.value;
  lists.channelFilter = value === '' ? null : Number(value);
  lists.setRecent([], lists.recentMark()); // nothing of the other filter stays
  loadRecent();
});

async function fillMicrophones() {
  if (!microphoneAvailable()) return;
  const picker = $('microphone');
  const chosen = picker.value;
  const devices = await navigator.mediaDevices.enumerateDevices();
  picker.replaceChildren(new Option('Default microphone', ''));
  let number = 1;
  for (const device of devices) {
    if (device.kind !== 'audioinput' || device.deviceId === 'default') continue;
    picker.append(new Option(device.label || `Microphone ${number}`, device.deviceId));
    number++;
  }
  picker.value = chosen;
  if (picker.value !== chosen) picker.value = '';
}

// ------------------------------------------------------------------ the connection

/**
 * The connection line: `state` 'connecting', 'up', 'down' (with the countdown to the
 * next attempt and a Retry now button), 'unreachable' (at load) or null (signed out).
 */
function showConnection(state) {
  const line = $('connection-line');
  const texts = {
    connecting: 'Connecting…',
    up: 'Connected.',
    down: 'Disconnected from the relay.',
    unreachable: 'The relay cannot be reached; reload the page to try again.',
  };
  if (state === null) delete line.dataset.state;
  else line.dataset.state = state;
  const text = texts[state] ?? '';
  if ($('connection').textContent !== text) $('connection').textContent = text;
  showCountdown();
}

/** "Reconnecting in 3 s…", counting down, while the connection is down. */
function showCountdown() {
  const down = $('connection-line').dataset.state === 'down';
  const at = connection.retryAt;
  let text = '';
  if (down && at === null) text = 'Reconnecting…';
  else if (down) text = `Reconnecting in ${Math.max(1, Math.ceil((at - Date.now()) / 1000))} s…`;
  if ($('reconnect').textContent !== text) $('reconnect').textContent = text;
  $('retry').hidden = !down || at === null;
}

connection.addEventListener('connecting', showCountdown);

connection.addEventListener('open', () => {
  showConnection('up');
  if (me?.scopes.includes('listen')) {
    connection.send({ type: MESSAGE.LISTEN });
    loadRecent();
  }
});

connection.addEventListener('close', async (event) => {
  const { retryIn, idle } = event.detail;
  if (idle && retryIn !== null && !talker.active) return; // a quiet tab's, back at once
  talker.disconnected();
  lists?.clearLive();
  if (retryIn === null) return;
  showConnection('down');
  // A refused handshake looks like any drop from here: ask whether the session lives.
  try {
    if ((await fetchSession()) === null) signOut('Your session has ended: sign in again.');
  } catch {
    // the relay is down: keep trying
  }
});

connection.addEventListener('message', (event) => {
  const message = event.detail;
  if (talker.message(message)) return;
  switch (message.type) {
    case MESSAGE.PAGE_START:
      lists?.started(message);
      break;
    case MESSAGE.PAGE_END:
      lists?.ended(message);
      break;
    case MESSAGE.ERROR:
      $('talk-error').textContent =
        message.code === ERROR.FORBIDDEN ? `Not allowed: ${message.message}` : message.message;
      break;
  }
});

connection.addEventListener('audio', (event) => lists?.audioFrame(event.detail));

// ------------------------------------------------------------------ talking

const talkButton = $('talk');

function showTalkState() {
  const state = talker.state;
  talkButton.dataset.state = state;
  $('talk-state').textContent = talker.detail || 'Idle';
  $('talk-timer').textContent = talker.elapsed;
  talkButton.setAttribute('aria-pressed', String(talker.active));
}

talker.addEventListener('change', showTalkState);
let labelled = false;
talker.addEventListener('change', () => {
  // device names are only given once the microphone was allowed
  if (talker.state === 'waiting' && !labelled) {
    labelled = true;
    fillMicrophones();
  }
});
talker.addEventListener('failure', (event) => {
  $('talk-error').textContent = event.detail;
});
talker.onsent = (_pcm, peak) => probe.sent?.push([now(), peak]);

async function confirmUrgent(channel) {
  const dialog = $('confirm');
  const kind = me.urgent[String(channel)];
  $('confirm-title').textContent = kind === 'emergency' ? 'Emergency page' : 'Priority page';
  $('confirm-text').textContent =
    `${channelLabel(channel)} (${channel}) is a${kind === 'emergency' ? 'n' : ''} ${kind} ` +
    'channel: phones play it over calls and over other pages. Page it now? ' +
    'Once it starts, press Talk again to end it.';
  dialog.returnValue = '';
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener('close', resolve, { once: true }));
  return dialog.returnValue === 'confirm';
}

function pressTalk(latched = $('latch').checked) {
  if (talkButton.disabled || $('confirm').open) return;
  probe.pressed = now();
  const channel = Number($('channel').value);
  talker.press({
    channel,
    target: $('target').value,
    sites: $('sites').value,
    latched,
    microphone: { deviceId: $('microphone').value, processing: $('processing').checked },
    confirm: me.urgent[String(channel)] && !talker.active ? () => confirmUrgent(channel) : null,
  });
}

talkButton.addEventListener('pointerdown', (event) => {
  if (event.button !== 0) return;
  talkButton.setPointerCapture(event.pointerId); // the release is ours even off the button
  pressTalk();
});
talkButton.addEventListener('pointerup', () => talker.release());
talkButton.addEventListener('pointercancel', () => talker.release());
talkButton.addEventListener('contextmenu', (event) => event.preventDefault()); // long press
talkButton.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.repeat) {
    // Enter toggles (a latched talk): a key that cannot be held comfortably
    event.preventDefault();
    if (talker.active) {
      talker.latched = false;
      talker.release();
    } else {
      pressTalk(true);
    }
  }
});

/** Space held talks when the focus is on the Talk button or on nothing that uses Space. */
function spaceTalks(event) {
  if (event.code !== 'Space' || me === null || $('talk-section').hidden) return false;
  const focus = document.activeElement;
  return focus === talkButton || focus === document.body || focus === null;
}

document.addEventListener('keydown', (event) => {
  if (!spaceTalks(event)) return;
  event.preventDefault(); // no scrolling, no click of the focused button
  if (!event.repeat) pressTalk();
});
document.addEventListener('keyup', (event) => {
  if (!spaceTalks(event)) return;
  event.preventDefault();
  talker.release();
});

setInterval(() => {
  $('talk-timer').textContent = talker.elapsed;
  lists?.tick();
  showCountdown();
}, 250);

// The level meter follows the microphone between talks too (is it picking me up?).
let peak = 0;
audio.onframe = (pcm, framePeak) => {
  peak = Math.max(framePeak, peak * 0.85);
  talker.frame(pcm, framePeak);
};
(function meter() {
  $('level').value = peak;
  requestAnimationFrame(meter);
})();

// A new microphone or processing choice takes effect at the next talk.
for (const id of ['microphone', 'processing']) {
  $(id).addEventListener('change', () => {
    if (!talker.active) audio.closeMicrophone();
  });
}
navigator.mediaDevices?.addEventListener?.('devicechange', fillMicrophones);

// ------------------------------------------------------------------ upload

// Why an uploaded page ended before its audio did (the POST's `outcome`).
const CUT_SHORT = {
  revoked: 'the token was revoked',
  shutdown: 'the relay shut down',
  limit: 'the longest page the relay allows',
  error: 'the relay failed to send it',
};

async function upload(event) {
  event.preventDefault();
  const file = $('upload-file').files[0];
  const state = $('upload-state');
  if (!file) return;
  const channel = Number($('channel').value);
  if (me.urgent[String(channel)] && !(await confirmUrgent(channel))) return;
  // wait=1: the relay answers after the end packets, with what it sent
  const query = new URLSearchParams({ channel: String(channel), wait: '1' });
  if ($('target').value) query.set('target', $('target').value);
  if ($('sites').value) query.set('sites', $('sites').value);
  const where = `${channelLabel(channel)} (${channel})`;
  state.textContent = `Paging ${file.name} on ${where}…`;
  const answer = await fetch(`${PAGES_PATH}?${query}`, {
    method: 'POST',
    body: file,
    credentials: 'same-origin',
  }).catch(() => null);
  if (answer === null) {
    state.textContent = `The relay could not be reached, or the connection dropped while paging ${file.name}.`;
    return;
  }
  const body = await answer.json().catch(() => ({}));
  state.textContent = uploadResult(answer.status, body, file.name, where);
}

// ------------------------------------------------------------------ say

/** The Say box: the relay speaks the text (a JSON POST) on the picked channel. */
async function say(event) {
  event.preventDefault();
  const text = $('say-text').value.trim();
  const state = $('say-state');
  if (!text) return;
  const channel = Number($('channel').value);
  if (me.urgent[String(channel)] && !(await confirmUrgent(channel))) return;
  const request = { channel, say: text, chime: $('say-chime').checked, wait: true };
  if ($('target').value) request.target = $('target').value;
  const where = `${channelLabel(channel)} (${channel})`;
  state.textContent = `Saying it on ${where}…`;
  const answer = await fetch(PAGES_PATH, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
    credentials: 'same-origin',
  }).catch(() => null);
  if (answer === null) {
    state.textContent = 'The relay could not be reached, or the connection dropped while paging.';
    return;
  }
  const body = await answer.json().catch(() => ({}));
  state.textContent = uploadResult(answer.status, body, 'the text', where);
}

/** One line for the answer to an upload: sent (how long), cut short (why), or refused. */
function uploadResult(status, body, name, where) {
  if (status === 200) {
    const seconds = `${Number(body.duration_s).toFixed(1)} s`;
    if (body.outcome === 'completed') return `Sent ${name} on ${where}: ${seconds}.`;
    const why = CUT_SHORT[body.outcome] ?? body.outcome;
    return `${name} was cut short on ${where} after ${seconds}: ${why}.`;
  }
  if (status === 409) return `Busy: ${body.error}`;
  if (status === 403) return `Not allowed: ${body.error}`;
  return `Not sent: ${body.error ?? status}`;
}

// ------------------------------------------------------------------ start

// Audio can only start from a user gesture (iOS Safari): the first one unlocks it.
for (const type of ['pointerdown', 'keydown', 'touchend']) {
  document.addEventListener(
    type,
    () => audio.unlock().then(() => ($('sound-locked').hidden = !audio.locked || me === null)),
    { capture: true },
  );
}

$('sign-in-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
$('retry').addEventListener('click', () => connection.retryNow());
$('upload-form').addEventListener('submit', upload);
$('say-form').addEventListener('submit', say);
$('volume').addEventListener('input', (event) => audio.setVolume(Number(event.target.value)));

async function boot() {
  $('insecure').hidden = microphoneAvailable();
  fillMicrophones();
  showTalkState();
  let session = null;
  try {
    session = await fetchSession();
  } catch {
    showConnection('unreachable');
  }
  if (session) await enter(session);
  else showSignIn();
}

boot();
