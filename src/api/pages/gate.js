// The gate screen of one lane, for the guard beside it: the latest scan huge (photo, name, id, category,
// ✓ or ✗ with the word and the reason), the recent ones below, the lane's state (reader, turnstile,
// ledger lock), recent alarms, and the override dialog. Everything arrives on the live stream; names and
// photos are read from the register. Duress alarms are silent: they are never shown here, where the
// person forcing a guard could see them.

import { t } from '/assets/i18n.js';
import { api, h, fill, photo, fullName, when, stream, may, problem, zoneName } from '/assets/core.js';

const RECENT = 12;
const ALARMS = 6;
const SILENT = new Set(['duress']);
/** Alarms that say something is back to normal. */
const INFO = new Set(['turnstile_online', 'tamper_cleared', 'power_restored']);

export async function show(main, [lane]) {
  const r = await api('GET', `/api/v1/lanes/${encodeURIComponent(lane)}`);
  if (!r.ok) {
    fill(main, h('h1', { text: t('gate.title', { lane }) }), h('p', { class: 'notice bad', text: problem(r) }));
    return null;
  }
  const people = new Map();
  const person = (id) => {
    if (!people.has(id)) {
      people.set(id, api('GET', `/api/v1/people/${encodeURIComponent(id)}`).then((p) => (p.ok ? p.data : null)));
    }
    return people.get(id);
  };

  const live = h('span', { class: 'live', role: 'status' });
  const state = h('div', { class: 'lane-state', 'aria-label': t('gate.state') });
  const latest = h('section', { class: 'latest empty', id: 'latest', 'aria-live': 'polite' });
  const recent = h('ol', { class: 'recent', id: 'recent' });
  const alarms = h('ul', { class: 'alarms', id: 'alarms' });
  // Newest first: the lane's recent scans from the ledger (on every reload, a language switch included),
  // with the ones the stream brings in between.
  const scans = [];
  let pendingOverride = null;
  let alarmList = [];

  const dialog = overrideDialog(lane);
  const head = h(
    'div',
    { class: 'gate-head' },
    h('h1', { text: t('gate.title', { lane }) }),
    h('span', { class: 'zones', text: `${zoneName(r.data.from_zone)} → ${zoneName(r.data.to_zone)}` }),
    live,
    may('override') ? h('button', { class: 'secondary', id: 'override-open', text: t('override.open'), onclick: () => dialog.open() }) : null,
  );
  fill(
    main,
    h('div', { class: 'gate' }, head, state, latest, h('div', { class: 'gate-lists' },
      h('section', {}, h('h2', { text: t('gate.recent') }), recent),
      h('section', {}, h('h2', { text: t('gate.alarms') }), alarms),
    )),
    dialog.el,
  );

  function showState(s) {
    const readerOk = s.reader === 'connected';
    const turnstileOk = s.turnstile === 'online';
    const item = (ok, label, value) =>
      h('div', { class: `state ${ok ? 'ok' : 'bad'}` }, h('span', { class: 'mark', text: ok ? '✓' : '✗' }), h('span', { class: 'label', text: label }), h('span', { class: 'value', text: value }));
    fill(
      state,
      item(readerOk, t('gate.reader'), t('reader.' + s.reader, {}, s.reader)),
      item(turnstileOk, t('gate.turnstile'), t('turnstile.' + s.turnstile)),
      item(!s.locked, t('gate.ledger'), s.locked ? t('gate.locked', { why: lockText(s.locked) }) : t('gate.open')),
      h('div', { class: 'state phase' }, h('span', { class: 'label', text: t('gate.phase') }), h('span', { class: 'value', text: t('phase.' + s.phase, {}, s.phase) })),
    );
  }

  function decision(scan) {
    const granted = scan.kind === 'grant';
    const words = [h('span', { class: 'mark', text: granted ? '✓' : '✗' }), h('span', { class: 'word', text: granted ? t('gate.granted') : t('gate.denied') })];
    return h('div', { class: `decision ${granted ? 'grant' : 'deny'}` }, words);
  }

  function details(scan) {
    const bits = [];
    if (scan.reason) bits.push(h('p', { class: 'reason', text: t('reason.' + scan.reason, {}, scan.reason) }));
    if (scan.method === 'override') {
      const o = scan.override;
      bits.push(h('p', { class: 'method', text: o ? t('gate.by_override', o) : t('gate.override') }));
    }
    if (scan.passage) bits.push(h('p', { class: 'passage', text: t('passage.' + scan.passage) }));
    return bits;
  }

  function who(scan, size) {
    const name = h('span', { class: 'name', text: scan.person ? '…' : t('gate.unknown') });
    const cat = h('span', { class: 'category' });
    const pic = photo(scan.person, scan.person ? undefined : false, size);
    if (scan.person) {
      person(scan.person).then((p) => {
        name.textContent = p ? fullName(p) : t('gate.not_in_register');
        if (p) cat.textContent = t('category.' + p.category);
        if (p && !p.has_photo) fill(pic, h('span', { class: 'nophoto', text: t('photo.none') }));
      });
    }
    return { name, cat, pic };
  }

  function showLatest() {
    const scan = scans[0];
    if (!scan) {
      latest.className = 'latest empty';
      fill(latest, h('p', { text: t('gate.waiting') }));
      return;
    }
    latest.className = `latest ${scan.kind === 'grant' ? 'grant' : 'deny'}`;
    const { name, cat, pic } = who(scan, 'large');
    fill(
      latest,
      pic,
      h('div', { class: 'who' }, name, h('span', { class: 'id', text: scan.person || '' }), cat, h('span', { class: 'time', text: scan.time ? when(scan.time) : '' })),
      h('div', { class: 'verdict' }, decision(scan), details(scan)),
    );
  }

  function showRecent() {
    fill(
      recent,
      scans.slice(1, RECENT + 1).map((scan) => {
        const { name, cat, pic } = who(scan, 'small');
        return h('li', { class: scan.kind === 'grant' ? 'grant' : 'deny' }, pic,
          h('div', { class: 'who' }, name, h('span', { class: 'id', text: scan.person || '' }), cat),
          h('div', { class: 'verdict' }, decision(scan), details(scan)),
          h('span', { class: 'time', text: when(scan.time) }));
      }),
    );
    if (scans.length < 2) fill(recent, h('li', { class: 'none', text: t('gate.none_yet') }));
  }

  function showAlarms() {
    const visible = alarmList.filter((a) => !SILENT.has(a.code)).slice(0, ALARMS);
    fill(
      alarms,
      visible.length
        ? visible.map((a) => h('li', { class: `${a.source === `lane ${lane}` ? 'here' : ''} ${INFO.has(a.code) ? 'info' : ''}` },
            h('span', { class: 'mark', text: INFO.has(a.code) ? 'ℹ' : '⚠' }),
            h('span', { class: 'code', text: t('alarm.' + a.code, {}, a.code) }),
            h('span', { class: 'detail', text: alarmDetail(a) }),
            h('span', { class: 'time', text: when(a.time, true) })))
        : h('li', { class: 'none', text: t('gate.no_alarms') }),
    );
  }

  /** A scan as GET /api/v1/lanes/{id} lists it, in the form the stream's entries take here. */
  function fromLedger(x) {
    const override = x.officer ? { officer: x.officer, second: x.second_officer, reason: x.override_reason } : null;
    return { seq: x.seq, time: x.time, kind: x.granted ? 'grant' : 'denial', person: x.person, reason: x.reason, method: x.method, override, passage: x.passage };
  }

  function entry(e) {
    const b = e.body || {};
    if (e.kind === 'alarm') {
      alarmList.unshift({ seq: e.seq, time: e.time, code: b.code, detail: b.detail, source: b.source });
      showAlarms();
      return;
    }
    if (b.lane !== lane) return;
    if (e.kind === 'override') {
      pendingOverride = { person: b.person, officer: b.officer, second: b.second_officer, reason: b.reason };
    } else if ((e.kind === 'grant' || e.kind === 'denial') && !scans.some((x) => x.seq === e.seq)) {
      const scan = { seq: e.seq, time: e.time, kind: e.kind, person: b.person || null, reason: b.reason || null, method: b.method || null };
      if (pendingOverride && pendingOverride.person === scan.person) {
        scan.method = 'override';
        scan.override = pendingOverride;
        pendingOverride = null;
      }
      if (e.kind === 'grant') scan.passage = 'waiting';
      scans.unshift(scan);
      scans.length = Math.min(scans.length, RECENT + 1);
      showLatest();
      showRecent();
    } else if (e.kind === 'passage' || e.kind === 'passage_timeout') {
      const scan = scans.find((s) => s.seq === b.grant);
      if (scan) {
        scan.passage = e.kind === 'passage' ? 'passed' : 'timeout';
        showLatest();
        showRecent();
      }
    }
  }

  async function reload() {
    const [l, a] = await Promise.all([api('GET', `/api/v1/lanes/${encodeURIComponent(lane)}`), api('GET', `/api/v1/alarms?limit=20`)]);
    if (l.ok) {
      showState(l.data);
      // The ledger's recent scans, with any newer ones the stream brought since they were read.
      const recentScans = l.data.recent.map(fromLedger);
      const newest = recentScans.length ? recentScans[0].seq : -1;
      const newer = scans.filter((x) => x.seq > newest);
      scans.splice(0, scans.length, ...newer, ...recentScans);
      scans.length = Math.min(scans.length, RECENT + 1);
      showLatest();
      showRecent();
    }
    if (a.ok) {
      alarmList = a.data;
      showAlarms();
    }
  }

  showLatest();
  showRecent();
  showAlarms();
  await reload();
  return stream(
    (name, data) => {
      let v;
      try {
        v = JSON.parse(data);
      } catch {
        v = data;
      }
      if (name === 'entry') entry(v);
      else if (name === 'lane' && v.id === lane) showState(v);
      else if (name === 'lagged') reload();
    },
    (s) => {
      live.className = `live ${s}`;
      live.textContent = s === 'live' ? '● ' + t('gate.live') : '○ ' + t('gate.reconnecting');
      if (s === 'live') reload();
    },
  );
}

