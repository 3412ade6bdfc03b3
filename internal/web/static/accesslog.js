// medledger portal: the patient's access log. Every read of the patient's
// records is an event on the ledger: who read, which record and version,
// when, why, and under which grant. Break-glass reads stand out. The log is
// on-chain metadata: nothing here is decrypted.
'use strict';

(function () {
  const { $, el, sentence, api, signedGet, formatUnix, orgs, idElement, roleName, purposeName } = ml;

  // basisText says in words what let the reader read.
  function basisText(e, grants) {
    switch (e.basis) {
      case 'patient': return 'Your own read';
      case 'delegate': return 'As your delegate';
      case 'author': return 'As the record\'s author';
      case 'grant': {
        const g = grants[e.grant];
        const until = g ? ', until ' + formatUnix(g.expires) : '';
        return 'Under your grant ' + (e.grant || '').slice(0, 8) + (g && g.revoked ? ' (since revoked)' : until);
      }
      case 'break_glass': return 'Emergency access, without a grant';
      default: return e.allowed ? 'Allowed' : 'Refused';
    }
  }

  function readerText(e, byOrg) {
    if (e.reader === e.patient) return 'You';
    const o = e.org && byOrg[e.org];
    const roles = (e.roles || []).filter((r) => r !== 'admin').map(roleName);
    const who = roles.length ? roles.join(', ') : e.reader_kind === 'patient' ? 'A patient' : 'A member';
    return who + (e.org ? ' at ' + (o ? o.name : e.org) : '');
  }

  function entry(e, byOrg, grants, records, emergencies) {
    const li = el('li', 'log-entry');
    li.dataset.basis = e.basis || '';
    li.dataset.reader = e.reader;
    const when = el('p', 'when');
    const t = el('time', '', formatUnix(e.time));
    t.dateTime = new Date(e.time * 1000).toISOString();
    when.append(t, el('span', '', ' · block ' + e.height));
    const h = el('h3');
    if (e.basis === 'break_glass') {
      li.classList.add('emergency');
      h.append(el('span', 'badge alert', 'Emergency access'), ' ');
    }
    if (!e.allowed) {
      li.classList.add('refused');
      h.append(el('span', 'badge ended', 'Refused'), ' ');
    }
    h.append(el('span', '', readerText(e, byOrg) + ' read ' + recordText(e, records)));
    const rows = [];
    const fact = (k, v) => rows.push([k, v]);
    const title = shownTitle(e.record);
    if (title) fact('Record', title);
    if (e.reader !== e.patient) fact('Reader', idElement(e.reader));
    fact('Purpose', purposeName(e.purpose));
    fact('Allowed by', basisText(e, grants));
    if (e.basis === 'break_glass') {
      const em = emergencies.filter((x) => x.clinician === e.reader && x.start <= e.time).sort((a, b) => b.start - a.start)[0];
      if (em) fact('Reason given', ml.reasonName(em.reason));
    }
    li.append(when, h, ml.facts(rows));
    return li;
  }

  // shownTitle is the title the timeline gave a record it decrypted, if it
  // did: the log reads no record of its own, so a record the timeline has
  // not opened is named by its category only.
  function shownTitle(record) {
    for (const li of document.querySelectorAll('#timeline li[data-record]')) {
      if (li.dataset.record !== record || li.classList.contains('failed')) continue;
      const h = li.querySelector('h3');
      return h ? h.textContent : '';
    }
    return '';
  }

  function recordText(e, records) {
    const r = records[e.record];
    const kind = r ? ((ml.CATEGORY && ml.CATEGORY[r.category]) || r.category || 'record').toLowerCase() : 'a record';
    return (r ? 'your ' + kind : kind) + ', version ' + e.version;
  }

  let loading = null;

  async function load(ctx, section) {
    const status = $('log-status');
    const list = $('log-list');
    const mine = {};
    loading = mine;
    section.dataset.state = 'loading';
    status.textContent = 'Loading your access log…';
    try {
      const id = encodeURIComponent(ctx.me.id);
      let [log, gr, recs, byOrg] = await Promise.all([
        signedGet('/v1/patients/' + id + '/access-log'),
        signedGet('/v1/patients/' + id + '/grants'),
        signedGet('/v1/patients/' + id + '/records'),
        orgs(),
      ]);
      if ((log.body.events || []).some((x) => (x.event || x).org && !byOrg[(x.event || x).org])) byOrg = await orgs(true); // admitted since
      if (loading !== mine) return;
      const grants = {};
      for (const g of gr.body.grants || []) grants[g.id] = g;
      const records = {};
      for (const v of recs.body.records || []) if (v.record) records[v.record.id] = v.record;
      const events = (log.body.events || []).map((x) => x.event || x).slice().reverse(); // newest first
      list.replaceChildren(...events.map((e) => entry(e, byOrg, grants, records, gr.body.emergencies || [])));
      const others = events.filter((e) => e.reader !== e.patient).length;
      const urgent = events.filter((e) => e.basis === 'break_glass').length;
      status.textContent = events.length
        ? events.length + (events.length === 1 ? ' read' : ' reads') + ', ' + others + ' by others' +
          (urgent ? '; ' + urgent + ' under emergency access, highlighted below.' : '.')
        : 'Nobody has read your records yet, not even you.';
      section.dataset.state = events.length ? 'loaded' : 'empty';
    } catch (e) {
      if (loading !== mine) return;
      status.textContent = 'Your access log could not be loaded. ' + sentence(e.message);
      section.dataset.state = 'error';
    }
  }

  let current = null;
  document.addEventListener('DOMContentLoaded', () => {
    const b = $('log-refresh');
    if (b) b.addEventListener('click', () => { if (current) ml.busy(b, 'Refreshing…', async () => { await load(current, $('view-log')); ml.say(''); }); });
  });

  ml.view('log', { load: (ctx, section) => { current = ctx; return load(ctx, section); } });
})();
