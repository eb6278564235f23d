package ackcheck

import (
	"strings"
	"testing"
)

func TestVerifyFindsEachViolation(t *testing.T) {
	p := Partition{"t", 0}
	tests := []struct {
		name string
		acks []Record
		read []Record
		want string // substring of the error; "" means no error
	}{
		{"all present", []Record{{p, 0, []byte("a")}, {p, 1, []byte("b")}}, []Record{{p, 0, []byte("a")}, {p, 1, []byte("b")}, {p, 2, []byte("c")}}, ""},
		{"missing acked record", []Record{{p, 0, []byte("a")}, {p, 1, []byte("b")}}, []Record{{p, 0, []byte("a")}}, "offset 1 (\"b\") is missing"},
		{"wrong value", []Record{{p, 0, []byte("a")}}, []Record{{p, 0, []byte("x")}}, "holds \"x\", acknowledged \"a\""},
		{"gap in offsets", nil, []Record{{p, 0, []byte("a")}, {p, 2, []byte("c")}}, "not dense"},
		{"offset reused by two acks", []Record{{p, 0, []byte("a")}, {p, 0, []byte("b")}}, []Record{{p, 0, []byte("a")}}, "acknowledged twice"},
		{"offset read twice differently", nil, []Record{{p, 0, []byte("a")}, {p, 0, []byte("b")}}, "read twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger()
			for _, a := range tt.acks {
				l.Ack(a.Partition, a.Offset, a.Value)
			}
			err := l.Verify(tt.read)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
