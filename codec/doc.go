// Package codec is KafScale's Kafka wire format: request header parsing and
// response header encoding (flexible versions decided by kmsg), the API
// version table, the record batch v2 view (validation without decompressing,
// in-place patching of the fields outside the CRC), record decoding for the
// four compression codecs, and the Fetch response fast path that encodes
// headers only and hands record bytes out as their own parts.
//
// Everything here is pure: no goroutines, no I/O, no configuration. The only
// package-level state is read-only lookup tables built from kmsg at init,
// pools of decompressors (stateless caches) and one metric.
package codec
