package protofuzz

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// gen fills kmsg requests with random values. kmsg requests are plain structs: scalar
// fields, strings, nullable strings (*string), bytes, [16]byte UUIDs, nested structs and
// slices of them, each nested type with a Default method setting Kafka's defaults, and
// an UnknownTags field; fields a version does not have are simply not encoded. So one
// reflective walk covers every API and version kmsg knows. Field names steer values
// towards what the broker knows (the pool's topics and groups, small partition numbers,
// short timeouts) often enough to reach past the first check.
type gen struct {
	rng    *rand.Rand
	pool   *pool
	bombs  *bombs
	budget int // bytes and elements left for this request: bounds a request's size
}

// pool is what the broker knows that requests may name: created at the start of a run.
type pool struct {
	topics   []string
	topicIDs [][16]byte
	groups   []string
}

// requestBudget bounds the random bytes and array elements of one request (bombs and
// 40,000-byte strings included), so that a frame stays far below socket.request.max.bytes.
const requestBudget = 1 << 20

// fill sets random values in every field of req except Version.
func (g *gen) fill(req kmsg.Request) {
	g.budget = requestBudget
	v := reflect.ValueOf(req).Elem()
	g.fillStruct(v, v.Type().Name(), true)
}

func (g *gen) fillStruct(v reflect.Value, typ string, top bool) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "UnknownTags" || (top && f.Name == "Version") {
			continue
		}
		// Keep Kafka's default (set by Default, or zero) now and then: valid values reach
		// further into a handler than random ones.
		if g.rng.IntN(8) == 0 {
			continue
		}
		g.fillField(v.Field(i), typ, f.Name)
	}
}

// callDefault calls the Default method of the struct at v (addressable), if it has one.
func callDefault(v reflect.Value) {
	pt := v.Addr().Type()
	idx, ok := defaults.Load(pt)
	if !ok {
		m, found := pt.MethodByName("Default")
		i := -1
		if found && m.Type.NumIn() == 1 {
			i = m.Index
		}
		defaults.Store(pt, i)
		idx = i
	}
	if i := idx.(int); i >= 0 {
		v.Addr().Method(i).Call(nil)
	}
}

// defaults caches the method index of Default per pointer type (-1: none).
var defaults sync.Map

func (g *gen) fillField(v reflect.Value, typ, name string) {
	r := g.rng
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int8:
		v.SetInt(int64(g.int8()))
	case reflect.Int16:
		v.SetInt(int64(g.int16(name)))
	case reflect.Int32:
		v.SetInt(int64(g.int32Named(name)))
	case reflect.Int64:
		v.SetInt(g.int64Named(name))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64() >> r.IntN(64))
	case reflect.Float64:
		v.SetFloat([]float64{0, -1, 1, math.MaxFloat64, math.Inf(1), math.NaN(), r.Float64() * 1000}[r.IntN(7)])
	case reflect.String:
		v.SetString(g.stringNamed(name))
	case reflect.Pointer:
		if r.IntN(4) == 0 {
			v.SetZero() // null
			return
		}
		e := reflect.New(v.Type().Elem())
		if e.Elem().Kind() == reflect.Struct {
			callDefault(e.Elem())
			g.fillStruct(e.Elem(), e.Elem().Type().Name(), false)
		} else {
			g.fillField(e.Elem(), typ, name)
		}
		v.Set(e)
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Len() == 16 {
			v.Set(reflect.ValueOf(g.uuid()))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if name == "Records" {
				v.SetBytes(g.records())
				return
			}
			if r.IntN(6) == 0 {
				v.SetZero()
				return
			}
			v.SetBytes(g.bytesN(g.length(300)))
			return
		}
		if r.IntN(10) == 0 {
			v.SetZero() // null array, where the version has nullable arrays
			return
		}
		n := g.arrayLen()
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			e := s.Index(i)
			if e.Kind() == reflect.Struct {
				callDefault(e)
				g.fillStruct(e, e.Type().Name(), false)
			} else {
				g.fillField(e, typ, name)
			}
		}
		v.Set(s)
	case reflect.Struct:
		callDefault(v)
		g.fillStruct(v, v.Type().Name(), false)
	}
}

// arrayLen is an array's length: mostly short, sometimes long (up to 2,000 elements, as
// the budget allows).
func (g *gen) arrayLen() int {
	r := g.rng
	n := 0
	switch x := r.IntN(100); {
	case x < 15:
		n = 0
	case x < 80:
		n = 1 + r.IntN(3)
	case x < 95:
		n = 4 + r.IntN(20)
	default:
		n = 100 + r.IntN(1900)
	}
	n = min(n, g.budget/64)
	g.budget -= n * 64
	return max(n, 0)
}

