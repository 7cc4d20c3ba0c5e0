// The headcount board: everyone inside, each zone by category (a zone opens to its occupants), who is
// out of the facility and why, and a chart of the day's count drawn from GET /api/v1/headcount/history.
// It reads again whenever the ledger grows; any role may see it (names only for roles that read the register).
// With other gates configured, a section shows the whole facility (GET /api/v1/facility/headcount): the
// count over every gate's log, and each gate's sync state and alarms.

import { t, locale } from '/assets/i18n.js';
import { api, h, s, fill, when, problem, onLedger, local, localMidnight } from '/assets/core.js';


export async function show(main) {
  const total = h('p', { class: 'big-number', id: 'inside' });
  const updated = h('p', { class: 'hint' });
  const zones = h('tbody', { id: 'zones' });
  const occupants = h('section', { class: 'occupants', id: 'occupants' });
  const away = h('tbody', { id: 'away' });
  const chart = h('figure', { class: 'chart', id: 'chart' });
  const facility = h('section', { id: 'facility' });
  let open = null;

  fill(
    main,
    h('h1', { text: t('headcount.title') }),
    h('div', { class: 'board' },
      h('section', { class: 'card' }, h('h2', { text: t('headcount.inside') }), total, updated),
      h('section', { class: 'card wide' }, h('h2', { text: t('headcount.today') }), chart)),
    facility,
    h('section', {}, h('h2', { text: t('headcount.zones') }),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['headcount.zone', 'category.inmate.plural', 'category.staff.plural', 'category.visitor.plural', 'headcount.total'].map((k) => h('th', { scope: 'col', text: t(k) })))),
        zones),
      occupants),
    h('section', {}, h('h2', { text: t('headcount.away') }),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['people.id', 'people.name', 'people.status', 'people.reason', 'headcount.since'].map((k) => h('th', { scope: 'col', text: t(k) })))),
        away)),
  );

  async function showOccupants(zone) {
    open = zone;
    const r = await api('GET', `/api/v1/zones/${encodeURIComponent(zone.zone)}/occupants`);
    if (!r.ok) return fill(occupants, h('p', { class: 'notice bad', text: problem(r) }));
    fill(occupants, h('h3', { text: t('headcount.in_zone', { zone: zone.name }) }),
      r.data.length ? h('ul', { class: 'names' }, r.data.map((o) =>
        h('li', {}, h('span', { class: 'id', text: o.person }), ' ', h('span', { text: o.name || '' }), ' · ', t('category.' + o.category), ' · ', t('status.' + o.status, {}, o.status))))
        : h('p', { text: t('headcount.empty') }),
      h('button', { type: 'button', text: t('dialog.close'), onclick: () => { open = null; fill(occupants); } }));
  }

  async function refresh() {
    const [c, hist] = await Promise.all([api('GET', '/api/v1/headcount'), api('GET', '/api/v1/headcount/history')]);
    if (!c.ok) {
      fill(updated, problem(c));
      return;
    }
    total.textContent = String(c.data.inside);
    updated.textContent = t('headcount.updated', { time: when(new Date().toISOString()) });
    fill(zones, c.data.zones.map((z) =>
      h('tr', {},
        h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', text: z.name, onclick: () => showOccupants(z) })),
        h('td', { text: z.inmates }), h('td', { text: z.staff }), h('td', { text: z.visitors }), h('td', { class: 'strong', text: z.total }))));
    fill(away, c.data.out_of_facility.length ? c.data.out_of_facility.map((a) => {
      const lost = a.status === 'in_custody';
      return h('tr', { class: lost ? 'bad' : '' },
        h('td', { text: a.person }), h('td', { text: a.name || '' }),
        h('td', {}, lost ? h('span', { class: 'mark', text: '⚠ ' }) : null, lost ? t('headcount.unaccounted') : t('status.' + a.status, {}, a.status)),
        h('td', { text: a.reason || '' }), h('td', { text: when(a.since, true) }));
    }) : h('tr', {}, h('td', { colspan: 5, text: t('headcount.nobody_away') })));
    if (hist.ok) drawChart(chart, hist.data);
    if (open) showOccupants(open);
    const f = await api('GET', '/api/v1/facility/headcount');
    if (f.ok && f.data.appliances.length > 1) drawFacility(facility, f.data);
  }

  await refresh();
  return onLedger(refresh);
}

