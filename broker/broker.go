// Package broker answers Kafka requests: it decodes frames with codec, dispatches each API to
// its handler (one file per API, named after it), and wires partitions, the flusher and the
// metadata store together.
//
// Goroutines: netio calls Serve one request at a time per connection; handlers that wait
// (produce acks, parked fetches) finish on a goroutine of their own and answer through
// netio.Request.Respond. Topic state is guarded by Broker.mu.
//
// Background work on the data (merging, GC, retention, compaction, checkpoints) is package
// lifecycle's, which sees the broker through jobsHost (jobs_host.go).
//
// Lock order: lifecycle's checkpoint lock (Jobs.LockCheckpoints) -> Broker.mu ->
// partition.Log.mu -> flush.Flusher.mu.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/group"
	"github.com/kafscale/kafscale/grouplag"
	"github.com/kafscale/kafscale/internal/histbuckets"
	"github.com/kafscale/kafscale/lifecycle"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/quota"
	"github.com/kafscale/kafscale/reqmetrics"
	"github.com/kafscale/kafscale/sasl"
	"github.com/kafscale/kafscale/segment"
	"github.com/kafscale/kafscale/topicmetrics"
)

// Config holds the broker's Kafka-facing settings.
type Config struct {
	// NodeID is this broker's id (broker.id).
	NodeID int32
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients to connect to.
	AdvertisedHost string
	AdvertisedPort int32
	// Listeners are the advertised listeners by name (advertised.listeners), registered
	// in etcd so that every broker answers a client with the addresses of the listener it
	// connected to; empty means AdvertisedHost:AdvertisedPort serves every listener.
	Listeners []*metapb.AdvertisedListener
	// AutoCreateTopics is auto.create.topics.enable.
	AutoCreateTopics bool
	// DefaultPartitions is num.partitions for auto-created topics and CreateTopics with -1.
	DefaultPartitions int32
	// MessageMaxBytes is message.max.bytes, the default max.message.bytes of topics.
	MessageMaxBytes int32
	// MaxPartitionsPerTopic bounds CreateTopics and CreatePartitions.
	MaxPartitionsPerTopic int32
	// MaxPartitions bounds the partitions this broker leads (--max-partitions): creations
	// past it answer POLICY_VIOLATION. Each partition costs memory (PartitionMemoryBytes)
	// that the derived soft memory limit includes.
	MaxPartitions int32
	// CheckpointInterval is checkpoint.interval.
	CheckpointInterval time.Duration
	// LoadReportInterval is how often the broker reports its partitions' recent bytes in
	// to etcd for the controller's balancing (--load-report-interval).
	LoadReportInterval time.Duration
	// RetentionCheckInterval is log.retention.check.interval.ms: how often retention.ms
	// and retention.bytes are applied.
	RetentionCheckInterval time.Duration
	// BucketMetadataInterval is how often committed group offsets (and topic manifests
	// that lag etcd) are copied to the bucket for `kafscale fsck --rebuild`
	// (--bucket-metadata-interval): a rebuild restores offsets at most this old.
	BucketMetadataInterval time.Duration
	// Partition holds per-partition settings; Open sets its Tails to a budget of
	// TailTotalBytes shared by every partition.
	Partition partition.Config
	// TailTotalBytes bounds the in-memory tails of all the partitions together
	// (--tail-total-bytes; 0: none kept), as Partition.TailBytes bounds one.
	TailTotalBytes int64
	// Merge holds the settings of merging, GC and compaction (package lifecycle).
	Merge lifecycle.Config
	// Group holds the consumer-group coordinator's settings.
	Group group.Config
	// Lag holds the consumer-group lag export's settings (grouplag).
	Lag grouplag.Config
	// TopicMetrics bounds the per-topic traffic series (topicmetrics).
	TopicMetrics topicmetrics.Config
	// Quota holds the client quota windows (quotas.go).
	Quota QuotaConfig
	// Rejoin is the lease of this process's previous registration when it registers again
	// after its session was lost (0 at start): it then registers only if no other process
	// holds the broker id, so that it never fences a replacement that registered meanwhile
	// (Open then fails with meta.ErrReplaced).
	Rejoin int64
}