/**
 * An alarm's detail in the reader's language. The ledger keeps the appliance's own words (English);
 * the details this page knows the shape of are told again from their parts, any other is shown as
 * recorded.
 */
function alarmDetail(a) {
  const d = a.detail || '';
  let m = /^person (\S+) \((\w+)\) seen at lane (\S+)$/.exec(d);
  if (m) return t('alarmdetail.seen', { person: m[1], status: t('status.' + m[2], {}, m[2]), lane: m[3] });
  m = /^roll-call (\S+) closed (\d+) short: (.*)$/.exec(d);
  if (m) return t('alarmdetail.short', { id: m[1], n: m[2], who: m[3] });
  m = /^person (\S+) expected in zone (\S+), seen at lane (\S+) from zone (\S+)$/.exec(d);
  if (m) return t('alarmdetail.passback', { person: m[1], expected: zoneName(m[2]), lane: m[3], from: zoneName(m[4]) });
  return d;
}

const LEDGER_DOWN = 'the ledger cannot be written: ';

/** Why a lane is locked, in the reader's language when the lane says it in words this page knows. */
function lockText(why) {
  if (why === 'starting') return t('lock.starting');
  if (why === 'the turnstile controller is offline') return t('lock.turnstile');
  if (why.startsWith(LEDGER_DOWN)) return t('lock.ledger', { why: why.slice(LEDGER_DOWN.length) });
  return why;
}

