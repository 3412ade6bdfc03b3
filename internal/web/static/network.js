// medledger portal: the network page, for auditors and operators. It shows
// the chain's status, validators, organisations, recent blocks and txs,
// refreshed every few seconds in place, and checks a tx's inclusion proof
// in the crypto module (medledger.checkTxProof), the same code as the CLI's.
// Everything the node says is shown as text.
'use strict';

(function () {
  const { $, el, say, fail, busy, api, formatDate, loadModule, markReady } = ml;

  const REFRESH_MS = 4000;
  const HASH_RE = /^[0-9a-fA-F]{64}$/;

  // short shortens a hex hash for a table; the full one goes in its title
  // and for screen readers.
  function hashElement(hex, label) {
    const c = el('code', 'id', hex.length > 16 ? hex.slice(0, 8) + '…' + hex.slice(-4) : hex);
    c.title = hex;
    c.setAttribute('aria-label', (label || 'hash') + ' ' + hex);
    return c;
  }

  const ORG_TYPE = {
    hospital: 'Hospital', clinic: 'Clinic', lab: 'Laboratory', pharmacy: 'Pharmacy', insurer: 'Insurer',
    manufacturer: 'Manufacturer', opo: 'Organ procurement', research: 'Research institute', regulator: 'Regulator', transplant_centre: 'Transplant centre',
    distributor: 'Distributor',
  };
  const words = (s) => (s ? s[0].toUpperCase() + s.slice(1).replace(/_/g, ' ') : '');
  const orgType = (t) => ORG_TYPE[t] || words(t);

  // msgName turns a message type (records/anchor) into words.
  function msgName(t) {
    if (!t) return 'Unknown';
    const parts = t.split('/');
    return words(parts[parts.length - 1]) + (parts.length > 1 ? ' (' + parts[0] + ')' : '');
  }

  // badge is a status in words with an icon, never colour alone.
  function badge(ok, yes, no) {
    const b = el('span', 'net-badge ' + (ok ? 'net-ok' : 'net-bad'));
    b.appendChild(el('span', 'net-icon', ok ? '✓' : '✗')).setAttribute('aria-hidden', 'true');
    b.appendChild(document.createTextNode(' ' + (ok ? yes : no)));
    return b;
  }

  function cell(row, content, cls) {
    const td = el('td', cls);
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content === undefined || content === null ? '' : String(content);
    row.appendChild(td);
    return td;
  }

  // fill replaces a table body's rows only when what they show changed, so
  // a refresh does not flicker or move the keyboard focus needlessly.
  function fill(tbody, key, rows) {
    if (tbody.dataset.key === key) return false;
    tbody.dataset.key = key;
    // Keep the keyboard focus on the same tx's button when its row is rebuilt.
    const focused = tbody.contains(document.activeElement) ? document.activeElement.dataset.hash : '';
    tbody.replaceChildren(...rows);
    if (focused && /^[0-9A-Fa-f]+$/.test(focused)) {
      const again = tbody.querySelector('button[data-hash="' + focused + '"]');
      if (again) again.focus();
    }
    return true;
  }

  function emptyRow(cols, text) {
    const tr = el('tr', 'net-empty-row');
    cell(tr, text).colSpan = cols;
    return tr;
  }

  // ---- The chain's state

  let validatorsByAddress = {}; // consensus address (hex) → {org, power}
  let orgsByID = {};

  function showStatus(st) {
    $('net-chain').textContent = st.chain_id;
    $('net-height').textContent = st.latest_height.toLocaleString();
    $('net-time').textContent = formatDate(st.latest_block_time);
    const sync = $('net-sync');
    sync.dataset.state = st.catching_up ? 'catching-up' : 'synced';
    sync.replaceChildren(badge(!st.catching_up, 'In sync: up to date with the network', 'Catching up: still downloading blocks'));
    $('net-node').textContent = st.moniker + ' · medledger ' + st.version + ' · ' + st.peers + (st.peers === 1 ? ' peer' : ' peers');
    $('net-status').dataset.state = 'loaded';
  }

  function showValidators(st, committed) {
    // Voting power is the consensus engine's (status); the organisation is
    // the ledger's record of the validator (validators), matched by key.
    const orgOfKey = {};
    for (const v of (committed && committed.validators) || []) orgOfKey[v.pub_key] = v.org || '';
    const vals = st.validators || [];
    const total = vals.reduce((s, v) => s + v.power, 0);
    validatorsByAddress = {};
    const rows = vals.map((v) => {
      const org = orgOfKey[v.pub_key] || '';
      validatorsByAddress[v.address] = { org: org };
      const tr = el('tr');
      const th = el('th');
      th.scope = 'row';
      th.appendChild(hashElement(v.address, 'validator address'));
      tr.appendChild(th);
      cell(tr, org ? orgLabel(org) : el('span', 'net-muted', 'Not linked to an organisation'));
      cell(tr, v.power.toLocaleString(), 'net-num');
      cell(tr, total ? (100 * v.power / total).toFixed(1) + ' %' : '', 'net-num');
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(4, 'The node reports no validators.'));
    fill($('net-validators-body'), JSON.stringify([vals, orgOfKey, Object.keys(orgsByID).length]), rows);
    $('net-validators-caption').textContent = vals.length === 1
      ? 'The one validator that signs blocks, with its voting power (total ' + total.toLocaleString() + ').'
      : 'The ' + vals.length + ' validators that sign blocks, with their voting power (total ' + total.toLocaleString() + ').';
    $('net-validators').dataset.state = 'loaded';
  }

  function orgLabel(id) {
    const o = orgsByID[id];
    if (!o) return id;
    const span = el('span', '', o.name);
    span.appendChild(el('span', 'net-muted', ' (' + id + ')'));
    return span;
  }

  function showOrgs(list) {
    const orgs = (list && list.orgs) || [];
    orgsByID = {};
    for (const o of orgs) orgsByID[o.id] = o;
    const rows = orgs.map((o) => {
      const tr = el('tr');
      const th = el('th', '', o.name);
      th.scope = 'row';
      tr.appendChild(th);
      cell(tr, el('code', 'id', o.id));
      cell(tr, orgType(o.type));
      const active = o.status === 'active';
      cell(tr, badge(active, words(o.status || 'unknown'), words(o.status || 'unknown')));
      return tr;
    });
    fill($('net-orgs-body'), JSON.stringify(orgs.map((o) => [o.id, o.name, o.type, o.status])), rows);
    $('net-orgs-empty').hidden = orgs.length > 0;
    $('net-orgs-body').closest('.net-scroll').hidden = orgs.length === 0;
    $('net-orgs').dataset.state = orgs.length ? 'loaded' : 'empty';
  }

  function proposer(address) {
    const v = validatorsByAddress[address];
    if (v && v.org) return orgLabel(v.org);
    return hashElement(address, 'proposer address');
  }

  function showBlocks(list) {
    const blocks = (list && list.blocks) || [];
    const rows = blocks.map((b) => {
      const tr = el('tr');
      const th = el('th', '', b.height.toLocaleString());
      th.scope = 'row';
      tr.appendChild(th);
      cell(tr, formatDate(b.time));
      cell(tr, b.num_txs, 'net-num');
      cell(tr, proposer(b.proposer_address));
      cell(tr, hashElement(b.hash, 'block hash'));
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(5, 'No blocks yet.'));
    fill($('net-blocks-body'), JSON.stringify([blocks.map((b) => b.hash), Object.keys(orgsByID).length]), rows);
    $('net-blocks').dataset.state = 'loaded';
  }

  function showTxs(list) {
    const txs = [];
    for (const b of (list && list.blocks) || []) {
      for (const tx of b.txs || []) txs.push(Object.assign({ height: b.height }, tx));
    }
    txs.reverse(); // a block's txs in order were listed newest block first
    txs.sort((a, b) => b.height - a.height);
    const recent = txs.slice(0, 15);
    const rows = recent.map((tx) => {
      const tr = el('tr');
      const th = el('th');
      th.scope = 'row';
      th.appendChild(hashElement(tx.hash, 'tx hash'));
      tr.appendChild(th);
      cell(tr, msgName(tx.type));
      cell(tr, tx.height.toLocaleString());
      cell(tr, badge(tx.code === 0, 'Succeeded', 'Failed: ' + words(tx.kind || 'code ' + tx.code)));
      const btn = el('button', 'net-check', 'Check');
      btn.type = 'button';
      btn.dataset.hash = tx.hash;
      btn.setAttribute('aria-label', 'Check the proof of tx ' + tx.hash.slice(0, 8));
      cell(tr, btn);
      return tr;
    });
    fill($('net-txs-body'), JSON.stringify(recent.map((t) => t.hash)), rows);
    $('net-txs-empty').hidden = recent.length > 0;
    $('net-txs-body').closest('.net-scroll').hidden = recent.length === 0;
    $('net-txs').dataset.state = recent.length ? 'loaded' : 'empty';
  }

  let failures = 0;
  async function refresh() {
    try {
      const [st, vals, orgs, blocks, txBlocks] = await Promise.all([
        api('/v1/status'), api('/v1/validators'), api('/v1/orgs'),
        api('/v1/blocks?limit=10'), api('/v1/blocks?limit=10&txs_only=true'),
      ]);
      showOrgs(orgs.body);
      showStatus(st.body);
      showValidators(st.body, vals.body);
      showBlocks(blocks.body);
      showTxs(txBlocks.body);
      $('net-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + '; refreshes every few seconds.';
      if (failures) fail('');
      failures = 0;
      if (!document.body.dataset.ready) markReady();
    } catch (e) {
      failures++;
      fail((e && e.message ? e.message : String(e)) + ' The figures below are from the last successful refresh.');
    }
  }

  function schedule() {
    setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, REFRESH_MS);
  }

  // ---- Proof checks

  let moduleReady = null;
  function cryptoModule() {
    if (!moduleReady) {
      const url = document.body.dataset.wasm;
      moduleReady = url
        ? loadModule(url).catch((e) => {
          moduleReady = null;
          throw new Error('The crypto module failed to load (' + e.message + '). Reload the page to try again.');
        })
        : Promise.reject(new Error('This node was built without the crypto module, so proofs cannot be checked here.'));
    }
    return moduleReady;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // waitGet fetches path, waiting a few seconds for a block that is not
  // committed yet (the one after a tx's block, right after it).
  async function waitGet(path) {
    for (let i = 0; ; i++) {
      try {
        return (await api(path)).body;
      } catch (e) {
        if (e.status !== 404 || i >= 20) throw e;
        await sleep(300);
      }
    }
  }

  // verifiedHeader checks block h's light block in the crypto module: the
  // header's hash, its validator set, and the signatures of more than two
  // thirds of that set's voting power. It returns the check's line and the
  // header it verified (null if it failed).
  async function verifiedHeader(chainID, h, which) {
    const line = { id: which, check: 'The header of ' + (which === 'header' ? 'the tx\'s block' : 'the next block') +
      ' (' + h.toLocaleString() + ') is signed by validators holding more than two thirds of the voting power' };
    try {
      const lb = await waitGet('/v1/light/' + h);
      const sb = JSON.parse(await medledger.checkLightBlock(chainID, lb.light_block));
      line.ok = true;
      line.detail = sb.signed_power.toLocaleString() + ' of ' + sb.total_power.toLocaleString() + ' voting power (' +
        sb.validators + (sb.validators === 1 ? ' validator' : ' validators') + ') signed header ' + sb.header.block_hash;
      return { line: line, header: sb.header };
    } catch (e) {
      line.ok = false;
      line.detail = e && e.message ? e.message : String(e);
      return { line: line, header: null };
    }
  }

  function showChecks(checks) {
    const ol = $('proof-checks');
    ol.replaceChildren(...checks.map((c) => {
      const li = el('li', 'net-check-line ' + (c.ok ? 'net-ok' : 'net-bad'));
      li.dataset.id = c.id;
      li.dataset.ok = String(c.ok);
      const word = el('span', 'net-word');
      word.appendChild(el('span', 'net-icon', c.ok ? '✓' : '✗')).setAttribute('aria-hidden', 'true');
      word.appendChild(document.createTextNode(' ' + (c.ok ? 'Pass' : 'Fail')));
      li.appendChild(word);
      const body = el('span', 'net-check-text');
      body.appendChild(el('span', 'net-check-what', c.check));
      body.appendChild(el('span', 'net-check-detail', ml.sentence(c.detail)));
      li.appendChild(body);
      return li;
    }));
  }

  function verdict(state, text) {
    const v = $('proof-verdict');
    v.dataset.state = state;
    v.textContent = text;
    $('proof-result').hidden = false;
    $('net-proof').dataset.state = state;
  }

  async function check(hash) {
    $('proof-result').hidden = true;
    $('proof-checks').replaceChildren();
    $('net-proof').dataset.state = 'checking';
    const input = $('proof-hash');
    hash = hash.trim().replace(/^0x/i, '');
    if (!HASH_RE.test(hash)) {
      ml.invalid(input, true);
      $('net-proof').dataset.state = 'invalid';
      input.focus();
      throw new Error('A tx hash is 64 hexadecimal characters (0-9 and A-F); check what you pasted');
    }
    ml.invalid(input, false);
    hash = hash.toUpperCase();
    let st;
    try {
      st = await api('/v1/txs/' + hash + '?prove=true');
    } catch (e) {
      if (e.status === 404) {
        $('net-proof').dataset.state = 'not-found';
        throw new Error('This node knows no tx with hash ' + hash.slice(0, 12) + '…: check the hash, or ask the node it was sent to');
      }
      throw e;
    }
    const s = st.body;
    if (s.status === 'pending') {
      $('net-proof').dataset.state = 'pending';
      throw new Error('This tx is waiting in the mempool and is not in a block yet: check again in a few seconds');
    }
    if (s.status !== 'committed' || !s.proof) {
      $('net-proof').dataset.state = 'no-proof';
      throw new Error('The node did not send a proof for this tx');
    }
    await cryptoModule();
    const chainID = (await api('/v1/status')).body.chain_id;
    const [vb, vn] = await Promise.all([verifiedHeader(chainID, s.height, 'header'), verifiedHeader(chainID, s.height + 1, 'next-header')]);
    // A header that failed its check is replaced by the node's word, so the
    // proof's own checks still say what they find; the verdict fails.
    const block = vb.header || await waitGet('/v1/headers/' + s.height);
    const next = vn.header || await waitGet('/v1/headers/' + (s.height + 1));
    const checks = [vb.line, vn.line].concat(
      await medledger.checkTxProof(hash, JSON.stringify(s), JSON.stringify(block), JSON.stringify(next)));
    showChecks(checks);
    const passed = checks.filter((c) => c.ok).length;
    if (passed === checks.length) {
      verdict('pass', '✓ Proof verified: tx ' + hash.slice(0, 12) + '… is in block ' + s.height.toLocaleString() +
        ' and its result, ' + (s.code === 0 ? 'success' : 'failure (code ' + s.code + ')') + ', is committed by block ' +
        (s.height + 1).toLocaleString() + '; both headers are signed by the validators.');
    } else {
      verdict('fail', '✗ Proof check failed: ' + (checks.length - passed) + ' of ' + checks.length +
        ' checks failed. Do not rely on what this node says about this tx.');
    }
    $('proof-verdict').focus();
  }

  document.addEventListener('DOMContentLoaded', () => {
    // run checks a hash with the button busy; an error the check did not
    // classify (the node unreachable, say) leaves the section in 'error'.
    // The error shows next to the form, where the user is looking.
    const run = (hash) => busy($('proof-btn'), 'Checking the proof…', async () => {
      const box = $('proof-error');
      box.hidden = true;
      try {
        await check(hash);
      } catch (e) {
        if ($('net-proof').dataset.state === 'checking') $('net-proof').dataset.state = 'error';
        box.textContent = ml.sentence(e && e.message ? e.message : String(e));
        box.hidden = false;
      }
    }).then(() => say(''));
    $('proof-form').addEventListener('submit', (e) => {
      e.preventDefault();
      run($('proof-hash').value);
    });
    // The Check buttons of the recent txs: one listener for the rows that
    // refreshes replace.
    $('net-txs-body').addEventListener('click', (e) => {
      const btn = e.target.closest('button.net-check');
      if (!btn) return;
      $('proof-hash').value = btn.dataset.hash;
      $('net-proof').scrollIntoView({ block: 'start' });
      run(btn.dataset.hash);
    });
    $('proof-verdict').tabIndex = -1;
    refresh().then(schedule);
    // Load the crypto module in the background: the tables do not need it.
    if (document.body.dataset.wasm) cryptoModule().catch(() => {});
  });
})();