// DefaultTailTotalBytes is the default --tail-total-bytes: the tails of the 256 partitions
// written most recently at the default --tail-bytes, counted in the derived memory limit.
const DefaultTailTotalBytes = 256 << 20

// DefaultConfig returns Kafka's defaults where Kafka has one.
func DefaultConfig() Config {
	return Config{
		NodeID:                 0,
		AdvertisedHost:         "127.0.0.1",
		AdvertisedPort:         9092,
		AutoCreateTopics:       true,
		DefaultPartitions:      1,
		MessageMaxBytes:        1048588,
		MaxPartitionsPerTopic:  10000,
		MaxPartitions:          DefaultMaxPartitions,
		CheckpointInterval:     30 * time.Second,
		LoadReportInterval:     30 * time.Second,
		RetentionCheckInterval: 5 * time.Minute,
		BucketMetadataInterval: bucketmeta.DefaultInterval,
		Partition:              partition.DefaultConfig(),
		TailTotalBytes:         DefaultTailTotalBytes,
		Merge:                  lifecycle.DefaultConfig(),
		Group:                  group.DefaultConfig(),
		Lag:                    grouplag.DefaultConfig(),
		TopicMetrics:           topicmetrics.DefaultConfig(),
		Quota:                  DefaultQuotaConfig(),
	}
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("--broker-id (--node-id) must be >=0 (set to %d)", c.NodeID)
	case c.AdvertisedHost == "":
		return fmt.Errorf("--advertised-listener must name a host")
	case c.AdvertisedPort <= 0 || c.AdvertisedPort > 65535:
		return fmt.Errorf("--advertised-listener port must be 1-65535 (set to %d)", c.AdvertisedPort)
	case c.DefaultPartitions <= 0:
		return fmt.Errorf("--num-partitions must be >0 (set to %d)", c.DefaultPartitions)
	case c.MaxPartitions <= 0:
		return fmt.Errorf("--max-partitions must be >0 (set to %d)", c.MaxPartitions)
	case c.MessageMaxBytes <= 0:
		return fmt.Errorf("--message-max-bytes must be >0 (set to %d)", c.MessageMaxBytes)
	case c.CheckpointInterval <= 0:
		return fmt.Errorf("--checkpoint-interval must be >0 (set to %s)", c.CheckpointInterval)
	case c.RetentionCheckInterval <= 0:
		return fmt.Errorf("--retention-check-interval must be >0 (set to %s)", c.RetentionCheckInterval)
	case c.BucketMetadataInterval <= 0:
		return fmt.Errorf("--bucket-metadata-interval must be >0 (set to %s)", c.BucketMetadataInterval)
	case c.LoadReportInterval < time.Second:
		return fmt.Errorf("--load-report-interval must be at least 1s (set to %s)", c.LoadReportInterval)
	case c.Partition.ProducerExpiration <= 0:
		return fmt.Errorf("--producer-id-expiration must be >0 (set to %s)", c.Partition.ProducerExpiration)
	case c.Partition.TailBytes < 0:
		return fmt.Errorf("--tail-bytes must be >=0 (set to %d)", c.Partition.TailBytes)
	}
	if _, err := partition.NewTailBudget(c.TailTotalBytes); err != nil {
		return err
	}
	if err := c.Merge.Validate(); err != nil {
		return err
	}
	if err := c.Lag.Validate(); err != nil {
		return err
	}
	if err := c.TopicMetrics.Validate(); err != nil {
		return err
	}
	if _, err := quota.NewTracker(c.Quota.Samples, c.Quota.Window); err != nil {
		return err
	}
	return c.Group.Validate()
}

