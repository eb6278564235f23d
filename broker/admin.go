package broker

// Facts shared by the admin APIs that describe the cluster (describe_cluster.go,
// describe_topic_partitions.go, ...).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Authorized-operation bit fields, each bit 1<<AclOperation code, as Kafka's
// AuthHelper.authorizedOperations answers without an authorizer: every operation the
// resource type supports (Kafka 4.4's AclEntry.supportedOperations).
const (
	// clusterOperations: ALTER, ALTER_CONFIGS, CLUSTER_ACTION, CREATE, DESCRIBE,
	// DESCRIBE_CONFIGS, IDEMPOTENT_WRITE.
	clusterOperations = 1<<int32(kmsg.ACLOperationCreate) | 1<<int32(kmsg.ACLOperationClusterAction) |
		1<<int32(kmsg.ACLOperationDescribeConfigs) | 1<<int32(kmsg.ACLOperationAlterConfigs) |
		1<<int32(kmsg.ACLOperationIdempotentWrite) | 1<<int32(kmsg.ACLOperationAlter) | 1<<int32(kmsg.ACLOperationDescribe)
	// topicOperations: ALTER, ALTER_CONFIGS, CREATE, DELETE, DESCRIBE, DESCRIBE_CONFIGS,
	// READ, WRITE.
	topicOperations = 1<<int32(kmsg.ACLOperationRead) | 1<<int32(kmsg.ACLOperationWrite) |
		1<<int32(kmsg.ACLOperationCreate) | 1<<int32(kmsg.ACLOperationDelete) | 1<<int32(kmsg.ACLOperationAlter) |
		1<<int32(kmsg.ACLOperationDescribe) | 1<<int32(kmsg.ACLOperationDescribeConfigs) | 1<<int32(kmsg.ACLOperationAlterConfigs)
)

// errText is an error's message for a response's ErrorMessage field: a kafkaError's own
// text (without the code's generic prefix, as Kafka's ApiError.message), else the error's
// text; nil for no error. Its code is errCodeOf(err).
func errText(err error) *string {
	if err == nil {
		return nil
	}
	var ke *kafkaError
	if errors.As(err, &ke) {
		return &ke.msg
	}
	s := err.Error()
	return &s
}
