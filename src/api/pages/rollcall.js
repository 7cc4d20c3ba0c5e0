// Roll-calls: the list and the start (supervisors), then one roll-call live — progress, the missing and
// out-of-zone lists, counting by id (handheld), recount, close with a remark and the supervisor's
// sign-off — and its count sheet, printed from this page or downloaded as the appliance writes it.

import { t } from '/assets/i18n.js';
import { api, h, fill, when, may, problem, login, download, zoneName, onLedger } from '/assets/core.js';


export async function show(main, [id]) {
  return id ? one(main, id) : list(main);
}

async function list(main) {
  const rows = h('tbody', { id: 'rollcalls' });
  const msg = h('p', { class: 'notice', role: 'status', hidden: true });
  const start = may('run_rollcall') ? await startForm(msg) : null;
  fill(main, h('h1', { text: t('rollcall.title') }), start, msg,
    h('h2', { text: t('rollcall.all') }),
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['rollcall.id', 'rollcall.zones', 'rollcall.started', 'rollcall.state', 'rollcall.counted', 'rollcall.missing'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      rows));
  async function refresh() {
    const r = await api('GET', '/api/v1/rollcalls');
    if (!r.ok) return;
    fill(rows, r.data.length ? r.data.map((rc) => h('tr', {},
      h('td', {}, h('a', { href: `/rollcall/${encodeURIComponent(rc.id)}`, text: rc.id })),
      h('td', { text: rc.zones.map(zoneName).join(', ') }),
      h('td', { text: `${when(rc.started, true)} · ${rc.supervisor}` }),
      h('td', { text: t('rollcall.' + rc.state) }),
      h('td', { text: `${rc.counted} / ${rc.expected}` }),
      h('td', { class: rc.missing ? 'bad strong' : '', text: rc.missing }))) : h('tr', {}, h('td', { colspan: 6, text: t('rollcall.none') })));
  }
  await refresh();
  return onLedger(refresh);
}

async function startForm(msg) {
  const z = await api('GET', '/api/v1/zones');
  const boxes = (z.ok ? z.data : []).map((zone) => ({ zone, box: h('input', { type: 'checkbox', value: zone.id, id: `zone-${zone.id}` }) }));
  return h('form', { class: 'card', id: 'rollcall-start', onsubmit: async (e) => {
    e.preventDefault();
    const zones = boxes.filter((b) => b.box.checked).map((b) => b.zone.id);
    if (!zones.length) return say(msg, false, t('rollcall.pick_zones'));
    const r = await api('POST', '/api/v1/rollcalls', { zones });
    if (r.status === 201) location.assign(`/rollcall/${encodeURIComponent(r.data.id)}`);
    else say(msg, false, problem(r));
  } },
  h('h2', { text: t('rollcall.start') }),
  h('fieldset', {}, h('legend', { text: t('rollcall.zones_to_count') }),
    boxes.map(({ zone, box }) => h('label', { class: 'check', for: box.id }, box, ` ${zone.name} (${t('rollcall.now_in', { n: zone.count })})`))),
  h('button', { type: 'submit', class: 'primary', text: t('rollcall.start_button') }));
}

function say(el, ok, text) {
  el.hidden = false;
  el.className = `notice ${ok ? 'good' : 'bad'}`;
  fill(el, h('span', { class: 'mark', text: ok ? '✓ ' : '✗ ' }), text);
}

function people(list, withCounted) {
  if (!list.length) return h('p', { class: 'none', text: t('rollcall.nobody') });
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, ['people.id', 'people.name', 'rollcall.expected_in', withCounted ? 'rollcall.counted_in' : null].filter(Boolean).map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, list.map((p) => h('tr', {},
      h('td', {}, may('read_people') ? h('a', { href: `/people/${encodeURIComponent(p.person)}`, text: p.person }) : p.person),
      h('td', { text: p.name || '' }),
      h('td', { text: p.expected_zone ? zoneName(p.expected_zone) : '—' }),
      withCounted ? h('td', { text: p.counted_zone ? zoneName(p.counted_zone) : '—' }) : null))));
}