/** The override dialog: the person (by id or name, photo shown), the reason, the second officer's token. */
function overrideDialog(lane) {
  const q = h('input', { id: 'override-q', type: 'search', autocomplete: 'off', placeholder: t('override.search_hint') });
  const results = h('div', { class: 'choices', id: 'override-results' });
  const chosen = h('div', { class: 'chosen', id: 'override-chosen' });
  const reason = h('textarea', { id: 'override-reason', rows: 2, maxlength: 500 });
  const second = h('input', { id: 'override-second', type: 'password', autocomplete: 'off' });
  const msg = h('p', { class: 'notice', id: 'override-msg', role: 'status' });
  msg.hidden = true;
  let picked = null;

  const say = (ok, text) => {
    msg.hidden = false;
    msg.className = `notice ${ok ? 'good' : 'bad'}`;
    fill(msg, h('span', { class: 'mark', text: ok ? '✓ ' : '✗ ' }), text);
  };

  function pick(p) {
    picked = p;
    fill(chosen, photo(p.id, p.has_photo, 'large'), h('div', { class: 'who' },
      h('span', { class: 'name', text: fullName(p) }), h('span', { class: 'id', text: p.id }),
      h('span', { class: 'category', text: t('category.' + p.category) }),
      h('span', { class: 'status', text: t('status.' + p.status, {}, p.status || '') }),
      h('p', { class: 'hint', text: t('override.check_face') })));
  }

  async function search() {
    const r = await api('GET', `/api/v1/people?limit=8&q=${encodeURIComponent(q.value.trim())}`);
    if (!r.ok) return say(false, problem(r));
    fill(results, r.data.length ? r.data.map((p) =>
      h('button', { type: 'button', class: 'choice', onclick: () => pick(p) }, photo(p.id, p.has_photo, 'small'),
        h('span', { class: 'name', text: fullName(p) }), h('span', { class: 'id', text: p.id }))) : h('p', { text: t('people.none_found') }));
  }

  async function submit(e) {
    e.preventDefault();
    msg.hidden = true;
    if (!picked) return say(false, t('override.pick_first'));
    const body = { person: picked.id, reason: reason.value, second_token: second.value.trim() };
    const r = await api('POST', `/api/v1/lanes/${encodeURIComponent(lane)}/override`, body);
    second.value = '';
    if (r.status === 202) {
      if (r.data.granted) say(true, t('override.done', { name: fullName(picked), second: r.data.second_officer }));
      else say(false, t('override.refused', { reason: t('reason.' + r.data.reason, {}, r.data.reason) }));
    } else {
      say(false, problem(r));
    }
  }

  const el = h('dialog', { class: 'override', id: 'override' },
    h('form', { onsubmit: submit },
      h('h2', { text: t('override.title', { lane }) }),
      h('p', { class: 'hint', text: t('override.about') }),
      h('label', { for: 'override-q', text: t('override.person') }),
      h('div', { class: 'row' }, q, h('button', { type: 'button', text: t('people.search'), onclick: search })),
      results, chosen,
      h('label', { for: 'override-reason', text: t('override.reason') }), reason,
      h('label', { for: 'override-second', text: t('override.second') }), second,
      h('p', { class: 'hint', text: t('override.second_hint') }),
      msg,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary', id: 'override-submit', text: t('override.submit') }),
        h('button', { type: 'button', id: 'override-close', text: t('dialog.close'), onclick: () => el.close() }))));
  q.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      search();
    }
  });
  return {
    el,
    open: () => {
      msg.hidden = true;
      el.showModal();
      q.focus();
    },
  };
}
