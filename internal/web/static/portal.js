// medledger portal: the keys page.
//
// The private keys live in the crypto module (medledger's Go code compiled to
// WebAssembly) and, encrypted under the user's passphrase, in IndexedDB. This
// script moves only encrypted key files, public keys and signed txs; it never
// sees a private key.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const MIN_PASSPHRASE = 10;
  const DB_NAME = 'medledger';
  const STORE = 'keys';
  const SLOT = 'current';

  // ---- IndexedDB: one slot holding {file, id, saved}, file being the
  // encrypted key file's JSON text.

  function openDB() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function withStore(mode, op) {
    const db = await openDB();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = op(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const loadStored = () => withStore('readonly', (s) => s.get(SLOT));
  const saveStored = (rec) => withStore('readwrite', (s) => s.put(rec, SLOT));
  const deleteStored = () => withStore('readwrite', (s) => s.delete(SLOT));

  // ---- Messages and states

  const SECTIONS = ['loading', 'setup', 'unlock', 'account'];

  function show(section) {
    for (const id of SECTIONS) {
      const el = $(id);
      if (el) el.hidden = id !== section;
    }
    if (section !== 'account') $('records').hidden = true;
  }

  function sentence(s) {
    s = String(s || '').trim();
    if (!s) return s;
    s = s[0].toUpperCase() + s.slice(1);
    return /[.!?]$/.test(s) ? s : s + '.';
  }

  function say(text) {
    const m = $('message');
    m.textContent = text;
    m.hidden = !text;
    if (text) $('error').hidden = true;
  }

  function fail(text) {
    const e = $('error');
    e.textContent = sentence(text);
    e.hidden = !text;
    if (text) $('message').hidden = true;
  }

  function invalid(input, on) {
    if (on) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  // Let the browser paint the busy state before the crypto module, which
  // runs on this thread, takes it for a while (Argon2id takes a second or more).
  const nextPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

  async function busy(button, label, work) {
    const text = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = label;
    say(label);
    await nextPaint();
    try {
      await work();
    } catch (e) {
      fail(e && e.message ? e.message : String(e));
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = text;
    }
  }

  // ---- The node's API

  class NodeError extends Error {}

  async function api(path, options) {
    let resp;
    try {
      resp = await fetch(path, Object.assign({ headers: { Accept: 'application/json' } }, options));
    } catch (e) {
      throw new NodeError('The node is unreachable. Check that it is running, then try again.');
    }
    const text = await resp.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const err = new NodeError(problemText(resp.status, body));
      err.status = resp.status;
      throw err;
    }
    return { status: resp.status, body: body };
  }

  function problemText(status, p) {
    if (status === 502 || status === 503 || status === 504) {
      return 'The node is unavailable right now (HTTP ' + status + '). Try again in a moment.';
    }
    if (p && p.detail && status < 500) return 'The node refused this: ' + p.detail;
    if (status >= 500) return 'The node had an internal problem (HTTP ' + status + '). Try again in a moment.';
    return 'The node refused the request (HTTP ' + status + ').';
  }

  async function refreshNode() {
    const el = $('node-status');
    try {
      const r = await api('/v1/status');
      el.dataset.state = 'up';
      el.textContent = 'Node: ' + r.body.chain_id + ', block ' + r.body.latest_height;
    } catch (e) {
      el.dataset.state = 'down';
      el.textContent = 'Node unreachable';
    }
  }

  // ---- The crypto module

  async function loadModule(url) {
    const go = new Go();
    const ready = new Promise((resolve) => { window.medledgerReady = resolve; });
    let result;
    try {
      result = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
    } catch (e) {
      // A proxy may have changed the content type; fall back to bytes.
      const resp = await fetch(url);
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
    }
    go.run(result.instance);
    await ready;
  }

  // ---- The account

  let current = null; // public info of the unlocked key

  async function showAccount(info, text) {
    current = info;
    $('account-id').textContent = info.id;
    show('account');
    say(text);
    await refreshRegistration();
  }

  async function refreshRegistration() {
    const st = $('reg-status');
    const reg = $('register-btn');
    st.dataset.state = 'checking';
    st.textContent = 'Checking…';
    try {
      const r = await api('/v1/accounts/' + encodeURIComponent(current.id));
      const a = r.body.account;
      st.dataset.state = 'registered';
      st.textContent = a.kind === 'patient' ? 'Registered as a patient' : 'Registered (' + a.kind + ')';
      if (a.status && a.status !== 'active') st.textContent += ', ' + a.status;
      reg.hidden = true;
      if (a.kind === 'patient') await loadTimeline();
    } catch (e) {
      if (e.status === 404) {
        st.dataset.state = 'unregistered';
        st.textContent = 'Not registered yet';
        reg.hidden = false;
      } else {
        st.dataset.state = 'unknown';
        st.textContent = 'Unknown. ' + e.message;
        reg.hidden = true;
      }
    }
  }

  // ---- The timeline: the patient's records, read through the node (which
  // logs each read) and decrypted here.

  const READ_PURPOSE = 'personal';

  const CATEGORY = {
    lab: 'Lab result', vitals: 'Vital signs', condition: 'Condition', medication: 'Medication',
    immunization: 'Immunization', encounter: 'Visit', claim: 'Claim', procedure: 'Procedure',
    allergy: 'Allergy', imaging: 'Imaging', note: 'Note', document: 'Document',
  };

  async function signedGet(path) {
    const h = await medledger.signRequest('GET', path);
    return api(path, {
      headers: {
        Accept: 'application/json',
        'X-Medledger-Account': h.account,
        'X-Medledger-Time': h.time,
        'X-Medledger-Signature': h.signature,
      },
    });
  }

  async function readRecord(status, record) {
    const tx = await medledger.signRead(status.chain_id, status.latest_height, current.id, record.id, 0, READ_PURPOSE);
    let resp;
    try {
      resp = await fetch('/v1/read', { method: 'POST', headers: { 'Content-Type': 'application/cbor' }, body: tx });
    } catch (e) {
      throw new NodeError('The node is unreachable. Check that it is running, then try again.');
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

  function formatDate(s) {
    const d = new Date(s);
    if (!s || isNaN(d)) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text; // never HTML: record content is untrusted
    return e;
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

  async function loadTimeline() {
    const panel = $('records');
    const list = $('timeline');
    const status = $('records-status');
    panel.hidden = false;
    panel.dataset.state = 'loading';
    status.textContent = 'Loading your records…';
    list.replaceChildren();
    try {
      const r = await signedGet('/v1/patients/' + encodeURIComponent(current.id) + '/records');
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

  async function showLocked(rec) {
    current = null;
    $('locked-id').textContent = rec.id;
    show('unlock');
  }

  function wire() {
    $('create-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const p1 = $('create-pass');
      const p2 = $('create-pass2');
      invalid(p1, false);
      invalid(p2, false);
      if (p1.value.length < MIN_PASSPHRASE) {
        invalid(p1, true);
        fail('The passphrase must be at least ' + MIN_PASSPHRASE + ' characters');
        p1.focus();
        return;
      }
      if (p1.value !== p2.value) {
        invalid(p2, true);
        fail('The two passphrases differ');
        p2.focus();
        return;
      }
      await busy($('create-btn'), 'Creating and encrypting your keys…', async () => {
        const info = await medledger.generateKeys();
        const file = await medledger.exportKeyFile(p1.value);
        await saveStored({ file: new TextDecoder().decode(file), id: info.id, saved: new Date().toISOString() });
        p1.value = '';
        p2.value = '';
        await showAccount(info, 'Your keys were created and stored in this browser, encrypted with your passphrase.');
        $('account-h').focus();
      });
    });

    $('import-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fileInput = $('import-file');
      const pass = $('import-pass');
      const file = fileInput.files[0];
      if (!file) {
        invalid(fileInput, true);
        fail('Choose a key file to import');
        fileInput.focus();
        return;
      }
      invalid(fileInput, false);
      if (file.size > 1 << 20) {
        fail('That file is too large to be a key file');
        return;
      }
      await busy($('import-btn'), 'Checking the key file…', async () => {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const info = await medledger.importKeyFile(bytes, pass.value);
        // The file is already encrypted under this passphrase: keep it as it is.
        await saveStored({ file: new TextDecoder().decode(bytes), id: info.id, saved: new Date().toISOString() });
        pass.value = '';
        await showAccount(info, 'The key file was imported and stored in this browser.');
        $('account-h').focus();
      });
    });

    $('unlock-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const pass = $('unlock-pass');
      invalid(pass, false);
      await busy($('unlock-btn'), 'Unlocking…', async () => {
        const rec = await loadStored();
        if (!rec) throw new Error('No keys are stored in this browser any more. Reload the page.');
        let info;
        try {
          info = await medledger.importKeyFile(new TextEncoder().encode(rec.file), pass.value);
        } catch (e) {
          invalid(pass, true);
          pass.focus();
          throw e;
        }
        pass.value = '';
        await showAccount(info, 'Unlocked.');
        $('account-h').focus();
      });
    });

    $('forget-btn').addEventListener('click', async () => {
      if (!window.confirm('Delete the keys stored in this browser? Without a key file, the account cannot be used again.')) return;
      await deleteStored();
      await medledger.lock();
      current = null;
      show('setup');
      say('The stored keys were deleted from this browser.');
    });

    $('register-btn').addEventListener('click', async () => {
      await busy($('register-btn'), 'Registering…', async () => {
        const info = await medledger.publicKeys();
        if (!info) throw new Error('Unlock your keys first');
        const status = await api('/v1/status');
        const nonce = await api('/v1/accounts/' + encodeURIComponent(info.id) + '/nonce');
        const msg = JSON.stringify({ keys: { signing_key: info.signing_key, encryption_key: info.encryption_key } });
        const tx = await medledger.signTx(status.body.chain_id, nonce.body.nonce + 1, 'identity/register_patient', msg);
        const r = await api('/v1/txs?wait=commit', {
          method: 'POST',
          headers: { 'Content-Type': 'application/cbor', Accept: 'application/json' },
          body: tx,
        });
        await refreshRegistration();
        if (r.status === 202) say('The registration was accepted and will show once the next block commits.');
        else say('You are registered as a patient.');
      });
    });

    $('download-btn').addEventListener('click', async () => {
      const rec = await loadStored();
      if (!rec) {
        fail('No key file is stored in this browser');
        return;
      }
      const url = URL.createObjectURL(new Blob([rec.file], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = 'medledger-' + rec.id.slice(0, 8) + '.key';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      say('The key file was downloaded. It is encrypted with your passphrase.');
    });

    $('lock-btn').addEventListener('click', async () => {
      await medledger.lock();
      const rec = await loadStored();
      if (rec) await showLocked(rec);
      else show('setup');
      say('Locked. Your keys are no longer in this page\'s memory.');
    });
  }

  // ---- Start

  function markReady() {
    // The time from navigation to an interactive page, in milliseconds.
    document.body.dataset.ready = String(Math.round(performance.now()));
  }

  async function start() {
    refreshNode();
    setInterval(refreshNode, 15000);
    const url = document.body.dataset.wasm;
    if (!url) {
      markReady(); // the page already says the module is missing
      return;
    }
    try {
      await loadModule(url);
    } catch (e) {
      show(null);
      fail('The crypto module could not be loaded (' + e.message + '). Reload the page; if this persists, rebuild the node with make build');
      markReady();
      return;
    }
    wire();
    let rec = null;
    try {
      rec = await loadStored();
    } catch (e) {
      show('setup');
      fail('This browser does not let the page store keys (IndexedDB is unavailable; private windows often block it)');
      markReady();
      return;
    }
    if (rec) await showLocked(rec);
    else show('setup');
    markReady();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
