// medledger portal: what every page shares. It defines one global, ml:
// DOM helpers, messages, busy states, the node's API, and the crypto module's
// loader. Page scripts use ml and never set innerHTML: everything the node
// or a record says is shown as text.
'use strict';

window.ml = (function () {
  const $ = (id) => document.getElementById(id);

  function sentence(s) {
    s = String(s || '').trim();
    if (!s) return s;
    s = s[0].toUpperCase() + s.slice(1);
    return /[.!?]$/.test(s) ? s : s + '.';
  }

  // say and fail write the page's status and error boxes (#message and
  // #error), one at a time.
  function say(text) {
    const m = $('message');
    if (!m) return;
    m.textContent = text;
    m.hidden = !text;
    if (text && $('error')) $('error').hidden = true;
  }

  function fail(text) {
    const e = $('error');
    if (!e) return;
    e.textContent = sentence(text);
    e.hidden = !text;
    if (text && $('message')) $('message').hidden = true;
  }

  function invalid(input, on) {
    if (on) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  // Let the browser paint the busy state before the crypto module, which
  // runs on this thread, takes it for a while (Argon2id takes a second or more).
  const nextPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

  // busy disables button, shows label on it and in the status box while
  // work runs, and shows work's error, if any, in the error box.
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

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== '') e.textContent = String(text); // never HTML
    return e;
  }

  // facts returns a description list of [term, value] pairs; a value is
  // text or a node (an account ID element, say).
  function facts(pairs) {
    const dl = el('dl', 'facts small');
    for (const [k, v] of pairs) {
      const dd = el('dd');
      if (v instanceof Node) dd.append(v);
      else dd.textContent = v;
      dl.append(el('dt', '', k), dd);
    }
    return dl;
  }

  function formatDate(s) {
    const d = new Date(s);
    if (!s || isNaN(d)) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // formatUnix formats a Unix time in seconds, as the ledger keeps times.
  const formatUnix = (sec) => (sec ? formatDate(sec * 1000) : '');

  // ---- The node's API

  class NodeError extends Error {}

  const UNREACHABLE = 'The node is unreachable. Check that it is running, then try again.';

  function problemText(status, p) {
    if (status === 502 || status === 503 || status === 504) {
      return 'The node is unavailable right now (HTTP ' + status + '). Try again in a moment.';
    }
    if (p && p.detail && status < 500) return 'The node refused this: ' + p.detail;
    if (status >= 500) return 'The node had an internal problem (HTTP ' + status + '). Try again in a moment.';
    return 'The node refused the request (HTTP ' + status + ').';
  }

  // api fetches path and parses its JSON. A refusal throws a NodeError
  // carrying the HTTP status and a sentence for the user.
  async function api(path, options) {
    let resp;
    try {
      resp = await fetch(path, Object.assign({ headers: { Accept: 'application/json' } }, options));
    } catch (e) {
      throw new NodeError(UNREACHABLE);
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
      err.problem = body;
      throw err;
    }
    return { status: resp.status, body: body };
  }

  // signedHeaders returns the headers of a request signed by the unlocked
  // key (uploads and private queries); body, if any, is signed by its hash.
  async function signedHeaders(method, path, body) {
    const h = await medledger.signRequest(method, path, body);
    return {
      Accept: 'application/json',
      'X-Medledger-Account': h.account,
      'X-Medledger-Time': h.time,
      'X-Medledger-Signature': h.signature,
    };
  }

  async function signedGet(path) {
    return api(path, { headers: await signedHeaders('GET', path) });
  }

  // sendTx signs a message with the unlocked key and submits it, waiting
  // for the block that commits it. msg is the message's JSON object.
  async function sendTx(msgType, msg) {
    const who = await medledger.publicKeys();
    if (!who) throw new Error('Unlock your keys first');
    const status = await api('/v1/status');
    const nonce = await api('/v1/accounts/' + encodeURIComponent(who.id) + '/nonce');
    const tx = await medledger.signTx(status.body.chain_id, nonce.body.nonce + 1, msgType, JSON.stringify(msg));
    return api('/v1/txs?wait=commit', {
      method: 'POST',
      headers: { 'Content-Type': 'application/cbor', Accept: 'application/json' },
      body: tx,
    });
  }

  // orgs returns the admitted organisations by ID, fetched at most once a
  // minute, or now if fresh: views name organisations rather than show
  // their IDs.
  let orgCache = null;
  async function orgs(fresh) {
    if (fresh || !orgCache || Date.now() - orgCache.at > 60000) {
      const r = await api('/v1/orgs');
      const byID = {};
      for (const o of (r.body && r.body.orgs) || []) byID[o.id] = o;
      orgCache = { at: Date.now(), byID: byID };
    }
    return orgCache.byID;
  }

  // shortID shortens an account ID for display; the full ID goes in a title.
  const shortID = (id) => (id && id.length > 12 ? id.slice(0, 8) + '…' : id || '');

  // idElement shows an account ID shortened, the full one in its title and
  // for screen readers.
  function idElement(id) {
    const c = el('code', 'id', shortID(id));
    c.title = id;
    c.setAttribute('aria-label', 'account ' + id);
    return c;
  }

  const ROLE = {
    physician: 'Physician', nurse: 'Nurse', pharmacist: 'Pharmacist', lab_technician: 'Lab technician',
    admin: 'Administrator', researcher: 'Researcher', auditor: 'Auditor', claims_officer: 'Claims officer',
  };
  const roleName = (r) => ROLE[r] || (r ? r[0].toUpperCase() + r.slice(1).replace(/_/g, ' ') : '');

  const PURPOSE = {
    treatment: 'Treatment', emergency: 'Emergency', research: 'Research', insurance: 'Insurance',
    payment: 'Payment', personal: 'Your own read',
  };
  const purposeName = (p) => PURPOSE[p] || p || '';

  // The reasons a break-glass declaration may give, in words.
  const REASON = {
    unconscious: 'The patient is unconscious', life_threatening: 'A life-threatening condition',
    unable_to_consent: 'The patient is unable to consent', emergency_surgery: 'Emergency surgery',
    other_emergency: 'Another emergency',
  };
  const reasonName = (r) => REASON[r] || r || '';

  async function refreshNode() {
    const s = $('node-status');
    if (!s) return;
    try {
      const r = await api('/v1/status');
      s.dataset.state = 'up';
      s.textContent = 'Node: ' + r.body.chain_id + ', block ' + r.body.latest_height;
    } catch (e) {
      s.dataset.state = 'down';
      s.textContent = 'Node unreachable';
    }
  }

  // ---- The crypto module

  // loadModule starts the crypto module in a worker (worker.js) and sets
  // the global medledger to a proxy with the module's functions: each
  // returns a Promise, as the module's own do, and runs off this thread.
  async function loadModule(url) {
    const body = document.body.dataset;
    const worker = new Worker(body.worker);
    const pending = new Map();
    let next = 0;
    worker.onmessage = (ev) => {
      const p = pending.get(ev.data.id);
      if (!p) return;
      pending.delete(ev.data.id);
      if (ev.data.error !== undefined) p.reject(new Error(ev.data.error));
      else p.resolve(ev.data.value);
    };
    worker.onerror = (ev) => {
      ev.preventDefault();
      for (const p of pending.values()) p.reject(new Error(ev.message || 'the crypto module stopped'));
      pending.clear();
    };
    const call = (msg) => new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve: resolve, reject: reject });
      worker.postMessage(Object.assign({ id: id }, msg));
    });
    const names = await call({ init: true, exec: body.wasmExec, wasm: url });
    const proxy = {};
    for (const name of names) proxy[name] = (...args) => call({ fn: name, args: args });
    window.medledger = Object.freeze(proxy);
  }

  // markReady records the time from navigation to an interactive page, in
  // milliseconds, for the tests to report.
  function markReady() {
    document.body.dataset.ready = String(Math.round(performance.now()));
  }

  // Every page shows the node's status and keeps it fresh.
  document.addEventListener('DOMContentLoaded', () => {
    refreshNode();
    setInterval(refreshNode, 15000);
  });

  return {
    $, el, facts, sentence, say, fail, invalid, nextPaint, busy, formatDate, formatUnix,
    NodeError, UNREACHABLE, problemText, api, signedHeaders, signedGet, sendTx, refreshNode, loadModule, markReady,
    orgs, shortID, idElement, roleName, purposeName, REASON, reasonName,
  };
})();
