package compat

import (
	"encoding/hex"
	"fmt"
)

// jobRecord is a record as the Python and kafkajs scripts read and write it in JSON: bytes
// as hex, null as null.
type jobRecord struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"` // name, hex value
	Timestamp int64       `json:"timestamp"`
}

// scriptJob is what a script reads on stdin: produce records to topic, within timeout.
type scriptJob struct {
	Bootstrap  string      `json:"bootstrap"`
	Topic      string      `json:"topic"`
	Partitions int32       `json:"partitions,omitempty"` // for a script that creates the topic itself
	TimeoutS   int         `json:"timeout_s"`
	Records    []jobRecord `json:"records"`
}

func toJob(rs []rec) []jobRecord {
	out := make([]jobRecord, len(rs))
	for i, r := range rs {
		j := jobRecord{Partition: r.Partition, Offset: r.Offset, Key: hexPtr(r.Key), Value: hexPtr(r.Value), Timestamp: r.Timestamp}
		j.Headers = [][2]string{}
		for _, h := range r.Headers {
			j.Headers = append(j.Headers, [2]string{h.Key, hex.EncodeToString(h.Value)})
		}
		out[i] = j
	}
	return out
}

func fromJob(js []jobRecord) ([]rec, error) {
	out := make([]rec, len(js))
	for i, j := range js {
		r := rec{Partition: j.Partition, Offset: j.Offset, Timestamp: j.Timestamp}
		var err error
		if r.Key, err = unhexPtr(j.Key); err != nil {
			return nil, fmt.Errorf("cannot decode key of record %d: %w", i, err)
		}
		if r.Value, err = unhexPtr(j.Value); err != nil {
			return nil, fmt.Errorf("cannot decode value of record %d: %w", i, err)
		}
		for _, h := range j.Headers {
			v, err := hex.DecodeString(h[1])
			if err != nil {
				return nil, fmt.Errorf("cannot decode header %s of record %d: %w", h[0], i, err)
			}
			r.Headers = append(r.Headers, hdr{Key: h[0], Value: v})
		}
		out[i] = r
	}
	return out, nil
}

func hexPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

func unhexPtr(s *string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	b, err := hex.DecodeString(*s)
	if b == nil {
		b = []byte{} // hex decodes "" to nil; the record said empty, not null
	}
	return b, err
}
