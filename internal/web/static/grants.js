// medledger portal: the patient's grants. The patient lists, gives and
// revokes grants; giving one also shares the records it covers, by
// re-wrapping each record's key for the grantee in the crypto module (the
// SDK's ShareRecords), so the grantee can decrypt what they may read.
'use strict';

(function () {
  const { $, el, sentence, say, fail, invalid, busy, api, signedGet, signedHeaders, sendTx, formatUnix, orgs, idElement, roleName, purposeName } = ml;

  const DAY = 86400;
  let ctx = null;
  let chosen = null; // the grantee the patient picked: {member} or {org}, with a label
  let loading = null; // the latest load, so that a slow one does not overwrite a newer one

  // ---- Describing grants in words

  function scopeText(scope) {
    if (!scope || scope.all) return 'All records';
    const parts = [];
    for (const c of scope.categories || []) parts.push((ml.CATEGORY && ml.CATEGORY[c]) || c);
    for (const t of scope.resource_types || []) parts.push(t);
    const n = (scope.records || []).length;
    if (n) parts.push(n === 1 ? 'one record' : n + ' records');
    return parts.length ? 'Only: ' + parts.join(', ') : 'Nothing';
  }

  function grantState(g, now) {
    if (g.revoked) return { word: 'Revoked', cls: 'ended' };
    if (now >= g.expires) return { word: 'Expired', cls: 'ended' };
    if (g.max_reads && (g.reads || 0) >= g.max_reads) return { word: 'Used up', cls: 'ended' };
    return { word: 'In force', cls: 'live' };
  }

  async function granteeLabel(gr, byOrg) {
    if (gr.org) {
      const o = byOrg[gr.org];
      return { text: 'Everyone at ' + (o ? o.name : gr.org), id: null };
    }
    let text = 'A person';
    try {
      const a = (await api('/v1/accounts/' + encodeURIComponent(gr.member))).body.account;
      const role = (a.roles || []).filter((r) => r !== 'admin').map(roleName)[0] || roleName((a.roles || [])[0]) || 'Member';
      const o = a.org && byOrg[a.org];
      text = role + (a.org ? ' at ' + (o ? o.name : a.org) : '');
    } catch (e) {
      text = 'Account';
    }
    return { text: text, id: gr.member };
  }

  function badge(text, cls) {
    const b = el('span', 'badge ' + cls, text);
    return b;
  }

  async function grantItem(g, now, byOrg) {
    const li = el('li', 'card');
    li.dataset.grant = g.id;
    const st = grantState(g, now);
    li.dataset.state = st.cls;
    const who = await granteeLabel(g.grantee, byOrg);
    const h = el('h3');
    h.append(el('span', '', who.text + ' '), badge(st.word, st.cls));
    li.append(h);
    const rows = [];
    const fact = (k, v) => rows.push([k, v]);
    if (who.id) fact('Account', idElement(who.id));
    fact('Records', scopeText(g.scope));
    fact('Purpose', purposeName(g.purpose));
    fact(g.revoked || now >= g.expires ? 'Ended' : 'Until', g.revoked ? 'Revoked at block ' + g.revoked : formatUnix(g.expires));
    if (g.max_reads) fact('Reads', (g.reads || 0) + ' of ' + g.max_reads);
    li.append(ml.facts(rows));
    if (st.cls === 'live') {
      const b = el('button', 'danger', 'Revoke');
      b.type = 'button';
      b.setAttribute('aria-label', 'Revoke access for ' + who.text);
      b.addEventListener('click', () => revoke(g, who.text, b));
      const actions = el('div', 'actions');
      actions.append(b);
      li.append(actions);
    }
    return li;
  }

  function emergencyItem(e, now, byOrg) {
    const li = el('li', 'card emergency');
    const o = byOrg[e.org];
    const h = el('h3');
    h.append(badge('Emergency access', 'alert'), el('span', '', ' by a clinician at ' + (o ? o.name : e.org)));
    li.append(h);
    li.append(ml.facts([['Clinician', idElement(e.clinician)], ['Reason given', ml.reasonName(e.reason)],
      ['Declared', formatUnix(e.start)], [now >= e.expires ? 'Ended' : 'Until', formatUnix(e.expires)]]));
    return li;
  }

  // ---- Loading the list

  async function nodeTime() {
    const st = (await api('/v1/status')).body;
    const t = Date.parse(st.latest_time || st.latest_block_time || '');
    return isNaN(t) ? Math.floor(Date.now() / 1000) : Math.floor(t / 1000);
  }

  async function load(c, section) {
    ctx = c;
    const status = $('grants-status');
    const list = $('grant-list');
    const mine = {};
    loading = mine;
    section.dataset.state = 'loading';
    status.textContent = 'Loading your grants…';
    // No Revoke button of the list being replaced stays on screen to click.
    list.replaceChildren();
    if (!$('grant-expires').value) $('grant-expires').value = dateInput(Date.now() / 1000 + 30 * DAY);
    $('grant-expires').min = dateInput(Date.now() / 1000 + DAY);
    try {
      let [r, byOrg, now] = await Promise.all([
        signedGet('/v1/patients/' + encodeURIComponent(c.me.id) + '/grants'),
        orgs(),
        nodeTime(),
      ]);
      if ((r.body.emergencies || []).some((e) => !byOrg[e.org]) || (r.body.grants || []).some((g) => g.grantee.org && !byOrg[g.grantee.org])) byOrg = await orgs(true);
      if (loading !== mine) return;
      const grants = (r.body.grants || []).slice().sort((a, b) => (grantState(a, now).cls === 'live' ? 0 : 1) - (grantState(b, now).cls === 'live' ? 0 : 1) || b.created - a.created);
      const items = [];
      for (const g of grants) items.push(await grantItem(g, now, byOrg));
      list.replaceChildren(...items);
      const live = grants.filter((g) => grantState(g, now).cls === 'live').length;
      status.textContent = grants.length
        ? live + (live === 1 ? ' grant in force' : ' grants in force') + (grants.length > live ? ', ' + (grants.length - live) + ' ended.' : '.')
        : 'No grants yet: only you can read your records. Give access below.';
      const ems = (r.body.emergencies || []).slice().sort((a, b) => b.start - a.start);
      $('emergency-list').replaceChildren(...ems.map((e) => emergencyItem(e, now, byOrg)));
      $('emergencies').hidden = !ems.length;
      await loadCategories(c);
      section.dataset.state = grants.length ? 'loaded' : 'empty';
    } catch (e) {
      if (loading !== mine) return;
      status.textContent = 'Your grants could not be loaded. ' + sentence(e.message);
      section.dataset.state = 'error';
    }
  }

  // The categories the patient's records have, to scope a grant by.
  let records = [];
  async function loadCategories(c) {
    const r = await signedGet('/v1/patients/' + encodeURIComponent(c.me.id) + '/records');
    records = ((r.body && r.body.records) || []).filter((v) => v.record && !v.record.erased);
    const cats = Array.from(new Set(records.map((v) => v.record.category))).sort();
    const box = $('scope-categories');
    const checked = new Set(Array.from(box.querySelectorAll('input:checked')).map((i) => i.value));
    const items = cats.map((cat) => {
      const d = el('div', 'choice');
      const i = el('input');
      i.type = 'checkbox';
      i.id = 'scope-cat-' + cat;
      i.value = cat;
      i.checked = checked.has(cat);
      i.addEventListener('change', () => { if (i.checked) $('scope-some').checked = true; });
      const l = el('label', '', (ml.CATEGORY && ml.CATEGORY[cat]) || cat);
      l.htmlFor = i.id;
      d.append(i, l);
      return d;
    });
    if (!items.length) items.push(el('p', 'hint', 'You have no records yet; a grant of all records covers future ones too.'));
    box.replaceChildren(...items);
  }

  function dateInput(sec) {
    const d = new Date(sec * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate());
  }

  // ---- Choosing the grantee

  const ACCOUNT_ID = /^[a-z2-7]{26}$/;

  function option(value, label, detail, data) {
    const d = el('div', 'choice');
    const i = el('input');
    i.type = 'radio';
    i.name = 'grantee';
    i.id = 'grantee-' + value;
    i.value = value;
    i.addEventListener('change', () => { chosen = data; invalid($('grantee-q'), false); });
    const l = el('label', '', label);
    l.htmlFor = i.id;
    if (detail) l.append(el('span', 'hint block', detail));
    d.append(i, l);
    return d;
  }

  async function search() {
    const q = $('grantee-q').value.trim();
    const box = $('grantee-options');
    chosen = null;
    if (!q) {
      invalid($('grantee-q'), true);
      fail('Type part of an organisation\'s name, or an account ID');
      $('grantee-q').focus();
      return;
    }
    const opts = [];
    if (ACCOUNT_ID.test(q)) {
      let a;
      try {
        a = (await api('/v1/accounts/' + q)).body.account;
      } catch (e) {
        if (e.status === 404) throw new Error('No account has the ID ' + q);
        throw e;
      }
      if (a.kind !== 'member') throw new Error('That account is not a clinician or an organisation\'s member, so it cannot be given access');
      const byOrg = await orgs(true);
      const o = byOrg[a.org];
      opts.push(option('m-' + a.id, (a.roles || []).map(roleName).join(', ') + ' at ' + (o ? o.name : a.org), 'Account ' + a.id, { member: a.id }));
    } else {
      const byOrg = await orgs(true);
      const needle = q.toLowerCase();
      const found = Object.values(byOrg).filter((o) => o.status === 'active' &&
        (o.name.toLowerCase().includes(needle) || o.id.toLowerCase().includes(needle)));
      found.sort((a, b) => a.name.localeCompare(b.name));
      for (const o of found.slice(0, 5)) {
        opts.push(option('o-' + o.id, 'Everyone at ' + o.name, o.type + ' · ' + o.id, { org: o.id }));
        let ids = [];
        try {
          ids = (await api('/v1/orgs/' + encodeURIComponent(o.id) + '/members')).body.ids || [];
        } catch (e) {
          ids = [];
        }
        for (const id of ids.slice(0, 20)) {
          let a;
          try {
            a = (await api('/v1/accounts/' + id)).body.account;
          } catch (e) {
            continue;
          }
          const roles = (a.roles || []).filter((r) => r !== 'admin');
          if (a.status !== 'active' || !roles.length) continue; // admins alone do not treat patients
          opts.push(option('m-' + id, roles.map(roleName).join(', ') + ' at ' + o.name, 'Account ' + id, { member: id }));
        }
      }
    }
    if (!opts.length) {
      $('grantee-results').hidden = true;
      throw new Error('No organisation matches "' + q + '"');
    }
    box.replaceChildren(...opts);
    $('grantee-results').hidden = false;
    say(opts.length === 1 ? 'One match: choose it below.' : opts.length + ' matches: choose one below.');
    box.querySelector('input').focus();
  }

  // ---- Giving a grant

  function newGrantID() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function readForm() {
    if (!chosen) {
      invalid($('grantee-q'), true);
      $('grantee-q').focus();
      throw new Error('Choose who gets access: search, then pick one');
    }
    const scope = {};
    if ($('scope-some').checked) {
      const cats = Array.from($('scope-categories').querySelectorAll('input:checked')).map((i) => i.value);
      if (!cats.length) throw new Error('Choose at least one kind of record, or all records');
      scope.categories = cats;
    } else {
      scope.all = true;
    }
    const exp = $('grant-expires');
    invalid(exp, false);
    const day = Date.parse(exp.value + 'T00:00:00');
    if (isNaN(day) || day <= Date.now()) {
      invalid(exp, true);
      exp.focus();
      throw new Error('Choose an end date in the future');
    }
    const max = $('grant-max');
    invalid(max, false);
    let maxReads = 0;
    if (max.value.trim()) {
      maxReads = Number(max.value);
      if (!Number.isInteger(maxReads) || maxReads < 1 || maxReads > 4294967295) {
        invalid(max, true);
        max.focus();
        throw new Error('The most reads allowed must be a whole number of 1 or more, or empty');
      }
    }
    const g = {
      id: newGrantID(),
      patient: ctx.me.id,
      grantee: chosen.member ? { member: chosen.member } : { org: chosen.org },
      scope: scope,
      purpose: $('grant-purpose').value,
      expires: Math.floor(day / 1000),
    };
    if (maxReads) g.max_reads = maxReads;
    return g;
  }

  function covers(scope, rec) {
    return scope.all || (scope.categories || []).includes(rec.category) ||
      (scope.resource_types || []).includes(rec.content_type) || (scope.records || []).includes(rec.id);
  }

  // share gives every key of the grantee a wrap of every record version the
  // grant covers, as the SDK's ShareRecords: the patient's own wrap is
  // fetched, re-wrapped in the crypto module and uploaded.
  async function share(g, progress) {
    let ids = [g.grantee.member];
    if (g.grantee.org) ids = (await api('/v1/orgs/' + encodeURIComponent(g.grantee.org) + '/members')).body.ids || [];
    const keys = [];
    for (const id of ids) {
      const a = (await api('/v1/accounts/' + id)).body.account;
      if (a.status === 'active') keys.push(a.encryption_key);
    }
    const r = await signedGet('/v1/patients/' + encodeURIComponent(ctx.me.id) + '/records');
    const versions = [];
    for (const v of (r.body && r.body.records) || []) {
      if (!v.record || v.record.erased || !covers(g.scope, v.record)) continue;
      for (const ver of v.versions || []) versions.push(ver);
    }
    const me = await medledger.publicKeys();
    let done = 0;
    for (const ver of versions) {
      progress(done, versions.length);
      const mine = '/v1/blobs/' + ver.blob + '/wraps/' + me.encryption_key_id;
      const w = (await signedGet(mine)).body.wrap;
      const wrap = Uint8Array.from(atob(w), (c) => c.charCodeAt(0));
      for (const key of keys) {
        const out = await medledger.rewrap(wrap, ver.record, ver.version, key);
        const path = '/v1/blobs/' + ver.blob + '/wraps/' + out.key_id;
        try {
          const h = await signedHeaders('PUT', path, out.wrap);
          h['Content-Type'] = 'application/octet-stream';
          await api(path, { method: 'PUT', headers: h, body: out.wrap });
        } catch (e) {
          if (e.status !== 409) throw e; // 409: the reader already has this wrap
        }
      }
      done++;
    }
    progress(done, versions.length);
    return versions.length;
  }

  async function give(ev) {
    ev.preventDefault();
    const btn = $('grant-btn');
    await busy(btn, 'Giving access…', async () => {
      const g = readForm();
      await sendTx('consent/grant', g);
      const n = await share(g, (done, total) => {
        if (total) btn.textContent = 'Sharing ' + (done < total ? done + 1 : total) + ' of ' + total + (total === 1 ? ' record…' : ' records…');
      });
      $('grant-form').reset();
      $('grantee-results').hidden = true;
      $('grantee-options').replaceChildren();
      chosen = null;
      await load(ctx, $('view-grants'));
      say('Access given' + (n ? ', and ' + n + (n === 1 ? ' record version' : ' record versions') + ' shared' : '') + '. It shows in the list above.');
    });
  }

  async function revoke(g, who, button) {
    if (!window.confirm('Revoke access for ' + who + '? They can no longer read your records under this grant.')) return;
    await busy(button, 'Revoking…', async () => {
      await sendTx('consent/revoke', { patient: ctx.me.id, grant: g.id });
      await load(ctx, $('view-grants'));
      say('Access revoked for ' + who + '.');
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (!$('grant-form')) return;
    $('grant-form').addEventListener('submit', give);
    $('grantee-search').addEventListener('click', () => busy($('grantee-search'), 'Searching…', search));
    $('grantee-q').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        busy($('grantee-search'), 'Searching…', search);
      }
    });
  });

  ml.view('grants', { load: load });
})();
