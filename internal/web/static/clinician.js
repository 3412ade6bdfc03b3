// medledger portal: a clinician's views (member accounts). Patients lists
// the patients who granted the clinician or their organisation access and
// reads their records; Add a record turns a form, a note or a FHIR JSON file
// into a FHIR R4 resource, seals it here (the crypto module's sealRecord,
// the SDK's sealing) and anchors it; Emergency access declares break-glass
// and reads the patient's records for purpose "emergency".
//
// Plaintext stays in this page: the node gets ciphertext, key wraps, signed
// txs and signed read requests.
'use strict';

(function () {
  const { $, el, sentence, say, invalid, busy, api, signedGet, signedHeaders, sendTx, formatDate, formatUnix } = ml;

  // ---- Small helpers

  let myID = ''; // the unlocked account's ID, set when a view loads

  const shortID = (id) => (id && id.length > 14 ? id.slice(0, 8) + '…' + id.slice(-4) : id || '');

  function show(box, text) {
    box.textContent = text ? sentence(text) : '';
    box.hidden = !text;
  }

  const errText = (e) => (e && e.message ? e.message : String(e));

  // idCell shows an account ID shortened, with the full ID a click away.
  function idCell(id) {
    const d = el('details', 'fullid');
    const s = el('summary');
    s.append(el('code', 'id', shortID(id)), el('span', 'visually-hidden', ' (show the full ID)'));
    d.append(s, el('code', 'id', id));
    return d;
  }

  const PURPOSE = {
    treatment: 'treatment', emergency: 'emergency', research: 'research', insurance: 'insurance',
    payment: 'payment', personal: 'personal use',
  };

  // The ledger's record categories (internal/records), in words.
  const CATEGORY = {
    lab: ['Lab result', 'lab results'], 'vital-signs': ['Vital signs', 'vital signs'], observation: ['Observation', 'observations'],
    condition: ['Condition', 'conditions'], medication: ['Medication', 'medications'], immunization: ['Immunization', 'immunizations'],
    encounter: ['Visit', 'visits'], procedure: ['Procedure', 'procedures'], allergy: ['Allergy', 'allergies'],
    'care-plan': ['Care plan', 'care plans'], claim: ['Claim', 'claims'], imaging: ['Imaging', 'imaging'],
    document: ['Document', 'documents'], device: ['Device', 'devices'], demographics: ['Demographics', 'demographics'],
    provenance: ['Provenance', 'provenance'], other: ['Record', 'other records'],
  };
  const categoryName = (c) => (CATEGORY[c] ? CATEGORY[c][0] : c || 'Record');

  function scopeText(s) {
    if (!s || s.all) return 'All records';
    const parts = [];
    if ((s.categories || []).length) {
      parts.push(s.categories.map((c) => (CATEGORY[c] ? CATEGORY[c][1] : c)).join(', '));
    }
    if ((s.resource_types || []).length) parts.push('FHIR ' + s.resource_types.join(', '));
    if ((s.records || []).length) parts.push(s.records.length === 1 ? 'one record' : s.records.length + ' records');
    const t = parts.join('; ');
    return t ? t[0].toUpperCase() + t.slice(1) : 'No records';
  }

  const describe = (r) => ml.describeRecord(r);

  // readError words the node's refusals a reader can act on.
  function readError(text) {
    if (/no key wrap for your key/.test(text)) {
      return 'Its key has not been shared with you yet. The patient\'s app shares it when it next syncs ' +
        '(after an emergency declaration, the author organisation\'s node does)';
    }
    return text;
  }

  function entry(v, opened, error, byOrg) {
    const rec = v.record;
    const org = rec.author_org && byOrg && byOrg[rec.author_org] ? byOrg[rec.author_org].name : rec.author_org;
    const li = el('li', 'entry');
    li.dataset.record = rec.id;
    const kind = categoryName(rec.category);
    const meta = kind + (org ? ' · from ' + org : '') + (rec.author === myID ? ' (by you)' : '') + ' · version ' + rec.latest;
    if (error) {
      li.classList.add('failed');
      li.append(el('h4', '', kind), el('p', 'value', 'Could not be read. ' + sentence(readError(error))), el('p', 'meta', meta));
      return li;
    }
    const d = describe(opened.resource);
    const when = formatDate(d.when) || formatUnix(rec.created);
    const w = el('p', 'when');
    const time = el('time', '', when);
    if (d.when) time.dateTime = d.when;
    w.append(time);
    li.append(w, el('h4', '', d.title));
    if (d.value) li.append(el('p', d.note ? 'note-text' : 'value', d.value));
    li.append(el('p', 'meta', meta));
    li.dataset.when = d.when || '';
    return li;
  }

  // readAll lists the patient's records the signer may read for purpose,
  // reads each through the node (which logs the read) and renders it into
  // list. It retries records whose key is not yet wrapped for this reader
  // for up to wait milliseconds (after break-glass, the organisation's
  // escrow re-wraps them a block or two later). It returns the counts.
  async function readAll(patient, purpose, list, status, wait) {
    status.textContent = 'Loading the records…';
    list.replaceChildren();
    const path = '/v1/patients/' + encodeURIComponent(patient) + '/records?purpose=' + encodeURIComponent(purpose);
    const deadline = Date.now() + (wait || 0);
    let views;
    for (;;) {
      const r = await signedGet(path);
      views = ((r.body && r.body.records) || []).filter((v) => v.record && !v.record.erased);
      // A declaration that was accepted but not yet committed lists nothing.
      if (views.length || Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    if (!views.length) {
      status.textContent = purpose === 'emergency'
        ? 'This patient has no records on the ledger yet.'
        : 'No records you may read for ' + (PURPOSE[purpose] || purpose) + ' yet.';
      return { total: 0, read: 0 };
    }
    const opened = new Map();
    const failed = new Map();
    for (;;) {
      const st = (await api('/v1/status')).body;
      for (const v of views) {
        if (opened.has(v.record.id)) continue;
        try {
          opened.set(v.record.id, await ml.readRecord(st, v.record, purpose));
          failed.delete(v.record.id);
        } catch (e) {
          failed.set(v.record.id, errText(e));
        }
      }
      if (!failed.size || Date.now() >= deadline) break;
      status.textContent = 'Waiting for the keys to ' + failed.size + (failed.size === 1 ? ' record' : ' records') + '…';
      await new Promise((res) => setTimeout(res, 1000));
    }
    let byOrg = {};
    try {
      byOrg = await ml.orgs();
    } catch (e) {
      byOrg = {}; // organisation IDs instead of names
    }
    const items = views.map((v) => entry(v, opened.get(v.record.id), failed.get(v.record.id), byOrg));
    items.sort((a, b) => (b.dataset.when || '').localeCompare(a.dataset.when || ''));
    list.replaceChildren(...items);
    const n = views.length;
    status.textContent = n + (n === 1 ? ' record' : ' records') + ', ' + opened.size + ' read and decrypted in this browser' +
      (failed.size ? '; ' + failed.size + ' could not be read.' : '.');
    return { total: n, read: opened.size };
  }

  // ---- Patients

  let patients = []; // [{id, grants: [...]}] of the grants in force

  async function loadGrants() {
    const r = await signedGet('/v1/grants/received');
    const now = Date.now() / 1000;
    const byPatient = new Map();
    for (const g of (r.body && r.body.grants) || []) {
      if (g.revoked || g.expires <= now) continue;
      if (!byPatient.has(g.patient)) byPatient.set(g.patient, { id: g.patient, grants: [] });
      byPatient.get(g.patient).grants.push(g);
    }
    patients = Array.from(byPatient.values());
    const dl = $('add-patients');
    if (dl) dl.replaceChildren(...patients.map((p) => { const o = el('option'); o.value = p.id; return o; }));
    return patients;
  }

  function grantLine(g) {
    const li = el('li');
    const who = g.grantee && g.grantee.org ? 'your organisation' : 'you';
    li.append(
      el('span', 'purpose', 'For ' + (PURPOSE[g.purpose] || g.purpose)),
      document.createTextNode(' · ' + scopeText(g.scope) + ' · granted to ' + who + ' · until ' + formatUnix(g.expires)),
    );
    if (g.max_reads) li.append(document.createTextNode(' · ' + (g.reads || 0) + ' of ' + g.max_reads + ' reads used'));
    return li;
  }

  function patientCard(p) {
    const li = el('li', 'patient');
    li.dataset.patient = p.id;
    const head = el('div', 'patient-head');
    head.append(el('span', 'label', 'Patient'), idCell(p.id));
    const grants = el('ul', 'grants');
    grants.append(...p.grants.map(grantLine));
    const actions = el('div', 'actions');
    const purposes = Array.from(new Set(p.grants.map((g) => g.purpose)));
    for (const purpose of purposes) {
      const b = el('button', 'open', purposes.length > 1 ? 'Show records (' + (PURPOSE[purpose] || purpose) + ')' : 'Show records');
      b.type = 'button';
      b.dataset.purpose = purpose;
      b.setAttribute('aria-label', b.textContent + ' of patient ' + shortID(p.id));
      b.addEventListener('click', () => busy(b, 'Reading records…', () => openPatient(p.id, purpose)));
      actions.append(b);
    }
    li.append(head, grants, actions);
    return li;
  }

  async function openPatient(id, purpose) {
    const detail = $('patient-detail');
    detail.hidden = false;
    detail.dataset.patient = id;
    detail.dataset.state = 'loading';
    $('patient-detail-id').textContent = id;
    $('patient-detail-purpose').textContent = PURPOSE[purpose] || purpose;
    $('patient-detail-h').focus();
    try {
      const n = await readAll(id, purpose, $('patient-records'), $('patient-records-status'), 0);
      detail.dataset.state = n.total ? 'loaded' : 'empty';
    } catch (e) {
      $('patient-records-status').textContent = 'The records could not be loaded. ' + sentence(errText(e));
      detail.dataset.state = 'error';
    }
    say('');
  }

  async function loadPatients(ctx, panel) {
    myID = ctx.me.id;
    const list = $('patients-list');
    const status = $('patients-status');
    panel.dataset.state = 'loading';
    status.textContent = 'Loading the patients who granted you access…';
    $('patient-detail').hidden = true;
    try {
      await loadGrants();
    } catch (e) {
      status.textContent = 'Your patients could not be loaded. ' + sentence(errText(e));
      panel.dataset.state = 'error';
      return;
    }
    if (!patients.length) {
      list.replaceChildren();
      status.textContent = 'No patient has granted you or your organisation access yet. When one does, they show here.';
      panel.dataset.state = 'empty';
      return;
    }
    list.replaceChildren(...patients.map(patientCard));
    status.textContent = patients.length + (patients.length === 1 ? ' patient has' : ' patients have') + ' granted you access.';
    panel.dataset.state = 'loaded';
  }

  // ---- Sealing and anchoring, as the SDK's PutRecord

  // readerKeys returns the keys a new record is wrapped for besides the
  // author's own (which the crypto module adds): the patient's and the
  // author organisation's escrow key, if it has one (client.readersFor).
  async function readerKeys(ctx, patient) {
    let p;
    try {
      p = (await api('/v1/accounts/' + encodeURIComponent(patient))).body.account;
    } catch (e) {
      if (e.status === 404) throw new Error('No account has the patient ID ' + shortID(patient) + '. Check the ID');
      throw e;
    }
    if (p.kind !== 'patient') throw new Error('The account ' + shortID(patient) + ' is not a patient');
    const keys = [p.encryption_key];
    if (ctx.account.org) {
      const o = (await api('/v1/orgs/' + encodeURIComponent(ctx.account.org))).body.org;
      if (o && o.encryption_key) keys.push(o.encryption_key);
    }
    return keys;
  }

  async function signedPut(path, bytes) {
    const headers = await signedHeaders('PUT', path, bytes);
    headers['Content-Type'] = 'application/octet-stream';
    try {
      await api(path, { method: 'PUT', headers: headers, body: bytes });
    } catch (e) {
      if (e.status !== 409) throw e; // a wrap that is already there stays
    }
  }

  // addRecord seals content for the patient and anchors it as version 1 of
  // a new record. step(text) reports progress.
  async function addRecord(ctx, patient, content, contentType, category, step) {
    step('Looking up the patient\'s encryption key');
    const keys = await readerKeys(ctx, patient);
    step('Encrypting the record in this browser');
    const sealed = await medledger.sealRecord(new TextEncoder().encode(content), keys);
    step('Uploading the encrypted record');
    await signedPut('/v1/blobs/' + sealed.blob, sealed.ciphertext);
    const kids = Object.keys(sealed.wraps);
    step('Uploading ' + kids.length + ' key wraps (patient, you' + (keys.length > 1 ? ', your organisation\'s escrow' : '') + ')');
    for (const kid of kids) {
      await signedPut('/v1/blobs/' + sealed.blob + '/wraps/' + encodeURIComponent(kid), sealed.wraps[kid]);
    }
    step('Anchoring the record on the ledger');
    const r = await sendTx('records/anchor', {
      record: sealed.record, version: 1, patient: patient, blob: sealed.blob, size: sealed.size,
      content_type: contentType, category: category,
    });
    return { record: sealed.record, committed: r.status !== 202 };
  }

  // ---- FHIR: building resources and checking uploads

  const LOINC = 'http://loinc.org';
  const UCUM = 'http://unitsofmeasure.org';
  const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

  // Common measurements: LOINC code, name, UCUM unit, kind.
  const COMMON = [
    ['4548-4', 'Hemoglobin A1c', '%', 'laboratory'],
    ['2345-7', 'Glucose', 'mg/dL', 'laboratory'],
    ['2093-3', 'Total cholesterol', 'mg/dL', 'laboratory'],
    ['718-7', 'Hemoglobin', 'g/dL', 'laboratory'],
    ['2160-0', 'Creatinine', 'mg/dL', 'laboratory'],
    ['6690-2', 'White blood cell count', '10*3/uL', 'laboratory'],
    ['2823-3', 'Potassium', 'mmol/L', 'laboratory'],
    ['8867-4', 'Heart rate', '/min', 'vital-signs'],
    ['8480-6', 'Systolic blood pressure', 'mm[Hg]', 'vital-signs'],
    ['8462-4', 'Diastolic blood pressure', 'mm[Hg]', 'vital-signs'],
    ['8310-5', 'Body temperature', 'Cel', 'vital-signs'],
    ['9279-1', 'Respiratory rate', '/min', 'vital-signs'],
    ['59408-5', 'Oxygen saturation (pulse oximetry)', '%', 'vital-signs'],
    ['29463-7', 'Body weight', 'kg', 'vital-signs'],
    ['8302-2', 'Body height', 'cm', 'vital-signs'],
  ];
  const OTHER = 'other';

  const fhirInstant = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

  function observation(code, name, kind, value, unit, ucum, when) {
    const q = { value: value, unit: unit };
    if (ucum) {
      q.system = UCUM;
      q.code = unit;
    }
    const r = {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: kind, display: kind === 'laboratory' ? 'Laboratory' : 'Vital Signs' }] }],
      code: { coding: [{ system: LOINC, code: code, display: name }], text: name },
      effectiveDateTime: fhirInstant(when),
      issued: fhirInstant(new Date()),
      valueQuantity: q,
    };
    if (!unit) delete q.unit;
    return r;
  }

  function base64UTF8(text) {
    const bytes = new TextEncoder().encode(text);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  function note(title, text) {
    const now = fhirInstant(new Date());
    return {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }], text: title },
      date: now,
      description: title,
      content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: base64UTF8(text), title: title, creation: now } }],
    };
  }

  // The FHIR R4 resource types this page adds, by medledger category
  // (internal/fhir's Categorize); Observation and DiagnosticReport are
  // categorised by their content.
  const TYPE_CATEGORY = {
    Condition: 'condition', MedicationRequest: 'medication', MedicationStatement: 'medication',
    MedicationAdministration: 'medication', MedicationDispense: 'medication', Medication: 'medication',
    Immunization: 'immunization', ImmunizationRecommendation: 'immunization', ImmunizationEvaluation: 'immunization',
    Encounter: 'encounter', EpisodeOfCare: 'encounter', Procedure: 'procedure', AllergyIntolerance: 'allergy',
    CarePlan: 'care-plan', CareTeam: 'care-plan', Goal: 'care-plan', Claim: 'claim', ClaimResponse: 'claim',
    ExplanationOfBenefit: 'claim', Coverage: 'claim', ImagingStudy: 'imaging', Media: 'imaging',
    DocumentReference: 'document', Composition: 'document', Device: 'device', DeviceUseStatement: 'device',
    DeviceRequest: 'device', Patient: 'demographics', Provenance: 'provenance',
    Observation: null, DiagnosticReport: null,
    FamilyMemberHistory: 'other', ServiceRequest: 'other', ClinicalImpression: 'other', RiskAssessment: 'other',
    Specimen: 'other', QuestionnaireResponse: 'other', Communication: 'other', NutritionOrder: 'other',
  };
  const IMAGING_SECTIONS = ['RAD', 'RX', 'CT', 'NMR', 'NMS', 'RUS', 'OUS', 'CUS', 'VUS', 'XRC', 'LP29684-5'];

  // Required elements (FHIR R4 cardinality 1..1 or 1..*) of the common types.
  const REQUIRED = {
    Observation: ['status', 'code'], DiagnosticReport: ['status', 'code'], Condition: ['subject'],
    MedicationRequest: ['status', 'intent', 'subject'], MedicationStatement: ['status', 'subject'],
    Immunization: ['status', 'vaccineCode', 'patient'], Encounter: ['status', 'class'],
    Procedure: ['status', 'subject'], AllergyIntolerance: ['patient'], DocumentReference: ['status', 'content'],
  };
  const OBS_STATUS = ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'];

  const codings = (ccs) => [].concat(ccs || []).flatMap((cc) => (cc && cc.coding) || []);

  function categorize(r) {
    if (r.resourceType === 'Observation') {
      const codes = codings(r.category).map((c) => c.code);
      if (codes.includes('laboratory')) return 'lab';
      if (codes.includes('vital-signs')) return 'vital-signs';
      return 'observation';
    }
    if (r.resourceType === 'DiagnosticReport') {
      return codings(r.category).some((c) => IMAGING_SECTIONS.includes(c.code)) ? 'imaging' : 'lab';
    }
    return TYPE_CATEGORY[r.resourceType] || 'other';
  }

  // emptyPath returns the path of the first empty string or empty object
  // or list, which FHIR forbids, or ''.
  function emptyPath(v, path) {
    if (v === '' || v === null) return path;
    if (Array.isArray(v)) {
      if (!v.length) return path;
      for (let i = 0; i < v.length; i++) {
        const p = emptyPath(v[i], path + '[' + i + ']');
        if (p) return p;
      }
    } else if (typeof v === 'object') {
      const keys = Object.keys(v);
      if (!keys.length) return path;
      for (const k of keys) {
        const p = emptyPath(v[k], path + '.' + k);
        if (p) return p;
      }
    }
    return '';
  }

  // checkFHIR checks what this page can check of an uploaded resource and
  // returns {resource, json, type, category}, or throws a sentence.
  function checkFHIR(text) {
    const bad = (what) => new Error('This file cannot be added: ' + what);
    let r;
    try {
      r = JSON.parse(text);
    } catch (e) {
      throw bad('it is not valid JSON');
    }
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw bad('it is not a FHIR resource (a JSON object with a resourceType)');
    if (typeof r.resourceType !== 'string' || !r.resourceType) throw bad('it has no resourceType, so it is not a FHIR resource');
    const rt = r.resourceType;
    if (rt === 'Bundle') throw bad('it is a Bundle of many resources. Add one resource at a time, or import the Bundle with medledger import fhir');
    if (!Object.prototype.hasOwnProperty.call(TYPE_CATEGORY, rt)) {
      throw bad('"' + rt.slice(0, 40) + '" is not a FHIR R4 resource type this page adds (for example Observation, Condition, MedicationRequest, Immunization, DocumentReference)');
    }
    const empty = emptyPath(r, rt);
    if (empty) throw bad(empty + ' is empty; FHIR values must not be empty');
    if (r.id !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(String(r.id))) throw bad(rt + '.id is not a valid FHIR id');
    const missing = (REQUIRED[rt] || []).filter((k) => r[k] === undefined);
    if (missing.length) throw bad('a FHIR ' + rt + ' needs ' + missing.map((k) => rt + '.' + k).join(' and ') + ', which the file lacks');
    if (rt === 'Observation') {
      if (!OBS_STATUS.includes(r.status)) throw bad('Observation.status must be one of ' + OBS_STATUS.join(', '));
      if (!r.code.text && !codings(r.code).length) throw bad('Observation.code names no code');
    }
    return { resource: r, json: JSON.stringify(r), type: rt, category: categorize(r) };
  }

  // ---- Add a record

  function kind() {
    const c = document.querySelector('#add-form input[name="kind"]:checked');
    return c ? c.value : 'observation';
  }

  function showKind() {
    const k = kind();
    $('add-obs').hidden = k !== 'observation';
    $('add-note').hidden = k !== 'note';
    $('add-file-group').hidden = k !== 'file';
  }

  function localDateTime(d) {
    const pad = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function fillCodes() {
    const sel = $('add-code');
    if (sel.options.length) return;
    const lab = el('optgroup');
    lab.label = 'Lab results';
    const vit = el('optgroup');
    vit.label = 'Vital signs';
    for (const [code, name, unit, k] of COMMON) {
      const o = el('option', '', name + ' (LOINC ' + code + ')');
      o.value = code;
      o.dataset.unit = unit;
      (k === 'laboratory' ? lab : vit).append(o);
    }
    const other = el('option', '', 'Something else: enter a LOINC code');
    other.value = OTHER;
    sel.append(lab, vit, other);
    sel.value = COMMON[0][0];
    $('add-unit').value = COMMON[0][2];
  }

  function onCode() {
    const sel = $('add-code');
    const other = sel.value === OTHER;
    $('add-custom').hidden = !other;
    const o = sel.selectedOptions[0];
    $('add-unit').value = other ? '' : (o && o.dataset.unit) || '';
  }

  // buildFromForm returns {json, type, category, what} from the form, or
  // throws a sentence after marking the field at fault.
  async function buildFromForm() {
    const fault = (input, text) => {
      invalid(input, true);
      input.focus();
      return new Error(text);
    };
    const k = kind();
    if (k === 'observation') {
      let code = $('add-code').value;
      let name;
      let kindCode;
      let ucum = false;
      const found = COMMON.find((c) => c[0] === code);
      if (found) {
        name = found[1];
        kindCode = found[3];
        ucum = $('add-unit').value.trim() === found[2];
      } else {
        code = $('add-custom-code').value.trim();
        name = $('add-custom-name').value.trim();
        kindCode = $('add-custom-kind').value;
        if (!/^\d{1,7}-\d$/.test(code)) throw fault($('add-custom-code'), 'Enter a LOINC code such as 2093-3 (digits, a hyphen, a check digit)');
        if (!name) throw fault($('add-custom-name'), 'Enter the name of what was measured');
      }
      const raw = $('add-value').value.trim().replace(',', '.');
      if (!/^-?\d+(\.\d+)?$/.test(raw)) throw fault($('add-value'), 'Enter the value as a number, for example 6.1');
      const unit = $('add-unit').value.trim();
      if (!unit) throw fault($('add-unit'), 'Enter the unit, for example mg/dL or %');
      const whenText = $('add-when').value;
      const when = new Date(whenText);
      if (!whenText || isNaN(when)) throw fault($('add-when'), 'Enter the date and time of the measurement');
      if (when.getTime() > Date.now() + 5 * 60 * 1000) throw fault($('add-when'), 'The date and time of the measurement is in the future');
      const r = observation(code, name, kindCode, Number(raw), unit, ucum, when);
      return { json: JSON.stringify(r), type: 'Observation', category: kindCode === 'laboratory' ? 'lab' : 'vital-signs', what: name + ' ' + raw + ' ' + unit };
    }
    if (k === 'note') {
      const title = $('add-note-title').value.trim() || 'Progress note';
      const text = $('add-note-text').value.trim();
      if (text.length < 3) throw fault($('add-note-text'), 'Write the note first');
      return { json: JSON.stringify(note(title, text)), type: 'DocumentReference', category: 'document', what: title };
    }
    const input = $('add-file');
    const file = input.files[0];
    if (!file) throw fault(input, 'Choose a FHIR JSON file');
    if (file.size > 4 << 20) throw fault(input, 'This file is larger than 4 MiB; add large documents with medledger record put');
    let checked;
    try {
      checked = checkFHIR(await file.text());
    } catch (e) {
      throw fault(input, e.message);
    }
    return { json: checked.json, type: checked.type, category: checked.category, what: 'the ' + checked.type + ' from ' + file.name };
  }

  function checkPatientID(input) {
    const id = input.value.trim().toLowerCase();
    if (!id) {
      invalid(input, true);
      input.focus();
      throw new Error('Enter the patient\'s ID');
    }
    if (!/^[a-z2-7]{26}$/.test(id)) {
      invalid(input, true);
      input.focus();
      throw new Error('That is not a medledger account ID: it has 26 characters, lowercase letters and digits 2 to 7');
    }
    return id;
  }

  let addCtx = null;

  async function loadAdd(ctx) {
    addCtx = ctx;
    myID = ctx.me.id;
    fillCodes();
    if (!$('add-when').value) $('add-when').value = localDateTime(new Date());
    showKind();
    if (!patients.length) {
      try {
        await loadGrants();
      } catch (e) {
        // Suggestions only; the form works without them.
      }
    }
  }

  function wireAdd() {
    for (const r of document.querySelectorAll('#add-form input[name="kind"]')) r.addEventListener('change', showKind);
    $('add-code').addEventListener('change', onCode);
    $('add-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const result = $('add-result');
      const error = $('add-error');
      const steps = $('add-steps');
      show(result, '');
      show(error, '');
      for (const i of $('add-form').querySelectorAll('[aria-invalid]')) invalid(i, false);
      await busy($('add-btn'), 'Adding the record…', async () => {
        steps.replaceChildren();
        steps.hidden = true;
        let current = null;
        const step = (text) => {
          if (current) current.dataset.state = 'done';
          current = el('li', '', text + '…');
          current.dataset.state = 'doing';
          steps.append(current);
          steps.hidden = false;
        };
        try {
          const patient = checkPatientID($('add-patient'));
          const built = await buildFromForm();
          const added = await addRecord(addCtx, patient, built.json, built.type, built.category, step);
          if (current) current.dataset.state = 'done';
          show(result, added.committed
            ? 'Added ' + built.what + ' for patient ' + shortID(patient) + '. The patient sees it in their timeline'
            : 'Sent ' + built.what + ' for patient ' + shortID(patient) + '. It is anchored when the next block commits; the patient then sees it in their timeline');
          $('view-add').dataset.state = 'added';
          $('add-value').value = '';
          $('add-note-text').value = '';
          $('add-file').value = '';
        } catch (e) {
          if (current) current.dataset.state = 'failed';
          show(error, errText(e));
          $('view-add').dataset.state = 'error';
        }
        say('');
      });
    });
    $('patient-add-btn').addEventListener('click', () => {
      $('add-patient').value = $('patient-detail').dataset.patient || '';
      location.hash = '#add';
    });
  }

  // ---- Emergency access

  const MIN_JUSTIFICATION = 20;
  let emCtx = null;

  function wireEmergency() {
    $('emergency-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const result = $('em-result');
      const error = $('em-error');
      show(result, '');
      show(error, '');
      for (const i of $('emergency-form').querySelectorAll('[aria-invalid]')) invalid(i, false);
      const stop = (input, text) => {
        invalid(input, true);
        input.focus();
        show(error, text);
        $('view-emergency').dataset.state = 'refused';
      };
      let patient;
      try {
        patient = checkPatientID($('em-patient'));
      } catch (e) {
        show(error, e.message);
        $('view-emergency').dataset.state = 'refused';
        return;
      }
      const reason = $('em-reason').value;
      if (!reason) return stop($('em-reason'), 'Choose the reason for the emergency access. It is required');
      const why = $('em-why').value.trim();
      if (!why) return stop($('em-why'), 'Write a justification. Emergency access needs one');
      if (why.length < MIN_JUSTIFICATION) {
        return stop($('em-why'), 'The justification is too short: write at least ' + MIN_JUSTIFICATION + ' characters on what is happening and why you need the records now');
      }
      if (!$('em-confirm').checked) return stop($('em-confirm'), 'Confirm that this is an emergency and that you understand the access is logged, the patient is told, and it is reviewed');

      await busy($('em-btn'), 'Declaring the emergency…', async () => {
        const detail = $('em-detail');
        try {
          const acct = (await api('/v1/accounts/' + encodeURIComponent(patient)).catch((e) => {
            if (e.status === 404) throw new Error('No account has the patient ID ' + shortID(patient) + '. Check the ID');
            throw e;
          })).body.account;
          if (acct.kind !== 'patient') throw new Error('The account ' + shortID(patient) + ' is not a patient');
          await sendTx('consent/break_glass', { patient: patient, reason: reason, duration: Number($('em-duration').value) });
          $('view-emergency').dataset.state = 'declared';
          show(result, 'Emergency access declared and logged on the ledger. The patient is told');
          // The justification goes into the patient's record, sealed here.
          try {
            await addRecord(emCtx, patient, JSON.stringify(note('Emergency access justification', why)), 'DocumentReference', 'document', () => {});
          } catch (e) {
            show(error, 'The access was declared, but the justification could not be added to the patient\'s record. ' + sentence(errText(e)));
          }
          $('em-why').value = '';
          $('em-confirm').checked = false;
          detail.hidden = false;
          detail.dataset.state = 'loading';
          $('em-detail-id').textContent = patient;
          $('em-detail-h').focus();
          const n = await readAll(patient, 'emergency', $('em-records'), $('em-records-status'), 20000);
          detail.dataset.state = n.total ? 'loaded' : 'empty';
        } catch (e) {
          show(error, errText(e));
          if ($('view-emergency').dataset.state !== 'declared') $('view-emergency').dataset.state = 'error';
          detail.dataset.state = 'error';
        }
        say('');
      });
    });
  }

  async function loadEmergency(ctx) {
    emCtx = ctx;
    myID = ctx.me.id;
    const sel = $('em-reason');
    if (sel.options.length < 2) {
      for (const code of ['unconscious', 'life_threatening', 'unable_to_consent', 'emergency_surgery', 'other_emergency']) {
        const o = el('option', '', ml.reasonName(code));
        o.value = code;
        sel.append(o);
      }
    }
    const roles = ctx.account.roles || [];
    const allowed = roles.includes('physician') || roles.includes('nurse');
    const error = $('em-error');
    if (!allowed) show(error, 'Only a physician or nurse of a provider organisation may declare emergency access; the ledger will refuse it from this account');
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (!$('view-patients')) return;
    wireAdd();
    wireEmergency();
  });

  ml.view('patients', { load: loadPatients });
  ml.view('add', { load: loadAdd });
  ml.view('emergency', { load: loadEmergency });
})();