var (
	produceRequests = metrics.NewCounter(`kafscale_produce_requests_total`)
	fetchRequests   = metrics.NewCounter(`kafscale_fetch_requests_total`)
	producedBytes   = metrics.NewCounter(`kafscale_produce_bytes_total`)
	fetchedBytes    = metrics.NewCounter(`kafscale_fetch_bytes_total`)
	closedConns     = metrics.NewCounter(`kafscale_broker_closed_bad_requests_total`)
	// Requests held, and connections closed, because the session lease was not surely alive.
	leaseHolds   = metrics.NewCounter(`kafscale_broker_requests_held_for_lease_total`)
	leaseCloses  = metrics.NewCounter(`kafscale_broker_connections_closed_for_lease_total`)
	cutResponses = metrics.NewCounter(`kafscale_broker_responses_with_cut_strings_total`)
)

// Broker serves the Kafka protocol for one broker incarnation.
type Broker struct {
	cfg       Config
	log       *slog.Logger
	meta      *meta.Store
	reg       *meta.Registration
	fenceRev  atomic.Int64
	store     objstore.Store
	cache     *segment.Cache
	flusher   *flush.Flusher
	groups    *group.Coordinator // consumer groups (group/)
	clusterID string
	// sasl authenticates connections of SASL listeners; nil when none is configured.
	sasl *sasl.Server
	// authz decides requests against the ACLs (authorize.go); nil when --authorizer is off.
	authz *acl.Authorizer
	// quotas are the client quotas stored in etcd (quotas.go), replaced whole by the
	// watch; quotaRates measures each quota key's rate, one Tracker per quota key.
	quotas     atomic.Pointer[quota.Set]
	quotaRates map[string]*quota.Tracker

	ctx    context.Context // cancelled by Close; bounds handler goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup // handler goroutines and the checkpointer

	// requests bounds the work of handlers (shutdown.go): cancelled by BeginShutdown, so
	// that no Serve call outlives the start of a shutdown, and by Close (it derives from ctx).
	requests    context.Context
	endRequests context.CancelFunc

	// jobs runs merging, GC, retention, compaction and checkpoints (package lifecycle);
	// its checkpoint lock (LockCheckpoints) serializes checkpoint writes. Lock order:
	// checkpoint lock -> mu.
	jobs *lifecycle.Jobs

	// partMu guards reservedParts: partitions admitted within --max-partitions whose
	// topics are not published in topics yet (partitions.go). Lock order: partMu -> mu.
	partMu        sync.Mutex
	reservedParts int64
	ledHook       func(int64) // Deps.LedPartitions; called under partMu, so in order

	mu     sync.RWMutex // guards topics and byID
	topics map[string]*topic
	byID   map[[16]byte]*topic

	ready atomic.Bool
	// stopped is set once this incarnation was replaced or lost its session: it serves no
	// partition and deletes nothing from then on.
	stopped atomic.Bool
	pids    producerIDs

	// goneMu guards gone: partitions (with the leader epoch) this broker served and no
	// longer leads, each with the last flush seq that may hold their batches (fence.go).
	// Lock order: Broker.mu -> goneMu (never held while calling out).
	goneMu sync.Mutex
	gone   map[flush.PartitionID]uint64

	// view is the latest cluster state (cluster.go); nil until Open read it.
	view atomic.Pointer[meta.ClusterState]
	// pubs counts takeover publications (takeover.commit), for resignMoved.
	pubs atomic.Uint64
	// slots are the group coordinator slots this broker holds (coordinators.go); nil until
	// known.
	slots atomic.Pointer[map[int32]bool]
	// creating holds the ids of topics whose partitions a request on this broker is
	// creating and taking over (cluster.go): followAssignment leaves them to it, so that no
	// partition is taken over twice at once. followMu serializes followAssignment.
	// Lock order: followMu -> checkpoint lock -> mu.
	creating sync.Map // [16]byte -> struct{}
	followMu sync.Mutex
}

// topic is the broker's view of a topic it leads partitions of.
type topic struct {
	meta  *metapb.Topic
	id    [16]byte
	parts []*partState
	// maxMessageBytes is max.message.bytes, resolved once: topic configs do not change
	// after creation, and produce checks it for every batch.
	maxMessageBytes int
}

