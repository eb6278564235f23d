package objstore

import (
	"context"
	"testing"
)

// TestCountedCountsEachRequestAndItsBytes: each operation counts one request under its op,
// PUT and GET their bytes, and a failed request (a GET of a missing key) counts too, as S3
// bills it. A DeleteMany is one delete request, however many keys it names.
func TestCountedCountsEachRequestAndItsBytes(t *testing.T) {
	st := Counted(newTestLocal(t))
	ctx := context.Background()
	before := []uint64{objPuts.Get(), objGets.Get(), objLists.Get(), objDeletes.Get(), objPutBytes.Get(), objGetBytes.Get(), objListedKeys.Get(), objDeleteKeys.Get()}
	if err := st.Put(ctx, "a/1", [][]byte{[]byte("hello"), []byte("world")}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetRange(ctx, "a/1", 2, 4); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.GetSuffix(ctx, "a/1", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetRange(ctx, "a/missing", 0, 1); err == nil {
		t.Fatal("GetRange of a missing key succeeded")
	}
	if infos, err := st.List(ctx, "a/"); err != nil || len(infos) != 1 {
		t.Fatalf("List = %v, %v; want one key", infos, err)
	}
	if err := st.Delete(ctx, "a/1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMany(ctx, []string{"a/2", "a/3", "a/4"}); err != nil {
		t.Fatal(err)
	}
	after := []uint64{objPuts.Get(), objGets.Get(), objLists.Get(), objDeletes.Get(), objPutBytes.Get(), objGetBytes.Get(), objListedKeys.Get(), objDeleteKeys.Get()}
	want := []uint64{1, 3, 1, 2, 10, 7, 1, 4}
	names := []string{"puts", "gets", "lists", "deletes", "put bytes", "get bytes", "listed keys", "delete keys"}
	for i := range want {
		if got := after[i] - before[i]; got != want[i] {
			t.Errorf("%s: counted %d; want %d", names[i], got, want[i])
		}
	}
	if got, want := Location(st), Location(st.(*countedStore).st); got != want || got == "" {
		t.Errorf("Location = %q; want the wrapped store's %q", got, want)
	}
}
