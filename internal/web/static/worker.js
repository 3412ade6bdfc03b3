// medledger portal: the crypto module's worker. The module (medledger's Go
// code compiled to WebAssembly) runs here, off the page's thread, so that
// Argon2id on a passphrase or sealing a record never freezes the page. The
// page calls it through ml.loadModule's proxy: each message names one of the
// module's functions and its arguments, and the answer is its result or
// its error's message. Private keys live in this worker's memory only.
'use strict';

let ready = null;

async function start(exec, wasm) {
  importScripts(exec);
  const go = new Go();
  const loaded = new Promise((resolve) => { self.medledgerReady = resolve; });
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch(wasm), go.importObject);
  } catch (e) {
    // A proxy may have changed the content type; fall back to bytes.
    const resp = await fetch(wasm);
    if (!resp.ok) throw new Error('HTTP ' + resp.status);
    result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  }
  go.run(result.instance);
  await loaded;
  return Object.keys(self.medledger);
}

self.onmessage = async (ev) => {
  const m = ev.data;
  try {
    let value;
    if (m.init) {
      ready = start(m.exec, m.wasm);
      value = await ready;
    } else {
      if (!ready) throw new Error('the crypto module is not loaded');
      await ready;
      const f = self.medledger[m.fn];
      if (typeof f !== 'function') throw new Error('the crypto module has no function ' + m.fn);
      value = await f(...m.args);
    }
    self.postMessage({ id: m.id, value: value === undefined ? null : value });
  } catch (e) {
    self.postMessage({ id: m.id, error: e && e.message ? e.message : String(e) });
  }
};
