import fs from 'node:fs';
import { Dwn, DataStream, DataStoreLevel, EventLogLevel, MessageStoreLevel, ResumableTaskStoreLevel, EventEmitterStream } from '@tbd54566975/dwn-sdk-js';
const dir = fs.mkdtempSync('/tmp/dwnh/anchor/db-');
const messageStore = new MessageStoreLevel({ blockstoreLocation: dir+'/MS', indexLocation: dir+'/MI' });
const dataStore = new DataStoreLevel({ blockstoreLocation: dir+'/DS' });
const eventLog = new EventLogLevel({ location: dir+'/EL' });
const resumableTaskStore = new ResumableTaskStoreLevel({ location: dir+'/RT' });
const dwn = await Dwn.create({ messageStore, dataStore, eventLog, resumableTaskStore, eventStream: new EventEmitterStream() });
const lines = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n');
for (const l of lines) {
  const s = JSON.parse(l);
  const opts = {};
  if (s.data) opts.dataStream = DataStream.fromBytes(Buffer.from(s.data, 'base64url'));
  const r = await dwn.processMessage(s.tenant, s.message, opts);
  const out = { step: s.step, code: r.status.code, detail: r.status.detail };
  if (r.entries) out.entries = r.entries.length;
  console.log(JSON.stringify(out));
}
await dwn.close();
fs.rmSync(dir, { recursive: true });
