// medledger portal: the pack verification page, for pharmacists and the
// public. It sends what was scanned or typed, as it is, to the node's
// GET /v1/supply/verify?code=..., which reads every form a pack is named by
// (EPC URN, GS1 Digital Link, GS1 element string), and shows the verdict,
// the product, its custody and its custody trail. The address keeps the
// code (/verify?code=...), so a result can be shared or bookmarked, and
// opening such an address verifies at once.
'use strict';

(function () {
  const { $, el, say, fail, invalid, busy, api, formatUnix } = ml;
  const GS = '\x1d';

  // What each flag means for the person at the counter.
  const REASONS = {
    unknown_serial: 'Never commissioned — possible counterfeit',
    unknown_product: 'Unknown product — no product is registered under this GTIN',
    dispensed: 'Already dispensed',
    decommissioned: 'Taken out of the supply chain',
    missing: 'Missing — shipped and never received',
    recalled: 'Recalled',
    expired: 'Expired',
    custody_gap: 'Custody gap — seen where the ledger says it is not',
    cloned: 'Possible clone — the same serial was seen in two places',
    excursion: 'Cold-chain excursion',
  };

  const STATUS = {
    active: 'In stock',
    in_transit: 'In transit',
    dispensed: 'Dispensed',
    decommissioned: 'Decommissioned',
    missing: 'Missing',
    unknown: 'Never commissioned',
  };

  // What a custody trail event was, by its CBV business step.
  const STEPS = {
    commissioning: 'Commissioned',
    packing: 'Packed into a case',
    unpacking: 'Unpacked from its case',
    shipping: 'Shipped',
    receiving: 'Received',
    dispensing: 'Dispensed',
    holding: 'Recalled',
    decommissioning: 'Decommissioned',
    destroying: 'Destroyed',
    inspecting: 'Inspected',
    storing: 'Stored',
    stocking: 'Stocked',
    retail_selling: 'Sold',
  };

  const words = (s) => {
    s = String(s || '').replace(/_/g, ' ');
    return s ? s[0].toUpperCase() + s.slice(1) : s;
  };

  // verdict judges a verification: ok (green), wait (genuine but not yet
  // to be dispensed) or bad (red), with a title and the reasons.
  function verdict(v) {
    const reasons = (v.flags || []).map((f) => ({ title: REASONS[f.code] || words(f.code), detail: ml.sentence(f.detail) }));
    const mislabelled = v.label && !v.label.matches;
    if (mislabelled) {
      reasons.push({ title: 'Label does not match the ledger — possible relabelled or counterfeit pack', detail: ml.sentence(v.label.detail) });
    }
    if (v.suspect || mislabelled || v.status === 'unknown' || !v.authentic) {
      if (!reasons.length) reasons.push({ title: 'Not shown to be genuine', detail: 'The ledger does not confirm this pack.' });
      return { kind: 'bad', icon: '✕', title: 'Do not dispense', reasons };
    }
    if (v.sscc) {
      return { kind: 'ok', icon: '✓', title: 'Genuine logistic unit', reasons };
    }
    if (v.status === 'in_transit') {
      reasons.push({ title: 'Still in transit', detail: 'The ledger shows this pack in shipment ' + v.shipment + ', not yet received. Receive the shipment before dispensing from it.' });
      return { kind: 'wait', icon: '!', title: 'Genuine — not yet received', reasons };
    }
    return { kind: 'ok', icon: '✓', title: 'Genuine — OK to dispense', reasons };
  }

  function fact(dl, term, value, cls) {
    if (value === undefined || value === null || value === '') return;
    dl.append(el('dt', '', term));
    const dd = el('dd', cls || '');
    if (value instanceof Node) dd.append(value);
    else dd.textContent = String(value);
    dl.append(dd);
  }

  const code = (text) => el('code', 'id', text);

  function productName(p) {
    return [p.name, p.strength, p.form].filter(Boolean).join(' ');
  }

  // A trail event in words: what happened, and where or by whom.
  function eventText(ev) {
    let what = STEPS[ev.biz_step] || words(ev.biz_step);
    if (ev.biz_step === 'holding' && ev.disposition !== 'recalled') what = 'Held';
    let where = ev.org ? 'by ' + ev.org : '';
    switch (ev.biz_step) {
      case 'commissioning':
        if (ev.lot) what += ', lot ' + ev.lot + (ev.expiry ? ', expiry ' + ev.expiry : '');
        break;
      case 'shipping':
        if (ev.source && ev.dest) where = 'from ' + ev.source + ' to ' + ev.dest;
        break;
      case 'receiving':
        if (ev.source) where = (ev.org ? 'by ' + ev.org + ' ' : '') + 'from ' + ev.source;
        break;
      case 'packing':
      case 'unpacking':
        if (ev.parent) what += ' ' + ev.parent;
        break;
    }
    const more = [];
    if (ev.shipment) more.push('shipment ' + ev.shipment);
    if (ev.read_point) more.push('at location ' + ev.read_point);
    if (ev.reason) more.push(ev.reason);
    return { what, where, more: more.join(' · ') };
  }

  function render(r) {
    const v = r.body;
    const d = verdict(v);
    const result = $('result');
    result.dataset.verdict = d.kind;
    $('verdict-icon').textContent = d.icon;
    $('verdict-title').textContent = d.title;
    const reasons = $('reasons');
    reasons.replaceChildren();
    for (const x of d.reasons) {
      const li = el('li');
      li.append(el('strong', '', x.title));
      if (x.detail) li.append(el('span', 'detail', x.detail));
      reasons.append(li);
    }

    const product = $('product');
    product.replaceChildren();
    if (v.product) {
      fact(product, 'Name', productName(v.product));
      fact(product, 'Manufacturer', v.product.owner);
      fact(product, 'National code', v.product.national_code);
    } else if (v.gtin) {
      fact(product, 'Name', 'No product is registered under this GTIN');
    }
    fact(product, 'GTIN', v.gtin && code(v.gtin));
    fact(product, 'Serial', v.serial && code(v.serial));
    fact(product, 'SSCC', v.sscc && code(v.sscc));
    if (v.lot) fact(product, 'Lot', v.lot.lot + (v.lot.recall ? ' (recalled)' : ''));
    const expired = (v.flags || []).some((f) => f.code === 'expired');
    fact(product, 'Expiry', v.expiry && v.expiry + (expired ? ' (expired)' : ''));
    fact(product, 'Identifier', code(v.epc));
    if (v.label) {
      const printed = [v.label.lot && 'lot ' + v.label.lot, v.label.expiry && 'expiry ' + v.label.expiry].filter(Boolean).join(', ');
      fact(product, 'On the label', printed + (v.label.matches ? ' — matches the ledger' : ' — does not match the ledger'));
    }

    const custody = $('custody');
    custody.replaceChildren();
    let status = STATUS[v.status] || words(v.status);
    if (v.status === 'in_transit' && v.shipment) status += ' in shipment ' + v.shipment;
    fact(custody, 'Status', status);
    fact(custody, 'Custodian', v.custodian);
    for (const c of v.containers || []) fact(custody, 'Inside', code(c));
    for (const s of v.status === 'unknown' ? v.sightings || [] : []) {
      fact(custody, 'Seen', 'by ' + s.org + ' at block ' + s.height);
    }

    const trail = $('trail');
    trail.replaceChildren();
    for (const ev of v.trail || []) {
      const t = eventText(ev);
      const li = el('li', 'step');
      li.dataset.step = ev.biz_step;
      const when = el('time', 'when', formatUnix(ev.event_time || ev.record_time));
      when.dateTime = new Date((ev.event_time || ev.record_time) * 1000).toISOString();
      li.append(when, el('span', 'what', t.what));
      if (t.where) li.append(el('span', 'where', t.where));
      if (t.more) li.append(el('span', 'more', t.more));
      trail.append(li);
    }
    $('trail-empty').hidden = (v.trail || []).length > 0;
    $('checked').textContent = 'Checked against the ledger at block ' + r.body.height + (r.body.time ? ', ' + ml.formatDate(r.body.time) : '') + '.';
    result.hidden = false;
  }

  // A refusal of the code in words: what was wrong with it.
  function readError(e) {
    if (e instanceof ml.NodeError && (e.status === 400 || e.status === 422)) {
      let detail = (e.problem && e.problem.detail) || '';
      detail = detail.replace(/^gs1: /, '').replace(/^element string: /, '')
        .replace(/: check digit is (\d), want (\d)$/, ': its check digit is $1 but should be $2, so a digit was misread or mistyped');
      return 'This is not a pack code that can be read. ' + ml.sentence(detail) + ' Check the code and scan it again, or type the identifier printed on the pack.';
    }
    return e && e.message ? e.message : String(e);
  }

  // One verification runs at a time; a scan made while one is under way
  // waits for it, then runs (the last such scan only).
  let running = false;
  let queued = null;

  async function verify(text, push) {
    if (running) {
      queued = [text, push];
      return;
    }
    running = true;
    try {
      await verifyNow(text, push);
    } finally {
      running = false;
    }
    if (queued) {
      const [t, p] = queued;
      queued = null;
      verify(t, p);
    }
  }

  async function verifyNow(text, push) {
    const input = $('code');
    const button = $('verify-btn');
    const result = $('result');
    text = text.trim();
    invalid(input, false);
    fail('');
    if (!text) {
      result.hidden = true;
      invalid(input, true);
      document.body.dataset.state = 'error';
      fail('Scan the pack, or type its code, first.');
      input.focus();
      return;
    }
    const url = '/verify?code=' + encodeURIComponent(text);
    if (push && location.pathname + location.search !== url) history.pushState({ code: text }, '', url);
    result.hidden = true;
    result.dataset.verdict = '';
    document.body.dataset.state = 'busy';
    await busy(button, 'Verifying…', async () => {
      try {
        const r = await api('/v1/supply/verify?code=' + encodeURIComponent(text));
        render(r);
        say('');
        ml.refreshNode();
        document.body.dataset.state = 'done';
      } catch (e) {
        if (e instanceof ml.NodeError && (e.status === 400 || e.status === 422)) invalid(input, true);
        document.body.dataset.state = 'error';
        throw new Error(readError(e));
      }
    });
    // Ready for the next scan: the scanner's text replaces this one.
    input.focus();
    input.select();
  }

  function fromAddress() {
    const q = new URLSearchParams(location.search).get('code');
    $('code').value = q || '';
    if (q) verify(q, false);
    else {
      $('result').hidden = true;
      fail('');
    }
  }

  // A keyboard-wedge scanner types the GS separator (ASCII 29) that ends a
  // variable-length value as Ctrl+] or as the character itself; browsers
  // insert no text for either, so the page puts the character in the field.
  function onKey(ev) {
    const gs = ev.key === GS || (ev.ctrlKey && !ev.altKey && !ev.metaKey && (ev.key === ']' || ev.code === 'BracketRight'));
    if (!gs) return;
    ev.preventDefault();
    const input = ev.target;
    input.setRangeText(GS, input.selectionStart, input.selectionEnd, 'end');
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('code').addEventListener('keydown', onKey);
    $('verify-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      verify($('code').value, true);
    });
    window.addEventListener('popstate', fromAddress);
    fromAddress();
    ml.markReady();
  });
})();
