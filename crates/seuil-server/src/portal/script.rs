//! The one script of the portal: checks the caller's access log in the browser, with
//! WebCrypto, exactly as the server does (`seuil_vault::audit::leaf_input`,
//! `merkle::leaf_hash`, RFC 9162 inclusion verification, Ed25519 checkpoint signature).
//! Served inline and allowed by its hash in the Content-Security-Policy.

pub const VERIFY_JS: &str = r#"
(function () {
  'use strict';
  var button = document.getElementById('verify-browser');
  var out = document.getElementById('verify-result');
  if (!button || !out || !window.crypto || !crypto.subtle) { return; }
  button.hidden = false;
  var enc = new TextEncoder();
  function fromHex(h) {
    var a = new Uint8Array(h.length / 2);
    for (var i = 0; i < a.length; i++) { a[i] = parseInt(h.substr(2 * i, 2), 16); }
    return a;
  }
  function toHex(b) {
    return Array.from(b, function (x) { return x.toString(16).padStart(2, '0'); }).join('');
  }
  function concat(parts) {
    var n = 0; parts.forEach(function (p) { n += p.length; });
    var all = new Uint8Array(n), o = 0;
    parts.forEach(function (p) { all.set(p, o); o += p.length; });
    return all;
  }
  function u32(n) { var b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; }
  function u64(n) { var b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; }
  function i64(n) { var b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, BigInt(n)); return b; }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)); }
  async function leafHash(subject, at, sealed) {
    var s = enc.encode(subject);
    var input = concat([enc.encode('seuil.audit.v1'), u32(s.length), s, i64(at), sealed]);
    return sha256(concat([Uint8Array.of(0), input]));
  }
  function node(l, r) { return sha256(concat([Uint8Array.of(1), l, r])); }
  async function included(leaf, index, size, proof, root) {
    if (index >= size) { return false; }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) { return false; }
      if (fn % 2 === 1 || fn === sn) {
        r = await node(proof[i], r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, proof[i]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && toHex(r) === toHex(root);
  }
  async function signature(cp) {
    var key;
    try {
      key = await crypto.subtle.importKey('raw', fromHex(cp.log_public_key), { name: 'Ed25519' }, false, ['verify']);
    } catch (e) { return 'unsupported'; }
    var msg = concat([enc.encode('seuil.checkpoint.v1\n'), u64(cp.size), fromHex(cp.root), i64(cp.at)]);
    return (await crypto.subtle.verify({ name: 'Ed25519' }, key, fromHex(cp.signature), msg)) ? 'ok' : 'bad';
  }
  async function getJson(url) {
    var res = await fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } });
    if (!res.ok) { throw new Error(url.split('?')[0] + ' answered ' + res.status); }
    return res.json();
  }
  async function run() {
    var log = await getJson('/api/me/access-log');
    var cp = await getJson('/api/audit/checkpoint');
    var sig = await signature(cp);
    if (sig === 'bad') { throw new Error('the checkpoint signature does not verify'); }
    var root = fromHex(cp.root), n = 0, pending = 0;
    for (var i = 0; i < log.events.length; i++) {
      var ev = log.events[i];
      // The published checkpoint is signed every few seconds: events after it wait for the next.
      if (ev.index >= cp.size) { pending++; continue; }
      var leaf = await leafHash(log.subject, ev.at, fromHex(ev.sealed));
      if (toHex(leaf) !== ev.leaf_hash) { throw new Error('event ' + ev.index + ': leaf hash does not match its sealed details'); }
      var pr = await getJson('/api/audit/proof/inclusion?index=' + ev.index + '&size=' + cp.size);
      if (!(await included(leaf, ev.index, cp.size, pr.proof.map(fromHex), root))) {
        throw new Error('event ' + ev.index + ': the inclusion proof does not lead to the checkpoint root');
      }
      n++;
    }
    var note = sig === 'ok' ? ' (checkpoint signature verified)' : ' (this browser cannot check Ed25519 signatures; use the server check for that)';
    var later = pending ? '; ' + pending + ' newer events are not in a signed checkpoint yet: one is signed every few seconds, verify again shortly' : '';
    return (pending ? '' : 'All ') + n + ' events verified against checkpoint of size ' + cp.size + note + later;
  }
  button.addEventListener('click', function () {
    button.disabled = true;
    out.className = 'result';
    out.textContent = 'Verifying\u2026';
    run().then(function (msg) { out.textContent = msg; }, function (e) {
      out.className = 'result bad';
      out.textContent = 'Verification failed: ' + e.message;
    }).finally(function () { button.disabled = false; });
  });
})();
"#;
