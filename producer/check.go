package producer

import "errors"

// Errors of Check; the broker maps them to Kafka codes.
var (
	// ErrInvalidEpoch: the batch's epoch is older than the producer's (INVALID_PRODUCER_EPOCH).
	ErrInvalidEpoch = errors.New("producer epoch is older than the current one")
	// ErrOutOfOrder: the batch does not follow the producer's last sequence
	// (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrder = errors.New("sequence number out of order")
)

// Check validates an idempotent batch of epoch covering sequences [first, last] against the
// producer's current view (its epoch and last batches, pending ones included; nil for a
// producer this partition has no state of). It returns the index in view.Batches of the
// batch this one duplicates, or -1 when the batch is new and may be appended.
//
// The rules are Apache Kafka's (ProducerAppendInfo): an older epoch is refused; a batch equal
// to one of the last five is a duplicate; a new epoch must start at sequence 0; otherwise the
// first sequence must follow the last one. A producer with no state at all is accepted at any
// sequence (its state may have expired or been removed with old data, KIP-360).
func Check(view *Entry, epoch int16, first, last int32) (int, error) {
	if view == nil {
		return -1, nil
	}
	switch {
	case epoch < view.Epoch:
		return -1, ErrInvalidEpoch
	case epoch > view.Epoch:
		if first != 0 {
			return -1, ErrOutOfOrder
		}
		return -1, nil
	}
	for i, b := range view.Batches {
		if b.FirstSeq == first && b.LastSeq == last {
			return i, nil
		}
	}
	if len(view.Batches) > 0 && first != NextSeq(view.LastSeq()) {
		return -1, ErrOutOfOrder
	}
	return -1, nil
}
