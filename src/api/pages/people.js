// The register, for enrolment officers: search, registration, a person's profile, their photo, status
// changes, and the enrolment of fingers from image files with the quality of each capture shown — a poor
// capture is refused ("ask again") and a possible duplicate shows its candidates with their photos.

import { t } from '/assets/i18n.js';
import { api, h, fill, photo, fullName, when, may, problem, base64, forgetPhoto, zoneName } from '/assets/core.js';

const STATUSES = {
  inmate: ['in_custody', 'at_court', 'at_hospital', 'work_party', 'transferred', 'released', 'escaped', 'deceased'],
  staff: ['on_duty', 'off_duty', 'deceased'],
  visitor: ['visiting', 'released'],
};

export async function show(main, [id]) {
  return id ? profile(main, id) : search(main);
}

function say(el, ok, ...text) {
  el.hidden = false;
  el.className = `notice ${ok === 'warn' ? 'warn' : ok ? 'good' : 'bad'}`;
  fill(el, h('span', { class: 'mark', text: ok === 'warn' ? '⚠ ' : ok ? '✓ ' : '✗ ' }), text);
}

const notice = (id) => h('div', { class: 'notice', role: 'status', id, hidden: true });

async function search(main) {
  const q = h('input', { id: 'people-q', type: 'search', autocomplete: 'off', placeholder: t('people.search_hint') });
  const category = h('select', { id: 'people-category' }, h('option', { value: '', text: t('people.any_category') }),
    ['inmate', 'staff', 'visitor'].map((c) => h('option', { value: c, text: t('category.' + c) })));
  const rows = h('tbody', { id: 'people-results' });
  const msg = notice('people-msg');

  async function run(e) {
    if (e) e.preventDefault();
    const params = new URLSearchParams({ q: q.value.trim(), limit: '50' });
    if (category.value) params.set('category', category.value);
    const r = await api('GET', `/api/v1/people?${params}`);
    if (!r.ok) return say(msg, false, problem(r));
    fill(rows, r.data.length ? r.data.map((p) => h('tr', {},
      h('td', {}, photo(p.id, p.has_photo, 'small')),
      h('td', {}, h('a', { href: `/people/${encodeURIComponent(p.id)}`, text: p.id })),
      h('td', { text: fullName(p) }),
      h('td', { text: t('category.' + p.category) }),
      h('td', { text: t('status.' + p.status, {}, p.status || '—') }),
      h('td', { text: p.zone ? zoneName(p.zone) : t('people.outside') }))) : h('tr', {}, h('td', { colspan: 6, text: t('people.none_found') })));
  }

  fill(main, h('h1', { text: t('people.title') }),
    h('form', { class: 'card row', role: 'search', onsubmit: run },
      h('label', { for: 'people-q', text: t('people.search_label') }), q, category,
      h('button', { type: 'submit', class: 'primary', text: t('people.search') })),
    msg,
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['people.photo', 'people.id', 'people.name', 'people.category', 'people.status', 'people.zone'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      rows),
    may('write_people') ? await registerForm() : null);
  await run();
  return null;
}

async function registerForm() {
  const z = await api('GET', '/api/v1/zones');
  const msg = notice('register-msg');
  const field = (name, label, attrs) => {
    const input = h('input', { id: `new-${name}`, name, autocomplete: 'off', ...attrs });
    return [h('label', { for: input.id, text: t(label) }), input];
  };
  const category = h('select', { id: 'new-category', name: 'category' }, ['inmate', 'staff', 'visitor'].map((c) => h('option', { value: c, text: t('category.' + c) })));
  const zone = h('select', { id: 'new-zone', name: 'zone' }, h('option', { value: '', text: t('people.outside') }),
    (z.ok ? z.data : []).map((zz) => h('option', { value: zz.id, text: zz.name })));
  const form = h('form', { class: 'card form', id: 'register', onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { id: f.get('id').trim(), category: f.get('category'), given_names: f.get('given_names'), family_name: f.get('family_name') };
    for (const k of ['date_of_birth', 'national_id', 'zone']) if (f.get(k)) body[k] = f.get(k);
    const r = await api('POST', '/api/v1/people', body);
    if (r.status === 201) location.assign(`/people/${encodeURIComponent(r.data.id)}`);
    else say(msg, false, problem(r));
  } },
  h('h2', { text: t('people.register') }),
  field('id', 'people.id', { required: true, maxlength: 32 }),
  h('label', { for: 'new-category', text: t('people.category') }), category,
  field('family_name', 'people.family_name', { required: true }),
  field('given_names', 'people.given_names', { required: true }),
  field('date_of_birth', 'people.date_of_birth', { type: 'date' }),
  field('national_id', 'people.national_id', { maxlength: 40 }),
  h('label', { for: 'new-zone', text: t('people.zone_now') }), zone,
  h('button', { type: 'submit', class: 'primary', text: t('people.register_button') }), msg);
  return form;
}

