package codec

import (
	"math"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxShortString is the longest string a non-flexible version can carry: its length is
// an int16. kmsg's AppendTo writes only the low 16 bits of a longer length, so a
// response holding one cannot be decoded (and the bytes after it are misread).
const MaxShortString = math.MaxInt16

// AppendResponse appends the body of resp at its version (set it first) to dst, made
// decodable with FitStrings when it could hold a string too long for that version, and
// returns the fields it cut. Only a body longer than MaxShortString can hold such a
// string, so the others cost nothing more than AppendTo.
func AppendResponse(dst []byte, resp kmsg.Response) ([]byte, []string) {
	start := len(dst)
	dst = resp.AppendTo(dst)
	if len(dst)-start <= MaxShortString || resp.IsFlexible() {
		return dst, nil
	}
	cut := FitStrings(resp)
	if cut == nil {
		return dst, nil
	}
	return resp.AppendTo(dst[:start]), cut
}

// FitStrings makes resp encodable at its version (set it first): in a non-flexible
// version, every string longer than MaxShortString is cut to the longest prefix that
// fits, ending on a UTF-8 boundary. It returns the dotted names of the fields it cut
// (nil when none), so the caller can tell an error message cut short, which is
// expected, from a value that should have been refused on input. Flexible versions
// carry strings with varint lengths and are left alone.
func FitStrings(resp kmsg.Response) []string {
	if resp.IsFlexible() {
		return nil
	}
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() || !mayHoldStrings(v.Type()) {
		return nil
	}
	f := fitter{path: make([]string, 0, 8)}
	f.fit(v.Elem())
	return f.cut
}

// fitter walks one response.
type fitter struct {
	path []string // field names from the response down to the value being walked
	cut  []string
}

func (f *fitter) fit(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.Len() > MaxShortString {
			v.SetString(cutString(v.String()))
			f.note()
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if e := v.Elem(); e.Kind() == reflect.String {
			// The pointee may be shared with state the response was built from:
			// point at a cut copy instead of changing it.
			if e.Len() > MaxShortString {
				s := cutString(e.String())
				v.Set(reflect.ValueOf(&s))
				f.note()
			}
			return
		}
		f.fit(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			return
		}
		et := v.Type().Elem()
		if !mayHoldStrings(et) {
			return
		}
		if et.Kind() == reflect.Struct {
			// Most of a large response is one slice of structs: look its fields up once.
			fields := stringFields(et)
			for i := range v.Len() {
				f.fitFields(v.Index(i), fields)
			}
			return
		}
		for i := range v.Len() {
			f.fit(v.Index(i))
		}
	case reflect.Struct:
		f.fitFields(v, stringFields(v.Type()))
	}
}

func (f *fitter) fitFields(v reflect.Value, fields []field) {
	for _, sf := range fields {
		f.path = append(f.path, sf.name)
		f.fit(v.Field(sf.index))
		f.path = f.path[:len(f.path)-1]
	}
}

func (f *fitter) note() {
	name := strings.Join(f.path, ".")
	for _, c := range f.cut {
		if c == name {
			return
		}
	}
	f.cut = append(f.cut, name)
}

// cutString returns the longest prefix of s of at most MaxShortString bytes that does
// not end inside a UTF-8 sequence.
func cutString(s string) string {
	n := MaxShortString
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// field is one exported struct field that may hold a string.
type field struct {
	index int
	name  string
}

// structFields caches stringFields per struct type.
var structFields sync.Map // reflect.Type -> []field

// stringFields returns the exported fields of struct type t that may hold strings:
// the only ones worth walking into.
func stringFields(t reflect.Type) []field {
	if v, ok := structFields.Load(t); ok {
		return v.([]field)
	}
	var out []field
	for i := range t.NumField() {
		if sf := t.Field(i); sf.IsExported() && mayHoldStrings(sf.Type) {
			out = append(out, field{index: i, name: sf.Name})
		}
	}
	structFields.Store(t, out)
	return out
}

// stringTypes caches mayHoldStrings per type: responses of one API share their types,
// and most fields (integers, bytes, tags) are skipped without a look inside.
var stringTypes sync.Map // reflect.Type -> bool

// mayHoldStrings reports whether a value of type t can contain a string in an exported
// field, directly or through pointers, slices and structs.
func mayHoldStrings(t reflect.Type) bool {
	if v, ok := stringTypes.Load(t); ok {
		return v.(bool)
	}
	has := holdsStrings(t, make(map[reflect.Type]bool))
	stringTypes.Store(t, has)
	return has
}

// holdsStrings computes mayHoldStrings; walking marks the types under way, so a
// recursive type ends the walk instead of looping (kmsg has none).
func holdsStrings(t reflect.Type, walking map[reflect.Type]bool) bool {
	if walking[t] {
		return false
	}
	walking[t] = true
	defer delete(walking, t)
	switch t.Kind() {
	case reflect.String:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsStrings(t.Elem(), walking)
	case reflect.Struct:
		for i := range t.NumField() {
			if sf := t.Field(i); sf.IsExported() && holdsStrings(sf.Type, walking) {
				return true
			}
		}
	}
	return false
}
