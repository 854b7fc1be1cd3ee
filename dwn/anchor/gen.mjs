// gen.mjs generates dwn/testdata/ext.jsonl: a long conformance run of dwn-sdk-js 0.5.2 that
// exercises what the 32 shared steps do not (protocol rules, roles, tags, grants and delegated
// grants, owner signatures, large data, pagination, deletes with prune, Messages interface,
// subscriptions, malformed messages). Each line is one step with the reference's full reply, the
// data it returned and the subscription events it caused.
//
// Keys are fixed seeds and timestamps a fixed clock, and Ed25519, secp256k1 and P-256 signatures
// are deterministic here, so the output is reproducible. Run it with dwn/anchor/run.sh.

import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import * as ed from '@noble/ed25519';
import { secp256k1 } from '@noble/curves/secp256k1';
import { p256 } from '@noble/curves/p256';
import { base58btc } from 'multiformats/bases/base58';
import {
  Cid, DataStoreLevel, DataStream, Dwn, EventEmitterStream, EventLogLevel, Message, MessagesQuery,
  MessagesRead, MessagesSubscribe, MessageStoreLevel, PermissionsProtocol, PrivateKeySigner,
  ProtocolsConfigure, ProtocolsQuery, RecordsDelete, RecordsQuery, RecordsRead, RecordsSubscribe,
  RecordsWrite, ResumableTaskStoreLevel,
} from '@tbd54566975/dwn-sdk-js';

const b64u = (b) => Buffer.from(b).toString('base64url');
const json = (o) => new TextEncoder().encode(JSON.stringify(o));
const seed = (n) => new Uint8Array(32).fill(n);

async function edPersona(n) {
  const d = seed(n);
  const x = await ed.getPublicKeyAsync(d);
  const mb = base58btc.encode(new Uint8Array([0xed, 0x01, ...x]));
  const did = 'did:key:' + mb;
  const keyId = did + '#' + mb;
  const privateJwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(x), d: b64u(d) };
  return { did, keyId, signer: new PrivateKeySigner({ privateJwk, keyId, algorithm: 'EdDSA' }) };
}

function k1Persona(n) {
  const d = seed(n);
  const comp = secp256k1.getPublicKey(d, true);
  const un = secp256k1.getPublicKey(d, false);
  const mb = base58btc.encode(new Uint8Array([0xe7, 0x01, ...comp]));
  const did = 'did:key:' + mb;
  const keyId = did + '#' + mb;
  const privateJwk = { kty: 'EC', crv: 'secp256k1', x: b64u(un.slice(1, 33)), y: b64u(un.slice(33)), d: b64u(d) };
  return { did, keyId, signer: new PrivateKeySigner({ privateJwk, keyId, algorithm: 'ES256K' }) };
}

function p256JwkPersona(n) {
  const d = seed(n);
  const un = p256.getPublicKey(d, false);
  const pub = { kty: 'EC', crv: 'P-256', x: b64u(un.slice(1, 33)), y: b64u(un.slice(33)) };
  const did = 'did:jwk:' + b64u(JSON.stringify(pub));
  const keyId = did + '#0';
  const privateJwk = { ...pub, d: b64u(d) };
  return { did, keyId, signer: new PrivateKeySigner({ privateJwk, keyId, algorithm: 'ES256' }) };
}

function p256KeyPersona(n) {
  const d = seed(n);
  const comp = p256.getPublicKey(d, true);
  const mb = base58btc.encode(new Uint8Array([0x80, 0x24, ...comp]));
  const did = 'did:key:' + mb;
  const un = p256.getPublicKey(d, false);
  const privateJwk = { kty: 'EC', crv: 'P-256', x: b64u(un.slice(1, 33)), y: b64u(un.slice(33)), d: b64u(d) };
  return { did, keyId: did + '#' + mb, signer: new PrivateKeySigner({ privateJwk, keyId: did + '#' + mb, algorithm: 'ES256' }) };
}

// a fixed clock, one second per tick
let clock = Date.UTC(2025, 2, 1, 9, 0, 0);
const ts = (offsetSeconds = 0) => {
  clock += 1000;
  return new Date(clock + offsetSeconds * 1000).toISOString().replace('Z', '000Z');
};
const at = (isoMillis) => isoMillis.replace('Z', '000Z');

const dir = fs.mkdtempSync('/tmp/dwn-gen-');
const dwn = await Dwn.create({
  messageStore: new MessageStoreLevel({ blockstoreLocation: dir + '/MS', indexLocation: dir + '/MI' }),
  dataStore: new DataStoreLevel({ blockstoreLocation: dir + '/DS' }),
  eventLog: new EventLogLevel({ location: dir + '/EL' }),
  resumableTaskStore: new ResumableTaskStoreLevel({ location: dir + '/RT' }),
  eventStream: new EventEmitterStream(),
});

const out = [];
const subs = [];

async function step(name, tenant, message, data, subscribe) {
  message = JSON.parse(JSON.stringify(message)); // later edits of the caller's object must not show
  const opts = {};
  if (data !== undefined) opts.dataStream = DataStream.fromBytes(data);
  let sub;
  if (subscribe) {
    sub = { name, events: [] };
    opts.subscriptionHandler = (e) => sub.events.push(e);
  }
  const before = subs.map((s) => s.events.length);
  let reply;
  try {
    reply = await dwn.processMessage(tenant, JSON.parse(JSON.stringify(message)), opts);
  } catch (e) {
    out.push({ step: name, tenant, message, data: data !== undefined ? b64u(data) : null, subscribe: !!subscribe, thrown: String(e.message), events: [] });
    return undefined;
  }
  let dataB64 = null;
  if (reply.entry?.data) {
    dataB64 = b64u(await DataStream.toBytes(reply.entry.data));
    delete reply.entry.data;
  }
  const events = [];
  for (let i = 0; i < subs.length; i++) {
    for (const e of subs[i].events.slice(before[i])) {
      events.push({ sub: subs[i].name, message: await Message.getCid(e.message), initialWrite: e.initialWrite ? await Message.getCid(e.initialWrite) : null });
    }
  }
  if (reply.subscription) {
    delete reply.subscription.close;
    if (sub) subs.push(sub);
  }
  out.push({ step: name, tenant, message, data: data !== undefined ? b64u(data) : null, subscribe: !!subscribe, reply: JSON.parse(JSON.stringify(reply)), dataB64, events });
  return reply;
}

// rwCreate is RecordsWrite.create with dateCreated defaulting to messageTimestamp.
async function rwCreate(opts) {
  if (opts.messageTimestamp !== undefined && opts.dateCreated === undefined && opts.recordId === undefined) opts = { ...opts, dateCreated: opts.messageTimestamp };
  if (opts.published && opts.datePublished === undefined) opts = { ...opts, datePublished: opts.messageTimestamp };
  return RecordsWrite.create(opts);
}

