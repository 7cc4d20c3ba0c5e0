// What every page shares: the login kept in this tab, calls to the API with its token, a small DOM
// builder (text is always set as text, never parsed as HTML), photos fetched with the token, the live
// event stream read with fetch (EventSource cannot send the token), and downloads.

import { t, locale } from '/assets/i18n.js';

const KEY = 'tally.login';

/** The login of this tab: {token, name, role, may: [...]}, or null. */
export function login() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

export function saveLogin(value) {
  sessionStorage.setItem(KEY, JSON.stringify(value));
}

export function logout() {
  sessionStorage.removeItem(KEY);
  photos.clear();
}

/** Whether the logged-in role may do `action` (a name of GET /api/v1/session's `may`). */
export function may(action) {
  const l = login();
  return !!l && l.may.includes(action);
}

/** Calls the API; answers {status, ok, data} with data parsed from JSON when it is JSON. */
export async function api(method, path, body, token) {
  const headers = { Authorization: 'Bearer ' + (token ?? login()?.token ?? '') };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    return { status: 0, ok: false, data: { error: 'network', message: t('error.network') } };
  }
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (type.startsWith('application/json')) data = await res.json().catch(() => null);
  else if (type.startsWith('text/')) data = await res.text();
  if (res.status === 401 && token === undefined) {
    logout();
    location.reload();
  }
  return { status: res.status, ok: res.ok, data, response: res };
}

/** The message to show for a failed call: the translation of its code, or the API's message. */
export function problem(r) {
  const code = r.data && r.data.error;
  const known = code && t('error.' + code, r.data.detail || {}, null);
  return known || (r.data && r.data.message) || t('error.status', { status: r.status });
}

/** Creates an element. attrs: class, text, on<event>, value/checked/disabled (properties), others as attributes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Creates an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** Appends children: nodes, strings (as text), arrays; null and false are skipped. */
export function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** A person's display name: FAMILY Given. */
export function fullName(p) {
  if (!p) return '';
  return `${(p.family_name || '').toUpperCase()} ${p.given_names || ''}`.trim();
}

/** A zone's name from its id (outside the facility in the reader's language); the id if unknown. */
export function zoneName(id) {
  if (id === null || id === undefined) return t('zone.outside');
  const f = login()?.facility;
  if (f && id === f.outside) return t('zone.outside');
  return f?.zones.find((z) => z.id === id)?.name ?? id;
}

/** The facility's offset from UTC in milliseconds (its `utc_offset`, like "+01:00"). */
function offsetMs() {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(login()?.facility?.utc_offset || '');
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60e3;
}

/**
 * A Date whose UTC fields read as the facility's local time: the pages tell time as the facility's
 * rules and registers do (its `utc_offset`), whatever the time zone of the screen showing them.
 */
export function local(date) {
  return new Date(date.getTime() + offsetMs());
}

/** Facility-local midnight of the current day, as a timestamp. */
export function localMidnight() {
  const d = local(new Date());
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime() - offsetMs();
}

/** A time from the ledger (RFC 3339, or a Date) in the reader's language, at the facility's time. */
export function when(iso, withDate) {
  if (!iso) return '—';
  const d = iso instanceof Date ? iso : new Date(iso);
  if (isNaN(d)) return iso;
  const time = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'UTC' };
  const opts = withDate ? { year: 'numeric', month: '2-digit', day: '2-digit', ...time } : time;
  return local(d).toLocaleString(locale(), opts);
}

// Photos: one fetch per person and tab, kept as blob URLs.
const photos = new Map();

/** Forgets a person's photo (after a new one is uploaded). */
export function forgetPhoto(id) {
  const p = photos.get(id);
  photos.delete(id);
  if (p) p.then((url) => url && URL.revokeObjectURL(url));
}

function photoUrl(id) {
  if (!photos.has(id)) {
    const p = fetch(`/api/v1/people/${encodeURIComponent(id)}/photo`, {
      headers: { Authorization: 'Bearer ' + (login()?.token ?? '') },
    })
      .then((r) => (r.ok ? r.blob() : null))
      .then((b) => (b ? URL.createObjectURL(b) : null))
      .catch(() => null);
    photos.set(id, p);
  }
  return photos.get(id);
}

/** A photo of person `id` (`size`: small, medium, large), or a placeholder that says there is none. */
export function photo(id, hasPhoto, size) {
  const box = h('div', { class: `photo ${size || 'medium'}` });
  const none = () => fill(box, h('span', { class: 'nophoto', text: t('photo.none') }));
  if (!id || hasPhoto === false) {
    none();
    return box;
  }
  fill(box, h('span', { class: 'nophoto', text: t('photo.loading') }));
  photoUrl(id).then((url) => {
    if (url) fill(box, h('img', { src: url, alt: t('photo.of', { id }) }));
    else none();
  });
  return box;
}

/** Saves a blob as a file. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Reads a file as base64 (without the data: prefix). */
export function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows GET /api/v1/events (Server-Sent Events) with the token: calls onEvent(name, data) for each
 * event, and onState('live' | 'reconnecting') as the connection comes and goes; reconnects with
 * back-off. Returns a function that stops it.
 */
export function stream(onEvent, onState) {
  let stopped = false;
  let ctrl = null;
  (async () => {
    let delay = 1000;
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const res = await fetch('/api/v1/events', {
          headers: { Authorization: 'Bearer ' + (login()?.token ?? ''), Accept: 'text/event-stream' },
          signal: ctrl.signal,
          cache: 'no-store',
        });
        if (res.ok && res.body) {
          onState('live');
          delay = 1000;
          await readEvents(res.body, onEvent);
        }
      } catch {
        // The connection dropped or was stopped: reconnect below unless stopped.
      }
      if (stopped) return;
      onState('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  })();
  return () => {
    stopped = true;
    if (ctrl) ctrl.abort();
  };
}

/**
 * Calls `refresh` whenever the ledger grows (entries on the live stream, at most every 300 ms), when
 * the stream (re)connects, and every 30 s in any case; for a role that may not follow the stream
 * (auditors, enrolment officers), every 5 s. Returns a function that stops it.
 */
export function onLedger(refresh) {
  if (!may('read_lanes')) {
    const every = setInterval(refresh, 5000);
    return () => clearInterval(every);
  }
  let timer = null;
  const soon = () => {
    if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 300);
  };
  const stop = stream((name) => { if (name === 'entry' || name === 'lagged') soon(); }, (state) => { if (state === 'live') soon(); });
  const every = setInterval(refresh, 30000);
  return () => {
    stop();
    clearInterval(every);
    clearTimeout(timer);
  };
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let name = 'message';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      if (line === '') {
        if (data.length) onEvent(name, data.join('\n'));
        name = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') name = v;
        else if (field === 'data') data.push(v);
      }
    }
  }
}