async function profile(main, id) {
  const path = `/api/v1/people/${encodeURIComponent(id)}`;
  const r = await api('GET', path);
  if (!r.ok) {
    fill(main, h('h1', { text: id }), h('p', { class: 'notice bad', text: problem(r) }));
    return null;
  }
  const p = r.data;
  const fingers = p.fingers.map((f) => f.finger);
  const dl = (pairs) => h('dl', {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [h('dt', { text: t(k) }), h('dd', { text: v })]));
  fill(main,
    h('p', {}, h('a', { href: '/people', text: '← ' + t('people.title') })),
    h('div', { class: 'profile' },
      photo(p.id, p.has_photo, 'large'),
      h('div', {},
        h('h1', { id: 'person-name', text: fullName(p) }),
        dl([
          ['people.id', p.id],
          ['people.category', t('category.' + p.category)],
          ['people.status', t('status.' + p.status, {}, p.status || '—') + (p.status_reason ? ` — ${p.status_reason}` : '')],
          ['people.zone', p.zone ? zoneName(p.zone) : t('people.outside')],
          ['people.date_of_birth', p.date_of_birth],
          ['people.national_id', p.national_id],
          ['people.created', when(p.created, true)],
          ['people.registered', p.registered ? t('yes') : t('people.not_registered')],
          ['people.templates_deleted', p.templates_deleted ? when(p.templates_deleted, true) : null],
        ]))),
    h('section', {}, h('h2', { text: t('people.fingers') }), fingerTable(p)),
    may('enrol') ? enrolForm(p, fingers) : null,
    may('change_status') ? statusForm(p) : null,
    may('write_people') ? identityForm(p) : null,
    may('write_people') ? photoForm(p) : null);
  return null;
}

function quality(q) {
  const word = q >= 60 ? 'good' : q >= 40 ? 'fair' : 'poor';
  return h('span', { class: `quality ${word}` }, h('meter', { min: 0, max: 100, low: 40, high: 60, optimum: 100, value: q }), ` ${q} — ${t('quality.' + word)}`);
}

function fingerTable(p) {
  if (!p.fingers.length) return h('p', { class: 'none', id: 'fingers', text: t('people.no_fingers') });
  return h('table', { class: 'grid', id: 'fingers' },
    h('thead', {}, h('tr', {}, ['people.finger', 'people.quality', 'people.enrolled', p.fingers.some((f) => f.duress !== undefined) ? 'people.duress' : null].filter(Boolean).map((k) => h('th', { scope: 'col', text: t(k) })))),
    h('tbody', {}, p.fingers.map((f) => h('tr', {},
      h('td', { text: t('finger.' + f.finger) }), h('td', {}, quality(f.quality)), h('td', { text: when(f.enrolled, true) }),
      f.duress !== undefined ? h('td', { text: f.duress ? t('yes') : '' }) : null))));
}

function enrolForm(p, taken) {
  const finger = h('select', { id: 'enrol-finger' }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) =>
    h('option', { value: n, text: t('finger.' + n) + (taken.includes(n) ? ` (${t('people.enrolled_already')})` : ''), selected: n === [2, 7, 1, 6, 3, 8, 4, 9, 5, 10].find((k) => !taken.includes(k)) })));
  const file = h('input', { id: 'enrol-file', type: 'file', accept: 'image/png,image/tiff,image/x-portable-graymap,.pgm,.png,.tif,.tiff', required: true });
  const dpi = h('input', { id: 'enrol-dpi', type: 'number', min: 250, max: 1000, placeholder: '500' });
  const duress = p.category === 'staff' ? h('input', { id: 'enrol-duress', type: 'checkbox' }) : null;
  const preview = h('div', { class: 'preview', id: 'enrol-preview' });
  const msg = notice('enrol-msg');
  const candidates = h('div', { class: 'candidates', id: 'candidates' });
  file.addEventListener('change', () => {
    const f = file.files[0];
    fill(preview, f && /png|jpeg/.test(f.type) ? h('img', { src: URL.createObjectURL(f), alt: t('people.capture') }) : []);
  });
  return h('form', { class: 'card form', id: 'enrol', onsubmit: async (e) => {
    e.preventDefault();
    fill(candidates);
    const f = file.files[0];
    if (!f) return;
    const body = { finger: Number(finger.value), image: await base64(f) };
    if (dpi.value) body.dpi = Number(dpi.value);
    if (duress && duress.checked) body.duress = true;
    say(msg, 'warn', t('people.enrolling'));
    const r = await api('POST', `/api/v1/people/${encodeURIComponent(p.id)}/fingers`, body);
    if (r.status === 201) {
      say(msg, true, t('people.enrolled_ok', { finger: t('finger.' + r.data.finger), quality: r.data.quality, minutiae: r.data.minutiae }));
      setTimeout(() => location.reload(), 1500);
    } else if (r.status === 422) {
      const d = (r.data && r.data.detail) || {};
      say(msg, false, h('strong', { text: t('people.ask_again') }), ' ', d.quality !== undefined ? t('people.poor', { quality: d.quality, minutiae: d.minutiae }) : r.data.message);
    } else if (r.status === 409 && r.data && r.data.error === 'possible_duplicate') {
      say(msg, 'warn', h('strong', { text: t('people.duplicate') }), ' ', t('people.duplicate_hint'));
      fill(candidates, r.data.detail.candidates.map((c) => h('div', { class: 'card candidate' },
        photo(c.person, undefined, 'medium'),
        h('div', { class: 'who' },
          h('a', { class: 'name', href: `/people/${encodeURIComponent(c.person)}`, text: fullName(c) || c.person }),
          h('span', { class: 'id', text: c.person }),
          h('span', { text: [t('category.' + c.category, {}, ''), t('status.' + c.status, {}, '')].filter(Boolean).join(' · ') }),
          h('span', { text: t('people.match', { finger: t('finger.' + c.finger), fmr: c.fmr > 0 ? c.fmr.toExponential(1) : '< 1e-12' }) })))));
    } else {
      say(msg, false, problem(r));
    }
  } },
  h('h2', { text: t('people.enrol') }),
  h('p', { class: 'hint', text: t('people.enrol_hint') }),
  h('label', { for: 'enrol-finger', text: t('people.finger') }), finger,
  h('label', { for: 'enrol-file', text: t('people.capture_file') }), file,
  h('label', { for: 'enrol-dpi', text: t('people.dpi') }), dpi,
  duress ? h('label', { class: 'check', for: 'enrol-duress' }, duress, ' ' + t('people.duress_finger')) : null,
  preview,
  h('button', { type: 'submit', class: 'primary', id: 'enrol-submit', text: t('people.enrol_button') }),
  msg, candidates);
}

