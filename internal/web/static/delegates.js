// medledger portal: the patient's delegates: people who act for the
// patient (manage grants, read the access log). Listed from the patient's
// account on the ledger; added and removed by signed txs.
'use strict';

(function () {
  const { $, el, sentence, say, fail, invalid, busy, api, sendTx, formatUnix, idElement } = ml;

  const RELATION = {
    parent: 'Parent', guardian: 'Guardian', spouse: 'Spouse', partner: 'Partner', child: 'Child',
    family: 'Family member', caregiver: 'Carer', legal_representative: 'Legal representative', other: 'Other',
  };
  const ACCOUNT_ID = /^[a-z2-7]{26}$/;
  let ctx = null;

  async function load(c, section) {
    ctx = c;
    const status = $('delegates-status');
    section.dataset.state = 'loading';
    status.textContent = 'Loading your delegates…';
    try {
      const [acct, st] = await Promise.all([api('/v1/accounts/' + encodeURIComponent(c.me.id)), api('/v1/status')]);
      const now = Math.floor(Date.parse(st.body.latest_block_time) / 1000) || Math.floor(Date.now() / 1000);
      const ds = (acct.body.account.delegates || []).filter((d) => !d.expires || d.expires > now);
      $('delegate-list').replaceChildren(...ds.map(item));
      status.textContent = ds.length ? ds.length + (ds.length === 1 ? ' delegate.' : ' delegates.') : 'Nobody acts for you. Add a delegate below if someone should.';
      section.dataset.state = ds.length ? 'loaded' : 'empty';
    } catch (e) {
      status.textContent = 'Your delegates could not be loaded. ' + sentence(e.message);
      section.dataset.state = 'error';
    }
  }

  function item(d) {
    const li = el('li', 'card');
    li.dataset.delegate = d.id;
    const rel = RELATION[d.relation] || d.relation;
    li.append(el('h3', '', rel));
    const facts = ml.facts([['Account', idElement(d.id)], ['Until', d.expires ? formatUnix(d.expires) : 'No end date']]);
    const b = el('button', 'danger', 'Remove');
    b.type = 'button';
    b.setAttribute('aria-label', 'Remove ' + rel.toLowerCase() + ' ' + d.id.slice(0, 8));
    b.addEventListener('click', () => {
      if (!window.confirm('Remove this delegate? They will no longer be able to act for you.')) return;
      busy(b, 'Removing…', async () => {
        await sendTx('identity/remove_delegate', { delegate: d.id });
        await load(ctx, $('view-delegates'));
        say('The delegate was removed.');
      });
    });
    const actions = el('div', 'actions');
    actions.append(b);
    li.append(facts, actions);
    return li;
  }

  async function add(ev) {
    ev.preventDefault();
    const idIn = $('delegate-id');
    const until = $('delegate-until');
    invalid(idIn, false);
    invalid(until, false);
    const id = idIn.value.trim().toLowerCase();
    if (!ACCOUNT_ID.test(id)) {
      invalid(idIn, true);
      idIn.focus();
      fail('An account ID is 26 characters: letters a–z and digits 2–7');
      return;
    }
    if (id === ctx.me.id) {
      invalid(idIn, true);
      idIn.focus();
      fail('That is your own account');
      return;
    }
    const msg = { delegate: id, relation: $('delegate-relation').value };
    if (until.value) {
      const t = Date.parse(until.value + 'T00:00:00');
      if (isNaN(t) || t <= Date.now()) {
        invalid(until, true);
        until.focus();
        fail('Choose an end date in the future, or none');
        return;
      }
      msg.expires = Math.floor(t / 1000);
    }
    await busy($('delegate-btn'), 'Adding…', async () => {
      try {
        await api('/v1/accounts/' + id);
      } catch (e) {
        if (e.status === 404) {
          invalid(idIn, true);
          throw new Error('No account has this ID. Ask them to create their keys and register first');
        }
        throw e;
      }
      await sendTx('identity/set_delegate', msg);
      $('delegate-form').reset();
      await load(ctx, $('view-delegates'));
      say('The delegate was added. They can now act for you.');
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    const f = $('delegate-form');
    if (f) f.addEventListener('submit', add);
  });

  ml.view('delegates', { load: load });
})();
