package datom

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// sampleTxs are transactions covering every value kind; testdata/tx_golden.hex holds their
// encodings, one per line, so that a change of the block format cannot go unnoticed.
func sampleTxs() []Tx {
	var core corestore.Key
	for i := range core {
		core[i] = byte(i)
	}
	return []Tx{
		{Time: time.UnixMilli(1700000000000).UTC(), Datoms: []Datom{
			{E: "contact/1", A: "contact/name", V: String("Alice"), Added: true},
			{E: "contact/1", A: "contact/age", V: Int(-31), Added: true},
			{E: "contact/1", A: "contact/score", V: Float(1.5), Added: true},
			{E: "contact/1", A: "contact/active", V: Bool(true), Added: true},
			{E: "contact/1", A: "contact/key", V: Bytes([]byte{0, 1, 2}), Added: true},
			{E: "contact/1", A: "contact/born", V: Time(time.Date(1995, 3, 4, 5, 6, 7, 8, time.UTC)), Added: true},
			{E: "contact/1", A: "contact/friend", V: Ref("contact/2"), Added: true},
			{E: "contact/1", A: "contact/peer", V: CoreRef(core, "contact/9"), Added: true},
			{E: "contact/1", A: "contact/old", V: String("x\x00y"), Added: false},
		}},
		{Time: time.UnixMilli(0).UTC(), Datoms: []Datom{
			{E: "s/1", A: AttrIdent, V: String("contact/email"), Added: true},
			{E: "s/1", A: AttrValueType, V: String("string"), Added: true},
			{E: "s/1", A: AttrUnique, V: String("identity"), Added: true},
		}},
		{Time: time.UnixMilli(5).UTC(), Datoms: []Datom{}},
	}
}

func TestEncodeTxGolden(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "tx_golden.hex"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(golden))
	txs := sampleTxs()
	if len(lines) != len(txs) {
		t.Fatalf("%d golden lines for %d transactions", len(lines), len(txs))
	}
	for i, tx := range txs {
		b, err := EncodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := EncodeTx(tx)
		if !bytes.Equal(b, b2) {
			t.Fatalf("tx %d: two encodings differ", i)
		}
		if got := hex.EncodeToString(b); got != lines[i] {
			t.Errorf("tx %d encodes as\n%s\nwant\n%s", i, got, lines[i])
		}
		if !IsTxBlock(b) {
			t.Errorf("tx %d: not recognised as a transaction block", i)
		}
		back, err := DecodeTxAt(b, 7)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Time.Equal(tx.Time) || len(back.Datoms) != len(tx.Datoms) {
			t.Fatalf("tx %d: decoded %+v", i, back)
		}
		for j, d := range back.Datoms {
			want := tx.Datoms[j]
			want.Tx = 7
			if d.String() != want.String() || !d.V.Equal(want.V) {
				t.Errorf("tx %d datom %d: %s, want %s", i, j, d, want)
			}
		}
	}
}

