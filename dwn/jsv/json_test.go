package jsv

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// TestParseErrorsLikeV8 checks the messages of JSON.parse failures against Node 20's, recorded by
// dwn/anchor/jsonerrors.mjs: dwn-sdk-js lets them through into reply details.
func TestParseErrorsLikeV8(t *testing.T) {
	f, err := os.Open("testdata/json-errors.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c struct {
			In  string `json:"in"`
			OK  bool   `json:"ok"`
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		_, err := Parse([]byte(c.In))
		if c.OK {
			if err != nil {
				t.Errorf("%q: %v, want success", c.In, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: parsed, want %q", c.In, c.Msg)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v is not ErrSyntax", c.In, err)
		}
		if err.Error() != c.Msg {
			t.Errorf("%q:\n got %q\nwant %q", c.In, err.Error(), c.Msg)
		}
	}
	if n < 50 {
		t.Fatalf("only %d cases", n)
	}
}
