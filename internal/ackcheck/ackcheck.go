// Package ackcheck checks the durability contract from the client side: every record a
// producer saw acknowledged is read back at its acknowledged offset with its value, and the
// offsets of each partition are dense from the first one read. Crash and fault tests record
// acks into a Ledger while they break the broker, then Verify what a consumer reads back.
package ackcheck

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Partition names a topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Ledger collects acknowledged records. Safe for concurrent use.
type Ledger struct {
	mu    sync.Mutex
	acked map[Partition]map[int64][]byte
	n     int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{acked: make(map[Partition]map[int64][]byte)} }

// Ack records that value was acknowledged at offset. A second ack of the same offset with
// another value is itself a violation (an offset was reused) and is reported by Verify.
func (l *Ledger) Ack(p Partition, offset int64, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.acked[p]
	if m == nil {
		m = make(map[int64][]byte)
		l.acked[p] = m
	}
	if old, ok := m[offset]; ok && !bytes.Equal(old, value) {
		m[offset] = append([]byte("\x00REUSED:"), value...)
		return
	}
	m[offset] = bytes.Clone(value)
	l.n++
}

// Len returns the number of acknowledged records.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Record is one record read back.
type Record struct {
	Partition
	Offset int64
	Value  []byte
}

// Verify checks what was read back against the ledger: every acked record present at its
// offset with its value, offsets dense and increasing per partition from the first record
// read, and no offset read twice with different values. It returns nil or an error listing
// up to 20 violations.
func (l *Ledger) Verify(read []Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var bad []string
	byPart := make(map[Partition][]Record)
	for _, r := range read {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	got := make(map[Partition]map[int64][]byte)
	for p, rs := range byPart {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Offset < rs[j].Offset })
		m := make(map[int64][]byte, len(rs))
		for i, r := range rs {
			if old, ok := m[r.Offset]; ok {
				if !bytes.Equal(old, r.Value) {
					bad = append(bad, fmt.Sprintf("%s-%d offset %d read twice with different values", p.Topic, p.Partition, r.Offset))
				}
				continue
			}
			if i > 0 && r.Offset != rs[i-1].Offset+1 && r.Offset != rs[i-1].Offset {
				bad = append(bad, fmt.Sprintf("%s-%d offsets not dense: %d follows %d", p.Topic, p.Partition, r.Offset, rs[i-1].Offset))
			}
			m[r.Offset] = r.Value
		}
		got[p] = m
	}
	for p, acked := range l.acked {
		for off, v := range acked {
			if bytes.HasPrefix(v, []byte("\x00REUSED:")) {
				bad = append(bad, fmt.Sprintf("%s-%d offset %d was acknowledged twice for different records", p.Topic, p.Partition, off))
				continue
			}
			rv, ok := got[p][off]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s-%d acknowledged offset %d (%q) is missing", p.Topic, p.Partition, off, short(v)))
			case !bytes.Equal(rv, v):
				bad = append(bad, fmt.Sprintf("%s-%d offset %d holds %q, acknowledged %q", p.Topic, p.Partition, off, short(rv), short(v)))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	n := len(bad)
	if n > 20 {
		bad = append(bad[:20], fmt.Sprintf("... and %d more", n-20))
	}
	return fmt.Errorf("%d durability violations:\n%s", n, strings.Join(bad, "\n"))
}

func short(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