// partState pairs a partition's Log with its checkpoint (chains this leadership keeps).
type partState struct {
	// pub is the takeover publication (Broker.pubs) that made it served: a fence read
	// taken before it cannot know its assignment, and must not resign it.
	pub uint64
	log *partition.Log
	// lc is its lifecycle state: its last written checkpoint (guarded by the checkpoint
	// lock after takeover) and what merging trimmed.
	lc *lifecycle.Part
}

// Deps are the parts a Broker is assembled from.
type Deps struct {
	Meta      *meta.Store
	Store     objstore.Store
	Cache     *segment.Cache
	Flush     flush.Config
	ClusterID string
	Log       *slog.Logger
	// SASL, if set, authenticates the connections of SASL listeners (sasl_handshake.go).
	SASL *sasl.Server
	// Authorizer, if set, enforces the ACLs stored in etcd (authorize.go); Open loads them
	// into it and keeps it current.
	Authorizer *acl.Authorizer
	// LedPartitions, if set, is called with the number of partitions this broker leads
	// whenever it changes (after takeover, creations and deletions), so that cmd/ can move
	// the soft memory limit with it (PartitionMemoryBytes each). It must not block.
	LedPartitions func(n int64)
}

// Ready reports whether the broker serves (takeover done, session alive and its lease
// surely valid).
func (b *Broker) Ready() (bool, string) {
	if !b.ready.Load() {
		return false, "broker is not serving: takeover not finished or session lost"
	}
	select {
	case <-b.reg.Lost:
		return false, "etcd session lost"
	default:
	}
	if !b.reg.Valid() {
		return false, "etcd session lease not renewed in time: requests are held until it is"
	}
	return true, ""
}

// Serve implements netio.Handler.
func (b *Broker) Serve(req *netio.Request) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("BUG: panic while serving a request", "remote", req.Conn.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
			req.Close(fmt.Errorf("panic: %v", r))
		}
	}()
	if b.requests.Err() != nil {
		req.Close(errShuttingDown)
		return
	}
	// start begins the request's handler time (handlerClock): decoding is work done for it.
	start := time.Now()
	auth := req.Conn.SASL()
	if auth != nil && auth.RawToken() {
		b.serveRawSASLToken(req, auth)
		return
	}
	hdr, body, err := codec.ParseRequestHeader(req.Frame)
	if err == nil && auth != nil {
		// Before authentication only ApiVersions and the SASL requests are served, as
		// Kafka's SaslServerAuthenticator does; anything else closes the connection.
		if err := auth.Check(hdr.APIKey, time.Now()); err != nil {
			saslRefusedRequests.Inc()
			b.closeBad(req, hdr, err)
			return
		}
	}
	if err != nil {
		if hdr.APIKey == int16(kmsg.ApiVersions) && errors.Is(err, codec.ErrUnsupportedVersion) {
			b.answerUnsupportedAPIVersions(req, hdr)
			return
		}
		b.closeBad(req, hdr, err)
		return
	}
	api, ok := apis[hdr.APIKey]
	if !ok || hdr.APIVersion < api.min || hdr.APIVersion > api.max {
		if hdr.APIKey == int16(kmsg.ApiVersions) {
			b.answerUnsupportedAPIVersions(req, hdr)
			return
		}
		if ok && hdr.APIVersion >= api.advertisedMin && hdr.APIVersion < api.min {
			// Only a client that ignores its own version negotiation gets here.
			b.closeBad(req, hdr, fmt.Errorf("api %d version %d is listed in ApiVersions but not served (KAFKA-18659)", hdr.APIKey, hdr.APIVersion))
			return
		}
		b.closeBad(req, hdr, fmt.Errorf("unsupported api %d version %d", hdr.APIKey, hdr.APIVersion))
		return
	}
	if hdr.APIKey != int16(kmsg.ApiVersions) && !b.reg.Valid() {
		if !b.awaitLease(req) {
			return
		}
		start = time.Now() // the wait for the lease is not the request's handler time
	}
	if b.authz != nil && !servedUnderAuthorizer(hdr.APIKey) {
		b.closeBad(req, hdr, fmt.Errorf("%s is not served while --authorizer is on: it has no authorization rule yet", kmsg.NameForKey(hdr.APIKey)))
		return
	}
	kreq, err := codec.DecodeRequest(hdr, body)
	if err != nil {
		b.closeBad(req, hdr, err)
		return
	}
	api.requests.Inc()
	c := &call{log: b.log, req: req, hdr: hdr, kreq: kreq, start: time.Now(), duration: api.duration, authz: b.authz,
		broker: b, quotaExempt: requestQuotaExempt(hdr.APIKey, auth)}
	c.clock.resume(start)
	api.handle(b, c)
	c.clock.pause(time.Now())
}

