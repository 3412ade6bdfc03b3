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
