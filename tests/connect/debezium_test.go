package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// DebeziumVersion is the Debezium PostgreSQL connector tests/connect/pom.xml names.
const DebeziumVersion = "3.6.1.Final"

// customer is a row of the captured table as Debezium's JSON carries it.
type customer struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Email *string `json:"email"`
}

func (c *customer) String() string {
	if c == nil {
		return "-"
	}
	email := "NULL"
	if c.Email != nil {
		email = *c.Email
	}
	return fmt.Sprintf("(%d, %s, %s)", c.ID, c.Name, email)
}

// change is one record of a Debezium topic: a change event, or the tombstone after a
// delete (no value).
type change struct {
	key    int
	op     string // c, u, d, r; "tombstone" for a record without value
	before *customer
	after  *customer
	lsn    int64
	table  string
}

func (c change) String() string {
	return fmt.Sprintf("key %d: %s before=%s after=%s", c.key, c.op, c.before, c.after)
}

// decodeChange decodes a record written by Debezium through JsonConverter with schemas
// ({"schema": ..., "payload": ...}).
func decodeChange(r *kgo.Record) (change, error) {
	var key struct {
		Payload struct {
			ID int `json:"id"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.Key, &key); err != nil {
		return change{}, fmt.Errorf("offset %d: key %q: %w", r.Offset, r.Key, err)
	}
	c := change{key: key.Payload.ID}
	if r.Value == nil {
		c.op = "tombstone"
		return c, nil
	}
	var value struct {
		Payload struct {
			Op     string    `json:"op"`
			Before *customer `json:"before"`
			After  *customer `json:"after"`
			Source struct {
				LSN   int64  `json:"lsn"`
				Table string `json:"table"`
			} `json:"source"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.Value, &value); err != nil {
		return change{}, fmt.Errorf("offset %d: value %q: %w", r.Offset, r.Value, err)
	}
	v := value.Payload
	c.op, c.before, c.after, c.lsn, c.table = v.Op, v.Before, v.After, v.Source.LSN, v.Source.Table
	return c, nil
}

// testDebezium captures a table's changes with Debezium's PostgreSQL connector (pgoutput,
// the plugin built into PostgreSQL) on the same worker: the row there before the
// connector starts comes from its snapshot (r), then an insert (c), an update (u), another
// insert and a delete (d) followed by its tombstone, each its own transaction. A franz-go
// consumer reads the topic from its start and must see exactly these events, in this
// order, with these values (REPLICA IDENTITY FULL: updates and deletes carry the whole old
// row).
func testDebezium(t *testing.T, w *worker, pg *postgres, addr string) {
	const topic, slot = "pg.public.customers", "kafscale_cdc"
	pg.exec(t, "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text)")
	pg.exec(t, "ALTER TABLE customers REPLICA IDENTITY FULL")
	pg.exec(t, "INSERT INTO customers VALUES (1, 'Ada Lovelace', 'ada@example.com')")

	w.putConnector(t, "pg-cdc", map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                   "1",
		"database.hostname":           "127.0.0.1",
		"database.port":               strconv.Itoa(pg.Port),
		"database.user":               "postgres",
		"database.password":           "postgres", // trust authentication: not checked
		"database.dbname":             "postgres",
		"topic.prefix":                "pg",
		"plugin.name":                 "pgoutput",
		"slot.name":                   slot,
		"publication.name":            slot,
		"publication.autocreate.mode": "filtered",
		"table.include.list":          "public.customers",
		"topic.creation.default.replication.factor": "-1",
		"topic.creation.default.partitions":         "1",
	})
	w.waitRunning(t, "pg-cdc", 60*time.Second)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(200*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []change
	read := func(n int, what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for len(got) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("timed out after 60 s waiting for %s: %d of %d events read:\n%s", what, len(got), n, changes(got))
			}
			fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				c, err := decodeChange(r)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			})
		}
	}
	// The snapshot's event: the connector's slot exists from then on (it is made before
	// the snapshot), so no change made after it can be missed.
	read(1, "the snapshot event of row 1")
	kafkatest.WaitUntil(t, 30*time.Second, "Debezium's replication slot "+slot+" active", func() error {
		active, err := pg.query("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'")
		if err != nil || active != "t" {
			return fmt.Errorf("pg_replication_slots.active = %q (%v)", active, err)
		}
		return nil
	})

	pg.exec(t, "INSERT INTO customers VALUES (2, 'Grace Hopper', 'grace@example.com')")
	pg.exec(t, "UPDATE customers SET email = 'grace@navy.mil' WHERE id = 2")
	pg.exec(t, "INSERT INTO customers VALUES (3, 'Edsger Dijkstra', NULL)")
	pg.exec(t, "DELETE FROM customers WHERE id = 2")

	email := func(s string) *string { return &s }
	ada := &customer{1, "Ada Lovelace", email("ada@example.com")}
	grace := &customer{2, "Grace Hopper", email("grace@example.com")}
	graceNavy := &customer{2, "Grace Hopper", email("grace@navy.mil")}
	edsger := &customer{3, "Edsger Dijkstra", nil}
	want := []change{
		{key: 1, op: "r", after: ada},
		{key: 2, op: "c", after: grace},
		{key: 2, op: "u", before: grace, after: graceNavy},
		{key: 3, op: "c", after: edsger},
		{key: 2, op: "d", before: graceNavy},
		{key: 2, op: "tombstone"},
	}
	read(len(want), "every change event")
	if changes(got) != changes(want) {
		t.Fatalf("the change events read:\n%s\nwant:\n%s", changes(got), changes(want))
	}
	// Streamed events (after the snapshot) carry the LSN of their transaction: it grows.
	for i := 2; i < len(want)-1; i++ {
		if got[i].lsn <= got[i-1].lsn || got[i].table != "customers" {
			t.Errorf("event %d (%s): lsn %d after %d, table %q", i, got[i], got[i].lsn, got[i-1].lsn, got[i].table)
		}
	}
	// Nothing more than these: no event written twice.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkatest.EndOffsets(ctx, cl, topic, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ends[0] != int64(len(want)) {
		t.Errorf("topic %s ends at offset %d, want %d: events were written twice", topic, ends[0], len(want))
	}
	t.Logf("Debezium %s: %d change events read in order:\n%s", DebeziumVersion, len(got), changes(got))
}

func changes(cs []change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	return b.String()
}