// awaitLease holds a request while this incarnation's lease is not surely alive (the
// process was paused, or etcd did not answer its keepalives): another broker may lead its
// partitions by now, so answering from memory could show a stale high watermark or
// coordinator. It returns true once a renewal arrives; if the session is lost instead (or
// not renewed within a TTL), it closes the connection, which clients answer by reconnecting
// and refreshing their metadata, and returns false.
func (b *Broker) awaitLease(req *netio.Request) bool {
	leaseHolds.Inc()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(b.reg.TTL())
	for {
		select {
		case <-tick.C:
			if b.reg.Valid() {
				return true
			}
			continue
		case <-b.reg.Lost:
		case <-b.requests.Done():
		case <-deadline:
		}
		leaseCloses.Inc()
		req.Close(errors.New("the broker's etcd session lease is not known to be alive"))
		return false
	}
}

// ConnClosed implements netio.Handler.
func (b *Broker) ConnClosed(*netio.Conn) {}

func (b *Broker) closeBad(req *netio.Request, hdr codec.RequestHeader, err error) {
	closedConns.Inc()
	req.Close(fmt.Errorf("cannot serve request key %d version %d correlation %d from %s: %w", hdr.APIKey, hdr.APIVersion, hdr.CorrelationID, req.Conn.RemoteAddr(), err))
}

// call is one request in flight.
type call struct {
	log  *slog.Logger
	req  *netio.Request
	hdr  codec.RequestHeader
	kreq kmsg.Request
	// start is when the request was decoded, for its API's duration histogram.
	start    time.Time
	duration *metrics.PrometheusHistogram
	// authz is the broker's authorizer (nil: every request is allowed); see may.
	authz *acl.Authorizer
	// broker serves the call; the request quota (requestThrottle) reads its quotas.
	broker *Broker
	// clock measures the handler time of the request for request_percentage (quotas.go);
	// quotaExempt leaves the request out of that quota.
	clock       handlerClock
	quotaExempt bool
	// throttleCounted is set once the request is counted as throttled (countThrottled);
	// owned by the goroutine handling or answering the request.
	throttleCounted bool
}

// adminAction logs one administrative change a request made (a topic created or deleted,
// partitions added, configs altered, records or groups deleted): one line per change,
// naming the client, so that an operator can tell who changed what.
func (c *call) adminAction(msg string, args ...any) {
	c.log.Info(msg, append(args, "client_id", c.hdr.ClientID, "remote", c.req.Conn.RemoteAddr().String())...)
}

// send sends a response's encoded parts and records the request's duration (from decoding
// to the response queued for the connection, waits for acks and long polls included).
func (c *call) send(parts [][]byte) {
	if c.duration != nil {
		c.duration.UpdateDuration(c.start)
	}
	c.req.Respond(parts, nil)
}

// respond encodes resp (of the request's version) and sends it. A string the version
// cannot carry (over 32,767 bytes before flexible versions) is cut rather than sent with
// a wrapped length: an error message quoting a long name is expected to be cut; any
// other field means some input should have been refused, and is logged.
// The request's handler time is recorded against its request quota first; a throttle it
// causes goes in the answer's throttle_time_ms unless a longer one (a byte quota's) is
// already there.
func (c *call) respond(resp kmsg.Response) {
	if t := c.requestThrottle(); t > 0 {
		if r, ok := resp.(interface {
			kmsg.ThrottleResponse
			kmsg.SetThrottleResponse
		}); ok {
			if cur, _ := r.Throttle(); cur < t {
				r.SetThrottle(t)
			}
		}
	}
	c.send([][]byte{c.encode(resp)})
}