async function one(main, id) {
  const path = `/api/v1/rollcalls/${encodeURIComponent(id)}`;
  const summary = h('section', { class: 'card', id: 'progress' });
  const missing = h('section', { id: 'missing' });
  const outOfZone = h('section', { id: 'out-of-zone' });
  const twice = h('section', { id: 'twice' });
  const actions = h('section', { class: 'actions' });
  const msg = h('p', { class: 'notice', role: 'status', id: 'rollcall-msg', hidden: true });
  const sheet = h('section', { class: 'sheet', id: 'sheet', hidden: true });
  let view = null;
  let built = false;

  fill(main, h('h1', { text: t('rollcall.one', { id }) }), summary, msg, actions,
    h('div', { class: 'lists' }, missing, outOfZone), twice, sheet);

  function draw(v) {
    view = v;
    const open = v.state === 'open';
    fill(summary,
      h('p', { class: 'meta', text: t('rollcall.meta', { zones: v.zones.map(zoneName).join(', '), who: v.supervisor, time: when(v.started, true) }) }),
      h('p', { class: `state-badge ${open ? 'open' : 'closed'}`, text: open ? '● ' + t('rollcall.open') : '■ ' + t('rollcall.closed') }),
      h('p', { class: 'big-number', id: 'counted', text: t('rollcall.progress', { counted: v.counted, expected: v.expected }) }),
      h('progress', { max: Math.max(1, v.expected), value: v.counted }),
      h('p', { class: v.balanced ? 'good' : 'bad', id: 'balance' },
        h('span', { class: 'mark', text: v.balanced ? '✓ ' : '✗ ' }),
        v.balanced ? t('rollcall.balanced') : t('rollcall.unbalanced', { missing: v.missing.length, ooz: v.out_of_zone.length })),
      v.closed ? h('p', { class: 'closed-by', text: t('rollcall.closed_by', { who: v.closed.supervisor, time: when(v.closed.time, true), counted: v.closed.counted, missing: v.closed.missing, remark: v.closed.remark || '—' }) }) : null);
    fill(missing, h('h2', { text: t('rollcall.missing_list', { n: v.missing.length }) }), people(v.missing, false));
    fill(outOfZone, h('h2', { text: t('rollcall.ooz_list', { n: v.out_of_zone.length }) }), people(v.out_of_zone, true));
    fill(twice, v.duplicates.length ? [h('h2', { text: t('rollcall.twice', { n: v.duplicates.length }) }), h('p', { text: v.duplicates.join(', ') })] : []);
    if (!built || !open) buildActions(v);
  }

  function buildActions(v) {
    built = true;
    const open = v.state === 'open';
    const parts = [];
    if (open && may('count_rollcall')) parts.push(countForm(v));
    if (open && may('run_rollcall')) parts.push(recountButton(), closeForm());
    parts.push(h('div', { class: 'row' },
      h('button', { type: 'button', id: 'print', text: t('rollcall.print'), onclick: printSheet }),
      h('button', { type: 'button', id: 'sheet-download', text: t('rollcall.download_sheet'), onclick: downloadSheet })));
    fill(actions, parts);
  }

  function countForm(v) {
    const person = h('input', { id: 'count-person', autocomplete: 'off', required: true });
    const zone = h('select', { id: 'count-zone' }, v.zones.map((z) => h('option', { value: z, text: zoneName(z) })));
    return h('form', { class: 'card', id: 'count-form', onsubmit: async (e) => {
      e.preventDefault();
      const r = await api('POST', `${path}/counts`, { person: person.value.trim(), zone: zone.value });
      if (r.ok) {
        say(msg, true, t('rollcall.counted_one', { person: person.value.trim(), zone: zoneName(zone.value) }));
        person.value = '';
        person.focus();
        draw(r.data);
      } else say(msg, false, problem(r));
    } },
    h('h2', { text: t('rollcall.count') }), h('p', { class: 'hint', text: t('rollcall.count_hint') }),
    h('div', { class: 'row' },
      h('label', { for: 'count-person', text: t('people.id') }), person,
      h('label', { for: 'count-zone', text: t('rollcall.zone') }), zone,
      h('button', { type: 'submit', class: 'primary', text: t('rollcall.count_button') })));
  }

  function recountButton() {
    let armed = false;
    const b = h('button', { type: 'button', id: 'recount', text: t('rollcall.recount'), onclick: async () => {
      if (!armed) {
        armed = true;
        b.textContent = t('rollcall.recount_confirm');
        return;
      }
      armed = false;
      b.textContent = t('rollcall.recount');
      const r = await api('POST', `${path}/recount`);
      if (r.ok) {
        say(msg, true, t('rollcall.recounting'));
        draw(r.data);
      } else say(msg, false, problem(r));
    } });
    return b;
  }

  function closeForm() {
    const remark = h('textarea', { id: 'close-remark', rows: 3, maxlength: 1000 });
    const sign = h('input', { type: 'checkbox', id: 'close-sign' });
    const go = h('button', { type: 'submit', class: 'primary', id: 'close', text: t('rollcall.close_button'), disabled: true });
    sign.addEventListener('change', () => { go.disabled = !sign.checked; });
    return h('form', { class: 'card', id: 'close-form', onsubmit: async (e) => {
      e.preventDefault();
      if (!sign.checked) return;
      const body = remark.value.trim() ? { remark: remark.value.trim() } : {};
      const r = await api('POST', `${path}/close`, body);
      if (r.ok) {
        say(msg, true, t('rollcall.closed_ok'));
        draw(r.data);
      } else say(msg, false, problem(r));
    } },
    h('h2', { text: t('rollcall.close') }),
    h('label', { for: 'close-remark', text: t('rollcall.remark') }), remark,
    h('p', { class: 'hint', text: t('rollcall.remark_hint') }),
    h('label', { class: 'check', for: 'close-sign' }, sign, ' ' + t('rollcall.sign', { name: login().name })),
    go);
  }

  function printSheet() {
    const v = view;
    const rows = (list) => list.length ? list.map((p) => h('tr', {}, h('td', { text: p.person }), h('td', { text: p.name || '' }), h('td', { text: p.expected_zone ? zoneName(p.expected_zone) : '—' }), h('td', { text: p.counted_zone ? zoneName(p.counted_zone) : '—' })))
      : h('tr', {}, h('td', { colspan: 4, text: t('rollcall.nobody') }));
    const head = () => h('tr', {}, ['people.id', 'people.name', 'rollcall.expected_in', 'rollcall.counted_in'].map((k) => h('th', { text: t(k) })));
    fill(sheet,
      h('h1', { text: t('rollcall.sheet_title', { id: v.id }) }),
      h('p', { text: t('rollcall.meta', { zones: v.zones.map(zoneName).join(', '), who: v.supervisor, time: when(v.started, true) }) }),
      h('p', { text: v.closed ? t('rollcall.closed_by', { who: v.closed.supervisor, time: when(v.closed.time, true), counted: v.closed.counted, missing: v.closed.missing, remark: v.closed.remark || '—' }) : t('rollcall.open_as_of', { time: when(new Date().toISOString(), true) }) }),
      h('table', {}, h('tr', {}, ['rollcall.expected', 'rollcall.counted', 'rollcall.missing', 'rollcall.out_of_zone', 'rollcall.counted_twice'].map((k) => h('th', { text: t(k) }))),
        h('tr', {}, [v.expected, v.counted, v.missing.length, v.out_of_zone.length, v.duplicates.length].map((n) => h('td', { text: n })))),
      h('h2', { text: t('rollcall.missing_list', { n: v.missing.length }) }), h('table', {}, head(), rows(v.missing)),
      h('h2', { text: t('rollcall.ooz_list', { n: v.out_of_zone.length }) }), h('table', {}, head(), rows(v.out_of_zone)),
      h('div', { class: 'signatures' }, ['rollcall.sign_counting', 'rollcall.sign_supervisor', 'rollcall.sign_date'].map((k) => h('div', { text: t(k) }))));
    sheet.hidden = false;
    window.print();
  }

  async function downloadSheet() {
    const res = await fetch(`${path}/sheet`, { headers: { Authorization: 'Bearer ' + login().token } });
    if (!res.ok) return say(msg, false, t('error.status', { status: res.status }));
    download(await res.blob(), `rollcall-${id}.html`);
  }

  async function refresh() {
    const r = await api('GET', path);
    if (r.ok) draw(r.data);
    else fill(summary, h('p', { class: 'notice bad', text: problem(r) }));
    return r.ok;
  }

  await refresh();
  return onLedger(() => { if (!view || view.state === 'open') refresh(); });
}