// permission builds a permissions-protocol record by hand with a fixed timestamp.
async function permission(persona, path, data, { recipient, parentContextId, tags, t = ts() } = {}) {
  const bytes = json(data);
  const descriptor = {
    interface: 'Records', method: 'Write', protocol: PermissionsProtocol.uri, protocolPath: path,
    ...(recipient ? { recipient } : {}), ...(tags ? { tags } : {}),
    ...(parentContextId ? { parentId: parentContextId.split('/').pop() } : {}),
    dataCid: await Cid.computeDagPbCidFromBytes(bytes), dataSize: bytes.length, dateCreated: t, messageTimestamp: t, dataFormat: 'application/json',
  };
  return { message: await craftWrite({ persona, descriptor, parentContextId }), bytes };
}

// sign builds a General JWS over payload with the signer, as GeneralJwsBuilder does.
async function sign(signer, payload) {
  const p = b64u(JSON.stringify(payload));
  const prot = b64u(JSON.stringify({ kid: signer.keyId, alg: signer.algorithm }));
  const sig = await signer.sign(new TextEncoder().encode(`${prot}.${p}`));
  return { payload: p, signatures: [{ protected: prot, signature: b64u(sig) }] };
}

// craftWrite builds a RecordsWrite by hand, so that messages dwn-sdk-js's create() refuses can be
// made: recordId and contextId are computed unless given.
async function craftWrite({ persona, descriptor, parentContextId, recordId, contextId, payloadExtra = {}, props = {}, signerOverride }) {
  const author = persona.did;
  const rid = recordId ?? await Cid.computeCid({ ...descriptor, author });
  let cid = contextId;
  if (cid === undefined && descriptor.protocol !== undefined) cid = parentContextId ? `${parentContextId}/${rid}` : rid;
  const descriptorCid = await Cid.computeCid(descriptor);
  const payload = { recordId: rid, descriptorCid, ...(cid !== undefined ? { contextId: cid } : {}), ...payloadExtra };
  const m = { recordId: rid, ...(cid !== undefined ? { contextId: cid } : {}), descriptor, ...props };
  m.authorization = { signature: await sign(signerOverride ?? persona.signer, payload) };
  return m;
}

const alice = await edPersona(1);
const bob = await edPersona(2);
const carol = k1Persona(3);
const dave = p256JwkPersona(4);
const eve = await edPersona(5);
const frank = p256KeyPersona(6);

const social = 'https://example.com/social';
const socialDef = {
  protocol: social,
  published: true,
  types: {
    thread: { schema: 'https://example.com/schemas/thread', dataFormats: ['application/json'] },
    participant: { dataFormats: ['application/json'] },
    chat: { dataFormats: ['application/json', 'text/plain'] },
    friend: { dataFormats: ['application/json'] },
    post: { dataFormats: ['text/plain'] },
    reply: { dataFormats: ['text/plain'] },
  },
  structure: {
    friend: { $role: true, $actions: [{ who: 'anyone', can: ['read'] }] },
    thread: {
      $actions: [{ who: 'anyone', can: ['create'] }, { role: 'friend', can: ['read', 'query', 'subscribe'] }],
      participant: { $role: true, $actions: [{ who: 'author', of: 'thread', can: ['create', 'delete'] }] },
      chat: {
        $size: { min: 1, max: 100 },
        $tags: { $requiredTags: ['kind'], kind: { type: 'string', enum: ['note', 'question'] }, score: { type: 'number', minimum: 0, maximum: 10 }, labels: { type: 'array', items: { type: 'string', maxLength: 5 } } },
        $actions: [
          { role: 'thread/participant', can: ['create', 'read', 'query', 'subscribe'] },
          { who: 'author', of: 'thread', can: ['create', 'read', 'co-delete'] },
          { who: 'recipient', can: ['co-update'] },
        ],
      },
    },
    post: {
      $actions: [{ who: 'anyone', can: ['read'] }, { role: 'friend', can: ['create', 'update'] }],
      reply: { $actions: [{ who: 'recipient', of: 'post', can: ['create', 'update', 'delete'] }, { who: 'author', of: 'post', can: ['co-delete', 'co-prune'] }] },
    },
  },
};

// --- protocols --------------------------------------------------------------------------------

const pcSocial = await ProtocolsConfigure.create({ definition: socialDef, signer: alice.signer, messageTimestamp: ts() });
await step('pc-social', alice.did, pcSocial.message);
await step('pc-social-again', alice.did, pcSocial.message);
const privDef = { protocol: 'https://example.com/private', published: false, types: { doc: {} }, structure: { doc: {} } };
const pcPriv = await ProtocolsConfigure.create({ definition: privDef, signer: alice.signer, messageTimestamp: ts() });
await step('pc-private', alice.did, pcPriv.message);
const pcPriv2 = await ProtocolsConfigure.create({ definition: { ...privDef, types: { doc: { dataFormats: ['text/plain'] } } }, signer: alice.signer, messageTimestamp: ts() });
await step('pc-private-newer', alice.did, pcPriv2.message);
const pcPrivOld = await ProtocolsConfigure.create({ definition: { ...privDef, types: { doc: { dataFormats: ['a/b'] } } }, signer: alice.signer, messageTimestamp: at('2025-01-01T00:00:00.000Z') });
await step('pc-private-older', alice.did, pcPrivOld.message);

