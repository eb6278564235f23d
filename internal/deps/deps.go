package deps

import (
	_ "github.com/IBM/sarama"
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/pierrec/lz4/v4"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/kmsg"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "golang.org/x/sync/singleflight"
	_ "google.golang.org/protobuf/proto"
)
