package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/topicmetrics"
)

// validTopicName applies Kafka's topic name rules.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters, more than 249", len(name))
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("topic name %q holds %q; allowed are ASCII letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}

// kafkaError carries a Kafka error code with a message for the response.
type kafkaError struct {
	code *kerr.Error
	msg  string
}

func (e *kafkaError) Error() string { return e.code.Message + ": " + e.msg }

func newKafkaError(code *kerr.Error, format string, args ...any) error {
	return &kafkaError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errCodeOf maps err to a Kafka error code, honouring a kafkaError or kerr.Error inside it.
func errCodeOf(err error) int16 {
	var ke *kafkaError
	if errors.As(err, &ke) {
		return ke.code.Code
	}
	var kr *kerr.Error
	if errors.As(err, &kr) {
		return kr.Code
	}
	switch {
	case errors.Is(err, meta.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, meta.ErrTopicNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, meta.ErrInvalidPartitions):
		// The count was checked against a topic another request grew meanwhile.
		return kerr.InvalidPartitions.Code
	}
	return errCode(err)
}

// errMessage is the message to put in a response's ErrorMessage field.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// checkNewTopic validates a topic about to be created.
func (b *Broker) checkNewTopic(name string, partitions int32, configs map[string]string) error {
	if err := validTopicName(name); err != nil {
		return newKafkaError(kerr.InvalidTopicException, "%v", err)
	}
	if partitions <= 0 || partitions > b.cfg.MaxPartitionsPerTopic {
		return newKafkaError(kerr.InvalidPartitions, "partition count %d must be 1-%d", partitions, b.cfg.MaxPartitionsPerTopic)
	}
	return validateTopicConfigs(configs)
}

// createTopic creates a topic, placing its partitions over the live brokers
// (placeLeaders), and takes over those placed here before returning, so the first produce
// finds them; the other brokers take theirs over when their assignment watch sees them.
func (b *Broker) createTopic(ctx context.Context, name string, partitions int32, configs map[string]string) (*topic, error) {
	if err := b.checkNewTopic(name, partitions, configs); err != nil {
		return nil, err
	}
	release, err := b.reservePartitions(partitions)
	if err != nil {
		return nil, err
	}
	defer release()
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("cannot make topic id: %w", err)
	}
	id[6] = id[6]&0x0f | 0x40 // UUID v4
	id[8] = id[8]&0x3f | 0x80
	mt := &metapb.Topic{Id: id[:], Name: name, Partitions: partitions, Configs: configs, CreatedUnixMs: time.Now().UnixMilli()}
	created := b.markCreating(id)
	defer created()
	leaders := b.placeLeaders(partitions)
	if err := b.meta.CreateTopic(ctx, mt, leaders...); err != nil {
		return nil, fmt.Errorf("cannot create topic %s: %w", name, err)
	}
	b.putManifest(ctx, mt)
	if err := b.takeOverPlaced(ctx, mt, 0, leaders, created); err != nil {
		return nil, err
	}
	return b.topicByName(name), nil
}

// takeOverPlaced publishes topic mt and takes over its partitions from first on that
// leaders (one per partition) place on this broker. The caller marked the topic creating;
// created ends the mark once this broker's own takeovers are done, before waiting for the
// other leaders: the controller may move a partition placed elsewhere (on a broker whose
// lease is ending) to this broker meanwhile, and followAssignment must then take it over,
// or the wait would last until the request's timeout.
func (b *Broker) takeOverPlaced(ctx context.Context, mt *metapb.Topic, first int32, leaders []int32, created func()) error {
	b.upsertTopic(mt)
	var refs []*metapb.PartitionRef
	for i, l := range leaders {
		if l == b.cfg.NodeID {
			refs = append(refs, &metapb.PartitionRef{TopicId: mt.Id, Partition: first + int32(i)})
		}
	}
	if len(refs) > 0 {
		if err := b.takeOver(ctx, mt, refs); err != nil {
			return err
		}
	}
	created()
	if len(refs) < len(leaders) {
		// Partitions placed on other brokers show in this broker's Metadata at once.
		b.refreshView(ctx)
		return b.waitServed(ctx, mt, first, int32(len(leaders)))
	}
	return nil
}

// waitServed waits until every partition of mt from first on (count of them) has a
// takeover checkpoint, which its leader writes just before it serves the partition, so a
// client that produces once CreateTopics or CreatePartitions answered finds every leader
// serving (clients that do not retry, such as kafka-go's Writer with MaxAttempts 1, would
// otherwise get NOT_LEADER_OR_FOLLOWER from a broker that has not seen its assignment
// yet). As Kafka's CreateTopics waits for the new partitions' leaders, it answers
// REQUEST_TIMED_OUT when ctx (the request's timeout) ends first; the topic stays created.
func (b *Broker) waitServed(ctx context.Context, mt *metapb.Topic, first, count int32) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		cps, err := b.meta.ListCheckpoints(ctx, [16]byte(mt.Id))
		if err == nil {
			missing := 0
			for p := first; p < first+count; p++ {
				if cps[p] == nil {
					missing++
				}
			}
			if missing == 0 {
				return nil
			}
			err = fmt.Errorf("%d of %d new partitions not yet served by their leaders", missing, count)
		}
		select {
		case <-ctx.Done():
			return newKafkaError(kerr.RequestTimedOut, "topic %s is created, but %v", mt.Name, err)
		case <-tick.C:
		}
	}
}

