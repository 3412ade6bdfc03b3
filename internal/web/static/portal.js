// medledger portal: the account page. It makes, imports, unlocks and locks
// the keys, registers a patient, and shows the views of the unlocked account
// (records.js, grants.js and the others) as tabs.
//
// The private keys live in the crypto module (medledger's Go code compiled to
// WebAssembly) and, encrypted under the user's passphrase, in IndexedDB. This
// script moves only encrypted key files, public keys and signed txs; it never
// sees a private key.
'use strict';

(function () {
  const { $, el, say, fail, invalid, busy, api, sendTx, loadModule, markReady } = ml;
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

  // ---- States: one of the keys sections shows at a time; the views of
  // an unlocked, registered account show under the account section.

  const SECTIONS = ['loading', 'setup', 'unlock', 'account'];

  function show(section) {
    for (const id of SECTIONS) {
      const e = $(id);
      if (e) e.hidden = id !== section;
    }
    if (section !== 'account') hideViews();
  }

  // ---- Views. Each view is a section.view in the page (templates/*.html),
  // data-kinds listing the account kinds it serves and data-label its tab,
  // and a script that registers what it does when shown:
  //
  //   ml.view('grants', { load: async (ctx) => { ... } })
  //
  // ctx is {me, account}: the unlocked key's public info and the account as
  // the ledger holds it. The view shown is the one the URL's fragment names.

  const views = {};
  ml.view = (id, impl) => { views[id] = impl; };
  let ctx = null;

  function viewSections() {
    return Array.from(document.querySelectorAll('section.view'));
  }

  function hideViews() {
    ctx = null;
    for (const s of viewSections()) s.hidden = true;
    $('views-nav').hidden = true;
  }

  function available() {
    if (!ctx) return [];
    return viewSections().filter((s) => (s.dataset.kinds || '').split(' ').includes(ctx.account.kind));
  }

  async function showViews(me, account) {
    ctx = { me: me, account: account };
    const tabs = available().map((s) => {
      const id = s.id.replace(/^view-/, '');
      const a = el('a', '', s.dataset.label);
      a.href = '#' + id;
      a.dataset.view = id;
      const li = el('li');
      li.append(a);
      return li;
    });
    $('views-tabs').replaceChildren(...tabs);
    $('views-nav').hidden = tabs.length < 2;
    await route();
  }

  // route shows the view the fragment names, or the first one, and loads it.
  async function route() {
    const list = available();
    if (!list.length) return;
    const want = 'view-' + location.hash.slice(1);
    const section = list.find((s) => s.id === want) || list[0];
    const id = section.id.replace(/^view-/, '');
    for (const s of viewSections()) s.hidden = s !== section;
    for (const a of $('views-tabs').querySelectorAll('a')) {
      if (a.dataset.view === id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const impl = views[id];
    if (impl && impl.load) {
      try {
        await impl.load(ctx, section);
      } catch (e) {
        fail(e && e.message ? e.message : String(e));
      }
    }
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
      await showViews(current, a);
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
    window.addEventListener('hashchange', () => { if (ctx) route(); });

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
        const r = await sendTx('identity/register_patient', { keys: { signing_key: info.signing_key, encryption_key: info.encryption_key } });
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

  async function start() {
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