// encode encodes resp (of the request's version) with its header, for respond.
func (c *call) encode(resp kmsg.Response) []byte {
	resp.SetVersion(c.hdr.APIVersion)
	buf := codec.AppendResponseHeader(make([]byte, 0, 256), c.hdr.APIKey, c.hdr.APIVersion, c.hdr.CorrelationID)
	buf, cut := codec.AppendResponse(buf, resp)
	reqmetrics.CountResponse(resp)
	if cut != nil {
		cutResponses.Inc()
		if slices.ContainsFunc(cut, func(f string) bool { return !strings.HasSuffix(f, "ErrorMessage") }) {
			c.log.Warn("response strings cut to the longest the version can carry", "api", kmsg.NameForKey(c.hdr.APIKey), "version", c.hdr.APIVersion, "fields", cut, "remote", c.req.Conn.RemoteAddr())
		}
	}
	return buf
}

// api is one row of the supported-API table.
type api struct {
	min, max int16
	// advertisedMin is the lowest version ApiVersions lists; it is min except where a
	// client needs to see lower versions that are still refused (see advertiseFrom).
	advertisedMin int16
	handle        func(*Broker, *call)
	// requests counts the requests served, as kafscale_requests_total{api="<name>"}
	// (Kafka's kafka.network:type=RequestMetrics,name=RequestsPerSec,request=<name>).
	requests *metrics.Counter
	// duration is kafscale_request_duration_seconds{api="<name>"}, a Prometheus histogram
	// (Kafka's RequestMetrics TotalTimeMs): exported from the start, at zero.
	duration *metrics.PrometheusHistogram
}

// requestDurationBuckets are the upper bounds of the request duration histograms, in
// seconds: from a cached read to a long poll or a slow object store.
var requestDurationBuckets = histbuckets.Seconds

// apis is filled by each handler file's init, and feeds ApiVersions: it advertises exactly
// what is implemented, except for the lower bounds advertiseFrom lowers.
var apis = map[int16]api{}

func register(key kmsg.Key, min, max int16, h func(*Broker, *call)) {
	apis[int16(key)] = api{min: min, max: max, advertisedMin: min, handle: h,
		requests: metrics.NewCounter(fmt.Sprintf(`kafscale_requests_total{api=%q}`, reqmetrics.APIName(int16(key)))),
		duration: metrics.NewPrometheusHistogramExt(fmt.Sprintf(`kafscale_request_duration_seconds{api=%q}`, reqmetrics.APIName(int16(key))), requestDurationBuckets)}
}

// advertiseFrom makes ApiVersions list key from version v while versions below the
// registered minimum stay refused (the connection is closed, as for any version not
// served). Kafka 4 does this for Produce only (KAFKA-18659); see produce.go.
func advertiseFrom(key kmsg.Key, v int16) {
	a, ok := apis[int16(key)]
	if !ok || v > a.min {
		panic(fmt.Sprintf("BUG: advertiseFrom(%s, %d) needs a registered API whose minimum is at least %d", kmsg.NameForKey(int16(key)), v, v))
	}
	a.advertisedMin = v
	apis[int16(key)] = a
}

// errCode maps an internal error to a Kafka error code.
func errCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, partition.ErrNotLeader), errors.Is(err, flush.ErrFenced), errors.Is(err, flush.ErrVoided):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, partition.ErrOffsetRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, partition.ErrFencedEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, partition.ErrUnknownEpoch):
		return kerr.UnknownLeaderEpoch.Code
	case errors.Is(err, partition.ErrEmptyBatch), errors.Is(err, partition.ErrRecordCountBad):
		return kerr.InvalidRecord.Code
	case errors.Is(err, partition.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, partition.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	default:
		return kerr.KafkaStorageError.Code
	}
}
