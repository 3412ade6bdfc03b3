// medledger portal: the patient's timeline, the records view. Each record is
// read through the node, which logs the read on the ledger before it serves
// a byte, and decrypted here by the crypto module.
'use strict';

(function () {
  const { $, el, sentence, formatDate, api, signedGet, NodeError, UNREACHABLE, problemText } = ml;

  // ---- The timeline: the patient's records, read through the node (which
  // logs each read) and decrypted here.

  const READ_PURPOSE = 'personal';

  // The ledger's record categories (internal/fhir), in words.
  const CATEGORY = {
    lab: 'Lab result', 'vital-signs': 'Vital signs', observation: 'Observation', condition: 'Condition',
    medication: 'Medication', immunization: 'Immunization', encounter: 'Visit', procedure: 'Procedure',
    allergy: 'Allergy', 'care-plan': 'Care plan', claim: 'Claim', imaging: 'Imaging', document: 'Document',
    device: 'Device', demographics: 'Personal details', provenance: 'Provenance', other: 'Other',
  };
  // readRecord reads a record's version (0: the latest) for a purpose (the
  // patient's own reads are 'personal') and decrypts it. status is the
  // node's status, for the chain ID and the height the request is valid from.
  async function readRecord(status, record, purpose, version) {
    const tx = await medledger.signRead(status.chain_id, status.latest_height, record.patient, record.id, version || 0, purpose || READ_PURPOSE);
    let resp;
    try {
      resp = await fetch('/v1/read', { method: 'POST', headers: { 'Content-Type': 'application/cbor' }, body: tx });
    } catch (e) {
      throw new NodeError(UNREACHABLE);
    }
    if (!resp.ok) {
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      throw new NodeError(problemText(resp.status, body));
    }
    const ct = new Uint8Array(await resp.arrayBuffer());
    const h = (name) => resp.headers.get('X-Medledger-' + name) || '';
    const meta = { blob: h('Blob'), wrap: h('Wrap'), key_id: h('Key-Id'), record: h('Record'), version: Number(h('Version')) };
    const text = await medledger.openRecord(ct, meta);
    let resource = null;
    try { resource = JSON.parse(text); } catch (e) { resource = null; }
    return { version: meta.version, resource: resource, contentType: h('Content-Type') };
  }

  function codeText(cc) {
    if (!cc) return '';
    if (cc.text) return cc.text;
    const codings = cc.coding || [];
    const named = codings.find((c) => c.display);
    if (named) return named.display;
    return codings.length ? codings[0].code || '' : '';
  }

  function quantity(q) {
    if (!q || q.value === undefined) return '';
    return String(q.value) + (q.unit ? ' ' + q.unit : '');
  }

  // describe renders the FHIR resources a timeline shows as a title, a value
  // and a date; anything else shows its type.
  function describe(r) {
    if (!r || !r.resourceType) return { title: 'A record that is not FHIR JSON', value: '', when: '' };
    switch (r.resourceType) {
      case 'Observation':
        return {
          title: codeText(r.code) || 'Observation',
          value: quantity(r.valueQuantity) || r.valueString || codeText(r.valueCodeableConcept) || '',
          when: r.effectiveDateTime || (r.effectivePeriod && r.effectivePeriod.start) || r.issued || '',
        };
      case 'Condition':
        return { title: codeText(r.code) || 'Condition', value: codeText(r.clinicalStatus), when: r.onsetDateTime || r.recordedDate || '' };
      case 'MedicationRequest':
      case 'MedicationStatement':
        return {
          title: codeText(r.medicationCodeableConcept) || 'Medication',
          value: (r.dosageInstruction || r.dosage || []).map((d) => d.text).filter(Boolean).join('; '),
          when: r.authoredOn || r.effectiveDateTime || '',
        };
      case 'Immunization':
        return { title: codeText(r.vaccineCode) || 'Immunization', value: r.status === 'completed' ? 'Given' : r.status || '', when: r.occurrenceDateTime || '' };
      case 'Encounter':
        return { title: codeText((r.type || [])[0]) || 'Visit', value: codeText((r.reasonCode || [])[0]), when: (r.period && r.period.start) || '' };
      case 'DiagnosticReport':
        return { title: codeText(r.code) || 'Report', value: r.conclusion || '', when: r.effectiveDateTime || r.issued || '' };
      case 'DocumentReference': {
        const att = ((r.content || [])[0] || {}).attachment || {};
        let text = '';
        if (att.data && /^text\//.test(att.contentType || '')) {
          try {
            text = new TextDecoder().decode(Uint8Array.from(atob(att.data), (c) => c.charCodeAt(0)));
          } catch (e) {
            text = '';
          }
        }
        const title = codeText(r.type) || att.title || 'Document';
        return { title: title, value: text || r.description || '', when: r.date || att.creation || '', note: true };
      }
      case 'AllergyIntolerance':
        return { title: codeText(r.code) || 'Allergy', value: codeText(r.clinicalStatus), when: r.recordedDate || r.onsetDateTime || '' };
      case 'Procedure':
        return { title: codeText(r.code) || 'Procedure', value: r.status === 'completed' ? 'Done' : r.status || '', when: r.performedDateTime || (r.performedPeriod && r.performedPeriod.start) || '' };
      case 'Claim':
      case 'ExplanationOfBenefit':
        return { title: 'Claim', value: r.total && r.total.value !== undefined ? r.total.value + ' ' + (r.total.currency || '') : '', when: r.created || '' };
      default:
        return { title: r.resourceType, value: '', when: r.date || r.recordedDate || '' };
    }
  }

  // ---- The timeline

  let shown = null; // {id, views, opened: record ID → {version, resource}}: what the view last loaded

  function orgName(id, byOrg) {
    const o = id && byOrg[id];
    return o ? o.name : id || '';
  }

  function entry(view, opened, error, byOrg) {
    const rec = view.record;
    const li = el('li', 'entry');
    li.dataset.record = rec.id;
    const versions = view.versions || [];
    const meta = (CATEGORY[rec.category] || rec.category || 'Record') + (rec.author_org ? ' · from ' + orgName(rec.author_org, byOrg) : '') +
      ' · version ' + rec.latest;
    if (error) {
      li.classList.add('failed');
      li.append(el('h3', '', CATEGORY[rec.category] || 'Record'), el('p', 'value', sentence(error)), el('p', 'meta', meta));
      return li;
    }
    const d = describe(opened.resource);
    const when = formatDate(d.when) || formatDate(rec.created * 1000);
    const time = el('time', '', when);
    if (d.when) time.dateTime = d.when;
    const w = el('p', 'when');
    w.append(time);
    li.append(w, el('h3', '', d.title));
    if (d.value) li.append(el('p', d.note ? 'note-text' : 'value', d.value));
    li.append(el('p', 'meta', meta));
    li.dataset.when = d.when || '';
    if (versions.length > 1) li.append(history(view, d, byOrg));
    li.append(eraseControl(view, d.title));
    return li;
  }

  // history lists a record's versions; each older one can be read (the
  // read is logged, like every read) and shown next to the latest.
  function history(view, latest, byOrg) {
    const box = el('details', 'history');
    box.append(el('summary', '', 'History: ' + view.versions.length + ' versions'));
    const ol = el('ol', 'versions');
    ol.reversed = true;
    const versions = view.versions.slice().sort((a, b) => b.version - a.version);
    for (const v of versions) {
      const li = el('li');
      li.dataset.version = String(v.version);
      let what = 'Version ' + v.version + (v.version === view.record.latest ? ', the current one' : '');
      if (v.supersedes) what += (v.version === view.record.latest ? ',' : '') + ' amending version ' + v.supersedes;
      li.append(el('span', 'vname', what), el('span', 'meta', ' · ' + (v.author_org ? 'from ' + orgName(v.author_org, byOrg) + ' · ' : '') + 'anchored ' + ml.formatUnix(v.time) + ' at block ' + v.height));
      if (v.version !== view.record.latest) {
        const b = el('button', 'small', 'Show version ' + v.version);
        b.type = 'button';
        const out = el('p', 'old');
        out.setAttribute('aria-live', 'polite');
        b.addEventListener('click', () => ml.busy(b, 'Reading version ' + v.version + '…', async () => {
          const st = (await api('/v1/status')).body;
          const old = describe((await readRecord(st, view.record, READ_PURPOSE, v.version)).resource);
          const parts = [];
          if (old.title !== latest.title) parts.push(old.title);
          parts.push(old.value ? old.value : '(no value)');
          let text = 'Version ' + v.version + ': ' + parts.join(', ');
          if (old.value !== latest.value) text += ' — now ' + (latest.value || '(no value)');
          else if (old.title === latest.title) text += ' — the same as now';
          if (old.when && old.when !== latest.when) text += '; dated ' + formatDate(old.when);
          out.textContent = text + '.';
          ml.say('');
          b.hidden = true;
        }));
        li.append(' ', b, out);
      }
      ol.append(li);
    }
    box.append(ol, el('p', 'hint', 'A record is never changed: a correction is a new version, and every version stays on the ledger.'));
    return box;
  }

  // eraseControl asks for the record's erasure, after saying what it means.
  function eraseControl(view, title) {
    const box = el('details', 'danger-zone');
    box.append(el('summary', '', 'Erase this record'));
    box.append(el('p', '', 'Erasing destroys the encrypted copy of this record and every key to it, on every node. ' +
      'Nobody, you included, can read it again, and it cannot be undone. The ledger keeps only the fact that a record existed: its hash, author and history, never its content.'));
    const b = el('button', 'danger', 'Erase this record');
    b.type = 'button';
    b.setAttribute('aria-label', 'Erase ' + title);
    b.addEventListener('click', () => {
      if (!window.confirm('Erase "' + title + '" for good? Nobody will be able to read it again.')) return;
      ml.busy(b, 'Erasing…', async () => {
        await ml.sendTx('records/erase', { record: view.record.id });
        await loadTimeline(ctxOf, true);
        ml.say('The record was erased. Its content can no longer be read by anyone.');
      });
    });
    box.append(b);
    return box;
  }

  let ctxOf = null;

  async function loadTimeline(ctx, force) {
    const panel = $('view-records');
    const list = $('timeline');
    const status = $('records-status');
    ctxOf = ctx;
    panel.hidden = false;
    // Each read is logged: the timeline reads once per unlock, and again
    // only when asked (Refresh) or after a change.
    if (force !== true && shown && shown.id === ctx.me.id && panel.dataset.state !== 'error') return;
    panel.dataset.state = 'loading';
    status.textContent = 'Loading your records…';
    $('export-btn').disabled = true;
    list.replaceChildren();
    try {
      const [r, cached] = await Promise.all([signedGet('/v1/patients/' + encodeURIComponent(ctx.me.id) + '/records'), ml.orgs()]);
      const all = ((r.body && r.body.records) || []).filter((v) => v.record);
      let byOrg = cached;
      if (all.some((v) => (v.versions || []).some((x) => x.author_org && !cached[x.author_org]))) byOrg = await ml.orgs(true); // admitted since
      const views = all.filter((v) => !v.record.erased);
      const erased = all.length - views.length;
      const erasedNote = erased ? ' ' + erased + (erased === 1 ? ' erased record is' : ' erased records are') + ' not shown.' : '';
      shown = { id: ctx.me.id, views: views, opened: {} };
      if (!views.length) {
        status.textContent = 'No records yet. When a clinician or a lab adds one, it shows here.' + erasedNote;
        panel.dataset.state = 'empty';
        return;
      }
      const st = (await api('/v1/status')).body;
      const items = [];
      for (const v of views) {
        status.textContent = 'Reading and decrypting record ' + (items.length + 1) + ' of ' + views.length + '…';
        try {
          const opened = await readRecord(st, v.record);
          shown.opened[v.record.id] = opened;
          items.push(entry(v, opened, null, byOrg));
        } catch (e) {
          items.push(entry(v, null, e.message, byOrg));
        }
      }
      items.sort((a, b) => (b.dataset.when || '').localeCompare(a.dataset.when || ''));
      list.replaceChildren(...items);
      status.textContent = views.length + (views.length === 1 ? ' record' : ' records') + ', decrypted in this browser.' + erasedNote;
      $('export-btn').disabled = !Object.keys(shown.opened).length;
      panel.dataset.state = 'loaded';
    } catch (e) {
      status.textContent = 'Your records could not be loaded. ' + sentence(e.message);
      panel.dataset.state = 'error';
    }
  }

  // ---- FHIR export: a Bundle of the records this page decrypted, built
  // and downloaded here; nothing is sent anywhere.

  function bundle() {
    const entries = [];
    for (const v of shown.views) {
      const o = shown.opened[v.record.id];
      if (!o || !o.resource || !o.resource.resourceType) continue;
      entries.push({ fullUrl: 'urn:medledger:record:' + v.record.id + ':' + o.version, resource: o.resource });
    }
    return {
      resourceType: 'Bundle',
      type: 'collection',
      timestamp: new Date().toISOString(),
      identifier: { system: 'urn:medledger:patient', value: shown.id },
      entry: entries,
    };
  }

  function exportRecords() {
    if (!shown) return;
    const b = bundle();
    const url = URL.createObjectURL(new Blob([JSON.stringify(b, null, 2)], { type: 'application/fhir+json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'medledger-records-' + new Date().toISOString().slice(0, 10) + '.json';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    ml.say('Your records were downloaded as a FHIR R4 Bundle of ' + b.entry.length + (b.entry.length === 1 ? ' resource' : ' resources') + '. The file is not encrypted: keep it safe.');
  }

  document.addEventListener('DOMContentLoaded', () => {
    const refresh = $('records-refresh');
    if (!refresh) return;
    refresh.addEventListener('click', () => ml.busy(refresh, 'Refreshing…', async () => { await loadTimeline(ctxOf, true); ml.say(''); }));
    $('export-btn').addEventListener('click', exportRecords);
  });

  // Other views (a clinician's, the version history) read and render records too.
  ml.readRecord = readRecord;
  ml.describeRecord = describe;
  ml.CATEGORY = CATEGORY;

  ml.view('records', { load: loadTimeline });
})();
