// storevectors.mjs records what dwn-sdk-js 0.5.2's MessageStoreLevel (with IndexLevel) returns
// for a set of puts, deletes and queries, including the range-scan and paging paths, as
// dwn/testdata/store.jsonl: the conformance ground truth every dwn.MessageStore must reproduce.
import fs from 'node:fs';
import { Message, MessageStoreLevel, SortDirection } from '@tbd54566975/dwn-sdk-js';

const dir = fs.mkdtempSync('/tmp/dwn-store-');
const store = new MessageStoreLevel({ blockstoreLocation: dir + '/B', indexLocation: dir + '/I' });
await store.open();

const ops = [];
const cids = [];
const ts = (n) => `2025-04-${String(1 + (n % 28)).padStart(2, '0')}T${String(n % 24).padStart(2, '0')}:00:00.000000Z`;
const schemas = ['https://a.example/s', 'https://b.example/s', 'https://c.example/s'];
const tags = ['alpha', 'ab', 'ab!', 'b', 'é', '😀', 'Z', '', 'a"b', 'a\\b'];
for (let i = 0; i < 48; i++) {
  const tenant = i % 8 === 7 ? 'did:example:other' : 'did:example:t';
  const message = { descriptor: { interface: i % 5 === 0 ? 'Protocols' : 'Records', method: i % 7 === 0 ? 'Delete' : 'Write', messageTimestamp: ts(i * 3) }, n: i };
  const indexes = {
    interface: message.descriptor.interface,
    method: message.descriptor.method,
    messageTimestamp: message.descriptor.messageTimestamp,
    isLatestBaseState: i % 4 !== 3,
    published: i % 3 === 0,
    schema: schemas[i % 3],
    recordId: `rec${i % 20}`,
    author: `did:example:author${i % 4}`,
    contextId: i % 2 ? `ctx${i % 3}/c${i % 5}` : `ctx${i % 3}`,
    dataSize: [0, 5, 30000, 30001, -1, 1.5, 1e20, 12][i % 8],
    'tag.word': tags[i % tags.length],
  };
  if (i % 6 !== 5) indexes.dateCreated = ts(i * 5 + 1);
  if (indexes.published) indexes.datePublished = ts(i * 7 + 2);
  if (i % 4 === 1) indexes['tag.list'] = [`x${i % 3}`, `y${i % 2}`];
  if (i % 5 === 2) indexes['tag.nums'] = [i, i * 10];
  if (i % 9 === 4) indexes.protocolPath = 'thread/chat';
  await store.put(tenant, message, indexes);
  const cid = await Message.getCid(message);
  cids.push(cid);
  ops.push({ op: 'put', tenant, message, indexes, cid });
}
for (const i of [11, 12]) {
  await store.delete(ops[i].tenant, cids[i]);
  ops.push({ op: 'delete', tenant: ops[i].tenant, cid: cids[i] });
}

const queries = [
  { filters: [] },
  { filters: [{ schema: schemas[0] }] },
  { filters: [{ schema: schemas[0] }, { schema: schemas[2] }] },
  { filters: [{ interface: 'Records', method: 'Write', isLatestBaseState: true }] },
  { filters: [{ interface: 'Records', method: ['Write', 'Delete'] }] },
  { filters: [{ dataSize: { gt: 0 } }] },
  { filters: [{ dataSize: { gte: 5, lte: 30000 } }] },
  { filters: [{ dataSize: { lt: 12 } }] },
  { filters: [{ dataSize: { lte: 12 } }] },
  { filters: [{ 'tag.word': { gte: 'ab', lt: 'ab\uffff' } }] },
  { filters: [{ 'tag.word': { lt: 'ab!' } }] },
  { filters: [{ 'tag.word': { lt: 'ab!' }, schema: schemas[1] }] },
  { filters: [{ 'tag.word': { gt: 'ab' } }] },
  { filters: [{ 'tag.word': 'é' }] },
  { filters: [{ 'tag.list': 'x1' }] },
  { filters: [{ 'tag.list': ['x0', 'y1'] }] },
  { filters: [{ 'tag.nums': { gt: 15 } }] },
  { filters: [{ contextId: { gte: 'ctx1', lt: 'ctx1\uffff' } }] },
  { filters: [{ contextId: { gte: 'ctx1', lt: 'ctx1\uffff' } }], sort: { messageTimestamp: SortDirection.Descending } },
  { filters: [{ schema: schemas[1] }], sort: { dateCreated: SortDirection.Ascending } },
  { filters: [{ schema: schemas[1] }], sort: { dateCreated: SortDirection.Descending } },
  { filters: [{ interface: 'Records' }], sort: { dateCreated: SortDirection.Ascending } },
  { filters: [{ interface: 'Records' }], sort: { datePublished: SortDirection.Descending } },
  { filters: [{ published: true }], sort: { datePublished: SortDirection.Ascending } },
  { filters: [{ interface: 'Records' }], sort: { dateCreated: SortDirection.Ascending }, pagination: { limit: 5 }, pages: 4 },
  { filters: [{ interface: 'Records' }], sort: { dateCreated: SortDirection.Descending }, pagination: { limit: 4 }, pages: 3 },
  { filters: [{ schema: schemas[0] }], sort: { messageTimestamp: SortDirection.Ascending }, pagination: { limit: 3 }, pages: 4 },
  { filters: [{ schema: schemas[0] }], sort: { messageTimestamp: SortDirection.Descending }, pagination: { limit: 2 }, pages: 3 },
  { filters: [{ recordId: 'rec3' }], pagination: { limit: 1 }, pages: 3 },
  { filters: [{ interface: 'Records' }], pagination: { limit: 1.5 } },
  { filters: [{ schema: schemas[1] }], pagination: { limit: 2.5 } },
  { filters: [{ author: 'did:example:author1', published: false }] },
  { filters: [{ protocolPath: 'thread/chat' }] },
  { filters: [{ nope: 1 }] },
  { filters: [{ interface: 'Records', published: true }, { interface: 'Records', author: 'did:example:author2' }], sort: { dateCreated: SortDirection.Ascending } },
];

const results = [];
for (const q of queries) {
  let pagination = q.pagination;
  const pages = [];
  for (let p = 0; p < (q.pages ?? 1); p++) {
    const { messages, cursor } = await store.query('did:example:t', q.filters, q.sort, pagination);
    pages.push({ cids: await Promise.all(messages.map((m) => Message.getCid(m))), cursor: cursor ?? null });
    if (!cursor) break;
    pagination = { ...pagination, cursor };
  }
  results.push({ op: 'query', tenant: 'did:example:t', filters: q.filters, sort: q.sort ?? null, pagination: q.pagination ?? null, pages });
}
const other = await store.query('did:example:other', [], undefined, undefined);
results.push({ op: 'query', tenant: 'did:example:other', filters: [], sort: null, pagination: null, pages: [{ cids: await Promise.all(other.messages.map((m) => Message.getCid(m))), cursor: null }] });

for (const o of [...ops, ...results]) process.stdout.write(JSON.stringify(o) + '\n');
await store.close();
fs.rmSync(dir, { recursive: true });