function statusForm(p) {
  const choices = (STATUSES[p.category] || []).filter((s) => s !== p.status);
  const status = h('select', { id: 'status-new' }, choices.map((s) => h('option', { value: s, text: t('status.' + s) })));
  const reason = h('input', { id: 'status-reason', required: true, maxlength: 500, autocomplete: 'off' });
  const msg = notice('status-msg');
  return h('form', { class: 'card form', id: 'status-form', onsubmit: async (e) => {
    e.preventDefault();
    const r = await api('POST', `/api/v1/people/${encodeURIComponent(p.id)}/status`, { status: status.value, reason: reason.value });
    if (r.ok) {
      say(msg, true, t('people.status_changed', { status: t('status.' + status.value) }));
      setTimeout(() => location.reload(), 1000);
    } else say(msg, false, problem(r));
  } },
  h('h2', { text: t('people.change_status') }),
  h('label', { for: 'status-new', text: t('people.new_status') }), status,
  h('label', { for: 'status-reason', text: t('people.reason') }), reason,
  h('button', { type: 'submit', class: 'primary', text: t('people.change_button') }), msg);
}

/** Corrects the identity fields (the id and category never change; names are not in the ledger). */
function identityForm(p) {
  const msg = notice('identity-msg');
  const field = (name, label, attrs) => {
    const input = h('input', { id: `edit-${name}`, name, autocomplete: 'off', value: p[name] || '', ...attrs });
    return [h('label', { for: input.id, text: t(label) }), input];
  };
  const form = h('form', { class: 'card form', id: 'identity-form', onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { given_names: f.get('given_names'), family_name: f.get('family_name') };
    for (const k of ['date_of_birth', 'national_id']) if (f.get(k).trim()) body[k] = f.get(k).trim();
    const r = await api('PUT', `/api/v1/people/${encodeURIComponent(p.id)}`, body);
    if (r.ok) {
      say(msg, true, t('people.identity_saved'));
      setTimeout(() => location.reload(), 800);
    } else say(msg, false, problem(r));
  } },
  h('h2', { text: t('people.identity') }),
  field('family_name', 'people.family_name', { required: true }),
  field('given_names', 'people.given_names', { required: true }),
  field('date_of_birth', 'people.date_of_birth', { type: 'date' }),
  field('national_id', 'people.national_id', { maxlength: 40 }),
  h('button', { type: 'submit', class: 'primary', id: 'identity-submit', text: t('people.identity_button') }), msg);
  return form;
}

function photoForm(p) {
  const file = h('input', { id: 'photo-file', type: 'file', accept: 'image/jpeg,image/png', required: true });
  const msg = notice('photo-msg');
  return h('form', { class: 'card form', id: 'photo-form', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    const r = await api('PUT', `/api/v1/people/${encodeURIComponent(p.id)}/photo`, { image: await base64(f) });
    if (r.status === 204) {
      forgetPhoto(p.id);
      say(msg, true, t('people.photo_saved'));
      setTimeout(() => location.reload(), 800);
    } else say(msg, false, problem(r));
  } },
  h('h2', { text: t('people.photo') }),
  h('label', { for: 'photo-file', text: t('people.photo_file') }), file,
  h('button', { type: 'submit', class: 'primary', text: t('people.photo_button') }), msg);
}
