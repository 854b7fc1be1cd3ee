package peer

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/doip/wire"
)

// doip21 performs req's operation over DOIP 2.1. Requests are signed with the node key when
// the service is this node's own (its Hello names the node key), and go unsigned otherwise: a
// signed 2.1 request is not bound to its server.
func (l *Local) doip21(ctx context.Context, req DOIPRequest, emit func(DOIPEvent) error) (DOIPReply, error) {
	rep := DOIPReply{Via: "doip21"}
	if req.auth() != nil {
		return rep, fmt.Errorf("%w: DOIP 2.1 calls authenticate by signature only (no token or password)", ErrBadRequest)
	}
	pin, err := req.pin()
	if err != nil {
		return rep, err
	}
	c, err := doip.DialTCP21(ctx, strings.TrimSuffix(strings.TrimPrefix(req.Peer, "doip21://"), "/"))
	if err != nil {
		return rep, err
	}
	defer c.Close()
	do21 := func(target, op string, attrs map[string]any, body []byte) (*wire.Message21, error) {
		m, err := c.Do(ctx, target, op, attrs, body)
		if err != nil {
			return nil, err
		}
		if !m.Params.Response.OK() {
			var a struct {
				Message string `json:"message"`
			}
			json.Unmarshal(m.Params.Attributes, &a)
			if a.Message == "" {
				a.Message = string(m.Body)
			}
			return nil, &doip.ErrStatus{Status: m.Params.Response, Message: a.Message}
		}
		return m, nil
	}
	object := func(m *wire.Message21) (*doip.DigitalObject, []byte, error) {
		oj, rest, err := wire.DecodeObject21(m.Body)
		if err != nil {
			return nil, nil, err
		}
		var do doip.DigitalObject
		if err := json.Unmarshal(oj, &do); err != nil {
			return nil, nil, fmt.Errorf("the object is not valid JSON: %w", err)
		}
		return &do, rest, nil
	}
	hm, err := do21("service", doip.OpHello, nil, nil)
	if err != nil {
		return rep, err
	}
	hello, _, err := object(hm)
	if err != nil {
		return rep, fmt.Errorf("hello: %w", err)
	}
	si, err := doip.ParseServiceInfo(hello)
	if err != nil {
		return rep, err
	}
	if pin != nil && !pin.Equal(si.PublicKey) {
		return rep, doip.ErrPin
	}
	if key, err := l.clientKey(); err == nil && key != nil && !req.Anonymous && key.Public().(ed25519.PublicKey).Equal(si.PublicKey) {
		c.Sign(key)
	}
	service := req.Service
	if service == "" {
		service = hello.ID
	}
	switch req.Op {
	case DOIPHello:
		rep.Object = hello
	case DOIPOps:
		target := req.ID
		if target == "" {
			target = service
		}
		m, err := do21(target, doip.OpListOperations, nil, nil)
		if err != nil {
			return rep, err
		}
		if err := json.Unmarshal(m.Body, &rep.Operations); err != nil {
			return rep, fmt.Errorf("operations: %w", err)
		}
	case DOIPCreate, DOIPUpdate:
		data, closeFiles, err := req.elementData()
		if err != nil {
			return rep, err
		}
		defer closeFiles()
		do := *req.Object
		do.Elements = slices.Clone(do.Elements)
		var bodies [][]byte
		for i, el := range do.Elements {
			r, ok := data[el.ID]
			if !ok {
				continue
			}
			b, err := io.ReadAll(r)
			if err != nil {
				return rep, err
			}
			do.Elements[i].Length = int64(len(b))
			bodies = append(bodies, b)
		}
		target, op := service, doip.OpCreate
		if req.Op == DOIPUpdate {
			do.ID, target, op = req.ID, req.ID, doip.OpUpdate
		}
		oj, err := json.Marshal(&do)
		if err != nil {
			return rep, err
		}
		var attrs map[string]any
		if len(req.Remove) > 0 {
			attrs = map[string]any{"elementsToDelete": req.Remove}
		}
		m, err := do21(target, op, attrs, wire.EncodeObject21(oj, bodies...))
		if err != nil {
			return rep, err
		}
		if rep.Object, _, err = object(m); err != nil {
			return rep, err
		}
	case DOIPRetrieve:
		attrs := map[string]any{}
		if req.Element != "" {
			attrs["element"] = req.Element
		} else if req.WithData {
			attrs["includeElementData"] = true
		}
		m, err := do21(req.ID, doip.OpRetrieve, attrs, nil)
		if err != nil {
			return rep, err
		}
		if req.Element != "" {
			ed, err := streamElement(req.Element, strings.NewReader(string(m.Body)), emit)
			if err != nil {
				return rep, err
			}
			rep.Elements = []DOIPElementData{ed}
			break
		}
		var rest []byte
		if rep.Object, rest, err = object(m); err != nil {
			return rep, err
		}
		if req.WithData {
			for _, el := range rep.Object.Elements {
				if el.Length <= 0 {
					continue
				}
				if el.Length > int64(len(rest)) {
					return rep, fmt.Errorf("retrieve %s: element %q of %d bytes, %d left", req.ID, el.ID, el.Length, len(rest))
				}
				ed, err := streamElement(el.ID, strings.NewReader(string(rest[:el.Length])), emit)
				if err != nil {
					return rep, err
				}
				rep.Elements = append(rep.Elements, ed)
				rest = rest[el.Length:]
			}
		}
	case DOIPDelete:
		if _, err := do21(req.ID, doip.OpDelete, nil, nil); err != nil {
			return rep, err
		}
	case DOIPSearch:
		m, err := do21(service, doip.OpSearch, req.searchAttributes(), nil)
		if err != nil {
			return rep, err
		}
		if rep.Search, err = searchResult(m.Body, m.Params.Attributes, req.IDsOnly); err != nil {
			return rep, err
		}
	case DOIPJoin, DOIPQuit:
		id, url, err := l.joinTarget(req)
		if err != nil {
			return rep, err
		}
		attrs, op := map[string]any{"repoID": id, "repoUrl": url}, doip.OpJoin
		if req.Op == DOIPQuit {
			attrs, op = map[string]any{"repoID": id}, doip.OpQuit
		}
		if _, err := do21(service, op, attrs, nil); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
