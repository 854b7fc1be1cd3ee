package datom

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseValueText(t *testing.T) {
	key := [32]byte{1, 2, 3}
	for _, tc := range []struct {
		typ, text string
		want      Value
		err       error
	}{
		{"", `{"a":1}`, String(`{"a":1}`), nil},
		{"string", "42", String("42"), nil},
		{"db.type/string", "", String(""), nil},
		{"json", `{"a":1}`, Value{}, ErrBadValue},
		{"json", `42`, Int(42), nil},
		{"json", `{"ref":"c/1"}`, Ref("c/1"), nil},
		{"json", `{"a":`, Value{}, ErrBadJSON},
		{"json", `{"ref":""}`, Value{}, ErrBadValue},
		{"json", `"\xff"`, Value{}, ErrBadJSON},
		{"int64", "-42", Int(-42), nil},
		{"int", "9223372036854775807", Int(9223372036854775807), nil},
		{"db.type/long", "7", Int(7), nil},
		{"int64", "9223372036854775808", Value{}, ErrBadValue},
		{"int64", "4.0", Value{}, ErrBadValue},
		{"int64", " 4", Value{}, ErrBadValue},
		{"float64", "1.5", Float(1.5), nil},
		{"float", "2e-3", Float(0.002), nil},
		{"db.type/double", "3", Float(3), nil},
		{"float64", "NaN", Value{}, ErrBadValue},
		{"float64", "Inf", Value{}, ErrBadValue},
		{"float64", "1e400", Value{}, ErrBadValue},
		{"bool", "true", Bool(true), nil},
		{"db.type/boolean", "false", Bool(false), nil},
		{"bool", "yes", Value{}, ErrBadValue},
		{"bool", "1", Value{}, ErrBadValue},
		{"time", "2024-01-02T03:04:05.5+01:00", Time(time.Date(2024, 1, 2, 2, 4, 5, 5e8, time.UTC)), nil},
		{"db.type/instant", "2024-01-02", Time(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)), nil},
		{"time", "yesterday", Value{}, ErrBadValue},
		{"bytes", "0x00ff", Bytes([]byte{0, 0xff}), nil},
		{"bytes", "AP8=", Bytes([]byte{0, 0xff}), nil},
		{"bytes", "0xf", Value{}, ErrBadValue},
		{"bytes", "!!", Value{}, ErrBadValue},
		{"ref", "contact/1", Ref("contact/1"), nil},
		{"ref", "", Value{}, ErrBadValue},
		{"core-ref", CoreRef(key, "c/1").String(), CoreRef(key, "c/1"), nil},
		{"coreref", "nothex:c/1", Value{}, ErrBadValue},
		{"core-ref", "c/1", Value{}, ErrBadValue},
		{"string", "\xff", Value{}, ErrBadValue},
		{"number", "1", Value{}, ErrUnknownType},
	} {
		v, err := ParseValueText(tc.typ, tc.text)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s %q: %v, %v; want %v", tc.typ, tc.text, v, err, tc.err)
			}
			continue
		}
		if err != nil || !v.Equal(tc.want) {
			t.Errorf("%s %q: %v, %v; want %v", tc.typ, tc.text, v, err, tc.want)
		}
	}
	if _, err := ParseValueText("number", "1"); err == nil || !strings.Contains(err.Error(), "or json") {
		t.Errorf("unknown type error %v does not list json", err)
	}
}
