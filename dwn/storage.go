package dwn

import (
	"github.com/datomspace/datomspace/dwn/jsv"
)

// dwn-sdk-js's StorageController: pruning of superseded messages, deletes and purges.

// deleteAllOlderMessagesButKeepInitialWrite removes every existing message of a record older than
// newest, keeping the initial write re-indexed as no longer the latest state.
func (h *handler) deleteAllOlderMessagesButKeepInitialWrite(existing []*jsv.Object, newest *jsv.Object) error {
	var deleted []string
	for _, m := range existing {
		old, err := isOlder(m, newest)
		if err != nil {
			return err
		}
		if !old {
			continue
		}
		if err := h.deleteFromDataStoreIfNeeded(m, newest); err != nil {
			return err
		}
		cid, err := MessageCID(m)
		if err != nil {
			return err
		}
		if err := h.n.cfg.messages.Delete(h.ctx, h.tenant, cid); err != nil {
			return err
		}
		initial, err := isInitialWriteMessage(m)
		if err != nil {
			return err
		}
		if initial {
			w, err := parseRecordsWrite(m)
			if err != nil {
				return err
			}
			ix, err := w.constructIndexes(false)
			if err != nil {
				return err
			}
			keep := m.Clone()
			keep.Delete("encodedData")
			if err := h.n.cfg.messages.Put(h.ctx, h.tenant, keep, ix); err != nil {
				return err
			}
		} else {
			deleted = append(deleted, cid)
		}
	}
	if len(deleted) > 0 {
		return h.n.cfg.events.Delete(h.ctx, h.tenant, deleted)
	}
	return nil
}

func (h *handler) deleteFromDataStoreIfNeeded(m, newest *jsv.Object) error {
	if !isRecordsWrite(m) {
		return nil
	}
	d := getObj(m, "descriptor")
	if size, _ := getNum(d, "dataSize"); size <= MaxDataSizeAllowedToBeEncoded {
		return nil
	}
	cid := strOr(d, "dataCid")
	if nc, ok := getStr(getObj(newest, "descriptor"), "dataCid"); ok && nc == cid {
		return nil
	}
	return h.n.cfg.data.Delete(h.ctx, h.tenant, strOr(m, "recordId"), cid)
}

// canPerformDelete is Records.canPerformDeleteAgainstRecord.
func canPerformDelete(del *jsv.Object, newest *jsv.Object) bool {
	if newest == nil {
		return false
	}
	nd := getObj(newest, "descriptor")
	if strOr(nd, "method") == MethodDelete {
		if !isTrue(getObj(del, "descriptor"), "prune") {
			return false
		}
		if isTrue(nd, "prune") {
			return false
		}
	}
	return true
}

// performRecordsDelete is StorageController.performRecordsDelete.
func (h *handler) performRecordsDelete(del *jsv.Object, author string) error {
	rid := strOr(getObj(del, "descriptor"), "recordId")
	existing, err := h.queryAll(filter("interface", InterfaceRecords, "recordId", rid))
	if err != nil {
		return err
	}
	newest, err := newestMessage(existing)
	if err != nil {
		return err
	}
	if !canPerformDelete(del, newest) {
		return nil
	}
	iw, err := initialWriteOf(existing)
	if err != nil {
		return err
	}
	if err := h.journal(del, nil, false); err != nil {
		return err
	}
	ix := deleteIndexes(del, iw, author)
	if err := h.n.cfg.messages.Put(h.ctx, h.tenant, del, ix); err != nil {
		return err
	}
	cid, err := MessageCID(del)
	if err != nil {
		return err
	}
	if err := h.n.cfg.events.Append(h.ctx, h.tenant, cid, ix); err != nil {
		return err
	}
	h.emit(Event{Message: del, InitialWrite: iw}, ix)
	if isTrue(getObj(del, "descriptor"), "prune") {
		if err := h.purgeRecordDescendants(rid, 0); err != nil {
			return err
		}
	}
	return h.deleteAllOlderMessagesButKeepInitialWrite(existing, del)
}

// deleteIndexes is RecordsDelete.constructIndexes.
func deleteIndexes(del, initialWrite *jsv.Object, author string) Indexes {
	ix := Indexes{"isLatestBaseState": true}
	iwd := getObj(initialWrite, "descriptor")
	for _, k := range []string{"protocol", "protocolPath", "recipient", "schema", "parentId", "dateCreated"} {
		if v, ok := iwd.Get(k); ok {
			ix[k] = v
		}
	}
	if v, ok := initialWrite.Get("contextId"); ok {
		ix["contextId"] = v
	}
	ix["author"] = author
	d := getObj(del, "descriptor")
	for _, k := range d.Keys() {
		v, _ := d.Get(k)
		ix[k] = v
	}
	return ix
}

const maxPurgeDepth = 64

// purgeRecordDescendants hard-deletes every descendant of recordID, deepest first.
func (h *handler) purgeRecordDescendants(recordID string, depth int) error {
	if depth > maxPurgeDepth {
		return nil // protocol structures are at most 10 levels deep
	}
	children, err := h.queryAll(filter("interface", InterfaceRecords, "parentId", recordID))
	if err != nil {
		return err
	}
	var order []string
	groups := map[string][]*jsv.Object{}
	for _, m := range children {
		var rid string
		if isRecordsWrite(m) {
			rid = strOr(m, "recordId")
		} else {
			rid = strOr(getObj(m, "descriptor"), "recordId")
		}
		if _, ok := groups[rid]; !ok {
			order = append(order, rid)
		}
		groups[rid] = append(groups[rid], m)
	}
	for _, rid := range order {
		if err := h.purgeRecordDescendants(rid, depth+1); err != nil {
			return err
		}
	}
	for _, rid := range order {
		if err := h.purgeRecordMessages(groups[rid]); err != nil {
			return err
		}
	}
	return nil
}

func (h *handler) purgeRecordMessages(ms []*jsv.Object) error {
	var writes []*jsv.Object
	for _, m := range ms {
		if strOr(getObj(m, "descriptor"), "method") == MethodWrite {
			writes = append(writes, m)
		}
	}
	newest, err := newestMessage(writes)
	if err != nil {
		return err
	}
	if newest != nil {
		if err := h.n.cfg.data.Delete(h.ctx, h.tenant, strOr(newest, "recordId"), strOr(getObj(newest, "descriptor"), "dataCid")); err != nil {
			return err
		}
	}
	cids := make([]string, 0, len(ms))
	for _, m := range ms {
		c, err := MessageCID(m)
		if err != nil {
			return err
		}
		cids = append(cids, c)
	}
	if err := h.n.cfg.events.Delete(h.ctx, h.tenant, cids); err != nil {
		return err
	}
	for _, c := range cids {
		if err := h.n.cfg.messages.Delete(h.ctx, h.tenant, c); err != nil {
			return err
		}
	}
	return nil
}