// length is a byte string's length: empty, short, the 16-bit boundaries, or 40,000.
func (g *gen) length(short int) int {
	r := g.rng
	n := 0
	switch x := r.IntN(100); {
	case x < 12:
		n = 0
	case x < 80:
		n = 1 + r.IntN(short)
	case x < 88:
		n = short + r.IntN(2000)
	case x < 92:
		n = []int{32767, 32768, 65535, 65536}[r.IntN(4)]
	default:
		n = 40000
	}
	if n > g.budget {
		n = r.IntN(max(g.budget, 1))
	}
	g.budget -= n
	return n
}

func (g *gen) bytesN(n int) []byte { return randomBytes(g.rng, n) }

// topicish and groupish say whether a string field names a topic or a group.
func topicish(name string) bool {
	return name == "Topic" || name == "Name" || strings.HasSuffix(name, "Topic") || name == "TopicName"
}

func groupish(name string) bool {
	return name == "Group" || name == "GroupID" || strings.HasSuffix(name, "Group")
}

const nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

func (g *gen) stringNamed(name string) string {
	r := g.rng
	switch {
	case topicish(name) && len(g.pool.topics) > 0 && r.IntN(100) < 85:
		return g.pool.topics[r.IntN(len(g.pool.topics))]
	case groupish(name) && len(g.pool.groups) > 0 && r.IntN(100) < 85:
		return g.pool.groups[r.IntN(len(g.pool.groups))]
	case name == "ProtocolType" && r.IntN(2) == 0:
		return "consumer"
	}
	n := g.length(24)
	var b []byte
	switch r.IntN(3) {
	case 0: // a valid Kafka name, which may create a topic
		if topicish(name) && n > 0 && r.IntN(10) > 0 {
			// Keep the number of topics a long run creates small (memory per partition
			// is issue 19's finding 6, not what this run measures).
			return "kfuzz-t" + string(rune('a'+r.IntN(26)))
		}
		b = g.bytesN(n)
		for i, c := range b {
			b[i] = nameChars[int(c)%len(nameChars)]
		}
	case 1: // anything, UTF-8 or not
		b = g.bytesN(n)
	default: // printable with separators and NULs
		const odd = "abc/\x00 \t\n:,=*%\xff"
		b = g.bytesN(n)
		for i, c := range b {
			b[i] = odd[int(c)%len(odd)]
		}
	}
	return string(b)
}

func (g *gen) int8() int8 {
	r := g.rng
	return []int8{0, 1, -1, 2, math.MaxInt8, math.MinInt8, int8(r.IntN(256))}[r.IntN(7)]
}

func (g *gen) int16(name string) int16 {
	r := g.rng
	if strings.Contains(name, "Replication") || name == "Acks" {
		return []int16{-1, 1, 0, 3, math.MaxInt16, math.MinInt16}[r.IntN(6)]
	}
	return []int16{0, 1, -1, 2, math.MaxInt16, math.MinInt16, int16(r.IntN(1 << 16))}[r.IntN(7)]
}

// int32 is any interesting 32-bit value.
func (g *gen) int32() int32 {
	r := g.rng
	return []int32{0, 1, -1, 2, 3, 100, math.MaxInt32, math.MinInt32, 1 << 16, int32(r.Uint32())}[r.IntN(10)]
}

func (g *gen) int32Named(name string) int32 {
	r := g.rng
	switch {
	case strings.Contains(name, "Timeout") || strings.Contains(name, "MaxWait") || strings.HasSuffix(name, "Millis"):
		// Mostly short, so a parked request answers soon; now and then the extremes.
		if r.IntN(10) > 0 {
			return int32(r.IntN(1500))
		}
	case name == "Partition" || name == "Partitions" || strings.HasSuffix(name, "Partition"):
		if r.IntN(10) > 0 {
			return int32(r.IntN(4))
		}
	case name == "NumPartitions" || name == "Count":
		// Small, so a long run does not create 10,000-partition topics every minute.
		if r.IntN(20) > 0 {
			return int32(r.IntN(6)) - 1
		}
	}
	return g.int32()
}

func (g *gen) int64Named(name string) int64 {
	r := g.rng
	if (strings.Contains(name, "Offset") || strings.Contains(name, "Timestamp")) && r.IntN(3) == 0 {
		return int64(r.IntN(50)) - 2
	}
	return []int64{0, 1, -1, -2, math.MaxInt64, math.MinInt64, 1 << 40, r.Int64()}[r.IntN(8)]
}

func (g *gen) uuid() [16]byte {
	r := g.rng
	switch x := r.IntN(10); {
	case x < 6 && len(g.pool.topicIDs) > 0:
		return g.pool.topicIDs[r.IntN(len(g.pool.topicIDs))]
	case x < 8:
		return [16]byte{}
	default:
		var id [16]byte
		copy(id[:], g.bytesN(16))
		return id
	}
}