async function badProtocol(name, definition, persona = alice) {
  const descriptor = { interface: 'Protocols', method: 'Configure', messageTimestamp: ts(), definition };
  const m = { descriptor, authorization: { signature: await sign(persona.signer, { descriptorCid: await Cid.computeCid(descriptor) }) } };
  await step(name, alice.did, m);
}
const base = (structure, types = { a: {}, b: {} }) => ({ protocol: 'https://example.com/bad', published: true, types, structure });
await badProtocol('pc-bad-size', base({ a: { $size: { min: 10, max: 5 } } }));
await badProtocol('pc-bad-role-missing', base({ a: { $actions: [{ role: 'b', can: ['read', 'query', 'subscribe'] }] } }));
await badProtocol('pc-bad-role-read', base({ b: { $role: true }, a: { $actions: [{ role: 'b', can: ['read'] }] } }));
await badProtocol('pc-bad-of-anyone', base({ a: { $actions: [{ who: 'anyone', of: 'a', can: ['read'] }] } }));
await badProtocol('pc-bad-author-no-of', base({ a: { $actions: [{ who: 'author', can: ['read'] }] } }));
await badProtocol('pc-bad-recipient-no-of', base({ a: { $actions: [{ who: 'recipient', can: ['read'] }] } }));
await badProtocol('pc-bad-update-no-create', base({ a: { $actions: [{ who: 'anyone', can: ['update'] }] } }));
await badProtocol('pc-bad-delete-no-create', base({ a: { $actions: [{ who: 'anyone', can: ['delete'] }] } }));
await badProtocol('pc-bad-duplicate-actor', base({ a: { $actions: [{ who: 'anyone', can: ['read'] }, { who: 'anyone', can: ['create'] }] } }));
await badProtocol('pc-bad-duplicate-role', base({ b: { $role: true }, a: { $actions: [{ role: 'b', can: ['create'] }, { role: 'b', can: ['update', 'create'] }] } }));
await badProtocol('pc-bad-undeclared-type', base({ c: {} }));
await badProtocol('pc-bad-tag-enum', base({ a: { $tags: { t: { enum: 5 } } } }));
await badProtocol('pc-bad-tag-minlength', base({ a: { $tags: { t: { type: 'string', minLength: -1 } } } }));
await badProtocol('pc-bad-tag-keyword', base({ a: { $tags: { t: { type: 'string', pattern: 'x' } } } }));
await badProtocol('pc-bad-unknown-dollar', base({ a: { $foo: 1 } }));
await badProtocol('pc-bad-action-who', base({ a: { $actions: [{ who: 'someone', can: ['read'] }] } }));
await badProtocol('pc-bad-not-normalized', { ...base({ a: {} }), protocol: 'https://Example.com/x/' });
await badProtocol('pc-bad-schema-not-normalized', { ...base({ a: {} }, { a: { schema: 'example.com/s' } }) });
await badProtocol('pc-bad-missing-types', { protocol: 'https://example.com/bad', published: true, structure: {} });
await badProtocol('pc-bad-published-string', { protocol: 'https://example.com/bad', published: 'yes', types: {}, structure: {} });
await badProtocol('pc-bad-nesting', base({ a: { a: { a: { a: { a: { a: { a: { a: { a: { a: { a: {} } } } } } } } } } } }, { a: {} }));
await badProtocol('pc-by-bob', base({ a: {} }), bob);
await badProtocol('pc-by-carol-secp256k1', base({ a: {} }), carol);
await badProtocol('pc-by-dave-p256', base({ a: {} }), dave);
await badProtocol('pc-by-frank-p256-didkey', base({ a: {} }), frank);

await step('pq-anonymous', alice.did, (await ProtocolsQuery.create({ messageTimestamp: ts() })).message);
await step('pq-tenant-all', alice.did, (await ProtocolsQuery.create({ signer: alice.signer, messageTimestamp: ts() })).message);
await step('pq-stranger', alice.did, (await ProtocolsQuery.create({ signer: eve.signer, messageTimestamp: ts(), filter: { protocol: 'https://example.com/private' } })).message);
{
  const descriptor = { interface: 'Protocols', method: 'Query', messageTimestamp: ts(), filter: { recipient: bob.did } };
  await step('pq-filter-without-protocol', alice.did, { descriptor });
  const d2 = { interface: 'Protocols', method: 'Query', messageTimestamp: ts(), filter: { protocol: 'https://example.com/social/' } };
  await step('pq-filter-not-normalized', alice.did, { descriptor: d2 });
}

// --- records: tenant writes, reads and queries ---------------------------------------------------

async function write(name, tenant, opts, data, persona = alice) {
  if (opts.messageTimestamp !== undefined && opts.dateCreated === undefined) opts = { ...opts, dateCreated: opts.messageTimestamp };
  const w = await rwCreate({ signer: persona.signer, dataFormat: 'application/json', ...opts, data });
  await step(name, tenant, w.message, data);
  return w;
}

