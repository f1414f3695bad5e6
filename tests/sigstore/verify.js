// Verifies a Medic plugin signature bundle with Sigstore's own JavaScript
// verifier (@sigstore/verify, through the pinned `sigstore` package):
// `node verify.js FILE BUNDLE PUBLIC_KEY.pem`. Exits non-zero when it does
// not verify. Used by tests/integration/signed_plugins.rs; no trust root,
// transparency log or timestamp is involved: a key-signed message
// signature, as `cosign sign-blob --key` makes without uploading.
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const crypto = require('crypto');
const fs = require('fs');
const [file, bundlePath, pubPath] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
const key = crypto.createPublicKey(fs.readFileSync(pubPath));
const trust = toTrustMaterial(
  { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] },
  (hint) => ({ publicKey: key, validFor: () => true }),
);
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 });
verifier.verify(toSignedEntity(bundle, fs.readFileSync(file)));
console.log('sigstore-js: verified', file);
