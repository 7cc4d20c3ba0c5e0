// The ledger, for auditors: the latest signed checkpoint, entries with filters (kind, person, from a
// sequence number), and the download of the verifiable export (the same files as `tally ledger export`,
// as one tar file).

import { t } from '/assets/i18n.js';
import { api, h, fill, when, problem, download, login } from '/assets/core.js';

const KINDS = ['boot', 'shutdown', 'clock_change', 'key_rotation', 'note', 'registration', 'enrolment', 'status_change',
  'grant', 'denial', 'passage', 'passage_timeout', 'override', 'alarm', 'rollcall_started', 'rollcall_counted',
  'rollcall_recount', 'rollcall_closed', 'templates_deleted'];
const PAGE = 1000;
const SHOWN = 200;

export async function show(main) {
  const checkpoint = h('section', { class: 'card', id: 'checkpoint' });
  const msg = h('p', { class: 'notice', role: 'status', hidden: true });
  const kind = h('select', { id: 'filter-kind' }, h('option', { value: '', text: t('ledger.any_kind') }), KINDS.map((k) => h('option', { value: k, text: t('kind.' + k) })));
  const person = h('input', { id: 'filter-person', autocomplete: 'off' });
  const from = h('input', { id: 'filter-from', type: 'number', min: 0 });
  const rows = h('tbody', { id: 'entries' });
  const range = h('p', { class: 'hint', id: 'entries-range' });
  let size = 0;

  const exportButton = h('button', { type: 'button', class: 'primary', id: 'export', text: t('ledger.export'), onclick: async () => {
    exportButton.disabled = true;
    msg.hidden = false;
    msg.className = 'notice';
    msg.textContent = t('ledger.exporting');
    try {
      const res = await fetch('/api/v1/ledger/export', { headers: { Authorization: 'Bearer ' + login().token } });
      if (!res.ok) throw new Error(t('error.status', { status: res.status }));
      const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'ledger-export.tar';
      download(await res.blob(), name);
      msg.className = 'notice good';
      msg.textContent = '✓ ' + t('ledger.exported', { name });
    } catch (e) {
      msg.className = 'notice bad';
      msg.textContent = '✗ ' + e.message;
    } finally {
      exportButton.disabled = false;
    }
  } });

  fill(main, h('h1', { text: t('ledger.title') }),
    h('div', { class: 'board even' }, checkpoint,
      h('section', { class: 'card' }, h('h2', { text: t('ledger.export_title') }), h('p', { text: t('ledger.export_about') }),
        h('pre', { class: 'command', text: 'tar xf ledger-….tar\ntally ledger verify ledger-…/' }), exportButton, msg)),
    h('h2', { text: t('ledger.entries') }),
    h('form', { class: 'card row', id: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
      h('label', { for: 'filter-kind', text: t('ledger.kind') }), kind,
      h('label', { for: 'filter-person', text: t('ledger.person') }), person,
      h('label', { for: 'filter-from', text: t('ledger.from') }), from,
      h('button', { type: 'submit', class: 'primary', text: t('ledger.show') })),
    range,
    h('table', { class: 'grid entries' },
      h('thead', {}, h('tr', {}, ['ledger.seq', 'ledger.time', 'ledger.kind', 'ledger.person', 'ledger.body'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      rows));

  async function loadCheckpoint() {
    const r = await api('GET', '/api/v1/ledger/checkpoint');
    if (!r.ok) return fill(checkpoint, h('p', { class: 'notice bad', text: problem(r) }));
    const lines = String(r.data).split('\n');
    size = Number(lines[1]) || 0;
    fill(checkpoint, h('h2', { text: t('ledger.checkpoint') }),
      h('dl', {}, h('dt', { text: t('ledger.origin') }), h('dd', { text: lines[0] }),
        h('dt', { text: t('ledger.size') }), h('dd', { id: 'ledger-size', text: String(size) }),
        h('dt', { text: t('ledger.root') }), h('dd', { class: 'hash', text: lines[2] || '' })),
      h('details', {}, h('summary', { text: t('ledger.signed_note') }), h('pre', { text: r.data })));
  }

  // Each load is numbered so that an answer arriving after a newer request was made is dropped.
  let loads = 0;
  async function load() {
    const mine = ++loads;
    const start = from.value === '' ? Math.max(0, size - SHOWN) : Math.max(0, Number(from.value));
    const r = await api('GET', `/api/v1/ledger/entries?from=${start}&limit=${PAGE}`);
    if (mine !== loads) return;
    if (!r.ok) return fill(range, problem(r));
    const who = person.value.trim().toLowerCase();
    const shown = r.data.entries.filter((e) => (!kind.value || e.kind === kind.value) && (!who || String(e.body?.person || '').toLowerCase() === who));
    const last = start + r.data.entries.length - 1;
    range.textContent = r.data.entries.length ? t('ledger.range', { from: start, to: last, n: shown.length }) : t('ledger.nothing');
    fill(rows, shown.slice(0, SHOWN).map((e) => {
      const { person: p, ...rest } = e.body || {};
      return h('tr', {}, h('td', { text: e.seq }), h('td', { text: when(e.time, true) }), h('td', { text: t('kind.' + e.kind, {}, e.kind) }),
        h('td', { text: p || '' }), h('td', {}, h('code', { text: JSON.stringify(rest) })));
    }));
  }

  await loadCheckpoint();
  await load();
  return null;
}
