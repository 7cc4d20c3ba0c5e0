// The page shell: login with a token, the navigation the role may use, the language switch, and the
// choice of page by path. Each page module exports `show(main, params)` and returns a function that
// stops its timers and streams when the page is left or redrawn.

import { t, lang, setLang, LANGS } from '/assets/i18n.js';
import { api, h, fill, login, saveLogin, logout, may, zoneName } from '/assets/core.js';

const PAGES = [
  { path: /^\/gate\/([^/]+)$/, module: '/assets/gate.js', needs: 'read_lanes', title: 'nav.gate' },
  { path: /^\/gate$/, module: null, needs: 'read_lanes', title: 'nav.gate', show: lanes },
  { path: /^\/headcount$/, module: '/assets/headcount.js', needs: 'read_counts', title: 'nav.headcount' },
  { path: /^\/rollcall(?:\/([^/]+))?$/, module: '/assets/rollcall.js', needs: 'read_counts', title: 'nav.rollcall' },
  { path: /^\/people(?:\/([^/]+))?$/, module: '/assets/people.js', needs: 'read_people', title: 'nav.people' },
  { path: /^\/ledger$/, module: '/assets/ledger.js', needs: 'read_ledger', title: 'nav.ledger' },
  { path: /^\/$/, module: null, needs: null, title: 'nav.home', show: home },
];

const NAV = [
  ['/gate', 'nav.gate', 'read_lanes'],
  ['/headcount', 'nav.headcount', 'read_counts'],
  ['/rollcall', 'nav.rollcall', 'read_counts'],
  ['/people', 'nav.people', 'read_people'],
  ['/ledger', 'nav.ledger', 'read_ledger'],
];

let stop = null;

async function render() {
  if (stop) stop();
  stop = null;
  document.documentElement.lang = lang();
  const main = document.getElementById('main');
  header();
  const me = login();
  if (!me) {
    document.title = 'tally — ' + t('login.title');
    loginForm(main);
    return;
  }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const page = PAGES.find((p) => p.path.test(path));
  if (!page) {
    fill(main, h('h1', { text: t('page.not_found') }), h('p', {}, h('a', { href: '/', text: t('nav.home') })));
    return;
  }
  document.title = 'tally — ' + t(page.title);
  if (page.needs && !may(page.needs)) {
    fill(main, h('h1', { text: t(page.title) }), h('p', { class: 'notice bad', text: t('page.forbidden', { role: t('role.' + me.role) }) }));
    return;
  }
  const params = path.match(page.path).slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
  fill(main);
  if (page.show) {
    stop = (await page.show(main, params)) || null;
  } else {
    const mod = await import(page.module);
    stop = (await mod.show(main, params)) || null;
  }
}

function header() {
  const me = login();
  const nav = document.getElementById('nav');
  const path = location.pathname;
  fill(
    nav,
    me
      ? NAV.filter(([, , need]) => may(need)).map(([href, key]) =>
          h('a', { href, text: t(key), 'aria-current': path.startsWith(href) ? 'page' : null }),
        )
      : [],
  );
  const who = document.getElementById('who');
  who.textContent = me ? `${me.name} · ${t('role.' + me.role)}` : '';
  const out = document.getElementById('logout');
  out.hidden = !me;
  out.textContent = t('login.out');
  const select = document.getElementById('lang');
  select.setAttribute('aria-label', t('lang.label'));
  fill(select, Object.entries(LANGS).map(([code, name]) => h('option', { value: code, text: name, selected: code === lang() })));
}

function loginForm(main) {
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const msg = h('p', { class: 'notice', role: 'status' });
  msg.hidden = true;
  const form = h(
    'form',
    { class: 'card login', onsubmit: async (e) => {
      e.preventDefault();
      msg.hidden = true;
      const r = await api('GET', '/api/v1/session', undefined, token.value.trim());
      if (!r.ok) {
        msg.hidden = false;
        msg.className = 'notice bad';
        msg.textContent = r.status === 401 ? t('login.bad') : t('error.status', { status: r.status });
        return;
      }
      saveLogin({ token: token.value.trim(), name: r.data.name, role: r.data.role, may: r.data.may, facility: r.data.facility });
      render();
    } },
    h('h1', { text: t('login.title') }),
    h('p', { text: t('login.help') }),
    h('label', { for: 'token', text: t('login.token') }),
    token,
    h('button', { type: 'submit', class: 'primary', text: t('login.in') }),
    msg,
  );
  fill(main, form);
  token.focus();
}

function home(main) {
  const me = login();
  const cards = NAV.filter(([, , need]) => may(need)).map(([href, key]) =>
    h('a', { class: 'card tile', href }, h('span', { class: 'tile-title', text: t(key) }), h('span', { text: t(key + '.about') })),
  );
  fill(main, h('h1', { text: t('home.hello', { name: me.name }) }), h('div', { class: 'tiles' }, cards));
}

async function lanes(main) {
  fill(main, h('h1', { text: t('gate.choose') }));
  const r = await api('GET', '/api/v1/lanes');
  if (!r.ok) return;
  laneTiles(main, r.data);
}

function laneTiles(main, list) {
  main.append(
    h(
      'div',
      { class: 'tiles' },
      list.map((l) =>
        h(
          'a',
          { class: 'card tile', href: `/gate/${encodeURIComponent(l.id)}` },
          h('span', { class: 'tile-title', text: l.id }),
          h('span', { text: `${zoneName(l.from_zone)} → ${zoneName(l.to_zone)}` }),
        ),
      ),
    ),
  );
}

document.getElementById('lang').addEventListener('change', (e) => {
  setLang(e.target.value);
  render();
});
document.getElementById('logout').addEventListener('click', () => {
  logout();
  location.assign('/');
});
render();