func TestDecodeTxRejects(t *testing.T) {
	good, _ := EncodeTx(sampleTxs()[0])
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrNotTx},
		{"text", []byte("hello world"), ErrNotTx},
		{"other cbor", []byte{0x83, 1, 2, 3}, ErrNotTx},
		{"truncated", good[:len(good)-3], ErrBadTx},
		{"trailing data", append(append([]byte{}, good...), 0), ErrBadTx},
		{"wrong version", bytes.Replace(good, []byte(TxMarker+"\x01"), []byte(TxMarker+"\x02"), 1), ErrNotTx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTx(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeTxRejectsBadDatoms(t *testing.T) {
	for _, d := range []Datom{
		{E: "", A: "a/b", V: Int(1)},
		{E: "x", A: "", V: Int(1)},
		{E: "x", A: "a/b", V: Float(math.NaN())},
		{E: "x", A: "a/b", V: String("\xff")},
		{E: "x", A: "a/b", V: Value{Kind: 99}},
		{E: "x", A: "a/b", V: Time(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{E: "x", A: "a/b", V: Ref("")},
	} {
		if _, err := EncodeTx(Tx{Datoms: []Datom{d}}); err == nil {
			t.Errorf("datom %s was encoded", d)
		}
	}
}

// randValue returns a random value of kind k.
func randValue(r *rand.Rand, k Kind) Value {
	str := func() string {
		b := make([]byte, r.IntN(4))
		for i := range b {
			b[i] = "\x00\x01a\xffb"[r.IntN(5)]
		}
		return string(b)
	}
	switch k {
	case KindString:
		return String(str())
	case KindInt:
		return Int(int64(r.Uint64()) >> r.IntN(64))
	case KindFloat:
		return Float(math.Float64frombits(r.Uint64()) * 0)
	case KindBool:
		return Bool(r.IntN(2) == 0)
	case KindBytes:
		return Bytes([]byte(str()))
	case KindTime:
		return Time(time.Unix(r.Int64N(1<<34)-1<<33, r.Int64N(1e9)))
	case KindRef:
		return Ref(str())
	}
	var c corestore.Key
	c[r.IntN(32)] = byte(r.IntN(3))
	return CoreRef(c, str())
}

func naturalCompare(a, b Value) int {
	switch a.Kind {
	case KindString, KindRef:
		return strings.Compare(a.Str, b.Str)
	case KindInt:
		return cmp.Compare(a.Int, b.Int)
	case KindFloat:
		return cmp.Compare(a.Float, b.Float)
	case KindBool:
		return cmp.Compare(boolByte(a.Bool), boolByte(b.Bool))
	case KindBytes:
		return bytes.Compare(a.Bytes, b.Bytes)
	case KindTime:
		return a.Time.Compare(b.Time)
	}
	if c := bytes.Compare(a.Core[:], b.Core[:]); c != 0 {
		return c
	}
	return strings.Compare(a.Str, b.Str)
}

// TestKeyOrder checks that index keys sort as their values do and decode back.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	floats := []float64{math.Inf(-1), -1e300, -1, -0.5, 0, 0.5, 1, 1e300, math.Inf(1)}
	for i := 0; i < 20000; i++ {
		k := Kind(1 + r.IntN(8))
		a, b := randValue(r, k), randValue(r, k)
		if k == KindFloat {
			a, b = Float(floats[r.IntN(len(floats))]), Float(floats[r.IntN(len(floats))])
		}
		if got, want := bytes.Compare(a.key(nil), b.key(nil)), naturalCompare(a, b); got != want {
			t.Fatalf("%s vs %s: keys compare %d, values %d", a, b, got, want)
		}
		if got, want := Compare(a, b), naturalCompare(a, b); got != want {
			t.Fatalf("Compare(%s, %s) = %d, want %d", a, b, got, want)
		}
		back, rest, err := decodeKeyValue(append(a.key(nil), 9))
		if err != nil || !valueEq(back, a) || !bytes.Equal(rest, []byte{9}) {
			t.Fatalf("%s decodes as %s %v %v", a, back, rest, err)
		}
	}
	if !Float(0).Equal(Float(math.Copysign(0, -1))) {
		t.Error("-0 and 0 differ")
	}
}

// TestWriteFuzzSeeds regenerates the FuzzDecodeTx seed corpus and the golden encodings when
// DATOM_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DATOM_WRITE_SEEDS") == "" {
		t.Skip("set DATOM_WRITE_SEEDS=1 to regenerate testdata")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeTx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var golden strings.Builder
	blocks := [][]byte{}
	for _, tx := range sampleTxs() {
		b, err := EncodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&golden, hex.EncodeToString(b))
		blocks = append(blocks, b)
	}
	blocks = append(blocks, randomTxs(t, 1, 4)...)
	for i, b := range blocks {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join("testdata", "tx_golden.hex"), []byte(golden.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