/** The whole facility: the count over every gate's log, and each gate as this one holds it. */
function drawFacility(section, f) {
  const state = (a) => {
    if (a.alarms.length) return h('span', { class: 'bad', text: a.alarms.map((x) => t('headcount.gate_alarm', { code: x.code })).join(' · ') });
    if (a.this) return t('headcount.gate_this');
    return a.behind ? t('headcount.gate_behind', { n: a.announced }) : t('headcount.gate_current');
  };
  fill(section, h('h2', { text: t('headcount.facility') }),
    h('p', { class: 'strong', text: t('headcount.facility_inside', { n: f.inside, gates: f.appliances.length }) }),
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['headcount.zone', 'category.inmate.plural', 'category.staff.plural', 'category.visitor.plural', 'headcount.total'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      h('tbody', {}, f.zones.map((z) => h('tr', {}, h('th', { scope: 'row', text: z.name }),
        h('td', { text: z.inmates }), h('td', { text: z.staff }), h('td', { text: z.visitors }), h('td', { class: 'strong', text: z.total }))))),
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['headcount.gate', 'headcount.gate_entries', 'headcount.gate_contact', 'headcount.gate_state'].map((k) => h('th', { scope: 'col', text: t(k) })))),
      h('tbody', {}, f.appliances.map((a) => h('tr', { class: a.alarms.length ? 'bad' : '' },
        h('th', { scope: 'row', text: a.appliance }), h('td', { text: a.size }),
        h('td', { text: a.this ? '' : (a.last_contact ? when(a.last_contact, true) : t('headcount.gate_never')) }),
        h('td', {}, state(a)))))));
}

/** A step chart of today's count, in inline SVG: from midnight when the count then is known, else from the
 * first change kept today. */
function drawChart(figure, history) {
  const W = 600, H = 200, L = 44, R = 12, T = 12, B = 28;
  const now = Date.now();
  const start = localMidnight();
  const pts = history.points.map((p) => [Date.parse(p.time), p.inside]).filter(([x]) => !isNaN(x));
  const before = pts.filter(([x]) => x < start);
  const today = pts.filter(([x]) => x >= start && x <= now);
  const opening = before.length ? [[start, before[before.length - 1][1]]] : [];
  const steps = [...opening, ...today, [now, history.inside]];
  // At least the last minute, so a count that just started still has room.
  const from = Math.min(steps[0][0], now - 60e3);
  const span = now - from;
  const max = Math.max(1, ...steps.map(([, y]) => y));
  const x = (v) => L + ((v - from) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  let d = `M${x(steps[0][0]).toFixed(1)},${y(steps[0][1]).toFixed(1)}`;
  for (let i = 1; i < steps.length; i++) {
    d += ` H${x(steps[i][0]).toFixed(1)} V${y(steps[i][1]).toFixed(1)}`;
  }
  // At most about eight ticks, on round local times (counted from midnight).
  const step = [1, 5, 15, 30, 60, 120, 180].map((m) => m * 60e3).find((s) => span / s <= 8) || 180 * 60e3;
  const ticks = [];
  for (let at = start + Math.ceil((from - start) / step) * step; at <= now; at += step) {
    const label = local(new Date(at)).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
    ticks.push(s('line', { x1: x(at), x2: x(at), y1: T, y2: H - B, class: 'tick' }), s('text', { x: x(at), y: H - 8, class: 'axis', 'text-anchor': 'middle' }, label));
  }
  const label = t('headcount.chart_label', { n: today.length, now: history.inside, max });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
    s('title', {}, label),
    ticks,
    s('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'base' }),
    s('text', { x: L - 6, y: y(max) + 5, class: 'axis', 'text-anchor': 'end' }, String(max)),
    s('text', { x: L - 6, y: y(0), class: 'axis', 'text-anchor': 'end' }, '0'),
    s('path', { d, class: 'count' }),
    s('circle', { cx: x(now), cy: y(history.inside), r: 5, class: 'now' }));
  fill(figure, svg, h('figcaption', { text: t('headcount.chart_caption', { n: today.length, now: history.inside }) }));
}
