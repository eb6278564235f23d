package fsck

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Problem kinds. Each names one way etcd and the bucket disagree, or the bucket is damaged.
const (
	// KindMissing: etcd references an object the bucket does not hold.
	KindMissing = "missing-object"
	// KindMismatch: the object's size or footer position differs from what etcd recorded.
	KindMismatch = "object-mismatch"
	// KindCorrupt: the object's footer does not decode (bad checksum, truncated, ...).
	KindCorrupt = "corrupt-footer"
	// KindOrphan: no etcd key references the object, and it is older than GC would leave it.
	KindOrphan = "orphan"
	// KindGap: a partition's log skips offsets that no log start, retention or compaction
	// explains.
	KindGap = "offset-gap"
	// KindShort: a partition's log ends before the next offset its checkpoint recorded.
	KindShort = "log-short"
	// KindManifest: a topic's manifest in the bucket is missing or differs from etcd.
	KindManifest = "topic-manifest"
	// KindUnknownTopic: objects hold extents of a topic id that has no manifest (a rebuild
	// cannot restore it).
	KindUnknownTopic = "unknown-topic"
	// KindCorruptMetadata: a topic manifest, group-offsets snapshot or log-start copy in
	// the bucket does not decode; what it held is not restored.
	KindCorruptMetadata = "corrupt-metadata"
)

// Finding is one problem or note of a report.
type Finding struct {
	Kind      string `json:"kind"`
	Object    string `json:"object,omitempty"`
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	Detail    string `json:"detail"`
}

// Report is the outcome of a check or a rebuild.
type Report struct {
	Mode string `json:"mode"` // "check" or "rebuild"
	// Counts of what was examined.
	FlushObjects   int `json:"flush_objects"`
	SegmentObjects int `json:"segment_objects"`
	ProducerStates int `json:"producer_state_objects"`
	Topics         int `json:"topics"`
	Partitions     int `json:"partitions"`
	Groups         int `json:"groups"`
	// InFlight counts unreferenced objects younger than the orphan age: uploads not yet
	// committed, or objects GC has not yet had time to delete.
	InFlight int `json:"in_flight_objects"`
	// Problems make the exit status 1; Notes do not.
	Problems []Finding `json:"problems"`
	Notes    []Finding `json:"notes"`
}

// Healthy reports whether the report found no problem.
func (r *Report) Healthy() bool { return len(r.Problems) == 0 }

func (r *Report) problem(f Finding) { r.Problems = append(r.Problems, f) }
func (r *Report) note(f Finding)    { r.Notes = append(r.Notes, f) }

func part(p int32) *int32 { return &p }

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	if r.Problems == nil {
		r.Problems = []Finding{}
	}
	if r.Notes == nil {
		r.Notes = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the counts, then each problem and note.
func (r *Report) WriteText(w io.Writer) error {
	sortFindings(r.Problems)
	sortFindings(r.Notes)
	fmt.Fprintf(w, "fsck %s: %d flush objects, %d segment objects, %d producer-state objects; %d topics, %d partitions, %d groups; %d objects in flight\n",
		r.Mode, r.FlushObjects, r.SegmentObjects, r.ProducerStates, r.Topics, r.Partitions, r.Groups, r.InFlight)
	for _, f := range r.Problems {
		fmt.Fprintf(w, "PROBLEM %s\n", f.line())
	}
	for _, f := range r.Notes {
		fmt.Fprintf(w, "note    %s\n", f.line())
	}
	if r.Healthy() {
		_, err := fmt.Fprintln(w, "healthy")
		return err
	}
	_, err := fmt.Fprintf(w, "%d problems\n", len(r.Problems))
	return err
}

func (f Finding) line() string {
	s := f.Kind
	if f.Topic != "" {
		s += " " + f.Topic
		if f.Partition != nil {
			s += fmt.Sprintf("-%d", *f.Partition)
		}
	}
	if f.Object != "" {
		s += " " + f.Object
	}
	return s + ": " + f.Detail
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Kind != fs[j].Kind {
			return fs[i].Kind < fs[j].Kind
		}
		return fs[i].line() < fs[j].line()
	})
}
