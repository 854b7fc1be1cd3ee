package datomspace

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/datomspace/datomspace/peer"
)

// Datoms: a core can be a datom database, whose blocks are transactions of facts
// (entity, attribute, value, tx, added); see package datom for the model, the JSON forms and the
// query language. A datom core's blocks are not values of the session's encoding: use Transact,
// Pull and Query on it rather than Append and Get.

// TxResult is what a transaction appended: its tx (the block index), time and datoms.
type TxResult = peer.TxResult

// Entity is an entity of a datom core: its attributes and their values, as JSON.
type Entity = peer.PullResult

// QueryResult is a query's answer: columns and rows, every row naming its core.
type QueryResult = peer.QueryResult

// Transact appends a transaction to this server's own datom core (its first transaction makes an
// empty core a datom core). tx is the transaction in JSON, as text (a string, []byte or
// json.RawMessage) or as a value that marshals to it, such as
//
//	[]map[string]any{{"db/id": "contact/1", "contact/name": "Bob"}}
//
// A transaction the datom layer refuses matches ErrRejected, or ErrBadJSON when malformed, and
// appends nothing.
func (c *Core) Transact(ctx context.Context, tx any) (*TxResult, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	text, err := jsonText(tx)
	if err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	res, err := call(ctx, c.cl, peer.OpTransact, peer.TransactRequest{Ref: c.ref, Tx: text})
	if err != nil {
		return nil, err
	}
	c.setLength(res.Tx + 1)
	return &res, nil
}

// Pull returns entity e of this datom core as it is now. On a Key core it first downloads every
// block up to the signed length Ready (or a later call) saw, so that a reader's reads see all of
// the owner's datoms without a separate catch-up.
func (c *Core) Pull(ctx context.Context, e string) (*Entity, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	res, err := call(ctx, c.cl, peer.OpCorePull, peer.PullRequest{Ref: c.ref, E: e})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Query runs a Datalog query over this datom core; q is the query in JSON, as text or as a value
// that marshals to it, such as
//
//	map[string]any{"find": []string{"?name"}, "where": [][]any{{"?e", "contact/name", "?name"}}}
//
// On a Key core it first downloads every block up to the signed length, as Pull does.
func (c *Core) Query(ctx context.Context, q any) (*QueryResult, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	text, err := jsonText(q)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	res, err := call(ctx, c.cl, peer.OpCoreQuery, peer.QueryRequest{Cores: []string{c.ref}, Query: text})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// jsonText returns v as JSON text: text as it is, anything else marshalled.
func jsonText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case json.RawMessage:
		return string(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return string(b), nil
}