const t1 = ts();
const thread1 = await write('thread-1', alice.did, { protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/thread', messageTimestamp: t1, dateCreated: t1, published: true }, json({ title: 'one' }));
const t2 = ts();
const threadBob = await write('thread-bob', alice.did, { protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/thread', messageTimestamp: t2, dateCreated: t2 }, json({ title: 'bob' }), bob);
await write('thread-wrong-schema', alice.did, { protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/other', messageTimestamp: ts() }, json({}), bob);
await write('thread-unknown-type', alice.did, { protocol: social, protocolPath: 'nope', messageTimestamp: ts() }, json({}), bob);
await write('thread-no-protocol-def', alice.did, { protocol: 'https://example.com/none', protocolPath: 'x', messageTimestamp: ts() }, json({}), bob);
const partCarol = await write('participant-carol', alice.did, { protocol: social, protocolPath: 'thread/participant', parentContextId: threadBob.message.contextId, recipient: carol.did, messageTimestamp: ts() }, json({}), bob);
await write('participant-carol-duplicate', alice.did, { protocol: social, protocolPath: 'thread/participant', parentContextId: threadBob.message.contextId, recipient: carol.did, messageTimestamp: ts() }, json({ again: 1 }), bob);
await write('participant-no-recipient', alice.did, { protocol: social, protocolPath: 'thread/participant', parentContextId: threadBob.message.contextId, messageTimestamp: ts() }, json({}), bob);
await write('participant-by-eve', alice.did, { protocol: social, protocolPath: 'thread/participant', parentContextId: threadBob.message.contextId, recipient: eve.did, messageTimestamp: ts() }, json({}), eve);
await write('chat-by-carol-role', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, protocolRole: 'thread/participant', tags: { kind: 'note', score: 3, labels: ['a', 'bc'] }, messageTimestamp: ts() }, json({ m: 'hi' }), carol);
await write('chat-by-eve-role', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, protocolRole: 'thread/participant', tags: { kind: 'note' }, messageTimestamp: ts() }, json({ m: 'x' }), eve);
await write('chat-role-not-a-role', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, protocolRole: 'thread', tags: { kind: 'note' }, messageTimestamp: ts() }, json({ m: 'x' }), carol);
const chatBob = await write('chat-by-thread-author', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, recipient: dave.did, tags: { kind: 'question', score: 10 }, messageTimestamp: ts(), dataFormat: 'text/plain' }, new TextEncoder().encode('question?'), bob);
await write('chat-tag-missing', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { score: 1 }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-tag-enum', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { kind: 'rant' }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-tag-range', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { kind: 'note', score: 11 }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-tag-undeclared', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { kind: 'note', extra: true }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-tag-item-length', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { kind: 'note', labels: ['toolong'] }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-too-small', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: threadBob.message.contextId, tags: { kind: 'note' }, messageTimestamp: ts(), dataFormat: 'text/plain' }, new Uint8Array(0), bob);
await write('chat-wrong-parent-path', alice.did, { protocol: social, protocolPath: 'thread/chat', parentContextId: thread1.message.contextId + '/x', tags: { kind: 'note' }, messageTimestamp: ts() }, json({ m: 1 }), bob);
await write('chat-parentless', alice.did, { protocol: social, protocolPath: 'thread/chat', tags: { kind: 'note' }, messageTimestamp: ts() }, json({ m: 1 }), bob);
// recipient co-update of bob's chat by dave
const chatUpdate = await RecordsWrite.createFrom({ recordsWriteMessage: chatBob.message, data: new TextEncoder().encode('answered!'), messageTimestamp: ts(), signer: dave.signer, dataFormat: 'text/plain', tags: { kind: 'note', score: 4 } });
await step('chat-co-update-by-recipient', alice.did, chatUpdate.message, new TextEncoder().encode('answered!'));
const chatUpdateEve = await RecordsWrite.createFrom({ recordsWriteMessage: chatBob.message, data: new TextEncoder().encode('nope'), messageTimestamp: ts(), signer: eve.signer, dataFormat: 'text/plain', tags: { kind: 'note' } });
await step('chat-update-by-stranger-no-tags', alice.did, (await RecordsWrite.createFrom({ recordsWriteMessage: chatBob.message, data: new TextEncoder().encode('nope'), messageTimestamp: ts(), signer: eve.signer, dataFormat: 'text/plain' })).message, new TextEncoder().encode('nope'));
await step('chat-update-by-stranger', alice.did, chatUpdateEve.message, new TextEncoder().encode('nope'));

// friend role at root, posts by friends
const friendBob = await write('friend-bob', alice.did, { protocol: social, protocolPath: 'friend', recipient: bob.did, messageTimestamp: ts() }, json({}));
const post1 = await write('post-by-friend', alice.did, { protocol: social, protocolPath: 'post', protocolRole: 'friend', recipient: carol.did, messageTimestamp: ts(), dataFormat: 'text/plain', published: true }, new TextEncoder().encode('hello world'), bob);
await write('post-by-non-friend', alice.did, { protocol: social, protocolPath: 'post', protocolRole: 'friend', messageTimestamp: ts(), dataFormat: 'text/plain' }, new TextEncoder().encode('x'), eve);
const reply1 = await write('reply-by-post-recipient', alice.did, { protocol: social, protocolPath: 'post/reply', parentContextId: post1.message.contextId, messageTimestamp: ts(), dataFormat: 'text/plain' }, new TextEncoder().encode('re'), carol);
await write('reply-by-stranger', alice.did, { protocol: social, protocolPath: 'post/reply', parentContextId: post1.message.contextId, messageTimestamp: ts(), dataFormat: 'text/plain' }, new TextEncoder().encode('re'), eve);
const post1Update = await RecordsWrite.createFrom({ recordsWriteMessage: post1.message, data: new TextEncoder().encode('hello again'), messageTimestamp: ts(), signer: bob.signer, protocolRole: 'friend' });
await step('post-update-by-friend', alice.did, post1Update.message, new TextEncoder().encode('hello again'));

// reads
const read = async (name, filter, persona, extra = {}) => step(name, alice.did, (await RecordsRead.create({ filter, signer: persona?.signer, messageTimestamp: ts(), ...extra })).message);
await read('read-thread-anon', { recordId: thread1.message.recordId });
await read('read-thread-bob-anon', { recordId: threadBob.message.recordId });
await read('read-thread-bob-by-bob', { recordId: threadBob.message.recordId }, bob);
await read('read-thread-bob-by-eve', { recordId: threadBob.message.recordId }, eve);
await read('read-thread-bob-by-friend-role', { recordId: threadBob.message.recordId }, bob, { protocolRole: 'friend' });
await read('read-chat-by-carol-role', { recordId: chatBob.message.recordId }, carol, { protocolRole: 'thread/participant' });
await read('read-chat-by-dave-recipient', { recordId: chatBob.message.recordId }, dave);
await read('read-multiple', { protocol: social, protocolPath: 'thread' }, alice);
await read('read-none', { recordId: 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi' }, alice);
await read('read-post-updated-anon', { recordId: post1.message.recordId });

// queries
const query = async (name, filter, persona, extra = {}) => step(name, alice.did, (await RecordsQuery.create({ filter, signer: persona?.signer, messageTimestamp: ts(), ...extra })).message);
await query('q-tenant-protocol', { protocol: social }, alice);
await query('q-tenant-thread-path', { protocol: social, protocolPath: 'thread' }, alice);
await query('q-anon-protocol', { protocol: social });
await query('q-bob-protocol', { protocol: social }, bob);
await query('q-carol-protocol', { protocol: social }, carol);
await query('q-dave-recipient', { recipient: dave.did }, dave);
await query('q-tags-equal', { protocol: social, tags: { kind: 'question' } }, alice);
await query('q-tags-range', { protocol: social, tags: { score: { gte: 3, lt: 10 } } }, alice);
await query('q-tags-startswith', { protocol: social, tags: { kind: { startsWith: 'qu' } } }, alice);
await query('q-context', { contextId: threadBob.message.contextId }, alice);
await query('q-schema', { schema: 'https://example.com/schemas/thread' }, alice);
await query('q-published-false', { protocol: social, published: false }, alice);
await query('q-published-false-anon', { protocol: social, published: false });
await query('q-date-published', { datePublished: { from: at('2025-01-01T00:00:00.000Z') } }, alice);
await query('q-date-created-range', { protocol: social, dateCreated: { from: t1, to: t2 } }, alice);
await query('q-data-size', { dataSize: { gt: 10 } }, alice);
await query('q-author-list', { author: [bob.did, carol.did] }, alice);
await query('q-sort-created-desc', { protocol: social }, alice, { dateSort: 'createdDescending' });
await query('q-sort-published-asc', { protocol: social }, alice, { dateSort: 'publishedAscending' });
await query('q-sort-published-desc-anon', { protocol: social }, undefined, { dateSort: 'publishedDescending' });
const page1 = await query('q-page-1', { protocol: social }, alice, { pagination: { limit: 2 } });
await query('q-page-2', { protocol: social }, alice, { pagination: { limit: 2, cursor: page1.cursor } });
const page1d = await query('q-page-1-desc', { protocol: social, protocolPath: 'thread' }, alice, { pagination: { limit: 1 }, dateSort: 'createdDescending' });
await query('q-page-2-desc', { protocol: social, protocolPath: 'thread' }, alice, { pagination: { limit: 1, cursor: page1d.cursor }, dateSort: 'createdDescending' });
await query('q-role-participant', { protocol: social, protocolPath: 'thread/chat', contextId: threadBob.message.contextId }, carol, { protocolRole: 'thread/participant' });
{
  const descriptor = { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { protocol: social } };
  const m = { descriptor, authorization: { signature: await sign(carol.signer, { descriptorCid: await Cid.computeCid(descriptor), protocolRole: 'thread/participant' }) } };
  await step('q-role-without-path', alice.did, m);
  const d2 = { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { published: false }, dateSort: 'publishedAscending' };
  await step('q-published-false-sort-published', alice.did, { descriptor: d2 });
  const d3 = { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { schema: 'example.com/x' } };
  await step('q-schema-not-normalized', alice.did, { descriptor: d3 });
}

// flat-space records, updates, large data
const note = await write('note', alice.did, { schema: 'https://example.com/note', messageTimestamp: ts() }, json({ n: 1 }));
const noteTs = ts();
const noteMeta = await RecordsWrite.createFrom({ recordsWriteMessage: note.message, published: true, datePublished: noteTs, messageTimestamp: noteTs, signer: alice.signer });
await step('note-publish-without-data', alice.did, noteMeta.message);
await read('note-read-after-publish', { recordId: note.message.recordId });
const noteBadSize = await RecordsWrite.createFrom({ recordsWriteMessage: noteMeta.message, messageTimestamp: ts(), signer: alice.signer });
noteBadSize.message.descriptor.dataSize = 99;
await step('note-update-size-changed-resigned', alice.did, (await craftWrite({ persona: alice, descriptor: { ...noteMeta.message.descriptor, dataSize: 99, messageTimestamp: ts() }, recordId: note.message.recordId })));
const big = new Uint8Array(262_500).map((_, i) => (i * 7) % 251);
const bigW = await write('big-write', alice.did, { schema: 'https://example.com/blob', messageTimestamp: ts(), dataFormat: 'application/octet-stream' }, big);
await read('big-read', { recordId: bigW.message.recordId }, alice);
const bigMeta = await RecordsWrite.createFrom({ recordsWriteMessage: bigW.message, tags: { v: 2 }, messageTimestamp: ts(), signer: alice.signer });
await step('big-update-without-data', alice.did, bigMeta.message);
await read('big-read-after-update', { recordId: bigW.message.recordId }, alice);
const big2 = big.map((b) => b ^ 1);
const bigW2 = await RecordsWrite.createFrom({ recordsWriteMessage: bigMeta.message, data: big2, messageTimestamp: ts(), signer: alice.signer });
await step('big-update-wrong-data', alice.did, bigW2.message, big);
await step('big-update-new-data', alice.did, bigW2.message, big2);
await read('big-read-new', { recordId: bigW.message.recordId }, alice);
const medium = new Uint8Array(30_001).fill(65);
await write('medium-30001', alice.did, { schema: 'https://example.com/blob', messageTimestamp: ts(), dataFormat: 'text/plain' }, medium);
const exact = new Uint8Array(30_000).fill(66);
await write('exact-30000', alice.did, { schema: 'https://example.com/blob', messageTimestamp: ts(), dataFormat: 'text/plain' }, exact);
await query('q-blobs', { schema: 'https://example.com/blob' }, alice);
const noData = await rwCreate({ signer: alice.signer, schema: 'https://example.com/late', dataFormat: 'text/plain', dataCid: await Cid.computeDagPbCidFromBytes(new TextEncoder().encode('late')), dataSize: 4, messageTimestamp: ts() });
await step('late-initial-without-data', alice.did, noData.message);
await step('late-initial-with-data-same-cid', alice.did, noData.message, new TextEncoder().encode('late'));
const lateUpdate = await RecordsWrite.createFrom({ recordsWriteMessage: noData.message, messageTimestamp: ts(), signer: alice.signer, data: new TextEncoder().encode('late') });
await step('late-update-with-data', alice.did, lateUpdate.message, new TextEncoder().encode('late'));
await read('late-read', { recordId: noData.message.recordId }, alice);

// attestation
const attested = await rwCreate({ signer: alice.signer, schema: 'https://example.com/note', dataFormat: 'text/plain', data: new TextEncoder().encode('a'), attestationSigners: [bob.signer], messageTimestamp: ts() });
await step('attested-write', alice.did, attested.message, new TextEncoder().encode('a'));
await query('q-attester', { attester: bob.did }, alice);
const attested2 = await rwCreate({ signer: alice.signer, schema: 'https://example.com/note', dataFormat: 'text/plain', data: new TextEncoder().encode('b'), attestationSigners: [bob.signer, carol.signer], messageTimestamp: ts() });
await step('attested-two', alice.did, attested2.message, new TextEncoder().encode('b'));

// owner signature: bob's own record retained by alice
const bobsOwn = await rwCreate({ signer: bob.signer, schema: 'https://example.com/note', dataFormat: 'text/plain', data: new TextEncoder().encode('mine'), messageTimestamp: ts() });
await step('bob-record-in-alice-unsigned-by-owner', alice.did, bobsOwn.message, new TextEncoder().encode('mine'));
await bobsOwn.signAsOwner(alice.signer);
await step('bob-record-retained-by-alice', alice.did, bobsOwn.message, new TextEncoder().encode('mine'));
const bobsOwn2 = await rwCreate({ signer: bob.signer, schema: 'https://example.com/note', dataFormat: 'text/plain', data: new TextEncoder().encode('mine2'), messageTimestamp: ts() });
await bobsOwn2.signAsOwner(carol.signer);
await step('bob-record-owner-not-tenant', alice.did, bobsOwn2.message, new TextEncoder().encode('mine2'));

// --- permissions ---------------------------------------------------------------------------------

const grantWrite = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: bob.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Records', method: 'Write', protocol: 'https://example.com/private' } });
await step('grant-write-to-bob', alice.did, grantWrite.recordsWrite.message, grantWrite.permissionGrantBytes);
const grantedWrite = await rwCreate({ signer: bob.signer, protocol: 'https://example.com/private', protocolPath: 'doc', dataFormat: 'text/plain', data: new TextEncoder().encode('granted'), permissionGrantId: grantWrite.recordsWrite.message.recordId, messageTimestamp: ts() });
await step('write-with-grant', alice.did, grantedWrite.message, new TextEncoder().encode('granted'));
const grantedWriteWrong = await rwCreate({ signer: bob.signer, schema: 'https://example.com/x', dataFormat: 'text/plain', data: new TextEncoder().encode('x'), permissionGrantId: grantWrite.recordsWrite.message.recordId, messageTimestamp: ts() });
await step('write-with-grant-wrong-protocol', alice.did, grantedWriteWrong.message, new TextEncoder().encode('x'));
const grantedWriteCarol = await rwCreate({ signer: carol.signer, protocol: 'https://example.com/private', protocolPath: 'doc', dataFormat: 'text/plain', data: new TextEncoder().encode('x'), permissionGrantId: grantWrite.recordsWrite.message.recordId, messageTimestamp: ts() });
await step('write-with-grant-not-grantee', alice.did, grantedWriteCarol.message, new TextEncoder().encode('x'));
const grantedWriteLate = await rwCreate({ signer: bob.signer, protocol: 'https://example.com/private', protocolPath: 'doc', dataFormat: 'text/plain', data: new TextEncoder().encode('late'), permissionGrantId: grantWrite.recordsWrite.message.recordId, messageTimestamp: at('2031-01-01T00:00:00.000Z') });
await step('write-with-expired-grant', alice.did, grantedWriteLate.message, new TextEncoder().encode('late'));
const grantedWriteEarly = await rwCreate({ signer: bob.signer, protocol: 'https://example.com/private', protocolPath: 'doc', dataFormat: 'text/plain', data: new TextEncoder().encode('early'), permissionGrantId: grantWrite.recordsWrite.message.recordId, messageTimestamp: at('2024-01-01T00:00:00.000Z') });
await step('write-before-grant', alice.did, grantedWriteEarly.message, new TextEncoder().encode('early'));
await step('write-with-missing-grant', alice.did, (await rwCreate({ signer: bob.signer, schema: 'https://example.com/x', dataFormat: 'text/plain', data: new TextEncoder().encode('x'), permissionGrantId: 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi', messageTimestamp: ts() })).message, new TextEncoder().encode('x'));
const request = await permission(eve, 'request', { delegated: false, scope: { interface: 'Records', method: 'Read', protocol: social } }, { tags: { protocol: social } });
await step('permission-request-by-anyone', alice.did, request.message, request.bytes);
{
  // grant without the protocol tag, and one whose data fails the schema
  const descriptorBase = { interface: 'Records', method: 'Write', protocol: PermissionsProtocol.uri, protocolPath: 'grant', recipient: bob.did, dataFormat: 'application/json' };
  const data1 = json({ dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Records', method: 'Read', protocol: social } });
  const t = ts();
  const d1 = { ...descriptorBase, dataCid: await Cid.computeDagPbCidFromBytes(data1), dataSize: data1.length, dateCreated: t, messageTimestamp: t };
  await step('grant-missing-protocol-tag', alice.did, await craftWrite({ persona: alice, descriptor: d1 }), data1);
  const data2 = json({ scope: { interface: 'Records', method: 'Read' } });
  const t3 = ts();
  const d2 = { ...descriptorBase, dataCid: await Cid.computeDagPbCidFromBytes(data2), dataSize: data2.length, dateCreated: t3, messageTimestamp: t3 };
  await step('grant-bad-schema', alice.did, await craftWrite({ persona: alice, descriptor: d2 }), data2);
  const data3 = new TextEncoder().encode('not json');
  const t4 = ts();
  const d3 = { ...descriptorBase, dataCid: await Cid.computeDagPbCidFromBytes(data3), dataSize: data3.length, dateCreated: t4, messageTimestamp: t4, dataFormat: 'application/json' };
  await step('grant-not-json', alice.did, await craftWrite({ persona: alice, descriptor: d3 }), data3);
}
const grantRead = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: eve.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Records', method: 'Read', protocol: 'https://example.com/private' } });
await step('grant-read-to-eve', alice.did, grantRead.recordsWrite.message, grantRead.permissionGrantBytes);
await read('read-with-grant', { recordId: grantedWrite.message.recordId }, eve, { permissionGrantId: grantRead.recordsWrite.message.recordId });
await read('read-grant-by-grantee', { recordId: grantRead.recordsWrite.message.recordId }, eve);
await query('q-grants-by-grantee', { protocol: PermissionsProtocol.uri, protocolPath: 'grant' }, eve);
const revoke = await permission(alice, 'grant/revocation', { description: 'no more' }, { parentContextId: grantRead.recordsWrite.message.contextId, tags: { protocol: 'https://example.com/private' } });
await step('revoke-read-grant', alice.did, revoke.message, revoke.bytes);
await read('read-with-revoked-grant', { recordId: grantedWrite.message.recordId }, eve, { permissionGrantId: grantRead.recordsWrite.message.recordId });
{
  const badRevoke = await permission(alice, 'grant/revocation', {}, { parentContextId: grantWrite.recordsWrite.message.contextId, tags: { protocol: social } });
  await step('revoke-tag-mismatch', alice.did, badRevoke.message, badRevoke.bytes);
}
const grantPQ = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: carol.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Protocols', method: 'Query' } });
await step('grant-protocols-query', alice.did, grantPQ.recordsWrite.message, grantPQ.permissionGrantBytes);
await step('pq-with-grant', alice.did, (await ProtocolsQuery.create({ signer: carol.signer, permissionGrantId: grantPQ.recordsWrite.message.recordId, messageTimestamp: ts() })).message);
const grantPC = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: dave.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Protocols', method: 'Configure', protocol: 'https://example.com/dave' } });
await step('grant-protocols-configure', alice.did, grantPC.recordsWrite.message, grantPC.permissionGrantBytes);
await step('pc-with-grant', alice.did, (await ProtocolsConfigure.create({ signer: dave.signer, permissionGrantId: grantPC.recordsWrite.message.recordId, messageTimestamp: ts(), definition: { protocol: 'https://example.com/dave', published: true, types: { x: {} }, structure: { x: {} } } })).message);
await step('pc-with-grant-wrong-protocol', alice.did, (await ProtocolsConfigure.create({ signer: dave.signer, permissionGrantId: grantPC.recordsWrite.message.recordId, messageTimestamp: ts(), definition: { protocol: 'https://example.com/other', published: true, types: { x: {} }, structure: { x: {} } } })).message);

// delegated grant: alice lets carol write as alice
const delegated = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: carol.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), delegated: true, scope: { interface: 'Records', method: 'Write', protocol: social } });
const asAlice = await rwCreate({ signer: carol.signer, delegatedGrant: delegated.dataEncodedMessage, protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/thread', dataFormat: 'application/json', data: json({ by: 'carol for alice' }), messageTimestamp: ts() });
await step('delegated-write-into-bob', bob.did, asAlice.message, json({ by: 'carol for alice' }));
const pcSocialBob = await ProtocolsConfigure.create({ definition: socialDef, signer: bob.signer, messageTimestamp: ts() });
await step('pc-social-bob', bob.did, pcSocialBob.message);
await step('delegated-write-into-bob-again', bob.did, asAlice.message, json({ by: 'carol for alice' }));
const asAliceHome = await rwCreate({ signer: carol.signer, delegatedGrant: delegated.dataEncodedMessage, protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/thread', dataFormat: 'application/json', data: json({ home: 1 }), messageTimestamp: ts() });
await step('delegated-write-into-alice', alice.did, asAliceHome.message, json({ home: 1 }));
const asAliceWrongProto = await rwCreate({ signer: carol.signer, delegatedGrant: delegated.dataEncodedMessage, schema: 'https://example.com/note', dataFormat: 'application/json', data: json({ x: 1 }), messageTimestamp: ts() });
await step('delegated-write-outside-scope', alice.did, asAliceWrongProto.message, json({ x: 1 }));
await step('delegated-read', alice.did, (await RecordsRead.create({ filter: { recordId: asAliceHome.message.recordId }, signer: carol.signer, delegatedGrant: delegated.dataEncodedMessage, messageTimestamp: ts() })).message);
const notDelegated = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: carol.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Records', method: 'Write', protocol: social } });
const asAlice2 = await rwCreate({ signer: carol.signer, delegatedGrant: notDelegated.dataEncodedMessage, protocol: social, protocolPath: 'thread', schema: 'https://example.com/schemas/thread', dataFormat: 'application/json', data: json({}), messageTimestamp: ts() });
await step('delegated-not-a-delegated-grant', bob.did, asAlice2.message, json({}));

// --- deletes -------------------------------------------------------------------------------------

await step('delete-reply-by-post-author-co-delete', alice.did, (await RecordsDelete.create({ recordId: reply1.message.recordId, signer: bob.signer, messageTimestamp: ts() })).message);
await step('delete-chat-by-stranger', alice.did, (await RecordsDelete.create({ recordId: chatBob.message.recordId, signer: eve.signer, messageTimestamp: ts() })).message);
await step('delete-thread-bob-prune', alice.did, (await RecordsDelete.create({ recordId: threadBob.message.recordId, prune: true, signer: alice.signer, messageTimestamp: ts() })).message);
await read('read-pruned-chat', { recordId: chatBob.message.recordId }, alice);
await read('read-pruned-thread', { recordId: threadBob.message.recordId }, alice);
await query('q-after-prune', { protocol: social }, alice);
await step('delete-note-old-timestamp', alice.did, (await RecordsDelete.create({ recordId: note.message.recordId, signer: alice.signer, messageTimestamp: at('2025-01-01T00:00:00.000Z') })).message);
await step('delete-note', alice.did, (await RecordsDelete.create({ recordId: note.message.recordId, signer: alice.signer, messageTimestamp: ts() })).message);
await step('delete-note-prune-after-delete', alice.did, (await RecordsDelete.create({ recordId: note.message.recordId, prune: true, signer: alice.signer, messageTimestamp: ts() })).message);
await step('delete-big', alice.did, (await RecordsDelete.create({ recordId: bigW.message.recordId, signer: alice.signer, messageTimestamp: ts() })).message);
await read('read-big-after-delete', { recordId: bigW.message.recordId }, alice);
await step('delete-missing', alice.did, (await RecordsDelete.create({ recordId: 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi', signer: alice.signer, messageTimestamp: ts() })).message);

// --- messages interface ----------------------------------------------------------------------------

const mq = async (name, filters, persona = alice, extra = {}) => step(name, alice.did, (await MessagesQuery.create({ filters, signer: persona.signer, messageTimestamp: ts(), ...extra })).message);
await mq('mq-all', []);
await mq('mq-protocols', [{ interface: 'Protocols' }]);
await mq('mq-social', [{ protocol: social }]);
await mq('mq-private-with-permissions', [{ protocol: 'https://example.com/private' }]);
await mq('mq-writes-range', [{ interface: 'Records', method: 'Write', messageTimestamp: { from: t1, to: t2 } }]);
await mq('mq-stranger', [], eve);
const grantMQ = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: dave.did, dateGranted: ts(), dateExpires: at('2030-01-01T00:00:00.000Z'), scope: { interface: 'Messages', method: 'Query', protocol: social } });
await step('grant-messages-query', alice.did, grantMQ.recordsWrite.message, grantMQ.permissionGrantBytes);
await mq('mq-with-grant', [{ protocol: social }], dave, { permissionGrantId: grantMQ.recordsWrite.message.recordId });
await mq('mq-with-grant-unscoped-filter', [{ interface: 'Records' }], dave, { permissionGrantId: grantMQ.recordsWrite.message.recordId });
const mr = async (name, messageCid, persona = alice, extra = {}) => step(name, alice.did, (await MessagesRead.create({ messageCid, signer: persona.signer, messageTimestamp: ts(), ...extra })).message);
await mr('mr-protocol', await Message.getCid(pcSocial.message));
await mr('mr-write-with-data', await Message.getCid(post1Update.message));
await mr('mr-big-deleted-data', await Message.getCid(bigW2.message));
await mr('mr-not-found', 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi');
await mr('mr-stranger', await Message.getCid(pcSocial.message), eve);
{
  const descriptor = { interface: 'Messages', method: 'Read', messageCid: 'not-a-cid', messageTimestamp: ts() };
  await step('mr-invalid-cid', alice.did, { descriptor, authorization: { signature: await sign(alice.signer, { descriptorCid: await Cid.computeCid(descriptor) }) } });
  const d2 = { interface: 'Messages', method: 'Read', messageCid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', messageTimestamp: ts() };
  await step('mr-raw-codec', alice.did, { descriptor: d2, authorization: { signature: await sign(alice.signer, { descriptorCid: await Cid.computeCid(d2) }) } });
}

// --- subscriptions -------------------------------------------------------------------------------

await step('ms-tenant', alice.did, (await MessagesSubscribe.create({ signer: alice.signer, messageTimestamp: ts(), filters: [{ interface: 'Records' }] })).message, undefined, true);
await step('rs-anon-published', alice.did, (await RecordsSubscribe.create({ filter: { schema: 'https://example.com/sub' }, messageTimestamp: ts() })).message, undefined, true);
await step('rs-owner', alice.did, (await RecordsSubscribe.create({ filter: { schema: 'https://example.com/sub' }, signer: alice.signer, messageTimestamp: ts() })).message, undefined, true);
await step('rs-stranger-unpublished', alice.did, (await RecordsSubscribe.create({ filter: { schema: 'https://example.com/sub', published: false }, signer: eve.signer, messageTimestamp: ts() })).message, undefined, true);
const subA = await write('sub-write-unpublished', alice.did, { schema: 'https://example.com/sub', messageTimestamp: ts() }, json({ s: 1 }));
await write('sub-write-published', alice.did, { schema: 'https://example.com/sub', messageTimestamp: ts(), published: true }, json({ s: 2 }));
await write('sub-write-to-eve', alice.did, { schema: 'https://example.com/sub', recipient: eve.did, messageTimestamp: ts() }, json({ s: 3 }));
await step('sub-delete', alice.did, (await RecordsDelete.create({ recordId: subA.message.recordId, signer: alice.signer, messageTimestamp: ts() })).message);
await step('ms-stranger', alice.did, (await MessagesSubscribe.create({ signer: eve.signer, messageTimestamp: ts() })).message, undefined, true);

// --- malformed messages ----------------------------------------------------------------------------

const good = await rwCreate({ signer: alice.signer, schema: 'https://example.com/m', dataFormat: 'text/plain', data: new TextEncoder().encode('m'), messageTimestamp: ts() });
const clone = () => JSON.parse(JSON.stringify(good.message));
const mut = async (name, f, data = new TextEncoder().encode('m')) => { const m = clone(); f(m); await step(name, alice.did, m, data); };
await mut('m-extra-top-level', (m) => { m.foo = 1; });
await mut('m-extra-descriptor', (m) => { m.descriptor.foo = 1; });
await mut('m-missing-descriptor-field', (m) => { delete m.descriptor.dataFormat; });
await mut('m-datasize-string', (m) => { m.descriptor.dataSize = '1'; });
await mut('m-published-no-date', (m) => { m.descriptor.published = true; });
await mut('m-date-published-unpublished', (m) => { m.descriptor.published = false; m.descriptor.datePublished = m.descriptor.dateCreated; });
await mut('m-context-without-protocol', (m) => { m.contextId = m.recordId; });
await mut('m-bad-timestamp-date', (m) => { m.descriptor.messageTimestamp = '2025-02-30T00:00:00.000000Z'; });
await mut('m-bad-protocol-path', (m) => { m.descriptor.protocol = social; m.descriptor.protocolPath = 'a/1'; m.contextId = m.recordId; });
await mut('m-two-signatures', (m) => { m.authorization.signature.signatures.push(m.authorization.signature.signatures[0]); });
await mut('m-no-signatures', (m) => { m.authorization.signature.signatures = []; });
await mut('m-bad-payload-chars', (m) => { m.authorization.signature.payload = 'not base64!'; });
await mut('m-payload-not-json', (m) => { m.authorization.signature.payload = b64u('nope'); });
await mut('m-payload-array', (m) => { m.authorization.signature.payload = b64u('[1]'); });
await mut('m-payload-extra', async (m) => { m.authorization.signature.payload = b64u(JSON.stringify({ ...JSON.parse(Buffer.from(m.authorization.signature.payload, 'base64url')), extra: 1 })); });
await mut('m-recordid-mismatch', (m) => { m.recordId = 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi'; });
await mut('m-signature-truncated', (m) => { m.authorization.signature.signatures[0].signature = m.authorization.signature.signatures[0].signature.slice(0, 40); });
await mut('m-kid-unresolvable', async (m) => { m.authorization.signature.signatures[0].protected = b64u(JSON.stringify({ kid: 'did:example:123#key', alg: 'EdDSA' })); });
await mut('m-kid-missing', (m) => { m.authorization.signature.signatures[0].protected = b64u(JSON.stringify({ alg: 'EdDSA' })); });
await mut('m-protected-not-json', (m) => { m.authorization.signature.signatures[0].protected = b64u('xyz'); });
await mut('m-no-interface', (m) => { delete m.descriptor.interface; });
await mut('m-unknown-method', (m) => { m.descriptor.method = 'Frobnicate'; });
await mut('m-schema-name-not-handler', (m) => { m.descriptor.interface = 'General'; m.descriptor.method = 'Jws'; });
await mut('m-datasize-wrong-data', (m) => {}, new TextEncoder().encode('mm'));
await mut('m-tags-too-many', (m) => { m.descriptor.tags = Object.fromEntries([...Array(11).keys()].map((i) => ['t' + i, i])); });
await mut('m-tags-empty-array', (m) => { m.descriptor.tags = { a: [] }; });
await mut('m-encryption-bad', (m) => { m.encryption = { algorithm: 'A256CTR' }; });
await mut('m-attestation-extra', (m) => { m.attestation = { payload: 'x', signatures: [] }; });
{
  const t = ts();
  const d = { interface: 'Records', method: 'Write', schema: 'https://Example.com/n', dataCid: await Cid.computeDagPbCidFromBytes(new TextEncoder().encode('n')), dataSize: 1, dateCreated: t, messageTimestamp: t, dataFormat: 'text/plain' };
  await step('m-schema-not-normalized', alice.did, await craftWrite({ persona: alice, descriptor: d }), new TextEncoder().encode('n'));
  const t2b = ts();
  const d2 = { ...d, schema: 'https://example.com/n', dateCreated: t, messageTimestamp: t2b };
  await step('m-initial-created-mismatch', alice.did, await craftWrite({ persona: alice, descriptor: d2 }), new TextEncoder().encode('n'));
  const t3 = ts();
  const d3 = { ...d, schema: 'https://example.com/n', dateCreated: t3, messageTimestamp: t3, recipient: 'not a did' };
  await step('m-recipient-not-did', alice.did, await craftWrite({ persona: alice, descriptor: d3 }), new TextEncoder().encode('n'));
  const t4 = ts();
  const d4 = { interface: 'Records', method: 'Write', protocol: social, protocolPath: 'post', dataCid: await Cid.computeDagPbCidFromBytes(new TextEncoder().encode('n')), dataSize: 1, dateCreated: t4, messageTimestamp: t4, dataFormat: 'text/plain' };
  await step('m-context-mismatch', alice.did, await craftWrite({ persona: alice, descriptor: d4, contextId: 'bafyreigvpbywe2gxbnmbctgqa4hxrjwc3vdwmw4ahp7ya4irqcgsjqlmqi' }), new TextEncoder().encode('n'));
  const t5 = ts();
  const d5 = { ...d, schema: 'https://example.com/n', dateCreated: t5, messageTimestamp: t5 };
  await step('m-payload-context-extra', alice.did, await craftWrite({ persona: alice, descriptor: d5, payloadExtra: { contextId: 'abc' } }), new TextEncoder().encode('n'));
  const t6 = ts();
  const d6 = { ...d, schema: 'https://example.com/n', dateCreated: t6, messageTimestamp: t6 };
  await step('m-signed-by-other-key', alice.did, await craftWrite({ persona: alice, descriptor: d6, signerOverride: new PrivateKeySigner({ privateJwk: { kty: 'OKP', crv: 'Ed25519', x: 'x', d: b64u(seed(9)) }, keyId: alice.keyId, algorithm: 'EdDSA' }) }), new TextEncoder().encode('n'));
}
await step('m-not-an-object-descriptor', alice.did, { descriptor: 'x' });
await step('m-empty-message', alice.did, {});
await step('m-tenant-is-anything', 'not a did', (await RecordsQuery.create({ filter: { schema: 'https://example.com/x' }, messageTimestamp: ts() })).message);
await step('m-records-query-bad-filter', alice.did, { descriptor: { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: {} } });
await step('m-records-query-bad-range', alice.did, { descriptor: { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { tags: { a: { gt: 1, gte: 2 } } } } });
await step('m-records-read-missing-filter', alice.did, { descriptor: { interface: 'Records', method: 'Read', messageTimestamp: ts() } });
await step('m-messages-query-no-auth', alice.did, { descriptor: { interface: 'Messages', method: 'Query', messageTimestamp: ts(), filters: [] } });
await step('m-delete-no-prune', alice.did, { descriptor: { interface: 'Records', method: 'Delete', messageTimestamp: ts(), recordId: 'x' } });
{
  const descriptor = { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { schema: 'https://example.com/x' }, pagination: { limit: 0 } };
  await step('m-limit-zero', alice.did, { descriptor });
  const d2 = { interface: 'Records', method: 'Query', messageTimestamp: ts(), filter: { protocol: social }, pagination: { limit: 1.5 } };
  await step('m-limit-fraction', alice.did, { descriptor: d2 });
}

for (const l of out) process.stdout.write(JSON.stringify(l) + '\n');
await dwn.close();
fs.rmSync(dir, { recursive: true });
