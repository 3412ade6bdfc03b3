// medledger portal: the patient's timeline, the records view. Each record is
// read through the node, which logs the read on the ledger before it serves
// a byte, and decrypted here by the crypto module.
'use strict';

(function () {
  const { $, el, sentence, formatDate, api, signedGet, NodeError, UNREACHABLE, problemText } = ml;

  // ---- The timeline: the patient's records, read through the node (which
  // logs each read) and decrypted here.

  const READ_PURPOSE = 'personal';

  const CATEGORY = {
    lab: 'Lab result', vitals: 'Vital signs', condition: 'Condition', medication: 'Medication',
    immunization: 'Immunization', encounter: 'Visit', claim: 'Claim', procedure: 'Procedure',
    allergy: 'Allergy', imaging: 'Imaging', note: 'Note', document: 'Document',
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
      case 'Claim':
      case 'ExplanationOfBenefit':
        return { title: 'Claim', value: r.total && r.total.value !== undefined ? r.total.value + ' ' + (r.total.currency || '') : '', when: r.created || '' };
      default:
        return { title: r.resourceType, value: '', when: r.date || r.recordedDate || '' };
    }
  }

  function entry(view, opened, error) {
    const rec = view.record;
    const li = el('li', 'entry');
    li.dataset.record = rec.id;
    const versions = (view.versions || []).length;
    const meta = (CATEGORY[rec.category] || rec.category || 'Record') + (rec.author_org ? ' · from ' + rec.author_org : '') +
      ' · version ' + rec.latest + (versions > 1 ? ' (' + versions + ' versions in its history)' : '');
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
    if (d.value) li.append(el('p', 'value', d.value));
    li.append(el('p', 'meta', meta));
    li.dataset.when = d.when || '';
    return li;
  }

  async function loadTimeline(ctx) {
    const panel = $('view-records');
    const list = $('timeline');
    const status = $('records-status');
    panel.hidden = false;
    panel.dataset.state = 'loading';
    status.textContent = 'Loading your records…';
    list.replaceChildren();
    try {
      const r = await signedGet('/v1/patients/' + encodeURIComponent(ctx.me.id) + '/records');
      const views = ((r.body && r.body.records) || []).filter((v) => v.record && !v.record.erased);
      if (!views.length) {
        status.textContent = 'No records yet. When a clinician or a lab adds one, it shows here.';
        panel.dataset.state = 'empty';
        return;
      }
      const st = (await api('/v1/status')).body;
      const items = [];
      for (const v of views) {
        try {
          items.push(entry(v, await readRecord(st, v.record)));
        } catch (e) {
          items.push(entry(v, null, e.message));
        }
      }
      items.sort((a, b) => (b.dataset.when || '').localeCompare(a.dataset.when || ''));
      list.replaceChildren(...items);
      status.textContent = views.length + (views.length === 1 ? ' record' : ' records') + ', decrypted in this browser.';
      panel.dataset.state = 'loaded';
    } catch (e) {
      status.textContent = 'Your records could not be loaded. ' + sentence(e.message);
      panel.dataset.state = 'error';
    }
  }

  // Other views (a clinician's, the version history) read and render records too.
  ml.readRecord = readRecord;
  ml.describeRecord = describe;
  ml.CATEGORY = CATEGORY;

  ml.view('records', { load: loadTimeline });
})();