// takeOver runs a takeover of the given partitions of t and publishes them.
func (b *Broker) takeOver(ctx context.Context, t *metapb.Topic, refs []*metapb.PartitionRef) error {
	tk := newTakeover(b)
	if err := tk.add(ctx, t, refs); err != nil {
		return err
	}
	taken := tk.pending()
	if err := tk.commit(ctx); err != nil {
		return err
	}
	b.logTaken(taken)
	return nil
}

// deleteTopic removes a topic; its partitions stop serving at once.
func (b *Broker) deleteTopic(ctx context.Context, name string) error {
	mt, err := b.meta.DeleteTopic(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot delete topic %s: %w", name, err)
	}
	b.deleteManifest(ctx, mt)
	b.mu.Lock()
	t := b.byID[[16]byte(mt.Id)]
	delete(b.topics, name)
	delete(b.byID, [16]byte(mt.Id))
	b.mu.Unlock()
	topicmetrics.Forget(name)
	if t != nil {
		for _, ps := range t.parts {
			if ps != nil {
				b.resign(ps.log, "topic deleted")
			}
		}
	}
	b.noteLed()
	return nil
}

// addPartitions grows a topic to count partitions.
func (b *Broker) addPartitions(ctx context.Context, name string, count int32) error {
	t := b.topicByName(name)
	if t == nil {
		return newKafkaError(kerr.UnknownTopicOrPartition, "topic %s does not exist", name)
	}
	if count <= t.meta.Partitions {
		return newKafkaError(kerr.InvalidPartitions, "topic %s has %d partitions; the new count %d must be larger", name, t.meta.Partitions, count)
	}
	if count > b.cfg.MaxPartitionsPerTopic {
		return newKafkaError(kerr.InvalidPartitions, "partition count %d exceeds the maximum %d", count, b.cfg.MaxPartitionsPerTopic)
	}
	release, err := b.reservePartitions(count - t.meta.Partitions)
	if err != nil {
		return err
	}
	defer release()
	created := b.markCreating(t.id)
	defer created()
	leaders := b.placeLeaders(count - t.meta.Partitions)
	mt, err := b.meta.AddPartitions(ctx, name, count, leaders...)
	if err != nil {
		return fmt.Errorf("cannot add partitions to %s: %w", name, err)
	}
	b.putManifest(ctx, mt)
	if int(mt.Partitions-t.meta.Partitions) != len(leaders) {
		// Another CreatePartitions grew the topic between our read and our write.
		return newKafkaError(kerr.InvalidPartitions, "topic %s grew to %d partitions meanwhile", name, mt.Partitions)
	}
	return b.takeOverPlaced(ctx, mt, t.meta.Partitions, leaders, created)
}
